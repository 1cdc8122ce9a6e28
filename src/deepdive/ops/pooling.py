"""Pooling: max / average over sliding windows, and their adaptive forms.

Max pooling takes the max over the kernel offsets (each a strided view of the
padded input) and the first offset reaching it; backward scatters each
window's gradient to that pixel. Adaptive max pooling does the same over an
index table of variable-size windows (backward: a bincount). Average pooling
adds the offsets' strided views; its backward is col2im of the spread
gradient. Adaptive average pooling is the separable 'area' matrix of
``ops/upsample.py``.

Spatial axes are the last one (1-D) or two (2-D); every leading axis is a batch
axis, so (N, C, H, W) and unbatched (C, H, W) inputs run the same code.
"""
import math
from functools import lru_cache

import numpy as np

from ..autograd.function import Function
from ._util import linear_backward
from ..tensor import _wrap
from .conv import im2col, col2im, pad2d, crop2d, _tuple
from .upsample import Resample2d, area_matrix

__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "adaptive_avg_pool1d", "adaptive_max_pool1d"]
# (max_unpool*, avg_pool2d and adaptive_*2d live in nn.functional only, as in PyTorch)
METHODS = []


def pool_output_size(size, kernel, stride, pad, dilation, ceil_mode):
    """PyTorch's pooling_output_shape: floor (or ceil) of the window count, and in
    ceil mode the last window must start inside the input or the left padding."""
    out = (size + 2 * pad - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


# ---------------------------------------------------------------- max pooling
def running_max(slabs, check_nan):
    """Elementwise max over the K window offsets (each slab is one offset for every window) and the
    first offset reaching it, as PyTorch's scan ``if (v > best || isnan(v))`` picks it.

    NOTE: a max reduction followed by "first slab equal to the max", in branch-free SIMD ops
    (maximum, ==, &, +), is several times faster than ``argmax`` over a length-K axis (a tiny
    reduction per window) or ``np.where`` on a random mask. NaN needs PyTorch's scan exactly
    (the last NaN wins), so inputs holding NaN take that slower path.
    """
    if check_nan:
        return _scan_max(slabs)
    best = slabs[0] if len(slabs) > 1 else slabs[0].copy()      # a 1x1 window is a view of the input
    for value in slabs[1:]:
        best = np.maximum(best, value)
    dtype = np.uint8 if len(slabs) < 256 else np.int64
    first = np.zeros(best.shape, dtype=dtype)
    found = slabs[0] == best
    for k in range(1, len(slabs)):
        equal = slabs[k] == best
        first += np.greater(equal, found).astype(dtype) * dtype(k)      # equal and not found before
        found |= equal
    return best, first


def _scan_max(slabs):
    best = slabs[0].copy()
    first = np.zeros(best.shape, dtype=np.uint8 if len(slabs) < 256 else np.int64)
    for k in range(1, len(slabs)):
        value = slabs[k]
        better = (value > best) | np.isnan(value)
        best = np.where(better, value, best)
        np.copyto(first, k, where=better)
    return best, first


class MaxPool(Function):
    """y[m, y, x] = max_{i, j} x_pad[m, y*sh + i*dh, x*sw + j*dw]  (padding = -inf).

    The window offsets (i, j) are strided views of the padded input, one per offset.
    Backward: each window's gradient goes to its first maximum, dx[T[w, argmax_w]] += g[w], with
    T the window's flat pixel indices (a scatter, or a bincount where windows overlap).
    Returns (values, flat indices into H*W) (the indices are PyTorch's return_indices).
    ``x`` runs as (M, 1, H, W) (all leading axes are batch axes).
    """

    @staticmethod
    def forward(ctx, x, geometry, want_indices):
        x_shape4, kernel, stride, dilation, pads, out_hw, out_shape, table = geometry
        fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        view = im2col(pad2d(x.reshape(x_shape4), pads, fill), kernel, stride, dilation, out_size=out_hw)[:, 0]
        slabs = [view[:, i, j] for i in range(kernel[0]) for j in range(kernel[1])]
        best, first = running_max(slabs, _may_hold_nan(x))
        ctx.x_shape, ctx.geometry, ctx.first = x.shape, geometry, first
        if not want_indices:
            return best.reshape(out_shape)
        # table[p, k] is the flat H*W index of offset k of window p (padding slots: the window's first pixel)
        indices = _flat_indices(table, first.reshape(x_shape4[0], table.shape[0]))
        return best.reshape(out_shape), indices.reshape(out_shape)

    @staticmethod
    def backward(ctx, grad, grad_indices=None):
        x_shape4, kernel, stride, dilation, pads, out_hw, _, table = ctx.geometry
        M, HW = x_shape4[0], x_shape4[2] * x_shape4[3]
        target = _flat_indices(table, ctx.first.reshape(M, table.shape[0]))
        target += (np.arange(M) * HW)[:, None]
        if all(s >= d * (k - 1) + 1 for s, k, d in zip(stride, kernel, dilation)):
            # NOTE: windows that do not overlap own distinct pixels: a plain scatter (no sums) suffices.
            dx = np.zeros(M * HW, dtype=grad.dtype)
            dx[target.reshape(-1)] = grad.reshape(-1)
        else:
            dx = np.bincount(target.reshape(-1), weights=grad.reshape(-1), minlength=M * HW).astype(grad.dtype)
        return dx.reshape(ctx.x_shape), None, None

    @staticmethod
    def graph_backward(ctx, grad, *_):
        # linear in g with the argmax fixed: its adjoint picks each window's maximum out of gg
        x_shape4, _, _, _, _, _, out_shape, table = ctx.geometry
        M, HW = x_shape4[0], x_shape4[2] * x_shape4[3]
        target = _flat_indices(table, ctx.first.reshape(M, table.shape[0])) + (np.arange(M) * HW)[:, None]
        return linear_backward(ctx, grad, lambda g: g.reshape(-1)[target.reshape(-1)].reshape(out_shape)), None, None


def _flat_indices(table, first):
    """table[p, first[m, p]] for every window: the flat H*W index of each window's maximum."""
    P, K = table.shape
    return np.take(table.reshape(-1), first + (np.arange(P) * K))


def _may_hold_nan(x):
    """NaN anywhere in x? One fast reduction (a sum is NaN if any term is; inf - inf also answers yes,
    which only costs the slower NaN-aware scan)."""
    return x.dtype.kind == "f" and not np.isfinite(np.add.reduce(x, axis=None))


class AdaptiveMaxPool(Function):
    """y[m, p] = max_k x[m, T[p, k]] over a flat index table T (P, K) of variable-size windows.

    Backward: dx[m, T[p, argmax_k]] += g[m, p] (a bincount). Returns (values, flat indices into H*W).
    """

    @staticmethod
    def forward(ctx, x, table, out_shape, spatial_size):
        flat = x.reshape(-1, spatial_size)
        slabs = [np.take(flat, table[:, k], axis=1) for k in range(table.shape[1])]
        best, first = running_max(slabs, _may_hold_nan(x))
        indices = _flat_indices(table, first)
        ctx.x_shape, ctx.indices, ctx.spatial_size = x.shape, indices, spatial_size
        return best.reshape(out_shape), indices.reshape(out_shape)

    @staticmethod
    def backward(ctx, grad, grad_indices=None):
        M, P = ctx.indices.shape
        hw = ctx.spatial_size
        target = (np.arange(M) * hw)[:, None] + ctx.indices
        dx = np.bincount(target.ravel(), weights=grad.reshape(-1), minlength=M * hw)
        return dx.astype(grad.dtype, copy=False).reshape(ctx.x_shape), None, None, None

    @staticmethod
    def graph_backward(ctx, grad, *_):
        # linear in g with the argmax fixed: its adjoint picks each window's maximum out of gg
        target = ((np.arange(ctx.indices.shape[0]) * ctx.spatial_size)[:, None] + ctx.indices).reshape(-1)
        out_shape = grad.shape
        return linear_backward(ctx, grad, lambda g: g.reshape(-1)[target].reshape(out_shape)), None, None, None


@lru_cache(maxsize=128)
def max_pool_table(size, kernel, stride, padding, dilation, ceil_mode):
    """Flat index table (P, K) of each window's pixels; out-of-image slots repeat the
    window's first in-image pixel (never changes the max, keeps PyTorch's first-max index)."""
    (H, W), (kh, kw), (sh, sw), (ph, pw), (dh, dw) = size, kernel, stride, padding, dilation
    oh = pool_output_size(H, kh, sh, ph, dh, ceil_mode)
    ow = pool_output_size(W, kw, sw, pw, dw, ceil_mode)
    rows = (np.arange(oh) * sh - ph)[:, None, None, None] + (np.arange(kh) * dh)[None, None, :, None]
    cols = (np.arange(ow) * sw - pw)[None, :, None, None] + (np.arange(kw) * dw)[None, None, None, :]
    rows, cols = np.broadcast_arrays(rows, cols)
    rows = rows.reshape(oh * ow, kh * kw)
    cols = cols.reshape(oh * ow, kh * kw)
    inside = (rows >= 0) & (rows < H) & (cols >= 0) & (cols < W)
    table = rows * W + cols
    first = table[np.arange(oh * ow), inside.argmax(axis=1)]
    table = np.where(inside, table, first[:, None])
    table.setflags(write=False)
    return table, (oh, ow)


def _pool_args(name, n, input, kernel_size, stride, padding, dilation):
    x = input._data
    if x.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"{name}: Expected {n + 1}D or {n + 2}D (batch mode) tensor for input, but got input of "
                           f"size: [{', '.join(map(str, x.shape))}]")
    if 0 in x.shape[x.ndim - n - 1:]:          # only the batch may be empty, as in PyTorch
        raise RuntimeError(f"{name}: Expected {n + 1}D or {n + 2}D (batch mode) tensor with optional 0 dim batch "
                           f"size for input, but got:[{', '.join(map(str, x.shape))}]")
    kernel = _tuple(kernel_size, n, "kernel_size")
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) \
        else _tuple(stride, n, "stride")
    padding, dilation = _tuple(padding, n, "padding"), _tuple(dilation, n, "dilation")
    if min(kernel) <= 0 or min(stride) <= 0 or min(dilation) <= 0:
        raise RuntimeError(f"{name}: kernel_size, stride and dilation must be greater than zero, but got "
                           f"kernel_size={kernel}, stride={stride}, dilation={dilation}")
    if n == 1:
        kernel, stride, padding, dilation = (1,) + kernel, (1,) + stride, (0,) + padding, (1,) + dilation
    return x, kernel, stride, padding, dilation


