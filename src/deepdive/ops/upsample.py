"""Resampling: ``interpolate`` (nearest, nearest-exact, linear, bilinear, area), axis by axis.

Every mode resamples each spatial axis independently. Nearest and (bi)linear read
each output from one or two source positions along an axis ("taps")::

    y[..., i] = (1 - t_i) x[..., i0_i] + t_i x[..., i1_i]          (nearest: t = 0)
    backward:  dx[..., j] = sum_{i: i0_i = j} (1 - t_i) g[..., i] + sum_{i: i1_i = j} t_i g[..., i]

a gather forward and, because the source indices never decrease along the
output, segment sums (``np.add.reduceat``) backward: O(output) work either way.
Area resampling (= adaptive average pooling) averages whole windows, so it is a
small matrix per axis, y = A_h @ x @ A_w^T, run in BLAS; adaptive_avg_pool
reuses it.
"""
import math
from functools import lru_cache

import numpy as np

from ..autograd.function import Function
from ._util import linear_backward

__all__ = []
METHODS = []


def _window_matmul(x, weights):
    """x @ weights.T over the last axis, where a zero weight means "outside the window".

    NOTE: a plain matmul multiplies every element outside a window by 0, and 0 * inf is NaN: an inf in one
    window would poison its neighbours (PyTorch averages each window alone). Non-finite inputs take the slow
    path, which adds only the in-window terms.
    """
    y = np.matmul(x, weights.T)
    if np.isfinite(y).all():
        return y
    finite = np.isfinite(x)
    y = np.matmul(np.where(finite, x, 0), weights.T)
    special = np.where(finite, 0, x)[..., None, :] * weights          # (..., out, in)
    special = np.where(weights != 0, special, 0).sum(axis=-1)
    return (y + special).astype(x.dtype, copy=False)


class Resample2d(Function):
    """y = A_h @ x @ A_w^T over the last two axes (A_h None: only the last axis, y = x @ A_w^T);
    used for window averages ('area' mode, adaptive_avg_pool).

    Backward: dx = A_h^T @ g @ A_w.
    """

    @staticmethod
    def forward(ctx, x, rows, cols):
        ctx.rows, ctx.cols = rows, cols
        y = _window_matmul(x, cols.astype(x.dtype, copy=False))
        if rows is not None:
            y = np.swapaxes(_window_matmul(np.swapaxes(y, -1, -2), rows.astype(x.dtype, copy=False)), -1, -2)
        return y

    @staticmethod
    def backward(ctx, grad):
        if ctx.rows is not None:
            grad = np.matmul(ctx.rows.T.astype(grad.dtype, copy=False), grad)
        return np.matmul(grad, ctx.cols.astype(grad.dtype, copy=False)), None, None

    @staticmethod
    def graph_backward(ctx, grad):       # linear in x: the recorded backward is one adjoint node
        return linear_backward(ctx, grad, lambda g: Resample2d.apply(g, ctx.rows, ctx.cols)), None, None


class Interpolate(Function):
    """Separable taps per spatial axis (see the module docstring): gather forward, segment sums backward."""

    @staticmethod
    def forward(ctx, x, taps):
        ctx.taps, ctx.x_shape = taps, x.shape
        for axis, tap in taps:
            x = _apply_taps(x, tap, axis)
        return x

    @staticmethod
    def backward(ctx, grad):
        for axis, tap in reversed(ctx.taps):
            grad = _adjoint_taps(grad, tap, axis, ctx.x_shape[axis])
        return grad, None

    @staticmethod
    def graph_backward(ctx, grad):       # linear in x: the recorded backward is one adjoint node
        return linear_backward(ctx, grad, lambda g: Interpolate.apply(g, ctx.taps)), None


def _along(values, axis, ndim, dtype):
    """A 1-D per-position array shaped to broadcast along ``axis``."""
    shape = [1] * ndim
    shape[axis] = -1
    return values.astype(dtype, copy=False).reshape(shape)


def _apply_taps(x, tap, axis):
    first, second, t = tap[:3]
    a = np.take(x, first, axis=axis)
    if second is None:
        return a
    b = np.take(x, second, axis=axis)
    b -= a
    b *= _along(t, axis, x.ndim, x.dtype)
    b += a
    return b


def _segment_sum(values, segments, axis, size):
    """out[..., j] = sum_{i: index[i] = j} values[..., i] along ``axis``, for a non-decreasing index
    given as its runs (start, value, length of each run).

    NOTE: runs are short (about out/in + 1), so the sum is a few gathers, one per position in a run;
    np.add.reduceat over such short segments is ~20x slower (one tiny reduction per segment).
    """
    starts, targets, lengths = segments
    total = np.take(values, starts, axis=axis)
    for k in range(1, int(lengths.max())):
        inside = lengths > k
        term = np.take(values, np.where(inside, starts + k, starts), axis=axis)
        if not inside.all():
            term *= _along(inside, axis, values.ndim, values.dtype)
        total += term
    if len(targets) == size:                     # every source position is read (upsampling)
        return total
    out = np.zeros(values.shape[:axis % values.ndim] + (size,) + values.shape[axis % values.ndim + 1:],
                   dtype=values.dtype)
    where = [slice(None)] * values.ndim
    where[axis] = targets
    out[tuple(where)] = total
    return out


def _adjoint_taps(grad, tap, axis, size):
    _, second, t, first_segments, second_segments = tap
    if second is None:
        return _segment_sum(grad, first_segments, axis, size)
    to_second = grad * _along(t, axis, grad.ndim, grad.dtype)
    return (_segment_sum(grad - to_second, first_segments, axis, size)
            + _segment_sum(to_second, second_segments, axis, size))


