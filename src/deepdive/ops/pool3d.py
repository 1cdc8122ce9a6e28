"""3-D pooling over volumes (N, C, D, H, W): max_pool3d, avg_pool3d, adaptive_avg_pool3d, adaptive_max_pool3d.

Max and average pooling read the kernel offsets as strided views of the padded volume (``windows3d``);
average pooling's backward is the adjoint ``fold3d``. Adaptive average pooling is separable, one
'area' matrix per axis (``ops/upsample.py``), contracted with an einsum that also gives its gradient.
"""
import math

import numpy as np

from ..autograd.function import Function
from ._util import linear_backward
from .conv import _tuple
from .conv3d import windows3d, fold3d
from .linalg import einsum
from .pooling import pool_output_size, running_max, _no_graph, AdaptiveMaxPool, adaptive_max_table, \
    _adaptive_size
from .upsample import area_matrix
from ..tensor import _wrap

__all__ = ["max_pool3d", "avg_pool3d", "adaptive_avg_pool3d", "adaptive_max_pool3d"]


def _padded(x, padding, extent, value):
    """x (M, D, H, W) padded by ``padding`` in front and up to ``extent`` in all (ceil mode reads past the end)."""
    out = np.full((x.shape[0],) + tuple(extent), value, dtype=x.dtype)
    out[(slice(None),) + tuple(slice(p, p + n) for p, n in zip(padding, x.shape[1:]))] = x
    return out


def _geometry(name, input, kernel_size, stride, padding, dilation, ceil_mode):
    if input.ndim not in (4, 5):
        raise RuntimeError(f"{name}: Expected 4D or 5D (batch mode) tensor for input, but got: {list(input.shape)}")
    kernel = _tuple(kernel_size, 3, "kernel_size")
    stride = kernel if stride is None or stride == [] or stride == () else _tuple(stride, 3, "stride")
    padding, dilation = _tuple(padding, 3, "padding"), _tuple(dilation, 3, "dilation")
    for p, k in zip(padding, kernel):
        if p > k // 2:
            raise RuntimeError(f"{name}: pad should be at most half of effective kernel size, but got pad={p}, "
                               f"kernel_size={k} and dilation=1")
    size = tuple(input.shape[-3:])
    out = tuple(pool_output_size(n, k, s, p, d, bool(ceil_mode))
                for n, k, s, p, d in zip(size, kernel, stride, padding, dilation))
    if min(out) < 1:
        raise RuntimeError(f"{name}: Given input size: ({'x'.join(map(str, input.shape[-4:]))}). Calculated output "
                           f"size: ({input.shape[-4]}x{'x'.join(map(str, out))}). Output size is too small")
    extent = tuple(max(n + 2 * p, (o - 1) * s + d * (k - 1) + 1)
                   for n, p, o, s, d, k in zip(size, padding, out, stride, dilation, kernel))
    return kernel, stride, padding, dilation, out, extent


class MaxPool3d(Function):
    """y[m, z, y, x] = max_{a, b, e} x_pad[m, z*sd + a*dd, y*sh + b*dh, x*sw + e*dw]  (padding = -inf).

    Backward: each window's gradient goes to its first maximum (a bincount over flat voxel indices).
    Returns (values, flat indices into D*H*W).
    """

    @staticmethod
    def forward(ctx, x, geometry):
        kernel, stride, padding, dilation, out, extent = geometry
        lead, size = x.shape[:-3], x.shape[-3:]
        flat = x.reshape((-1,) + size)
        low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        view = windows3d(_padded(flat, padding, extent, low)[:, None], kernel, stride, dilation, out)[:, 0]
        slabs = [view[(slice(None),) + offset] for offset in np.ndindex(*kernel)]
        best, first = running_max(slabs, x.dtype.kind == "f" and bool(np.isnan(x).any()))
        # flat voxel index of every (offset, window): ((z*sd + a*dd - pd) * H + ...) * W + ...
        axes = [np.arange(o)[None, :] * s + np.arange(k)[:, None] * d - p
                for o, s, k, d, p in zip(out, stride, kernel, dilation, padding)]
        table = ((axes[0][:, None, None, :, None, None] * size[1] + axes[1][None, :, None, None, :, None]) * size[2]
                 + axes[2][None, None, :, None, None, :]).reshape((math.prod(kernel),) + tuple(out))
        index = np.take_along_axis(table[None], first[:, None].astype(np.int64), axis=1)[:, 0]
        ctx.index, ctx.shape = index, x.shape
        return best.reshape(lead + tuple(out)), index.reshape(lead + tuple(out)).astype(np.int64)

    @staticmethod
    def backward(ctx, grad, _=None):
        index, shape = ctx.index, ctx.shape
        M, voxels = index.shape[0], math.prod(shape[-3:])
        where = (index + np.arange(M).reshape(-1, 1, 1, 1) * voxels).reshape(-1)
        dx = np.bincount(where, weights=grad.reshape(-1), minlength=M * voxels)
        return dx.astype(grad.dtype).reshape(shape), None

    @staticmethod
    def graph_backward(ctx, grad, _):
        # linear in g with the argmax fixed: its adjoint picks each window's maximum out of gg
        index, shape, out_shape = ctx.index, ctx.shape, grad.shape
        M, voxels = index.shape[0], math.prod(shape[-3:])
        where = (index + np.arange(M).reshape(-1, 1, 1, 1) * voxels).reshape(-1)
        return linear_backward(ctx, grad, lambda g: g.reshape(-1)[where].reshape(out_shape)), None


