"""Attention: softmax(Q K^T * scale + M) V as one fused op.

``scaled_dot_product_attention`` is PyTorch's ``F.scaled_dot_product_attention``;
``attention_with_weights`` (used by ``nn.MultiheadAttention``) runs the same
kernel and can also return the attention weights. ``split_heads`` / ``merge_heads``
move between (batch, sequence, features) and (batch, heads, sequence, head_dim).
"""
import functools
import math

import numpy as np

from ..autograd.function import Function
from ..random import get_generator
from ..autograd._graph import linked_input
from ..tensor import _wrap
from ._util import unbroadcast

__all__ = []          # torch has no top-level attention function; it lives in nn.functional
METHODS = []


# NOTE: fused because composing matmul, add, softmax, dropout and matmul costs five graph nodes and
# several (L, S) temporaries per call; here the scores are built and softmaxed in place.
class ScaledDotProductAttention(Function):
    """O = A V,  A = dropout(P),  P = softmax(S),  S = scale * Q K^T + M  (M: additive mask, -inf where blocked).

    Backward (g = dL/dO, gA = dL/dA from the weights output when returned):
        dV = A^T g,   dA = g V^T + gA,   dP = dA * keep,
        dS = P * (dP - rowsum(dP * P)),   dM = dS,   dQ = scale * dS K,   dK = scale * dS^T Q
    (each summed over broadcast batch axes). Since rowsum(dP * P) = rowsum(dA * A) = rowsum(g * O) + rowsum(gA * A),
    the row term comes from the (L, Ev) output instead of the (L, S) weights (the FlashAttention identity),
    and dS is then formed in place.

    Rows whose keys are all blocked give 0 (``safe``, as torch's sdpa) or NaN
    (``safe=False``, as torch's MultiheadAttention when it returns weights).
    """

    @staticmethod
    def forward(ctx, q, k, v, mask, blocked, keep, scale, safe, with_weights):
        masked = mask is not None or blocked is not None
        scores = _masked_scores(q, k, mask, blocked, scale)
        if not _softmax_by_slice_max_(scores):
            scores = _masked_scores(q, k, mask, blocked, scale)        # rare: see _softmax_by_slice_max_
            row_max = scores.max(axis=-1, keepdims=True)
            if masked and safe:
                row_max[np.isneginf(row_max)] = 0      # all -inf: exp gives zeros instead of NaN
            with np.errstate(invalid="ignore", divide="ignore"):
                scores -= row_max
                np.exp(scores, out=scores)
                total = _row_sums(scores)
                if masked and safe:
                    total[total == 0] = 1
                scores *= 1 / total
        probs = scores
        attn = probs if keep is None else probs * keep
        out = np.matmul(attn, v)
        ctx.save_for_backward(q, k, v, probs, attn, keep, out)
        ctx.scale, ctx.mask_shape = scale, None if mask is None else mask.shape
        return (out, attn) if with_weights else out

    @staticmethod
    def backward(ctx, grad, grad_weights=None):
        q, k, v, probs, attn, keep, out = ctx.saved_tensors
        need_q, need_k, need_v, need_mask = ctx.needs_input_grad[:4]
        dv = unbroadcast(np.matmul(np.swapaxes(attn, -1, -2), grad), v.shape) if need_v else None
        d_scores = np.matmul(grad, np.swapaxes(v, -1, -2))          # dA
        row = _row_sums(grad * out)
        # NOTE: the engine passes zeros for an unused weights output (the common `out, _ = mha(x, x, x)`)
        if grad_weights is not None and grad_weights.any():
            d_scores = _add_into(d_scores, grad_weights)
            row = row + (grad_weights * attn).sum(axis=-1, keepdims=True)
        if keep is not None:
            d_scores *= keep                                         # dP
        d_scores -= row
        d_scores *= probs                                            # dS = P * (dP - rowsum(dA * A))
        dq = dk = dmask = None
        if need_q:
            dq = np.matmul(d_scores, k)
            dq *= ctx.scale
            dq = unbroadcast(dq, q.shape)
        if need_k:
            dk = np.matmul(np.swapaxes(d_scores, -1, -2), q)
            dk *= ctx.scale
            dk = unbroadcast(dk, k.shape)
        if need_mask:
            dmask = unbroadcast(d_scores, ctx.mask_shape)
        return dq, dk, dv, dmask, None, None, None, None, None

    @staticmethod
    def graph_backward(ctx, grad, grad_weights=None):
        q, k, v, probs, _, keep, _ = ctx.saved_tensors
        p = probs._data
        if not np.isfinite(p).all() or (p.sum(axis=-1) == 0).any():
            return NotImplemented             # rows with every key blocked: not recorded yet
        need_q, need_k, need_v, need_mask = ctx.needs_input_grad[:4]
        # P rebuilt as softmax(S) on Tensors, S = scale Q K^T + M. The mask's values are not kept, but
        # softmax is shift-invariant per row: M's stand-in log P - scale Q K^T (linked to the mask input)
        # gives S = log P + const, hence the same P, and dS/dM = 1 as it should.
        scores = (q * ctx.scale) @ k.transpose(-1, -2)
        if ctx.mask_shape is not None or p.min() == 0:
            with np.errstate(divide="ignore"):
                stand_in = np.log(p) - scores._data
            if ctx.mask_shape is not None:
                scores = scores + linked_input(ctx, 3, stand_in.astype(p.dtype), ctx.mask_shape)
            else:                              # blocked positions only: a constant -inf where P == 0
                scores = scores.masked_fill(_wrap(p == 0), float("-inf"))
        probs = scores.softmax(-1)
        attn = probs if keep is None else probs * keep
        dv = unbroadcast(attn.transpose(-1, -2) @ grad, v.shape) if need_v else None
        d_attn = grad @ v.transpose(-1, -2)
        if grad_weights is not None:
            d_attn = d_attn + grad_weights
        d_probs = d_attn if keep is None else d_attn * keep
        d_scores = probs * (d_probs - (d_probs * probs).sum(dim=-1, keepdim=True))
        dq = unbroadcast(d_scores @ k * ctx.scale, q.shape) if need_q else None
        dk = unbroadcast(d_scores.transpose(-1, -2) @ q * ctx.scale, k.shape) if need_k else None
        dmask = unbroadcast(d_scores, ctx.mask_shape) if need_mask else None
        return dq, dk, dv, dmask, None, None, None, None, None

