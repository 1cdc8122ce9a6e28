"""Reductions: gradcheck + PyTorch parity over dims/keepdim/negative dims, ties, edge cases, errors."""
import warnings

import numpy as np
import pytest

import deepdive
from parity import check_parity, gradcheck, require_torch

rng = np.random.default_rng(0)
DIMS = [None, 0, 1, -1, (0, 2), (-1, -3), (1,)]


def _call(fn, name, dim, keepdim, **kw):
    """``t.name(dim, keepdim=...)``, leaving dim out when it is None (torch's overloads differ)."""
    def run(t):
        method = getattr(t, name)
        return method(**kw) if dim is None else method(dim, keepdim=keepdim, **kw)
    return run


@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "amax", "amin", "logsumexp"])
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
def test_parity_over_dims(name, dim, keepdim):
    if name == "logsumexp" and dim is None:
        dim = (0, 1, 2)          # torch requires a dim for logsumexp
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    fn = _call(None, name, dim, keepdim)
    check_parity(fn, fn, [x])
    check_parity(fn, fn, [x.astype(np.float64)])


@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "amax", "amin", "logsumexp"])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (1, True), ((0, -1), False), (-2, False)])
def test_gradcheck(name, dim, keepdim):
    if name == "logsumexp" and dim is None:
        dim = (0, 1, 2)
    gradcheck(_call(None, name, dim, keepdim), rng.standard_normal((2, 3, 2)))


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1, -1, -3])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_with_dim(name, dim, keepdim):
    torch = require_torch()
    x = rng.standard_normal((2, 3, 4))
    out = check_parity(lambda t: getattr(t, name)(dim, keepdim=keepdim),
                       lambda t: getattr(t, name)(dim, keepdim=keepdim), [x])
    ref = getattr(torch.tensor(x), name)(dim, keepdim=keepdim)
    assert out[0] is getattr(out, "values", out[0])
    res = getattr(deepdive, name)(deepdive.tensor(x), dim, keepdim)
    assert type(res).__name__ == name and res.indices.dtype == deepdive.int64
    np.testing.assert_array_equal(res.indices.numpy(), ref.indices.numpy())
    np.testing.assert_array_equal(res.values.numpy(), ref.values.numpy())
    gradcheck(lambda t: getattr(t, name)(dim, keepdim=keepdim).values, x)


def test_max_min_full_and_elementwise():
    torch = require_torch()
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((4,))
    for name in ["max", "min"]:
        out = check_parity(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), [x])
        assert out[0].ndim == 0
        check_parity(lambda a, b: getattr(deepdive, name)(a, b), lambda a, b: getattr(torch, name)(a, b), [x, y])
        check_parity(lambda a, b: getattr(a, name)(b), lambda a, b: getattr(a, name)(b), [x, y])
        gradcheck(lambda t: getattr(t, name)(), x)


def test_ties():
    """max/min with a dim: the gradient goes to the returned (first) index; without a dim and for
    amax/amin: split evenly among the ties (PyTorch's rules)."""
    x = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [5.0, -1.0, 5.0, -1.0]])
    for fn in [lambda t: t.max(1), lambda t: t.min(1), lambda t: t.max(0, keepdim=True), lambda t: t.max(),
               lambda t: t.min(), lambda t: t.amax(1), lambda t: t.amin(0), lambda t: t.amax((0, 1)),
               lambda t: t.amax()]:
        check_parity(fn, fn, [x])
        check_parity(fn, fn, [x.astype(np.float32)])
    res = deepdive.tensor(x).max(1)
    np.testing.assert_array_equal(res.indices.numpy(), [1, 0, 0])


def test_max_named_tuple_and_0d():
    torch = require_torch()
    res = deepdive.tensor([[1.0, 4.0], [3.0, 2.0]]).max(dim=1)
    values, indices = res
    assert values is res.values and indices is res.indices
    assert "values=" in repr(res) and "indices=" in repr(res)
    s = deepdive.tensor(3.0).max(0)
    r = torch.tensor(3.0).max(0)
    assert s.values.shape == r.values.shape == () and s.indices.item() == r.indices.item() == 0


