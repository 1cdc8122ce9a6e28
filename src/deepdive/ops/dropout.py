"""Dropout (Srivastava et al. 2014), inverted: y = x * m / (1 - p), m ~ Bernoulli(1 - p).

Scaling the kept units by 1/(1 - p) at training time keeps E[y] = x, so eval
mode is the identity. The mask comes from the deepdive generator
(``deepdive.manual_seed`` makes it reproducible). Channel-wise variants
(dropout1d/2d/3d) draw one mask value per (sample, channel).
"""
import math
import warnings

import numpy as np

from ..autograd.function import Function
from ..random import get_generator
from .inplace import rebase, check_inplace
from ..autograd.grad_mode import STATE

__all__ = ["dropout", "alpha_dropout", "feature_dropout", "feature_alpha_dropout"]

_SELU_NEG_SATURATION = 1.7580993408473766     # -scale * alpha of SELU: the value alpha dropout sets units to


class DropoutMask(Function):
    """y = x * mask (mask already scaled by 1/(1-p), broadcast over feature dims).   Backward: dx = g * mask."""

    @staticmethod
    def forward(ctx, x, mask):
        ctx.save_for_backward(mask)
        ctx.x_shape = x.shape
        return x * mask

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        g = grad * mask
        return g, None

    graph_backward = backward     # operators only: runs on Tensors too (create_graph)


class AffineMask(Function):
    """y = x * a + b (alpha dropout: a, b fixed arrays from the mask).   Backward: dx = g * a."""

    @staticmethod
    def forward(ctx, x, a, b):
        ctx.save_for_backward(a)
        return x * a + b

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * a, None, None

    graph_backward = backward     # operators only: runs on Tensors too (create_graph)


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _keep_mask(shape, p, dtype):
    """Bernoulli(1 - p) mask divided by (1 - p), in ``dtype`` (all zeros when p = 1, with no draw).

    As PyTorch's ``_dropout_impl``: ``noise.bernoulli_(1 - p); noise.div_(1 - p)``, so
    the same seed drops the same units.
    """
    if p == 1:
        return np.zeros(shape, dtype=dtype)
    keep = get_generator().bernoulli(1.0 - p, shape, dtype)
    return keep / dtype.type(1.0 - p)


def _apply(input, inplace, name, fn):
    if inplace:
        if input.requires_grad and STATE.enabled:
            check_inplace(input, name)
            return rebase(input, fn(rebase.source(input)))
        return rebase(input, fn(input))
    return fn(input)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p); identity unless training."""
    _check_p(p)
    if not training or p == 0:
        return input
    mask = _keep_mask(input._data.shape, p, input._data.dtype)
    return _apply(input, inplace, "dropout_", lambda x: DropoutMask.apply(x, mask))


def _feature_mask_shape(input, batched_ndim):
    """(N, C, 1, ...) for batched input, (C, 1, ...) for unbatched."""
    shape = input._data.shape
    if input.ndim == batched_ndim:
        return shape[:2] + (1,) * (input.ndim - 2)
    return shape[:1] + (1,) * (input.ndim - 1)


def _feature_dropout(input, p, training, inplace, batched_ndim, name):
    _check_p(p)
    if input.ndim not in (batched_ndim - 1, batched_ndim):
        raise RuntimeError(f"{name}: Expected {batched_ndim - 1}D or {batched_ndim}D input, but received a "
                           f"{input.ndim}D input. Note that {name} exists to provide channel-wise dropout on inputs "
                           f"with {batched_ndim - 2} spatial dimension(s), a channel dimension, and an optional "
                           "batch dimension.")
    if not training or p == 0:
        return input
    mask = _keep_mask(_feature_mask_shape(input, batched_ndim), p, input._data.dtype)
    return _apply(input, inplace, name + "_", lambda x: DropoutMask.apply(x, mask))


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels: input (N, C, L) or (C, L)."""
    return _feature_dropout(input, p, training, inplace, 3, "dropout1d")


