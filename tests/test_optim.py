"""Optimizers: N steps against torch.optim on the same small model for every option combination,
state_dict round trips mid-training, parameter groups, zero_grad, and errors."""
import copy

import numpy as np
import pytest

import deepdive
import deepdive.optim as optim
from parity import assert_close, require_torch

rng = np.random.default_rng(0)
STEPS = 20
X = rng.standard_normal((6, 4))
TARGET = rng.standard_normal((6, 3))
INIT = [rng.standard_normal((3, 4)) * 0.5, rng.standard_normal(3) * 0.1, rng.standard_normal((2, 2))]


@pytest.fixture(autouse=True, params=["numba", "numpy"])
def engine(request, monkeypatch):
    """Every test runs on both paths: the compiled kernels (Adam/AdamW's optim/_fast_adam.py) and NumPy."""
    monkeypatch.setenv("DEEPDIVE_NUMBA", "1" if request.param == "numba" else "0")
    return request.param


def _params(lib, dtype):
    """W, b and an unused parameter (its grad stays None, so every optimizer must skip it)."""
    make = (lambda a: deepdive.tensor(a.astype(dtype), requires_grad=True)) if lib is deepdive else \
        (lambda a: lib.tensor(a.astype(dtype), requires_grad=True))
    return [make(a) for a in INIT]


def _loss(lib, params, dtype):
    w, b, _ = params
    x, target = lib.tensor(X.astype(dtype)), lib.tensor(TARGET.astype(dtype))
    out = (x @ w.T + b).tanh()
    return ((out - target) ** 2).sum() + (w ** 4).sum() * 0.01


def _train(lib, make_optimizer, dtype, steps=STEPS, groups=False, params=None, opt=None):
    params = params or _params(lib, dtype)
    if opt is None:
        opt = make_optimizer([{"params": [params[0]]}, {"params": params[1:], "lr": 0.05}] if groups else params)
    for _ in range(steps):
        opt.zero_grad()
        _loss(lib, params, dtype).backward()
        opt.step()
    return params, opt


def _compare(name, options, dtype=np.float64, groups=False, steps=STEPS):
    t = require_torch()
    ours, _ = _train(deepdive, lambda p: getattr(optim, name)(p, **options), dtype, steps, groups)
    theirs, _ = _train(t, lambda p: getattr(t.optim, name)(p, **options), dtype, steps, groups)
    tol = dict(rtol=1e-9, atol=1e-10) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert_close(a, b, **tol, what=f"{name}{options} parameter {i}")
    assert ours[2].grad is None


CASES = {
    "SGD": [dict(lr=0.1), dict(lr=0.05, momentum=0.9), dict(lr=0.05, momentum=0.9, dampening=0.3),
            dict(lr=0.05, momentum=0.9, nesterov=True), dict(lr=0.05, weight_decay=0.1),
            dict(lr=0.05, momentum=0.8, weight_decay=0.1, nesterov=True, maximize=True),
            dict(lr=0.05, momentum=0.5, dampening=0.5, weight_decay=0.01, maximize=True)],
    "Adam": [dict(lr=0.01), dict(lr=0.01, amsgrad=True), dict(lr=0.01, weight_decay=0.1),
             dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, amsgrad=True, weight_decay=0.05, maximize=True),
             dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)],
    "AdamW": [dict(lr=0.01), dict(lr=0.01, weight_decay=0.1, amsgrad=True),
              dict(lr=0.02, betas=(0.5, 0.9), weight_decay=0.0, maximize=True)],
    "RMSprop": [dict(lr=0.01), dict(lr=0.01, centered=True), dict(lr=0.01, momentum=0.9),
                dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.1, momentum=0.5, centered=True, maximize=True)],
    "Adagrad": [dict(lr=0.1), dict(lr=0.1, lr_decay=0.05), dict(lr=0.1, initial_accumulator_value=0.5),
                dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, eps=1e-6, maximize=True)],
    "Adadelta": [dict(), dict(lr=0.5, rho=0.8), dict(lr=1.0, weight_decay=0.1, eps=1e-5, maximize=True)],
    "Adamax": [dict(lr=0.02), dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, maximize=True)],
    "NAdam": [dict(lr=0.02), dict(lr=0.02, momentum_decay=0.01, weight_decay=0.1),
              dict(lr=0.02, betas=(0.8, 0.99), weight_decay=0.1, decoupled_weight_decay=True, maximize=True)],
    "RAdam": [dict(lr=0.02), dict(lr=0.02, betas=(0.9, 0.9), weight_decay=0.1),     # beta2 0.9: rectified from step 6
              dict(lr=0.02, betas=(0.8, 0.8), weight_decay=0.1, decoupled_weight_decay=True, maximize=True)],
    "Rprop": [dict(lr=0.01), dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2), maximize=True)],
}
FLAT = [(name, options) for name, cases in CASES.items() for options in cases]


@pytest.mark.parametrize("name,options", FLAT)
def test_matches_torch_float64(name, options):
    _compare(name, options)


