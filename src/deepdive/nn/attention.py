"""Multi-head attention: ``nn.MultiheadAttention`` and ``F.multi_head_attention_forward``.

    MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O,   head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)

(Vaswani et al., 2017). Parameter names, initialisation, mask conventions and
returned weights are PyTorch's, so its state dicts load unchanged.
"""
import numpy as np

from .. import _dtype
from ..tensor import _wrap
from ..ops.attention import attention_with_weights, split_heads, merge_heads, _causal_blocked
from ..ops.linear import linear
from ..ops.joining import cat
from .module import Module
from .parameter import Parameter
from .linear import Linear
from . import init

__all__ = ["MultiheadAttention", "multi_head_attention_forward"]


class NonDynamicallyQuantizableLinear(Linear):
    """``MultiheadAttention.out_proj``: a plain Linear (torch's name, kept for identical reprs)."""


class MultiheadAttention(Module):
    """Attention over ``num_heads`` subspaces of size ``embed_dim // num_heads``, jointly projected.

    Shape:
        query (L, N, E) ((N, L, E) with ``batch_first``; (L, E) unbatched), key (S, N, kdim), value (S, N, vdim)
        -> output like query, weights (N, L, S) averaged over heads, or (N, num_heads, L, S).

    Args:
        embed_dim, num_heads: E and h (E divisible by h).
        dropout: dropout on the attention weights in training. Default: 0.0
        bias: biases in the in/out projections. Default: True
        add_bias_kv: learnt key/value appended to the sequence (``bias_k``, ``bias_v``). Default: False
        add_zero_attn: a zero key/value appended after the projection. Default: False
        kdim, vdim: key/value feature sizes (separate q/k/v projection weights when not E). Default: E
        batch_first: (N, L, E) inputs and outputs. Default: False

    Masks follow torch: ``key_padding_mask`` (N, S) and ``attn_mask`` (L, S) or (N * h, L, S), bool
    (True = NOT allowed to attend) or float (added to the scores).

    Example::

        >>> mha = nn.MultiheadAttention(16, 4, batch_first=True)
        >>> x = deepdive.randn(2, 5, 16)
        >>> out, weights = mha(x, x, x)      # (2, 5, 16), (2, 5, 5)
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and "
                             f"num_heads={num_heads} instead")
        super().__init__()
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AssertionError("embed_dim must be divisible by num_heads")
        np_dtype = _dtype.to_dtype(dtype).np if dtype is not None else _dtype.get_default_dtype().np

        def param(*shape):
            return Parameter(np.empty(shape, dtype=np_dtype))

        if not self._qkv_same_embed_dim:
            self.q_proj_weight = param(embed_dim, embed_dim)
            self.k_proj_weight = param(embed_dim, self.kdim)
            self.v_proj_weight = param(embed_dim, self.vdim)
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = param(3 * embed_dim, embed_dim)
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = param(3 * embed_dim)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        if add_bias_kv:
            self.bias_k = param(1, 1, embed_dim)
            self.bias_v = param(1, 1, embed_dim)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        """Xavier-uniform projections, zero biases, Xavier-normal ``bias_k``/``bias_v`` (torch's choice)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        """(attention output, weights or None); see the class docstring for shapes and masks."""
        return _mha(query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias,
                    self.bias_k, self.bias_v, self.add_zero_attn, self.dropout if self.training else 0.0,
                    self.out_proj.weight, self.out_proj.bias, key_padding_mask, need_weights, attn_mask,
                    not self._qkv_same_embed_dim, self.q_proj_weight, self.k_proj_weight, self.v_proj_weight,
                    average_attn_weights, is_causal, self.batch_first)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    """torch's functional multi-head attention on (L, N, E) inputs; returns (output, weights or None)."""
    if static_k is not None or static_v is not None:
        raise NotImplementedError("multi_head_attention_forward: static_k/static_v are not supported")
    return _mha(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias, bias_k, bias_v,
                add_zero_attn, dropout_p if training else 0.0, out_proj_weight, out_proj_bias, key_padding_mask,
                need_weights, attn_mask, use_separate_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight,
                average_attn_weights, is_causal, False)


def _mha(query, key, value, embed_dim, num_heads, in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
         dropout_p, out_proj_weight, out_proj_bias, key_padding_mask, need_weights, attn_mask, separate,
         q_proj_weight, k_proj_weight, v_proj_weight, average_attn_weights, is_causal, batch_first):
    batched = _check_shapes(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:     # unbatched: a batch of one, squeezed at the end
        batch_dim = 0 if batch_first else 1
        query, key, value = query.unsqueeze(batch_dim), key.unsqueeze(batch_dim), value.unsqueeze(batch_dim)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    n_axis = 0 if batch_first else 1
    bsz, tgt_len, e = query.shape[n_axis], query.shape[1 - n_axis], query.shape[2]
    src_len = key.shape[1 - n_axis]
    if e != embed_dim:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim}, but got {e}")
    if not separate and key.shape != value.shape:
        raise AssertionError(f"key shape {key.shape} does not match value shape {value.shape}")
    if separate and key.shape[:2] != value.shape[:2]:
        raise AssertionError(f"key's sequence and batch dims {key.shape[:2]} do not match value's "
                             f"{value.shape[:2]}")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")

    q, k, v = _in_projection(query, key, value, num_heads, in_proj_weight, in_proj_bias, separate,
                             q_proj_weight, k_proj_weight, v_proj_weight, batch_first)

    # Masks: bool ones become ``blocked`` arrays (True = no attention), float ones an additive tensor.
    if is_causal and key_padding_mask is None and not need_weights:
        # torch trusts the hint here and uses a causal mask in place of attn_mask
        mask, blocked = None, _causal_blocked(tgt_len, src_len)
    else:
        mask, blocked = _canonical(attn_mask, "attn_mask", query)
        if attn_mask is not None:
            _check_attn_mask(attn_mask, bsz, num_heads, tgt_len, src_len)
            if attn_mask.ndim == 3:
                mask = mask.reshape(bsz, num_heads, tgt_len, src_len) if mask is not None else None
                blocked = blocked.reshape(bsz, num_heads, tgt_len, src_len) if blocked is not None else None
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise AssertionError(f"expecting key_padding_mask shape of {(bsz, src_len)}, but got "
                                 f"{key_padding_mask.shape}")
        kp_mask, kp_blocked = _canonical(key_padding_mask, "key_padding_mask", query)
        if kp_mask is not None:
            kp_mask = kp_mask.reshape(bsz, 1, 1, src_len)
            mask = kp_mask if mask is None else mask + kp_mask
        if kp_blocked is not None:
            kp_blocked = kp_blocked.reshape(bsz, 1, 1, src_len)
            blocked = kp_blocked if blocked is None else blocked | kp_blocked

    # Extra key/value positions that every query may attend to: learnt biases, then a zero vector.
    extra = []
    if bias_k is not None and bias_v is not None:
        head_dim = embed_dim // num_heads
        k = cat([k, bias_k.reshape(1, num_heads, 1, head_dim).expand(bsz, num_heads, 1, head_dim)], dim=2)
        v = cat([v, bias_v.reshape(1, num_heads, 1, head_dim).expand(bsz, num_heads, 1, head_dim)], dim=2)
        extra.append(1)
    elif bias_k is not None or bias_v is not None:
        raise AssertionError("bias_k and bias_v must both be set or both be None")
    if add_zero_attn:
        zeros = _wrap(np.zeros(k.shape[:2] + (1,) + k.shape[3:], dtype=k._data.dtype))
        k, v = cat([k, zeros], dim=2), cat([v, _wrap(np.zeros(v.shape[:2] + (1,) + v.shape[3:],
                                                                  dtype=v._data.dtype))], dim=2)
        extra.append(1)
    if extra:
        mask, blocked = _pad_masks(mask, blocked, sum(extra))

    out, weights = attention_with_weights(q, k, v, mask, blocked, dropout_p, 1.0 / np.sqrt(q.shape[-1]),
                                          need_weights)
    out = linear(merge_heads(out, batch_first), out_proj_weight, out_proj_bias)
    if weights is not None and average_attn_weights:
        weights = weights.mean(dim=1)
    if not batched:
        out = out.squeeze(n_axis)
        if weights is not None:
            weights = weights.squeeze(0)
    return out, weights


def _in_projection(query, key, value, num_heads, in_proj_weight, in_proj_bias, separate, q_proj_weight,
                   k_proj_weight, v_proj_weight, batch_first):
    """q, k, v projected and split into heads, each (N, h, L or S, E / h)."""
    if not separate and query is key and key is value:
        # self-attention: one packed (3E x E) matmul, then a free split
        return split_heads(linear(query, in_proj_weight, in_proj_bias), 3, num_heads, batch_first)
    e = query.shape[-1]
    if separate:
        w_q, w_k, w_v = q_proj_weight, k_proj_weight, v_proj_weight
    else:
        w_q, w_k, w_v = in_proj_weight.chunk(3)
    b_q = b_k = b_v = None
    if in_proj_bias is not None:
        b_q, b_k, b_v = in_proj_bias.chunk(3)
    if not separate and key is value:
        # encoder-decoder attention: key and value share one packed (2E x E) matmul
        (q,) = split_heads(linear(query, w_q, b_q), 1, num_heads, batch_first)
        w_kv = in_proj_weight[e:]
        b_kv = None if in_proj_bias is None else in_proj_bias[e:]
        k, v = split_heads(linear(key, w_kv, b_kv), 2, num_heads, batch_first)
        return q, k, v
    (q,) = split_heads(linear(query, w_q, b_q), 1, num_heads, batch_first)
    (k,) = split_heads(linear(key, w_k, b_k), 1, num_heads, batch_first)
    (v,) = split_heads(linear(value, w_v, b_v), 1, num_heads, batch_first)
    return q, k, v


def _canonical(mask, name, query):
    """(additive float tensor or None, blocked bool array or None) for a torch-convention mask."""
    if mask is None:
        return None, None
    data = mask._data
    if data.dtype == np.bool_:
        return None, data
    if data.dtype.kind != "f":
        raise AssertionError(f"only bool and floating types of {name} are supported")
    if data.dtype != query._data.dtype:
        mask = mask.to(query.dtype)
    return mask, None


def _pad_masks(mask, blocked, count):
    """Masks extended by ``count`` key positions that stay open (0 / False), for bias_k and zero attention."""
    if mask is not None:
        pad = _wrap(np.zeros(mask.shape[:-1] + (count,), dtype=mask._data.dtype))
        mask = cat([mask, pad], dim=-1)
    if blocked is not None:
        blocked = np.concatenate([blocked, np.zeros(blocked.shape[:-1] + (count,), dtype=bool)], axis=-1)
    return mask, blocked


def _check_attn_mask(attn_mask, bsz, num_heads, tgt_len, src_len):
    if attn_mask.ndim == 2:
        if tuple(attn_mask.shape) != (tgt_len, src_len):
            raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be "
                               f"{(tgt_len, src_len)}.")
    elif attn_mask.ndim == 3:
        if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
            raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                               f"{(bsz * num_heads, tgt_len, src_len)}.")
    else:
        raise RuntimeError(f"attn_mask's dimension {attn_mask.ndim} is not supported")


