"""Joining and splitting (cat/stack/split/chunk ...), triangles and diagonals, flips, rolls and repeats.

Every op here moves or selects elements without computing new values, so each
backward moves the gradient back to where the element came from; where one
input element feeds several outputs (repeat, repeat_interleave), the gradients
of all its copies are summed. The index-driven ops (gather, scatter, masks,
index_*) live in ``indexing.py``.
"""
from itertools import accumulate

import numpy as np

from .. import _dtype
from ..autograd.function import Function
from ..tensor import Tensor, _wrap
from ._util import canonical_dim, shape_arg, normalize_dims, linear_backward
from .shape import as_view
from .indexing import _index_array

__all__ = ["cat", "concat", "concatenate", "stack", "hstack", "vstack", "dstack", "column_stack", "row_stack", "split",
           "chunk", "unbind", "tensor_split", "hsplit", "vsplit", "dsplit", "tril", "triu", "tril_indices",
           "triu_indices", "flip", "fliplr", "flipud", "rot90", "tile", "narrow", "select", "roll", "repeat_interleave",
           "diag", "diagonal", "diag_embed", "trace", "meshgrid", "cartesian_prod", "block_diag"]
METHODS = ["split", "chunk", "unbind", "tensor_split", "hsplit", "vsplit", "dsplit", "tril", "triu", "tril_", "triu_",
           "flip", "fliplr", "flipud", "rot90", "repeat", "tile", "narrow", "select", "roll", "repeat_interleave",
           "diag", "diagonal", "diag_embed", "trace"]


# ----------------------------------------------------------------- joining
class Cat(Function):
    """y = [x_1, x_2, ...] joined along ``dim``.   Backward: dx_i = the slice of g that x_i fills."""

    @staticmethod
    def forward(ctx, dim, *xs, skip=()):
        # skip: positions of the 1-D empty tensors PyTorch leaves out (they still get a gradient, of size 0)
        ctx.dim, ctx.skip = dim, skip
        if skip:
            xs = [x for i, x in enumerate(xs) if i not in skip]
        ctx.bounds = list(accumulate(x.shape[dim] for x in xs[:-1]))   # (np.cumsum costs more for a few numbers)
        return np.concatenate(xs, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        parts = list(np.split(grad, ctx.bounds, axis=ctx.dim))
        for i in ctx.skip:
            parts.insert(i, np.zeros(0, dtype=grad.dtype))
        return (None,) + tuple(parts)

    @staticmethod
    def graph_backward(ctx, grad):
        edges = [0] + list(ctx.bounds) + [grad.shape[ctx.dim]]
        parts = [grad.narrow(ctx.dim, a, b - a) for a, b in zip(edges, edges[1:])]
        for i in ctx.skip:
            parts.insert(i, _wrap(np.zeros(0, dtype=grad._data.dtype)))
        return (None,) + tuple(parts)


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
            raise RuntimeError(f"torch.cat(): zero-dimensional tensor (at position {i}) cannot be concatenated")
    # PyTorch (legacy) skips 1-D empty tensors when joining higher-dimensional ones.
    positions = [i for i, t in enumerate(tensors) if not (t._data.ndim == 1 and t._data.shape[0] == 0)] or [0]
    kept = [tensors[i] for i in positions]
    ref = kept[0]._data.shape
    d = canonical_dim(dim, len(ref), "cat")
    for i in positions[1:]:
        shape = tensors[i]._data.shape
        if len(shape) != len(ref):
            raise RuntimeError(f"torch.cat(): Tensors must have same number of dimensions: got {len(ref)} and {len(shape)}")
        for k, (a, b) in enumerate(zip(ref, shape)):
            if k != d and a != b:
                raise RuntimeError(f"torch.cat(): Sizes of tensors must match except in dimension {d}. Expected size {a} but got "
                                   f"size {b} for tensor number {i} in the list.")
    # NOTE: even one tensor is copied (np.concatenate always copies): cat's result never aliases an input,
    # so an in-place change of it cannot reach the input, as in PyTorch.
    if len(kept) == len(tensors):
        return Cat.apply(d, *_same_dtype(kept))
    # the skipped empty tensors still take part in type promotion and in requires_grad, as in PyTorch
    kept_positions = set(positions)
    return Cat.apply(d, *_same_dtype(tensors), skip=tuple(i for i in range(len(tensors)) if i not in kept_positions))


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

    @staticmethod
    def graph_backward(ctx, grad):
        return (None,) + tuple(grad.select(ctx.dim, i) for i in range(grad.shape[ctx.dim]))


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

    @staticmethod
    def graph_backward(ctx, *grads):
        return cat(grads, ctx.dim), None, None


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

    @staticmethod
    def graph_backward(ctx, *grads):
        return stack(grads, ctx.dim), None


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
    if input._data.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
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

    @staticmethod
    def graph_backward(ctx, grad):
        dim, piece = len(ctx.key) - 1, ctx.key[-1]
        return linear_backward(ctx, grad, lambda g: Narrow.apply(g, dim, piece.start, piece.stop - piece.start)), \
            None, None, None

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

    @staticmethod
    def graph_backward(ctx, grad):
        dim, index = len(ctx.key) - 2, ctx.key[-2]
        return linear_backward(ctx, grad, lambda g: Select.apply(g, dim, index)), None, None


def select(input, dim, index):
    """The slice at ``index`` along ``dim``, with that dim removed: ``x.select(1, 0)`` is ``x[:, 0]``."""
    d = canonical_dim(dim, input._data.ndim, "select")
    size = input._data.shape[d]
    index = int(index)
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(input.shape)} at "
                         f"dimension {dim}")
    return as_view(Select.apply(input, d, index % size), input)


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

    @staticmethod
    def graph_backward(ctx, grad):
        return Tril.apply(grad, ctx.diagonal), None