# NOTE: one node instead of reshape + permute + ``parts`` slices (each slice's backward would allocate a
# full-size zero array); it splits the packed q/k/v projection of MultiheadAttention.
class SplitHeads(Function):
    """(A, B, parts * H * D) -> ``parts`` tensors of shape (N, H, L, D), where (A, B) is (N, L) when
    ``batch_first`` else (L, N): a reshape and a transpose, returned as views.

    Backward: the gradients written back through the same transpose into one (A, B, parts * H * D) array.
    """

    @staticmethod
    def forward(ctx, x, parts, heads, batch_first):
        a, b = x.shape[0], x.shape[1]
        ctx.in_shape = x.shape
        ctx.axes = (2, 0, 3, 1, 4) if batch_first else (2, 1, 3, 0, 4)
        split = x.reshape(a, b, parts, heads, x.shape[-1] // (parts * heads)).transpose(ctx.axes)
        return tuple(split)

    @staticmethod
    def backward(ctx, *grads):
        a, b = ctx.in_shape[0], ctx.in_shape[1]
        parts = len(grads)
        heads, dim = grads[0].shape[1], grads[0].shape[3]
        out = np.empty((a, b, parts, heads, dim), dtype=grads[0].dtype)
        to_input = (0, 2, 1, 3) if ctx.axes[1] == 0 else (2, 0, 1, 3)     # (N, H, L, D) -> (A, B, H, D)
        for i, g in enumerate(grads):
            np.copyto(out[:, :, i], g.transpose(to_input))
        return out.reshape(ctx.in_shape), None, None, None

    @staticmethod
    def graph_backward(ctx, *grads):
        from .joining import stack
        to_input = (0, 2, 1, 3) if ctx.axes[1] == 0 else (2, 0, 1, 3)
        return stack([g.permute(to_input) for g in grads], 2).reshape(ctx.in_shape), None, None, None


class MergeHeads(Function):
    """(N, H, L, D) -> (A, B, H * D), (A, B) = (N, L) if ``batch_first`` else (L, N): the inverse of SplitHeads.

    Backward: the gradient reshaped to (A, B, H, D) and transposed back (a view).
    """

    @staticmethod
    def forward(ctx, x, batch_first):
        n, h, l, d = x.shape
        ctx.axes = (0, 2, 1, 3) if batch_first else (2, 0, 1, 3)
        ctx.back_axes = (0, 2, 1, 3) if batch_first else (1, 2, 0, 3)
        ctx.split_shape = (n, l, h, d) if batch_first else (l, n, h, d)
        return x.transpose(ctx.axes).reshape(ctx.split_shape[:2] + (h * d,))

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.split_shape).transpose(ctx.back_axes), None

    @staticmethod
    def graph_backward(ctx, grad):
        return grad.reshape(ctx.split_shape).permute(ctx.back_axes), None


def split_heads(x, parts, heads, batch_first):
    """Packed projections (A, B, parts * E) as ``parts`` head-major tensors (N, H, L, E / H)."""
    return SplitHeads.apply(x, parts, heads, batch_first)


def merge_heads(x, batch_first):
    """Heads (N, H, L, D) back to (N, L, H * D) if ``batch_first`` else (L, N, H * D)."""
    return MergeHeads.apply(x, batch_first)


