"""DistributedDataParallel on 2 ranks against single-process training (by tests/test_distributed_ddp.py).

Each rank trains on its half of every batch; rank 0 also trains, by itself, a copy of the model on the
whole batch (the two halves concatenated, mean loss). After N steps the parameters must agree to 1e-6.
"""
import copy
import json
import sys
import traceback

import numpy as np

import deepdive as torch
import deepdive.distributed as dist
import deepdive.nn as nn
import deepdive.nn.functional as F
from deepdive.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("gloo")
R, W = dist.get_rank(), dist.get_world_size()
results = {}
STEPS = 5


def check(name):
    def run(fn):
        try:
            fn()
            results[name] = None
        except Exception:
            results[name] = f"rank {R}: " + traceback.format_exc()
    return run


def mlp():
    return nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 5))


def cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3), nn.ReLU(),
                         nn.Flatten(), nn.Linear(6 * 2 * 2, 10))


def batches(kind, per_rank, steps, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        shape = (W * per_rank, 20) if kind == "mlp" else (W * per_rank, 1, 8, 8)
        yield (rng.standard_normal(shape).astype(np.float32),
               rng.integers(0, 5 if kind == "mlp" else 10, W * per_rank))


def params_of(module):
    return [p.detach().numpy().copy() for p in module.parameters()]


def assert_same_on_every_rank(module):
    mine = params_of(module)
    everyone = [None] * W
    dist.all_gather_object(everyone, mine)
    for r in range(W):
        for a, b in zip(everyone[0], everyone[r]):
            np.testing.assert_array_equal(a, b, err_msg=f"rank {r}'s replica differs from rank 0's")


def train_side_by_side(build, kind, optimizer, per_rank=8):
    torch.manual_seed(100 + R)                  # different initial weights: DDP must broadcast rank 0's
    model = build()
    reference = copy.deepcopy(model) if R == 0 else None
    ddp = DDP(model)
    opt = optimizer(ddp.parameters())
    ref_opt = optimizer(reference.parameters()) if R == 0 else None
    for x, y in batches(kind, per_rank, STEPS):
        mine = slice(R * per_rank, (R + 1) * per_rank)
        opt.zero_grad()
        F.cross_entropy(ddp(torch.tensor(x[mine])), torch.tensor(y[mine])).backward()
        opt.step()
        if R == 0:
            ref_opt.zero_grad()
            F.cross_entropy(reference(torch.tensor(x)), torch.tensor(y)).backward()
            ref_opt.step()
    assert_same_on_every_rank(model)
    if R == 0:
        worst = max(float(np.abs(a - b).max()) for a, b in zip(params_of(model), params_of(reference)))
        assert worst < 1e-6, f"DDP and single-process training differ by {worst}"
        moved = max(float(np.abs(a - b).max()) for a, b in zip(params_of(model), params_of(build())))
        assert moved > 1e-3      # it trained (and is not the initial state)


@check("mlp_sgd_matches_single_process")
def _():
    train_side_by_side(mlp, "mlp", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9))


@check("mlp_adam_matches_single_process")
def _():
    train_side_by_side(mlp, "mlp", lambda p: torch.optim.Adam(p, lr=1e-3))


@check("cnn_sgd_matches_single_process")
def _():
    train_side_by_side(cnn, "cnn", lambda p: torch.optim.SGD(p, lr=0.05))


@check("small_buckets_match_single_process")
def _():
    # one bucket per tensor or so: several non-blocking all-reduces in flight during backward
    torch.manual_seed(7)
    model = mlp()
    reference = copy.deepcopy(model)
    ddp = DDP(model, bucket_cap_mb=0.0001)
    assert len(ddp._buckets) > 3
    x, y = next(batches("mlp", 4, 1, seed=3))
    F.cross_entropy(ddp(torch.tensor(x[R * 4:(R + 1) * 4])), torch.tensor(y[R * 4:(R + 1) * 4])).backward()
    F.cross_entropy(reference(torch.tensor(x)), torch.tensor(y)).backward()
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=1e-6)


