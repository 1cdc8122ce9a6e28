"""The mismatch classes the differential fuzzer (test_fuzz.py) found, one regression test each.

PyTorch 2.13 is the spec. Where PyTorch is undefined or wrong, the test says
which choice deepdive makes and why (``deliberate difference``).
"""
import numpy as np
import pytest

import deepdive
from parity import check_parity, require_torch

NAN, INF = float("nan"), float("inf")


def _both(fn, *arrays, requires_grad=False):
    """fn run on deepdive and on torch tensors made from the same arrays."""
    torch = require_torch()
    return (fn(deepdive, *[deepdive.tensor(a.copy(), requires_grad=requires_grad) for a in arrays]),
            fn(torch, *[torch.tensor(a.copy(), requires_grad=requires_grad) for a in arrays]))


# ------------------------------------------------ requires_grad of piecewise-constant and non-differentiable results
@pytest.mark.parametrize("fn", [
    lambda T, x: x.floor(), lambda T, x: x.ceil(), lambda T, x: x.round(), lambda T, x: x.trunc(),
    lambda T, x: x.sign(), lambda T, x: T.round(x, decimals=1),
    lambda T, x: T.div(x, 0.7, rounding_mode="floor"), lambda T, x: T.div(x, x + 3, rounding_mode="trunc"),
    lambda T, x: T.remainder(x, 0.7), lambda T, x: x.frac()])
def test_piecewise_constant_results_keep_the_graph_with_zero_gradient(fn):
    x = np.array([-1.5, -0.2, 0.0, 0.4, 2.5], dtype=np.float32)
    out = check_parity(lambda a: fn(deepdive, a), lambda a: fn(require_torch(), a), [x])[0]
    assert out.requires_grad


@pytest.mark.parametrize("fn", [lambda T, x: T.floor_divide(x, 2.0), lambda T, x: x // x.detach(),
                                lambda T, x: T.unique(x)])
def test_results_without_a_derivative_require_grad_and_backward_raises(fn):
    x = np.array([3.0, 1.0, 3.0], dtype=np.float32)
    dd, ref = _both(fn, x, requires_grad=True)
    assert dd.requires_grad and ref.requires_grad
    with pytest.raises(RuntimeError, match="derivative for .* is not implemented"):
        dd.sum().backward()


def test_truncating_div_of_ints_stays_int():
    a, b = np.array([5, -5, 7, -7], dtype=np.int64), np.array([2, 2, -3, -3], dtype=np.int64)
    check_parity(lambda x, y: deepdive.div(x, y, rounding_mode="trunc"),
                 lambda x, y: require_torch().div(x, y, rounding_mode="trunc"), [a, b])
    check_parity(lambda x, y: deepdive.div(x, y, rounding_mode="floor"),
                 lambda x, y: require_torch().div(x, y, rounding_mode="floor"), [a, b])


@pytest.mark.parametrize("fn", [lambda T, x: x // T.tensor([0, 1]), lambda T, x: x % T.tensor([1, 0])])
def test_integer_division_by_zero_raises_like_pytorch(fn):
    x = np.array([1, 2], dtype=np.int64)
    torch = require_torch()
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        fn(torch, torch.tensor(x))
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        fn(deepdive, deepdive.tensor(x))


def test_unique_keeps_each_nan():
    check_parity(lambda x: deepdive.unique(x, return_counts=True), lambda x: require_torch().unique(x, return_counts=True),
                 [np.array([1.0, NAN, NAN, 1.0], dtype=np.float32)], grad=False)


def test_sign_of_nan_is_zero():
    check_parity(deepdive.sign, require_torch().sign if require_torch() else None,
                 [np.array([NAN, -INF, -0.0, 0.0, 2.0], dtype=np.float32)])