def _check_shapes(query, key, value, key_padding_mask, attn_mask, num_heads):
    """torch's ``_mha_shape_check``: True for batched (3-D) input, False for unbatched (2-D)."""
    if query.ndim == 3:
        if key.ndim != 3 or value.ndim != 3:
            raise AssertionError(f"For batched (3-D) `query`, expected `key` and `value` to be 3-D but found "
                                 f"{key.ndim}-D and {value.ndim}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.ndim != 2:
            raise AssertionError(f"For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D but "
                                 f"found {key_padding_mask.ndim}-D tensor instead")
        if attn_mask is not None and attn_mask.ndim not in (2, 3):
            raise AssertionError(f"For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D but "
                                 f"found {attn_mask.ndim}-D tensor instead")
        return True
    if query.ndim == 2:
        if key.ndim != 2 or value.ndim != 2:
            raise AssertionError(f"For unbatched (2-D) `query`, expected `key` and `value` to be 2-D but found "
                                 f"{key.ndim}-D and {value.ndim}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.ndim != 1:
            raise AssertionError(f"For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D "
                                 f"but found {key_padding_mask.ndim}-D tensor instead")
        if attn_mask is not None:
            if attn_mask.ndim not in (2, 3):
                raise AssertionError(f"For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or "
                                     f"3-D but found {attn_mask.ndim}-D tensor instead")
            if attn_mask.ndim == 3:
                expected = (num_heads, query.shape[0], key.shape[0])
                if tuple(attn_mask.shape) != expected:
                    raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got {attn_mask.shape}")
        return False
    raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.ndim}-D query "
                         "tensor")