def test_max_min_integer_and_nan():
    torch = require_torch()
    a = np.array([[3, 1, 7], [2, 9, 9]], dtype=np.int64)
    for fn in [lambda t: t.max(), lambda t: t.min(1), lambda t: t.amax(0), lambda t: t.max(1, keepdim=True)]:
        check_parity(fn, fn, [a])
    n = np.array([[1.0, np.nan, 3.0], [0.0, 1.0, 2.0]], dtype=np.float32)
    for fn in [lambda t: t.max(1), lambda t: t.amax(1), lambda t: t.min(), lambda t: t.logsumexp(1)]:
        for o, r in zip(*(o if isinstance(o, tuple) else (o,) for o in (fn(deepdive.tensor(n)), fn(torch.tensor(n))))):
            np.testing.assert_allclose(o.numpy(), r.numpy(), rtol=1e-6)


def test_nan_gradients_follow_torch():
    """max()/min() without a dim share the gradient among NaNs; amax gives NaN gradients; max(dim) picks the NaN."""
    x = np.array([[1.0, np.nan, 3.0, np.nan], [1.0, 2.0, 3.0, 3.0]])
    with np.errstate(all="ignore"):
        for fn in [lambda t: t.max(), lambda t: t.min(), lambda t: t.amax(1), lambda t: t.max(1).values,
                   lambda t: t.median()]:
            dd_t, torch_t = deepdive.tensor(x, requires_grad=True), require_torch().tensor(x, requires_grad=True)
            fn(dd_t).sum().backward()
            fn(torch_t).sum().backward()
            np.testing.assert_allclose(dd_t.grad.numpy(), torch_t.grad.numpy(), equal_nan=True)


def test_var_std_overloads():
    torch = require_torch()
    x = rng.standard_normal((3, 5))
    cases = [lambda m: m.var(), lambda m: m.var(False), lambda m: m.var(1, True), lambda m: m.var(1, False, True),
             lambda m: m.var(0, unbiased=False), lambda m: m.var(dim=1, correction=0),
             lambda m: m.var(dim=(0, 1), correction=2, keepdim=True), lambda m: m.std(0, correction=0),
             lambda m: m.std(False), lambda m: m.std(dim=-1, unbiased=True, keepdim=True)]
    for fn in cases:
        check_parity(fn, fn, [x])
    check_parity(lambda t: deepdive.var_mean(t, 1, correction=0), lambda t: torch.var_mean(t, 1, correction=0), [x])
    check_parity(lambda t: deepdive.std_mean(t, (0, 1)), lambda t: torch.std_mean(t, (0, 1)), [x])
    gradcheck(lambda t: t.var(1, correction=0), x)
    gradcheck(lambda t: t.std(0, correction=2), x)


def test_var_single_element_is_nan_like_torch():
    torch = require_torch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fn in [lambda t: t.var(), lambda t: t.std(), lambda t: t.var(0, keepdim=True)]:
            a, b = fn(deepdive.tensor([2.5])), fn(torch.tensor([2.5]))
            assert np.isnan(a.numpy()).all() and np.isnan(b.numpy()).all() and a.shape == b.shape
    with pytest.warns(UserWarning, match="degrees of freedom is <= 0"):
        deepdive.tensor([1.0, 2.0]).var(correction=2)


def test_std_of_constant_has_zero_gradient():
    x = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]])
    for fn in [lambda t: t.std(1), lambda t: t.std(1, correction=0), lambda t: t.std(0, correction=0)]:
        check_parity(fn, fn, [x])
    check_parity(lambda t: t.std(correction=0), lambda t: t.std(correction=0), [np.array([0.5])])


def test_huge_values_logsumexp():
    torch = require_torch()
    x = np.array([[1e4, 1e4, -1e4], [-1e4, -1e4, -1e4], [-np.inf, -np.inf, -np.inf], [np.inf, 0.0, 1.0]],
                 dtype=np.float32)
    out = deepdive.tensor(x).logsumexp(1).numpy()
    ref = torch.tensor(x).logsumexp(1).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-6)
    assert np.isfinite(out[:2]).all()
    check_parity(lambda t: t.logsumexp(1), lambda t: t.logsumexp(1), [x[:2]])
    check_parity(lambda t: deepdive.logsumexp(t, 0), lambda t: torch.logsumexp(t, 0), [np.array([1, 2, 3])])