@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch_float32_and_param_groups(name):
    options = CASES[name][-1]
    _compare(name, options, dtype=np.float32)
    _compare(name, options, groups=True)


@pytest.mark.parametrize("name,options", [(name, cases[-1]) for name, cases in CASES.items()])
def test_state_dict_round_trip_continues_identically(name, options):
    t = require_torch()
    full, _ = _train(deepdive, lambda p: getattr(optim, name)(p, **options), np.float64, steps=2 * 10)
    half, opt = _train(deepdive, lambda p: getattr(optim, name)(p, **options), np.float64, steps=10)
    saved = copy.deepcopy(opt.state_dict())
    resumed_params = [deepdive.tensor(p._data.copy(), requires_grad=True) for p in half]
    resumed = getattr(optim, name)(resumed_params, **options)
    resumed.load_state_dict(saved)
    _train(deepdive, None, np.float64, steps=10, params=resumed_params, opt=resumed)
    for a, b in zip(resumed_params, full):
        # bit-identical but for NAdam, whose float32 mu_product is loaded in the parameters' dtype (as in torch)
        np.testing.assert_allclose(a._data, b._data, rtol=1e-11 if name == "NAdam" else 0, atol=0)
    # PyTorch's layout: state keyed by parameter index, groups list indices and the same options
    _, torch_opt = _train(t, lambda p: getattr(t.optim, name)(p, **options), np.float64, steps=10)
    ours, theirs = opt.state_dict(), torch_opt.state_dict()
    assert ours["param_groups"] == theirs["param_groups"]
    assert ours["state"].keys() == theirs["state"].keys()
    for index in theirs["state"]:
        assert ours["state"][index].keys() == theirs["state"][index].keys()
        for key, value in theirs["state"][index].items():
            assert_close(ours["state"][index][key], value, rtol=1e-9, atol=1e-10, what=f"state {index} {key}")


def test_load_torch_state_dict_into_deepdive():
    t = require_torch()
    _, torch_opt = _train(t, lambda p: t.optim.Adam(p, lr=0.01), np.float64, steps=5)
    theirs = torch_opt.state_dict()
    params = _params(deepdive, np.float64)
    opt = optim.Adam(params, lr=0.01)
    converted = {"param_groups": theirs["param_groups"],
                 "state": {i: {k: deepdive.tensor(v.numpy()) for k, v in s.items()}
                           for i, s in theirs["state"].items()}}
    opt.load_state_dict(converted)
    assert opt.state[params[0]]["exp_avg"]._data.dtype == np.float64
    assert float(opt.state[params[0]]["step"]._data) == 5.0


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
@pytest.mark.parametrize("history_size", [100, 3])
def test_lbfgs_matches_torch(line_search, history_size):
    t = require_torch()
    results = []
    for lib, opt_module in ((deepdive, optim), (t, t.optim)):
        params = _params(lib, np.float64)
        opt = opt_module.LBFGS(params, lr=0.5 if line_search is None else 1, max_iter=10, history_size=history_size,
                               line_search_fn=line_search)

        def closure():
            opt.zero_grad()
            loss = _loss(lib, params, np.float64)
            loss.backward()
            return loss
        losses = [float(opt.step(closure)) for _ in range(3)]
        results.append((params, losses, opt.state[params[0]]["func_evals"]))
    (ours, our_losses, our_evals), (theirs, their_losses, their_evals) = results
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-8)
    assert our_evals == their_evals
    for a, b in zip(ours, theirs):
        assert_close(a, b, rtol=1e-7, atol=1e-9, what="LBFGS parameter")


def test_lbfgs_minimises_rosenbrock():
    xy = deepdive.tensor([-1.5, 2.0], dtype=deepdive.float64, requires_grad=True)
    opt = optim.LBFGS([xy], lr=1, max_iter=100, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = (1 - xy[0]) ** 2 + 100 * (xy[1] - xy[0] ** 2) ** 2
        loss.backward()
        return loss
    for _ in range(5):
        opt.step(closure)
    np.testing.assert_allclose(xy._data, [1.0, 1.0], atol=1e-5)
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        optim.LBFGS([{"params": [xy]}, {"params": [deepdive.zeros(2, requires_grad=True)]}])


def test_step_with_closure_returns_loss_and_skips_params_without_grad():
    params = _params(deepdive, np.float32)
    before = params[2]._data.copy()
    opt = optim.SGD(params, lr=0.1)

    def closure():
        opt.zero_grad()
        loss = _loss(deepdive, params, np.float32)
        loss.backward()
        return loss
    loss = opt.step(closure)
    assert isinstance(loss, deepdive.Tensor) and loss.ndim == 0
    np.testing.assert_array_equal(params[2]._data, before)


def test_zero_grad_modes():
    params = _params(deepdive, np.float32)
    opt = optim.Adam(params)
    _loss(deepdive, params, np.float32).backward()
    grad_array = params[0].grad._data
    opt.zero_grad(set_to_none=False)
    assert params[0].grad is not None and not params[0].grad._data.any() and params[0].grad._data is grad_array
    opt.zero_grad()
    assert params[0].grad is None and params[1].grad is None


def test_step_bumps_version_so_stale_graphs_raise():
    w = deepdive.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    stale = (w * w).sum()          # saves w for backward
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        stale.backward()


def test_param_groups_defaults_and_add_param_group():
    a, b = deepdive.zeros(2, requires_grad=True), deepdive.zeros(3, requires_grad=True)
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["params"] == [b]
    assert "Parameter Group 1" in repr(opt) and "lr: 0.01" in repr(opt)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [a]})