def _check_output(x_shape, n, out_hw, name="pool"):
    if min(out_hw) < 1:
        in_desc = "x".join(map(str, x_shape[-n - 1:]))
        out_desc = "x".join(map(str, x_shape[-n - 1:-n] + tuple(out_hw[-n:])))
        raise RuntimeError(f"{name}: Given input size: ({in_desc}). Calculated output size: ({out_desc}). "
                           "Output size is too small")


def _max_pool(name, n, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x, kernel, stride, padding, dilation = _pool_args(name, n, input, kernel_size, stride, padding, dilation)
    for p, k, d in zip(padding, kernel, dilation):
        if p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={p}, "
                               f"kernel_size={k} and dilation={d}")
    size = (1,) + x.shape[-1:] if n == 1 else x.shape[-2:]
    table, out_hw = max_pool_table(size, kernel, stride, padding, dilation, bool(ceil_mode))
    _check_output(x.shape, n, out_hw, name)
    out_shape = x.shape[:-n] + out_hw[-n:]
    # ceil_mode's last window may run past the right padding: pad (with -inf) far enough for it.
    extra = [max(p, (o - 1) * st + d * (k - 1) + 1 - s - p)
             for s, k, st, p, d, o in zip(size, kernel, stride, padding, dilation, out_hw)]
    x_shape4 = (math.prod(x.shape[:-n]), 1) + size
    geometry = (x_shape4, kernel, stride, dilation, (padding[0], extra[0], padding[1], extra[1]), out_hw, out_shape,
                table)
    out = MaxPool.apply(input, geometry, bool(return_indices))
    return (out[0], _no_graph(out[1])) if return_indices else out


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """y[n, c, t] = max_j x_pad[n, c, t*s + j*d]  (padding is -inf). Input (N, C, L) or (C, L).

    Args: stride defaults to kernel_size; ceil_mode rounds the window count up;
    return_indices also returns each max's flat index into L (for max_unpool1d).
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """y[n, c, y, x] = max_{i, j} x_pad[n, c, y*sh + i*dh, x*sw + j*dw]  (padding is -inf).

    Shape: (N, C, H, W) or (C, H, W) -> (..., H_out, W_out),
    H_out = floor((H + 2p - d*(k-1) - 1)/s) + 1 (ceil with ceil_mode).
    Args: stride defaults to kernel_size; return_indices also returns the argmax
    positions as flat indices into H*W (int64), as PyTorch does.
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