def _segments(index):
    """Start, value and length of each run of equal values in a non-decreasing index."""
    starts = np.flatnonzero(np.concatenate(([True], index[1:] != index[:-1])))
    return starts, index[starts], np.diff(np.append(starts, len(index)))


def _frozen(*arrays):
    for a in arrays:
        if a is not None:
            a.setflags(write=False)
    return arrays


@lru_cache(maxsize=256)
def nearest_taps(in_size, out_size, scale, exact=False):
    """out[i] = in[min(floor((i + 0.5*exact) * scale), in - 1)] (PyTorch's 'nearest' / 'nearest-exact')."""
    # NOTE: float32 arithmetic, as PyTorch's nearest_idx does, so ties like 3 * (1/3) round the same way.
    dst = np.arange(out_size, dtype=np.float32) + np.float32(0.5 if exact else 0.0)
    src = np.minimum(np.floor(dst * np.float32(scale)).astype(np.int64), in_size - 1)
    if out_size == in_size:
        src = np.arange(out_size)
    return _frozen(src)[0], None, None, _frozen(*_segments(src)), None


@lru_cache(maxsize=256)
def linear_taps(in_size, out_size, scale, align_corners):
    """out[i] = (1 - t) in[i0] + t in[i0 + 1], src = i0 + t:
    align_corners: src = i * (in - 1)/(out - 1); otherwise src = max((i + 0.5) * scale - 0.5, 0)
    (half-pixel centres), with ``scale`` = in/out or 1/scale_factor as PyTorch uses it."""
    dst = np.arange(out_size, dtype=np.float64)
    if align_corners:
        src = dst * ((in_size - 1) / (out_size - 1) if out_size > 1 else 0.0)
    else:
        src = np.maximum((dst + 0.5) * scale - 0.5, 0.0)
    first = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    second = np.minimum(first + 1, in_size - 1)
    t = src - first
    first, second, t = _frozen(first, second, t)
    return first, second, t, _frozen(*_segments(first)), _frozen(*_segments(second))


@lru_cache(maxsize=256)
def area_matrix(in_size, out_size):
    """Adaptive-average rows: window i is [floor(i*in/out), ceil((i+1)*in/out)), each entry 1/len."""
    i = np.arange(out_size)
    start = (i * in_size) // out_size
    end = -((-(i + 1) * in_size) // out_size)
    cols = np.arange(in_size)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return inside / (end - start)[:, None]


def _output_size(name, spatial, size, scale_factor):
    n = len(spatial)
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined" if size is not None
                         else "either size or scale_factor should be defined")
    if size is not None:
        size = tuple(size) if isinstance(size, (tuple, list)) else (size,) * n
        if len(size) != n:
            raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input with "
                             f"spatial dimensions of {list(spatial)} and output size of {list(size)}. Please "
                             f"provide input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, "
                             f"...,oK) format.")
        return tuple(int(s) for s in size), None
    scales = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * n
    if len(scales) != n:
        raise ValueError(f"Input and scale_factor must have the same number of spatial dimensions, but got input "
                         f"with spatial dimensions of {list(spatial)} and scale_factor of shape {list(scales)}.")
    return tuple(int(math.floor(s * f)) for s, f in zip(spatial, scales)), scales


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial axes of (N, C, L) or (N, C, H, W) input (PyTorch's ``F.interpolate``).

    Modes: 'nearest', 'nearest-exact', 'linear' (3-D), 'bilinear' (4-D), 'area'.
    Output size = ``size`` or floor(in * scale_factor). With a scale_factor (and
    recompute_scale_factor not True) the source coordinate uses 1/scale_factor,
    as PyTorch does; otherwise in/out.
    """
    x = input._data
    if x.ndim not in (3, 4):
        raise NotImplementedError(f"Input Error: Only 3D and 4D input Tensors are supported (got {x.ndim}D) for the "
                                  f"modes: nearest | nearest-exact | linear | bilinear | area (got {mode})")
    linear = mode in ("linear", "bilinear")
    if align_corners is not None and not linear:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if mode not in ("nearest", "nearest-exact", "linear", "bilinear", "area"):
        raise NotImplementedError(f"interpolate: mode '{mode}' is not supported (nearest, nearest-exact, linear, "
                                  f"bilinear, area)")
    if (mode == "linear" and x.ndim != 3) or (mode == "bilinear" and x.ndim != 4):
        raise NotImplementedError(f"Got {x.ndim}D input, but {mode} mode needs "
                                  f"{'3D' if mode == 'linear' else '4D'} input")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    spatial = x.shape[2:]
    out, scales = _output_size("interpolate", spatial, size, scale_factor)
    if min(out) <= 0:
        raise RuntimeError(f"interpolate: output size {out} must be greater than 0 (input size {tuple(spatial)})")
    if mode == "area":
        mats = [area_matrix(n_in, n_out) for n_in, n_out in zip(spatial, out)]
        return Resample2d.apply(input, None, mats[0]) if len(mats) == 1 else Resample2d.apply(input, *mats)
    taps = []
    for k, (n_in, n_out) in enumerate(zip(spatial, out)):
        scale = 1.0 / scales[k] if scales is not None and not recompute_scale_factor else n_in / n_out
        axis = 2 + k - x.ndim
        if linear:
            taps.append((axis, linear_taps(n_in, n_out, scale, bool(align_corners))))
        else:
            taps.append((axis, nearest_taps(n_in, n_out, scale, mode == "nearest-exact")))
    return Interpolate.apply(input, tuple(taps))


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of ``interpolate``."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """PyTorch's deprecated upsample_bilinear uses align_corners=True."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
