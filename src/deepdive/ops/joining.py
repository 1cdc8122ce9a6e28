"""Joining, splitting and index-driven ops: cat/stack/split, gather/scatter, masks, flips, repeats.

Every op here moves or selects elements without computing new values, so each
backward moves the gradient back to where the element came from; where one
input element feeds several outputs (gather, index_select, repeat), the
gradients of all its copies are summed (a scatter-add).
"""
from itertools import accumulate

import numpy as np

from .. import _dtype
from ..autograd.function import Function
from ..tensor import Tensor, _wrap, _TENSOR_TYPES
from ._util import canonical_dim, shape_arg, normalize_dims, unbroadcast
from .shape import as_view

__all__ = ["cat", "concat", "concatenate", "stack", "hstack", "vstack", "dstack", "column_stack", "row_stack", "split",
           "chunk", "unbind", "tensor_split", "hsplit", "vsplit", "dsplit", "gather", "scatter", "scatter_add",
           "scatter_reduce", "index_select", "index_add", "index_fill", "index_copy", "index_put", "masked_fill",
           "masked_scatter", "tril", "triu", "tril_indices", "triu_indices", "flip", "fliplr", "flipud", "rot90",
           "tile", "narrow", "select", "take", "take_along_dim", "nonzero", "masked_select", "roll",
           "repeat_interleave", "diag", "diagonal", "diag_embed", "trace", "argwhere", "meshgrid", "cartesian_prod",
           "block_diag", "unique", "put"]
METHODS = ["split", "chunk", "unbind", "tensor_split", "hsplit", "vsplit", "dsplit", "gather", "scatter",
           "scatter_add", "scatter_reduce", "scatter_", "scatter_add_", "scatter_reduce_", "index_select", "index_add",
           "index_add_", "index_fill", "index_fill_", "index_copy", "index_copy_", "index_put", "index_put_",
           "masked_fill", "masked_scatter", "masked_scatter_", "tril", "triu", "tril_", "triu_", "flip", "fliplr",
           "flipud", "rot90", "repeat", "tile", "narrow", "select", "take", "take_along_dim", "nonzero",
           "masked_select", "roll", "repeat_interleave", "diag", "diagonal", "diag_embed", "trace", "argwhere",
           "unique", "put", "put_"]


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
    sums = np.add.reduceat(np.take(src, order, axis=dim), starts, axis=dim)
    out[(slice(None),) * dim + (ordered[starts],)] += sums
    return out


def _check_index_bounds(index, size, dim):
    if index.size and (index.max() >= size or index.min() < 0):
        bad = index.max() if index.max() >= size else index.min()
        raise RuntimeError(f"index {bad} is out of bounds for dimension {dim} with size {size}")


# ----------------------------------------------------------------- joining
class Cat(Function):
    """y = [x_1, x_2, ...] joined along ``dim``.   Backward: dx_i = the slice of g that x_i fills."""

    @staticmethod
    def forward(ctx, dim, *xs):
        ctx.dim = dim
        ctx.bounds = list(accumulate(x.shape[dim] for x in xs[:-1]))   # (np.cumsum costs more for a few numbers)
        return np.concatenate(xs, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        return (None,) + tuple(np.split(grad, ctx.bounds, axis=ctx.dim))


def _same_dtype(tensors):
    """PyTorch promotes the inputs of cat/stack to one dtype."""
    first = tensors[0]._data.dtype
    if all(t._data.dtype is first for t in tensors):
        return tensors
    result = _dtype.from_numpy_dtype(first)
    for t in tensors[1:]:
        result = _dtype.promote(result, _dtype.from_numpy_dtype(t._data.dtype))
    return [t if t._data.dtype == result.np else t.to(result) for t in tensors]


def cat(tensors, dim=0, *, out=None):
    """Join tensors along an existing dim; all other sizes must match.

    Example: ``cat([ones(2, 3), zeros(2, 1)], dim=1).shape == (2, 4)``.
    """
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if t._data.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    # PyTorch (legacy) skips 1-D empty tensors when joining higher-dimensional ones.
    positions = [i for i, t in enumerate(tensors) if not (t._data.ndim == 1 and t._data.shape[0] == 0)] or [0]
    kept = [tensors[i] for i in positions]
    ref = kept[0]._data.shape
    d = canonical_dim(dim, len(ref), "cat")
    for i in positions[1:]:
        shape = tensors[i]._data.shape
        if len(shape) != len(ref):
            raise RuntimeError(f"Tensors must have same number of dimensions: got {len(ref)} and {len(shape)}")
        for k, (a, b) in enumerate(zip(ref, shape)):
            if k != d and a != b:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected size {a} but got "
                                   f"size {b} for tensor number {i} in the list.")
    kept = _same_dtype(kept)
    if len(kept) == 1:
        return kept[0] if not kept[0].requires_grad else Cat.apply(d, kept[0])
    return Cat.apply(d, *kept)


