"""sort / argsort / topk / median / kthvalue: values+indices against PyTorch, gradients, stability, errors."""
import numpy as np
import pytest

import deepdive
from parity import check_parity, gradcheck, require_torch

rng = np.random.default_rng(0)


def _same(a, b):
    """Named-tuple results agree in type name, values (and dtype) and indices."""
    assert type(a).__name__ == type(b).__name__.split(".")[-1]
    np.testing.assert_allclose(a.values.numpy(force=True), b.values.detach().numpy(), rtol=1e-6)
    assert str(a.values.dtype).split(".")[-1] == str(b.values.dtype).split(".")[-1]
    assert a.indices.dtype == deepdive.int64
    np.testing.assert_array_equal(a.indices.numpy(), b.indices.numpy())


@pytest.mark.parametrize("dim", [0, 1, -1, -3])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_parity(dim, descending):
    torch = require_torch()
    x = rng.standard_normal((2, 3, 4))
    fn = lambda t: t.sort(dim, descending=descending)            # noqa: E731
    check_parity(fn, fn, [x])
    check_parity(fn, fn, [x.astype(np.float32)])
    _same(fn(deepdive.tensor(x)), fn(torch.tensor(x)))
    gradcheck(lambda t: t.sort(dim, descending=descending).values, x)
    a = deepdive.argsort(deepdive.tensor(x), dim, descending)
    np.testing.assert_array_equal(a.numpy(), torch.argsort(torch.tensor(x), dim, descending).numpy())


def test_sort_is_stable_with_ties_nan_and_ints():
    torch = require_torch()
    x = np.array([[3.0, 1.0, 3.0, np.nan, 1.0, 2.0, 3.0], [0.0, 0.0, -0.0, 5.0, 5.0, np.nan, np.nan]], dtype=np.float32)
    for descending in [False, True]:
        _same(deepdive.tensor(x).sort(dim=1, descending=descending, stable=True),
              torch.tensor(x).sort(dim=1, descending=descending, stable=True))
    i = np.array([[3, -9223372036854775808, 3, 7, 7]], dtype=np.int64)
    for descending in [False, True]:
        _same(deepdive.tensor(i).sort(descending=descending, stable=True),
              torch.tensor(i).sort(descending=descending, stable=True))
    ties = np.array([[2.0, 1.0, 2.0, 1.0]])
    check_parity(lambda t: t.sort(1, descending=True).values,
                 lambda t: t.sort(dim=1, descending=True, stable=True).values,
                 [ties])


@pytest.mark.parametrize("k", [1, 2, 4])
@pytest.mark.parametrize("dim", [0, -1, 1])
@pytest.mark.parametrize("largest", [True, False])
def test_topk_parity(k, dim, largest):
    torch = require_torch()
    x = rng.standard_normal((4, 5, 4))
    fn = lambda t: t.topk(k, dim, largest=largest)               # noqa: E731
    _same(fn(deepdive.tensor(x)), fn(torch.tensor(x)))
    check_parity(fn, fn, [x.astype(np.float32)])
    gradcheck(lambda t: t.topk(k, dim, largest).values, x[:2, :3, :4] if k <= 2 else x[:, :, :])


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("dim", [0, -1])
def test_topk_long_dim_partial_sort(largest, dim):
    """Long dims take the argpartition path."""
    torch = require_torch()
    x = rng.standard_normal((300, 300) if dim == 0 else (3, 1000)).astype(np.float32)
    fn = lambda t: t.topk(7, dim, largest=largest)              # noqa: E731
    _same(fn(deepdive.tensor(x)), fn(torch.tensor(x)))
    check_parity(fn, fn, [x])
    vals, idx = deepdive.tensor(x).topk(7, dim, largest, sorted=False)
    ref = torch.tensor(x).topk(7, dim, largest).values.numpy()
    np.testing.assert_allclose(np.sort(vals.numpy(), dim), np.sort(ref, dim))
    np.testing.assert_array_equal(np.take_along_axis(x, idx.numpy(), dim), vals.numpy())


def test_results_are_contiguous():
    x = deepdive.tensor(rng.standard_normal((3, 6)))
    for res in [x.sort(1, descending=True), x.topk(2), x.topk(2, 0, largest=False), x.kthvalue(2, 1), x.median(0)]:
        assert res.values.is_contiguous() and res.indices.is_contiguous()
    assert x.argsort(0, descending=True).is_contiguous()


