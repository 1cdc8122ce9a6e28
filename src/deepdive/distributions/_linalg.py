"""Private differentiable Cholesky factorisation and triangular solve for MultivariateNormal.

NOTE: kept inside distributions/ on purpose: ``deepdive.linalg`` is being built in parallel; once it
lands, MultivariateNormal can switch to ``deepdive.linalg.cholesky`` / ``solve_triangular``.
"""
import numpy as np

import deepdive
from ..autograd.function import Function

__all__ = ["cholesky", "solve_triangular"]


def _mH(a):
    return np.swapaxes(a, -1, -2)


def _solve(a, b):
    """a^-1 b over broadcast batch dims (NumPy's solve wants equal batch shapes)."""
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = np.broadcast_to(a, batch + a.shape[-2:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    return np.linalg.solve(a, b)


def _unbroadcast_matrix(grad, shape):
    """Sum a (batch..., m, n) gradient back to an input of ``shape`` that was broadcast over the batch."""
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, s in enumerate(shape[:-2]) if s == 1 and grad.shape[i] != 1)
    return grad.sum(axis=axes, keepdims=True) if axes else grad


class Cholesky(Function):
    """A = L L^T, L lower triangular.

    Backward (PyTorch's form, Murray 2016): T = tril(L^T gL),  P = (T + tril(T, -1)^T) / 2,
    gA = L^-T P L^-1.
    """

    @staticmethod
    def forward(ctx, a):
        try:
            lower = np.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            raise RuntimeError("linalg.cholesky: The factorization could not be completed because the input is "
                               "not positive-definite.") from None
        ctx.save_for_backward(lower)
        return lower

    @staticmethod
    def backward(ctx, grad):
        (lower,) = ctx.saved_tensors
        t = np.tril(_mH(lower) @ grad)
        p = 0.5 * (t + _mH(np.tril(t, -1)))
        upper = _mH(lower)
        left = _solve(upper, p)                       # L^-T P
        return _mH(_solve(upper, _mH(left)))         # (L^-T (L^-T P)^T)^T = L^-T P L^-1


class SolveTriangular(Function):
    """X = A^-1 B with A triangular (lower or upper).

    Backward: gB = A^-T gX,  gA = -tri(gB X^T)  (tri = the triangle A lives in).
    """

    @staticmethod
    def forward(ctx, a, b, upper):
        a = np.triu(a) if upper else np.tril(a)
        x = _solve(a, b)
        ctx.save_for_backward(a, x)
        ctx.upper, ctx.a_shape, ctx.b_shape = upper, a.shape, b.shape
        return x

    @staticmethod
    def backward(ctx, grad):
        a, x = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad[:2]
        grad_b = _solve(_mH(a), grad)
        grad_a = None
        if need_a:
            full = -grad_b @ _mH(x)
            grad_a = _unbroadcast_matrix(np.triu(full) if ctx.upper else np.tril(full), ctx.a_shape)
        return grad_a, (_unbroadcast_matrix(grad_b, ctx.b_shape) if need_b else None), None


class CholeskyInverse(Function):
    """P = (L L^T)^-1 from a lower Cholesky factor L (``torch.cholesky_inverse``).

    Backward: dL = -P (g + g^T) P L   (over the full matrix, as PyTorch: no triangular mask).
    """

    @staticmethod
    def forward(ctx, lower):
        eye = np.broadcast_to(np.eye(lower.shape[-1], dtype=lower.dtype), lower.shape)
        lower_inv = _solve(np.tril(lower), eye)
        p = _mH(lower_inv) @ lower_inv
        ctx.save_for_backward(lower, p)
        return p

    @staticmethod
    def backward(ctx, grad):
        lower, p = ctx.saved_tensors
        return -(p @ (grad + _mH(grad)) @ p) @ lower


class CholeskySolve(Function):
    """X = (L L^T)^-1 B from a lower Cholesky factor L (``torch.cholesky_solve``).

    Backward: gB = (L L^T)^-1 g,  C = gB X^T + X gB^T,  gL = -C L   (the full matrix, as PyTorch).
    """

    @staticmethod
    def forward(ctx, b, lower):
        lower_t = np.tril(lower)
        a = lower_t @ _mH(lower_t)
        x = _solve(a, b)
        ctx.save_for_backward(a, lower, x)
        ctx.b_shape, ctx.lower_shape = b.shape, lower.shape
        return x

    @staticmethod
    def backward(ctx, grad):
        a, lower, x = ctx.saved_tensors
        grad_b = _solve(a, grad)
        common = grad_b @ _mH(x)
        grad_lower = -(common + _mH(common)) @ lower
        return (_unbroadcast_matrix(grad_b, ctx.b_shape) if ctx.needs_input_grad[0] else None,
                _unbroadcast_matrix(grad_lower, ctx.lower_shape) if ctx.needs_input_grad[1] else None)


def cholesky_solve(b, lower):
    """(L L^T)^-1 B for lower triangular L (batched, broadcasting)."""
    return CholeskySolve.apply(b, lower)


def cholesky_inverse(lower):
    """(L L^T)^-1 for lower triangular L (batched)."""
    return CholeskyInverse.apply(lower)


def cholesky(a):
    """The lower Cholesky factor of symmetric positive-definite matrices (batched)."""
    return Cholesky.apply(a)


def solve_triangular(a, b, *, upper):
    """A^-1 B for triangular A (batched, broadcasting), left side only."""
    if a.dtype != b.dtype:
        raise RuntimeError(f"linalg.solve_triangular: Expected A and B to have the same dtype, but found "
                           f"A of type {a.dtype} and B of type {b.dtype} instead.")
    return SolveTriangular.apply(a, b, upper)


def batch_mv(bmat, bvec):
    """Matrix times vector over broadcast batch dims."""
    return deepdive.matmul(bmat, bvec.unsqueeze(-1)).squeeze(-1)


def batch_mahalanobis(bL, bx):
    """|L^-1 x|^2 for L lower triangular, x broadcast against L's batch dims."""
    return solve_triangular(bL, bx.unsqueeze(-1), upper=False).squeeze(-1).pow(2).sum(-1)
