"""LeNet-5 training speed, deepdive vs PyTorch, in one process.

    python benchmarks/bench_cnn.py [--seconds 2] [--rounds 3] [--threads 2] [--no-profile]

Model (LeNet-5 style, 1x28x28 input, random data):
    Conv2d(1, 6, 5) -> ReLU -> MaxPool2d(2) -> Conv2d(6, 16, 5) -> ReLU -> MaxPool2d(2)
    -> Flatten -> Linear(256, 120) -> ReLU -> Linear(120, 84) -> ReLU -> Linear(84, 10)
cross-entropy, Adam, batch 64. One "step" is forward + backward + optimizer step.

Threads: both libraries get the same number, torch through ``torch.set_num_threads``
and NumPy's OpenBLAS through OPENBLAS_NUM_THREADS (set before NumPy loads). The
default is 1: a like-for-like single core (deepdive's elementwise NumPy work is
single-threaded anyway), and the only setting that stays measurable on a shared
machine, where spinning BLAS/OpenMP threads of both libraries collapse (~10x).
On an idle machine ``--threads 2`` gives torch its full 2-core speed; deepdive's
small GEMMs gain nothing from a second OpenBLAS thread (they lose: thread
hand-offs cost more than the work), so ``--torch-threads 2`` compares each
library at its best.

Allocator: glibc returns large freed blocks to the OS, so every fresh multi-MB
temporary (im2col columns, their gradients) page-faults again, which on this VM
costs more than the arithmetic. ``mallopt`` (raised mmap/trim thresholds, applied by ``import deepdive``) keeps
freed memory for reuse, the same remedy as the jemalloc/tcmalloc that PyTorch's
CPU performance guide recommends; it is set for the whole process, so both
libraries run under it. ``--no-malloc-tuning`` shows the cost (deepdive's CPU
time per step rises by about 60%, torch's barely moves).

The machine is shared, so the two libraries are timed in
alternating rounds and each keeps its best round. Prints steps/s, the ratio
deepdive/torch (the goal is >= 1.0x) and a short cProfile of deepdive's step.
"""
import argparse
import os
import sys

if __name__ == "__main__":   # must happen before NumPy is imported
    _threads = next((sys.argv[i + 1] for i, a in enumerate(sys.argv[:-1]) if a == "--threads"), "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", _threads)


# deepdive tunes glibc's allocator itself at import (see deepdive/_allocator.py); --no-malloc-tuning turns
# that off through its documented switch, to show what the tuning is worth.
if __name__ == "__main__" and "--no-malloc-tuning" in sys.argv:
    os.environ["DEEPDIVE_MALLOC_TUNING"] = "0"

import cProfile  # noqa: E402
import pstats  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import deepdive  # noqa: E402
import deepdive.optim  # noqa: E402,F401  (deepdive.optim.Adam)

BATCH = 64


def build(lib):
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def make_step(lib, model):
    optimizer = lib.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = lib.nn.CrossEntropyLoss()

    def step(x, y):
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()
    return step


def steps_per_second(step, batches, seconds):
    """(steps per wall-clock second, CPU milliseconds per step): on a loaded machine the CPU time
    (all of this process's threads) is the steadier of the two."""
    done, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds or done < 3:
        step(*batches[done % len(batches)])
        done += 1
    return done / (time.perf_counter() - start), (time.process_time() - cpu) * 1000 / done


def main(seconds=2.0, rounds=3, threads=None, profile=True, torch_threads=None):
    import torch
    torch.set_num_threads(torch_threads or threads or 1)
    rng = np.random.default_rng(0)
    data = [(rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, BATCH))
            for _ in range(8)]
    torch_batches = [(torch.tensor(x), torch.tensor(y)) for x, y in data]
    dd_batches = [(deepdive.tensor(x), deepdive.tensor(y)) for x, y in data]
    torch.manual_seed(0)
    torch_model, dd_model = build(torch), build(deepdive)
    dd_model.load_state_dict({k: deepdive.tensor(v.numpy()) for k, v in torch_model.state_dict().items()})
    torch_step, dd_step = make_step(torch, torch_model), make_step(deepdive, dd_model)
    first_dd, first_torch = dd_step(*dd_batches[0]), torch_step(*torch_batches[0])
    assert abs(first_dd - first_torch) < 1e-4 * abs(first_torch), (first_dd, first_torch)
    print(f"LeNet-5 on 1x28x28, batch {BATCH}, Adam; torch {torch.__version__} with {torch.get_num_threads()} "
          f"threads, NumPy {np.__version__} with OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '?')}; "
          f"malloc tuning {'on' if deepdive._allocator.TUNED else 'off'}")
    best, cpu = {"torch": 0.0, "deepdive": 0.0}, {"torch": float("inf"), "deepdive": float("inf")}
    for _ in range(rounds):           # alternate, so both see the same machine load
        for lib, step, batches in (("torch", torch_step, torch_batches), ("deepdive", dd_step, dd_batches)):
            rate, cpu_ms = steps_per_second(step, batches, seconds)
            best[lib], cpu[lib] = max(best[lib], rate), min(cpu[lib], cpu_ms)
    for lib, rate in best.items():
        print(f"{lib:10s} {rate:8.1f} steps/s  ({1000 / rate:.2f} ms/step wall, {cpu[lib]:.2f} ms/step CPU)")
    print(f"deepdive/torch: {best['deepdive'] / best['torch']:.2f}x steps/s, "
          f"{cpu['torch'] / cpu['deepdive']:.2f}x by CPU time per step")
    if profile:
        print("\ncProfile of deepdive, 20 steps (top 15 by own time):")
        profiler = cProfile.Profile()
        profiler.enable()
        for k in range(20):
            dd_step(*dd_batches[k % len(dd_batches)])
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    return best


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="LeNet-5 training steps/s, deepdive vs PyTorch")
    parser.add_argument("--seconds", type=float, default=2.0, help="timing budget per round and library")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="threads for both libraries (default 1)")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch's threads, if not --threads (e.g. each library at its best: --torch-threads 2)")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--no-malloc-tuning", action="store_true", help="leave glibc's allocator at its defaults")
    args = parser.parse_args()
    main(args.seconds, args.rounds, args.threads, not args.no_profile, args.torch_threads)
