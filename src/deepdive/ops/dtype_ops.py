"""Casting between dtypes (differentiable between floating types)."""
from ..autograd.function import Function

METHODS = []


class Cast(Function):
    """y = x as another dtype.   Backward: dx = g cast back to x's dtype."""

    @staticmethod
    def forward(ctx, x, np_dtype):
        ctx.in_dtype = x.dtype
        return x.astype(np_dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.in_dtype, copy=False), None

    @staticmethod
    def graph_backward(ctx, grad):
        return Cast.apply(grad, ctx.in_dtype), None


def cast(x, dtype):
    """``x.to(dtype)``; integer and bool results carry no gradient."""
    if dtype.is_floating_point and x._data.dtype.kind == "f":
        return Cast.apply(x, dtype.np)
    from ..tensor import _wrap
    return _wrap(x._data.astype(dtype.np))