def _masked_scores(q, k, mask, blocked, scale):
    """S = scale * Q K^T + M, with -inf where ``blocked``: a fresh array."""
    scores = np.matmul(q * scale, np.swapaxes(k, -1, -2))
    if mask is not None:
        scores = _add_into(scores, mask)
    if blocked is not None:
        shape = np.broadcast_shapes(scores.shape, blocked.shape)
        if shape != scores.shape:
            scores = np.array(np.broadcast_to(scores, shape))
        np.copyto(scores, -np.inf, where=blocked)
    return scores


# Rows whose exp-sum under the slice-wide shift stays above e^-20 have their own max within ~24 of the
# shift (the sum has at most S terms, each <= e^(row max - shift)); so every entry within ~63 of its
# row's max (all that count in float32) is still a normal number after exp.
_SLICE_SHIFT_FLOOR = math.exp(-20)


def _softmax_by_slice_max_(scores):
    """In place: softmax over the last axis, each row shifted by the max of its whole (L, S) slice
    instead of its own max. Returns False (scores then spoilt) where that is not safe: a row whose
    sum underflows (a row far below its slice's max, all keys blocked) or any non-finite max.

    NOTE: softmax is shift-invariant per row, and the slice max is one contiguous reduction per
    (batch, head), ~20x faster than NumPy's max over each short row (measured 22 vs 410 us on
    (16, 4, 64, 64) float32): the row max was the largest part of the forward.
    """
    if scores.ndim < 2 or not scores.size:
        return False
    shift = scores.max(axis=(-2, -1), keepdims=True)
    if not np.isfinite(shift).all():
        return False
    scores -= shift
    np.exp(scores, out=scores)
    total = _row_sums(scores)
    if not (total >= _SLICE_SHIFT_FLOOR).all():
        return False
    scores *= 1 / total
    return True


def _row_sums(a):
    """a.sum(axis=-1, keepdims=True) as a matrix-vector product with ones.

    NOTE: NumPy's reduction over a short contiguous last axis (64 keys) runs ~5x slower than BLAS's
    gemv over the same rows (measured 105 vs 18 us on (16, 4, 64, 64) float32, 1 thread).
    """
    if a.ndim < 2 or not a.size or a.dtype.kind != "f" or not a.flags.c_contiguous:
        return a.sum(axis=-1, keepdims=True)
    return (a.reshape(-1, a.shape[-1]) @ np.ones(a.shape[-1], dtype=a.dtype)).reshape(a.shape[:-1] + (1,))


def _add_into(array, other):
    """array + other, in place when broadcasting keeps array's shape."""
    if np.broadcast_shapes(array.shape, other.shape) == array.shape:
        array += other
        return array
    return array + other


@functools.lru_cache(maxsize=32)
def _causal_blocked(target_len, source_len):
    """True above the diagonal (top-left aligned, as torch's ``is_causal``): key j > query i is blocked."""
    blocked = np.triu(np.ones((target_len, source_len), dtype=bool), 1)
    blocked.flags.writeable = False
    return blocked


def _check_qkv(query, key, value):
    dq, dk, dv = query._data.dtype, key._data.dtype, value._data.dtype
    if not (dq == dk == dv):
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got query.dtype: "
                           f"{query.dtype} key.dtype: {key.dtype} and value.dtype: {value.dtype} instead.")
    if dq.kind != "f":
        raise RuntimeError(f"scaled_dot_product_attention: expected floating-point query, key and value, "
                           f"but got {query.dtype}")
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise RuntimeError(f"scaled_dot_product_attention: expected query, key and value to have at least 2 "
                           f"dimensions, but got {query.ndim}D, {key.ndim}D and {value.ndim}D")
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(f"scaled_dot_product_attention: query's last dimension ({query.shape[-1]}) must match "
                           f"key's ({key.shape[-1]}); shapes {list(query.shape)} and {list(key.shape)}")
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention: key and value must have the same sequence length, "
                           f"but got key {list(key.shape)} and value {list(value.shape)}")


