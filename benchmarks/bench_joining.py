"""Joining / indexing ops, forward and forward+backward, deepdive vs PyTorch side by side.

    python benchmarks/bench_joining.py

Shapes are those of a training step: a (64, 256) activation, a (64, 32, 32)
attention-score block, (64,) class targets. Prints microseconds per call and
the ratio deepdive / torch (< 1 means deepdive is faster). torch uses 1 thread.
"""
import sys
import timeit

import numpy as np

import deepdive

try:
    import torch
except ImportError:
    sys.exit("the benchmark compares against PyTorch: pip install -e '.[test]'")

rng = np.random.default_rng(0)
A = rng.standard_normal((64, 256)).astype(np.float32)
S = rng.standard_normal((64, 32, 32)).astype(np.float32)
TARGET = rng.integers(0, 256, (64, 1))
ROWS = rng.integers(0, 64, (128,))
CAUSAL = np.triu(np.ones((32, 32), dtype=bool), 1)


def ops(L):
    target, rows, causal = L.tensor(TARGET), L.tensor(ROWS), L.tensor(CAUSAL)
    return {
        "cat([a, a], 1)": (lambda a, s: L.cat([a, a], 1), "a"),
        "stack([a]*4)": (lambda a, s: L.stack([a, a, a, a]), "a"),
        "a.split(64, 1)": (lambda a, s: a.split(64, 1)[1], "a"),
        "a.chunk(4, 0)": (lambda a, s: a.chunk(4, 0)[2], "a"),
        "a.gather(1, t)": (lambda a, s: a.gather(1, target), "a"),
        "index_select": (lambda a, s: a.index_select(0, rows), "a"),
        "a[rows]": (lambda a, s: a[rows], "a"),
        "a[:, 10:100]": (lambda a, s: a[:, 10:100], "a"),
        "masked_fill": (lambda a, s: s.masked_fill(causal, float("-inf")).exp(), "s"),
        "s.tril()": (lambda a, s: s.tril(), "s"),
        "a.flip(1)": (lambda a, s: a.flip(1), "a"),
        "a.roll(3, 1)": (lambda a, s: a.roll(3, 1), "a"),
        "a.repeat(2, 2)": (lambda a, s: a.repeat(2, 2), "a"),
        "repeat_interleave": (lambda a, s: a.repeat_interleave(2, dim=0), "a"),
        "a.narrow(1, 5, 50)": (lambda a, s: a.narrow(1, 5, 50), "a"),
        "scatter_add": (lambda a, s: a.scatter_add(1, target, a[:, :1]), "a"),
    }


def _time(fn, number):
    fn()
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def main(number=200):
    torch.set_num_threads(1)
    print(f"deepdive vs torch {torch.__version__} (1 thread), float32, best of 5, microseconds per call")
    print(f"{'op':<20}{'fwd dd':>9}{'fwd torch':>11}{'ratio':>7}{'fwd+bwd dd':>12}{'fwd+bwd torch':>15}{'ratio':>7}")
    dd_ops, th_ops = ops(deepdive), ops(torch)
    for name in dd_ops:
        (f_dd, _), (f_th, _) = dd_ops[name], th_ops[name]
        da, ds = deepdive.tensor(A, requires_grad=True), deepdive.tensor(S, requires_grad=True)
        ta, ts = torch.tensor(A, requires_grad=True), torch.tensor(S, requires_grad=True)
        fwd_dd = _time(lambda: f_dd(da, ds), number)
        fwd_th = _time(lambda: f_th(ta, ts), number)
        step_dd = _time(lambda: f_dd(da, ds).sum().backward(), number)
        step_th = _time(lambda: f_th(ta, ts).sum().backward(), number)
        print(f"{name:<20}{fwd_dd:>9.1f}{fwd_th:>11.1f}{fwd_dd / fwd_th:>7.2f}{step_dd:>12.1f}{step_th:>15.1f}"
              f"{step_dd / step_th:>7.2f}")


if __name__ == "__main__":
    main()
