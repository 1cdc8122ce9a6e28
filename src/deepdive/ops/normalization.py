"""Normalisation: batch_norm, layer_norm, group_norm, rms_norm, each one fused Function.

All share the same structure: x_hat = (x - mean) / sqrt(var + eps) over some
axes, then a per-feature affine y = x_hat * w + b. With M elements per
normalised group and gx = g * w, the closed-form backward of the normalisation is

    dx = invstd * (gx - mean(gx) - x_hat * mean(gx * x_hat))       (means over the M elements)

NOTE: fused because composing mean/sub/var/div/mul would record ~10 nodes and
keep ~6 full-size temporaries alive; the closed form needs x_hat and invstd only.
"""
import math

import numpy as np

from ..autograd.function import Function
from ..tensor import _wrap
from ..autograd._graph import composite_backward
from .padding import ConstantPad

# torch.batch_norm / torch.instance_norm take their arguments in another order: only nn.functional has them here.
__all__ = ["layer_norm", "group_norm", "rms_norm"]


class BatchNorm(Function):
    """y = (x - mean) * invstd * w + b per channel (dim 1); statistics over (N, *spatial).

    Training: batch statistics (and, as a side effect, the running buffers are updated:
    r <- (1 - momentum) r + momentum * stat, with the unbiased variance). Eval: running statistics.
    With w, mean, invstd constant per channel, the backward of the module docstring simplifies to
        dx = w * invstd * (g - sum(g) / M - x_hat * sum(g * x_hat) / M)      (training)
        dx = w * invstd * g                                                 (eval)
        dw = sum(g * x_hat),  db = sum(g)            (sums over N and space, M terms)
    so backward needs two channel reductions and a few elementwise passes.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
        n, c = x.shape[:2]
        x3 = x.reshape(n, c, math.prod(x.shape[2:]))    # (N, C, L), not -1: N may be 0; channel reductions become einsum over n and l
        count = x3.shape[0] * x3.shape[2]
        if training:
            mean = np.einsum("ncl->c", x3) / count
            x_hat = x3 - mean[:, None]
            var = np.einsum("ncl,ncl->c", x_hat, x_hat) / count
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean
                running_var *= 1 - momentum
                running_var += (momentum * count / max(count - 1, 1)) * var
        else:
            mean, var = running_mean.astype(x.dtype, copy=False), running_var
            x_hat = x3 - mean[:, None]
        invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
        x_hat *= invstd[:, None]
        if weight is not None:
            y = x_hat * weight[:, None]
            if bias is not None:
                y += bias[:, None]
        else:
            y = x_hat + bias[:, None] if bias is not None else x_hat.copy()
        ctx.save_for_backward(x_hat, invstd, weight, x)      # x: for create_graph
        ctx.info, ctx.eps = (x.shape, count, training), eps
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        x_hat, invstd, weight, _ = ctx.saved_tensors
        shape, count, training = ctx.info
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        g = grad.reshape(x_hat.shape)
        sum_g = np.einsum("ncl->c", g) if (need_b or (need_x and training)) else None
        sum_g_xhat = np.einsum("ncl,ncl->c", g, x_hat) if (need_w or (need_x and training)) else None
        dx = None
        if need_x:
            scale = invstd * weight if weight is not None else invstd
            if training:
                dx = x_hat * (sum_g_xhat / count)[:, None]
                np.subtract(g, dx, out=dx)
                dx -= (sum_g / count)[:, None]
                dx *= scale[:, None]
            else:
                dx = g * scale[:, None]
            dx = dx.reshape(shape)
        return (dx, sum_g_xhat if need_w else None, sum_g if need_b else None, None, None, None, None, None)

    @staticmethod
    def graph_backward(ctx, grad):
        _, invstd, weight, x = ctx.saved_tensors
        shape, count, training = ctx.info
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        x3 = x.reshape(shape[0], shape[1], -1)
        if training:        # the batch statistics rebuilt on Tensors: they depend on x
            centered = x3 - x3.mean(dim=(0, 2), keepdim=True)
            invstd = ((centered * centered).mean(dim=(0, 2), keepdim=True) + ctx.eps).rsqrt()
        else:               # the running statistics are constants
            centered = x3 - _wrap(x3._data - (x_hat_of(ctx)))
            invstd = invstd.reshape(1, -1, 1)
        x_hat = centered * invstd
        g = grad.reshape(x3.shape)
        dw = (g * x_hat).sum(dim=(0, 2)) if need_w else None
        db = g.sum(dim=(0, 2)) if need_b else None
        dx = None
        if need_x:
            scale = invstd * weight.reshape(1, -1, 1) if weight is not None else invstd
            if training:
                dx = (g - g.mean(dim=(0, 2), keepdim=True) - x_hat * (g * x_hat).mean(dim=(0, 2), keepdim=True)) * scale
            else:
                dx = g * scale
            dx = dx.reshape(shape)
        return dx, dw, db, None, None, None, None, None


def x_hat_of(ctx):
    """x - running_mean (eval mode), from the saved normalised input: x_hat / invstd."""
    x_hat, invstd = ctx._raw_saved[0], ctx._raw_saved[1]
    return x_hat / invstd[:, None]


def _array_or_none(t):
    return None if t is None else t._data


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalise each channel (dim 1) of ``input`` (N, C, *) by batch statistics (training) or the running ones.

    In training the running buffers (if given) are updated in place with ``momentum``.
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected at least 2D input (N, C, *), got {input.ndim}D input")
    channels = input.shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and t._data.size != channels:
            raise RuntimeError(f"batch_norm: {name} should contain {channels} elements (one per channel of input "
                               f"{list(input.shape)}), not {t._data.size}")
    if training:
        if input._data.size // channels <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                             f"{input.shape}")
    elif running_mean is None or running_var is None:
        raise RuntimeError("batch_norm: running_mean and running_var must be defined in evaluation mode")
    return BatchNorm.apply(input, weight, bias, _array_or_none(running_mean), _array_or_none(running_var),
                           bool(training), momentum, eps)


class LayerNorm(Function):
    """y = (x - mean) * invstd * w + b, statistics over the last k dims (per sample).

    Backward: dx = invstd * (gx - mean(gx) - x_hat * mean(gx x_hat)) over the last k dims (gx = g w);
              dw = sum(g x_hat), db = sum(g) over the rest.

    NOTE: works on the (rows, features) view, with row sums as matrix-vector products and the
    row/column dot products as einsum: fewer passes over memory and no full-size temporaries
    beyond x_hat, which is what makes it competitive with a fused C kernel.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, k, eps):
        features = int(np.prod(x.shape[x.ndim - k:]))
        x2 = x.reshape(int(np.prod(x.shape[:x.ndim - k])), features)     # not (-1, features): features may be 0
        ones = np.ones(features, dtype=x.dtype)
        x_hat = x2 - ((x2 @ ones) / features)[:, None]
        var = np.einsum("ij,ij->i", x_hat, x_hat) / features
        invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False)[:, None]
        x_hat *= invstd
        if weight is not None:
            y = x_hat * weight.reshape(-1)
            if bias is not None:
                y += bias.reshape(-1)
        else:
            y = x_hat + bias.reshape(-1) if bias is not None else x_hat.copy()
        ctx.save_for_backward(x_hat, invstd, weight, x)      # x: for create_graph
        ctx.shapes = (x.shape, features, None if bias is None else bias.shape)
        ctx.eps = eps
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        x_hat, invstd, weight, _ = ctx.saved_tensors
        shape, features, bias_shape = ctx.shapes
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        g = grad.reshape(x_hat.shape)
        dx = dw = db = None
        if need_w:
            dw = np.einsum("ij,ij->j", g, x_hat).reshape(weight.shape)
        if need_b:
            db = (np.ones(g.shape[0], dtype=g.dtype) @ g).reshape(bias_shape)
        if need_x:
            gx = g * weight.reshape(-1) if weight is not None else g
            mean_gx = (gx @ np.ones(features, dtype=g.dtype)) / features
            mean_gx_xhat = np.einsum("ij,ij->i", gx, x_hat) / features
            # dx = invstd gx - x_hat (invstd mean(gx x_hat)) - invstd mean(gx), written into gx's buffer
            dx = np.multiply(gx, invstd, out=gx) if weight is not None else gx * invstd
            dx -= x_hat * (invstd[:, 0] * mean_gx_xhat)[:, None]
            dx -= (invstd[:, 0] * mean_gx)[:, None]
            dx = dx.reshape(shape)
        return dx, dw, db, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        _, _, weight, x = ctx.saved_tensors
        shape, features, bias_shape = ctx.shapes
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        x2 = x.reshape(-1, features)
        centered = x2 - x2.mean(dim=1, keepdim=True)
        invstd = ((centered * centered).mean(dim=1, keepdim=True) + ctx.eps).rsqrt()
        x_hat = centered * invstd
        g = grad.reshape(-1, features)
        dw = (g * x_hat).sum(dim=0).reshape(weight.shape) if need_w else None
        db = g.sum(dim=0).reshape(bias_shape) if need_b else None
        dx = None
        if need_x:
            gx = g * weight.reshape(-1) if weight is not None else g
            dx = (invstd * (gx - gx.mean(dim=1, keepdim=True) - x_hat * (gx * x_hat).mean(dim=1, keepdim=True)))
            dx = dx.reshape(shape)
        return dx, dw, db, None, None


