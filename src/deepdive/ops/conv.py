"""Convolutions: conv1d / conv2d, conv_transpose1d / 2d, unfold / fold, built on im2col and col2im.

A convolution is a matrix product once every receptive field is laid out as
a column (im2col)::

    out[n, o, y, x] = sum_k W[o, k] * cols[k, (n, y, x)] + b[o]
    k = (c, i, j) runs over in-channels x kernel rows x kernel cols,
    cols[(c, i, j), (n, y, x)] = x_pad[n, c, y*sh + i*dh, x*sw + j*dw]

im2col is a strided *view* of the padded input (no Python loop over pixels);
the one copy happens when the view is reshaped into the (K, N*P) matrix that a
single BLAS matmul consumes. col2im is its adjoint: every column entry is
added back to the pixel it was read from (overlapping windows sum). It is the
backward of im2col, the forward of the transposed convolution and of ``fold``,
so it is written once, here, and used by all of them (and by average pooling).
"""
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..autograd.function import Function
from ._util import linear_backward
from ..autograd._graph import linked_input

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"]
METHODS = []


# ---------------------------------------------------------------- im2col / col2im
def im2col(x, kernel_size, stride, dilation, out_size=None):
    """Strided view (N, C, kh, kw, oh, ow) of the windows of ``x`` (N, C, H, W); no copy.

    view[n, c, i, j, y, x] = x[n, c, y*sh + i*dh, x*sw + j*dw]
    ``out_size`` (oh, ow) limits the number of window positions (default: all that fit).
    """
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
    if out_size is None:
        out_size = ((H - dh * (kh - 1) - 1) // sh + 1, (W - dw * (kw - 1) - 1) // sw + 1)
    sN, sC, sH, sW = x.strides
    return as_strided(x, (N, C, kh, kw) + tuple(out_size), (sN, sC, sH * dh, sW * dw, sH * sh, sW * sw),
                      writeable=False)


def col2im(cols, image_shape, stride, dilation):
    """The adjoint of ``im2col``: sum the windows ``cols`` (N, C, kh, kw, oh, ow) back into an image.

    image[n, c, y*sh + i*dh, x*sw + j*dw] += cols[n, c, i, j, y, x]
    ``cols`` may be any strided (even broadcast) array; the loop runs over the
    kh*kw kernel offsets only, each adding one strided slab of all pixels.
    Returns an (N, C, H, W) array (possibly a transposed view).
    """
    N, C, kh, kw, oh, ow = cols.shape
    (sh, sw), (dh, dw) = stride, dilation
    H, W = image_shape[-2:]
    if dh == 1 and dw == 1 and sh == kh and sw == kw:
        # NOTE: non-overlapping windows (the usual 2x2 pooling) tile the image: one transposed copy.
        tiles = cols.transpose(0, 1, 4, 2, 5, 3).reshape(N, C, oh * kh, ow * kw)
        if (oh * kh, ow * kw) == (H, W):
            image = np.ascontiguousarray(tiles)
            return image.copy() if np.may_share_memory(image, cols) else image   # 1x1 windows: a view
        image = np.zeros((N, C, H, W), dtype=cols.dtype)
        image[:, :, :oh * kh, :ow * kw] = tiles
        return image
    if 0 not in cols.strides and abs(cols.strides[0]) == min(abs(v) for v in cols.strides):
        # Batch-last columns (what Convolution produces): image (C, H, W, N), each slab add runs over
        # contiguous (ow, N) rows of the image.
        image = np.zeros((C, H, W, N), dtype=cols.dtype)
        cols = cols.transpose(1, 2, 3, 4, 5, 0)                                # (C, kh, kw, oh, ow, N)
        for i in range(kh):
            rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
            for j in range(kw):
                image[:, rows, j * dw:j * dw + sw * (ow - 1) + 1:sw] += cols[:, i, j]
        return image.transpose(3, 0, 1, 2)
    if N * C > ow and 0 not in cols.strides:
        # NOTE: each slab add below loops over its innermost axis in C; with (y, x) outermost and the
        # N*C channels innermost those runs are long (ow is often < 10), which makes this ~3x faster
        # than adding (N, C, oh, ow) slabs, even after the transposed copy.
        cols = np.ascontiguousarray(cols.transpose(2, 3, 4, 5, 1, 0))       # (kh, kw, oh, ow, C, N)
        image = np.zeros((H, W, C, N), dtype=cols.dtype)
        for i in range(kh):
            rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
            for j in range(kw):
                image[rows, j * dw:j * dw + sw * (ow - 1) + 1:sw] += cols[i, j]
        return image.transpose(3, 2, 0, 1)
    image = np.zeros((N, C, H, W), dtype=cols.dtype)
    for i in range(kh):
        rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
        for j in range(kw):
            image[:, :, rows, j * dw:j * dw + sw * (ow - 1) + 1:sw] += cols[:, :, i, j]
    return image


def pad2d(x, pads, value=0):
    """Pad the last two axes of ``x`` by pads = (top, bottom, left, right) with ``value``."""
    top, bottom, left, right = pads
    if not (top or bottom or left or right):
        return x
    N, C, H, W = x.shape
    out = np.full((N, C, H + top + bottom, W + left + right), value, dtype=x.dtype)
    out[:, :, top:top + H, left:left + W] = x
    return out


def crop2d(x, pads, size):
    """The adjoint of ``pad2d``: the (H, W) = ``size`` window of ``x`` after pads (top, _, left, _)."""
    top, _, left, _ = pads
    if x.shape[-2:] == tuple(size):
        return x
    return x[:, :, top:top + size[0], left:left + size[1]]


def unfold_array(x, kernel_size, stride, padding, dilation):
    """im2col as a matrix: (N, C, H, W) -> (N, C*kh*kw, oh*ow) (padding = (top, bottom, left, right))."""
    view = im2col(pad2d(x, padding), kernel_size, stride, dilation)
    N, C, kh, kw, oh, ow = view.shape
    return view.reshape(N, C * kh * kw, oh * ow), (oh, ow)


def fold_array(cols, image_size, kernel_size, stride, padding, dilation, out_size):
    """col2im from a matrix: (N, C*kh*kw, oh*ow) -> (N, C, H, W); the adjoint of ``unfold_array``."""
    (kh, kw), (top, bottom, left, right) = kernel_size, padding
    N = cols.shape[0]
    cols = cols.reshape((N, cols.shape[1] // (kh * kw), kh, kw) + tuple(out_size))
    padded = (image_size[0] + top + bottom, image_size[1] + left + right)
    return crop2d(col2im(cols, padded, stride, dilation), padding, image_size)


# ---------------------------------------------------------------- argument handling
def _tuple(value, n, name):
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(f"expected {name} to be a single integer or a tuple of {n} integers, got {tuple(value)}")
        return tuple(int(v) for v in value)
    return (int(value),) * n


def _as_2d(values, n, fill):
    """1-D arguments become 2-D ones with a leading ``fill`` (conv1d runs as a 1 x L conv2d)."""
    return (fill,) + values if n == 1 else values


def _conv_padding(padding, n, kernel, dilation, stride):
    """(top, bottom, left, right) from an int / tuple / 'valid' / 'same' (PyTorch puts an odd extra pad at the end)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise ValueError(f"Invalid padding string '{padding}', should be one of ('valid', 'same')")
        if any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        pads = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            pads += [total // 2, total - total // 2]
        return tuple(pads) if n == 2 else (0, 0) + tuple(pads)
    p = _tuple(padding, n, "padding")
    if any(v < 0 for v in p):
        raise RuntimeError("negative padding is not supported")
    return (p[0], p[0], p[1], p[1]) if n == 2 else (0, 0, p[0], p[0])


def _fmt(shape):
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _check_conv(name, n, input, weight, bias, groups, transposed=False):
    """PyTorch's shape and dtype checks, raised before any work."""
    x, w = input._data, weight._data
    if x.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to {name}, "
                           f"but got input of size: {_fmt(x.shape)}")
    if w.ndim != n + 2:
        raise RuntimeError(f"Expected {n + 2}-dimensional weight for {n + 2}-dimensional input {_fmt(x.shape)}, "
                           f"but got {w.ndim}-dimensional weight of size {_fmt(w.shape)} instead")
    if groups < 1:
        raise RuntimeError("non-positive groups is not supported")
    if x.dtype != w.dtype or (bias is not None and bias._data.dtype != x.dtype):
        other = w.dtype if x.dtype != w.dtype else bias._data.dtype
        raise RuntimeError(f"expected scalar type {_torch_name(x.dtype)} but found {_torch_name(other)} "
                           f"(input {x.dtype}, weight {w.dtype}"
                           f"{'' if bias is None else ', bias ' + str(bias._data.dtype)} in {name})")
    channels = x.shape[0] if x.ndim == n + 1 else x.shape[1]
    if transposed:
        expected = w.shape[0]
        if channels != expected:
            raise RuntimeError(f"Given transposed=1, weight of size {_fmt(w.shape)}, expected input{_fmt(x.shape)} "
                               f"to have {expected} channels, but got {channels} channels instead")
        if expected % groups:
            raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
                               f"but got weight of size {_fmt(w.shape)} instead")
        out_channels = w.shape[1] * groups
    else:
        if w.shape[0] % groups:
            raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
                               f"but got weight of size {_fmt(w.shape)} instead")
        expected = w.shape[1] * groups
        if channels != expected:
            raise RuntimeError(f"{name}: Given groups={groups}, weight of size {_fmt(w.shape)}, expected input"
                               f"{_fmt(x.shape)} to have {expected} channels, but got {channels} channels instead")
        out_channels = w.shape[0]
    if bias is not None and tuple(bias._data.shape) != (out_channels,):
        raise RuntimeError(f"Given weight of size {_fmt(w.shape)}, expected bias to be 1-dimensional with "
                           f"{out_channels} elements, but got bias of size {_fmt(bias._data.shape)} instead")


