"""Indexing: ``x[...]`` and ``x[...] = v``, and the ops driven by index tensors and masks.

``x[...]`` covers basic, negative, ellipsis, None, integer-tensor and boolean-mask
indices; then gather/scatter (and scatter_add / scatter_reduce), index_select /
index_add / index_fill / index_copy / index_put, take / put, masked_fill /
masked_select / masked_scatter, nonzero and unique. Where one element is read
several times (repeated indices) its gradients are summed (a scatter-add).
"""
import numpy as np

from .. import _dtype
from ..autograd.function import Function, guard_saved_index
from ..tensor import Tensor, _wrap, _TENSOR_TYPES
from ._util import broadcast_error, canonical_dim, unbroadcast, linear_backward
from .shape import as_view

__all__ = ["gather", "scatter", "scatter_add", "scatter_reduce", "index_select", "index_add", "index_fill",
           "index_copy", "index_put", "put", "take", "take_along_dim", "masked_fill", "masked_select",
           "masked_scatter", "nonzero", "argwhere", "unique"]
METHODS = ["__getitem__", "__setitem__", "gather", "scatter", "scatter_add", "scatter_reduce", "scatter_",
           "scatter_add_", "scatter_reduce_", "index_select", "index_add", "index_add_", "index_fill", "index_fill_",
           "index_copy", "index_copy_", "index_put", "index_put_", "put", "put_", "take", "take_along_dim",
           "masked_fill", "masked_select", "masked_scatter", "masked_scatter_", "nonzero", "argwhere", "unique"]


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


def _ints_first(idx):
    """An advanced index with integers in it, where each item takes one dim (no None, Ellipsis or masks)."""
    return (any(i.__class__ is int for i in idx)
            and all(i.__class__ in (int, slice) or (i.__class__ is np.ndarray and i.dtype.kind in "iu") for i in idx))


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

    @staticmethod
    def graph_backward(ctx, grad):
        return linear_backward(ctx, grad, lambda g: type(ctx).apply(g, ctx.index, ctx.advanced)), None, None


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
        if advanced and _ints_first(idx):
            # PyTorch selects integer dims before advanced indexing, so x[0, :, idx] is (C, len(idx)); NumPy
            # counts the integer as an advanced index separated by a slice, and moves the block first.
            return self[tuple(i if i.__class__ is int else slice(None) for i in idx)][
                tuple(i for i in idx if i.__class__ is not int)]
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
            dx = np.array(grad)         # an array even for a 0-d grad (a NumPy scalar has no item assignment)
            dx[ctx.index] = 0
        if ctx.needs_input_grad[1]:
            dv = np.asarray(grad[ctx.index])
            if dv.ndim < len(ctx.v_shape):     # NumPy (and PyTorch) let v carry extra leading 1s
                dv = dv.reshape((1,) * (len(ctx.v_shape) - dv.ndim) + dv.shape)
            dv = unbroadcast(dv, ctx.v_shape)
        return dx, dv, None

    @staticmethod
    def graph_backward(ctx, grad):
        dx = dv = None
        if ctx.needs_input_grad[0]:
            dx = SetItem.apply(grad, np.zeros((), grad._data.dtype), ctx.index)     # the same write, of zeros
        if ctx.needs_input_grad[1]:
            dv = _read(grad, ctx.index)
            if dv.ndim < len(ctx.v_shape):
                dv = dv.reshape((1,) * (len(ctx.v_shape) - dv.ndim) + tuple(dv.shape))
            dv = unbroadcast(dv, ctx.v_shape)
        return dx, dv, None


def _read(t, index):
    """``t[index]`` with NumPy's reading of ``index`` (as the ops' NumPy backward reads it), recorded."""
    index = index if index.__class__ is tuple else (index,)
    advanced = any(i.__class__ is np.ndarray for i in index)
    return (Index if advanced else Slice).apply(t, index, advanced)


def _pad_to_graph(t, shape):
    """``_pad_to`` on Tensors: ``t`` in the leading corner of zeros of ``shape``, recorded."""
    if tuple(t.shape) == tuple(shape):
        return t
    return SetItem.apply(_wrap(np.zeros(shape, t._data.dtype)), t, tuple(slice(0, s) for s in t.shape))


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
        if not self._data.flags.writeable:
            # NOTE: PyTorch writes through an expand()ed tensor here, changing every element that shares the
            # memory (its in-place ops refuse with this same message); deepdive refuses for every write.
            raise RuntimeError("__setitem__: unsupported operation: more than one element of the written-to tensor "
                               "refers to a single memory location. Please clone() the tensor before performing "
                               f"the operation (tensor of shape {list(self.shape)})") from None
        raise RuntimeError(f"__setitem__: shape mismatch: value of shape {list(np.shape(value))} cannot be "
                           f"broadcast to the indexed part of a tensor of shape {list(self.shape)} ({e})") from None
    self._version_counter[0] += 1


