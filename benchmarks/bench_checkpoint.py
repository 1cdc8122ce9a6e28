"""Peak memory and time of a training step on a deep MLP, with and without activation checkpointing.

    python benchmarks/bench_checkpoint.py [--depth 64] [--width 256] [--batch 2048] [--segments 8]

Peak memory is measured with ``tracemalloc`` (NumPy reports its array
allocations to it), from just before the forward pass to the end of backward,
so the weights, which both runs hold, are not counted (their gradients, allocated in backward, are). One step of each kind
runs first as a warm-up. Checkpointing keeps only the inputs of each segment
and recomputes the rest in backward: it should lower the peak by roughly
``depth / segments`` at the cost of one more forward pass.
"""
import argparse
import time
import tracemalloc

import deepdive
import deepdive.nn as nn
from deepdive.utils.checkpoint import checkpoint_sequential


def build(depth, width):
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.ReLU()]
    return nn.Sequential(*layers)


def step(model, x, segments):
    model.zero_grad()
    out = model(x) if segments is None else checkpoint_sequential(model, segments, x, use_reentrant=False)
    loss = (out ** 2).mean()
    loss.backward()
    return loss.item()


def measure(model, x, segments):
    step(model, x, segments)                  # warm-up
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    loss = step(model, x, segments)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return loss, peak, seconds


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--depth", type=int, default=64)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--batch", type=int, default=2048)
    p.add_argument("--segments", type=int, default=8)
    args = p.parse_args()
    deepdive.manual_seed(0)
    model = build(args.depth, args.width)
    x = deepdive.randn(args.batch, args.width)
    activation_mib = args.batch * args.width * 4 / 2 ** 20
    print(f"deep MLP: {args.depth} x (Linear({args.width}, {args.width}) + ReLU), batch {args.batch}; "
          f"one activation = {activation_mib:.2f} MiB")
    loss_plain, peak_plain, t_plain = measure(model, x, None)
    loss_ckpt, peak_ckpt, t_ckpt = measure(model, x, args.segments)
    print(f"{'':28s}{'peak MiB':>10s}{'step s':>10s}{'loss':>14s}")
    print(f"{'no checkpointing':28s}{peak_plain / 2**20:10.1f}{t_plain:10.3f}{loss_plain:14.6g}")
    print(f"{f'checkpoint_sequential({args.segments})':28s}{peak_ckpt / 2**20:10.1f}{t_ckpt:10.3f}{loss_ckpt:14.6g}")
    print(f"peak memory ratio (checkpointed / plain): {peak_ckpt / peak_plain:.2f}; "
          f"time ratio: {t_ckpt / t_plain:.2f}")


if __name__ == "__main__":
    main()
