"""Training steps per second, deepdive vs PyTorch, side by side (float32, this machine's CPU).

    python benchmarks/bench_training.py [--seconds 3]

(a) the post's SimpleNN 10-20-2, batch 32, CrossEntropyLoss, SGD(lr=0.1)
(b) MLP 784-256-256-10, batch 128, CrossEntropyLoss, SGD(lr=0.01, momentum=0.9)

A step is zero_grad, forward, loss, backward, optimizer.step on a fixed batch.
Both frameworks run in this process, alternating, best of 3 rounds. PyTorch
runs with its default thread count and again with 1 thread. Peak memory
(max RSS of a fresh process that imports the framework and trains) and
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
import resource, sys, time
sys.path.insert(0, {bench_dir!r})
import bench_training as b
lib_name, case = sys.argv[1], sys.argv[2]
if lib_name == "torch":
    import torch as lib, torch.nn as nn
else:
    import deepdive as lib, deepdive.nn as nn
step = b.make_step(lib, nn, *b.CASES[case])
for _ in range(200):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def peak_rss_mb(lib_name, case):
    import os
    code = CHILD.format(bench_dir=os.path.dirname(os.path.abspath(__file__)))
    return float(subprocess.check_output([sys.executable, "-c", code, lib_name, case]).decode().strip())


def import_ms(module):
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return min(float(subprocess.check_output([sys.executable, "-c", code]).decode()) for _ in range(3)) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="timing window per measurement")
    args = parser.parse_args()
    default_threads = torch.get_num_threads()
    print(f"deepdive {deepdive.__version__} vs torch {torch.__version__}; torch threads: default {default_threads}")
    for name, spec in CASES.items():
        dd_step = make_step(deepdive, dnn, *spec)
        th_step = make_step(torch, tnn, *spec)
        dd_best = th_best = th1_best = 0.0
        for _ in range(3):
            dd_best = max(dd_best, steps_per_second(dd_step, args.seconds))
            torch.set_num_threads(default_threads)
            th_best = max(th_best, steps_per_second(th_step, args.seconds))
            torch.set_num_threads(1)
            th1_best = max(th1_best, steps_per_second(th_step, args.seconds))
        torch.set_num_threads(default_threads)
        print(f"\n{name}")
        print(f"  deepdive          {dd_best:10.0f} steps/s")
        print(f"  torch (default)   {th_best:10.0f} steps/s   ratio deepdive/torch = {dd_best / th_best:.2f}x")
        print(f"  torch (1 thread)  {th1_best:10.0f} steps/s   ratio deepdive/torch = {dd_best / th1_best:.2f}x")
        dd_mem, th_mem = peak_rss_mb("deepdive", name), peak_rss_mb("torch", name)
        print(f"  peak RSS: deepdive {dd_mem:.0f} MB, torch {th_mem:.0f} MB (ratio {dd_mem / th_mem:.2f})")
    dd_imp, th_imp = import_ms("deepdive"), import_ms("torch")
    print(f"\nimport time: deepdive {dd_imp:.0f} ms, torch {th_imp:.0f} ms (ratio {dd_imp / th_imp:.2f})")


if __name__ == "__main__":
    main()
