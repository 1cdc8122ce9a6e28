"""Reductions: sum, mean and friends over ``dim`` (int, tuple or None) with ``keepdim``."""
import numpy as np

from ..autograd.function import Function
from ..tensor import _wrap
from ._util import normalize_dims

__all__ = ["sum", "mean"]
METHODS = ["sum", "mean"]


def _expand_back(grad, in_shape, dims, keepdim):
    """The adjoint of a reduction's shape change: put reduced axes back as size 1, then broadcast."""
    if not keepdim:
        grad = np.expand_dims(grad, dims)
    return np.broadcast_to(grad, in_shape)


class Sum(Function):
    """y = sum of x over dims.   Backward: dx = g broadcast back over the summed dims."""

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        ctx.in_shape, ctx.dims, ctx.keepdim = x.shape, dims, keepdim
        return np.sum(x, axis=dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        return _expand_back(grad, ctx.in_shape, ctx.dims, ctx.keepdim), None, None


class Mean(Function):
    """y = mean of x over dims (N elements each).   Backward: dx = g / N broadcast back."""

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        ctx.in_shape, ctx.dims, ctx.keepdim = x.shape, dims, keepdim
        ctx.count = int(np.prod([x.shape[d] for d in dims]))
        return np.mean(x, axis=dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        return _expand_back(grad / ctx.count, ctx.in_shape, ctx.dims, ctx.keepdim), None, None


def sum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum over ``dim`` (all dims if None). Integer and bool inputs sum as int64, like PyTorch."""
    if dtype is not None:
        input = input.to(dtype)
    elif input._data.dtype.kind in "biu":
        input = input.to(np.int64)
    dims = normalize_dims(dim, input._data.ndim, "sum")
    return Sum.apply(input, dims, keepdim)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    """Arithmetic mean over ``dim`` (floating tensors only, as in PyTorch)."""
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating point or "
                           f"complex dtype. Got: {input.dtype.name.capitalize()}")
    dims = normalize_dims(dim, input._data.ndim, "mean")
    return Mean.apply(input, dims, keepdim)