concat = concatenate = cat


class Stack(Function):
    """y = the x_i stacked along a new dim.   Backward: dx_i = g[..., i, ...] (index i along that dim)."""

    @staticmethod
    def forward(ctx, dim, *xs):
        ctx.dim = dim
        return np.stack(xs, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        return (None,) + tuple(np.moveaxis(grad, ctx.dim, 0))


def stack(tensors, dim=0, *, out=None):
    """Join equal-shaped tensors along a new dim."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    ref = tensors[0]._data.shape
    for i, t in enumerate(tensors[1:], 1):
        if t._data.shape != ref:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(ref)} at entry 0 and "
                               f"{list(t._data.shape)} at entry {i}")
    d = canonical_dim(dim, len(ref) + 1, "stack")
    return Stack.apply(d, *_same_dtype(tensors))


def hstack(tensors):
    """Join along dim 1 (dim 0 for 1-D tensors)."""
    tensors = [t if t.ndim else t.reshape(1) for t in tensors]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    """Join along dim 0, 1-D tensors becoming rows."""
    return cat([t.reshape(1, -1) if t.ndim < 2 else t for t in tensors], 0)


def dstack(tensors):
    """Join along dim 2, tensors first made at least 3-D (like ``numpy.dstack``)."""
    def at_least_3d(t):
        if t.ndim == 0:
            return t.reshape(1, 1, 1)
        if t.ndim == 1:
            return t.reshape(1, -1, 1)
        return t.unsqueeze(-1) if t.ndim == 2 else t
    return cat([at_least_3d(t) for t in tensors], 2)


# ----------------------------------------------------------------- splitting
class Split(Function):
    """(y_1, y_2, ...) = x cut along ``dim`` at ``bounds`` (views).   Backward: dx = the g_i joined back."""

    @staticmethod
    def forward(ctx, x, bounds, dim):
        ctx.dim = dim
        return tuple(np.split(x, bounds, axis=dim))

    @staticmethod
    def backward(ctx, *grads):
        return np.concatenate(grads, axis=ctx.dim), None, None


class SplitWithSizes(Split):
    """``split`` with a list of sizes (PyTorch names its node apart)."""


class Unbind(Function):
    """(y_1, ..., y_n) = the slices x[..., i, ...] along ``dim``.   Backward: dx = the g_i stacked."""

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        moved = np.moveaxis(x, dim, 0)
        return tuple(moved[i, ...] for i in range(moved.shape[0]))     # (... keeps 0-d slices views)

    @staticmethod
    def backward(ctx, *grads):
        return np.stack(grads, axis=ctx.dim), None


def split(tensor, split_size_or_sections, dim=0):
    """Cut into pieces of ``split_size`` (the last may be smaller) or of the listed sizes."""
    d = canonical_dim(dim, tensor._data.ndim, "split")
    size = tensor._data.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        step = int(split_size_or_sections)
        if step < 0 or (step == 0 and size != 0):
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {size}")
        bounds = list(range(step, size, step)) if step else []
        return tuple(as_view(piece, tensor) for piece in Split.apply(tensor, bounds, d))
    sizes = [int(s) for s in split_size_or_sections]
    if sum(sizes) != size or any(s < 0 for s in sizes):
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's size at "
                           f"dimension {d}), but got split_sizes={sizes}")
    pieces = SplitWithSizes.apply(tensor, list(accumulate(sizes[:-1])), d)
    return tuple(as_view(piece, tensor) for piece in pieces)


def chunk(input, chunks, dim=0):
    """Cut into ``chunks`` pieces of ceil(size / chunks) (fewer if the size runs out)."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    size = input._data.shape[canonical_dim(dim, input._data.ndim, "chunk")]
    return split(input, max(-(-size // chunks), 1) if size else 0, dim)


def unbind(input, dim=0):
    """The slices along ``dim`` as a tuple of tensors (the dim removed)."""
    return tuple(as_view(piece, input) for piece in Unbind.apply(input, canonical_dim(dim, input._data.ndim, "unbind")))


class Narrow(Function):
    """y = x[..., start:start+length, ...] along ``dim``.   Backward: dx = 0 except that slice, which is g."""

    @classmethod
    def name(cls):
        return "SliceBackward0"

    @staticmethod
    def forward(ctx, x, dim, start, length):
        ctx.in_shape, ctx.key = x.shape, (slice(None),) * dim + (slice(start, start + length),)
        return x[ctx.key]

    @staticmethod
    def backward(ctx, grad):
        dx = np.zeros(ctx.in_shape, dtype=grad.dtype)
        dx[ctx.key] = grad
        return dx, None, None, None


def narrow(input, dim, start, length):
    """The ``length`` elements from ``start`` along ``dim`` (a view)."""
    d = canonical_dim(dim, input._data.ndim, "narrow")
    size = input._data.shape[d]
    start = int(start)
    if not -size <= start <= size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], but got {start})")
    start %= size if size else 1
    if start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    return as_view(Narrow.apply(input, d, start, int(length)), input)


class Select(Function):
    """y = x[..., index, ...] along ``dim`` (that dim removed).   Backward: dx = 0 except that slice, which is g."""

    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.in_shape, ctx.key = x.shape, (slice(None),) * dim + (index, Ellipsis)   # (... keeps 0-d views)
        return x[ctx.key]

    @staticmethod
    def backward(ctx, grad):
        dx = np.zeros(ctx.in_shape, dtype=grad.dtype)
        dx[ctx.key] = grad
        return dx, None, None


def select(input, dim, index):
    """The slice at ``index`` along ``dim``, with that dim removed: ``x.select(1, 0)`` is ``x[:, 0]``."""
    d = canonical_dim(dim, input._data.ndim, "select")
    size = input._data.shape[d]
    index = int(index)
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(input.shape)} at "
                         f"dimension {dim}")
    return as_view(Select.apply(input, d, index % size), input)


