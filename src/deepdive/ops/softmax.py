"""Softmax and log-softmax along one dim, computed stably (the max is subtracted first).

    softmax(x)_i     = exp(x_i - m) / sum_j exp(x_j - m)          (m = max_j x_j)
    log_softmax(x)_i = (x_i - m) - log(sum_j exp(x_j - m))

Subtracting m changes nothing mathematically but keeps exp() from overflowing
for large logits (1e4 would give inf/inf = nan otherwise).
"""
import warnings

import numpy as np

from ..autograd.function import Function
from ._util import canonical_dim

__all__ = ["softmax", "log_softmax", "softmin"]
METHODS = ["softmax", "log_softmax"]      # torch.Tensor has no softmin method


class Softmax(Function):
    """y = softmax(x) along dim.   Backward: dx = y * (g - sum(g * y, dim))."""

    @staticmethod
    def forward(ctx, x, dim):
        if x.size == 0:
            y = x.copy()
        else:
            y = _shifted(x, dim)
            np.exp(y, out=y)
            y /= y.sum(axis=dim, keepdims=True)
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        gy = grad * y
        gy -= y * gy.sum(axis=ctx.dim, keepdims=True)
        return gy, None

    @staticmethod
    def graph_backward(ctx, grad):
        (y,) = ctx.saved_tensors
        gy = grad * y
        return gy - y * gy.sum(dim=ctx.dim, keepdim=True), None


class LogSoftmax(Function):
    """y = log_softmax(x) along dim.   Backward: dx = g - exp(y) * sum(g, dim)."""

    @staticmethod
    def forward(ctx, x, dim):
        if x.size == 0:
            y = x.copy()
        else:
            y = _shifted(x, dim)
            y -= np.log(np.exp(y).sum(axis=dim, keepdims=True))
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad - np.exp(y) * grad.sum(axis=ctx.dim, keepdims=True), None

    @staticmethod
    def graph_backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad - y.exp() * grad.sum(dim=ctx.dim, keepdim=True), None


def _shifted(x, dim):
    """x - max(x, dim): a new array whose largest entry per slice is 0."""
    m = x.max(axis=dim, keepdims=True)
    if np.isfinite(m).all():
        return np.asarray(x - m)          # asarray: 0-d inputs give NumPy scalars
    # A slice that is all -inf (a fully masked attention row) gives nan, as in PyTorch, without NumPy's warning.
    with np.errstate(invalid="ignore"):
        return np.asarray(x - m)


def _softmax_dim(op, ndim, dim):
    if dim is None:
        # PyTorch's legacy implicit choice, with its warning.
        warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the call to include dim=X "
                      "as an argument.", UserWarning, stacklevel=3)
        dim = 0 if ndim in (0, 1, 3) else 1
    dim = canonical_dim(int(dim), ndim, op)
    return dim if ndim else None      # a 0-d tensor: NumPy reduces it with axis=None


_SCALAR_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _prepare(op, input, dim, dtype, stacklevel):
    if stacklevel.__class__ is not int and dtype is None:
        dtype = stacklevel        # torch.softmax(x, dim, dtype) / x.softmax(dim, dtype): dtype third
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        name = _SCALAR_NAMES.get(input.dtype.name, input.dtype.name)
        raise NotImplementedError(f'"{op}" not implemented for \'{name}\' '
                                  "(pass a floating dtype, e.g. dtype=float32)")
    return input, _softmax_dim(op, input._data.ndim, dim)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """Softmax along ``dim``: non-negative values summing to 1 over that dim.

    Args:
        dim: the dim to normalise over (``None`` picks PyTorch's legacy implicit dim, with a warning)
        dtype: if given, ``input`` is cast to it first (useful against float16 overflow)
    """
    input, dim = _prepare("softmax", input, dim, dtype, _stacklevel)
    return Softmax.apply(input, dim)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log(softmax(input, dim)), computed stably without forming softmax first."""
    input, dim = _prepare("log_softmax", input, dim, dtype, _stacklevel)
    return LogSoftmax.apply(input, dim)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-input, dim)."""
    input, dim = _prepare("softmin", input, dim, dtype, _stacklevel)
    return Softmax.apply(-input, dim)
