"""softmax / log_softmax / softmin: gradcheck + PyTorch parity over dims, stability, dtypes, errors."""
import warnings

import numpy as np
import pytest

import deepdive
import deepdive.nn.functional as F
from parity import check_parity, gradcheck, require_torch

rng = np.random.default_rng(0)
NAMES = ["softmax", "log_softmax", "softmin"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape,dim", [((5,), 0), ((3, 4), 1), ((3, 4), 0), ((2, 3, 4), -1), ((2, 3, 4), 1),
                                       ((2, 3, 4), -3), ((), 0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parity(name, shape, dim, dtype):
    torch = require_torch()
    x = np.asarray(rng.standard_normal(shape) * 3, dtype=dtype)
    check_parity(lambda t: getattr(F, name)(t, dim), lambda t: getattr(torch.nn.functional, name)(t, dim), [x])
    if name != "softmin":      # torch.Tensor has no softmin method
        check_parity(lambda t: getattr(t, name)(dim), lambda t: getattr(t, name)(dim), [x])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_gradcheck(name, dim):
    gradcheck(lambda t: getattr(deepdive, name)(t, dim), rng.standard_normal((3, 4)))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_huge_logits_are_finite(name):
    torch = require_torch()
    x = np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 1e4], [-1e4, -1e4, 5.0]], dtype=np.float32)
    with np.errstate(over="raise"):
        out = check_parity(lambda t: getattr(t, name)(1), lambda t: getattr(t, name)(1), [x])
    assert np.isfinite(out[0]._data).all()
    t = deepdive.tensor(x, requires_grad=True)
    getattr(t, name)(1).sum().backward()
    assert np.isfinite(t.grad._data).all()


@pytest.mark.filterwarnings("error::RuntimeWarning")     # a fully masked row gives nan quietly, like PyTorch
def test_minus_inf_logits():
    torch = require_torch()
    x = np.array([[-np.inf, 0.0, 1.0], [-np.inf, -np.inf, -np.inf]], dtype=np.float32)
    for name in ["softmax", "log_softmax"]:
        a, b = getattr(deepdive.tensor(x), name)(1), getattr(torch.tensor(x), name)(1)
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


def test_dtype_argument_casts_first():
    torch = require_torch()
    x = rng.standard_normal((2, 3)).astype(np.float32)
    out = check_parity(lambda t: F.softmax(t, 1, dtype=deepdive.float64),
                       lambda t: torch.nn.functional.softmax(t, 1, dtype=torch.float64), [x])
    assert out[0].dtype == deepdive.float64
    out = check_parity(lambda t: deepdive.log_softmax(t, 0, dtype=deepdive.float64),
                       lambda t: torch.log_softmax(t, 0, dtype=torch.float64), [x])
    assert out[0].dtype == deepdive.float64
    out = check_parity(lambda t: t.softmax(1, deepdive.float64), lambda t: t.softmax(1, torch.float64), [x])
    assert out[0].dtype == deepdive.float64


def test_softmax_sums_to_one_and_backward_of_sum_is_zero():
    t = deepdive.tensor(rng.standard_normal((4, 5)).astype(np.float32), requires_grad=True)
    y = t.softmax(-1)
    np.testing.assert_allclose(y.sum(-1).numpy(force=True), np.ones(4), rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), 0, atol=1e-6)


def test_implicit_dim_warns_like_torch():
    torch = require_torch()
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    for shape in [(4,), (2, 3), (2, 3, 4), (2, 2, 3, 4)]:
        x = rng.standard_normal(shape).astype(np.float32)
        with pytest.warns(UserWarning, match="Implicit dimension"):
            a = F.softmax(deepdive.tensor(x))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            b = torch.nn.functional.softmax(torch.tensor(x))
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


def test_empty_input():
    torch = require_torch()
    x = np.zeros((0, 3), dtype=np.float32)
    check_parity(lambda t: t.softmax(1), lambda t: t.softmax(1), [x])
    check_parity(lambda t: t.log_softmax(0), lambda t: t.log_softmax(0), [x])


def test_errors():
    with pytest.raises(IndexError, match=r"softmax: Dimension out of range \(expected to be in range of "
                                         r"\[-2, 1\], but got 2\)"):
        deepdive.ones(2, 3).softmax(2)
    with pytest.raises(NotImplementedError, match="Long"):
        deepdive.tensor([1, 2]).softmax(0)


try:
    from hypothesis import given, settings, strategies as st
except ImportError:          # pragma: no cover
    given = None


if given is not None:
    @st.composite
    def logits_and_dim(draw):
        shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=4)))
        scale = draw(st.sampled_from([1.0, 30.0, 1e3]))
        seed = draw(st.integers(0, 2 ** 16))
        x = np.random.default_rng(seed).standard_normal(shape) * scale
        return x, draw(st.integers(-len(shape), len(shape) - 1))

    @settings(max_examples=25, deadline=None)
    @given(logits_and_dim(), st.sampled_from(["softmax", "log_softmax"]), st.sampled_from([np.float32, np.float64]))
    def test_property_random_shapes(case, name, dtype):
        x, dim = case
        fn = lambda t: getattr(t, name)(dim)          # noqa: E731
        out = check_parity(fn, fn, [x.astype(dtype)], atol=1e-4 if dtype == np.float32 else None)
        assert np.isfinite(out[0]._data).all()
