"""ops/special.py: lgamma, digamma, polygamma(n), erfinv — gradcheck + PyTorch parity, poles as PyTorch."""
import numpy as np
import pytest

import deepdive
from parity import check_parity, gradcheck, require_torch

rng = np.random.default_rng(0)
POSITIVE = np.concatenate([np.linspace(0.05, 3, 17), np.linspace(3.5, 60, 11)])
NEGATIVE = np.array([-4.7, -3.3, -2.5, -1.5, -0.9, -0.3])


@pytest.mark.parametrize("name", ["lgamma", "digamma"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parity(name, dtype):
    torch = require_torch()
    x = np.concatenate([POSITIVE, NEGATIVE]).astype(dtype)
    check_parity(lambda t: getattr(deepdive, name)(t), lambda t: getattr(torch, name)(t), [x])
    check_parity(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), [x])


def test_polygamma_and_erfinv_parity():
    torch = require_torch()
    check_parity(lambda t: deepdive.polygamma(1, t), lambda t: torch.polygamma(1, t), [POSITIVE], grad=False,
                 rtol=1e-8)
    y = np.linspace(-0.999, 0.999, 41)
    check_parity(deepdive.erfinv, torch.erfinv, [y])
    check_parity(lambda t: t.erfinv(), lambda t: t.erfinv(), [y.astype(np.float32)])


@pytest.mark.parametrize("name", ["lgamma", "digamma", "erfinv"])
def test_gradcheck(name):
    x = rng.uniform(0.2, 0.9, (3, 4)) if name == "erfinv" else rng.uniform(0.3, 6.0, (3, 4))
    gradcheck(getattr(deepdive, name), x)


def test_poles_match_torch():
    torch = require_torch()
    x = np.array([0.0, -1.0, -2.0, 1.0, 2.0])
    for name in ["lgamma", "digamma"]:
        np.testing.assert_allclose(getattr(deepdive, name)(deepdive.tensor(x)).numpy(),
                                   getattr(torch, name)(torch.tensor(x)).numpy(), rtol=1e-12)
    y = np.array([-1.0, 1.0, 1.5])
    np.testing.assert_array_equal(deepdive.erfinv(deepdive.tensor(y)).numpy(), torch.erfinv(torch.tensor(y)).numpy())


def test_integer_input_promotes_to_float():
    out = deepdive.lgamma(deepdive.tensor([1, 2, 5]))
    assert out.dtype == deepdive.float32
    np.testing.assert_allclose(out.numpy(), [0.0, 0.0, np.log(24)], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("n", [1, 2, 3, 6])
def test_polygamma_parity(n):
    """Any order n, with its gradient psi^(n+1); negative non-integers summed as PyTorch (Cephes' zeta) does."""
    torch = require_torch()
    x = np.concatenate([POSITIVE, NEGATIVE])
    check_parity(lambda t: deepdive.polygamma(n, t), lambda t: torch.polygamma(n, t), [x], rtol=1e-8)
    check_parity(lambda t: t.polygamma(n), lambda t: t.polygamma(n), [POSITIVE.astype(np.float32)])
    gradcheck(lambda t: deepdive.polygamma(n, t), rng.uniform(0.3, 6.0, (3, 4)))


def test_polygamma_poles_and_errors():
    torch = require_torch()
    x = np.array([0.0, -1.0, -3.0])
    for n in (2, 3):
        np.testing.assert_array_equal(deepdive.polygamma(n, deepdive.tensor(x)).numpy(),
                                      torch.polygamma(n, torch.tensor(x)).numpy())
    with pytest.raises(RuntimeError, match="negative n"):
        deepdive.polygamma(-1, deepdive.tensor([1.0]))


@pytest.mark.parametrize("p", [1, 2, 4])
def test_mvlgamma(p):
    torch = require_torch()
    a = rng.uniform((p - 1) / 2 + 0.1, 6.0, (3, 4))
    check_parity(lambda t: deepdive.mvlgamma(t, p), lambda t: torch.mvlgamma(t, p), [a])
    check_parity(lambda t: t.mvlgamma(p), lambda t: t.mvlgamma(p), [a.astype(np.float32)])
    gradcheck(lambda t: deepdive.mvlgamma(t, p), a)
    check_parity(lambda t: deepdive.mvlgamma(t, 3), lambda t: torch.mvlgamma(t, 3), [np.array([0.1, 0.6, 1.2])])
    with pytest.raises(RuntimeError, match="p has to be greater than or equal to 1"):
        deepdive.mvlgamma(deepdive.tensor([0.1]), 0)
