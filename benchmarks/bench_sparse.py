"""Sparse-dense matrix product, deepdive (scipy.sparse CSR) vs PyTorch (sparse COO), in one process.

    python benchmarks/bench_sparse.py [--seconds 2] [--threads N]

For a random graph adjacency A (n x n, about ``degree`` stored entries per row, float32) and a
dense feature matrix X (n x 64), times ``torch.sparse.mm(A, X)`` forward, and forward + backward
(gradients for X and for A's values, as a GCN / GAT layer needs), in both libraries with the same
A and X. Prints the calls per second and deepdive's ratio to PyTorch (>= 1.0x: deepdive as fast).

``--threads N`` gives both libraries N threads; on a shared machine 1 thread each is the least noisy.
"""
import argparse
import os
import sys
import time

if "--threads" in sys.argv:     # must be set before NumPy loads OpenBLAS
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = sys.argv[sys.argv.index("--threads") + 1]

import numpy as np

import deepdive


def rate(fn, seconds):
    """Calls per second of ``fn`` over about ``seconds`` (after one warm-up call)."""
    fn()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        calls += 1
    return calls / (time.perf_counter() - start)


def case(lib, indices, values, x_np, backward):
    v = lib.tensor(values, requires_grad=backward)
    x = lib.tensor(x_np, requires_grad=backward)
    n = x_np.shape[0]

    def run():
        a = lib.sparse_coo_tensor(lib.tensor(indices), v, (n, n))
        out = lib.sparse.mm(a, x)
        if backward:
            out.sum().backward()
    return run


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"{'n':>7} {'nnz':>8} {'pass':>9} {'deepdive/s':>11} {'torch/s':>9} {'ratio':>6}")
    for n, degree in ((2_000, 10), (20_000, 10), (20_000, 50)):
        nnz = n * degree
        indices = np.stack([rng.integers(0, n, nnz), rng.integers(0, n, nnz)])
        values = rng.random(nnz).astype(np.float32)
        x = rng.standard_normal((n, 64)).astype(np.float32)
        for backward in (False, True):
            ours = rate(case(deepdive, indices, values, x, backward), args.seconds)
            theirs = rate(case(torch, indices, values, x, backward), args.seconds)
            label = "fwd+bwd" if backward else "forward"
            print(f"{n:>7} {nnz:>8} {label:>9} {ours:>11.1f} {theirs:>9.1f} {ours / theirs:>5.2f}x")


if __name__ == "__main__":
    main()
