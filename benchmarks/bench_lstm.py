"""Char-LSTM training speed, deepdive vs PyTorch, in one process.

    python benchmarks/bench_lstm.py [--seconds 3] [--threads N] [--no-profile]

Model: Embedding(65, 64) -> LSTM(64, 128, batch_first=True) -> Linear(128, 65), cross-entropy
over every position, Adam; batch 32, sequence length 64. One "step" is forward + backward +
optimizer step. Measured for the fused ``nn.LSTM`` and for a per-step ``nn.LSTMCell`` loop, in
both libraries, with the same weights and the same batches. Prints steps/s and the ratio to
PyTorch's fused nn.LSTM (the goal is >= 1.0x), then a short cProfile of the slowest deepdive variant.

``--threads N`` gives both libraries N threads (OpenBLAS for NumPy, intra-op for torch); the
default leaves each library's own default. On a machine shared with other jobs, 1 thread each
compares the two implementations with the least noise.
"""
import argparse
import cProfile
import os
import pstats
import sys
import time

if "--threads" in sys.argv:     # must be set before NumPy loads OpenBLAS
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = sys.argv[sys.argv.index("--threads") + 1]

import numpy as np

import deepdive
import deepdive.optim  # noqa: F401  (deepdive.optim.Adam)

VOCAB, EMBED, HIDDEN, BATCH, SEQ_LEN = 65, 64, 128, 32, 64


def build(lib, fused):
    """The char-LSTM for ``lib`` (deepdive or torch); ``fused=False`` loops an LSTMCell over time."""
    nn = lib.nn

    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, EMBED)
            self.lstm = nn.LSTM(EMBED, HIDDEN, batch_first=True) if fused else nn.LSTMCell(EMBED, HIDDEN)
            self.head = nn.Linear(HIDDEN, VOCAB)

        def forward(self, ids):
            x = self.embed(ids)
            if fused:
                output, _ = self.lstm(x)
            else:
                h = c = lib.zeros(ids.shape[0], HIDDEN)
                steps = []
                for t in range(ids.shape[1]):
                    h, c = self.lstm(x[:, t], (h, c))
                    steps.append(h)
                output = lib.stack(steps, 1)
            return self.head(output)

    return CharLSTM()


def copy_weights(torch_model, dd_model, fused):
    """Give the deepdive model the torch model's initial weights (LSTMCell names lack the _l0 suffix)."""
    state = {}
    for name, value in torch_model.state_dict().items():
        if not fused and name.startswith("lstm."):
            name = name.replace("_l0", "")
        state[name] = deepdive.tensor(value.numpy())
    dd_model.load_state_dict(state)


def make_step(lib, model):
    optimizer = lib.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = lib.nn.CrossEntropyLoss()

    def step(x, y):
        logits = model(x)
        loss = loss_fn(logits.reshape(-1, VOCAB), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()
    return step


def steps_per_second(steps, seconds):
    """Steps/s of each of ``steps`` (name -> step function), timed in interleaved rounds so that
    the load of a shared machine falls on every variant alike."""
    for name, (step, lib_batches) in steps.items():
        step(*lib_batches[0])              # warm-up (allocations, first-call costs)
    spent = {name: 0.0 for name in steps}
    done = {name: 0 for name in steps}
    start = time.perf_counter()
    while time.perf_counter() - start < seconds * len(steps) or min(done.values()) < 3:
        for name, (step, lib_batches) in steps.items():
            t0 = time.perf_counter()
            step(*lib_batches[done[name] % len(lib_batches)])
            spent[name] += time.perf_counter() - t0
            done[name] += 1
    return {name: done[name] / spent[name] for name in steps}


def main(seconds=3.0, profile=True, threads=None):
    import torch
    if threads:
        torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    ids = [rng.integers(0, VOCAB, (BATCH, SEQ_LEN + 1)) for _ in range(8)]
    torch_batches = [(torch.tensor(a[:, :-1]), torch.tensor(a[:, 1:])) for a in ids]
    dd_batches = [(deepdive.tensor(a[:, :-1]), deepdive.tensor(a[:, 1:])) for a in ids]
    print(f"char-LSTM: Embedding({VOCAB},{EMBED}) -> LSTM({EMBED},{HIDDEN}) -> Linear({HIDDEN},{VOCAB}), "
          f"batch {BATCH}, T={SEQ_LEN}, Adam; torch {torch.__version__} with {torch.get_num_threads()} threads")
    variants, dd_steps = {}, {}
    for fused in (True, False):
        label = "nn.LSTM (fused)" if fused else "nn.LSTMCell loop"
        torch.manual_seed(0)
        torch_model = build(torch, fused)
        dd_model = build(deepdive, fused)
        copy_weights(torch_model, dd_model, fused)
        torch_step, dd_step = make_step(torch, torch_model), make_step(deepdive, dd_model)
        first_dd, first_torch = dd_step(*dd_batches[0]), torch_step(*torch_batches[0])
        assert abs(first_dd - first_torch) < 1e-4 * abs(first_torch), (first_dd, first_torch)
        variants[("torch", label)] = (torch_step, torch_batches)
        variants[("deepdive", label)] = (dd_step, dd_batches)
        dd_steps[label] = dd_step
    rates = steps_per_second(variants, seconds)
    reference = rates[("torch", "nn.LSTM (fused)")]
    print(f"{'library':10s} {'variant':18s} {'steps/s':>8s} {'vs torch nn.LSTM':>17s}")
    for (lib, label), rate in rates.items():
        print(f"{lib:10s} {label:18s} {rate:8.1f} {rate / reference:16.2f}x")
    for label in dd_steps:
        print(f"deepdive/torch, {label}: {rates[('deepdive', label)] / rates[('torch', label)]:.2f}x")
    if profile:
        slowest = min(dd_steps, key=lambda label: rates[("deepdive", label)])
        print(f"\ncProfile of deepdive {slowest}, 5 steps (top 12 by own time):")
        profiler = cProfile.Profile()
        profiler.enable()
        for k in range(5):
            dd_steps[slowest](*dd_batches[k])
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)
    return rates


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="char-LSTM training steps/s, deepdive vs PyTorch")
    parser.add_argument("--seconds", type=float, default=3.0, help="timing budget per variant")
    parser.add_argument("--threads", type=int, default=None, help="threads for both libraries")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    main(args.seconds, not args.no_profile, args.threads)