# ------------------------------------------------------------ gather/scatter
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
    _check_index_bounds(index, input._data.shape[dim] if input._data.ndim else 1, dim)


def gather(input, dim, index, *, sparse_grad=False):
    """Pick along ``dim`` by ``index``: ``out[i][j] = input[i][index[i][j]]`` for dim=1; out has index's shape."""
    idx = _index_array(index, "gather")
    d = canonical_dim(dim, input._data.ndim, "gather")
    _check_gather_shapes("gather", input, d, idx)
    if input._data.ndim == 0:
        return input.reshape(idx.shape) if idx.size else input
    return Gather.apply(input, d, idx)


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
        return Scatter.apply(input, d, idx, src)
    _check_gather_shapes("scatter", input, d, idx)
    return Scatter.apply(input, d, idx, np.asarray(src, dtype=input._data.dtype))


def scatter_add(input, dim, index, src):
    """Add ``src`` into ``input`` at ``index`` along ``dim``; repeated indices accumulate."""
    idx = _index_array(index, "scatter_add")
    d = canonical_dim(dim, input._data.ndim, "scatter_add")
    _check_gather_shapes("scatter_add", input, d, idx, src.shape)
    if src._data.dtype != input._data.dtype:
        raise RuntimeError("scatter_add(): Expected self.dtype to be equal to src.dtype")
    return ScatterAdd.apply(input, d, idx, src)


