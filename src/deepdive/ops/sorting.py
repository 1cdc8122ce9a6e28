"""Sorting and selection: sort, argsort, topk, median, kthvalue.

The values these return are differentiable: each is an element of the input
picked by an index, so the gradient is scattered back to that index
(``SelectAlong`` in reduction.py). The indices are plain int64 tensors.
"""
import numpy as np

from ..tensor import _wrap
from ._util import canonical_dim
from .reduction import SelectAlong, ReduceExtreme, return_type, along, _check_nonempty

__all__ = ["sort", "argsort", "msort", "topk", "median", "kthvalue"]
METHODS = ["sort", "argsort", "msort", "topk", "median", "kthvalue"]

sort_type, topk_type = return_type("sort"), return_type("topk")
median_type, kthvalue_type = return_type("median"), return_type("kthvalue")


def _argsort(x, dim, descending):
    """Stable argsort along ``dim``; NaN counts as the largest value, like PyTorch.

    NOTE: descending order is an ascending stable sort of the reversed array, reversed
    back: equal elements then keep their original order (``-x`` would overflow for the
    smallest integer and would move NaN to the wrong end).
    """
    if not descending:
        return np.argsort(x, axis=dim, kind="stable")
    n = x.shape[dim]
    flipped = np.argsort(np.flip(x, dim), axis=dim, kind="stable")
    return np.ascontiguousarray(np.flip(n - 1 - flipped, dim))


def _dim_of(op, input, dim):
    """Canonical dim, with 0-d inputs seen as 1-element vectors (returns the reshaped input too)."""
    d = canonical_dim(int(dim), input._data.ndim, op)
    return (input.reshape(1), 0, True) if input._data.ndim == 0 else (input, d, False)


def _result(result_type, input, index, d, scalar, keepdim=True):
    """(values, indices) for ``index`` (keepdim form) along ``d``, squeezed unless ``keepdim``."""
    keep = keepdim and not scalar
    index = np.ascontiguousarray(index)        # a slice of a sort is a strided view; PyTorch returns contiguous
    values = SelectAlong.apply(input, index, d, keep)
    return result_type(values, _wrap(index if keep else index.squeeze(d)))


def sort(input, dim=-1, descending=False, stable=False):
    """Sort along ``dim``: a named tuple ``(values, indices)``. Always stable (``stable`` is accepted for
    PyTorch compatibility); NaN sorts as the largest value."""
    input, d, scalar = _dim_of("sort", input, dim)
    index = _argsort(input._data, d, descending)
    return _result(sort_type, input, index, d, scalar)


def argsort(input, dim=-1, descending=False, stable=False):
    """The indices that sort ``input`` along ``dim`` (stable); no values are gathered."""
    input, d, scalar = _dim_of("argsort", input, dim)
    index = _argsort(input._data, d, descending)
    return _wrap(index.reshape(()) if scalar else index)


def msort(input):
    """``sort(input, dim=0).values``."""
    return sort(input, 0).values


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (or smallest) elements along ``dim``: a named tuple ``(values, indices)``.

    Long dims use a partial sort (``argpartition``, O(n)) and then sort only the k picked
    elements; short ones (or large k) a full stable sort, which is cheaper there.
    """
    input, d, scalar = _dim_of("topk", input, dim)
    x = input._data
    n = x.shape[d]
    k = int(k)
    if not 0 <= k <= n:
        raise RuntimeError(f"selected index k out of range (topk: k = {k}, but dim {dim} has size {n})")
    head = (slice(None),) * d
    if n <= 128 or 4 * k >= n:
        index = _argsort(x, d, largest)[head + (slice(0, k),)]
    else:
        part = np.argpartition(x, n - k if largest else k - 1, axis=d)
        index = part[head + ((slice(n - k, n) if largest else slice(0, k)),)]
        if sorted:
            index = index[along(_argsort(x[along(index, d)], d, largest), d)]
    return _result(topk_type, input, index, d, scalar)


def kthvalue(input, k, dim=-1, keepdim=False):
    """The k-th smallest element (1-based) along ``dim``: a named tuple ``(values, indices)``."""
    input, d, scalar = _dim_of("kthvalue", input, dim)
    _check_nonempty("kthvalue", input._data, (d,), True)
    n = input._data.shape[d]
    if not 1 <= int(k) <= n:
        raise IndexError(f"kthvalue(): selected number k out of range for dimension {dim} (k = {k}, size {n})")
    index = np.take(_argsort(input._data, d, False), [int(k) - 1], axis=d)
    return _result(kthvalue_type, input, index, d, scalar, keepdim)


def _lower_median(x, axis=None, keepdims=False):
    """The lower of the two middle values of all of x (PyTorch's median, not the mean of the two);
    NaN if x has a NaN or no elements. ``axis`` is always all axes here."""
    flat = x.reshape(-1)
    if flat.size == 0 or np.isnan(flat).any():
        value = np.nan
    else:
        value = np.partition(flat, (flat.size - 1) // 2)[(flat.size - 1) // 2]
    return np.asarray(value, dtype=x.dtype).reshape((1,) * x.ndim if keepdims else ())


def median(input, dim=None, keepdim=False):
    """``median(input)``: the lower median of all elements (0-d; gradient split among equal elements).
    ``median(input, dim, keepdim=False)``: a named tuple ``(values, indices)``; NaN propagates."""
    if dim is None:
        return ReduceExtreme.apply(input, tuple(range(input._data.ndim)), False, _lower_median, True)
    input, d, scalar = _dim_of("median", input, dim)
    x = input._data
    _check_nonempty("median", x, (d,), True)
    index = np.take(_argsort(x, d, False), [(x.shape[d] - 1) // 2], axis=d)
    nan = np.isnan(x) if x.dtype.kind == "f" else None
    if nan is not None and nan.any():       # a slice with NaN has median NaN, at its first NaN
        has_nan = nan.any(axis=d, keepdims=True)
        index = np.where(has_nan, np.argmax(nan, axis=d, keepdims=True), index)
    return _result(median_type, input, index, d, scalar, keepdim)