def _deprecated_dims_warning(name, ndim, spatial):
    warnings.warn(f"{name}: Received a {ndim}-D input to {name}, which is deprecated and will result in an error "
                  f"in a future release. To retain the behavior and silence this warning, please use dropout "
                  f"instead. Note that {name} exists to provide channel-wise dropout on inputs with {spatial} "
                  f"spatial dimensions, a channel dimension, and an optional batch dimension (i.e. {spatial + 1}D "
                  f"or {spatial + 2}D inputs).", stacklevel=3)


def _channel_dropout(input, p, training, inplace, name):
    """PyTorch's feature_dropout: one mask value per input[i, j] of an (s0, s1, *) input."""
    if input.ndim < 2:
        raise RuntimeError(f"{name}: Feature dropout requires at least 2 dimensions in the input")
    if not training or p == 0:
        return input
    mask = _keep_mask(_feature_mask_shape(input, input.ndim), p, input._data.dtype)
    return _apply(input, inplace, name + "_", lambda x: DropoutMask.apply(x, mask))


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels: input (N, C, H, W).

    NOTE: as PyTorch 2.13 (pytorch/pytorch#77081), other ranks only warn: a 3-D input is taken as
    (N, C, L) (channel-wise 1-D dropout), any other rank >= 2 drops input[i, j] as a whole
    (so a 2-D (N, C) input gets elementwise dropout).
    """
    _check_p(p)
    if input.ndim not in (3, 4):
        _deprecated_dims_warning("dropout2d", input.ndim, 2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel dim. "
                      "This behavior will change in a future release to interpret the input as one without a "
                      "batch dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout behavior, "
                      "please switch to using dropout1d instead.", stacklevel=2)
    return _channel_dropout(input, p, training, inplace, "dropout2d")


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels: input (N, C, D, H, W) or (C, D, H, W).

    NOTE: as PyTorch 2.13, other ranks only warn; any input that is not 5-D is taken as one
    without a batch dimension (channels along dim 0), so a 2-D (C, L) input drops its rows.
    """
    _check_p(p)
    if input.ndim not in (4, 5):
        _deprecated_dims_warning("dropout3d", input.ndim, 3)
    if input.ndim == 5:
        return _channel_dropout(input, p, training, inplace, "dropout3d")
    if not training or p == 0:
        return input
    # (C, *) -> mask (C, 1, ...): the channel dim of the unsqueezed (1, C, *) input (elementwise for 1-D)
    mask = _keep_mask(input._data.shape[:1] + (1,) * (input.ndim - 1), p, input._data.dtype)
    return _apply(input, inplace, "dropout3d_", lambda x: DropoutMask.apply(x, mask))


def feature_dropout(input, p, train):
    """torch.feature_dropout: channel-wise dropout for (N, C, *) input."""
    _check_p(p)
    if not train or p == 0:
        return input
    mask = _keep_mask(input._data.shape[:2] + (1,) * (input.ndim - 2), p, input._data.dtype)
    return DropoutMask.apply(input, mask)


def _alpha(input, p, training, inplace, mask_shape, name):
    """Alpha dropout (Klambauer et al. 2017): dropped units are set to SELU's negative saturation
    -alpha' and an affine correction a * (.) + b keeps zero mean and unit variance."""
    _check_p(p)
    if not training or p == 0:
        return input
    dtype = input._data.dtype
    if p == 1:
        return input * 0
    keep = get_generator().bernoulli(1.0 - p, mask_shape, dtype)       # PyTorch's noise.bernoulli_(1 - p)
    a = 1.0 / math.sqrt((_SELU_NEG_SATURATION ** 2 * p + 1) * (1 - p))
    scale = keep * dtype.type(a)
    shift = (keep - dtype.type(1)) * dtype.type(_SELU_NEG_SATURATION * a) + dtype.type(_SELU_NEG_SATURATION * a * p)
    return _apply(input, inplace, name + "_", lambda x: AffineMask.apply(x, scale, shift))


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout that keeps SELU's self-normalising mean and variance."""
    return _alpha(input, p, training, inplace, input._data.shape, "alpha_dropout")


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Channel-wise alpha dropout: one mask value per (sample, channel)."""
    return _alpha(input, p, training, inplace, input._data.shape[:2] + (1,) * (input.ndim - 2),
                  "feature_alpha_dropout")