def take_along_dim(input, indices, dim=None):
    """``gather`` with broadcasting of input and indices; with ``dim=None`` both are flattened."""
    idx = _index_array(indices, "take_along_dim")
    if dim is None:
        return gather(input.reshape(-1), 0, _wrap(idx.reshape(-1)))
    d = canonical_dim(dim, input._data.ndim, "take_along_dim")
    in_shape, idx_shape = list(input.shape), list(idx.shape)
    in_shape[d] = idx_shape[d] = 1
    common = list(np.broadcast_shapes(tuple(in_shape), tuple(idx_shape)))
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


def index_select(input, dim, index):
    """The entries at the 1-D ``index`` along ``dim``."""
    idx = _index_array(index, "index_select")
    if idx.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    d = canonical_dim(dim, input._data.ndim, "index_select")
    size = input._data.shape[d] if input._data.ndim else 1
    if idx.size and (idx.max() >= size or idx.min() < -size):
        raise IndexError(f"index_select(): index {idx.max() if idx.max() >= size else idx.min()} out of range "
                         f"for dimension {d} with size {size}")
    if input._data.ndim == 0:
        return input.reshape(idx.shape)
    return IndexSelect.apply(input, d, idx.reshape(-1))


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


def index_add(input, dim, index, source, *, alpha=1):
    """Add the slices of ``source`` into ``input`` at the 1-D ``index`` along ``dim`` (repeats accumulate)."""
    idx = _index_array(index, "index_add").reshape(-1)
    d = canonical_dim(dim, input._data.ndim, "index_add")
    return IndexAdd.apply(input, d, idx, source, alpha)


# ---------------------------------------------------------------------- masks
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


def _bool_mask(mask, op):
    arr = mask._data if mask.__class__ in _TENSOR_TYPES else np.asarray(mask)
    if arr.dtype != np.bool_:
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype "
                           f"{_dtype.from_numpy_dtype(arr.dtype).name.replace('float32', 'float')}")
    return arr


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
        value = np.asarray(value, dtype=input._data.dtype)
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


# ------------------------------------------------------------ triangles, diagonals
class Tril(Function):
    """y = x with entries above the ``diagonal`` zeroed (last two dims).   Backward: dx = tril(g)."""

    @staticmethod
    def forward(ctx, x, diagonal):
        ctx.diagonal = diagonal
        return np.tril(x, diagonal)

    @staticmethod
    def backward(ctx, grad):
        return np.tril(grad, ctx.diagonal), None


class Triu(Function):
    """y = x with entries below the ``diagonal`` zeroed (last two dims).   Backward: dx = triu(g)."""

    @staticmethod
    def forward(ctx, x, diagonal):
        ctx.diagonal = diagonal
        return np.triu(x, diagonal)

    @staticmethod
    def backward(ctx, grad):
        return np.triu(grad, ctx.diagonal), None


def tril(input, diagonal=0):
    """Lower triangle of the last two dims (``diagonal`` > 0 keeps more above the main diagonal)."""
    if input._data.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return Tril.apply(input, int(diagonal))


def triu(input, diagonal=0):
    """Upper triangle of the last two dims (``diagonal`` > 0 drops more above the main diagonal)."""
    if input._data.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return Triu.apply(input, int(diagonal))