# ------------------------------------------------------------- index-driven ops
def _index_array(index, op, dtypes="iu"):
    """The NumPy array of an index Tensor / list, checked to be integral."""
    arr = index._data if index.__class__ in _TENSOR_TYPES else np.asarray(index)
    if arr.dtype.kind not in dtypes:
        raise RuntimeError(f"{op}(): Expected dtype int64 for index (got {arr.dtype})")
    return arr


def _grid(index, dim):
    """The full NumPy index that addresses ``out[i][index[i][j]]`` (dim=1) for every position of ``index``."""
    nd = index.ndim
    return tuple(index if k == dim else np.arange(size).reshape((1,) * k + (size,) + (1,) * (nd - k - 1))
                 for k, size in enumerate(index.shape))      # an open grid (np.ogrid is 10x slower)


def _scatter_add_into(out, dim, index, src):
    """out[..., index[i], ...] += src[i] along ``dim`` (repeats accumulate); ``index``/``src`` share a shape."""
    np.add.at(out, _grid(index, dim), src)
    return out


def index_add_along(out, dim, index, src):
    """out[..., index[k], ...] += src[..., k, ...] for a 1-D ``index`` along ``dim``; repeats add up.

    NOTE: sorting the index and summing runs of equal entries with ``np.add.reduceat``
    is several times faster than ``np.add.at`` on whole rows (embedding/index_select backward).
    """
    if index.size == 0:
        return out
    order = np.argsort(index, kind="stable")
    ordered = index[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    if starts.size == index.size:          # no repeats (a permutation, a subset): plain fancy-index add
        out[(slice(None),) * dim + (index,)] += src
        return out
    sums = np.add.reduceat(np.take(src, order, axis=dim), starts, axis=dim)
    out[(slice(None),) * dim + (ordered[starts],)] += sums
    return out


def _check_index_bounds(index, size, dim, op="gather"):
    if index.size and (index.max() >= size or index.min() < 0):
        bad = index.max() if index.max() >= size else index.min()
        raise RuntimeError(f"{op}(): index {bad} is out of bounds for dimension {dim} with size {size}")


# ------------------------------------------------------------------ gather/scatter
class Gather(Function):
    """y[i][j] = x[i][index[i][j]] (for dim=1).   Backward: dx = g scatter-added back to the gathered places."""

    @staticmethod
    def forward(ctx, x, dim, index):
        # (an open grid also covers an index smaller than x along the other dims, which PyTorch allows)
        ctx.in_shape, ctx.dim, ctx.index = x.shape, dim, index
        return x[_grid(index, dim)]

    @staticmethod
    def backward(ctx, grad):
        dx = np.zeros(ctx.in_shape, dtype=grad.dtype)
        return _scatter_add_into(dx, ctx.dim, ctx.index, grad), None, None

    @staticmethod
    def graph_backward(ctx, grad):
        return linear_backward(ctx, grad, lambda g: Gather.apply(g, ctx.dim, ctx.index)), None, None


def _check_gather_shapes(op, input, dim, index, src_shape=None):
    if index.ndim != input._data.ndim and not (index.ndim <= 1 and input._data.ndim <= 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    for k, s in enumerate(index.shape):
        if k != dim and s > input._data.shape[k]:
            raise RuntimeError(f"Size does not match at dimension {k} expected index {list(index.shape)} to be no "
                               f"larger than self {list(input.shape)} apart from dimension {dim}")
        if src_shape is not None and s > src_shape[k]:
            raise RuntimeError(f"Size does not match at dimension {k} expected index {list(index.shape)} to be no "
                               f"larger than src {list(src_shape)}")
    _check_index_bounds(index, input._data.shape[dim] if input._data.ndim else 1, dim, op)


def gather(input, dim, index, *, sparse_grad=False):
    """Pick along ``dim`` by ``index``: ``out[i][j] = input[i][index[i][j]]`` for dim=1; out has index's shape."""
    idx = _index_array(index, "gather")
    d = canonical_dim(dim, input._data.ndim, "gather")
    _check_gather_shapes("gather", input, d, idx)
    if input._data.ndim == 0:
        return input.reshape(idx.shape) if idx.size else input
    return guard_saved_index(Gather.apply(input, d, idx), index)


class Scatter(Function):
    """z = x with z[i][index[i][j]] = src[i][j] (dim=1).
    Backward: dx = g with the written places zeroed,  dsrc = g gathered at index (src beyond index's shape: 0)."""

    @staticmethod
    def forward(ctx, x, dim, index, src):
        ctx.grid, ctx.src_shape = _grid(index, dim), np.shape(src)
        out = x.copy()
        if np.ndim(src):
            src = src[tuple(slice(0, s) for s in index.shape)]
        out[ctx.grid] = src
        return out

    @staticmethod
    def backward(ctx, grad):
        dx = dsrc = None
        if ctx.needs_input_grad[0]:
            dx = grad.copy()
            dx[ctx.grid] = 0
        if ctx.needs_input_grad[3]:
            dsrc = _pad_to(grad[ctx.grid], ctx.src_shape)
        return dx, None, None, dsrc

    @staticmethod
    def graph_backward(ctx, grad):
        dx = SetItem.apply(grad, np.zeros((), grad._data.dtype), ctx.grid) if ctx.needs_input_grad[0] else None
        dsrc = _pad_to_graph(_read(grad, ctx.grid), ctx.src_shape) if ctx.needs_input_grad[3] else None
        return dx, None, None, dsrc


class ScatterAdd(Function):
    """z = x;  z[i][index[i][j]] += src[i][j] (dim=1).   Backward: dx = g,  dsrc = g gathered at index."""

    @staticmethod
    def forward(ctx, x, dim, index, src):
        ctx.grid, ctx.src_shape = _grid(index, dim), src.shape
        src = src[tuple(slice(0, s) for s in index.shape)]
        return _scatter_add_into(x.copy(), dim, index, src)

    @staticmethod
    def backward(ctx, grad):
        dsrc = None
        if ctx.needs_input_grad[3]:
            dsrc = _pad_to(grad[ctx.grid], ctx.src_shape)
        return grad, None, None, dsrc

    @staticmethod
    def graph_backward(ctx, grad):
        dsrc = _pad_to_graph(_read(grad, ctx.grid), ctx.src_shape) if ctx.needs_input_grad[3] else None
        return grad, None, None, dsrc


def _pad_to(grad, shape):
    if grad.shape == tuple(shape):
        return grad
    out = np.zeros(shape, dtype=grad.dtype)
    out[tuple(slice(0, s) for s in grad.shape)] = grad
    return out


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """Write ``src`` (a tensor or a number) into ``input`` at ``index`` along ``dim`` (out of place)."""
    if src is None:
        src = value
    idx = _index_array(index, "scatter")
    d = canonical_dim(dim, input._data.ndim, "scatter")
    if reduce is not None:
        if reduce != "add":
            raise NotImplementedError(f"scatter(reduce={reduce!r}): only reduce='add' is supported")
        return scatter_add(input, dim, index, src if isinstance(src, Tensor) else
                           _wrap(np.full(idx.shape, src, dtype=input._data.dtype)))
    if isinstance(src, Tensor):
        _check_gather_shapes("scatter", input, d, idx, src.shape)
        if src._data.dtype != input._data.dtype:
            raise RuntimeError(f"scatter(): Expected self.dtype to be equal to src.dtype")
        return guard_saved_index(Scatter.apply(input, d, idx, src), index)
    _check_gather_shapes("scatter", input, d, idx)
    return guard_saved_index(Scatter.apply(input, d, idx, np.asarray(src, dtype=input._data.dtype)), index)


def scatter_add(input, dim, index, src):
    """Add ``src`` into ``input`` at ``index`` along ``dim``; repeated indices accumulate."""
    idx = _index_array(index, "scatter_add")
    d = canonical_dim(dim, input._data.ndim, "scatter_add")
    _check_gather_shapes("scatter_add", input, d, idx, src.shape)
    if src._data.dtype != input._data.dtype:
        raise RuntimeError("scatter_add(): Expected self.dtype to be equal to src.dtype")
    return guard_saved_index(ScatterAdd.apply(input, d, idx, src), index)


def _wrap_negative(idx, size):
    """Indices in [-size, size) with the negative ones counted from the end (take_along_dim wraps, gather not)."""
    if idx.size and idx.min() < 0:
        if idx.min() < -size:
            raise IndexError(f"take_along_dim(): index {idx.min()} is out of bounds for dimension with size {size}")
        idx = np.where(idx < 0, idx + size, idx)
    return idx


def take_along_dim(input, indices, dim=None):
    """``gather`` with broadcasting of input and indices; with ``dim=None`` both are flattened."""
    idx = _index_array(indices, "take_along_dim")
    if dim is None:
        return gather(input.reshape(-1), 0, _wrap(idx.reshape(-1)))     # flattened: no wrapping, as PyTorch
    if input._data.ndim == 0:
        raise IndexError(f"take_along_dim(): Dimension specified as {dim} but tensor has no dimensions")
    if idx.ndim != input._data.ndim:
        raise RuntimeError(f"take_along_dim(): input and indices should have the same number of dimensions, but got "
                           f"{input._data.ndim} dimensions for input, and {idx.ndim} dimensions for indices")
    d = canonical_dim(dim, input._data.ndim, "take_along_dim")
    idx = _wrap_negative(idx, input._data.shape[d])
    in_shape, idx_shape = list(input.shape), list(idx.shape)
    in_shape[d] = idx_shape[d] = 1
    try:
        common = list(np.broadcast_shapes(tuple(in_shape), tuple(idx_shape)))
    except ValueError:
        raise broadcast_error("take_along_dim", input.shape, idx.shape) from None
    in_target, idx_target = common.copy(), common.copy()
    in_target[d], idx_target[d] = input._data.shape[d], idx.shape[d]
    if tuple(in_target) != input._data.shape:
        input = input.expand(*in_target)
    return gather(input, d, _wrap(np.broadcast_to(idx, idx_target)))


class IndexSelect(Function):
    """y = x[..., index, ...] along ``dim``.   Backward: dx = g scatter-added back along ``dim`` (repeats add)."""

    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.in_shape, ctx.dim, ctx.index = x.shape, dim, index
        return np.take(x, index, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        dx = np.zeros(ctx.in_shape, dtype=grad.dtype)
        return index_add_along(dx, ctx.dim, ctx.index, grad), None, None

    @staticmethod
    def graph_backward(ctx, grad):
        return linear_backward(ctx, grad, lambda g: IndexSelect.apply(g, ctx.dim, ctx.index)), None, None


def index_select(input, dim, index):
    """The entries at the 1-D ``index`` along ``dim``."""
    idx = _index_array(index, "index_select")
    if idx.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    d = canonical_dim(dim, input._data.ndim, "index_select")
    size = input._data.shape[d] if input._data.ndim else 1
    if idx.size and (idx.max() >= size or idx.min() < 0):       # PyTorch's index_select does not wrap -1
        raise IndexError(f"index_select(): index {idx.max() if idx.max() >= size else idx.min()} out of range "
                         f"for dimension {d} with size {size}")
    if input._data.ndim == 0:       # PyTorch keeps a 0-d input 0-d, for a one-element index only
        if idx.size != 1:
            raise IndexError(f"index_select(): Index to scalar can have only 1 value, got {idx.size} value(s)")
        return input.reshape(()).clone()      # a copy, as every index_select result is
    return guard_saved_index(IndexSelect.apply(input, d, idx.reshape(-1)), index)


class IndexAdd(Function):
    """z = x;  z[..., index[k], ...] += alpha * src[..., k, ...].   Backward: dx = g,  dsrc = alpha * g at index."""

    @staticmethod
    def forward(ctx, x, dim, index, src, alpha):
        ctx.dim, ctx.index, ctx.alpha = dim, index, alpha
        out = x.copy()
        np.add.at(out, (slice(None),) * dim + (index,), src * alpha if alpha != 1 else src)
        return out

    @staticmethod
    def backward(ctx, grad):
        dsrc = np.take(grad, ctx.index, axis=ctx.dim) if ctx.needs_input_grad[3] else None
        if dsrc is not None and ctx.alpha != 1:
            dsrc = dsrc * ctx.alpha
        return grad, None, None, dsrc, None

    @staticmethod
    def graph_backward(ctx, grad):
        dsrc = IndexSelect.apply(grad, ctx.dim, ctx.index) if ctx.needs_input_grad[3] else None
        if dsrc is not None and ctx.alpha != 1:
            dsrc = dsrc * ctx.alpha
        return grad, None, None, dsrc, None


def index_add(input, dim, index, source, *, alpha=1):
    """Add the slices of ``source`` into ``input`` at the 1-D ``index`` along ``dim`` (repeats accumulate)."""
    idx = _index_array(index, "index_add").reshape(-1)
    d = canonical_dim(dim, input._data.ndim, "index_add")
    return guard_saved_index(IndexAdd.apply(input, d, idx, source, alpha), index)


# ---------------------------------------------------------------------------- masks
class MaskedFill(Function):
    """z = value where mask else x.   Backward: dx = g where not mask,  dvalue = sum of g where mask."""

    @staticmethod
    def forward(ctx, x, mask, value):
        ctx.mask, ctx.x_shape = mask, x.shape
        return np.where(mask, value, x)

    @staticmethod
    def backward(ctx, grad):
        zero = np.zeros((), dtype=grad.dtype)
        dx = unbroadcast(np.where(ctx.mask, zero, grad), ctx.x_shape) if ctx.needs_input_grad[0] else None
        dvalue = np.where(ctx.mask, grad, zero).sum() if ctx.needs_input_grad[2] else None
        return dx, None, dvalue

    @staticmethod
    def graph_backward(ctx, grad):
        mask = _wrap(ctx.mask)
        zero = _wrap(np.zeros((), dtype=grad._data.dtype))
        dx = unbroadcast(grad.where(~mask, zero), ctx.x_shape) if ctx.needs_input_grad[0] else None
        dvalue = zero.where(~mask, grad).sum() if ctx.needs_input_grad[2] else None
        return dx, None, dvalue


def _bool_mask(mask, op):
    arr = mask._data if mask.__class__ in _TENSOR_TYPES else np.asarray(mask)
    if arr.dtype != np.bool_:
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype "
                           f"{_dtype.from_numpy_dtype(arr.dtype).name.replace('float32', 'float')}")
    return arr


def fill_value(value, input, op):
    """A Python number as a 0-d array of ``input``'s dtype; inf / nan into integers raise, as in PyTorch."""
    try:
        return np.asarray(value, dtype=input._data.dtype)
    except (OverflowError, ValueError):
        raise RuntimeError(f"{op}: value {value} cannot be converted to type {input.dtype} without overflow "
                           f"(input shape {list(input.shape)})") from None


def masked_fill(input, mask, value):
    """A copy of ``input`` with ``value`` where ``mask`` is True (mask broadcasts)."""
    m = _bool_mask(mask, "masked_fill_")
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value._data.ndim} dimension(s).")
        if value._data.dtype != input._data.dtype:
            value = value.to(input.dtype)
    else:
        value = fill_value(value, input, "masked_fill")
    try:
        np.broadcast_shapes(m.shape, input._data.shape)
    except ValueError:
        raise RuntimeError(f"masked_fill: The size of the mask {list(m.shape)} must be broadcastable to the size "
                           f"of the input {list(input.shape)}") from None
    return MaskedFill.apply(input, m, value)


class MaskedSelect(Function):
    """y = the elements of x where mask is True (1-D).   Backward: dx = g put back at those places, 0 elsewhere."""

    @staticmethod
    def forward(ctx, x, mask):
        ctx.x_shape = x.shape
        shape = np.broadcast_shapes(x.shape, mask.shape)
        ctx.mask = np.broadcast_to(mask, shape)
        return np.broadcast_to(x, shape)[ctx.mask]

    @staticmethod
    def backward(ctx, grad):
        dx = np.zeros(ctx.mask.shape, dtype=grad.dtype)
        dx[ctx.mask] = grad
        return unbroadcast(dx, ctx.x_shape), None

    @staticmethod
    def graph_backward(ctx, grad):
        return linear_backward(ctx, grad, lambda g: MaskedSelect.apply(g, ctx.mask)), None


def masked_select(input, mask):
    """The elements where ``mask`` (broadcast with input) is True, as a 1-D tensor."""
    m = _bool_mask(mask, "masked_select:")
    try:
        np.broadcast_shapes(m.shape, input._data.shape)
    except ValueError:
        raise RuntimeError(f"masked_select: The size of the mask {list(m.shape)} must be broadcastable to the size "
                           f"of the input {list(input.shape)}") from None
    return MaskedSelect.apply(input, m)


def nonzero(input, *, as_tuple=False):
    """Indices of the non-zero elements: an (n, ndim) int64 tensor, or a tuple of 1-D tensors (``as_tuple``)."""
    data = input._data
    if as_tuple:
        return tuple(_wrap(i) for i in np.nonzero(np.atleast_1d(data)))
    return _wrap(np.argwhere(data))


def argwhere(input):
    """``nonzero(input)``."""
    return nonzero(input)


# --------------------------------------------------------------- index_* and put
def take(input, index):
    """Elements of the flattened input at ``index`` (the result has index's shape)."""
    idx = _index_array(index, "take")
    size = input._data.size
    if idx.size and (idx.max() >= size or idx.min() < -size):
        raise IndexError(f"out of range: tried to access index {idx.max() if idx.max() >= size else idx.min()} on "
                         f"a tensor of {size} elements.")
    # NOTE: a 0-d index would be basic indexing (a view of input); a 1-D index is always a copy.
    return input.reshape(-1)[_wrap(idx.reshape(-1))].reshape(idx.shape)


def index_fill(input, dim, index, value):
    """A copy with the slices at ``index`` along ``dim`` set to ``value`` (a number or 0-d tensor)."""
    d = canonical_dim(dim, max(input._data.ndim, 1), "index_fill")
    idx = _index_array(index, "index_fill").reshape(-1)
    mask = np.zeros(input._data.shape[d] if input._data.ndim else 1, dtype=bool)
    mask[idx] = True
    if input._data.ndim:
        mask = mask.reshape((-1,) + (1,) * (input._data.ndim - d - 1))
    else:
        mask = mask.reshape(())
    return masked_fill(input, _wrap(mask), value)


def index_copy(input, dim, index, source):
    """A copy with the slices of ``source`` written at ``index`` along ``dim``."""
    d = canonical_dim(dim, input._data.ndim, "index_copy")
    idx = _index_array(index, "index_copy").reshape(-1)
    shape = [1] * source._data.ndim
    shape[d] = -1
    return scatter(input, d, _wrap(np.broadcast_to(idx.reshape(shape), source._data.shape)), source)


class IndexPutAccumulate(Function):
    """z = x;  z[indices] += values (repeats accumulate).   Backward: dx = g,  dvalues = g[indices]."""

    @classmethod
    def name(cls):
        return "IndexPutBackward0"

    @staticmethod
    def forward(ctx, x, values, indices):
        ctx.indices, ctx.v_shape = indices, np.shape(values)
        out = x.copy()
        np.add.at(out, indices, values)
        return out

    @staticmethod
    def backward(ctx, grad):
        dv = unbroadcast(grad[ctx.indices], ctx.v_shape) if ctx.needs_input_grad[1] else None
        return grad, dv, None

    @staticmethod
    def graph_backward(ctx, grad):
        dv = unbroadcast(_read(grad, ctx.indices), ctx.v_shape) if ctx.needs_input_grad[1] else None
        return grad, dv, None


def index_put(input, indices, values, accumulate=False):
    """Out-of-place ``input[indices] = values`` (``+=`` with repeats summed when ``accumulate``)."""
    if not isinstance(values, Tensor):
        values = _wrap(np.asarray(values, dtype=input._data.dtype))
    if not accumulate:
        out = input.clone()
        out[tuple(indices)] = values
        return out
    from .indexing import _convert_index
    idx, _ = _convert_index(tuple(indices))
    return IndexPutAccumulate.apply(input, values.to(input.dtype), idx)


def put(input, index, source, accumulate=False):
    """A copy of ``input`` with ``source`` written (or added) at the flat positions ``index``."""
    flat = input.reshape(-1)
    return index_put(flat, (index.reshape(-1),), source.reshape(-1), accumulate).reshape(input.shape)


def put_(self, index, source, accumulate=False):
    """In-place ``put``: the flat positions ``index`` of this tensor get ``source``'s values."""
    self.reshape(-1).index_put_((index.reshape(-1),), source.reshape(-1), accumulate)
    return self


class MaskedScatter(Function):
    """z = x with its masked elements replaced, in order, by the first elements of ``source``.
    Backward: dx = g where not mask,  dsource[:k] = g[mask] (0 beyond)."""

    @staticmethod
    def forward(ctx, x, mask, source):
        mask = np.broadcast_to(mask, x.shape)
        count = int(mask.sum())
        if count > source.size:
            raise RuntimeError(f"masked_scatter: expected source to have at least {count} elements, got "
                               f"{source.size}")
        ctx.mask, ctx.count, ctx.source_shape = mask, count, source.shape
        out = x.copy()
        out[mask] = source.reshape(-1)[:count]
        return out

    @staticmethod
    def backward(ctx, grad):
        dx = dsource = None
        if ctx.needs_input_grad[0]:
            dx = grad.copy()
            dx[ctx.mask] = 0
        if ctx.needs_input_grad[2]:
            dsource = np.zeros(int(np.prod(ctx.source_shape)), dtype=grad.dtype)
            dsource[:ctx.count] = grad[ctx.mask]
            dsource = dsource.reshape(ctx.source_shape)
        return dx, None, dsource

    @staticmethod
    def graph_backward(ctx, grad):
        dx = dsource = None
        if ctx.needs_input_grad[0]:
            dx = SetItem.apply(grad, np.zeros((), grad._data.dtype), ctx.mask)
        if ctx.needs_input_grad[2]:
            size = int(np.prod(ctx.source_shape))
            dsource = _pad_to_graph(_read(grad, ctx.mask), (size,)).reshape(ctx.source_shape)
        return dx, None, dsource


def masked_scatter(input, mask, source):
    """Write ``source``'s elements, in row-major order, where ``mask`` is True."""
    m = _bool_mask(mask, "masked_scatter_")
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"masked_scatter_: expected self and source to have same dtypes but got {input.dtype} "
                           f"and {source.dtype}")
    return MaskedScatter.apply(input, m, source)


