"""3-D convolution and transposed convolution (volumes: N, C, D, H, W), on a 3-D im2col.

The same algorithm as ``ops/conv.py``, one dimension up: a strided view holds every receptive field,

    windows[n, c, a, b, e, z, y, x] = x_pad[n, c, z*sd + a*dd, y*sh + b*dh, x*sw + e*dw]

its copy as a (groups, Cg*kd*kh*kw, N*P) matrix meets the weights in one batched GEMM, and the adjoint
(``fold3d``) adds each kernel offset's slab back into the padded volume.
"""
import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..autograd.function import Function
from ..autograd._graph import linked_input
from .conv import _check_conv, _tuple, ConvolutionGrad

__all__ = ["conv3d", "conv_transpose3d"]


def windows3d(x, kernel, stride, dilation, out_size):
    """Strided view (N, C, kd, kh, kw, od, oh, ow) of ``x`` (N, C, D, H, W); no copy."""
    s = x.strides
    return as_strided(x, x.shape[:2] + tuple(kernel) + tuple(out_size),
                      s[:2] + tuple(st * d for st, d in zip(s[2:], dilation)) +
                      tuple(st * k for st, k in zip(s[2:], stride)), writeable=False)


def fold3d(cols, padded_shape, stride, dilation):
    """The adjoint of ``windows3d``: cols (N, C, kd, kh, kw, od, oh, ow) summed into an (N, C) + padded_shape
    volume, one strided slab add per kernel offset."""
    N, C = cols.shape[:2]
    kernel, out = cols.shape[2:5], cols.shape[5:]
    volume = np.zeros((N, C) + tuple(padded_shape), dtype=cols.dtype)
    for offset in itertools.product(*(range(k) for k in kernel)):
        where = tuple(slice(o * d, o * d + s * (n - 1) + 1, s) for o, d, s, n in zip(offset, dilation, stride, out))
        volume[(slice(None), slice(None)) + where] += cols[(slice(None), slice(None)) + offset]
    return volume


def pad3d(x, padding):
    if not any(padding):
        return x
    return np.pad(x, ((0, 0), (0, 0)) + tuple((p, p) for p in padding))


def crop3d(x, padding, size):
    return x[(slice(None), slice(None)) + tuple(slice(p, p + n) for p, n in zip(padding, size))]


