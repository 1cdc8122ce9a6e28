"""The Transformer (Vaswani et al., 2017, "Attention Is All You Need"): encoder and decoder stacks.

Each encoder layer is   x = x + SelfAttention(x);  x = x + FeedForward(x)
and each decoder layer  x = x + SelfAttention(x);  x = x + CrossAttention(x, memory);  x = x + FeedForward(x),
with a LayerNorm after each residual sum (post-norm, the paper's choice) or before each block
(``norm_first=True``, pre-norm, which trains deep stacks more stably; Xiong et al., 2020).

Module and parameter names, defaults, initialisation and mask handling are PyTorch's,
so ``torch.nn.Transformer`` state dicts load unchanged.
"""
import copy

import numpy as np

from .. import _dtype
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import _wrap
from . import functional as F
from .activation import ReLU, GELU
from .attention import MultiheadAttention
from .container import ModuleList
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .normalization import LayerNorm
from . import init

__all__ = ["Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer",
           "TransformerDecoderLayer"]


def _get_activation_fn(activation):
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


def _generate_square_subsequent_mask(sz, device=None, dtype=None):
    """(sz, sz) float mask: 0 on and below the diagonal, -inf above (position i sees positions <= i)."""
    np_dtype = _dtype.to_dtype(dtype).np if dtype is not None else _dtype.get_default_dtype().np
    return _wrap(np.triu(np.full((sz, sz), -np.inf, dtype=np_dtype), 1))


def _detect_is_causal_mask(mask, is_causal=None, size=None):
    """torch's rule: an explicit ``is_causal`` wins; otherwise a mask equal to the causal mask counts as causal."""
    make_causal = is_causal is True
    if is_causal is None and mask is not None:
        sz = size if size is not None else mask.shape[-2]
        if tuple(mask.shape) == (sz, sz):
            data = mask._data
            expected = np.triu(np.ones((sz, sz), dtype=bool), 1)
            make_causal = bool(np.array_equal(data, expected) if data.dtype == np.bool_
                               else np.array_equal(np.isneginf(data), expected) and not data[~expected].any())
    return make_causal


def _get_seq_len(src, batch_first):
    if src.ndim == 2:         # unbatched (S, E)
        return src.shape[0]
    return src.shape[1 if batch_first else 0]


def _get_clones(module, n):
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward network, each in a residual block with LayerNorm and dropout.

    Shape: src (S, N, E) ((N, S, E) with ``batch_first``; (S, E) unbatched) -> same shape.

    Args:
        d_model: E.  nhead: attention heads.
        dim_feedforward: hidden size of the feed-forward network. Default: 2048
        dropout: dropout after attention, in and after the feed-forward network. Default: 0.1
        activation: "relu", "gelu" or a callable. Default: relu
        layer_norm_eps: Default: 1e-5.  batch_first: Default: False
        norm_first: LayerNorm before each block instead of after the residual sum. Default: False
        bias: biases in the Linear and LayerNorm layers. Default: True
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if isinstance(activation, str):
            activation = _get_activation_fn(activation)
        if activation is F.relu or isinstance(activation, ReLU):
            self.activation_relu_or_gelu = 1
        elif activation is F.gelu or isinstance(activation, GELU):
            self.activation_relu_or_gelu = 2
        else:
            self.activation_relu_or_gelu = 0
        self.activation = activation

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal=False):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


class TransformerDecoderLayer(Module):
    """Self-attention over the target, attention over the encoder's memory, and a feed-forward network,
    each in a residual block with LayerNorm and dropout.

    Shape: tgt (T, N, E), memory (S, N, E) (batch first with ``batch_first``) -> (T, N, E).
    Args: as ``TransformerEncoderLayer``.
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=batch_first, bias=bias,
                                            dtype=dtype)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=batch_first,
                                                 bias=bias, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        if isinstance(activation, str):
            activation = _get_activation_fn(activation)
        self.activation = activation

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal=False):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, is_causal=is_causal,
                           need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal=False):
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                is_causal=is_causal, need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x)


class TransformerEncoder(Module):
    """``num_layers`` deep copies of ``encoder_layer`` applied in turn, then an optional ``norm``.

    Args:
        encoder_layer: a TransformerEncoderLayer (copied, so the layers do not share weights).
        num_layers: how many.  norm: a final layer normalisation (or None). Default: None
        enable_nested_tensor: torch then runs inference (eval, no grad) with a key padding mask on packed
            sequences, and its output is 0 at padded positions; deepdive reproduces that output. Default: True
        mask_check: the packed path needs right-padded sequences (checked as in torch). Default: True
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        self.layers = _get_clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.use_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check
        why_not = _why_not_nested(encoder_layer)
        if enable_nested_tensor and why_not:
            # NOTE: torch warns here that its nested-tensor fast path is off; deepdive has no such path (it only
            # reproduces that path's output), so the warning would mean nothing to a deepdive user.
            self.use_nested_tensor = False

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        """src (S, N, E) -> (S, N, E); ``mask`` (S, S) or (N * nhead, S, S); ``src_key_padding_mask`` (N, S)."""
        first = self.layers[0] if len(self.layers) else None
        batch_first = first.self_attn.batch_first if isinstance(first, TransformerEncoderLayer) else False
        is_causal = _detect_is_causal_mask(mask, is_causal, _get_seq_len(src, batch_first))
        output = src
        for mod in self.layers:
            output = mod(output, src_mask=mask, is_causal=is_causal, src_key_padding_mask=src_key_padding_mask)
        if self.norm is not None:
            output = self.norm(output)
        if self._packed_inference(src, mask, src_key_padding_mask):
            padded = src_key_padding_mask._data != 0
            output = _wrap(np.where(padded[..., None], 0, output._data).astype(output._data.dtype, copy=False))
        return output

    def _packed_inference(self, src, mask, src_key_padding_mask):
        """Whether torch would run its nested-tensor inference path (zeros at padded positions)."""
        if not self.use_nested_tensor or not len(self.layers) or self.layers[0].training or src.ndim != 3 \
                or src_key_padding_mask is None or mask is not None:
            return False
        padded = src_key_padding_mask._data != 0
        if self.mask_check and (np.diff(padded.astype(np.int8), axis=1) < 0).any():
            return False        # not right-padded
        first = self.layers[0]
        tensors = [src] + [p for m in (first.self_attn, first.norm1, first.norm2, first.linear1, first.linear2)
                           for p in m.parameters()]
        return not (is_grad_enabled() and any(t.requires_grad for t in tensors))


