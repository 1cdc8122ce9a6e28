"""Training steps per second of a tiny GPT, deepdive vs PyTorch, side by side (float32, this CPU).

    python benchmarks/bench_transformer.py [--seconds 3] [--activation relu|gelu] [--threads N] [--profile]

The model is examples/tiny_gpt.py's ``build_gpt`` (the same PyTorch code for both
libraries): 2 pre-norm nn.TransformerEncoderLayer blocks, d_model 128, 4 heads,
feed-forward 512, causal mask, T = 64, batch 16, vocabulary 64, tied head,
cross-entropy and AdamW. A step is zero_grad, forward, loss, backward, step.
Both frameworks run in this process, alternating, best of 3 rounds, PyTorch
with its default thread count (or ``--threads N`` for both). ``--profile`` prints a cProfile of deepdive's step.
"""
import argparse
import cProfile
import os
import pstats
import sys
import time

if "--threads" in sys.argv:     # BLAS reads its thread count at import: set it before NumPy loads
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = sys.argv[sys.argv.index("--threads") + 1]

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))

import deepdive  # noqa: E402
import deepdive.optim  # noqa: E402,F401
from tiny_gpt import build_gpt  # noqa: E402

try:
    import torch
except ImportError:
    sys.exit("the benchmark compares against PyTorch: pip install -e '.[test]'")

VOCAB, T, BATCH = 64, 64, 16


def make_step(lib, activation):
    lib.manual_seed(0)
    model = build_gpt(lib, vocab_size=VOCAB, block_size=T, d_model=128, n_layer=2, n_head=4, d_ff=512,
                      dropout=0.0, activation=activation)
    optimizer = lib.optim.AdamW(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.integers(0, VOCAB, (BATCH, T)))
    y = lib.tensor(rng.integers(0, VOCAB, (BATCH * T,)))

    def step():
        optimizer.zero_grad()
        loss = lib.nn.functional.cross_entropy(model(x).reshape(-1, VOCAB), y)
        loss.backward()
        optimizer.step()
        return loss
    return step


def steps_per_second(step, seconds):
    step()                      # warm-up (allocations, caches)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        n += 1
    return n / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--activation", default="relu", choices=["relu", "gelu"])
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="BLAS / torch threads (default: all)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dd_step, torch_step = make_step(deepdive, args.activation), make_step(torch, args.activation)
    best_dd = best_torch = 0.0
    for _ in range(3):
        best_dd = max(best_dd, steps_per_second(dd_step, args.seconds))
        best_torch = max(best_torch, steps_per_second(torch_step, args.seconds))
    print(f"tiny GPT (2 layers, d_model 128, 4 heads, ff 512, T={T}, batch {BATCH}, {args.activation}, AdamW)")
    print(f"  deepdive {best_dd:6.2f} steps/s   torch {best_torch:6.2f} steps/s "
          f"({torch.get_num_threads()} threads)   ratio {best_dd / best_torch:.2f}x")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(10):
            dd_step()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
