"""benchmarks/run_all.py: its hand-written NumPy floor trains exactly like torch (else it is no floor),
and every workload gives deepdive and torch the same model, weights and batch (the same first loss).
No timing here: speed is measured by the benchmark itself."""
import os
import sys

import numpy as np
import pytest

from parity import assert_close, require_torch

BENCHMARKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "benchmarks")


def _run_all():
    require_torch()
    sys.path.insert(0, BENCHMARKS)
    import run_all
    return run_all


@pytest.mark.parametrize("sizes,batch,lr,momentum", [([10, 20, 2], 32, 0.1, 0.0),
                                                     ([784, 256, 256, 10], 128, 0.01, 0.9)])
def test_numpy_floor_trains_like_torch_sgd(sizes, batch, lr, momentum):
    run_all = _run_all()
    import torch
    torch.manual_seed(0)
    model = run_all._mlp(torch.nn, sizes)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((batch, sizes[0])).astype(np.float32), rng.integers(0, sizes[-1], batch)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    params = [m.weight.detach().numpy().copy() for m in linears] + [m.bias.detach().numpy().copy() for m in linears]
    floor = run_all.numpy_mlp_step(sizes, batch, lr, momentum, params=params, data=(x, y))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    for _ in range(4):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(torch.tensor(x)), torch.tensor(y))
        loss.backward()
        optimizer.step()
        assert_close(np.float32(floor()), loss, what="loss")
    expected = [m.weight for m in linears] + [m.bias for m in linears]
    for p, q in zip(params, expected):
        assert_close(p, q, what="parameter after 4 steps")


@pytest.mark.parametrize("key", ["a", "b", "c", "d", "e"])
def test_workloads_are_the_same_problem_in_both_libraries(key):
    run_all = _run_all()
    dd_step, torch_step = run_all.WORKLOADS[key][1]()
    for _ in range(2 if key in "ab" else 1):          # the big models: their first loss (one step) only
        assert_close(dd_step().item(), torch_step().item(), rtol=1e-4, atol=1e-5, what=f"loss of workload {key}")