def test_errors():
    w = deepdive.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors, but one of the params is ndarray"):
        optim.Adam([np.zeros(2)])
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.Adam([w * 2])
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate: -0.1"):
        optim.Adam([w], lr=-0.1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1: 1.0"):
        optim.AdamW([w], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        optim.SGD([w], lr=0.1, nesterov=True)
    for cls in (optim.RMSprop, optim.Adagrad, optim.Adadelta, optim.LBFGS):
        with pytest.raises(ValueError, match="Invalid learning rate"):
            cls([w], lr=-1.0)
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})


def test_named_parameters_give_param_names_like_torch():
    t = require_torch()
    ours, theirs = deepdive.nn.Linear(3, 2), t.nn.Linear(3, 2)
    a = optim.Adam(ours.named_parameters(), lr=0.1).state_dict()["param_groups"]
    b = t.optim.Adam(theirs.named_parameters(), lr=0.1).state_dict()["param_groups"]
    assert a == b and a[0]["param_names"] == ["weight", "bias"]
    opt = optim.SGD([{"params": list(ours.named_parameters())}], lr=0.1)
    with pytest.raises(ValueError, match="all optimizer param groups should be with/without names"):
        opt.add_param_group({"params": [deepdive.zeros(1, requires_grad=True)]})


def test_lbfgs_state_dict_round_trip_continues_identically():
    def run(params, opt, steps):
        def closure():
            opt.zero_grad()
            loss = _loss(deepdive, params, np.float64)
            loss.backward()
            return loss
        for _ in range(steps):
            opt.step(closure)

    full = _params(deepdive, np.float64)
    run(full, optim.LBFGS(full, max_iter=4, history_size=5, line_search_fn="strong_wolfe"), 4)
    half = _params(deepdive, np.float64)
    opt = optim.LBFGS(half, max_iter=4, history_size=5, line_search_fn="strong_wolfe")
    run(half, opt, 2)
    saved = copy.deepcopy(opt.state_dict())
    resumed = [deepdive.tensor(p._data.copy(), requires_grad=True) for p in half]
    opt2 = optim.LBFGS(resumed, max_iter=4, history_size=5, line_search_fn="strong_wolfe")
    opt2.load_state_dict(saved)
    run(resumed, opt2, 2)
    for a, b in zip(resumed, full):
        np.testing.assert_array_equal(a._data, b._data)


def test_step_hooks():
    w = deepdive.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    calls = []
    pre = opt.register_step_pre_hook(lambda o, args, kwargs: calls.append(("pre", float(w._data[0]))))
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append(("post", float(w._data[0]))))
    (w * w).sum().backward()
    opt.step()
    assert [c[0] for c in calls] == ["pre", "post"] and calls[0][1] == 1.0 and calls[1][1] < 1.0
    pre.remove()
    opt.step()
    assert [c[0] for c in calls] == ["pre", "post", "post"]

    class Doubled(optim.SGD):               # a subclass calling super().step(): hooks still run once
        def step(self, closure=None):
            return super().step(closure)
    counted = []
    opt = Doubled([w], lr=0.1)
    opt.register_step_post_hook(lambda *a: counted.append(1))
    opt.step()
    assert counted == [1]


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta"])
def test_tensor_learning_rate_matches_float(name):
    """PyTorch accepts lr as a 0-d tensor; the update must equal the float-lr update."""
    results = []
    for lr in (0.1, deepdive.tensor(0.1)):
        w = deepdive.ones(3, requires_grad=True)
        opt = getattr(deepdive.optim, name)([w], lr=lr)
        for _ in range(3):
            opt.zero_grad()
            (w * w * deepdive.tensor([1.0, 2.0, 3.0])).sum().backward()
            opt.step()
        assert isinstance(w._data, np.ndarray)
        results.append(w.detach().numpy().copy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


@pytest.mark.parametrize("name,options", [(n, o) for n in ("Adam", "AdamW") for o in CASES[n]])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_compiled_step_is_bit_identical_to_numpy(name, options, dtype, monkeypatch):
    pytest.importorskip("numba")
    from deepdive.optim._fast_adam import adam_update
    monkeypatch.setenv("DEEPDIVE_NUMBA", "1")
    assert adam_update.get() is not None, "numba is installed but the Adam kernel failed its self-check"
    results = []
    for flag in ("1", "0"):
        monkeypatch.setenv("DEEPDIVE_NUMBA", flag)
        params, opt = _train(deepdive, lambda p: getattr(optim, name)(p, **options), dtype, steps=STEPS)
        results.append([p._data for p in params] + [s[k]._data for s in opt.state.values() for k in sorted(s)])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
