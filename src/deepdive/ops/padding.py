"""``F.pad``: constant, reflect, replicate and circular padding of the last axes.

``pad`` lists (left, right) pairs starting from the LAST axis, as in PyTorch:
(1, 2) pads the last axis, (1, 2, 3, 4) the last two (left, right, top, bottom).
Negative amounts crop.

Constant padding copies x into a filled array (backward: the matching slice of g).
The other modes read every output position from an input position along each
axis (reflect: mirror without repeating the edge; replicate: the edge; circular:
wrap around), so each axis is a gather with an index map; backward sums the
gradient back with the same map (a one-hot matrix product per axis).
"""
import numpy as np

from ..autograd.function import Function
from ._util import linear_backward

__all__ = ["constant_pad_nd"]
METHODS = []


class ConstantPad(Function):
    """y = x placed inside an array filled with ``value`` (negative pads crop).   Backward: dx = g[inner slice]."""

    @staticmethod
    def forward(ctx, x, pairs, value):
        out_shape, src, dst = _constant_geometry(x.shape, pairs)
        out = np.full(out_shape, value, dtype=x.dtype)
        out[dst] = x[src]
        ctx.geometry, ctx.pairs = (x.shape, src, dst), pairs
        return out

    @staticmethod
    def backward(ctx, grad):
        x_shape, src, dst = ctx.geometry
        if all(s == slice(None) for s in src):
            return np.ascontiguousarray(grad[dst]), None, None
        dx = np.zeros(x_shape, dtype=grad.dtype)
        dx[src] = grad[dst]
        return dx, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        return linear_backward(ctx, grad, lambda g: ConstantPad.apply(g, ctx.pairs, 0)), None, None


def _constant_geometry(shape, pairs):
    """Output shape and the (source, destination) slices for per-axis (before, after) pads."""
    lead = len(shape) - len(pairs)
    out_shape, src, dst = list(shape[:lead]), [slice(None)] * lead, [slice(None)] * lead
    for size, (before, after) in zip(shape[lead:], pairs):
        out_shape.append(size + before + after)
        src.append(slice(max(-before, 0), size - max(-after, 0)))
        dst.append(slice(max(before, 0), max(before, 0) + size - max(-before, 0) - max(-after, 0)))
    return tuple(out_shape), tuple(src), tuple(dst)


class IndexPad(Function):
    """y = x gathered along each padded axis with an index map idx_a (reflect / replicate / circular).

    Backward, per axis: dx[..., j] = sum_{i: idx_a[i] = j} g[..., i]   (a one-hot matrix product).
    """

    @staticmethod
    def forward(ctx, x, maps):
        ctx.maps, ctx.x_shape = maps, x.shape
        for axis, idx in maps:
            x = np.take(x, idx, axis=axis)
        return x

    @staticmethod
    def backward(ctx, grad):
        for axis, idx in reversed(ctx.maps):
            size = ctx.x_shape[axis]
            one_hot = np.zeros((idx.size, size), dtype=grad.dtype)
            one_hot[np.arange(idx.size), idx] = 1
            grad = np.moveaxis(np.matmul(np.moveaxis(grad, axis, -1), one_hot), -1, axis)
        return np.ascontiguousarray(grad), None

    @staticmethod
    def graph_backward(ctx, grad):
        # linear in x: the adjoint of the one-hot sums is the gather itself, applied to gg
        return linear_backward(ctx, grad, lambda g: IndexPad.apply(g, ctx.maps)), None


def _index_map(mode, size, before, after, axis_desc):
    positions = np.arange(-before, size + after)
    if mode == "reflect":
        if before >= size or after >= size:
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                               f"but got: padding ({before}, {after}) at {axis_desc}")
        period = 2 * (size - 1) if size > 1 else 1
        positions = np.abs(positions) % period
        return np.where(positions >= size, period - positions, positions)
    if mode == "replicate":
        if size == 0:
            raise RuntimeError(f"padding of an empty dimension is not possible ({axis_desc})")
        return np.clip(positions, 0, size - 1)
    if before > size or after > size:
        raise RuntimeError(f"Padding value causes wrapping around more than once ({axis_desc}: padding "
                           f"({before}, {after}), size {size})")
    return positions % size


def pad(input, pad, mode="constant", value=None):
    """Pad the last len(pad)//2 axes of ``input`` (PyTorch's ``F.pad``).

    Args:
        pad: (left, right[, top, bottom[, front, back]]) starting from the last axis; negative crops.
        mode: 'constant' (any number of axes, filled with ``value``, default 0), 'reflect',
            'replicate' or 'circular' (the last 1-3 axes of a batched or unbatched input).
    """
    x = input._data
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    n = len(pad) // 2
    if n > x.ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input dimension but got "
                           f"padding length {len(pad)} and input of dimension {x.ndim}")
    pairs = tuple((pad[2 * k], pad[2 * k + 1]) for k in range(n))[::-1]   # first axis first
    if mode == "constant":
        for size, (before, after) in zip(x.shape[x.ndim - n:], pairs):
            if size + before + after < 0:
                raise RuntimeError(f"The input size {size}, plus negative padding {before} and {after} resulted in "
                                   f"a negative output size, which is invalid. Check dimension of your input.")
        return ConstantPad.apply(input, pairs, 0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value:
        raise ValueError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if n > 3 or x.ndim not in (n + 1, n + 2):
        raise NotImplementedError(f"Padding size {len(pad)} is not supported for {x.ndim}D input tensor.\n"
                                  "Supported combinations for non-constant padding:\n"
                                  "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
                                  "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
                                  "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    maps = []
    for k, (before, after) in enumerate(pairs):
        axis = x.ndim - n + k
        idx = _index_map(mode, x.shape[axis], before, after, f"dimension {axis} of input {list(x.shape)}")
        maps.append((axis, idx))
    return IndexPad.apply(input, tuple(maps))


def constant_pad_nd(input, pad, value=0):
    """``torch.constant_pad_nd``: F.pad in constant mode."""
    return globals()["pad"](input, pad, "constant", value)