# ---------------------------------------------------------------- average pooling
class AvgPool(Function):
    """y = sum over each window of x_pad, / divisor (per output position).

    Backward: col2im of g / divisor spread over every window (zero-padding cropped away).
    ``x`` is canonical (M, 1, H, W).
    """

    @staticmethod
    def forward(ctx, x, kernel, stride, pads, out_hw, divisor, out_shape, x_shape4):
        view = im2col(pad2d(x.reshape(x_shape4), pads), kernel, stride, (1, 1), out_size=out_hw)
        # NOTE: kh*kw adds of strided slabs; NumPy's sum over the two small window axes of a strided
        # view runs one tiny reduction per window and is several times slower.
        total = view[:, :, 0, 0].copy()
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                if i or j:
                    total += view[:, :, i, j]
        ctx.args = (x.shape, x_shape4, kernel, stride, pads, divisor, view.shape)
        ctx.call = (kernel, stride, pads, out_hw, divisor, out_shape, x_shape4)      # for create_graph
        return (total / divisor).astype(x.dtype, copy=False).reshape(out_shape)

    @staticmethod
    def backward(ctx, grad):
        x_shape, x_shape4, kernel, stride, pads, divisor, view_shape = ctx.args
        share = (grad.reshape(view_shape[:2] + view_shape[4:]) / divisor).astype(grad.dtype, copy=False)
        cols = np.broadcast_to(share[:, :, None, None], view_shape)
        padded = (x_shape4[2] + pads[0] + pads[1], x_shape4[3] + pads[2] + pads[3])
        dx = crop2d(col2im(cols, padded, stride, (1, 1)), pads, x_shape4[2:])
        return dx.reshape(x_shape), None, None, None, None, None, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        return (linear_backward(ctx, grad, lambda g: AvgPool.apply(g, *ctx.call)),) + (None,) * 7