class Diagonal(Function):
    """y = the ``offset`` diagonal of the (dim1, dim2) planes, as the last dim.
    Backward: dx = 0 with g written onto that diagonal."""

    @staticmethod
    def forward(ctx, x, offset, dim1, dim2):
        ctx.in_shape, ctx.args = x.shape, (offset, dim1, dim2)
        view = np.diagonal(x, offset, dim1, dim2)
        if x.flags.writeable:
            view.flags.writeable = True     # NumPy hands out diagonals read-only; PyTorch's can be written
        return view

    @staticmethod
    def backward(ctx, grad):
        offset, dim1, dim2 = ctx.args
        dx = np.zeros(ctx.in_shape, dtype=grad.dtype)
        planes = np.moveaxis(dx, (dim1, dim2), (-2, -1))    # a writeable view of dx
        k = np.arange(grad.shape[-1])
        planes[..., k + max(-offset, 0), k + max(offset, 0)] = grad
        return dx, None, None, None


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal of the (dim1, dim2) planes (above it for offset > 0), appended as the last dim."""
    nd = input._data.ndim
    d1, d2 = canonical_dim(dim1, nd, "diagonal"), canonical_dim(dim2, nd, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return as_view(Diagonal.apply(input, int(offset), d1, d2), input)


class DiagEmbed(Function):
    """y = the square matrix with x on its ``offset`` diagonal.   Backward: dx = that diagonal of g."""

    @staticmethod
    def forward(ctx, x, offset):
        ctx.offset = offset
        return np.diag(x, offset)

    @staticmethod
    def backward(ctx, grad):
        return np.diag(grad, ctx.offset).copy(), None


def diag(input, diagonal=0):
    """1-D input: a matrix with it on the ``diagonal``; 2-D input: that diagonal as 1-D."""
    if input._data.ndim == 1:
        return DiagEmbed.apply(input, int(diagonal))
    if input._data.ndim == 2:
        return Diagonal.apply(input, int(diagonal), 0, 1)
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input._data.ndim}D")


# ----------------------------------------------------------- flips, rolls, repeats
class Flip(Function):
    """y = x reversed along ``dims``.   Backward: dx = g reversed along the same dims."""

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return np.flip(x, dims).copy()      # PyTorch's flip copies; a NumPy view would alias the input

    @staticmethod
    def backward(ctx, grad):
        return np.flip(grad, ctx.dims), None


def flip(input, *dims):
    """Reverse the order of elements along ``dims``."""
    dims = shape_arg(dims)
    return Flip.apply(input, normalize_dims(dims, input._data.ndim, "flip") if dims else ())


def fliplr(input):
    """Reverse dim 1 (left/right)."""
    if input._data.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, 1)


def flipud(input):
    """Reverse dim 0 (up/down)."""
    if input._data.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, 0)


class Roll(Function):
    """y = x shifted cyclically by ``shifts`` along ``dims``.   Backward: dx = g shifted back."""

    @staticmethod
    def forward(ctx, x, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return np.roll(x, shifts, dims)

    @staticmethod
    def backward(ctx, grad):
        back = -ctx.shifts if isinstance(ctx.shifts, int) else tuple(-s for s in ctx.shifts)
        return np.roll(grad, back, ctx.dims), None, None


def roll(input, shifts, dims=None):
    """Shift elements cyclically along ``dims`` (the flattened tensor when ``dims`` is None)."""
    if dims is None:
        if not isinstance(shifts, (int, np.integer)) and len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
        return Roll.apply(input, int(shifts if isinstance(shifts, (int, np.integer)) else shifts[0]), None)
    shifts = (shifts,) if isinstance(shifts, (int, np.integer)) else tuple(shifts)
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    dims = tuple(canonical_dim(d, input._data.ndim, "roll") for d in dims)
    return Roll.apply(input, tuple(int(s) for s in shifts), dims)


class Repeat(Function):
    """y = x tiled ``repeats`` times along each dim.
    Backward: dx = g viewed as (r_0, s_0, r_1, s_1, ...) and summed over the r axes."""

    @staticmethod
    def forward(ctx, x, repeats):
        ctx.in_shape, ctx.repeats = x.shape, repeats
        return np.tile(x, repeats)

    @staticmethod
    def backward(ctx, grad):
        shape = (1,) * (len(ctx.repeats) - len(ctx.in_shape)) + tuple(ctx.in_shape)
        split = [n for pair in zip(ctx.repeats, shape) for n in pair]
        dx = grad.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return dx.reshape(ctx.in_shape), None


def repeat(self, *sizes):
    """Tile the tensor: ``x.repeat(2, 3)`` repeats dim 0 twice and dim 1 three times (like ``numpy.tile``)."""
    sizes = shape_arg(sizes)
    if len(sizes) < self._data.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of "
                           "tensor")
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(sizes)}")
    return Repeat.apply(self, sizes)


def tile(input, *dims):
    """``repeat`` where missing leading repeats count as 1."""
    dims = shape_arg(dims)
    dims = (1,) * (input._data.ndim - len(dims)) + dims
    return repeat(input, dims)


class RepeatInterleave(Function):
    """y = each element of x repeated ``repeats`` times along ``dim``.
    Backward: dx = the sum of the gradients of each element's copies."""

    @staticmethod
    def forward(ctx, x, repeats, dim):
        ctx.in_shape, ctx.repeats, ctx.dim = x.shape, repeats, dim
        return np.repeat(x, repeats, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        n, dim = ctx.in_shape[ctx.dim], ctx.dim
        if isinstance(ctx.repeats, int):
            shape = grad.shape[:dim] + (n, ctx.repeats) + grad.shape[dim + 1:]
            return grad.reshape(shape).sum(axis=dim + 1), None, None
        dx = np.zeros(ctx.in_shape, dtype=grad.dtype)
        np.add.at(dx, (slice(None),) * dim + (np.repeat(np.arange(n), ctx.repeats),), grad)
        return dx, None, None


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element ``repeats`` times (an int, or one count per element) along ``dim``
    (flattened when None). ``repeat_interleave(counts)`` alone gives ``[0]*counts[0] + [1]*counts[1] + ...``."""
    if repeats is None:      # repeat_interleave(repeats): the indices repeated
        counts = _index_array(input, "repeat_interleave")
        return _wrap(np.repeat(np.arange(counts.shape[0]), counts))
    if dim is None:
        input, d = input.reshape(-1), 0
    else:
        d = canonical_dim(dim, input._data.ndim, "repeat_interleave")
    if isinstance(repeats, Tensor) and repeats._data.ndim:
        reps = _index_array(repeats, "repeat_interleave")
        if reps.shape[0] != input._data.shape[d] and reps.shape[0] != 1:
            raise RuntimeError(f"repeats must have the same size as input along dim, but got repeats.size(0) = "
                               f"{reps.shape[0]} and input.size({d}) = {input._data.shape[d]}")
        if reps.shape[0] != 1:
            return RepeatInterleave.apply(input, reps, d)
        repeats = reps[0]
    repeats = int(repeats)
    if repeats < 0:
        raise RuntimeError("repeats can not be negative")
    return RepeatInterleave.apply(input, repeats, d)


# ------------------------------------------------------------------ more joins
def column_stack(tensors):
    """Join along dim 1, 0-D and 1-D tensors becoming columns."""
    return hstack([t.reshape(-1, 1) if t.ndim < 2 else t for t in tensors])


row_stack = vstack


def tensor_split(input, indices_or_sections, dim=0):
    """NumPy's ``array_split``: n nearly equal pieces (the first ``size % n`` one longer) or cuts at indices."""
    d = canonical_dim(dim, input._data.ndim, "tensor_split")
    size = input._data.shape[d]
    if isinstance(indices_or_sections, Tensor):
        indices_or_sections = indices_or_sections.tolist()
    if isinstance(indices_or_sections, (int, np.integer)):
        n = int(indices_or_sections)
        if n <= 0:
            raise RuntimeError(f"tensor_split(): number of sections must be larger than 0, got {n}")
        sizes = [size // n + (1 if i < size % n else 0) for i in range(n)]
        bounds = list(accumulate(sizes[:-1]))
    else:
        bounds = [min(max(int(i) if i >= 0 else int(i) + size, 0), size) for i in indices_or_sections]
    return tuple(as_view(piece, input) for piece in Split.apply(input, bounds, d))


def _split_exact(op, input, sections, dim):
    if isinstance(sections, (int, np.integer)):
        size = input._data.shape[dim]
        if sections == 0 or size % sections:
            raise RuntimeError(f"torch.{op} attempted to split along dimension {dim}, but the size of the dimension "
                               f"{size} is not divisible by the split_size {sections}!")
    return tensor_split(input, sections, dim)


def hsplit(input, sections):
    """Split along dim 1 (dim 0 for 1-D tensors)."""
    return _split_exact("hsplit", input, sections, 1 if input.ndim > 1 else 0)


def vsplit(input, sections):
    """Split along dim 0 (at least 2-D input)."""
    if input.ndim < 2:
        raise RuntimeError(f"torch.vsplit requires a tensor with at least 2 dimension, but got a tensor with "
                           f"{input.ndim} dimensions!")
    return _split_exact("vsplit", input, sections, 0)


def dsplit(input, sections):
    """Split along dim 2 (at least 3-D input)."""
    if input.ndim < 3:
        raise RuntimeError(f"torch.dsplit requires a tensor with at least 3 dimension, but got a tensor with "
                           f"{input.ndim} dimensions!")
    return _split_exact("dsplit", input, sections, 2)


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids: output k varies along dim k (``indexing='xy'`` swaps the first two, like NumPy)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but received: {indexing}")
    sizes = [t.numel() for t in tensors]
    order = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) > 1:
        order[0], order[1] = 1, 0
    shape = [sizes[k] for k in order]
    grids = []
    for i, t in enumerate(tensors):
        view = [1] * len(tensors)
        view[order.index(i)] = -1
        grids.append(t.reshape(view).expand(shape))
    return tuple(grids)


def cartesian_prod(*tensors):
    """All combinations of the 1-D inputs' elements, as rows of an (N, k) tensor."""
    if len(tensors) == 1:
        return tensors[0]
    return stack([g.reshape(-1) for g in meshgrid(*tensors, indexing="ij")], 1)


class BlockDiag(Function):
    """y = the 2-D inputs on the diagonal of a zero matrix.   Backward: dx_i = g's block i."""

    @staticmethod
    def forward(ctx, *xs):
        rows, cols = sum(x.shape[0] for x in xs), sum(x.shape[1] for x in xs)
        out = np.zeros((rows, cols), dtype=np.result_type(*xs))
        ctx.blocks, r, c = [], 0, 0
        for x in xs:
            block = (slice(r, r + x.shape[0]), slice(c, c + x.shape[1]))
            out[block] = x
            ctx.blocks.append(block)
            r, c = r + x.shape[0], c + x.shape[1]
        return out

    @staticmethod
    def backward(ctx, grad):
        return tuple(grad[block] for block in ctx.blocks)


def block_diag(*tensors):
    """A block-diagonal matrix from the inputs (0-D and 1-D inputs count as 1 x n)."""
    tensors = _same_dtype([t.reshape(1, -1) if t.ndim < 2 else t for t in tensors])
    for t in tensors:
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input has "
                               f"{t.ndim} dimensions")
    return BlockDiag.apply(*tensors)


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The (2, N) row/column indices of the lower triangle of a row x col matrix."""
    return _wrap(np.stack(np.tril_indices(row, offset, col)).astype(np.int64 if dtype is None else
                                                                       _dtype.to_dtype(dtype).np))


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The (2, N) row/column indices of the upper triangle of a row x col matrix."""
    return _wrap(np.stack(np.triu_indices(row, offset, col)).astype(np.int64 if dtype is None else
                                                                       _dtype.to_dtype(dtype).np))