class Triu(Function):
    """y = x with entries below the ``diagonal`` zeroed (last two dims).   Backward: dx = triu(g)."""

    @staticmethod
    def forward(ctx, x, diagonal):
        ctx.diagonal = diagonal
        return np.triu(x, diagonal)

    @staticmethod
    def backward(ctx, grad):
        return np.triu(grad, ctx.diagonal), None

    @staticmethod
    def graph_backward(ctx, grad):
        return Triu.apply(grad, ctx.diagonal), None


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

    @staticmethod
    def graph_backward(ctx, grad):
        # (the copy, not the view: a gradient never aliases another)
        return linear_backward(ctx, grad, lambda g: DiagonalCopy.apply(g, *ctx.args)), None, None, None


class DiagonalCopy(Diagonal):
    """``Diagonal`` into new memory: ``diag`` of a matrix copies in PyTorch (``diagonal`` is the view)."""

    @staticmethod
    def forward(ctx, x, offset, dim1, dim2):
        ctx.in_shape, ctx.args = x.shape, (offset, dim1, dim2)
        return np.diagonal(x, offset, dim1, dim2).copy()


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

    @staticmethod
    def graph_backward(ctx, grad):
        return linear_backward(ctx, grad, lambda g: DiagEmbed.apply(g, ctx.offset)), None


def diag(input, diagonal=0):
    """1-D input: a matrix with it on the ``diagonal``; 2-D input: that diagonal as 1-D."""
    if input._data.ndim == 1:
        return DiagEmbed.apply(input, int(diagonal))
    if input._data.ndim == 2:
        return DiagonalCopy.apply(input, int(diagonal), 0, 1)
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

    @staticmethod
    def graph_backward(ctx, grad):
        return Flip.apply(grad, ctx.dims), None


def flip(input, *dims, **kwargs):
    """Reverse the order of elements along ``dims`` (positional or ``dims=``)."""
    if kwargs:
        dims = (kwargs.pop("dims"),)
    dims = shape_arg(dims)
    dims = normalize_dims(dims, input._data.ndim, "flip") if dims else ()
    # a 0-d tensor accepts dim 0 / -1 as in PyTorch, and has no axis to reverse
    return Flip.apply(input, dims if input._data.ndim else ())


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

    @staticmethod
    def graph_backward(ctx, grad):
        back = -ctx.shifts if isinstance(ctx.shifts, int) else tuple(-s for s in ctx.shifts)
        return Roll.apply(grad, back, ctx.dims), None, None


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

    @staticmethod
    def graph_backward(ctx, grad):
        shape = (1,) * (len(ctx.repeats) - len(ctx.in_shape)) + tuple(ctx.in_shape)
        split = [n for pair in zip(ctx.repeats, shape) for n in pair]
        return grad.reshape(split).sum(dim=tuple(range(0, len(split), 2))).reshape(ctx.in_shape), None


def repeat(self, *sizes, **kwargs):
    """Tile the tensor: ``x.repeat(2, 3)`` repeats dim 0 twice and dim 1 three times (like ``numpy.tile``)."""
    if kwargs:
        sizes = (kwargs.pop("repeats"),)
    sizes = shape_arg(sizes)
    if len(sizes) < self._data.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of "
                           "tensor")
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(sizes)}")
    return Repeat.apply(self, sizes)


def tile(input, *dims, **kwargs):
    """``repeat`` where missing leading repeats count as 1."""
    if kwargs:
        dims = (kwargs.pop("dims"),)
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

    @staticmethod
    def graph_backward(ctx, grad):
        return linear_backward(ctx, grad, lambda g: RepeatInterleave.apply(g, ctx.repeats, ctx.dim)), None, None


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

    @staticmethod
    def graph_backward(ctx, grad):
        from .indexing import Slice
        return tuple(Slice.apply(grad, block, False) for block in ctx.blocks)


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

    @staticmethod
    def graph_backward(ctx, grad):
        rows, cols, dim1, dim2 = ctx.args
        # the offset back from the diagonal's positions (an empty diagonal: only the planes' size matters)
        offset = int(cols[0] - rows[0]) if rows.size else ctx._out_shape[dim1]
        return linear_backward(ctx, grad, lambda g: DiagEmbedBatched.apply(g, offset, dim1, dim2)), None, None, None


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


# --------------------------------------------------------------------- in place
def _inplace_versions():
    from .inplace import _make_inplace
    return {"tril_": _make_inplace("tril_", tril), "triu_": _make_inplace("triu_", triu)}


globals().update(_inplace_versions())