@check("gradient_as_bucket_view_matches_single_process")
def _():
    # after each backward every .grad is a view of its bucket; with set_to_none=False the next backward
    # accumulates into those views in place (the in-place division path)
    for set_to_none in (True, False):
        torch.manual_seed(11)
        model = mlp()
        reference = copy.deepcopy(model)
        ddp = DDP(model, gradient_as_bucket_view=True, bucket_cap_mb=0.002)
        assert len(ddp._buckets) > 1
        opt = torch.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
        ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
        for x, y in batches("mlp", 4, STEPS, seed=8):
            opt.zero_grad(set_to_none=set_to_none)
            F.cross_entropy(ddp(torch.tensor(x[R * 4:(R + 1) * 4])), torch.tensor(y[R * 4:(R + 1) * 4])).backward()
            views = {id(v) for b in ddp._buckets for v in b.views}
            assert all(id(p.grad._data) in views for p in model.parameters()), "a .grad is not a bucket view"
            opt.step()
            ref_opt.zero_grad(set_to_none=set_to_none)
            F.cross_entropy(reference(torch.tensor(x)), torch.tensor(y)).backward()
            ref_opt.step()
        assert_same_on_every_rank(model)
        for a, b in zip(params_of(model), params_of(reference)):
            np.testing.assert_allclose(a, b, atol=1e-6)


class Tied(nn.Module):
    """One Linear applied twice: its gradient reaches the parameters in two parts in each backward (before
    the first layer's, which shares its bucket when the buckets are large)."""

    def __init__(self):
        super().__init__()
        self.first = nn.Linear(6, 6)
        self.inner = nn.Linear(6, 6)
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        return self.head(torch.tanh(self.inner(torch.tanh(self.inner(self.first(x))))))


@check("a_parameter_used_twice_matches_single_process")
def _():
    for as_view in (False, True):
        for cap in (None, 0.00005):           # one bucket; or one bucket per tensor, launched after the 1st part
            torch.manual_seed(5)
            model = Tied()
            reference = copy.deepcopy(model)
            ddp = DDP(model, bucket_cap_mb=cap, gradient_as_bucket_view=as_view)
            opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
            ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1)
            rng = np.random.default_rng(2)
            for _ in range(3):
                x, y = rng.standard_normal((2 * W, 6)).astype(np.float32), rng.integers(0, 3, 2 * W)
                opt.zero_grad()
                F.cross_entropy(ddp(torch.tensor(x[2 * R:2 * R + 2])), torch.tensor(y[2 * R:2 * R + 2])).backward()
                opt.step()
                ref_opt.zero_grad()
                F.cross_entropy(reference(torch.tensor(x)), torch.tensor(y)).backward()
                ref_opt.step()
            for a, b in zip(params_of(model), params_of(reference)):
                np.testing.assert_allclose(a, b, atol=1e-6, err_msg=f"gradient_as_bucket_view={as_view}, cap={cap}")


@check("no_sync_accumulation_equals_one_big_step")
def _():
    torch.manual_seed(3)
    model = mlp()
    reference = copy.deepcopy(model)
    ddp = DDP(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.2)
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.2)
    (x, y), = batches("mlp", 2 * 4, 1, seed=5)           # 2 micro-batches of 4 per rank
    micro = [(slice(R * 8 + k * 4, R * 8 + (k + 1) * 4)) for k in range(2)]
    opt.zero_grad()
    with ddp.no_sync():
        (F.cross_entropy(ddp(torch.tensor(x[micro[0]])), torch.tensor(y[micro[0]])) / 2).backward()
    local = [p.grad.numpy().copy() for p in model.parameters()]
    everyone = [None] * W
    dist.all_gather_object(everyone, local)
    assert any(np.abs(a - b).max() > 1e-6 for a, b in zip(everyone[0], everyone[1])), \
        "under no_sync the gradients were averaged"
    (F.cross_entropy(ddp(torch.tensor(x[micro[1]])), torch.tensor(y[micro[1]])) / 2).backward()
    opt.step()
    ref_opt.zero_grad()
    F.cross_entropy(reference(torch.tensor(x)), torch.tensor(y)).backward()
    ref_opt.step()
    assert_same_on_every_rank(model)
    for a, b in zip(params_of(model), params_of(reference)):
        np.testing.assert_allclose(a, b, atol=1e-6)


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Linear(4, 4)
        self.used_on_rank1 = nn.Linear(4, 4)
        self.never = nn.Linear(4, 4)

    def forward(self, x, rank):
        h = self.trunk(x)
        return self.used_on_rank1(h) if rank == 1 else h


