"""Ops whose outputs carry a graph but no useful gradient, the way PyTorch records them.

PyTorch keeps ``requires_grad`` on the result of a piecewise-constant op
(``floor``, ``ceil``, ``round``, ``trunc``, ``sign``, ``div(rounding_mode=...)``):
the graph is recorded and its gradient is zero almost everywhere. For ops with
no derivative at all (``floor_divide``, ``unique``) the result also requires
grad, and backward through it raises. Returning plain, graph-less tensors
instead would flip ``requires_grad`` and silently detach what follows.
"""
import numpy as np

from ..autograd.function import Function


class PiecewiseConstant(Function):
    """y = f(x) for a piecewise-constant f.   Backward: dx = 0 (the derivative almost everywhere)."""

    @staticmethod
    def forward(ctx, x, fn, *args):
        ctx.x_shape, ctx.x_dtype = x.shape, x.dtype
        return fn(x, *args)

    @staticmethod
    def backward(ctx, grad):
        return (np.zeros(ctx.x_shape, ctx.x_dtype),) + (None,) * (len(ctx.needs_input_grad) - 1)

    graph_backward = backward       # zeros (or the error): constants, whose own derivative is zero


class PiecewiseConstant2(Function):
    """z = f(x, y) for a piecewise-constant f (rounding division).   Backward: dx = 0,  dy = 0."""

    @staticmethod
    def forward(ctx, x, y, fn):
        ctx.shapes = [(a.shape, a.dtype) if isinstance(a, np.ndarray) else None for a in (x, y)]
        return fn(x, y)

    @staticmethod
    def backward(ctx, grad):
        return tuple(None if s is None else np.zeros(*s) for s in ctx.shapes) + (None,)

    graph_backward = backward       # zeros (or the error): constants, whose own derivative is zero


class NotDifferentiable(Function):
    """y = f(x) where f has no derivative (``floor_divide``, ``unique``).   Backward raises, as in PyTorch."""

    @staticmethod
    def forward(ctx, x, y, fn, op):
        ctx.op = op
        return fn(x, y)

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError(f"derivative for aten::{ctx.op} is not implemented")

    graph_backward = backward       # zeros (or the error): constants, whose own derivative is zero


def _named(base, name):
    """A subclass per op, so ``grad_fn`` reads ``FloorBackward0`` as in PyTorch."""
    return type(name, (base,), {"__doc__": base.__doc__})


FLOOR, CEIL, TRUNC, ROUND, SIGN = (_named(PiecewiseConstant, n) for n in ("Floor", "Ceil", "Trunc", "Round", "Sign"))
DIV_ROUNDING = _named(PiecewiseConstant2, "Div")
FLOOR_DIVIDE = _named(NotDifferentiable, "FloorDivide")