def test_topk_unsorted_and_edge_cases():
    torch = require_torch()
    x = rng.standard_normal((3, 6))
    vals, idx = deepdive.tensor(x).topk(3, sorted=False)
    ref = torch.tensor(x).topk(3).values.numpy()
    np.testing.assert_allclose(np.sort(vals.numpy(), 1)[:, ::-1], ref)
    np.testing.assert_allclose(np.take_along_axis(x, idx.numpy(), 1), vals.numpy())
    _same(deepdive.tensor(x).topk(6), torch.tensor(x).topk(6))
    _same(deepdive.tensor(x).topk(0), torch.tensor(x).topk(0))
    _same(deepdive.tensor(2.0).topk(1), torch.tensor(2.0).topk(1))
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        deepdive.ones(3).topk(4)
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"):
        deepdive.ones(2, 3).topk(1, 2)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_median_and_kthvalue_with_dim(dim, keepdim):
    torch = require_torch()
    x = rng.standard_normal((4, 5, 3))
    for fn in [lambda t: t.median(dim, keepdim), lambda t: t.kthvalue(2, dim, keepdim)]:
        _same(fn(deepdive.tensor(x)), fn(torch.tensor(x)))
        check_parity(fn, fn, [x.astype(np.float32)])
        gradcheck(lambda t: fn(t).values, x[:2, :3, :2])


def test_median_full_lower_median_and_ties():
    torch = require_torch()
    for arr in [np.array([3.0, 1.0, 2.0, 2.0]), np.array([[4.0, 1.0], [3.0, 2.0]]), np.array([5.0])]:
        out = check_parity(lambda t: t.median(), lambda t: t.median(), [arr])
        assert out[0].ndim == 0
    gradcheck(lambda t: t.median(), rng.standard_normal((3, 3)))


def test_median_nan_propagates():
    torch = require_torch()
    x = np.array([[3.0, 1.0, np.nan, 2.0, np.nan], [1.0, 2.0, 3.0, 4.0, 5.0]], dtype=np.float32)
    _same(deepdive.tensor(x).median(1), torch.tensor(x).median(1))
    assert np.isnan(deepdive.tensor(x).median().item())


def test_sort_empty_and_errors():
    torch = require_torch()
    e = np.zeros((0, 3), dtype=np.float32)
    _same(deepdive.tensor(e).sort(0), torch.tensor(e).sort(0))
    _same(deepdive.tensor(e).topk(0, 0), torch.tensor(e).topk(0, 0))
    with pytest.raises(IndexError, match="median"):
        deepdive.tensor(e).median(0)
    assert np.isnan(deepdive.tensor(e).median().item()) and np.isnan(torch.tensor(e).median().item())
    with pytest.raises(IndexError, match=r"kthvalue\(\): Expected reduction dim 1 to have non-zero size"):
        deepdive.zeros(3, 0).kthvalue(1, 1)
    with pytest.raises(IndexError, match=r"Dimension out of range"):
        deepdive.ones(2).sort(1)
    check_parity(lambda t: deepdive.msort(t), lambda t: torch.msort(t), [rng.standard_normal((3, 2))])


try:
    from hypothesis import given, settings, strategies as st
except ImportError:          # pragma: no cover
    given = None


if given is not None:
    @st.composite
    def array_and_dim(draw):
        shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=3)))
        seed = draw(st.integers(0, 2 ** 16))
        # small integers as floats: plenty of ties, which stable sorting must order like PyTorch
        x = np.random.default_rng(seed).integers(-3, 4, shape).astype(np.float64)
        return x, draw(st.integers(-len(shape), len(shape) - 1))

    @settings(max_examples=25, deadline=None)
    @given(array_and_dim(), st.booleans())
    def test_property_stable_sort_matches_torch(case, descending):
        torch = require_torch()
        x, dim = case
        _same(deepdive.tensor(x).sort(dim=dim, descending=descending, stable=True),
              torch.tensor(x).sort(dim=dim, descending=descending, stable=True))
        check_parity(lambda t: t.sort(dim=dim, descending=descending, stable=True).values,
                     lambda t: t.sort(dim=dim, descending=descending, stable=True).values, [x])