def _split_mask(attn_mask, query):
    """A user mask as (additive float Tensor or None, blocked bool array or None)."""
    if attn_mask is None:
        return None, None
    data = attn_mask._data
    if data.dtype == np.bool_:
        return None, ~data
    if data.dtype != query._data.dtype:
        raise RuntimeError(f"Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                           f"attn_mask.dtype: {attn_mask.dtype} and  query.dtype: {query.dtype} instead.")
    return attn_mask, None


def _dropout_keep(dropout_p, shape, dtype):
    """The dropout multiplier: 0 with probability p, else 1 / (1 - p)."""
    if dropout_p >= 1:
        return np.zeros(shape, dtype=dtype)
    keep = get_generator().bernoulli(1.0 - dropout_p, shape, dtype)     # as at::dropout draws it
    return keep / dtype.type(1.0 - dropout_p)


def _scores_shape(query, key, mask, blocked):
    shapes = [query.shape[:-2], key.shape[:-2]]
    for m in (mask, blocked):
        if m is not None:
            shapes.append(tuple(np.shape(m._data if hasattr(m, "_data") else m))[:-2])
    return tuple(np.broadcast_shapes(*shapes)) + (query.shape[-2], key.shape[-2])


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """softmax(Q K^T * scale + mask) V, with dropout on the attention weights.

    Shape:
        query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev);
        batch dims broadcast; ``attn_mask`` broadcasts to (..., L, S).

    Args:
        attn_mask: bool (True = take part in attention) or float (added to the scores). Default: None
        dropout_p: dropout probability on the attention weights (applied whenever > 0). Default: 0.0
        is_causal: block key j > query i (top-left aligned); combined with ``attn_mask``. Default: False
        scale: factor on Q K^T. Default: 1 / sqrt(E)
        enable_gqa: grouped-query attention: key/value with Hkv heads serve Hq = G * Hkv query heads
            (dim -3), query head h reading key/value head h // G. Default: False

    A query whose keys are all blocked gets output 0 (and gradient 0), as in PyTorch.
    """
    _check_qkv(query, key, value)
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    mask, blocked = _split_mask(attn_mask, query)
    if is_causal:
        causal = _causal_blocked(query.shape[-2], key.shape[-2])
        blocked = causal if blocked is None else blocked | causal
    heads = query.shape[-3] if query.ndim >= 3 else 1
    kv_heads = key.shape[-3] if key.ndim >= 3 else 1
    grouped = enable_gqa and query.ndim >= 3 and kv_heads != heads
    if grouped:
        if heads % kv_heads or value.ndim < 3 or value.shape[-3] != kv_heads:
            raise RuntimeError(f"scaled_dot_product_attention: with enable_gqa=True the number of query heads "
                               f"({heads}) must be a multiple of the key/value heads ({kv_heads}); shapes "
                               f"{list(query.shape)}, {list(key.shape)}, {list(value.shape)}")
        query, key, value, mask, blocked = _group_heads(query, key, value, mask, blocked, kv_heads)
    keep = None
    if dropout_p > 0:
        keep = _dropout_keep(dropout_p, _scores_shape(query, key, mask, blocked), query._data.dtype)
    try:
        out = ScaledDotProductAttention.apply(query, key, value, mask, blocked, keep, scale, True, False)
    except ValueError as e:
        raise RuntimeError(f"scaled_dot_product_attention: shapes query {list(query.shape)}, key {list(key.shape)},"
                           f" value {list(value.shape)} and attn_mask "
                           f"{None if attn_mask is None else list(attn_mask.shape)} cannot be broadcast "
                           f"together ({e})") from None
    if grouped:
        out = out.reshape(out.shape[:-4] + (heads,) + out.shape[-2:])
    return out


def _group_heads(query, key, value, mask, blocked, kv_heads):
    """Query (..., Hq, L, E) as (..., Hkv, G, L, E) and key/value as (..., Hkv, 1, S, E), so broadcasting
    pairs query head h with key/value head h // G (torch's repeat_interleave) without copying."""
    heads = query.shape[-3]
    group = heads // kv_heads

    def split(shape):
        return shape[:-3] + (kv_heads, group) + shape[-2:]

    query = query.reshape(split(query.shape))
    key, value = key.unsqueeze(-3), value.unsqueeze(-3)
    if mask is not None and mask.ndim >= 3:
        mask = mask.reshape(split(mask.shape)) if mask.shape[-3] == heads and heads > 1 else mask.unsqueeze(-3)
    if blocked is not None and blocked.ndim >= 3:
        blocked = blocked.reshape(split(blocked.shape)) if blocked.shape[-3] == heads and heads > 1 \
            else np.expand_dims(blocked, -3)
    return query, key, value, mask, blocked


def attention_with_weights(query, key, value, mask, blocked, dropout_p, scale, need_weights):
    """The kernel behind ``nn.MultiheadAttention``: (output, weights or None).

    ``mask`` is an additive float Tensor, ``blocked`` a bool array (True = blocked).
    With ``need_weights`` the weights (after dropout, as torch returns them) are an
    output too, and fully blocked rows give NaN as torch's explicit softmax does.
    """
    keep = None
    if dropout_p > 0:
        keep = _dropout_keep(dropout_p, _scores_shape(query, key, mask, blocked), query._data.dtype)
    scale = float(scale)
    if need_weights:
        return ScaledDotProductAttention.apply(query, key, value, mask, blocked, keep, scale, False, True)
    return ScaledDotProductAttention.apply(query, key, value, mask, blocked, keep, scale, True, False), None
