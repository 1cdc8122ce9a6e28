"""Ops along one dim of neighbouring or running elements: diff, logcumsumexp; and kron.

``logcumsumexp`` is its own Function, computed in log space (np.logaddexp.accumulate) so it never
overflows; ``diff`` and ``kron`` are composed from slicing, subtraction, reshapes and a broadcast product.
"""
import numpy as np

from ..autograd.function import Function
from ..tensor import _wrap
from ..autograd._graph import composite_backward
from ._util import canonical_dim
from .joining import cat, narrow

__all__ = ["diff", "logcumsumexp", "kron"]
METHODS = ["diff", "logcumsumexp", "kron"]


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along ``dim``: out[i] = x[i + 1] - x[i], applied n times, after
    concatenating ``prepend`` / ``append`` (booleans: x[i + 1] != x[i])."""
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = canonical_dim(dim, input.ndim, "diff")
    parts = [t for t in (prepend, input, append) if t is not None]
    x = cat(parts, d) if len(parts) > 1 else input
    if n == 0 or x.shape[d] == 0:
        return x if x is not input else input.clone()   # a result never aliases the input, as in PyTorch
    for _ in range(n):
        length = x.shape[d]
        if length == 0:
            break
        later, earlier = narrow(x, d, 1, length - 1), narrow(x, d, 0, length - 1)
        x = later != earlier if x._data.dtype == np.bool_ else later - earlier
    return x


class LogCumSumExp(Function):
    """y_i = log sum_{j <= i} exp(x_j) along dim.

    Backward: dx_j = sum_{i >= j} g_i exp(x_j - y_i), summed in log space separately for the positive and the
    negative parts of g (PyTorch's approach), so that no exp overflows.
    """

    @staticmethod
    def forward(ctx, x, dim):
        y = np.logaddexp.accumulate(x, axis=dim) if x.size else x.copy()
        ctx.save_for_backward(x, y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        d = ctx.dim

        def reversed_logcumsumexp(a):
            return np.flip(np.logaddexp.accumulate(np.flip(a, d), axis=d), d)
        with np.errstate(divide="ignore", invalid="ignore"):
            positive = reversed_logcumsumexp(np.log(np.maximum(grad, 0)) - y)
            negative = reversed_logcumsumexp(np.log(np.maximum(-grad, 0)) - y)
            dx = np.exp(x + positive) - np.exp(x + negative)
        return dx.astype(x.dtype, copy=False), None

    @staticmethod
    def graph_backward(ctx, grad):
        # NOTE: PyTorch records its log-space formula, which takes log|g|: its second derivative is NaN where
        # g = 0 (and that formula's derivative in g is wrong there). The composite below is exact everywhere.
        x, _ = ctx._raw_saved
        return composite_backward(ctx, (grad,), lambda t, _: (_masked_logsumexp(t, ctx.dim),), [x, None])


def _masked_logsumexp(x, dim):
    """logcumsumexp from recorded ops: y_i = logsumexp_j (x_j + M_ij), M_ij = 0 for j <= i, -inf beyond
    (O(n^2) memory along ``dim``; used only for create_graph=True)."""
    n = x.shape[dim]
    mask = np.where(np.tril(np.ones((n, n), dtype=bool)), 0, -np.inf).astype(x._data.dtype)
    rows = x.transpose(dim, -1).unsqueeze(-2) + _wrap(mask)       # (..., n_i, n_j)
    return rows.logsumexp(-1).transpose(dim, -1)


def logcumsumexp(input, dim):
    """log(cumsum(exp(x))) along ``dim``, without overflow."""
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"logcumsumexp(): expected a floating point input, got {input.dtype}")
    if input.ndim == 0:
        canonical_dim(dim, 0, "logcumsumexp")
        return LogCumSumExp.apply(input.reshape(1), 0).reshape(())
    return LogCumSumExp.apply(input, canonical_dim(dim, input.ndim, "logcumsumexp"))


def kron(input, other):
    """The Kronecker product: out[i * s_b + k] = a[i] * b[k] along every dim (shapes padded with leading 1s)."""
    ndim = max(input.ndim, other.ndim)
    sa = (1,) * (ndim - input.ndim) + tuple(input.shape)
    sb = (1,) * (ndim - other.ndim) + tuple(other.shape)
    a = input.reshape(*[v for s in sa for v in (s, 1)])           # (a0, 1, a1, 1, ...)
    b = other.reshape(*[v for s in sb for v in (1, s)])           # (1, b0, 1, b1, ...)
    return (a * b).reshape(*[x * y for x, y in zip(sa, sb)])
