"""EmbeddingBag: the sum, mean or max of the embedding rows of each bag of indices, without forming the
(num_indices, embedding_dim) lookup as a graph node.

    bags:  1-D ``input`` cut at ``offsets`` (bag b = input[offsets[b]:offsets[b + 1]]), or the rows of a 2-D input
    sum:   out[b] = sum_{k in b} w_k W[input[k]]      (w = per_sample_weights, or 1)
    mean:  out[b] = (1 / |b|) sum_{k in b} W[input[k]]
    max:   out[b, d] = max_{k in b} W[input[k], d]
Entries equal to ``padding_idx`` are left out of their bag (and of its size); an empty bag gives zeros.
"""
import numpy as np

from ..autograd.function import Function
from ..autograd._graph import delayed_error, first_order
from .embedding import _scatter_add_rows, _renorm_rows

__all__ = []


class EmbeddingBag(Function):
    """out = bag-reduce(W[idx] * w) (see the module doc).

    Backward: sum/mean: dW = scatter_add(g[bag] * w / size, idx), dw_k = g[bag_k] . W[idx_k] (sum only);
    max: each (bag, d) gradient goes to the row of the bag's (first) maximum, dW[idx_argmax, d] += g[b, d].
    """

    @staticmethod
    def forward(ctx, weight, per_sample_weights, indices, bag, num_bags, mode, scale_grad_by_freq):
        D = weight.shape[1]
        rows = weight[indices]
        if mode == "max":
            out = np.full((num_bags, D), -np.inf, dtype=weight.dtype)
            np.maximum.at(out, bag, rows)
            filled = np.isfinite(out) | (np.bincount(bag, minlength=num_bags) > 0)[:, None]
            # the first entry of each bag reaching the max, per dim (for the gradient)
            is_max = rows == out[bag]
            order = np.arange(len(indices))
            first = np.full((num_bags, D), len(indices), dtype=np.int64)
            np.minimum.at(first, bag, np.where(is_max, order[:, None], len(indices)))
            ctx.argmax = first
            out = np.where(filled, out, 0).astype(weight.dtype)
        else:
            if per_sample_weights is not None:
                rows = rows * per_sample_weights[:, None]
            out = _scatter_add_rows(rows, bag, (num_bags, D), weight.dtype)
            if mode == "mean":
                sizes = np.bincount(bag, minlength=num_bags).astype(weight.dtype)
                out = out / np.maximum(sizes, 1)[:, None]
                ctx.sizes = sizes
        ctx.save_for_backward(weight, per_sample_weights, indices, bag)
        ctx.mode, ctx.scale_grad_by_freq = mode, scale_grad_by_freq
        return out

    @staticmethod
    def backward(ctx, grad):
        weight, per_sample_weights, indices, bag = ctx.saved_tensors
        mode = ctx.mode
        dw = dpsw = None
        if mode == "max":
            dw = np.zeros(weight.shape, dtype=weight.dtype)
            b, d = np.nonzero(ctx.argmax < len(indices))
            np.add.at(dw, (indices[ctx.argmax[b, d]], d), grad[b, d])
            return dw, None, None, None, None, None, None
        g = grad[bag]                                            # (num_indices, D)
        if mode == "mean":
            g = g / np.maximum(ctx.sizes, 1)[bag][:, None]
        if ctx.needs_input_grad[1]:
            dpsw = np.einsum("kd,kd->k", g, weight[indices])
        if ctx.needs_input_grad[0]:
            if per_sample_weights is not None:
                g = g * per_sample_weights[:, None]
            if ctx.scale_grad_by_freq:
                counts = np.bincount(indices, minlength=weight.shape[0])
                g = g / counts[indices][:, None].astype(weight.dtype)
            dw = _scatter_add_rows(g.astype(weight.dtype, copy=False), indices, weight.shape, weight.dtype)
        return dw, dpsw, None, None, None, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        """As PyTorch 2.13, whose embedding_bag backward kernels have no derivative: the gradients are those of
        first order, and differentiating them again raises torch's error (one for dW, one for d weights)."""
        dw, dpsw = first_order(ctx, (grad,))[:2]
        if dw is not None:
            (dw,) = delayed_error("the derivative for '_embedding_bag_backward' is not implemented.", (dw,),
                                  NotImplementedError)
        if dpsw is not None:
            (dpsw,) = delayed_error("derivative for aten::_embedding_bag_per_sample_weights_backward is not "
                                    "implemented", (dpsw,))
        return dw, dpsw, None, None, None, None, None


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Sums, means or maxes of bags of embeddings (see the module doc).

    Shape: input (B, N) (B bags of N, ``offsets`` None) or (L,) with ``offsets`` (B,) (or (B + 1,) with
    ``include_last_offset``); per_sample_weights like input (mode='sum' only); output (B, embedding_dim).
    """
    idx = input._data
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {input.type()} instead (call .long() on the indices)")
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, got {mode!r}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                  f"supported for mode='sum' (got mode='{mode}'). Please open a feature request on "
                                  "GitHub.")
    if per_sample_weights is not None and tuple(per_sample_weights.shape) != tuple(idx.shape):
        raise ValueError(f"embedding_bag: If per_sample_weights ({list(per_sample_weights.shape)}) is not None, "
                         f"then it must have the same shape as the input ({list(idx.shape)})")
    n = weight._data.shape[0]
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             "fixed length sequences. However, found offsets of type Tensor")
        num_bags, length = idx.shape
        bag = np.repeat(np.arange(num_bags), length)
        idx = idx.reshape(-1)
    elif idx.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        starts = np.asarray(offsets._data if hasattr(offsets, "_data") else offsets, dtype=np.int64)
        if starts.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        if include_last_offset:
            starts = starts[:-1]
        if starts.size and starts[0] != 0:
            raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from "
                               f"position 0. However, got {starts[0]}")
        num_bags = len(starts)
        bag = np.searchsorted(starts, np.arange(len(idx)), side="right") - 1
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {idx.ndim}")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = int(idx.max() if idx.max() >= n else idx.min())
        raise IndexError(f"index out of range in self: embedding_bag index {bad} is not in [0, {n})")
    psw = None if per_sample_weights is None else per_sample_weights.reshape(-1)
    if padding_idx is not None:
        padding_idx = padding_idx + n if padding_idx < 0 else padding_idx
        keep = idx != padding_idx
        idx, bag = idx[keep], bag[keep]
        if psw is not None:
            psw = psw[np.flatnonzero(keep)]
    if max_norm is not None:
        _renorm_rows(weight, idx, max_norm, norm_type)
    return EmbeddingBag.apply(weight, psw, idx.astype(np.int64), bag.astype(np.int64), num_bags, mode,
                              bool(scale_grad_by_freq))
