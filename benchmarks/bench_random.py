"""Drawing 10^6 numbers, deepdive vs PyTorch (same seed, same numbers), in one process.

    python benchmarks/bench_random.py [--n 1000000] [--rounds 5] [--threads 1]

deepdive's raw words come from NumPy's C MT19937 loaded with PyTorch's state;
each distribution is then a few dozen NumPy array passes over cache-sized
blocks, never a Python loop per number; with the ``[fast]`` extra (numba)
the Box-Muller fills are compiled (randn float32: PyTorch's AVX2 kernel,
vectorised the same way, words to normals in one pass; float64: glibc's
log/cos/sin per element, as PyTorch), else NumPy redoes them operation by
operation (DEEPDIVE_NUMBA=0 times that path). PyTorch's CPU sampler is a serial C++ loop (``cpu_serial_kernel``),
so threads do not change its time; it is pinned to ``--threads`` anyway.

The machine is shared: the two libraries are timed in alternating rounds and
each keeps its best round; the load average is printed with the table. Prints
milliseconds per call and the ratio deepdive / torch (the goal: rand and randn,
float32 and float64, 10^6 contiguous, within 2x), and checks the numbers are
identical.
"""
import argparse
import os
import time

import numpy as np


def timed(fn):
    """Wall-clock and CPU seconds of one call (CPU time is what load on a shared machine distorts least)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch
    import deepdive
    torch.set_num_threads(args.threads)
    n = args.n
    cases = [
        ("rand float32", lambda m: m.rand(n)),
        ("randn float32", lambda m: m.randn(n)),
        ("rand float64", lambda m: m.rand(n, dtype=m.float64)),
        ("randn float64", lambda m: m.randn(n, dtype=m.float64)),
        ("uniform_(-.1,.1)", lambda m: m.empty(n).uniform_(-0.1, 0.1)),
        ("normal_(0, .02)", lambda m: m.empty(n).normal_(0.0, 0.02)),
        ("normal_ f64", lambda m: m.empty(n, dtype=m.float64).normal_(1.0, 3.0)),
        ("normal(m, s, size)", lambda m: m.normal(0.5, 2.0, size=(n,))),
        ("randint(0, 10)", lambda m: m.randint(0, 10, (n,))),
        ("bernoulli_(0.5)", lambda m: m.empty(n).bernoulli_(0.5)),
        ("randperm(n)", lambda m: m.randperm(n)),
    ]
    print(f"n = {n}, best of {args.rounds} alternating rounds, load average {os.getloadavg()[0]:.2f}")
    print(f"{'':<18}{'---- wall clock ----':>30}{'---- CPU time ----':>30}")
    print(f"{'draw':<18}{'deepdive ms':>12}{'torch ms':>10}{'ratio':>8}{'deepdive ms':>12}{'torch ms':>10}"
          f"{'ratio':>8}  same numbers")
    for name, fn in cases:
        deepdive.manual_seed(0)
        torch.manual_seed(0)
        same = np.array_equal(fn(deepdive)._data, fn(torch).numpy())
        dd, th = [float("inf")] * 2, [float("inf")] * 2
        for _ in range(args.rounds):       # alternate, keep the best of each
            dd = [min(a, b) for a, b in zip(dd, timed(lambda: fn(deepdive)))]
            th = [min(a, b) for a, b in zip(th, timed(lambda: fn(torch)))]
        print(f"{name:<18}{dd[0] * 1e3:>12.2f}{th[0] * 1e3:>10.2f}{dd[0] / th[0]:>7.2f}x"
              f"{dd[1] * 1e3:>12.2f}{th[1] * 1e3:>10.2f}{dd[1] / max(th[1], 1e-9):>7.2f}x  {same}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