def _avg_divisor(size, kernel, stride, pad, out, count_include_pad):
    """Per-output window size along one axis: with padding (clipped to input + pad) or valid pixels only."""
    start = np.arange(out) * stride - pad
    end = np.minimum(start + kernel, size + pad)
    with_pad = end - start
    valid = np.minimum(end, size) - np.maximum(start, 0)
    return with_pad if count_include_pad else valid


def _avg_pool(name, n, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    x, kernel, stride, padding, _ = _pool_args(name, n, input, kernel_size, stride, padding, 1)
    for p, k in zip(padding, kernel):
        if p > k // 2:
            raise RuntimeError(f"pad should be at most half of kernel size, but got pad={p} and kernel_size={k}")
    size = (1,) + x.shape[-1:] if n == 1 else x.shape[-2:]
    out_hw = tuple(pool_output_size(s, k, st, p, 1, ceil_mode) for s, k, st, p in zip(size, kernel, stride, padding))
    _check_output(x.shape, n, out_hw, name)
    if divisor_override:
        divisor = float(divisor_override)
    else:
        rows = _avg_divisor(size[0], kernel[0], stride[0], padding[0], out_hw[0], count_include_pad)
        cols = _avg_divisor(size[1], kernel[1], stride[1], padding[1], out_hw[1], count_include_pad)
        divisor = (rows[:, None] * cols[None, :]).astype(x.dtype)
    # ceil_mode's last window may run past the right padding: pad enough for it (it is excluded from the divisor).
    extra = [max(p, (o - 1) * st + k - s - p) for s, k, st, p, o in zip(size, kernel, stride, padding, out_hw)]
    pads = (padding[0], extra[0], padding[1], extra[1])
    x_shape4 = (math.prod(x.shape[:-n]), 1) + size
    out_shape = x.shape[:-n] + out_hw[-n:]
    return AvgPool.apply(input, kernel, stride, pads, out_hw, divisor, out_shape, x_shape4)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """y[n, c, t] = mean_j x_pad[n, c, t*s + j]. Input (N, C, L) or (C, L); stride defaults to kernel_size."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """y[n, c, y, x] = (1/D) sum_{i, j} x_pad[n, c, y*sh + i, x*sw + j].

    D = kh*kw (count_include_pad=True: padding counts, the ceil_mode overhang does not),
    the number of input pixels in the window (count_include_pad=False), or divisor_override.
    Shape: (N, C, H, W) or (C, H, W) -> (..., H_out, W_out).
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


# ---------------------------------------------------------------- adaptive pooling
def _adaptive_size(name, n, x, output_size, mean_ok=False):
    if x.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"{name}(): Expected {n + 1}D or {n + 2}D tensor, but got {list(x.shape)}")
    size = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * n
    if len(size) != n:
        raise ValueError(f"{name}: output_size must be {n} integers, got {output_size}")
    size = tuple(int(x.shape[-n + k]) if s is None else int(s) for k, s in enumerate(size))
    if mean_ok and size == (1,) * n:
        return None                 # the caller takes the mean: PyTorch's path for output size 1 (NaN if empty)
    if min(size) < 0 or (min(x.shape[-n:]) == 0):
        raise RuntimeError(f"{name}: elements of output_size must be >= 0 and the input non-empty, "
                           f"got output_size={size} for input {list(x.shape)}")
    return size