class ScatterReduce(Function):
    """z[pos] = reduce(x[pos] (if include_self), src values scattered to pos), for reduce in
    sum / mean / amax / amin / prod.   Backward: the reduction's own rule per position (see ``backward``)."""

    @staticmethod
    def forward(ctx, x, dim, index, src, reduce, include_self):
        grid = _grid(index, dim)
        ctx.src_full_shape = src.shape
        src = src[tuple(slice(0, s) for s in index.shape)]
        ctx.grid, ctx.reduce, ctx.include_self = grid, reduce, include_self
        hit = np.zeros(x.shape, dtype=bool)
        hit[grid] = True
        out = x.copy()
        if not include_self:      # the scattered-to positions start from the reduction's identity
            out[hit] = {"sum": 0, "mean": 0, "prod": 1, "amax": -np.inf, "amin": np.inf}[reduce]
        ufunc = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum}[reduce]
        ufunc.at(out, grid, src)
        if reduce == "mean":
            count = np.zeros(x.shape, dtype=x.dtype) + (1 if include_self else 0)
            np.add.at(count, grid, 1)
            ctx.count = np.maximum(count, 1)
            out = out / ctx.count
            out = out.astype(x.dtype, copy=False)
        ctx.save_for_backward(x, src)
        ctx.hit, ctx.out = hit, out
        return out

    @staticmethod
    def backward(ctx, grad):
        x, src = ctx.saved_tensors
        grid, reduce, hit, out = ctx.grid, ctx.reduce, ctx.hit, ctx.out
        if reduce == "sum":
            dx, dsrc = grad, grad[grid]
        elif reduce == "mean":
            dx, dsrc = grad / ctx.count, (grad / ctx.count)[grid]
        elif reduce == "prod":
            if x.all() and src.all():         # d out / d v = out / v for non-zero v
                dx, dsrc = grad * out / x, (grad * out)[grid] / src
            else:
                dx, dsrc = _scatter_prod_backward_zeros(grad, x, src, ctx)
        else:       # amax / amin: the gradient is shared evenly among the values equal to the result
            # NOTE: as in PyTorch, self's ties count even with include_self=False (its share is then dropped)
            ties = np.zeros(out.shape, dtype=grad.dtype)
            np.add.at(ties, grid, (src == out[grid]).astype(grad.dtype))
            ties += x == out
            share = grad / np.maximum(ties, 1)
            dx, dsrc = share * (x == out), share[grid] * (src == out[grid])
        if not ctx.include_self:
            dx = np.where(hit, 0, dx)
        return dx.astype(grad.dtype, copy=False), None, None, _pad_to(np.asarray(dsrc, dtype=grad.dtype),
                                                                          ctx.src_full_shape), None, None

    @staticmethod
    def graph_backward(ctx, grad):
        """PyTorch's scatter_reduce_backward on Tensors (prod exact with zeros, as there)."""
        x, _ = ctx.saved_tensors
        grid, reduce, hit, out = ctx.grid, ctx.reduce, ctx.hit, ctx.out
        src_data = ctx._raw_saved[1]
        if reduce == "sum":
            dx, dsrc = grad, _read(grad, grid)
        elif reduce == "mean":
            dx = grad / _wrap(ctx.count.astype(grad._data.dtype, copy=False))
            dsrc = _read(dx, grid)
        elif reduce == "prod":
            dx, dsrc = _scatter_prod_backward(ctx, grad, x, src_data)
        else:
            x_data = x._data
            ties = np.zeros(out.shape, dtype=out.dtype)
            np.add.at(ties, grid, src_data == out[grid])
            x_is_result = x_data == out
            share = grad / _wrap(np.maximum(ties + x_is_result, 1).astype(out.dtype, copy=False))
            dx = share * _wrap((x_is_result & (ctx.include_self | ~hit)).astype(out.dtype))
            dsrc = _read(share, grid) * _wrap((src_data == out[grid]).astype(out.dtype))
        if not ctx.include_self and reduce in ("sum", "mean", "prod"):
            dx = SetItem.apply(dx, np.zeros((), dx._data.dtype), hit)
        return dx, None, None, _pad_to_graph(dsrc, ctx.src_full_shape), None, None


