"""Indexing: ``x[...]`` (basic, negative, ellipsis, integer tensors, boolean masks) and ``x[...] = v``."""
import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor, _wrap
from .shape import as_view
from .joining import index_add_along

__all__ = []
METHODS = ["__getitem__", "__setitem__"]


def _convert_index(index):
    """Tensors and lists inside an index become NumPy arrays; returns (index, is_advanced)."""
    if isinstance(index, list) and any(isinstance(i, (list, tuple, Tensor, slice)) or i is None or i is Ellipsis
                                       for i in index):
        index = tuple(index)        # PyTorch (like old NumPy) reads x[[[0, 1], [1, 0]]] as x[[0, 1], [1, 0]]
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    advanced = False
    for item in index:
        if isinstance(item, Tensor):
            item = item._data
            if item.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        elif isinstance(item, list):
            item = np.asarray(item) if item else np.zeros(0, dtype=np.int64)
            if item.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        if isinstance(item, np.ndarray):
            if item.dtype == np.uint8:
                item = item.astype(bool)
            if item.ndim == 0 and item.dtype.kind in "iu":
                item = int(item)
            else:
                advanced = True
        out.append(item)
    return tuple(out), advanced


class GetItem(Function):
    """y = x[index].   Backward: dx = zeros with g scattered back into x[index].

    Advanced (integer-array) indices may repeat an element; ``np.add.at``
    accumulates the gradient of every repeat instead of keeping only the last.
    """

    @staticmethod
    def forward(ctx, x, index, advanced):
        ctx.in_shape, ctx.dtype, ctx.index, ctx.advanced = x.shape, x.dtype, index, advanced
        return x[index]

    @staticmethod
    def backward(ctx, grad):
        dx = np.zeros(ctx.in_shape, dtype=grad.dtype)
        index = ctx.index
        if not ctx.advanced:
            dx[index] = grad
        elif len(index) == 1 and index[0].__class__ is np.ndarray and index[0].dtype.kind in "iu":
            # x[idx] (embedding-style rows): a sorted reduction beats np.add.at
            rows = index[0].reshape(-1) % ctx.in_shape[0]
            index_add_along(dx, 0, rows, grad.reshape((rows.size,) + ctx.in_shape[1:]))
        elif len(index) == 1 and index[0].__class__ is np.ndarray and index[0].dtype == np.bool_:
            dx[index] = grad            # a mask selects each element at most once
        else:
            np.add.at(dx, index, grad)
        return dx, None, None


class Index(GetItem):
    """``GetItem`` with integer-array or mask indices (PyTorch's IndexBackward0)."""


class Select(GetItem):
    """``GetItem`` with an integer among basic indices (PyTorch's SelectBackward0)."""


class Slice(GetItem):
    """``GetItem`` with slices / None / Ellipsis only (PyTorch's SliceBackward0)."""


def __getitem__(self, index):
    kind = index.__class__
    # NOTE: a trailing Ellipsis makes NumPy return a 0-d *view* where x[0, 1] would give a detached scalar,
    # so x[0, 1].fill_(3) changes x, as in PyTorch.
    if kind is int:                        # x[0]: the common case, no conversion needed
        idx, advanced, op = (index, Ellipsis), False, Select
    elif kind is slice:
        idx, advanced, op = index, False, Slice
    else:
        idx, advanced = _convert_index(index)
        if advanced:
            op = Index
        elif any(i.__class__ is int for i in idx):
            op = Select
            if Ellipsis not in idx:
                idx = idx + (Ellipsis,)
        else:
            op = Slice
    try:
        out = op.apply(self, idx, advanced)
        return out if advanced else as_view(out, self)
    except IndexError as e:
        # NumPy says "index 5 is out of bounds for axis 0 with size 2"; PyTorch says "dimension".
        raise IndexError(f"{str(e).replace('axis', 'dimension')} (indexing a tensor of shape "
                         f"{list(self.shape)} with {index!r})") from None


class SetItem(Function):
    """z = x with z[index] = v.   Backward: dx = g with g[index] = 0,  dv = g[index] (summed to v's shape)."""

    @staticmethod
    def forward(ctx, x, v, index):
        ctx.index, ctx.v_shape = index, np.shape(v)
        z = x.copy()
        z[index] = v
        return z

    @staticmethod
    def backward(ctx, grad):
        from ._util import unbroadcast
        dx = dv = None
        if ctx.needs_input_grad[0]:
            dx = grad.copy()
            dx[ctx.index] = 0
        if ctx.needs_input_grad[1]:
            dv = np.asarray(grad[ctx.index])
            if dv.ndim < len(ctx.v_shape):     # NumPy (and PyTorch) let v carry extra leading 1s
                dv = dv.reshape((1,) * (len(ctx.v_shape) - dv.ndim) + dv.shape)
            dv = unbroadcast(dv, ctx.v_shape)
        return dx, dv, None


def __setitem__(self, index, value):
    """``x[index] = value`` in place; recorded in the graph when x or value requires grad."""
    from .inplace import check_inplace, rebase
    idx, _ = _convert_index(index)
    value_t = value if isinstance(value, Tensor) else None
    from ..autograd.grad_mode import STATE
    if STATE.enabled and (self.requires_grad or (value_t is not None and value_t.requires_grad)):
        check_inplace(self, "__setitem__")
        if value_t is None:
            value_t = _wrap(np.asarray(value, dtype=self._data.dtype))
        elif value_t._data.dtype != self._data.dtype:
            value_t = value_t.to(self.dtype)
        original = rebase.source(self)
        rebase(self, SetItem.apply(original, value_t, idx))
        return
    try:
        self._data[idx] = value._data if value_t is not None else value
    except ValueError as e:
        raise RuntimeError(f"__setitem__: shape mismatch: value of shape {list(np.shape(value))} cannot be "
                           f"broadcast to the indexed part of a tensor of shape {list(self.shape)} ({e})") from None
    self._version_counter[0] += 1
