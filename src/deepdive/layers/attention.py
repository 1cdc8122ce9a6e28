"""MultiHeadAttention, Keras-style (Vaswani et al. 2017).

    Q_h = query @ W_q[h] + b_q[h],  K_h = key @ W_k[h] + b_k[h],  V_h = value @ W_v[h] + b_v[h]
    A_h = softmax(Q_h K_h^T / sqrt(key_dim) + mask)          (batch, heads, T, S)
    out = concat_h(A_h V_h) @ W_o + b_o                        (batch, T, query_dim)

Keras's call order: ``mha(query, value, key=None, attention_mask=None,
return_attention_scores=False, use_causal_mask=False)``; ``key`` defaults to
``value``. ``attention_mask`` is boolean (batch, T, S) (or broadcastable),
True/1 where a query may attend to a key. Projection kernels are 2-D
``(dim, num_heads * key_dim)``: the heads are contiguous column blocks.
"""
import numpy as np

from .layer import Layer

__all__ = ["MultiHeadAttention"]


class MultiHeadAttention(Layer):
    """Args:
        num_heads: number of attention heads.  key_dim: size of each head for query and key.
        value_dim: size of each head for value (default key_dim).  dropout: on the attention weights.
        use_bias: bias in the four projections.  output_shape: last dim of the output (default query's).
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.key_dim = int(num_heads), int(key_dim)
        self.value_dim = int(value_dim or key_dim)
        self.dropout, self.use_bias, self.output_shape = float(dropout), use_bias, output_shape
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer = kernel_regularizer
        self._weights_built = False

    def _build_projections(self, query_dim, key_dim, value_dim):
        h, dk, dv = self.num_heads, self.key_dim, self.value_dim
        out_dim = int(self.output_shape or query_dim)
        for name, shape in (("query", (query_dim, h * dk)), ("key", (key_dim, h * dk)),
                            ("value", (value_dim, h * dv)), ("output", (h * dv, out_dim))):
            self.add_weight(f"{name}_kernel", shape, self.kernel_initializer, self.kernel_regularizer)
            if self.use_bias:
                self.add_weight(f"{name}_bias", (shape[1],), self.bias_initializer)
            else:
                setattr(self, f"{name}_bias", None)
        self._weights_built = True

    def _project(self, x, name, head_dim):
        y = x @ getattr(self, f"{name}_kernel")
        bias = getattr(self, f"{name}_bias")
        if bias is not None:
            y = y + bias
        batch, length = x.shape[0], x.shape[1]
        return y.reshape(batch, length, self.num_heads, head_dim).transpose(1, 2)   # (B, heads, L, head_dim)

    def call(self, query, value, key=None, attention_mask=None, return_attention_scores=False,
             use_causal_mask=False, training=None):
        from .. import nn
        from .layer import to_tensor
        value = to_tensor(value)
        key = value if key is None else to_tensor(key)
        if query.ndim != 3 or key.ndim != 3 or value.ndim != 3:
            raise ValueError(f"MultiHeadAttention '{self.name}': query, key and value must be 3-D "
                             f"(batch, length, dim), got {list(query.shape)}, {list(key.shape)}, {list(value.shape)}")
        if not self._weights_built:
            self._build_projections(query.shape[-1], key.shape[-1], value.shape[-1])
        q = self._project(query, "query", self.key_dim)
        k = self._project(key, "key", self.key_dim)
        v = self._project(value, "value", self.value_dim)
        scores = (q @ k.transpose(-2, -1)) * (1.0 / np.sqrt(self.key_dim))       # (B, heads, T, S)
        mask = self._mask(attention_mask, use_causal_mask, query.shape[1], key.shape[1])
        if mask is not None:
            # NOTE: a large negative rather than -inf, as Keras: a fully-masked row then gets uniform
            # weights instead of NaN.
            scores = scores.masked_fill(~mask, -1e9)
        weights = nn.functional.softmax(scores, dim=-1)
        attended = weights
        if training and self.dropout > 0:
            attended = nn.functional.dropout(weights, p=self.dropout, training=True)
        context = (attended @ v).transpose(1, 2)
        context = context.reshape(query.shape[0], query.shape[1], self.num_heads * self.value_dim)
        output = context @ self.output_kernel
        if self.output_bias is not None:
            output = output + self.output_bias
        return (output, weights) if return_attention_scores else output

    def _mask(self, attention_mask, causal, T, S):
        """A boolean (B or 1, 1, T, S) mask, True where attention is allowed, or None."""
        mask = None
        if attention_mask is not None:
            m = np.asarray(attention_mask._data if hasattr(attention_mask, "_data") else attention_mask).astype(bool)
            if m.ndim == 2:
                m = m[None]
            if m.ndim != 3 or m.shape[-2:] != (T, S):
                raise ValueError(f"MultiHeadAttention: attention_mask must have shape (batch, {T}, {S}), "
                                 f"got {list(m.shape)}")
            mask = m[:, None]
        if causal:
            lower = np.tril(np.ones((T, S), dtype=bool))[None, None]
            mask = lower if mask is None else mask & lower
        if mask is None:
            return None
        from ..tensor import _wrap
        return _wrap(mask)

    def extra_repr(self):
        return f"num_heads={self.num_heads}, key_dim={self.key_dim}, value_dim={self.value_dim}"
