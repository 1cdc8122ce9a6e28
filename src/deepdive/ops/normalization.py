"""Normalisation: batch_norm, layer_norm, group_norm, rms_norm, each one fused Function.

All share the same structure: x_hat = (x - mean) / sqrt(var + eps) over some
axes, then a per-feature affine y = x_hat * w + b. With M elements per
normalised group and gx = g * w, the closed-form backward of the normalisation is

    dx = invstd * (gx - mean(gx) - x_hat * mean(gx * x_hat))       (means over the M elements)

NOTE: fused because composing mean/sub/var/div/mul would record ~10 nodes and
keep ~6 full-size temporaries alive; the closed form needs x_hat and invstd only.
"""
import numpy as np

from ..autograd.function import Function

# torch.batch_norm / torch.instance_norm take their arguments in another order: only nn.functional has them here.
__all__ = ["layer_norm", "group_norm", "rms_norm"]


def _normalize_backward(gx, x_hat, invstd, axes):
    """dx of x_hat = (x - mean(x)) * invstd, given gx = dL/dx_hat (see the module docstring)."""
    mean_gx = gx.mean(axis=axes, keepdims=True)
    mean_gx_xhat = (gx * x_hat).mean(axis=axes, keepdims=True)
    return invstd * (gx - mean_gx - x_hat * mean_gx_xhat)


class BatchNorm(Function):
    """y = (x - mean) * invstd * w + b per channel (dim 1); statistics over (N, *spatial).

    Training: batch statistics (and, as a side effect, the running buffers are updated:
    r <- (1 - momentum) r + momentum * stat, with the unbiased variance). Eval: running statistics.
    Backward (training): dx = _normalize_backward(g w);  (eval): dx = g * w * invstd.
    dw = sum(g * x_hat),  db = sum(g)   over (N, *spatial).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
        axes = (0,) + tuple(range(2, x.ndim))
        bshape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        if training:
            mean = x.mean(axis=axes, keepdims=True)
            centred = x - mean
            var = np.mean(centred * centred, axis=axes, keepdims=True)
            if running_mean is not None:
                n = x.size // x.shape[1]
                running_mean *= 1 - momentum
                running_mean += momentum * mean.reshape(-1)
                running_var *= 1 - momentum
                running_var += (momentum * n / max(n - 1, 1)) * var.reshape(-1)
        else:
            mean = running_mean.reshape(bshape)
            var = running_var.reshape(bshape)
            centred = x - mean
        invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
        x_hat = centred * invstd
        y = x_hat * weight.reshape(bshape) if weight is not None else x_hat.copy()
        if bias is not None:
            y += bias.reshape(bshape)
        ctx.save_for_backward(x_hat, invstd, weight)
        ctx.info = (axes, bshape, training)
        return y

    @staticmethod
    def backward(ctx, grad):
        x_hat, invstd, weight = ctx.saved_tensors
        axes, bshape, training = ctx.info
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dx = dw = db = None
        if need_w:
            dw = (grad * x_hat).sum(axis=axes)
        if need_b:
            db = grad.sum(axis=axes)
        if need_x:
            gx = grad * weight.reshape(bshape) if weight is not None else grad
            dx = _normalize_backward(gx, x_hat, invstd, axes) if training else gx * invstd
        return dx, dw, db, None, None, None, None, None


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

    Backward: dx = _normalize_backward(g w) over the last k dims;  dw = sum(g x_hat), db = sum(g) over the rest.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, k, eps):
        axes = tuple(range(x.ndim - k, x.ndim))
        mean = x.mean(axis=axes, keepdims=True)
        centred = x - mean
        var = np.mean(centred * centred, axis=axes, keepdims=True)
        invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
        x_hat = centred * invstd
        y = x_hat * weight if weight is not None else x_hat.copy()
        if bias is not None:
            y += bias
        ctx.save_for_backward(x_hat, invstd, weight)
        ctx.axes = axes
        return y

    @staticmethod
    def backward(ctx, grad):
        x_hat, invstd, weight = ctx.saved_tensors
        axes = ctx.axes
        lead = tuple(range(grad.ndim - len(axes)))
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dx = dw = db = None
        if need_w:
            dw = (grad * x_hat).sum(axis=lead)
        if need_b:
            db = grad.sum(axis=lead)
        if need_x:
            dx = _normalize_backward(grad * weight if weight is not None else grad, x_hat, invstd, axes)
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
    _check_trailing("layer_norm", input, shape)
    return LayerNorm.apply(input, weight, bias, len(shape), eps)


class GroupNorm(Function):
    """Channels split into G groups; y = x_hat * w + b with statistics per (sample, group).

    Backward: dx = _normalize_backward(g w) within each (sample, group);  dw, db summed over N and space.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, groups, eps):
        n, c = x.shape[:2]
        xg = x.reshape(n, groups, -1)
        mean = xg.mean(axis=2, keepdims=True)
        centred = xg - mean
        var = np.mean(centred * centred, axis=2, keepdims=True)
        invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
        x_hat = (centred * invstd).reshape(x.shape)
        bshape = (1, c) + (1,) * (x.ndim - 2)
        y = x_hat * weight.reshape(bshape) if weight is not None else x_hat.copy()
        if bias is not None:
            y += bias.reshape(bshape)
        ctx.save_for_backward(x_hat, invstd, weight)
        ctx.info = (groups, bshape)
        return y

    @staticmethod
    def backward(ctx, grad):
        x_hat, invstd, weight = ctx.saved_tensors
        groups, bshape = ctx.info
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        axes = (0,) + tuple(range(2, grad.ndim))
        dx = dw = db = None
        if need_w:
            dw = (grad * x_hat).sum(axis=axes)
        if need_b:
            db = grad.sum(axis=axes)
        if need_x:
            n = grad.shape[0]
            gx = grad * weight.reshape(bshape) if weight is not None else grad
            dx = _normalize_backward(gx.reshape(n, groups, -1), x_hat.reshape(n, groups, -1), invstd, 2)
            dx = dx.reshape(grad.shape)
        return dx, dw, db, None, None


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each group of ``C / num_groups`` channels of each sample (N, C, *)."""
    if input.ndim < 2:
        raise RuntimeError(f"group_norm: Expected at least 2 dimensions for input tensor but received {input.ndim}")
    if input.shape[1] % num_groups:
        raise RuntimeError(f"group_norm: Expected number of channels in input to be divisible by num_groups, but got "
                           f"input of shape {list(input.shape)} and num_groups={num_groups}")
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