class DiagEmbedBatched(Function):
    """y[..., i, i+offset] = x[..., i] in the (dim1, dim2) planes of a new tensor.
    Backward: dx = that diagonal of g."""

    @classmethod
    def name(cls):
        return "DiagEmbedBackward0"

    @staticmethod
    def forward(ctx, x, offset, dim1, dim2):
        n = x.shape[-1] + abs(offset)
        k = np.arange(x.shape[-1])
        ctx.args = (k + max(-offset, 0), k + max(offset, 0), dim1, dim2)
        out = np.zeros(x.shape[:-1] + (n, n), dtype=x.dtype)
        out[..., ctx.args[0], ctx.args[1]] = x
        return np.moveaxis(out, (-2, -1), (dim1, dim2))

    @staticmethod
    def backward(ctx, grad):
        rows, cols, dim1, dim2 = ctx.args
        return np.moveaxis(grad, (dim1, dim2), (-2, -1))[..., rows, cols], None, None, None


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """A tensor whose (dim1, dim2) planes have ``input``'s last dim on their ``offset`` diagonal."""
    nd = input._data.ndim + 1
    d1, d2 = canonical_dim(dim1, nd, "diag_embed"), canonical_dim(dim2, nd, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return DiagEmbedBatched.apply(input, int(offset), d1, d2)


def trace(input):
    """Sum of the main diagonal of a matrix."""
    if input._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input._data.ndim}")
    return diagonal(input).sum()