def test_empty_reductions():
    torch = require_torch()
    e = np.zeros((0, 3), dtype=np.float32)
    for fn in [lambda t: t.sum(0), lambda t: t.sum(), lambda t: t.max(1), lambda t: t.amax(1), lambda t: t.logsumexp(0),
               lambda t: t.amin(1, keepdim=True)]:
        check_parity(fn, fn, [e])
    for op in ["max", "amax", "min", "amin"]:
        with pytest.raises(RuntimeError, match=rf"{op}\(\): Expected reduction dim to be specified"):
            getattr(deepdive.tensor(e), op)()
    with pytest.raises(IndexError, match=r"max\(\): Expected reduction dim 0 to have non-zero size"):
        deepdive.tensor(e).max(0)
    with pytest.raises(IndexError, match=r"argmax\(\): Expected reduction dim to be specified"):
        deepdive.tensor(e).argmax()
    for fn in [lambda t: t.mean(0), lambda t: t.var(1), lambda t: t.prod(0), lambda t: t.norm(dim=0),
               lambda t: t.cumsum(0), lambda t: t.std()]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_parity(fn, fn, [e])


ZERO_D = {
    "sum(0)": lambda t: t.sum(0), "sum(-1, keepdim)": lambda t: t.sum(-1, keepdim=True), "mean(0)": lambda t: t.mean(0),
    "std(0, correction=0)": lambda t: t.std(0, correction=0), "amax(0)": lambda t: t.amax(0),
    "max(0)": lambda t: t.max(0),
    "max()": lambda t: t.max(), "logsumexp(0)": lambda t: t.logsumexp(0), "prod(0)": lambda t: t.prod(0),
    "norm(dim=0)": lambda t: t.norm(dim=0), "cumsum(0)": lambda t: t.cumsum(0), "cumprod(0)": lambda t: t.cumprod(0),
    "min(-1)": lambda t: t.min(-1), "sum((0,))": lambda t: t.sum((0,)),
}


@pytest.mark.parametrize("name", ZERO_D)
def test_zero_dim_inputs(name):
    check_parity(ZERO_D[name], ZERO_D[name], [np.array(2.5)])


def test_bad_dims_and_dtypes():
    x = deepdive.ones(2, 3)
    for call in [lambda: x.sum(2), lambda: x.max(-3), lambda: x.var(5), lambda: x.amax((0, 2)),
                 lambda: x.logsumexp(3), lambda: x.std(-4)]:
        with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\]"):
            call()
    with pytest.raises(RuntimeError, match="std and var only support floating point"):
        deepdive.tensor([1, 2]).var()
    with pytest.raises(RuntimeError, match="can't specify both unbiased and correction"):
        x.var(0, True, correction=1)


try:
    from hypothesis import given, settings, strategies as st
except ImportError:          # pragma: no cover
    given = None


if given is not None:
    @st.composite
    def array_and_dim(draw):
        shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
        dim = draw(st.integers(-len(shape), len(shape) - 1))
        seed = draw(st.integers(0, 2 ** 16))
        return np.random.default_rng(seed).standard_normal(shape), dim, draw(st.booleans())

    @settings(max_examples=25, deadline=None)
    @given(array_and_dim(), st.sampled_from(["sum", "mean", "var", "std", "amax", "amin", "logsumexp", "max", "min"]))
    def test_property_random_shapes(case, name):
        x, dim, keepdim = case
        if name in ("var", "std") and x.shape[dim] == 1:
            dim = None
        fn = _call(None, name, dim, keepdim, **({"correction": 0} if name in ("var", "std") else {}))
        if name == "logsumexp" and dim is None:
            fn = _call(None, name, tuple(range(x.ndim)), keepdim)
        check_parity(fn, fn, [x])


# ------------------------------------------------------------------ prod
@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (1, True), (-1, False), (-3, True)])
def test_prod_parity_and_gradcheck(dim, keepdim):
    x = rng.uniform(0.5, 1.5, (2, 3, 4)) * rng.choice([-1, 1], (2, 3, 4))
    fn = (lambda t: t.prod()) if dim is None else (lambda t: t.prod(dim, keepdim=keepdim))
    check_parity(fn, fn, [x.astype(np.float32)])
    gradcheck(fn, x[:, :2, :2])


@pytest.mark.parametrize("zeros", [[(0, 1)], [(0, 1), (1, 2)], [(0, 0), (0, 2)], [(1, 0), (1, 1), (1, 2)]])
def test_prod_backward_with_zeros(zeros):
    x = rng.uniform(0.5, 2, (2, 3))
    for i, j in zeros:
        x[i, j] = 0.0
    for fn in [lambda t: t.prod(), lambda t: t.prod(1), lambda t: t.prod(0, keepdim=True)]:
        check_parity(fn, fn, [x])
        gradcheck(fn, x)


