"""deepdive.amp: CPU autocast numerics against torch's CPU autocast, GradScaler against torch's, compile."""
import warnings

import numpy as np
import pytest

import deepdive
from parity import require_torch, assert_close

RNG = np.random.default_rng(0)


def _arrays(*shapes):
    return [RNG.standard_normal(s).astype(np.float32) for s in shapes]


LOWER_OPS = {
    "linear": (lambda lib, x, w, b: lib.nn.functional.linear(x, w, b), ((4, 8), (3, 8), (3,))),
    "matmul": (lambda lib, x, y: x @ y, ((2, 4, 8), (8, 5))),
    "mm": (lambda lib, x, y: lib.mm(x, y), ((4, 8), (8, 5))),
    "bmm": (lambda lib, x, y: lib.bmm(x, y), ((2, 4, 8), (2, 8, 5))),
    "addmm": (lambda lib, c, x, y: lib.addmm(c, x, y, beta=0.5, alpha=2.0), ((4, 5), (4, 8), (8, 5))),
    "baddbmm": (lambda lib, c, x, y: lib.baddbmm(c, x, y), ((2, 4, 5), (2, 4, 8), (2, 8, 5))),
    "conv2d": (lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b, padding=1), ((2, 3, 6, 6), (4, 3, 3, 3), (4,))),
    "conv1d": (lambda lib, x, w: lib.nn.functional.conv1d(x, w, stride=2), ((2, 3, 9), (4, 3, 3))),
    "conv_transpose2d": (lambda lib, x, w: lib.nn.functional.conv_transpose2d(x, w, stride=2),
                         ((1, 3, 4, 4), (3, 2, 3, 3))),
    "prelu": (lambda lib, x, a: lib.nn.functional.prelu(x, a), ((2, 3, 4), (3,))),
    "sdpa": (lambda lib, q, k, v: lib.nn.functional.scaled_dot_product_attention(q, k, v),
             ((2, 5, 8), (2, 6, 8), (2, 6, 8))),
}


def _run(lib, fn, arrays, dtype, **autocast_kw):
    inputs = [lib.tensor(a.copy(), requires_grad=True) for a in arrays]
    with lib.autocast("cpu", dtype=dtype, **autocast_kw):
        out = fn(lib, *inputs)
    w = np.linspace(-1, 1, out.numel(), dtype=np.float32).reshape(tuple(out.shape))
    (out.float() * lib.tensor(w)).sum().backward()
    return out, [t.grad for t in inputs]


@pytest.mark.parametrize("name", sorted(LOWER_OPS))
@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_lower_precision_ops_match_torch_cpu_autocast(name, precision):
    torch = require_torch()
    fn, shapes = LOWER_OPS[name]
    arrays = _arrays(*shapes)
    ours, our_grads = _run(deepdive, fn, arrays, getattr(deepdive, precision))
    theirs, their_grads = _run(torch, fn, arrays, getattr(torch, precision))
    assert theirs.dtype == getattr(torch, precision)
    assert ours.dtype is deepdive.float32           # stored as float32 here (see autocast_mode's docstring)
    ulp = 2.0 ** -8 if precision == "bfloat16" else 2.0 ** -11
    scale = float(np.abs(theirs.float().detach().numpy()).max())
    assert_close(ours.detach(), theirs.float().detach(), rtol=2 * ulp, atol=2 * ulp * scale)
    # rounding really happened: plain float32 differs from torch's lower-precision result
    plain = fn(deepdive, *[deepdive.tensor(a) for a in arrays]).numpy()
    assert np.abs(plain - theirs.float().detach().numpy()).max() > 0
    for g, h in zip(our_grads, their_grads):
        gscale = float(np.abs(h.numpy()).max())
        assert_close(g, h, rtol=4 * ulp, atol=4 * ulp * gscale)