class AvgPool3d(Function):
    """y = (sum of the window of x_pad) / divisor; divisor = ``divisor_override``, or the window's size
    clipped to the padded volume (count_include_pad) or to the input (not count_include_pad).

    Backward: g / divisor spread over each window (fold3d, the adjoint of the windows view).
    """

    @staticmethod
    def forward(ctx, x, geometry, count_include_pad, divisor_override):
        kernel, stride, padding, dilation, out, extent = geometry
        lead, size = x.shape[:-3], x.shape[-3:]
        flat = x.reshape((-1,) + size)
        view = windows3d(_padded(flat, padding, extent, 0)[:, None], kernel, stride, dilation, out)[:, 0]
        total = view.sum(axis=(1, 2, 3), dtype=x.dtype)
        if divisor_override:
            divisor = np.asarray(divisor_override, dtype=x.dtype)
        else:
            counts = []
            for n, o, s, k, p in zip(size, out, stride, kernel, padding):
                start = np.arange(o) * s - p
                end = np.minimum(start + k, n + p)
                if not count_include_pad:
                    start, end = np.maximum(start, 0), np.minimum(end, n)
                counts.append(end - start)
            divisor = (counts[0][:, None, None] * counts[1][None, :, None] * counts[2][None, None, :]).astype(x.dtype)
        ctx.geometry, ctx.divisor, ctx.shape = geometry, divisor, x.shape
        ctx.call = (geometry, count_include_pad, divisor_override)      # for create_graph
        return (total / divisor).astype(x.dtype, copy=False).reshape(lead + tuple(out))

    @staticmethod
    def backward(ctx, grad):
        kernel, stride, padding, dilation, out, extent = ctx.geometry
        size = ctx.shape[-3:]
        share = (grad.reshape((-1,) + tuple(out)) / ctx.divisor).astype(grad.dtype, copy=False)
        cols = np.broadcast_to(share[:, None, None, None, None], (share.shape[0], 1) + tuple(kernel) + tuple(out))
        volume = fold3d(cols, extent, stride, dilation)[:, 0]
        dx = volume[(slice(None),) + tuple(slice(p, p + n) for p, n in zip(padding, size))]
        return np.ascontiguousarray(dx).reshape(ctx.shape), None, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        # linear in x: the adjoint of the spread is the pooling itself, applied to gg
        return (linear_backward(ctx, grad, lambda g: AvgPool3d.apply(g, *ctx.call)),) + (None,) * 3


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over (kd, kh, kw) windows of (N, C, D, H, W) or (C, D, H, W); ``return_indices``: also the flat
    index (into D*H*W) of each max, as MaxUnpool3d expects."""
    geometry = _geometry("max_pool3d", input, kernel_size, stride, padding, dilation, ceil_mode)
    values, indices = MaxPool3d.apply(input, geometry)
    return (values, _no_graph(indices)) if return_indices else values


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over (kd, kh, kw) windows (zero padding counted when ``count_include_pad``)."""
    geometry = _geometry("avg_pool3d", input, kernel_size, stride, padding, 1, ceil_mode)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"\"avg_pool3d\" not implemented for '{input.dtype}'")
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    return AvgPool3d.apply(input, geometry, bool(count_include_pad), divisor_override)


def adaptive_avg_pool3d(input, output_size):
    """Average over windows [floor(i*D/D_out), ceil((i+1)*D/D_out)) per axis (int or triple; None keeps a size)."""
    if input.ndim not in (4, 5):
        raise RuntimeError(f"adaptive_avg_pool3d(): Expected 4D or 5D tensor, but got {list(input.shape)}")
    size = tuple(input.shape[-3:])
    out = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * 3
    out = tuple(n if o is None else int(o) for n, o in zip(size, out))
    dt = input._data.dtype
    mats = [_wrap(area_matrix(n, o).astype(dt)) for n, o in zip(size, out)]
    return einsum("...dhw,Dd,Hh,Ww->...DHW", input, *mats)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Max over the adaptive windows of adaptive_avg_pool3d (int or triple; None keeps a size), input
    (N, C, D, H, W) or (C, D, H, W); return_indices also gives flat indices into D*H*W (for max_unpool3d)."""
    x = input._data
    out = _adaptive_size("adaptive_max_pool3d", 3, x, output_size)
    size = x.shape[-3:]
    values, indices = AdaptiveMaxPool.apply(input, adaptive_max_table(size, out), x.shape[:-3] + out, math.prod(size))
    return (values, _no_graph(indices)) if return_indices else values