def _scatter_prod(x, grid, src, include_self, hit):
    out = x.copy()
    if not include_self:
        out[hit] = 1
    np.multiply.at(out, grid, src)
    return out


def _scatter_prod_backward_zeros(grad, x, src, ctx):
    """scatter_reduce(prod)'s gradient with zeros: the product of the others, from the reduction re-run with
    the zero replaced by 1 (PyTorch's formula; one zero of self, or a single zero of src in a slot)."""
    grid, include_self, hit = ctx.grid, ctx.include_self, ctx.hit
    masked_x = np.where(x == 0, 1, x)
    dx = grad * _scatter_prod(masked_x, grid, src, include_self, hit) / masked_x
    src_zero = src == 0
    zeros_per_slot = np.zeros(x.shape, dtype=x.dtype)
    np.add.at(zeros_per_slot, grid, src_zero)
    single_zero = src_zero & (zeros_per_slot[grid] == 1)
    through_zero = (grad * _scatter_prod(x, grid, np.where(single_zero, 1, src), include_self, hit))[grid]
    dsrc = np.where(single_zero, through_zero, (grad * ctx.out)[grid] / np.where(src_zero, 1, src))
    return dx, dsrc


def _scatter_dim_and_index(grid):
    """``(dim, index)`` back from ``_grid(index, dim)``: the entry that is not the open grid's arange
    (when all are, every choice of dim gives the same grid)."""
    for k, entry in enumerate(grid):
        size = entry.shape[k]
        if entry.shape.count(1) < len(entry.shape) - 1 or not np.array_equal(entry.reshape(-1), np.arange(size)):
            return k, entry
    return 0, grid[0]


