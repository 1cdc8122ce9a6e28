"""Embedding lookup: rows of a weight matrix selected by integer indices.

    y[..., :] = W[idx[...], :]
    Backward: dW[i] = sum of g over the positions where idx == i   (a scatter-add);
              the ``padding_idx`` row gets no gradient.
"""
import numpy as np

from ..autograd.function import Function, guard_saved_index
from ._util import linear_backward
from ..autograd.grad_mode import no_grad

__all__ = []     # torch.embedding takes (weight, indices): only nn.functional.embedding(input, weight) is offered


def _scatter_add_rows(grad, indices, shape, dtype):
    """dW with dW[i] = sum of the rows of ``grad`` whose index is i.

    NOTE: np.add.at is slow row by row; a small vocabulary uses one GEMM with the one-hot matrix,
    a large one sorts the indices and sums each run with np.add.reduceat (both exact sums).
    """
    rows = indices.size
    if rows * shape[0] <= 4_000_000:
        one_hot = np.zeros((shape[0], rows), dtype=dtype)
        one_hot[indices, np.arange(rows)] = 1
        return one_hot @ grad
    order = np.argsort(indices, kind="stable")
    sorted_idx = indices[order]
    starts = np.flatnonzero(np.r_[True, sorted_idx[1:] != sorted_idx[:-1]])
    dw = np.zeros(shape, dtype=dtype)
    dw[sorted_idx[starts]] = np.add.reduceat(grad[order], starts, axis=0)
    return dw


class Embedding(Function):
    """y = W[idx].   Backward: dW = scatter_add(g, idx) (padding_idx row zeroed; optionally / frequency)."""

    @staticmethod
    def forward(ctx, weight, indices, padding_idx, scale_grad_by_freq):
        ctx.save_for_backward(indices)
        ctx.info = (weight.shape, weight.dtype, padding_idx, scale_grad_by_freq)
        return weight[indices]

    @staticmethod
    def backward(ctx, grad):
        (indices,) = ctx.saved_tensors
        shape, dtype, padding_idx, scale_grad_by_freq = ctx.info
        flat = indices.reshape(-1)
        g = grad.reshape(-1, shape[1])
        if scale_grad_by_freq:
            counts = np.bincount(flat, minlength=shape[0])
            g = g / counts[flat][:, None].astype(dtype)
        dw = _scatter_add_rows(g, flat, shape, dtype)
        if padding_idx is not None:
            dw[padding_idx] = 0
        return dw, None, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        (indices,) = ctx.saved_tensors
        _, _, padding_idx, scale_grad_by_freq = ctx.info
        if padding_idx is not None or scale_grad_by_freq:
            return NotImplemented        # not recorded yet: differentiating this gradient raises
        indices = indices._data
        return linear_backward(ctx, grad, lambda g: Embedding.apply(g, indices, None, False)), None, None, None


def _renorm_rows(weight, indices, max_norm, norm_type):
    """Rescale in place (no gradient) the looked-up rows whose norm exceeds ``max_norm`` (PyTorch's embedding_renorm_)."""
    rows = np.unique(indices)
    with no_grad():
        w = weight._data
        norms = np.linalg.norm(w[rows].astype(np.float64), ord=norm_type, axis=1)
        over = norms > max_norm
        if over.any():
            scale = max_norm / (norms[over] + 1e-7)
            w[rows[over]] = (w[rows[over]] * scale[:, None]).astype(w.dtype)
            weight._version_counter[0] += 1


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False):
    """Look up rows of ``weight`` (num_embeddings, embedding_dim) at the integer ``input`` indices.

    Shape: input (*) -> output (*, embedding_dim).
    """
    idx = input._data if hasattr(input, "_data") else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {input.type() if hasattr(input, 'type') else idx.dtype} instead "
                           "(call .long() on the indices)")
    n = weight._data.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise IndexError(f"index out of range in self: embedding index {int(bad)} is not in [0, {n}) "
                         f"(num_embeddings={n})")
    if padding_idx is not None:
        if padding_idx < 0:
            if padding_idx < -n:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx += n
        elif padding_idx >= n:
            raise AssertionError("Padding_idx must be within num_embeddings")
    if max_norm is not None:
        _renorm_rows(weight, idx, max_norm, norm_type)
    return guard_saved_index(Embedding.apply(weight, idx, padding_idx, scale_grad_by_freq), input)