@check("find_unused_parameters")
def _():
    torch.manual_seed(0)
    model = Branchy()
    ddp = DDP(model, find_unused_parameters=True)
    x = torch.ones(2, 4) * (R + 1)
    ddp(x, R).sum().backward()
    assert model.never.weight.grad is None                     # unused everywhere: left alone
    grads = [None] * W
    dist.all_gather_object(grads, [model.trunk.weight.grad.numpy(), model.used_on_rank1.weight.grad.numpy()])
    np.testing.assert_array_equal(grads[0][0], grads[1][0])
    np.testing.assert_array_equal(grads[0][1], grads[1][1])    # rank 1's gradient / 2 on both ranks
    assert np.abs(grads[0][1]).max() > 0


@check("unused_parameters_without_the_flag_raise")
def _():
    torch.manual_seed(0)
    ddp = DDP(Branchy())
    try:
        ddp(torch.ones(2, 4), 0).sum().backward()
    except RuntimeError as e:
        assert "find_unused_parameters=True" in str(e), str(e)
    else:
        raise AssertionError("an unused parameter did not raise")


@check("a_group_of_one_rank_leaves_the_local_gradients")
def _():
    groups = [dist.new_group([r]) for r in range(W)]          # every rank takes part in creating each group
    torch.manual_seed(4)
    model = mlp()
    local = copy.deepcopy(model)
    ddp = DDP(model, process_group=groups[R])
    x, y = next(batches("mlp", 3, 1, seed=R))
    F.cross_entropy(ddp(torch.tensor(x)), torch.tensor(y)).backward()
    F.cross_entropy(local(torch.tensor(x)), torch.tensor(y)).backward()
    for p, q in zip(model.parameters(), local.parameters()):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    try:
        DDP(Branchy(), process_group=groups[R])(torch.ones(2, 4), 0).sum().backward()
    except RuntimeError as e:
        assert "find_unused_parameters=True" in str(e), str(e)
    else:
        raise AssertionError("an unused parameter on a one-rank group did not raise")


@check("buckets_in_shared_memory_on_one_machine")
def _():
    import os
    ddp = DDP(mlp())
    wanted = os.environ.get("DEEPDIVE_DDP_SHARED_MEMORY", "1") != "0"
    assert (ddp._shared_memory is not None) == wanted, (ddp._shared_memory, wanted)
    if wanted:                                 # every bucket is a slice of the window every rank can read
        for b in ddp._buckets:
            assert len(b.peers) == W and b.peers[R] is b.buffer or np.shares_memory(b.peers[R], b.buffer)


@check("module_and_state_dict")
def _():
    torch.manual_seed(R)
    net = mlp()
    ddp = DDP(net)
    assert ddp.module is net
    keys = list(ddp.state_dict())
    assert keys == ["module." + k for k in net.state_dict()], keys
    twin = mlp()
    twin.load_state_dict(ddp.module.state_dict())
    with torch.no_grad():                                        # eval without grad: no sync, no hang
        out = ddp(torch.ones(3, 20))
    np.testing.assert_array_equal(out.numpy(), twin(torch.ones(3, 20)).detach().numpy())


@check("buffers_broadcast_from_rank_0")
def _():
    bn = nn.BatchNorm1d(3)
    bn.running_mean.fill_(float(R + 1))
    ddp = DDP(nn.Sequential(nn.Linear(3, 3), bn))
    np.testing.assert_array_equal(bn.running_mean.numpy(), np.ones(3, np.float32))


@check("different_models_raise_naming_ranks")
def _():
    try:
        DDP(nn.Linear(3, 3 + R))
    except RuntimeError as e:
        assert "rank 1's module differs from rank 0's" in str(e) and "(4, 3)" in str(e), str(e)
    else:
        raise AssertionError("models of different shapes did not raise")


everything = [None] * W
dist.all_gather_object(everything, results)
if R == 0:
    merged = {}
    for per_rank in everything:
        for name, outcome in per_rank.items():
            merged[name] = merged.get(name) or outcome
    with open(sys.argv[1], "w") as f:
        json.dump(merged, f)
