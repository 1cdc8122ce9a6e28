"""Distances and similarities between vectors: cdist, pdist, pairwise_distance, cosine_similarity.

``cdist`` is one Function (it forms the (P, R, M) differences once and needs PyTorch's
per-p backward); the others are composed from norms and sums.
"""
import numpy as np

from ..autograd.function import Function
from ..autograd._graph import no_double_backward
from ..tensor import _wrap
from ._util import unbroadcast
from .reduction import Norm

__all__ = ["cdist", "pdist", "pairwise_distance", "cosine_similarity"]


class Cdist(Function):
    """D[..., i, j] = ||x1[..., i, :] - x2[..., j, :]||_p  (batch dims broadcast).

    Backward, with diff = x1_i - x2_j: dD/dx1_i = sign(diff) |diff|^(p-1) / D^(p-1), 0 where D == 0
    (p = 2: diff / D; p = 1: sign(diff); p = inf: sign(diff) where |diff| == D, PyTorch's choice; p = 0: 0);
    dD/dx2_j is its negative.

    create_graph=True: as in PyTorch 2.13, only where torch takes its matrix-product path (p = 2 with
    ``use_mm``: ``use_mm_for_euclid_dist``, or ``..._if_necessary`` with more than 25 rows), which is made
    of differentiable ops; elsewhere its ``_cdist_backward`` has no derivative, and neither has ours.
    """

    @staticmethod
    def forward(ctx, x1, x2, p, use_mm=False):
        diff = x1[..., :, None, :] - x2[..., None, :, :]
        d = Norm.forward(ctx, diff, p, (diff.ndim - 1,), False)
        use_mm = use_mm and p == 2
        if use_mm:      # NOTE: x1 and x2 too, where the derivative is recorded (create_graph rebuilds diff)
            ctx.save_for_backward(diff, d, x1, x2)
        else:
            ctx.save_for_backward(diff, d)
        ctx.p, ctx.shapes, ctx.use_mm = p, (x1.shape, x2.shape), use_mm
        return d

    @staticmethod
    def backward(ctx, grad):
        diff, d = ctx.saved_tensors[:2]
        p = ctx.p
        g, d = grad[..., None], d[..., None]
        if p == 0:
            scale = np.zeros_like(diff)
        elif p == 1:
            scale = np.sign(diff)
        elif p == np.inf:
            scale = np.sign(diff) * (np.abs(diff) == d)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                scale = diff / d if p == 2 else np.sign(diff) * np.abs(diff) ** (p - 1) / d ** (p - 1)
            scale = np.where(d == 0, 0, scale)
        term = (g * scale).astype(diff.dtype, copy=False)
        s1, s2 = ctx.shapes
        g1 = unbroadcast(term.sum(axis=-2), s1) if ctx.needs_input_grad[0] else None
        g2 = unbroadcast(-term.sum(axis=-3), s2) if ctx.needs_input_grad[1] else None
        return g1, g2, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        """p = 2 (torch's mm path): dx1_i = sum_j g_ij (x1_i - x2_j) / D_ij (0 where D_ij = 0), on Tensors."""
        if not ctx.use_mm:
            return no_double_backward(ctx, (grad,), "the derivative for '_cdist_backward' is not implemented.",
                                      NotImplementedError)
        _, d, x1, x2 = ctx.saved_tensors
        s1, s2 = ctx.shapes
        diff = x1[..., :, None, :] - x2[..., None, :, :]
        zero = d._data == 0
        scale = grad * (1 - zero.astype(d._data.dtype)) / (d + zero.astype(d._data.dtype))
        term = scale[..., None] * diff
        g1 = unbroadcast(term.sum(-2), s1) if ctx.needs_input_grad[0] else None
        g2 = unbroadcast(-term.sum(-3), s2) if ctx.needs_input_grad[1] else None
        return g1, g2, None, None


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """The p-norm distance between each row of x1 (..., P, M) and each row of x2 (..., R, M): (..., P, R)."""
    if x1.ndim < 2 or x2.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.ndim}D" if x1.ndim < 2 else
                           f"cdist only supports at least 2D tensors, X2 got: {x2.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}")
    if x1._data.dtype.kind != "f" or x2._data.dtype.kind != "f":
        raise RuntimeError(f"cdist only supports floating-point dtypes, X1 got: {x1.dtype}")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    try:
        np.broadcast_shapes(tuple(x1.shape[:-2]), tuple(x2.shape[:-2]))
    except ValueError:
        raise RuntimeError(f"cdist: the batch dims of X1 {list(x1.shape)} and X2 {list(x2.shape)} do not "
                           "broadcast") from None
    rows = max(x1.shape[-2], x2.shape[-2])
    use_mm = compute_mode == "use_mm_for_euclid_dist" or (compute_mode == "use_mm_for_euclid_dist_if_necessary"
                                                          and rows > 25)
    return Cdist.apply(x1, x2, float(p), use_mm)


def pdist(input, p=2):
    """The upper triangle (i < j, row-major) of cdist(input, input, p) of an (N, M) input: N (N - 1) / 2 values."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    n = input.shape[0]
    rows, cols = np.triu_indices(n, 1)
    # NOTE: from the pairs' differences, not cdist(x, x): the zero diagonal is never formed, so no 0/0 arises.
    return pairwise_distance(input[_wrap(rows)], input[_wrap(cols)], p, eps=0.0)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p over the last dim (inputs broadcast; eps keeps the gradient finite at x1 == x2)."""
    diff = x1 - x2 + eps
    dim = max(diff.ndim - 1, 0)
    return Norm.apply(diff, float(p), (dim,) if diff.ndim else (), keepdim)


class NormFloor(Function):
    """y = max(n, eps), with the gradient of n passed through unchanged (dy/dn = 1 even where clamped).

    NOTE: this is what PyTorch's cosine_similarity does (it clamps the norms in place under no_grad), so a
    near-zero vector still gets the gradient of x / ||x||'s numerator and denominator; a plain clamp would
    drop the denominator's term and the gradients would differ from PyTorch's.
    """

    @staticmethod
    def forward(ctx, n, eps):
        return np.maximum(n, np.asarray(eps, n.dtype))

    @staticmethod
    def backward(ctx, grad):
        return grad, None

    graph_backward = backward


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """x1 . x2 / (max(||x1||, eps) max(||x2||, eps)) along ``dim`` (inputs broadcast)."""
    if x1._data.dtype.kind != "f":
        raise RuntimeError(f"cosine_similarity: expected floating point inputs, got {x1.dtype}")
    ndim = max(x1.ndim, x2.ndim)
    if not -ndim <= dim < ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but got {dim})")
    shape = np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    x1, x2 = x1.expand(*shape), x2.expand(*shape)
    n1 = NormFloor.apply(Norm.apply(x1, 2.0, (dim % ndim,), True), eps)
    n2 = NormFloor.apply(Norm.apply(x2, 2.0, (dim % ndim,), True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)