def adaptive_avg_pool1d(input, output_size):
    """Average over L_out windows [floor(i*L/L_out), ceil((i+1)*L/L_out)). Input (N, C, L) or (C, L)."""
    size = _adaptive_size("adaptive_avg_pool1d", 1, input._data, output_size, mean_ok=not input._data.shape[-1])
    if size is None:
        return input.mean(dim=-1, keepdim=True)
    (out,) = size
    return Resample2d.apply(input, None, area_matrix(input._data.shape[-1], out))


def adaptive_avg_pool2d(input, output_size):
    """Average over windows rows [floor(i*H/H_out), ceil((i+1)*H/H_out)) x the same for columns.

    Separable, so it runs as y = A_h @ x @ A_w^T (see ops/upsample.py). output_size: int or
    (H_out, W_out), None keeping the input size.
    """
    size = _adaptive_size("adaptive_avg_pool2d", 2, input._data, output_size,
                          mean_ok=not min(input._data.shape[-2:], default=1))
    if size is None:
        return input.mean(dim=(-2, -1), keepdim=True)
    oh, ow = size
    H, W = input._data.shape[-2:]
    return Resample2d.apply(input, area_matrix(H, oh), area_matrix(W, ow))


@lru_cache(maxsize=128)
def adaptive_max_table(size, out):
    """Index table (P, K) for adaptive windows over the axes of ``size`` (1 to 3; flat indices, the last
    axis fastest): short windows repeat their first pixel."""

    def axis(n_in, n_out):
        i = np.arange(n_out)
        start, end = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
        width = int((end - start).max())
        idx = start[:, None] + np.arange(width)[None, :]
        return np.where(idx < end[:, None], idx, start[:, None])

    table = np.zeros((1, 1), dtype=np.int64)
    for n_in, n_out in zip(size, out):          # (windows, offsets) x this axis -> both in row-major order
        table = (table[:, None, :, None] * n_in + axis(n_in, n_out)[None, :, None, :])
        table = table.reshape(table.shape[0] * table.shape[1], -1)
    table.setflags(write=False)
    return table


def _adaptive_max(name, n, input, output_size, return_indices):
    x = input._data
    out = _adaptive_size(name, n, x, output_size)
    size = (1,) + x.shape[-1:] if n == 1 else x.shape[-2:]
    out2 = (1,) + out if n == 1 else out
    values, indices = AdaptiveMaxPool.apply(input, adaptive_max_table(size, out2), x.shape[:-n] + out,
                                            size[0] * size[1])
    return (values, _no_graph(indices)) if return_indices else values


