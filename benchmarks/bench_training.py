"""Training steps per second, deepdive vs PyTorch, side by side (float32, this machine's CPU).

    python benchmarks/bench_training.py [--seconds 3]

(a) the post's SimpleNN 10-20-2, batch 32, CrossEntropyLoss, SGD(lr=0.1)
(b) MLP 784-256-256-10, batch 128, CrossEntropyLoss, SGD(lr=0.01, momentum=0.9)

A step is zero_grad, forward, loss, backward, optimizer.step on a fixed batch.
Both frameworks run in this process, alternating, best of 3 rounds, twice:
both with their default thread counts, and both with 1 thread (deepdive's
matrix products run in NumPy's OpenBLAS, set by deepdive.set_num_threads, so
the comparison is like for like). Peak memory
(peak RSS, VmHWM, of a fresh process that imports only that framework and trains) and
import time are measured in subprocesses.
"""
import argparse
import subprocess
import sys
import time

import numpy as np

import deepdive
import deepdive.nn as dnn

try:
    import torch
    import torch.nn as tnn
except ImportError:
    sys.exit("the benchmark compares against PyTorch: pip install -e '.[test]'")


def simple_nn(nn):
    return nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 2))


def mlp(nn):
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))


CASES = {
    "(a) SimpleNN 10-20-2, batch 32, SGD": (simple_nn, 10, 2, 32, dict(lr=0.1)),
    "(b) MLP 784-256-256-10, batch 128, SGD+momentum": (mlp, 784, 10, 128, dict(lr=0.01, momentum=0.9)),
}


def make_step(lib, nn, build, n_in, n_out, batch, opt_kwargs):
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal((batch, n_in)).astype(np.float32))
    y = lib.tensor(rng.integers(0, n_out, batch))
    model = build(nn)
    optimizer = lib.optim.SGD(model.parameters(), **opt_kwargs)
    criterion = nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    return step


def steps_per_second(step, seconds):
    for _ in range(20):
        step()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(10):
            step()
        n += 10
    return n / (time.perf_counter() - start)


CHILD = """
import sys
import numpy as np
lib_name, case = sys.argv[1], sys.argv[2]
if lib_name == "torch":
    import torch as lib
else:
    import deepdive as lib
nn = lib.nn
sizes, batch, opt = {"a": ([10, 20, 2], 32, dict(lr=0.1)), "b": ([784, 256, 256, 10], 128, dict(lr=0.01, momentum=0.9))}[case]
layers = []
for i in range(len(sizes) - 1):
    layers += [nn.Linear(sizes[i], sizes[i + 1]), nn.ReLU()]
model = nn.Sequential(*layers[:-1])
rng = np.random.default_rng(0)
x = lib.tensor(rng.standard_normal((batch, sizes[0])).astype(np.float32))
y = lib.tensor(rng.integers(0, sizes[-1], batch))
optimizer = lib.optim.SGD(model.parameters(), **opt)
criterion = nn.CrossEntropyLoss()
for _ in range(200):
    optimizer.zero_grad()
    criterion(model(x), y).backward()
    optimizer.step()
# NOTE: VmHWM, not ru_maxrss: on Linux ru_maxrss survives exec, so a child of this (large) process would
# report its parent's peak.
print(next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024)
"""


def peak_rss_mb(lib_name, case):
    """Max RSS of a fresh process that imports only ``lib_name`` and trains case 'a' or 'b' for 200 steps."""
    return float(subprocess.check_output([sys.executable, "-c", CHILD, lib_name, case]).decode().strip())


def import_ms(module):
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return min(float(subprocess.check_output([sys.executable, "-c", code]).decode()) for _ in range(3)) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="timing window per measurement")
    args = parser.parse_args()
    torch_threads, dd_threads = torch.get_num_threads(), deepdive.get_num_threads()
    print(f"deepdive {deepdive.__version__} vs torch {torch.__version__}; default threads: torch {torch_threads}, "
          f"deepdive (OpenBLAS) {dd_threads}")
    for name, spec in CASES.items():
        dd_step = make_step(deepdive, dnn, *spec)
        th_step = make_step(torch, tnn, *spec)
        best = {}
        for _ in range(3):
            for threads in ("default", 1):
                deepdive.set_num_threads(dd_threads if threads == "default" else 1)
                torch.set_num_threads(torch_threads if threads == "default" else 1)
                for lib, step in (("deepdive", dd_step), ("torch", th_step)):
                    key = (lib, threads)
                    best[key] = max(best.get(key, 0.0), steps_per_second(step, args.seconds))
        deepdive.set_num_threads(dd_threads)
        torch.set_num_threads(torch_threads)
        print(f"\n{name}")
        for threads in ("default", 1):
            dd, th = best[("deepdive", threads)], best[("torch", threads)]
            label = "default threads" if threads == "default" else "1 thread each  "
            print(f"  {label}: deepdive {dd:8.0f} steps/s, torch {th:8.0f} steps/s, ratio deepdive/torch = "
                  f"{dd / th:.2f}x")
        case = name[1]
        dd_mem, th_mem = peak_rss_mb("deepdive", case), peak_rss_mb("torch", case)
        print(f"  peak RSS: deepdive {dd_mem:.0f} MB, torch {th_mem:.0f} MB (ratio {dd_mem / th_mem:.2f})")
    dd_imp, th_imp = import_ms("deepdive"), import_ms("torch")
    print(f"\nimport time: deepdive {dd_imp:.0f} ms, torch {th_imp:.0f} ms (ratio {dd_imp / th_imp:.2f})")


if __name__ == "__main__":
    main()
