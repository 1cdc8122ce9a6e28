"""The one shared PyTorch-parity helper.

``check_parity(dd_fn, torch_fn, inputs)`` runs the same computation in
deepdive and in PyTorch on copies of the same NumPy inputs and compares:
output values, output dtype, and the gradient of every input that requires
grad (through backward of sum(output * w) with a fixed random w).

PyTorch is the test oracle. Without torch installed the parity tests skip,
unless DEEPDIVE_REQUIRE_TORCH=1 (as in CI), where a missing torch fails.
"""
import os

import numpy as np
import pytest

import deepdive

REQUIRE_TORCH = os.environ.get("DEEPDIVE_REQUIRE_TORCH") == "1"

try:
    import torch
except ImportError:       # pragma: no cover - exercised only without torch
    torch = None


def require_torch():
    """Return the torch module, or skip (fail under DEEPDIVE_REQUIRE_TORCH=1)."""
    if torch is None:
        if REQUIRE_TORCH:
            pytest.fail("PyTorch is required (DEEPDIVE_REQUIRE_TORCH=1) but not installed: pip install -e '.[test]'")
        pytest.skip("PyTorch is not installed, and this test compares deepdive with it: "
                    "pip install -e \".[test]\" installs PyTorch 2.13")
    return torch


TOLERANCES = {np.dtype(np.float64): (1e-10, 1e-8), np.dtype(np.float32): (1e-5, 1e-4),
              np.dtype(np.float16): (1e-2, 1e-2)}


def to_numpy(x):
    if isinstance(x, deepdive.Tensor):
        return x._data
    if torch is not None and isinstance(x, torch.Tensor):
        return x.detach().numpy(force=True)       # force: torch's ZeroTensor (a zero second derivative)
    return np.asarray(x)


def _as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def assert_close(actual, expected, dtype=None, rtol=None, atol=None, what="value"):
    actual, expected = to_numpy(actual), to_numpy(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != torch's {expected.shape}"
    d_rtol, d_atol = TOLERANCES.get(np.dtype(dtype or expected.dtype), (1e-6, 1e-6))
    np.testing.assert_allclose(actual, expected, rtol=rtol or d_rtol, atol=atol or d_atol, err_msg=what)


def check_parity(dd_fn, torch_fn, inputs, *, grad=True, rtol=None, atol=None, check_dtype=True, seed=0):
    """Run ``dd_fn`` / ``torch_fn`` on the same inputs and compare values and gradients.

    ``inputs`` is a list of NumPy arrays (floating ones require grad when
    ``grad`` is true) or ``(array, requires_grad)`` pairs; other Python values
    are passed through unchanged to both functions.
    Returns the deepdive outputs (a tuple) for further checks.
    """
    t = require_torch()
    dd_inputs, torch_inputs, pairs = [], [], []
    for item in inputs:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], np.ndarray):
            array, rg = item
        elif isinstance(item, np.ndarray):
            array, rg = item, grad and item.dtype.kind == "f"
        else:
            dd_inputs.append(item)
            torch_inputs.append(item)
            continue
        a = deepdive.tensor(array.copy(), requires_grad=rg)
        b = t.tensor(array.copy(), requires_grad=rg)
        dd_inputs.append(a)
        torch_inputs.append(b)
        if rg:
            pairs.append((a, b))
    dd_out = _as_tuple(dd_fn(*dd_inputs))
    torch_out = _as_tuple(torch_fn(*torch_inputs))
    assert len(dd_out) == len(torch_out), f"{len(dd_out)} outputs vs torch's {len(torch_out)}"
    rng = np.random.default_rng(seed)
    dd_loss = torch_loss = None
    for i, (o, r) in enumerate(zip(dd_out, torch_out)):
        if not isinstance(r, t.Tensor):
            assert o == r, f"output {i}: {o!r} != torch's {r!r}"
            continue
        if check_dtype:
            assert str(o.dtype).split(".")[-1] == str(r.dtype).split(".")[-1], \
                f"output {i} dtype {o.dtype} != torch's {r.dtype}"
        assert_close(o, r, rtol=rtol, atol=atol, what=f"output {i}")
        if grad and r.requires_grad and pairs:
            w = rng.standard_normal(tuple(r.shape))
            dd_term = (o * deepdive.tensor(w.astype(to_numpy(o).dtype))).sum()
            torch_term = (r * t.tensor(w.astype(to_numpy(o).dtype))).sum()
            dd_loss = dd_term if dd_loss is None else dd_loss + dd_term
            torch_loss = torch_term if torch_loss is None else torch_loss + torch_term
    if dd_loss is not None:
        dd_loss.backward()
        torch_loss.backward()
        for k, (a, b) in enumerate(pairs):
            if b.grad is None:
                assert a.grad is None or not np.any(a.grad._data), f"input {k}: torch has no grad but deepdive does"
                continue
            assert a.grad is not None, f"input {k}: deepdive computed no gradient"
            assert_close(a.grad, b.grad, rtol=rtol, atol=atol, what=f"grad of input {k}")
    return dd_out


