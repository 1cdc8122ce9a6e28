"""Losses and optimizer steps, deepdive vs PyTorch, side by side (float32, this machine's CPU).

    python benchmarks/bench_optim_loss.py [--number 2000]

Losses: forward + backward of cross_entropy on the training benchmark's batch (32 x 2) and on a
larger one (128 x 10), and of bce_with_logits / mse_loss. Optimizers: one step() over the
parameters of the MLP 784-256-256-10 (gradients fixed), and over the small 10-20-2 net.
Times are the best of 5 repeats; ratio = torch time / deepdive time (> 1: deepdive is faster).
PyTorch runs with 1 thread, as a fair single-core baseline.
"""
import argparse
import timeit

import numpy as np

import deepdive
import deepdive.nn.functional as F

try:
    import torch
except ImportError:
    raise SystemExit("the benchmark compares against PyTorch: pip install -e '.[test]'")


def best(fn, number):
    return min(timeit.repeat(fn, number=number, repeat=5)) / number


def report(name, ours, theirs):
    print(f"  {name:<44} deepdive {ours * 1e6:9.1f} us   torch {theirs * 1e6:9.1f} us   ratio {theirs / ours:5.2f}x")


def loss_cases(number):
    rng = np.random.default_rng(0)
    print("losses (forward + backward)")
    for batch, classes in ((32, 2), (128, 10)):
        x = rng.standard_normal((batch, classes)).astype(np.float32)
        y = rng.integers(0, classes, batch)
        a, ya = deepdive.tensor(x, requires_grad=True), deepdive.tensor(y)
        b, yb = torch.tensor(x, requires_grad=True), torch.tensor(y)
        report(f"cross_entropy {batch}x{classes}", best(lambda: F.cross_entropy(a, ya).backward(), number),
               best(lambda: torch.nn.functional.cross_entropy(b, yb).backward(), number))
    x = rng.standard_normal((128, 10)).astype(np.float32)
    t = rng.uniform(0, 1, (128, 10)).astype(np.float32)
    a, ta = deepdive.tensor(x, requires_grad=True), deepdive.tensor(t)
    b, tb = torch.tensor(x, requires_grad=True), torch.tensor(t)
    report("binary_cross_entropy_with_logits 128x10",
           best(lambda: F.binary_cross_entropy_with_logits(a, ta).backward(), number),
           best(lambda: torch.nn.functional.binary_cross_entropy_with_logits(b, tb).backward(), number))
    report("mse_loss 128x10", best(lambda: F.mse_loss(a, ta).backward(), number),
           best(lambda: torch.nn.functional.mse_loss(b, tb).backward(), number))


def optimizer_cases(number):
    shapes = {"MLP 784-256-256-10": [(256, 784), (256,), (256, 256), (256,), (10, 256), (10,)],
              "SimpleNN 10-20-2": [(20, 10), (20,), (2, 20), (2,)]}
    options = [("SGD", dict(lr=0.01)), ("SGD", dict(lr=0.01, momentum=0.9)), ("Adam", dict(lr=1e-3)),
               ("AdamW", dict(lr=1e-3)), ("RMSprop", dict(lr=1e-3)), ("Adagrad", dict(lr=1e-2))]
    rng = np.random.default_rng(0)
    for model, model_shapes in shapes.items():
        print(f"optimizer.step(), {model}")
        arrays = [rng.standard_normal(s).astype(np.float32) for s in model_shapes]
        for name, kwargs in options:
            ours = [deepdive.tensor(a.copy(), requires_grad=True) for a in arrays]
            theirs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
            for p, q, a in zip(ours, theirs, arrays):
                p.grad, q.grad = deepdive.tensor(a * 1e-3), torch.tensor(a * 1e-3)
            opt_ours, opt_theirs = getattr(deepdive.optim, name)(ours, **kwargs), getattr(torch.optim, name)(theirs,
                                                                                                             **kwargs)
            n = max(number // (20 if model.startswith("MLP") else 1), 10)
            report(f"{name} {kwargs}", best(opt_ours.step, n), best(opt_theirs.step, n))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--number", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"deepdive {deepdive.__version__} vs torch {torch.__version__} (1 thread)")
    loss_cases(args.number)
    optimizer_cases(args.number)