def _torch_name(dtype):
    return {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
            "int32": "Int"}.get(np.dtype(dtype).name, np.dtype(dtype).name)


# ---------------------------------------------------------------- convolution
class Convolution(Function):
    """out = conv(x, W) + b, as one BLAS matmul per group over im2col columns.

    Forward (per group g, with K = C/groups * kh * kw, P = oh * ow):
        cols = im2col(pad(x))                  (groups, K, N*P)
        out  = W_g (Og, K) @ cols              (groups, Og, N*P)  ->  (N, O, oh, ow)
    Backward (G = dL/dout as (groups, Og, N*P)):
        dW = G @ cols^T,   db = sum_{n, y, x} G,   dx = crop(col2im(W_g^T @ G))
    ``geometry`` holds the canonical 4-D shapes (conv1d runs as a 1 x L conv2d,
    unbatched input as N = 1) and the caller-facing output shape.

    NOTE: the batch sits inside the columns, so each product is one large GEMM
    rather than N small ones and dW needs no sum over the batch. Which order the
    N*P columns take is chosen for the copies: the im2col copy streams runs of
    ow numbers in (n, y, x) order, so for narrow outputs (ow < 16) x is first
    copied to a batch-last (C, H, W, N) buffer (padding written in the same
    copy) whose window rows x[c, y + i, j:j + ow, :] are runs of ow*N numbers;
    the columns are then (y, x, n) and col2im's slab adds run as long. Wide
    outputs keep (n, y, x), where the output and gradient transposes only swap
    the two outer axes.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, geometry):
        x_shape4, w_shape4, out_shape, stride, padding, dilation, groups, (oh, ow) = geometry
        N = x_shape4[0]
        O, Cg, kh, kw = w_shape4
        batch_last = ow < 16
        cols = _conv_columns(x, geometry, batch_last)
        out = _matmul_columns(weight.reshape(groups, O // groups, Cg * kh * kw), cols)
        out = out.reshape(O, oh, ow, N).transpose(3, 0, 1, 2) if batch_last else \
            out.reshape(O, N, oh, ow).transpose(1, 0, 2, 3)
        result = np.empty((N, O, oh, ow), dtype=out.dtype)
        if bias is not None:
            np.add(out, bias.reshape(O, 1, 1), out=result)
        else:
            np.copyto(result, out)
        ctx.geometry, ctx.shapes = geometry, (x.shape, weight.shape, batch_last)
        # NOTE: keeping the columns saves an im2col in backward but holds kh*kw copies of the input;
        # past SAVED_COLUMNS_BYTES (large images) the input is kept and the columns rebuilt.
        ctx.columns_saved = cols.nbytes <= SAVED_COLUMNS_BYTES
        ctx.save_for_backward(weight, cols if ctx.columns_saved else x, x)    # x again: for create_graph
        return result.reshape(out_shape)

    @staticmethod
    def backward(ctx, grad, *_):
        weight, cols, _ = ctx.saved_tensors
        x_shape4, w_shape4, _, stride, padding, dilation, groups, (oh, ow) = ctx.geometry
        x_shape, w_shape, batch_last = ctx.shapes
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        N, C, H, W = x_shape4
        O, Cg, kh, kw = w_shape4
        g = grad.reshape(N, O, oh, ow).transpose((1, 2, 3, 0) if batch_last else (1, 0, 2, 3))
        g = np.ascontiguousarray(g).reshape(groups, O // groups, -1)
        dx = dw = db = None
        if need_x:
            w_mat = weight.reshape(groups, O // groups, Cg * kh * kw)
            dcols = _matmul_columns(w_mat.transpose(0, 2, 1), g)
            if batch_last:
                dcols = dcols.reshape(C, kh, kw, oh, ow, N).transpose(5, 0, 1, 2, 3, 4)
            else:
                dcols = dcols.reshape(C, kh, kw, N, oh, ow).transpose(3, 0, 1, 2, 4, 5)
            padded = (H + padding[0] + padding[1], W + padding[2] + padding[3])
            dx = crop2d(col2im(dcols, padded, stride, dilation), padding, (H, W)).reshape(x_shape)
        if need_w:
            if not ctx.columns_saved:                      # the input was saved instead of its columns
                cols = _conv_columns(cols, ctx.geometry, batch_last)
            dw = _matmul_sum_columns(g, cols).reshape(w_shape)
        if need_b:
            db = g.reshape(O, -1).sum(axis=1)
        return dx, dw, db, None


    @staticmethod
    def graph_backward(ctx, grad, *_):
        weight, _, x = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dx, dw = ConvolutionGrad.apply(grad, weight, x, ctx.geometry, need_x, need_w)
        n, o = ctx.geometry[0][0], ctx.geometry[1][0]
        db = grad.reshape(n, o, -1).sum(dim=(0, 2)) if need_b else None
        return dx if need_x else None, dw if need_w else None, db, None


SAVED_COLUMNS_BYTES = 256 << 20

# NOTE: OpenBLAS (0.3.31, SkylakeX, 1 thread) runs the skinny GEMMs of a small convolution, (O, K) x (K, N*P)
# with O and K a few dozen and N*P in the tens of thousands, 2-3x below its speed on the same product cut
# into blocks of ~4096 columns (measured on LeNet-5's layers: dW 706 -> 244 us, forward 400 -> 218 us).
GEMM_COLUMNS = 4096


def _matmul_columns(a, b):
    """a @ b for stacks a (g, M, K), b (g, K, N), over blocks of GEMM_COLUMNS columns of b."""
    n = b.shape[-1]
    if n <= 2 * GEMM_COLUMNS:
        return np.matmul(a, b)
    out = np.empty(a.shape[:-1] + (n,), dtype=np.result_type(a, b))
    for start in range(0, n, GEMM_COLUMNS):
        np.matmul(a, b[..., start:start + GEMM_COLUMNS], out=out[..., start:start + GEMM_COLUMNS])
    return out


def _matmul_sum_columns(g, cols):
    """g @ cols^T for stacks g (groups, M, N), cols (groups, K, N): the sum over the N columns, formed as
    (cols @ g^T)^T block by block (that order measured faster for K > M) and summed."""
    total = np.zeros(g.shape[:-1] + cols.shape[-2:-1], np.result_type(g, cols)).transpose(0, 2, 1) \
        if not g.shape[-1] else None                        # no columns (an empty batch): dW = 0
    for start in range(0, g.shape[-1], GEMM_COLUMNS):
        part = np.matmul(cols[..., start:start + GEMM_COLUMNS], g[..., start:start + GEMM_COLUMNS].transpose(0, 2, 1))
        if total is None:
            total = part
        else:
            total += part
    return total.transpose(0, 2, 1)


def _conv_vjp(grad, weight, x, geometry, need_x, need_w, conv=Convolution):
    """(dx, dW) of conv(x, W) for output gradient ``grad``, through the convolution's own NumPy backward
    (``conv``: its Function, Convolution or Convolution3d)."""
    ctx = object.__new__(conv)
    ctx.needs_input_grad = (need_x, need_w, False)
    conv.forward(ctx, x, weight, None, geometry)
    dx, dw, _, _ = conv.backward(ctx, grad)
    return dx, dw


class ConvolutionGrad(Function):
    """(dx, dW) = the vector-Jacobian products of out = conv(x, W) at output gradient g.

    conv is bilinear, so both are bilinear too, and their own backward is conv again
    (gg_x, gg_W the gradients arriving at dx, dW):
        dg = conv(gg_x, W) + conv(x, gg_W),   dW' = dW-product of conv at (gg_x, g),
        dx' = dx-product of conv at (gg_W, g)
    which makes every order of derivative of a convolution a convolution (create_graph=True).
    ``conv`` is the convolution's Function (a subclass sets Convolution3d).
    """
    conv = Convolution

    @staticmethod
    def forward(ctx, grad, weight, x, geometry, need_x, need_w):
        ctx.save_for_backward(grad, weight, x)
        ctx.geometry = geometry
        dx, dw = _conv_vjp(grad, weight, x, geometry, need_x, need_w, type(ctx).conv)
        return (np.zeros(x.shape, grad.dtype) if dx is None else dx,
                np.zeros(weight.shape, grad.dtype) if dw is None else dw)

    @staticmethod
    def backward(ctx, gg_x, gg_w):
        grad, weight, x = ctx.saved_tensors
        geometry, conv = ctx.geometry, type(ctx).conv
        need_g, need_w, need_x = ctx.needs_input_grad[:3]
        d_grad = d_weight = d_x = None
        if need_g:
            d_grad = _conv_forward(gg_x, weight, geometry, conv) + _conv_forward(x, gg_w, geometry, conv)
        if need_w:
            d_weight = _conv_vjp(grad, weight, gg_x, geometry, False, True, conv)[1]
        if need_x:
            d_x = _conv_vjp(grad, gg_w, x, geometry, True, False, conv)[0]
        return d_grad, d_weight, d_x, None, None, None

    @staticmethod
    def graph_backward(ctx, gg_x, gg_w):
        grad, weight, x = ctx.saved_tensors
        geometry, cls = ctx.geometry, type(ctx)
        need_g, need_w, need_x = ctx.needs_input_grad[:3]
        d_grad = d_weight = d_x = None
        if need_g:
            d_grad = cls.conv.apply(gg_x, weight, None, geometry) + cls.conv.apply(x, gg_w, None, geometry)
        if need_w:
            d_weight = cls.apply(grad, weight, gg_x, geometry, False, True)[1]
        if need_x:
            d_x = cls.apply(grad, gg_w, x, geometry, True, False)[0]
        return d_grad, d_weight, d_x, None, None, None


def _conv_forward(x, weight, geometry, conv=Convolution):
    ctx = object.__new__(conv)
    return conv.forward(ctx, x, weight, None, geometry)


def _conv_columns(x, geometry, batch_last):
    """im2col of x for Convolution: (groups, K, N*P), columns in (y, x, n) order when ``batch_last``
    (x copied to a (C, H, W, N) buffer, padding included) and in (n, y, x) order otherwise."""
    x_shape4, w_shape4, _, stride, padding, dilation, groups, _ = geometry
    N, C, H, W = x_shape4
    _, Cg, kh, kw = w_shape4
    top, bottom, left, right = padding
    if batch_last:
        if top or bottom or left or right:
            buffer = np.zeros((C, H + top + bottom, W + left + right, N), dtype=x.dtype)
            buffer[:, top:top + H, left:left + W] = x.reshape(x_shape4).transpose(1, 2, 3, 0)
        else:
            buffer = np.ascontiguousarray(x.reshape(x_shape4).transpose(1, 2, 3, 0))
        view = im2col(buffer.transpose(3, 0, 1, 2), (kh, kw), stride, dilation)    # (N, C, kh, kw, oh, ow)
        cols = view.transpose(1, 2, 3, 4, 5, 0)                                   # columns (y, x, n)
    else:
        view = im2col(pad2d(x.reshape(x_shape4), padding), (kh, kw), stride, dilation)
        cols = view.transpose(1, 2, 3, 0, 4, 5)                                   # columns (n, y, x)
    return cols.reshape(groups, Cg * kh * kw, -1)


def _conv_geometry(name, n, input, weight, bias, stride, padding, dilation, groups):
    """Check the arguments the way PyTorch does and return Convolution's ``geometry``."""
    _check_conv(name, n, input, weight, bias, groups)
    x, w = input._data, weight._data
    kernel = _as_2d(tuple(w.shape[2:]), n, 1)
    stride = _as_2d(_tuple(stride, n, "stride"), n, 1)
    dilation = _as_2d(_tuple(dilation, n, "dilation"), n, 1)
    if any(s < 1 for s in stride) or any(d < 1 for d in dilation):
        raise RuntimeError(f"{name}: stride and dilation should be positive, got stride={stride[-n:]}, "
                           f"dilation={dilation[-n:]}")
    pads = _conv_padding(padding, n, kernel[-n:], dilation[-n:], stride[-n:])
    batched = x.ndim == n + 2
    x_shape4 = (x.shape[0] if batched else 1, x.shape[-n - 1]) + _as_2d(tuple(x.shape[-n:]), n, 1)
    padded = (x_shape4[2] + pads[0] + pads[1], x_shape4[3] + pads[2] + pads[3])
    effective = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if padded[0] < effective[0] or padded[1] < effective[1]:
        size = " x ".join(str(v) for v in padded[-n:])
        ks = " x ".join(str(v) for v in effective[-n:])
        raise RuntimeError(f"Calculated padded input size per channel: ({size}). Kernel size: ({ks}). "
                           "Kernel size can't be greater than actual input size")
    out_hw = tuple((p - e) // s + 1 for p, e, s in zip(padded, effective, stride))
    out_shape = ((x_shape4[0],) if batched else ()) + (w.shape[0],) + out_hw[-n:]
    return (x_shape4, (w.shape[0], w.shape[1]) + kernel, out_shape, stride, pads, dilation, groups, out_hw)


def _convolution(groups, input):
    """The Function for a convolution: grouped and depthwise ones skip im2col (see ops/conv_grouped.py),
    unless the input is empty (im2col handles groups too, and size-0 batches)."""
    if groups == 1 or not input._data.size:
        return Convolution
    from .conv_grouped import GroupedConvolution
    return GroupedConvolution


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation: out[n, o, t] = b[o] + sum_{c, j} W[o, c, j] * x_pad[n, g(o)c, t*s + j*d].

    Shape: input (N, C_in, L) or (C_in, L); weight (C_out, C_in/groups, k); bias (C_out,);
    output (N, C_out, L_out), L_out = floor((L + 2p - d*(k-1) - 1) / s) + 1.
    Args: stride=1, padding=0 (int, 'valid' or 'same'), dilation=1, groups=1.
    """
    geometry = _conv_geometry("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)
    return _convolution(groups, input).apply(input, weight, bias, geometry)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation (PyTorch's conv2d):

        out[n, o, y, x] = b[o] + sum_{c, i, j} W[o, c, i, j] * x_pad[n, g(o)*C/groups + c, y*sh + i*dh, x*sw + j*dw]

    Shape: input (N, C_in, H, W) or (C_in, H, W); weight (C_out, C_in/groups, kh, kw); bias (C_out,);
    output (N, C_out, H_out, W_out), H_out = floor((H + 2p - d*(kh-1) - 1) / s) + 1.
    Args: stride=1, padding=0 (int, pair, 'valid' or 'same'), dilation=1, groups=1.
    """
    geometry = _conv_geometry("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)
    return _convolution(groups, input).apply(input, weight, bias, geometry)


# ---------------------------------------------------------------- transposed convolution
class ConvolutionTranspose(Function):
    """The adjoint of Convolution with respect to its input ("deconvolution"), plus a bias.

    Forward:   cols = W_g^T @ x  (groups, Og*kh*kw, N*H*W);  out = crop(col2im(cols)) + b
    Backward:  G = im2col(pad(dL/dout));  dx = W_g @ G;  dW = x @ G^T;  db = sum G
    Output size: (H - 1)*s - 2p + d*(k - 1) + output_padding + 1.
    As in Convolution, the batch sits inside the columns: every product is one GEMM per group.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, geometry):
        x_shape4, w_shape4, out_shape, stride, padding, dilation, groups, out_hw = geometry
        N, C, H, W = x_shape4
        Cin, Og, kh, kw = w_shape4
        x_mat = np.ascontiguousarray(x.reshape(N, C, H * W).transpose(1, 0, 2)).reshape(groups, C // groups, -1)
        w_mat = weight.reshape(groups, C // groups, Og * kh * kw)
        cols = np.matmul(w_mat.transpose(0, 2, 1), x_mat)                            # (groups, Og*kh*kw, N*H*W)
        cols = cols.reshape(Og * groups, kh, kw, N, H, W).transpose(3, 0, 1, 2, 4, 5)
        padded = (out_hw[0] + padding[0] + padding[1], out_hw[1] + padding[2] + padding[3])
        out = crop2d(col2im(cols, padded, stride, dilation), padding, out_hw)
        out = out + bias.reshape(-1, 1, 1) if bias is not None else np.ascontiguousarray(out)
        ctx.geometry, ctx.shapes = geometry, (x.shape, weight.shape)
        ctx.save_for_backward(w_mat, x_mat)
        return out.reshape(out_shape)

    @staticmethod
    def backward(ctx, grad):
        w_mat, x_mat = ctx.saved_tensors
        x_shape4, w_shape4, _, stride, padding, dilation, groups, out_hw = ctx.geometry
        x_shape, w_shape = ctx.shapes
        N, C, H, W = x_shape4
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        g4 = grad.reshape((N, w_shape4[1] * groups) + tuple(out_hw))
        view = im2col(pad2d(g4, padding), w_shape4[2:], stride, dilation, out_size=(H, W))  # (N, Cout, kh, kw, H, W)
        cols = view.transpose(1, 2, 3, 0, 4, 5).reshape(groups, math.prod(w_shape4[1:]), N * H * W)
        dx = dw = db = None
        if need_x:
            dx = np.matmul(w_mat, cols).reshape(C, N, H, W).transpose(1, 0, 2, 3).reshape(x_shape)
        if need_w:
            dw = np.matmul(x_mat, cols.transpose(0, 2, 1)).reshape(w_shape)
        if need_b:
            db = g4.sum(axis=(0, 2, 3))
        return dx, dw, db, None

    @staticmethod
    def graph_backward(ctx, grad):
        # The transposed convolution is the adjoint of conv(., W) (geometry: _adjoint_conv), so
        # <g, conv_t(x, W)> = <conv(g, W), x>:  dx = conv(g, W),  dW = conv's dW-product at (g, x),
        # both recorded (Convolution, ConvolutionGrad), hence differentiable to any order.
        w_mat, x_mat = (t._data for t in ctx.saved_tensors)
        x_shape4, w_shape4, _, _, _, _, _, out_hw = ctx.geometry
        x_shape, w_shape = ctx.shapes
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        N, C, H, W = x_shape4
        geometry, crop = _adjoint_conv(ctx.geometry, x_shape)
        g4 = grad.reshape((N, w_shape4[1] * ctx.geometry[6]) + tuple(out_hw))
        if crop != (0, 0):
            g4 = g4[:, :, :out_hw[0] - crop[0], :out_hw[1] - crop[1]]
        weight = linked_input(ctx, 1, w_mat.reshape(w_shape))
        dx = dw = db = None
        if need_x:
            dx = Convolution.apply(g4, weight, None, geometry)
        if need_w:
            x = linked_input(ctx, 0, x_mat.reshape(C, N, H, W).transpose(1, 0, 2, 3).reshape(x_shape))
            dw = ConvolutionGrad.apply(x, weight, g4, geometry, False, True)[1]
        if need_b:
            db = grad.reshape(N, w_shape4[1] * ctx.geometry[6], -1).sum(dim=(0, 2))
        return dx, dw, db, None


def _adjoint_conv(geometry, x_shape):
    """The Convolution geometry of conv(g, W) (g: the transposed convolution's output, (N, C_out) + out_hw;
    result: its input's shape ``x_shape``), and how many trailing rows/columns of g it drops.

    The output_padding rows at the end of g are read by no window: the conv pads them away (pad after =
    p - output_padding), or, past p of them, g is cropped.
    """
    x_shape4, w_shape4, _, stride, pads, dilation, groups, out_hw = geometry
    N, C, H, W = x_shape4
    after, crop = [], []
    for size, n, s, d, k, p in zip(out_hw, (H, W), stride, dilation, w_shape4[2:], pads[::2]):
        extra = size + 2 * p - ((n - 1) * s + d * (k - 1) + 1)           # = output_padding
        crop.append(max(extra - p, 0))
        after.append(p - extra + crop[-1])
    g_shape4 = (N, w_shape4[1] * groups, out_hw[0] - crop[0], out_hw[1] - crop[1])
    conv_pads = (pads[0], after[0], pads[2], after[1])
    return (g_shape4, w_shape4, tuple(x_shape), stride, conv_pads, dilation, groups, (H, W)), tuple(crop)


def _conv_transpose(name, n, input, weight, bias, stride, padding, output_padding, groups, dilation):
    _check_conv(name, n, input, weight, bias, groups, transposed=True)
    if isinstance(padding, str):
        raise ValueError(f"{name}: padding must be an int or a tuple of {n} ints (got padding={padding!r}; "
                         "'same'/'valid' are for convolutions only)")
    x, w = input._data, weight._data
    kernel = _as_2d(tuple(w.shape[2:]), n, 1)
    stride = _as_2d(_tuple(stride, n, "stride"), n, 1)
    dilation = _as_2d(_tuple(dilation, n, "dilation"), n, 1)
    pad = _as_2d(_tuple(padding, n, "padding"), n, 0)
    out_pad = _as_2d(_tuple(output_padding, n, "output_padding"), n, 0)
    for op, s, d in zip(out_pad, stride, dilation):
        if op >= s and op >= d:
            raise RuntimeError(f"output padding must be smaller than either stride or dilation, but got "
                               f"output_padding={out_pad[-n:]}, stride={stride[-n:]}, dilation={dilation[-n:]}")
    batched = x.ndim == n + 2
    x_shape4 = (x.shape[0] if batched else 1, x.shape[-n - 1]) + _as_2d(tuple(x.shape[-n:]), n, 1)
    out_hw = tuple((size - 1) * s - 2 * p + d * (k - 1) + op + 1
                   for size, s, p, d, k, op in zip(x_shape4[2:], stride, pad, dilation, kernel, out_pad))
    if min(out_hw) < 1:
        raise RuntimeError(f"{name}: Given input size per channel {tuple(x.shape[-n:])}, the calculated output "
                           f"size {out_hw[-n:]} is too small")
    # The full result, (H - 1)*s + d*(k - 1) + 1 + output_padding rows, is cropped by p on both sides
    # (output_padding only lengthens the buffer at the end), so it is ``out`` padded by p.
    pads = (pad[0], pad[0], pad[1], pad[1])
    out_shape = ((x_shape4[0],) if batched else ()) + (w.shape[1] * groups,) + out_hw[-n:]
    return (x_shape4, (w.shape[0], w.shape[1]) + kernel, out_shape, stride, pads, dilation, groups, out_hw)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-D transposed convolution; weight (C_in, C_out/groups, k). See ``conv_transpose2d``."""
    geometry = _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding,
                               groups, dilation)
    return ConvolutionTranspose.apply(input, weight, bias, geometry)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution, the gradient of conv2d with respect to its input:

        out = crop_p(col2im(W^T @ x)) + b,   H_out = (H - 1)*s - 2p + d*(kh - 1) + output_padding + 1

    Shape: input (N, C_in, H, W) or unbatched; weight (C_in, C_out/groups, kh, kw); bias (C_out,).
    Args: stride=1, padding=0, output_padding=0, groups=1, dilation=1.
    """
    geometry = _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding,
                               groups, dilation)
    return ConvolutionTranspose.apply(input, weight, bias, geometry)


# ---------------------------------------------------------------- unfold / fold
class Unfold(Function):
    """im2col as an op: (N, C, H, W) -> (N, C*kh*kw, L).   Backward: col2im (= fold)."""

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, dilation):
        cols, out_size = unfold_array(x, kernel_size, stride, padding, dilation)
        ctx.args = (x.shape[-2:], kernel_size, stride, padding, dilation, out_size)
        cols = np.ascontiguousarray(cols)
        return cols.copy() if np.may_share_memory(cols, x) else cols           # 1x1 blocks: a view of x

    @staticmethod
    def backward(ctx, grad):
        return fold_array(grad, *ctx.args), None, None, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        # linear in x: the adjoint of fold is unfold again, applied to gg
        kernel, stride, padding, dilation = ctx.args[1:5]
        return (linear_backward(ctx, grad, lambda g: Unfold.apply(g, kernel, stride, padding, dilation)),
                None, None, None, None)


class Fold(Function):
    """col2im as an op: (N, C*kh*kw, L) -> (N, C, H, W), overlapping entries summed.   Backward: im2col."""

    @staticmethod
    def forward(ctx, cols, image_size, kernel_size, stride, padding, dilation, out_size):
        ctx.args = (kernel_size, stride, padding, dilation)
        return np.ascontiguousarray(fold_array(cols, image_size, kernel_size, stride, padding, dilation, out_size))

    @staticmethod
    def backward(ctx, grad):
        cols, _ = unfold_array(grad, *ctx.args)
        return cols, None, None, None, None, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        # linear in the columns: the adjoint of unfold is fold again, applied to gg
        (kernel, stride, padding, dilation), image_size = ctx.args, tuple(grad.shape[-2:])
        out_size = tuple((s + p0 + p1 - d * (k - 1) - 1) // st + 1 for s, p0, p1, d, k, st in
                         zip(image_size, padding[::2], padding[1::2], dilation, kernel, stride))
        fold_cols = lambda g: Fold.apply(g, image_size, kernel, stride, padding, dilation, out_size)   # noqa: E731
        return (linear_backward(ctx, grad, fold_cols),) + (None,) * 6


def _unfold_args(kernel_size, dilation, padding, stride):
    kernel, dilation = _tuple(kernel_size, 2, "kernel_size"), _tuple(dilation, 2, "dilation")
    padding, stride = _tuple(padding, 2, "padding"), _tuple(stride, 2, "stride")
    return kernel, stride, (padding[0], padding[0], padding[1], padding[1]), dilation


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Extract sliding blocks (im2col): (N, C, H, W) -> (N, C*kh*kw, L), L = number of block positions.

    out[n, c*kh*kw + i*kw + j, y*ow + x] = x_pad[n, c, y*sh + i*dh, x*sw + j*dw]
    """
    x = input._data
    if x.ndim not in (3, 4):
        raise NotImplementedError(f"Input Error: Only 3D or 4D input Tensors are supported (got {x.ndim}D)")
    kernel, stride, pads, dilation = _unfold_args(kernel_size, dilation, padding, stride)
    if x.ndim == 3:
        return unfold(input.unsqueeze(0), kernel, dilation, padding, stride).squeeze(0)
    H, W = x.shape[2] + 2 * pads[0], x.shape[3] + 2 * pads[2]
    if H < dilation[0] * (kernel[0] - 1) + 1 or W < dilation[1] * (kernel[1] - 1) + 1:
        raise RuntimeError(f"unfold: padded input size ({H} x {W}) is smaller than the effective kernel "
                           f"({dilation[0] * (kernel[0] - 1) + 1} x {dilation[1] * (kernel[1] - 1) + 1})")
    return Unfold.apply(input, kernel, stride, pads, dilation)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Combine sliding blocks into an image (col2im), summing overlaps: (N, C*kh*kw, L) -> (N, C, H, W).

    The adjoint of ``unfold``: fold(unfold(x)) multiplies each pixel by the number of blocks covering it.
    """
    cols = input._data
    if cols.ndim not in (2, 3):
        raise NotImplementedError(f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported "
                                  f"(got {cols.ndim}D)")
    if cols.ndim == 2:
        return fold(input.unsqueeze(0), output_size, kernel_size, dilation, padding, stride).squeeze(0)
    kernel, stride, pads, dilation = _unfold_args(kernel_size, dilation, padding, stride)
    size = _tuple(output_size, 2, "output_size")
    out_size = tuple((s + 2 * p - d * (k - 1) - 1) // st + 1
                     for s, p, d, k, st in zip(size, pads[::2], dilation, kernel, stride))
    if cols.shape[1] % (kernel[0] * kernel[1]):
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, "
                           f"but got input.size(1)={cols.shape[1]} and kernel_size={kernel}")
    if cols.shape[2] != out_size[0] * out_size[1]:
        raise RuntimeError(f"Given output_size={size}, kernel_size={kernel}, dilation={dilation}, "
                           f"padding={(pads[0], pads[2])}, stride={stride}, expected size of input's dimension 2 to "
                           f"match the calculated number of sliding blocks {out_size[0]} * {out_size[1]} = "
                           f"{out_size[0] * out_size[1]}, but got input.size(2)={cols.shape[2]}.")
    return Fold.apply(input, size, kernel, stride, pads, dilation, out_size)