def _no_graph(indices):
    """Pooling indices are integers: no grad_fn and requires_grad=False, as in PyTorch."""
    return _wrap(indices._data) if indices.requires_grad else indices


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max over L_out adaptive windows (see adaptive_avg_pool1d). Input (N, C, L) or (C, L)."""
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over the adaptive windows of adaptive_avg_pool2d; return_indices gives flat indices into H*W."""
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


# ---------------------------------------------------------------- unpooling
class MaxUnpool(Function):
    """y[m, indices[m, p]] = x[m, p] in a zero image of H_out*W_out pixels (the inverse of max pooling's
    scatter).   Backward: dx[m, p] = g[m, indices[m, p]]."""

    @staticmethod
    def forward(ctx, x, indices, out_shape):
        M = math.prod(out_shape[:-2]) if len(out_shape) > 2 else 1
        size, pooled = out_shape[-2] * out_shape[-1], x.shape[-1] * (x.shape[-2] if x.ndim > 1 else 1)
        if len(out_shape) == x.ndim + 1:               # 1-D unpooling runs as (..., 1, L)
            pooled = x.shape[-1]
        flat = indices.reshape(M, pooled)
        out = np.zeros((M, size), dtype=x.dtype)
        np.put_along_axis(out, flat, x.reshape(M, pooled), axis=1)
        ctx.flat, ctx.x_shape, ctx.size = flat, x.shape, size
        return out.reshape(out_shape)

    @staticmethod
    def backward(ctx, grad):
        g = grad.reshape(ctx.flat.shape[0], ctx.size)
        return np.take_along_axis(g, ctx.flat, axis=1).reshape(ctx.x_shape), None, None

    @staticmethod
    def graph_backward(ctx, grad):
        # linear in x: the adjoint of the gather is the unpooling scatter itself, applied to gg
        return linear_backward(ctx, grad, lambda g: MaxUnpool.apply(g, ctx.flat, grad.shape)), None, None


def _max_unpool(name, n, input, indices, kernel_size, stride, padding, output_size):
    x = input._data
    kernel = _tuple(kernel_size, n, "kernel_size")
    stride = kernel if stride is None else _tuple(stride, n, "stride")
    padding = _tuple(padding, n, "padding")
    if x.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"{name}: Expected {n + 1}D or {n + 2}D input, got input of size {list(x.shape)}")
    if tuple(indices.shape) != tuple(x.shape):
        raise RuntimeError(f"{name}: Expected shape of indices to be same as that of the input tensor "
                           f"({list(x.shape)}) but got indices tensor with shape: {list(indices.shape)}")
    default = tuple((s - 1) * st - 2 * p + k for s, st, p, k in zip(x.shape[-n:], stride, padding, kernel))
    size = default if output_size is None else tuple(int(v) for v in tuple(output_size)[-n:])
    idx = indices._data
    if idx.size and (idx.min() < 0 or idx.max() >= math.prod(size)):
        raise RuntimeError(f"{name}: Found an invalid max index: {int(idx.max() if idx.max() >= 0 else idx.min())} "
                           f"(output volumes are of size {'x'.join(map(str, size))})")
    if n == 3:          # runs as 2-D unpooling of (D*H, W) planes: the flat indices are the same
        lead = x.shape[:-3]
        out = MaxUnpool.apply(input.reshape(lead + (-1, x.shape[-1])), idx.reshape(lead + (-1, x.shape[-1])),
                              lead + (size[0] * size[1], size[2]))
        return out.reshape(lead + size)
    out_shape = x.shape[:-n] + ((1,) + size if n == 1 else size)
    out = MaxUnpool.apply(input, idx, out_shape)
    return out.reshape(x.shape[:-n] + size) if n == 1 else out


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Put each value back at the index max_pool1d(return_indices=True) gave it; zeros elsewhere."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool2d: values back at their flat H*W ``indices``, zeros elsewhere.

    Output H_out = (H - 1)*stride - 2*padding + kernel_size unless ``output_size`` is given.
    """
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool3d: values back at their flat D*H*W ``indices``, zeros elsewhere;
    D_out = (D - 1)*stride - 2*padding + kernel_size (likewise H, W) unless ``output_size`` is given."""
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size)