def test_ops_outside_the_lists_and_float64_are_left_alone():
    torch = require_torch()
    x, v, c = _arrays((4, 8), (8,), (4,))
    for lib in (deepdive, torch):
        a, b, cc = lib.tensor(x), lib.tensor(v), lib.tensor(c)
        with lib.autocast("cpu"):
            assert_close(lib.mv(a, b).float(), lib.tensor(x @ v))            # mv is not in the list
            assert_close(lib.addmv(cc, a, b).float(), lib.tensor(c + x @ v))
            assert_close(lib.dot(b, b).float(), lib.tensor(v @ v))
            assert_close(a.tanh().float(), lib.tensor(np.tanh(x)))
            d = a.double() @ a.double().T
            assert d.dtype == lib.float64
            np.testing.assert_allclose(d.detach().numpy(), x.astype(np.float64) @ x.T.astype(np.float64))
            with lib.autocast("cpu", enabled=False):
                assert_close((a @ a.T).float(), lib.tensor(x @ x.T), rtol=1e-6, atol=1e-5)
        assert not lib.is_autocast_enabled("cpu")


def test_float32_ops_take_float16_inputs_up_as_torch():
    torch = require_torch()
    x, y = _arrays((4, 3), (4, 3))
    for lib in (deepdive, torch):
        a, b = lib.tensor(x).half(), lib.tensor(y).half()
        with lib.autocast("cpu", dtype=lib.float16):
            loss = lib.nn.functional.mse_loss(a, b)
        assert loss.dtype == lib.float32
        np.testing.assert_allclose(loss.item(), np.mean((x.astype(np.float16).astype(np.float32)
                                                         - y.astype(np.float16).astype(np.float32)) ** 2), rtol=1e-6)


def test_autocast_state_decorator_and_warnings():
    torch = require_torch()
    assert deepdive.get_autocast_dtype("cpu") is deepdive.bfloat16
    with deepdive.autocast("cpu", dtype=deepdive.float16):
        assert deepdive.is_autocast_enabled() and deepdive.get_autocast_dtype("cpu") is deepdive.float16
        with deepdive.amp.autocast("cpu"):
            assert deepdive.get_autocast_dtype("cpu") is deepdive.bfloat16
        assert deepdive.get_autocast_dtype("cpu") is deepdive.float16
    assert not deepdive.is_autocast_enabled()

    @deepdive.autocast("cpu")
    def forward(x):
        assert deepdive.is_autocast_enabled()
        return x @ x

    forward(deepdive.ones(2, 2))
    for lib in (deepdive, torch):
        with pytest.warns(UserWarning, match="target dtype is not supported"):
            with lib.autocast("cpu", dtype=lib.float32):
                assert not lib.is_autocast_enabled("cpu")
    with pytest.warns(UserWarning, match="CUDA is not available"):
        with deepdive.autocast("cuda"):
            assert not deepdive.is_autocast_enabled()


def test_bfloat16_is_named_but_holds_no_tensors():
    assert repr(deepdive.bfloat16) == "deepdive.bfloat16" and deepdive.bfloat16.is_floating_point
    with pytest.raises(TypeError, match="no bfloat16 tensors"):
        deepdive.zeros(2, dtype=deepdive.bfloat16)
    with pytest.raises(TypeError, match="no bfloat16 tensors"):
        deepdive.ones(2).to(deepdive.bfloat16)


def _scaler_run(lib, scaler, steps, w0, xs, ys):
    w = lib.tensor(w0.copy(), requires_grad=True)
    opt = lib.optim.SGD([w], lr=0.1)
    scales, losses = [], []
    for i in range(steps):
        opt.zero_grad()
        loss = ((lib.tensor(xs[i]) @ w - lib.tensor(ys[i])) ** 2).mean()
        if i == 2:
            loss = loss * float("inf")            # an overflowing step: skipped, scale backs off
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        lib.nn.utils.clip_grad_norm_([w], 10.0)
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
        losses.append(loss.item())
    return w.detach().numpy().copy(), scales, losses


def test_grad_scaler_matches_torch_step_for_step():
    torch = require_torch()
    w0, = _arrays((3, 1))
    xs = [RNG.standard_normal((5, 3)).astype(np.float32) for _ in range(7)]
    ys = [RNG.standard_normal((5, 1)).astype(np.float32) for _ in range(7)]
    kw = dict(init_scale=2.0 ** 10, growth_interval=2, growth_factor=2.0, backoff_factor=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")            # both warn about the non-finite step (that is the test)
        ours = _scaler_run(deepdive, deepdive.amp.GradScaler("cpu", **kw), 7, w0, xs, ys)
        theirs = _scaler_run(torch, torch.amp.GradScaler("cpu", **kw), 7, w0, xs, ys)
    assert ours[1] == theirs[1]
    assert ours[1][2] == ours[1][1] / 2             # the inf step was skipped and halved the scale
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5, atol=1e-6)