def _why_not_nested(layer):
    """torch's reasons for not packing sequences (empty string: it packs)."""
    if not isinstance(layer, TransformerEncoderLayer):
        return "encoder_layer was not TransformerEncoderLayer"
    if layer.norm_first:
        return "encoder_layer.norm_first was True"
    if not layer.self_attn.batch_first:
        return ("encoder_layer.self_attn.batch_first was not True"
                "(use batch_first for better inference performance)")
    if not layer.self_attn._qkv_same_embed_dim:
        return "encoder_layer.self_attn._qkv_same_embed_dim was not True"
    if layer.self_attn.in_proj_bias is None:
        return "encoder_layer.self_attn was passed bias=False"
    if not layer.activation_relu_or_gelu:
        return "encoder_layer.activation_relu_or_gelu was not True"
    if layer.norm1.eps != layer.norm2.eps:
        return "encoder_layer.norm1.eps was not equal to encoder_layer.norm2.eps"
    if layer.self_attn.num_heads % 2 == 1:
        return "num_head is odd"
    return ""


class TransformerDecoder(Module):
    """``num_layers`` deep copies of ``decoder_layer`` applied in turn, then an optional ``norm``."""

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _get_clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        """tgt (T, N, E), memory (S, N, E) -> (T, N, E); masks as in ``Transformer.forward``."""
        first = self.layers[0] if len(self.layers) else None
        batch_first = first.self_attn.batch_first if isinstance(first, TransformerDecoderLayer) else False
        tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal, _get_seq_len(tgt, batch_first))
        output = tgt
        for mod in self.layers:
            output = mod(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                         tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                         tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        if self.norm is not None:
            output = self.norm(output)
        return output


class Transformer(Module):
    """An encoder-decoder Transformer: ``decoder(tgt, encoder(src))``.

    Shape:
        src (S, N, E), tgt (T, N, E) ((N, S, E), (N, T, E) with ``batch_first``; unbatched without N) -> (T, N, E).
        src_mask (S, S), tgt_mask (T, T), memory_mask (T, S), or 3-D (N * nhead, ., .): bool (True = blocked)
        or float (added to the attention scores); *_key_padding_mask (N, S) / (N, T): True = padding.

    Args:
        d_model: 512.  nhead: 8.  num_encoder_layers: 6.  num_decoder_layers: 6.  dim_feedforward: 2048.
        dropout: 0.1.  activation: relu.  custom_encoder / custom_decoder: modules used instead (None).
        layer_norm_eps: 1e-5.  batch_first: False.  norm_first: False.  bias: True.

    Every weight matrix (dim > 1) is re-initialised with xavier_uniform_, as in torch.

    Example::

        >>> model = nn.Transformer(d_model=32, nhead=4, num_encoder_layers=2, num_decoder_layers=2)
        >>> tgt_mask = nn.Transformer.generate_square_subsequent_mask(7)
        >>> out = model(deepdive.randn(10, 3, 32), deepdive.randn(7, 3, 32), tgt_mask=tgt_mask)   # (7, 3, 32)
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_feedforward=2048,
                 dropout=0.1, activation=F.relu, custom_encoder=None, custom_decoder=None, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            encoder_layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation,
                                                    layer_norm_eps, batch_first, norm_first, bias, dtype=dtype)
            encoder_norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            self.encoder = TransformerEncoder(encoder_layer, num_encoder_layers, encoder_norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            decoder_layer = TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout, activation,
                                                    layer_norm_eps, batch_first, norm_first, bias, dtype=dtype)
            decoder_norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            self.decoder = TransformerDecoder(decoder_layer, num_decoder_layers, decoder_norm)
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        is_batched = src.ndim == 3
        batch_axis = 0 if self.batch_first else 1
        if is_batched and src.shape[batch_axis] != tgt.shape[batch_axis]:
            raise RuntimeError(f"the batch number of src and tgt must be equal (got src {list(src.shape)} and tgt "
                               f"{list(tgt.shape)}, batch_first={self.batch_first})")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(f"the feature number of src and tgt must be equal to d_model ({self.d_model}); got "
                               f"src {list(src.shape)} and tgt {list(tgt.shape)}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """The causal mask for ``sz`` positions: float, -inf above the diagonal and 0 elsewhere."""
        return _generate_square_subsequent_mask(sz, device, dtype)

    def _reset_parameters(self):
        """xavier_uniform_ on every weight matrix (torch's ``Transformer._reset_parameters``)."""
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)