def test_prod_dtypes():
    torch = require_torch()
    check_parity(lambda t: t.prod(0), lambda t: t.prod(0), [np.array([[1, 2], [3, 4]], dtype=np.int32)])
    check_parity(lambda t: t.sum(0), lambda t: t.sum(0), [np.array([[1, 2], [3, 4]], dtype=np.int32)])
    check_parity(lambda t: t.sum(), lambda t: t.sum(), [np.array([True, True])])
    check_parity(lambda t: deepdive.prod(t), lambda t: torch.prod(t), [np.array([True, True])])
    check_parity(lambda t: t.prod(dtype=deepdive.float64), lambda t: t.prod(dtype=torch.float64),
                 [np.array([1.5, 2.0], dtype=np.float32)])


# ------------------------------------------------------------------ norm
@pytest.mark.parametrize("p", [2, 1, 3, 0.5, float("inf"), -float("inf"), "fro", 0])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (1, False), (-1, True), ((0, 2), False)])
def test_norm_parity(p, dim, keepdim):
    x = rng.standard_normal((2, 3, 4))
    if p == "fro" and isinstance(dim, int):
        dim = (dim,)
    fn = lambda t: t.norm(p, dim, keepdim)                     # noqa: E731
    check_parity(fn, fn, [x.astype(np.float32)])
    check_parity(fn, fn, [x])
    if p != 0:
        gradcheck(fn, x[:, :2, :3])


def test_norm_at_zero_has_zero_gradient_and_ties():
    x = np.zeros((2, 3))
    x[1] = [3.0, -3.0, 1.0]
    for p in [2, 1, 3, float("inf"), -float("inf"), "fro"]:
        check_parity(lambda t: t.norm(p, 1), lambda t: t.norm(p, 1), [x])
        check_parity(lambda t: t.norm(p), lambda t: t.norm(p), [x * 0])


def test_norm_errors_and_functional_form():
    torch = require_torch()
    x = rng.standard_normal((3, 4))
    check_parity(lambda t: deepdive.norm(t, dim=1), lambda t: torch.norm(t, dim=1), [x])
    check_parity(lambda t: t.norm(dtype=deepdive.float64), lambda t: t.norm(dtype=torch.float64),
                 [x.astype(np.float32)])
    with pytest.raises(RuntimeError, match="Expected a floating point or complex tensor as input. Got Long"):
        deepdive.tensor([1, 2]).norm()
    with pytest.raises(IndexError, match=r"Dimension out of range"):
        deepdive.ones(2, 3).norm(dim=2)


# ------------------------------------------------------- cumsum, cumprod
@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@pytest.mark.parametrize("dim", [0, 1, -1, -3])
def test_cumulative(name, dim):
    x = rng.uniform(0.5, 1.5, (2, 3, 4)) * rng.choice([-1, 1], (2, 3, 4))
    fn = lambda t: getattr(t, name)(dim)                  # noqa: E731
    check_parity(fn, fn, [x.astype(np.float32)])
    check_parity(fn, fn, [x])
    gradcheck(fn, x[:, :2, :3])


def test_cumprod_backward_with_zeros():
    x = rng.uniform(0.5, 2, (4, 5))
    x[0, 0] = 0.0
    x[1, 2] = 0.0
    x[2, 1] = x[2, 3] = 0.0
    x[3, 4] = 0.0
    for dim in [0, 1]:
        check_parity(lambda t: t.cumprod(dim), lambda t: t.cumprod(dim), [x])
        gradcheck(lambda t: t.cumprod(dim), x)


def test_cumulative_dtypes_and_scalars():
    torch = require_torch()
    for arr in [np.array([1, 2, 3], dtype=np.int32), np.array([True, False, True]), np.array(2.5)]:
        for name in ["cumsum", "cumprod"]:
            check_parity(lambda t: getattr(t, name)(0), lambda t: getattr(t, name)(0), [arr])
    check_parity(lambda t: torch_or_dd(t).cumsum(t, 0, dtype=_dt(t)), lambda t: torch.cumsum(t, 0, dtype=torch.float64),
                 [np.array([1.0, 2.0], dtype=np.float32)])