def _scatter_prod_backward(ctx, grad, x, src_data):
    """d scatter_reduce(prod) on Tensors: g out / v, and where v is a zero, the product of the *others*, from
    the reduction re-run with that zero replaced by 1 (PyTorch's formula, which it differentiates again,
    except for a src with more than one zero in a slot: a delayed error, as in PyTorch)."""
    from ..autograd._graph import delayed_error, linked_input, linked_output
    dim, index = _scatter_dim_and_index(ctx.grid)
    grid, include_self = ctx.grid, ctx.include_self
    src_full = np.zeros(ctx.src_full_shape, src_data.dtype)
    src_full[tuple(slice(0, s) for s in src_data.shape)] = src_data
    src = _read(linked_input(ctx, 3, src_full), tuple(slice(0, s) for s in src_data.shape))
    result = linked_output(ctx, ctx.out)
    x_zero = x._data == 0
    if x_zero.any():
        masked_x = x.masked_fill(_wrap(x_zero), 1)
        dx = grad * ScatterReduce.apply(masked_x, dim, index, src, "prod", include_self) / masked_x
    else:
        dx = grad * result / x
    src_zero = src_data == 0
    zeros_per_slot = np.zeros(x._data.shape, x._data.dtype)
    np.add.at(zeros_per_slot, grid, src_zero)
    zeros_per_slot = zeros_per_slot[grid]
    single_zero = src_zero & (zeros_per_slot == 1)
    if not src_zero.any():
        dsrc = _read(grad * result, grid) / src
    else:
        masked_src = src.masked_fill(_wrap(single_zero), 1)
        through_zero = _read(grad * ScatterReduce.apply(x, dim, index, masked_src, "prod", include_self), grid)
        dsrc = through_zero.where(_wrap(single_zero), _read(grad * result, grid) / src.masked_fill(_wrap(src_zero), 1))
        if (zeros_per_slot > 1).any():
            dsrc, = delayed_error("scatter_reduce(): Double backward is unsupported for src when >1 zeros in src are "
                                  "scattered to the same position.", (dsrc,))
    return dx, dsrc


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """Reduce ``src`` into ``input`` at ``index`` along ``dim`` with sum / prod / mean / amax / amin."""
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    idx = _index_array(index, "scatter_reduce")
    d = canonical_dim(dim, input._data.ndim, "scatter_reduce")
    _check_gather_shapes("scatter_reduce", input, d, idx, src.shape)
    if src._data.dtype != input._data.dtype:
        raise RuntimeError("scatter_reduce(): Expected self.dtype to be equal to src.dtype")
    return ScatterReduce.apply(input, d, idx, src, reduce, bool(include_self))


from .piecewise import NotDifferentiable as _NotDifferentiable  # noqa: E402


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values (sorted), optionally with the inverse indices and the counts (no gradient).

    NaNs are never equal, so each stays its own value, as in PyTorch (NumPy's default merges them).
    """
    values, inverse, counts = np.unique(input._data, return_inverse=True, return_counts=True, axis=dim,
                                        equal_nan=False)
    # requires_grad follows the input as in PyTorch; backward through it raises (no derivative)
    out = [_NotDifferentiable.apply(input, None, lambda x, _: values, "_unique2")
           if input.requires_grad else _wrap(values)]
    if return_inverse:
        out.append(_wrap(inverse.reshape(input._data.shape if dim is None else -1).astype(np.int64)))
    if return_counts:
        out.append(_wrap(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


# --------------------------------------------------------------------- in place
def _inplace_versions():
    from .inplace import _make_inplace
    names = {"scatter_": scatter, "scatter_add_": scatter_add, "scatter_reduce_": scatter_reduce,
             "index_add_": index_add, "index_fill_": index_fill, "index_copy_": index_copy, "index_put_": index_put,
             "masked_scatter_": masked_scatter}
    return {name: _make_inplace(name, fn) for name, fn in names.items()}


globals().update(_inplace_versions())