def test_grad_scaler_state_errors_and_disabled_default():
    torch = require_torch()
    scaler = deepdive.amp.GradScaler("cpu", init_scale=8.0)
    assert scaler.state_dict() == torch.amp.GradScaler("cpu", init_scale=8.0).state_dict()
    w = deepdive.ones(2, requires_grad=True)
    opt = deepdive.optim.SGD([w], lr=1.0)
    scaler.scale(w.sum()).backward()
    assert w.grad.tolist() == [8.0, 8.0]
    scaler.unscale_(opt)
    assert w.grad.tolist() == [1.0, 1.0]
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="after step"):
        scaler.unscale_(opt)
    scaler.update()
    other = deepdive.amp.GradScaler("cpu")
    other.load_state_dict(scaler.state_dict())
    assert other.get_scale() == 8.0
    with pytest.warns(UserWarning, match="CUDA is not available"):
        disabled = deepdive.amp.GradScaler()
    with pytest.warns(UserWarning, match="CUDA is not available"):
        assert not torch.amp.GradScaler().is_enabled()
    assert not disabled.is_enabled() and disabled.get_scale() == 1.0
    loss = w.sum()
    assert disabled.scale(loss) is loss


MIXED_PRECISION = '''
import torch
import torch.nn as nn


def train(weights, x, y, steps=5):
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    with torch.no_grad():
        for p, w in zip(model.parameters(), weights):
            p.copy_(torch.from_numpy(w))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=2)
    losses = []
    for step in range(steps):
        optimizer.zero_grad()
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            output = model(torch.from_numpy(x))
            loss = nn.functional.mse_loss(output, torch.from_numpy(y))
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        losses.append(loss.item())
    return losses, scaler.get_scale(), [p.detach().numpy().copy() for p in model.parameters()]
'''


def test_mixed_precision_training_program_matches_pytorch():
    require_torch()
    from program_swap import run_both
    weights = [w * 0.3 for w in _arrays((16, 8), (16,), (1, 16), (1,))]
    x, y = _arrays((12, 8), (12, 1))
    runs = {name: ns["train"](weights, x, y) for name, ns in run_both(MIXED_PRECISION).items()}
    np.testing.assert_allclose(runs["deepdive"][0], runs["torch"][0], rtol=1e-2)
    assert runs["deepdive"][1] == runs["torch"][1]
    for a, b in zip(runs["deepdive"][2], runs["torch"][2]):
        np.testing.assert_allclose(a, b, rtol=2e-2, atol=2e-3)


def test_compile_keeps_eager_results_and_pytorchs_wrapper():
    torch = require_torch()
    deepdive.manual_seed(0)
    net = deepdive.nn.Linear(3, 2)
    compiled = deepdive.compile(net, backend="eager")
    assert compiled._orig_mod is net and compiled.weight is net.weight
    tnet = torch.compile(torch.nn.Linear(3, 2), backend="eager")
    assert list(compiled.state_dict()) == list(tnet.state_dict()) == ["_orig_mod.weight", "_orig_mod.bias"]
    assert type(compiled).__name__ == type(tnet).__name__ == "OptimizedModule"
    x = deepdive.randn(4, 3)
    np.testing.assert_array_equal(compiled(x).detach().numpy(), net(x).detach().numpy())
    compiled(x).sum().backward()
    assert net.weight.grad is not None

    @deepdive.compile
    def f(a):
        return (a * a).sum()

    @deepdive.compile(mode="max-autotune", fullgraph=True)
    def g(a):
        return a.exp()

    assert f(deepdive.tensor([1.0, 2.0])).item() == 5.0 and f.__name__ == "f"
    np.testing.assert_array_equal(g(deepdive.zeros(2)).numpy(), [1.0, 1.0])
    assert deepdive.compile(net, disable=True) is net
    with pytest.raises(RuntimeError, match="Module or a function"):
        deepdive.compile(3)