def torch_or_dd(t):
    return deepdive


def _dt(t):
    return deepdive.float64


# ------------------------------------------------------ argmax, all, any
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin(name):
    torch = require_torch()
    x = np.array([[1.0, 5.0, 5.0], [-2.0, -2.0, 0.0]], dtype=np.float32)
    for args, kw in [((), {}), ((1,), {}), ((0,), {"keepdim": True}), ((-1,), {"keepdim": False}),
                     ((), {"keepdim": True})]:
        a = getattr(deepdive.tensor(x), name)(*args, **kw)
        b = getattr(torch.tensor(x), name)(*args, **kw)
        assert a.dtype == deepdive.int64 and a.shape == tuple(b.shape)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(IndexError, match="Dimension out of range"):
        getattr(deepdive.tensor(x), name)(2)


@pytest.mark.parametrize("name", ["all", "any"])
def test_all_any(name):
    torch = require_torch()
    for arr in [np.array([[1, 0, 2], [3, 4, 5]]), np.array([[True, False], [True, True]]),
                np.array([[0.0, 1.0], [2.0, 3.0]], dtype=np.float32), np.array([[1, 0], [1, 1]], dtype=np.uint8),
                np.zeros((0, 2))]:
        for args, kw in [((), {}), ((0,), {}), ((1,), {"keepdim": True}), (((0, 1),), {}), ((-1,), {})]:
            a = getattr(deepdive.tensor(arr), name)(*args, **kw)
            b = getattr(torch.tensor(arr), name)(*args, **kw)
            assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_count_nonzero():
    torch = require_torch()
    arr = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 5.0]])
    for args in [(), (0,), (-1,), ((0, 1),)]:
        a, b = deepdive.tensor(arr).count_nonzero(*args), torch.tensor(arr).count_nonzero(*args)
        assert a.dtype == deepdive.int64
        np.testing.assert_array_equal(a.numpy(), b.numpy())


# --------------------------------------------- cummax/cummin, aminmax, nan*
@pytest.mark.parametrize("name", ["cummax", "cummin"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cummax_cummin(name, dim):
    torch = require_torch()
    x = rng.integers(-2, 3, (3, 5)).astype(np.float64)        # ties: the index moves to the latest
    fn = lambda t: getattr(t, name)(dim)                     # noqa: E731
    a, b = fn(deepdive.tensor(x)), fn(torch.tensor(x))
    assert type(a).__name__ == name
    np.testing.assert_array_equal(a.indices.numpy(), b.indices.numpy())
    check_parity(fn, fn, [x])
    gradcheck(lambda t: fn(t).values, rng.standard_normal((3, 4)))
    n = np.array([1.0, np.nan, 0.0, 3.0])
    a, b = getattr(deepdive.tensor(n), name)(0), getattr(torch.tensor(n), name)(0)
    np.testing.assert_array_equal(a.indices.numpy(), b.indices.numpy())
    np.testing.assert_array_equal(a.values.numpy(), b.values.numpy())
    check_parity(lambda t: getattr(t, name)(0), lambda t: getattr(t, name)(0), [np.array([3, 1, 4], dtype=np.int64)])


def test_aminmax():
    torch = require_torch()
    x = rng.standard_normal((3, 4))
    for kw in [{}, {"dim": 1}, {"dim": 0, "keepdim": True}]:
        check_parity(lambda t: deepdive.aminmax(t, **kw), lambda t: torch.aminmax(t, **kw), [x])
        out = deepdive.aminmax(deepdive.tensor(x), **kw)
        assert out.min is out[0] and out.max is out[1]


def test_nansum_nanmean():
    torch = require_torch()
    x = rng.standard_normal((3, 4))
    x[0, 1] = x[2, 3] = np.nan
    x[1] = np.nan
    for fn in [lambda t: t.nansum(), lambda t: t.nansum(1), lambda t: t.nanmean(0),
               lambda t: t.nanmean(1, keepdim=True)]:
        with np.errstate(all="ignore"):
            check_parity(fn, fn, [x])
    check_parity(lambda t: t.nansum(), lambda t: t.nansum(), [np.array([1, 2])])
    with pytest.raises(RuntimeError, match="nanmean\\(\\): expected input to have floating point"):
        deepdive.tensor([1, 2]).nanmean()
