"""Reductions, softmax, sorting and matrix products: forward+backward time, deepdive vs PyTorch.

    python benchmarks/bench_reduction.py

For each op it times ``y = op(x); y.sum().backward()`` (forward only for ops
without a gradient) at a small (8x16) and a typical (64x512 / batched) size,
and prints microseconds per call and the ratio deepdive/PyTorch (below 1.0
means deepdive is faster). Both run on the same CPU in one process;
PyTorch is limited to the same number of threads NumPy's BLAS uses.
"""
import sys
import timeit

import numpy as np

import deepdive

try:
    import torch
except ImportError:
    sys.exit("the benchmark compares against PyTorch: pip install -e '.[test]'")

DIFFERENTIABLE = {
    "softmax(-1)": lambda m, x: m.softmax(x, -1),
    "log_softmax(-1)": lambda m, x: m.log_softmax(x, -1),
    "logsumexp(-1)": lambda m, x: m.logsumexp(x, -1),
    "sum(-1)": lambda m, x: x.sum(-1),
    "var(-1)": lambda m, x: x.var(-1),
    "std()": lambda m, x: x.std(),
    "max(-1).values": lambda m, x: x.max(-1).values,
    "amax(-1)": lambda m, x: x.amax(-1),
    "norm()": lambda m, x: x.norm(),
    "prod(-1)": lambda m, x: x.prod(-1),
    "cumsum(-1)": lambda m, x: x.cumsum(-1),
    "sort(-1).values": lambda m, x: x.sort(-1).values,
    "topk(5).values": lambda m, x: x.topk(5).values,
    "x @ x.T": lambda m, x: x @ x.T,
    "einsum(ij,kj->ik)": lambda m, x: m.einsum("ij,kj->ik", x, x),
    "addmm": lambda m, x: m.addmm(x[:, 0], x, x.T),
}
FORWARD_ONLY = {
    "argmax(-1)": lambda m, x: x.argmax(-1),
    "argsort(-1)": lambda m, x: x.argsort(-1),
    "any(-1)": lambda m, x: (x > 0).any(-1),
}


def _time(fn, number):
    fn()
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def bench(shape, number):
    x_np = np.random.default_rng(0).uniform(0.5, 1.5, shape).astype(np.float32)
    print(f"\nshape {shape}: microseconds per call (forward + backward)")
    print(f"{'op':<20}{'deepdive':>10}{'torch':>10}{'ratio':>8}")
    for name, op in {**DIFFERENTIABLE, **FORWARD_ONLY}.items():
        grad = name in DIFFERENTIABLE
        dx = deepdive.tensor(x_np, requires_grad=grad)
        tx = torch.tensor(x_np, requires_grad=grad)

        def run(m, x):
            y = op(m, x)
            if grad:
                y.sum().backward()
        t_dd = _time(lambda: run(deepdive, dx), number)
        t_torch = _time(lambda: run(torch, tx), number)
        print(f"{name:<20}{t_dd:>10.1f}{t_torch:>10.1f}{t_dd / t_torch:>8.2f}")


if __name__ == "__main__":
    torch.set_num_threads(2)
    bench((8, 16), 200)
    bench((64, 512), 20)
