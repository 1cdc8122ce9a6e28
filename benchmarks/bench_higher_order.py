"""Higher-order gradients, deepdive vs PyTorch: a Hessian-vector product and a WGAN-GP critic step.

    python benchmarks/bench_higher_order.py

(a) HVP of an MLP's cross-entropy loss (784-256-10, batch 64) w.r.t. all parameters by double
    backward: grads = grad(loss, params, create_graph=True); grad(sum(g * v), params).
(b) One WGAN-GP critic update (critic 2-128-128-1, batch 256, Adam): the gradient penalty
    ||d D(x_hat) / d x_hat|| needs create_graph=True, then backward through it.
Milliseconds per call (best of 5 repeats) and the ratio deepdive/torch (< 1: deepdive faster),
with torch on 1 thread and NumPy's BLAS as it comes (set OMP/OPENBLAS_NUM_THREADS=1 for 1 thread each).
"""
import sys
import time

import numpy as np

import deepdive

try:
    import torch
except ImportError:
    sys.exit("the benchmark compares against PyTorch: pip install -e '.[test]'")


def best_ms(fn, repeats=5, number=10):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return 1000 * min(times)


def hvp_case(m, data):
    F = m.nn.functional
    params = [m.tensor(a, requires_grad=True) for a in data["params"]]
    x, y = m.tensor(data["x"]), m.tensor(data["y"])
    v = [m.tensor(a) for a in data["v"]]

    def step():
        h = F.relu(F.linear(x, params[0], params[1]))
        loss = F.cross_entropy(F.linear(h, params[2], params[3]), y)
        grads = m.autograd.grad(loss, params, create_graph=True)
        dot = sum((g * u).sum() for g, u in zip(grads, v))
        return m.autograd.grad(dot, params)
    return step


def wgan_case(m, data):
    nn = m.nn
    critic = nn.Sequential(nn.Linear(2, 128), nn.LeakyReLU(0.2), nn.Linear(128, 128), nn.LeakyReLU(0.2),
                           nn.Linear(128, 1))
    with m.no_grad():
        for p, a in zip(critic.parameters(), data["critic"]):
            p.copy_(m.tensor(a))
    optimizer = m.optim.Adam(critic.parameters(), lr=1e-4, betas=(0.5, 0.9))
    real, fake, alpha = m.tensor(data["real"]), m.tensor(data["fake"]), m.tensor(data["alpha"])

    def step():
        optimizer.zero_grad()
        interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        d_interpolates = critic(interpolates)
        gradients = m.autograd.grad(d_interpolates, interpolates, grad_outputs=m.ones_like(d_interpolates),
                                    create_graph=True, retain_graph=True)[0]
        penalty = ((gradients.norm(2, dim=1) - 1) ** 2).mean()
        loss = -critic(real).mean() + critic(fake).mean() + 10 * penalty
        loss.backward()
        optimizer.step()
    return step


def main():
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    shapes = [(256, 784), (256,), (10, 256), (10,)]
    hvp_data = {"params": [(rng.standard_normal(s) * 0.05).astype(np.float32) for s in shapes],
                "v": [rng.standard_normal(s).astype(np.float32) for s in shapes],
                "x": rng.standard_normal((64, 784)).astype(np.float32), "y": rng.integers(0, 10, 64)}
    wgan_shapes = [(128, 2), (128,), (128, 128), (128,), (1, 128), (1,)]
    wgan_data = {"critic": [(rng.standard_normal(s) * 0.1).astype(np.float32) for s in wgan_shapes],
                 "real": rng.standard_normal((256, 2)).astype(np.float32) + 2,
                 "fake": rng.standard_normal((256, 2)).astype(np.float32),
                 "alpha": rng.uniform(0, 1, (256, 1)).astype(np.float32)}
    a, b = hvp_case(deepdive, hvp_data)(), hvp_case(torch, hvp_data)()
    for p, q in zip(a, b):        # same numbers before timing them
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-3, atol=1e-5)
    print(f"deepdive {deepdive.__version__} vs torch {torch.__version__} (torch threads: 1), float32")
    print(f"{'case':44s} {'deepdive ms':>12s} {'torch ms':>10s} {'ratio':>7s}")
    for name, case, data in [("(a) Hessian-vector product, MLP 784-256-10", hvp_case, hvp_data),
                             ("(b) WGAN-GP critic step, 2-128-128-1", wgan_case, wgan_data)]:
        dd_ms, pt_ms = best_ms(case(deepdive, data)), best_ms(case(torch, data))
        print(f"{name:44s} {dd_ms:12.2f} {pt_ms:10.2f} {dd_ms / pt_ms:7.2f}")


if __name__ == "__main__":
    main()
