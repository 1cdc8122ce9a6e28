"""Depthwise and grouped conv2d speed (forward + backward), deepdive vs PyTorch, interleaved in one process.

    python benchmarks/bench_grouped_conv.py [--threads 1] [--rounds 5] [--repeat 10]
    python benchmarks/bench_grouped_conv.py --both        # runs itself with 1 and then 2 threads

Cases (float32, batch 8): MobileNet-style depthwise 3x3 convolutions (groups = channels, stride 1 and 2,
a 5x5 one) and ResNeXt-style grouped 3x3 convolutions (groups 8 and 32). One timing is
``conv2d(x, w, b, ...)`` forward, ``.sum().backward()`` (gradients of x, w and b).

Threads: torch through ``torch.set_num_threads``, NumPy's OpenBLAS through OPENBLAS_NUM_THREADS (set
before NumPy loads). The machine is shared, so the libraries alternate, round by round, and the report
gives, per case, each library's best time and the ratio deepdive/torch over the rounds (min..max;
below 1 means deepdive is faster). The "im2col ms" column times the same convolution through deepdive's
im2col Function (``ops/conv.py``'s ``Convolution``, which grouped convolutions used before
``ops/conv_grouped.py``), to show what the kernel-offset loop gains.
"""
import os
import subprocess
import sys

if __name__ == "__main__":   # must happen before NumPy is imported
    _threads = next((sys.argv[i + 1] for i, a in enumerate(sys.argv[:-1]) if a == "--threads"), "1")
    os.environ["OPENBLAS_NUM_THREADS"] = _threads
    os.environ["OMP_NUM_THREADS"] = _threads

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import deepdive  # noqa: E402

# (name, channels in, channels out, size, kernel, stride, groups)
CASES = [
    ("depthwise 3x3  C=64  32x32", 64, 64, 32, 3, 1, 64),
    ("depthwise 3x3/2 C=128 32x32", 128, 128, 32, 3, 2, 128),
    ("depthwise 5x5  C=32  16x16", 32, 32, 16, 5, 1, 32),
    ("grouped 3x3 g=8  C=64 32x32", 64, 64, 32, 3, 1, 8),
    ("grouped 3x3 g=32 C=128 16x16", 128, 128, 16, 3, 1, 32),
]
BATCH = 8


def make_im2col(case, rng):
    """The same convolution through deepdive's im2col Function (the path grouped convolutions took before)."""
    from deepdive.ops.conv import Convolution, _conv_geometry
    _, cin, cout, size, k, stride, groups = case
    tensors = [deepdive.tensor(a, requires_grad=True) for a in (
        rng.standard_normal((BATCH, cin, size, size)).astype(np.float32),
        rng.standard_normal((cout, cin // groups, k, k)).astype(np.float32),
        rng.standard_normal(cout).astype(np.float32))]
    geometry = _conv_geometry("conv2d", 2, *tensors, stride, k // 2, 1, groups)

    def run():
        for t in tensors:
            t.grad = None
        Convolution.apply(*tensors, geometry).sum().backward()
    return run


def make(lib, case, rng):
    _, cin, cout, size, k, stride, groups = case
    x = rng.standard_normal((BATCH, cin, size, size)).astype(np.float32)
    w = rng.standard_normal((cout, cin // groups, k, k)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    tensors = [lib.tensor(a, requires_grad=True) for a in (x, w, b)]

    def run():
        for t in tensors:
            t.grad = None
        out = lib.nn.functional.conv2d(*tensors, stride=stride, padding=k // 2, groups=groups)
        out.sum().backward()
    return run


def best_time(run, repeat):
    run()                                  # warm-up
    start = time.perf_counter()
    for _ in range(repeat):
        run()
    return (time.perf_counter() - start) / repeat


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--both", action="store_true", help="run with 1 and with 2 threads")
    args = parser.parse_args()
    if args.both:
        for threads in (1, 2):
            subprocess.run([sys.executable, __file__, "--threads", str(threads), "--rounds", str(args.rounds),
                            "--repeat", str(args.repeat)], check=True)
        return
    import torch
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"threads={args.threads}  rounds={args.rounds}  repeat={args.repeat}  load average "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"{'case':30s} {'deepdive ms':>12s} {'torch ms':>10s} {'im2col ms':>10s}  ratio min..max")
    for case in CASES:
        mine, theirs, before = make(deepdive, case, rng), make(torch, case, rng), make_im2col(case, rng)
        ratios, best = [], [float("inf")] * 3
        for _ in range(args.rounds):
            times = [best_time(run, args.repeat) for run in (mine, theirs, before)]
            ratios.append(times[0] / times[1])
            best = [min(b, t) for b, t in zip(best, times)]
        print(f"{case[0]:30s} {best[0] * 1e3:12.2f} {best[1] * 1e3:10.2f} {best[2] * 1e3:10.2f}  "
              f"{min(ratios):.2f}..{max(ratios):.2f}")


if __name__ == "__main__":
    main()