def gradcheck(fn, *arrays, **kwargs):
    """deepdive's own gradcheck on float64 copies of ``arrays`` (all requiring grad)."""
    tensors = [deepdive.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)
               if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in arrays]
    assert deepdive.autograd.gradcheck(fn, tensors, **kwargs)


def check_second_order(dd_fn, torch_fn, inputs, *, rtol=None, atol=None, seed=0):
    """Second derivatives against PyTorch's (``torch.autograd.grad`` twice).

    First g_k = d sum(out * w)/d x_k with create_graph=True (w random), compared with torch's;
    then d sum_k sum(g_k * v_k)/d x (a Hessian-vector product), also compared. ``inputs`` as in
    ``check_parity``. Returns the deepdive first-order gradients.
    """
    t = require_torch()
    dd_inputs, torch_inputs, pairs = [], [], []
    for item in inputs:
        if isinstance(item, np.ndarray) and item.dtype.kind == "f":
            a, b = deepdive.tensor(item.copy(), requires_grad=True), t.tensor(item.copy(), requires_grad=True)
            pairs.append((a, b))
        elif isinstance(item, np.ndarray):
            a, b = deepdive.tensor(item.copy()), t.tensor(item.copy())
        else:
            a = b = item
        dd_inputs.append(a)
        torch_inputs.append(b)
    rng = np.random.default_rng(seed)
    dd_out, torch_out = _as_tuple(dd_fn(*dd_inputs)), _as_tuple(torch_fn(*torch_inputs))
    dd_loss = torch_loss = 0
    for o, r in zip(dd_out, torch_out):
        if isinstance(r, t.Tensor) and r.requires_grad:
            w = rng.standard_normal(tuple(r.shape)).astype(to_numpy(o).dtype)
            dd_loss = dd_loss + (o * deepdive.tensor(w)).sum()
            torch_loss = torch_loss + (r * t.tensor(w)).sum()
    dd_x, torch_x = [a for a, _ in pairs], [b for _, b in pairs]
    dd_g = deepdive.autograd.grad(dd_loss, dd_x, create_graph=True, allow_unused=True)
    torch_g = t.autograd.grad(torch_loss, torch_x, create_graph=True, allow_unused=True)
    dd_total = torch_total = 0
    for k, (a, b) in enumerate(zip(dd_g, torch_g)):
        if b is None:
            assert a is None or not np.any(a._data), f"input {k}: torch has no gradient but deepdive does"
            continue
        assert_close(a, b, rtol=rtol, atol=atol, what=f"first-order grad of input {k}")
        assert a.dtype == dd_x[k].dtype, f"grad of input {k}: dtype {a.dtype} != input's {dd_x[k].dtype}"
        if b.requires_grad:
            v = rng.standard_normal(tuple(b.shape)).astype(to_numpy(a).dtype)
            dd_total = dd_total + (a * deepdive.tensor(v)).sum()
            torch_total = torch_total + (b * t.tensor(v)).sum()
    if not isinstance(torch_total, t.Tensor) or not torch_total.requires_grad:
        return dd_g             # torch's gradient is constant: nothing more to compare
    dd_h = deepdive.autograd.grad(dd_total, dd_x, allow_unused=True)
    torch_h = t.autograd.grad(torch_total, torch_x, allow_unused=True)
    for k, (a, b) in enumerate(zip(dd_h, torch_h)):
        if b is None:
            assert a is None or not np.any(a._data), f"input {k}: torch has no second derivative but deepdive does"
            continue
        assert a is not None, f"input {k}: deepdive computed no second derivative"
        assert_close(a, b, rtol=rtol, atol=atol, what=f"second-order grad of input {k}")
    return dd_g


def gradgradcheck(fn, *arrays, **kwargs):
    """deepdive's own gradgradcheck on float64 copies of ``arrays`` (all requiring grad)."""
    tensors = [deepdive.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)
               if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in arrays]
    assert deepdive.autograd.gradgradcheck(fn, tensors, **kwargs)