def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90 degrees k times in the plane ``dims`` (from the first towards the second axis)."""
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    d0, d1 = (canonical_dim(d, input._data.ndim, "rot90") for d in dims)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    k %= 4
    if k == 1:
        return flip(input, d1).transpose(d0, d1)
    if k == 2:
        return flip(input, d0, d1)
    if k == 3:
        return flip(input, d0).transpose(d0, d1)
    return input.clone()


def take(input, index):
    """Elements of the flattened input at ``index`` (the result has index's shape)."""
    idx = _index_array(index, "take")
    size = input._data.size
    if idx.size and (idx.max() >= size or idx.min() < -size):
        raise IndexError(f"out of range: tried to access index {idx.max() if idx.max() >= size else idx.min()} on "
                         f"a tensor of {size} elements.")
    return input.reshape(-1)[_wrap(idx)]


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
            # NOTE: d out / d v = out / v, valid for non-zero v (PyTorch handles zeros separately)
            with np.errstate(divide="ignore", invalid="ignore"):
                dx, dsrc = grad * out / x, (grad * out)[grid] / src
        else:       # amax / amin: the gradient is shared evenly among the values equal to the result
            ties = np.zeros(out.shape, dtype=grad.dtype)
            np.add.at(ties, grid, (src == out[grid]).astype(grad.dtype))
            ties += (x == out) & (ctx.include_self | ~hit)
            share = grad / np.maximum(ties, 1)
            dx, dsrc = share * (x == out), share[grid] * (src == out[grid])
        if not ctx.include_self:
            dx = np.where(hit, 0, dx)
        return dx.astype(grad.dtype, copy=False), None, None, _pad_to(np.asarray(dsrc, dtype=grad.dtype),
                                                                          ctx.src_full_shape), None, None


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


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values (sorted), optionally with the inverse indices and the counts (no gradient)."""
    values, inverse, counts = np.unique(input._data, return_inverse=True, return_counts=True, axis=dim)
    out = [_wrap(values)]
    if return_inverse:
        out.append(_wrap(inverse.reshape(input._data.shape if dim is None else -1).astype(np.int64)))
    if return_counts:
        out.append(_wrap(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


# --------------------------------------------------------------------- in place
def _inplace_versions():
    from .inplace import _make_inplace
    names = {"scatter_": scatter, "scatter_add_": scatter_add, "scatter_reduce_": scatter_reduce, "tril_": tril,
             "triu_": triu, "index_add_": index_add, "index_fill_": index_fill, "index_copy_": index_copy,
             "index_put_": index_put, "masked_scatter_": masked_scatter}
    return {name: _make_inplace(name, fn) for name, fn in names.items()}


globals().update(_inplace_versions())
