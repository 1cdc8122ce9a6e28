"""Resampling by separable linear maps: ``interpolate`` (nearest, linear, bilinear, area).

Every mode here resamples each spatial axis independently, so it is a matrix
per axis applied to the last two axes:

    y = A_h @ x @ A_w^T          A_h (H_out, H), A_w (W_out, W)
    backward:  dx = A_h^T @ g @ A_w

Nearest puts a single 1 per row of A, (bi)linear two weights (1 - t, t),
area (= adaptive average pooling) 1/len over each window. The matrices are
small (out x in) and the products run in BLAS; adaptive_avg_pool reuses them.
"""
import math
from functools import lru_cache

import numpy as np

from ..autograd.function import Function

__all__ = []
METHODS = []


class Resample2d(Function):
    """y = A_h @ x @ A_w^T over the last two axes (A_h None: only the last axis, y = x @ A_w^T).

    Backward: dx = A_h^T @ g @ A_w.
    """

    @staticmethod
    def forward(ctx, x, rows, cols):
        ctx.rows, ctx.cols = rows, cols
        y = np.matmul(x, cols.T.astype(x.dtype, copy=False))
        if rows is not None:
            y = np.matmul(rows.astype(x.dtype, copy=False), y)
        return y

    @staticmethod
    def backward(ctx, grad):
        if ctx.rows is not None:
            grad = np.matmul(ctx.rows.T.astype(grad.dtype, copy=False), grad)
        return np.matmul(grad, ctx.cols.astype(grad.dtype, copy=False)), None, None


@lru_cache(maxsize=256)
def nearest_matrix(in_size, out_size, scale, exact=False):
    """One-hot rows: out[i] = in[min(floor((i + 0.5*exact) * scale), in - 1)] (PyTorch's 'nearest'/'nearest-exact')."""
    # NOTE: float32 arithmetic, as PyTorch's nearest_idx does, so ties like 3 * (1/3) round the same way.
    dst = np.arange(out_size, dtype=np.float32) + np.float32(0.5 if exact else 0.0)
    src = np.minimum(np.floor(dst * np.float32(scale)).astype(np.int64), in_size - 1)
    if out_size == in_size:
        src = np.arange(out_size)
    a = np.zeros((out_size, in_size))
    a[np.arange(out_size), src] = 1.0
    return a


@lru_cache(maxsize=256)
def linear_matrix(in_size, out_size, scale, align_corners):
    """Two weights per row: out[i] = (1 - t) in[i0] + t in[i0 + 1], src = i0 + t.

    align_corners: src = i * (in - 1)/(out - 1); otherwise src = max((i + 0.5) * scale - 0.5, 0)
    (half-pixel centres), with ``scale`` = in/out or 1/scale_factor as PyTorch uses it.
    """
    dst = np.arange(out_size, dtype=np.float64)
    if align_corners:
        src = dst * ((in_size - 1) / (out_size - 1) if out_size > 1 else 0.0)
    else:
        src = np.maximum((dst + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    t = src - i0
    a = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    np.add.at(a, (rows, i0), 1.0 - t)
    np.add.at(a, (rows, i1), t)
    return a


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
    mats = []
    for k, (n_in, n_out) in enumerate(zip(spatial, out)):
        scale = 1.0 / scales[k] if scales is not None and not recompute_scale_factor else n_in / n_out
        if mode == "area":
            mats.append(area_matrix(n_in, n_out))
        elif linear:
            mats.append(linear_matrix(n_in, n_out, scale, bool(align_corners)))
        else:
            mats.append(nearest_matrix(n_in, n_out, scale, mode == "nearest-exact"))
    if len(mats) == 1:
        return Resample2d.apply(input, None, mats[0])
    return Resample2d.apply(input, mats[0], mats[1])


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of ``interpolate``."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """PyTorch's deprecated upsample_bilinear uses align_corners=True."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