def _columns(x, kernel, stride, dilation, out_size, groups):
    """(groups, Cg*kd*kh*kw, N*P) im2col matrix of the padded x."""
    view = windows3d(x, kernel, stride, dilation, out_size)             # (N, C, k..., o...)
    cols = view.transpose(1, 2, 3, 4, 0, 5, 6, 7)                       # (C, k..., N, o...)
    return cols.reshape(groups, x.shape[1] // groups * math.prod(kernel), -1)


class Convolution3d(Function):
    """out = conv3d(x, W) + b:  cols = im2col3d(pad(x)),  out_g = W_g @ cols_g.

    Backward: dW_g = G_g @ cols_g^T,  db = sum G,  dx = crop(fold3d(W_g^T @ G_g)).
    """

    @classmethod
    def name(cls):
        return "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, x, weight, bias, geometry):
        stride, padding, dilation, groups, out_size = geometry
        O, Cg = weight.shape[:2]
        kernel = weight.shape[2:]
        N = x.shape[0]
        cols = _columns(pad3d(x, padding), kernel, stride, dilation, out_size, groups)
        out = np.matmul(weight.reshape(groups, O // groups, -1), cols).reshape((O, N) + tuple(out_size))
        out = np.ascontiguousarray(out.transpose(1, 0, 2, 3, 4))
        if bias is not None:
            out += bias.reshape(O, 1, 1, 1)
        ctx.save_for_backward(weight, cols)
        ctx.geometry, ctx.x_shape = geometry, x.shape
        return out

    @staticmethod
    def backward(ctx, grad):
        weight, cols = ctx.saved_tensors
        stride, padding, dilation, groups, out_size = ctx.geometry
        N, C = ctx.x_shape[:2]
        O, Cg = weight.shape[:2]
        kernel = weight.shape[2:]
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        g = np.ascontiguousarray(grad.transpose(1, 0, 2, 3, 4)).reshape(groups, O // groups, -1)
        dx = dw = db = None
        if need_x:
            dcols = np.matmul(weight.reshape(groups, O // groups, -1).transpose(0, 2, 1), g)
            dcols = dcols.reshape((C,) + tuple(kernel) + (N,) + tuple(out_size)).transpose(4, 0, 1, 2, 3, 5, 6, 7)
            padded = tuple(n + 2 * p for n, p in zip(ctx.x_shape[2:], padding))
            dx = np.ascontiguousarray(crop3d(fold3d(dcols, padded, stride, dilation), padding, ctx.x_shape[2:]))
        if need_w:
            dw = np.matmul(g, cols.transpose(0, 2, 1)).reshape(weight.shape)
        if need_b:
            db = grad.sum(axis=(0, 2, 3, 4))
        return dx, dw, db, None

    @staticmethod
    def graph_backward(ctx, grad):
        # as Convolution's: (dx, dW) through Convolution3dGrad, whose backward is conv3d again
        weight, cols = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        x = _input_from_columns(cols._data, ctx.x_shape, tuple(weight.shape[2:]), ctx.geometry)
        x = linked_input(ctx, 0, x)                         # the columns' values, the input's derivative
        dx, dw = Convolution3dGrad.apply(grad, weight, x, ctx.geometry, need_x, need_w)
        db = grad.sum(dim=(0, 2, 3, 4)) if need_b else None
        return dx if need_x else None, dw if need_w else None, db, None


def _input_from_columns(cols, x_shape, kernel, geometry):
    """x back from its im2col matrix (``_columns``): every voxel that some window reads, zeros elsewhere
    (voxels that no window reads never reach the output, nor any of its derivatives)."""
    stride, padding, dilation, _, out_size = geometry
    N, C = x_shape[:2]
    cols = cols.reshape((C,) + kernel + (N,) + tuple(out_size))
    volume = np.zeros((N, C) + tuple(n + 2 * p for n, p in zip(x_shape[2:], padding)), dtype=cols.dtype)
    for offset in itertools.product(*(range(k) for k in kernel)):
        where = tuple(slice(o * d, o * d + s * (n - 1) + 1, s)
                      for o, d, s, n in zip(offset, dilation, stride, out_size))
        volume[(slice(None), slice(None)) + where] = cols[(slice(None),) + offset].transpose(1, 0, 2, 3, 4)
    return np.ascontiguousarray(crop3d(volume, padding, x_shape[2:]))


class Convolution3dGrad(ConvolutionGrad):
    """ConvolutionGrad for conv3d: (dx, dW) of out = conv3d(x, W) at g, whose backward is conv3d again."""
    conv = Convolution3d


class ConvolutionTranspose3d(Function):
    """The adjoint of Convolution3d w.r.t. its input, plus a bias:
    out = crop(fold3d(W_g^T @ x_g)) + b.   Backward: G = im2col3d(pad(dL/dout)), dx_g = W_g @ G_g, dW_g = x_g @ G_g^T.
    """

    @classmethod
    def name(cls):
        return "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, x, weight, bias, geometry):
        stride, padding, dilation, groups, out_size = geometry
        Cin, Og = weight.shape[:2]
        kernel = weight.shape[2:]
        N, C = x.shape[:2]
        in_size = x.shape[2:]
        x_mat = np.ascontiguousarray(x.reshape(N, C, -1).transpose(1, 0, 2)).reshape(groups, C // groups, -1)
        w_mat = weight.reshape(groups, C // groups, -1)
        cols = np.matmul(w_mat.transpose(0, 2, 1), x_mat)                  # (groups, Og*k, N*P_in)
        cols = cols.reshape((Og * groups,) + tuple(kernel) + (N,) + tuple(in_size)).transpose(4, 0, 1, 2, 3, 5, 6, 7)
        padded = tuple(n + 2 * p for n, p in zip(out_size, padding))
        out = np.ascontiguousarray(crop3d(fold3d(cols, padded, stride, dilation), padding, out_size))
        if bias is not None:
            out += bias.reshape(-1, 1, 1, 1)
        ctx.save_for_backward(w_mat, x_mat)
        ctx.geometry, ctx.shapes = geometry, (x.shape, weight.shape)
        return out

    @staticmethod
    def backward(ctx, grad):
        w_mat, x_mat = ctx.saved_tensors
        stride, padding, dilation, groups, out_size = ctx.geometry
        x_shape, w_shape = ctx.shapes
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        cols = _columns(pad3d(grad, padding), w_shape[2:], stride, dilation, x_shape[2:], groups)
        dx = dw = db = None
        if need_x:
            N, C = x_shape[:2]
            dx = np.matmul(w_mat, cols).reshape((C, N) + tuple(x_shape[2:])).transpose(1, 0, 2, 3, 4)
            dx = np.ascontiguousarray(dx)
        if need_w:
            dw = np.matmul(x_mat, cols.transpose(0, 2, 1)).reshape(w_shape)
        if need_b:
            db = grad.sum(axis=(0, 2, 3, 4))
        return dx, dw, db, None

    @staticmethod
    def graph_backward(ctx, grad):
        # the adjoint of conv3d(., W): <g, conv_t(x, W)> = <conv3d(g, W), x>, so dx = conv3d(g, W) and dW is
        # conv3d's dW-product at (g, x), both recorded (see ConvolutionTranspose.graph_backward)
        w_mat, x_mat = (t._data for t in ctx.saved_tensors)
        stride, padding, dilation, groups, _ = ctx.geometry
        x_shape, w_shape = ctx.shapes
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        # conv3d's windows past the input's size (output_padding's last rows) are simply not built
        geometry = (stride, padding, dilation, groups, tuple(x_shape[2:]))
        weight = linked_input(ctx, 1, w_mat.reshape(w_shape))
        dx = dw = db = None
        if need_x:
            dx = Convolution3d.apply(grad, weight, None, geometry)
        if need_w:
            N, C = x_shape[:2]
            x = linked_input(ctx, 0, x_mat.reshape((C, N) + tuple(x_shape[2:])).transpose(1, 0, 2, 3, 4))
            dw = Convolution3dGrad.apply(x, weight, grad, geometry, False, True)[1]
        if need_b:
            db = grad.sum(dim=(0, 2, 3, 4))
        return dx, dw, db, None


def _batched(name, input, weight, bias, groups, transposed=False):
    _check_conv(name, 3, input, weight, bias, groups, transposed)
    return input.ndim == 5


def _check_steps(name, stride, dilation, padding):
    """conv2d's checks (``_conv_geometry``): positive stride and dilation, no negative padding."""
    if any(s < 1 for s in stride) or any(d < 1 for d in dilation):
        raise RuntimeError(f"{name}: stride and dilation should be positive, got stride={stride}, "
                           f"dilation={dilation}")
    if any(p < 0 for p in padding):
        raise RuntimeError(f"{name}: negative padding is not supported, got padding={padding}")


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D cross-correlation: out[n, o, z, y, x] = b[o] + sum_{c, a, b, e} W[o, c, a, b, e] *
    x_pad[n, g(o)C/groups + c, z*sd + a*dd, y*sh + b*dh, x*sw + e*dw].

    Shape: input (N, C_in, D, H, W) or unbatched; weight (C_out, C_in/groups, kd, kh, kw); bias (C_out,);
    D_out = floor((D + 2p - d*(kd - 1) - 1) / s) + 1 (likewise H, W).
    Args: stride=1, padding=0 (int, triple, 'valid' or 'same'), dilation=1, groups=1.
    """
    batched = _batched("conv3d", input, weight, bias, groups)
    if not batched:
        return conv3d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0)
    kernel = tuple(weight.shape[2:])
    stride, dilation = _tuple(stride, 3, "stride"), _tuple(dilation, 3, "dilation")
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(f"Invalid padding string '{padding}', should be one of ('valid', 'same')")
        if padding == "same" and any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        if padding == "same":
            totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
            # PyTorch puts an odd extra pad at the end: pad explicitly, then convolve unpadded
            from .padding import pad
            pads = [v for t in reversed(totals) for v in (t // 2, t - t // 2)]
            return conv3d(pad(input, pads), weight, bias, stride, 0, dilation, groups)
        padding = 0
    padding = _tuple(padding, 3, "padding")
    _check_steps("conv3d", stride, dilation, padding)
    size = tuple(input.shape[2:])
    effective = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    padded = tuple(n + 2 * p for n, p in zip(size, padding))
    if any(p < e for p, e in zip(padded, effective)):
        raise RuntimeError(f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). Kernel "
                           f"size: ({' x '.join(map(str, effective))}). Kernel size can't be greater than actual "
                           "input size")
    out_size = tuple((p - e) // s + 1 for p, e, s in zip(padded, effective, stride))
    return Convolution3d.apply(input, weight, bias, (stride, padding, dilation, groups, out_size))


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """3-D transposed convolution (the gradient of conv3d w.r.t. its input), weight (C_in, C_out/groups, kd, kh, kw):
    D_out = (D - 1)*s - 2p + d*(kd - 1) + output_padding + 1 (likewise H, W)."""
    batched = _batched("conv_transpose3d", input, weight, bias, groups, transposed=True)
    if not batched:
        return conv_transpose3d(input.unsqueeze(0), weight, bias, stride, padding, output_padding, groups,
                                dilation).squeeze(0)
    kernel = tuple(weight.shape[2:])
    stride, dilation = _tuple(stride, 3, "stride"), _tuple(dilation, 3, "dilation")
    padding, out_pad = _tuple(padding, 3, "padding"), _tuple(output_padding, 3, "output_padding")
    _check_steps("conv_transpose3d", stride, dilation, padding)
    for op, s, d in zip(out_pad, stride, dilation):
        if op >= s and op >= d:
            raise RuntimeError(f"output padding must be smaller than either stride or dilation, but got "
                               f"output_padding={out_pad}, stride={stride}, dilation={dilation}")
    out_size = tuple((n - 1) * s - 2 * p + d * (k - 1) + op + 1
                     for n, s, p, d, k, op in zip(input.shape[2:], stride, padding, dilation, kernel, out_pad))
    if min(out_size) < 1:
        raise RuntimeError(f"conv_transpose3d: Given input size per channel {tuple(input.shape[2:])}, the "
                           f"calculated output size {out_size} is too small")
    return ConvolutionTranspose3d.apply(input, weight, bias, (stride, padding, dilation, groups, out_size))