def _normalized_shape(normalized_shape):
    if isinstance(normalized_shape, int):
        return (normalized_shape,)
    return tuple(int(s) for s in normalized_shape)


def _check_trailing(op, input, shape):
    if tuple(input.shape[input.ndim - len(shape):]) != shape or input.ndim < len(shape):
        raise RuntimeError(f"{op}: Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(str(s) for s in shape)}], but got input of size {list(input.shape)}")


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing ``normalized_shape`` dims of each sample, then scale and shift."""
    shape = _normalized_shape(normalized_shape)
    if not shape:
        raise RuntimeError("layer_norm: Expected normalized_shape to be at least 1-dimensional, i.e., containing at "
                           "least one element, but got normalized_shape = []")
    _check_trailing("layer_norm", input, shape)
    if not all(shape):
        with np.errstate(invalid="ignore"):     # no features: the means are 0 / 0 of rows that have no elements
            return LayerNorm.apply(input, weight, bias, len(shape), eps)
    return LayerNorm.apply(input, weight, bias, len(shape), eps)


class GroupNorm(Function):
    """Channels split into G groups; y = x_hat * w + b with statistics per (sample, group).

    On the (N, G, C/G, L) view, with per-(sample, channel) sums S_g = sum_l g and S_gx = sum_l g x_hat:
        dx = invstd * (g w - sum_c(w S_g) / M - x_hat * sum_c(w S_gx) / M)     (M elements per group)
        dw = sum_n S_gx,  db = sum_n S_g
    """

    @staticmethod
    def forward(ctx, x, weight, bias, groups, eps):
        n, c = x.shape[:2]
        x4 = x.reshape(n, groups, c // groups, math.prod(x.shape[2:]))     # not -1: N may be 0
        count = x4.shape[2] * x4.shape[3]
        mean = np.einsum("ngcl->ng", x4) / count
        x_hat = x4 - mean[:, :, None, None]
        var = np.einsum("ngcl,ngcl->ng", x_hat, x_hat) / count
        invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
        x_hat *= invstd[:, :, None, None]
        if weight is not None:
            y = x_hat * weight.reshape(groups, -1)[:, :, None]
            if bias is not None:
                y += bias.reshape(groups, -1)[:, :, None]
        else:
            y = x_hat + bias.reshape(groups, -1)[:, :, None] if bias is not None else x_hat.copy()
        ctx.save_for_backward(x_hat, invstd, weight)
        ctx.info = (x.shape, count)
        ctx.inputs, ctx.groups, ctx.eps = (x, weight, bias), groups, eps       # for create_graph
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        x_hat, invstd, weight = ctx.saved_tensors
        shape, count = ctx.info
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        n, groups, per_group = x_hat.shape[:3]
        g = grad.reshape(x_hat.shape)
        sum_g = np.einsum("ngcl->ngc", g)
        sum_g_xhat = np.einsum("ngcl,ngcl->ngc", g, x_hat)
        dx = None
        if need_x:
            w = weight.reshape(groups, per_group) if weight is not None else np.ones((groups, per_group), g.dtype)
            a = np.einsum("ngc,gc->ng", sum_g, w) / count
            b = np.einsum("ngc,gc->ng", sum_g_xhat, w) / count
            dx = g * w[:, :, None] if weight is not None else g.copy()
            dx -= x_hat * b[:, :, None, None]
            dx -= a[:, :, None, None]
            dx *= invstd[:, :, None, None]
            dx = dx.reshape(shape)
        dw = sum_g_xhat.sum(axis=0).reshape(-1) if need_w else None
        db = sum_g.sum(axis=0).reshape(-1) if need_b else None
        return dx, dw, db, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        def group_norm(x, weight, bias):
            n, c = x.shape[:2]
            x3 = x.reshape(n, ctx.groups, -1)
            centered = x3 - x3.mean(dim=2, keepdim=True)
            y = (centered * ((centered * centered).mean(dim=2, keepdim=True) + ctx.eps).rsqrt()).reshape(x.shape)
            affine = (1, c) + (1,) * (x.ndim - 2)
            if weight is not None:
                y = y * weight.reshape(affine)
            return ((y + bias.reshape(affine)) if bias is not None else y,)
        return composite_backward(ctx, (grad,), group_norm, ctx.inputs)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each group of ``C / num_groups`` channels of each sample (N, C, *)."""
    if input.ndim < 2:
        raise RuntimeError(f"group_norm: Expected at least 2 dimensions for input tensor but received {input.ndim}")
    if input.shape[1] % num_groups:
        raise RuntimeError(f"group_norm: Expected number of channels in input to be divisible by num_groups, but got "
                           f"input of shape {list(input.shape)} and num_groups={num_groups}")
    size = [input.shape[0] * input.shape[1] // num_groups, num_groups] + list(input.shape[2:])
    if math.prod(size[:1] + size[2:]) == 1:      # PyTorch's _verify_batch_size, with its message
        raise ValueError(f"group_norm: Expected more than 1 value per channel when training, got input size {size}")
    return GroupNorm.apply(input, weight, bias, num_groups, eps)


class RMSNorm(Function):
    """y = x / sqrt(mean(x^2) + eps) * w over the last k dims (Zhang & Sennrich 2019).

    With r = 1/sqrt(mean(x^2) + eps), y0 = x r, gy = g w:
    Backward: dx = r * (gy - y0 * mean(gy * y0)),  dw = sum(g * y0) over the leading dims.
    """

    @staticmethod
    def forward(ctx, x, weight, k, eps):
        axes = tuple(range(x.ndim - k, x.ndim))
        r = (1.0 / np.sqrt(np.mean(x * x, axis=axes, keepdims=True) + eps)).astype(x.dtype, copy=False)
        y0 = x * r
        ctx.save_for_backward(y0, r, weight)
        ctx.axes = axes
        ctx.inputs, ctx.eps = (x, weight), eps       # for create_graph
        return y0 * weight if weight is not None else y0

    @staticmethod
    def backward(ctx, grad):
        y0, r, weight = ctx.saved_tensors
        axes = ctx.axes
        need_x, need_w = ctx.needs_input_grad[:2]
        dx = dw = None
        if need_w:
            dw = (grad * y0).sum(axis=tuple(range(grad.ndim - len(axes))))
        if need_x:
            gy = grad * weight if weight is not None else grad
            dx = r * (gy - y0 * (gy * y0).mean(axis=axes, keepdims=True))
        return dx, dw, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        def rms_norm(x, weight):
            y = x * ((x * x).mean(dim=ctx.axes, keepdim=True) + ctx.eps).rsqrt()
            return (y * weight if weight is not None else y,)
        return composite_backward(ctx, (grad,), rms_norm, ctx.inputs)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) * weight over the trailing ``normalized_shape`` dims
    (eps None: the machine epsilon of the input's dtype, as in PyTorch)."""
    shape = _normalized_shape(normalized_shape)
    _check_trailing("rms_norm", input, shape)
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    return RMSNorm.apply(input, weight, len(shape), eps)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalise each channel of each sample over its spatial dims (N, C, *): group_norm with G = C,
    or batch_norm with the running statistics when ``use_input_stats`` is False."""
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    if running_mean is not None:
        # Keep the running statistics (averaged over the batch), as PyTorch does.
        axes = tuple(range(2, input.ndim))
        data = input._data
        mean = data.mean(axis=axes).mean(axis=0)
        n = int(np.prod(data.shape[2:]))
        var = (data.var(axis=axes) * n / max(n - 1, 1)).mean(axis=0)
        running_mean._data *= 1 - momentum
        running_mean._data += momentum * mean
        running_var._data *= 1 - momentum
        running_var._data += momentum * var
    return group_norm(input, input.shape[1], weight, bias, eps)


def _window_sum(a, before, after):
    """sum_{c' = c - before}^{c + after} a[:, c'] along dim 1 (zero outside), via a cumulative sum."""
    pad = [(0, 0)] * a.ndim
    pad[1] = (before + 1, after)
    csum = np.cumsum(np.pad(a, pad), axis=1)
    c = a.shape[1]
    return csum[:, before + after + 1:before + after + 1 + c] - csum[:, :c]


class LocalResponseNorm(Function):
    """y_c = x_c * d_c^-beta,  d_c = k + alpha/n * sum_{c' in window(c)} x_c'^2  (window: n channels around c,
    n//2 before and (n-1)//2 after; Krizhevsky et al. 2012).

    Backward: dx_j = g_j d_j^-beta - (2 alpha beta / n) x_j * sum_{c: j in window(c)} g_c x_c d_c^(-beta-1).
    """

    @staticmethod
    def forward(ctx, x, size, alpha, beta, k):
        before, after = size // 2, (size - 1) // 2
        d = _window_sum(x * x, before, after)
        d *= alpha / size
        d += k
        scale = d ** -beta
        ctx.save_for_backward(x, d, scale)
        ctx.params, ctx.k = (size, alpha, beta, before, after), k
        return x * scale

    @staticmethod
    def backward(ctx, grad):
        x, d, scale = ctx.saved_tensors
        size, alpha, beta, before, after = ctx.params
        inner = grad * x * scale / d
        # c with j in window(c) means j - after <= c <= j + before: the window mirrored
        spread = _window_sum(inner, after, before)
        return grad * scale - (2 * alpha * beta / size) * x * spread, None, None, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        # the forward recomputed with recorded ops (the window sum: shifted slices of the zero-padded x^2)
        size, alpha, beta, before, after = ctx.params

        def local_response_norm(x, *_):
            squares = ConstantPad.apply(x * x, ((before, after),) + ((0, 0),) * (x.ndim - 2), 0)
            channels = x.shape[1]
            total = squares[:, 0:channels]
            for shift in range(1, size):
                total = total + squares[:, shift:shift + channels]
            return (x * (total * (alpha / size) + ctx.k) ** -beta,)
        x = ctx.saved_tensors[0]._data
        return composite_backward(ctx, (grad,), local_response_norm, (x, None, None, None, None))


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Normalise each element by the energy of its ``size`` neighbouring channels (input (N, C, *))."""
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} dimensions)")
    if input.numel() == 0:
        return input
    return LocalResponseNorm.apply(input, size, alpha, beta, k)
