"""nn.Transformer family: weights copied from torch twins, outputs and every gradient compared."""
import warnings

import numpy as np
import pytest

import deepdive
import deepdive.nn as nn
from parity import require_torch, assert_close
from test_attention import compare_modules

# torch warns about nested tensors and mixed mask types; neither concerns the numbers compared here
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
rng = np.random.default_rng(0)
D, H, FF = 8, 2, 16


def _pair(name, *args, **kwargs):
    torch = require_torch()
    torch.manual_seed(0)
    return getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)


def _wrap_for(m):
    torch = require_torch()
    return (lambda a: None if a is None else deepdive.tensor(a)) if isinstance(m, nn.Module) else \
        (lambda a: None if a is None else torch.tensor(a))


def _masks(S, N, dtype, kind):
    """(attn_mask, key_padding_mask) NumPy pair for a self-attention over S positions."""
    if kind is None:
        return None, None
    causal = np.triu(np.ones((S, S), dtype=bool), 1)
    kpm = np.zeros((N, S), dtype=bool)
    kpm[0, -2:] = True
    if kind == "causal_float":
        return np.where(causal, -np.inf, 0.0).astype(dtype), None
    if kind == "bool_kpm":
        return causal, kpm
    if kind == "float3d_kpm":
        return rng.standard_normal((N * H, S, S)).astype(dtype), np.where(kpm, -np.inf, 0.0).astype(dtype)
    raise ValueError(kind)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_first,norm_first", [(False, False), (True, True), (True, False)])
@pytest.mark.parametrize("activation,masks", [("relu", None), ("gelu", "causal_float"), ("relu", "bool_kpm"),
                                              ("gelu", "float3d_kpm")])
def test_encoder_layer_parity(dtype, batch_first, norm_first, activation, masks):
    S, N = 5, 3
    x = rng.standard_normal((N, S, D) if batch_first else (S, N, D))
    am, kpm = _masks(S, N, dtype, masks)
    dd, tt = _pair("TransformerEncoderLayer", D, H, FF, dropout=0.0, activation=activation,
                   batch_first=batch_first, norm_first=norm_first)

    def call(m, x):
        wrap = _wrap_for(m)
        return m(x, src_mask=wrap(am), src_key_padding_mask=wrap(kpm))
    compare_modules(dd, tt, [x], dtype, call)


def test_encoder_layer_callable_activation_and_eval_mode():
    torch = require_torch()
    x = rng.standard_normal((4, 2, D))
    dd, tt = _pair("TransformerEncoderLayer", D, H, FF, dropout=0.3)
    dd.activation, tt.activation = nn.functional.silu, torch.nn.functional.silu
    dd.eval()
    tt.eval()
    compare_modules(dd, tt, [x], np.float64)
    dd, tt = _pair("TransformerEncoderLayer", D, H, FF, dropout=0.0)
    dd.activation, tt.activation = nn.GELU(approximate="tanh"), torch.nn.GELU(approximate="tanh")
    compare_modules(dd, tt, [x], np.float32)
    assert nn.TransformerEncoderLayer(D, H, activation="gelu").activation_relu_or_gelu == 2
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(D, H, activation="tanh")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_first,norm_first", [(False, False), (True, True)])
@pytest.mark.parametrize("masks", [None, "bool_kpm", "float3d_kpm"])
def test_decoder_layer_parity(dtype, batch_first, norm_first, masks):
    T, S, N = 4, 6, 3
    tgt = rng.standard_normal((N, T, D) if batch_first else (T, N, D))
    mem = rng.standard_normal((N, S, D) if batch_first else (S, N, D))
    tgt_mask, tgt_kpm = _masks(T, N, dtype, masks)
    mem_mask = None if masks is None else rng.standard_normal((T, S)).astype(dtype)
    mem_kpm = None if masks is None else np.arange(S)[None, :].repeat(N, 0) >= S - np.arange(N)[:, None]
    dd, tt = _pair("TransformerDecoderLayer", D, H, FF, dropout=0.0, activation="gelu", batch_first=batch_first,
                   norm_first=norm_first)

    def call(m, tgt, mem):
        wrap = _wrap_for(m)
        return m(tgt, mem, tgt_mask=wrap(tgt_mask), memory_mask=wrap(mem_mask), tgt_key_padding_mask=wrap(tgt_kpm),
                 memory_key_padding_mask=wrap(mem_kpm))
    compare_modules(dd, tt, [tgt, mem], dtype, call)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_stack_parity_and_causal_detection(dtype, batch_first):
    torch = require_torch()
    S, N = 5, 2
    x = rng.standard_normal((N, S, D) if batch_first else (S, N, D))
    torch.manual_seed(0)
    t_layer = torch.nn.TransformerEncoderLayer(D, H, FF, dropout=0.0, batch_first=batch_first)
    tt = torch.nn.TransformerEncoder(t_layer, 3, norm=torch.nn.LayerNorm(D))
    dd = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, H, FF, dropout=0.0, batch_first=batch_first), 3,
                               norm=nn.LayerNorm(D))
    mask = np.triu(np.full((S, S), -np.inf), 1).astype(dtype)

    def call(m, x):
        return m(x, mask=_wrap_for(m)(mask))
    compare_modules(dd, tt, [x], dtype, call)
    assert dd.layers[0].linear1.weight is not dd.layers[1].linear1.weight      # deep copies, not shared


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_first,norm_first", [(False, False), (True, True)])
def test_transformer_parity_with_all_masks(dtype, batch_first, norm_first):
    S, T, N = 6, 5, 3
    src = rng.standard_normal((N, S, D) if batch_first else (S, N, D))
    tgt = rng.standard_normal((N, T, D) if batch_first else (T, N, D))
    dd, tt = _pair("Transformer", d_model=D, nhead=H, num_encoder_layers=2, num_decoder_layers=2,
                   dim_feedforward=FF, dropout=0.0, batch_first=batch_first, norm_first=norm_first)
    src_kpm = np.zeros((N, S), dtype=bool)
    src_kpm[1, -1] = True
    tgt_kpm = np.zeros((N, T), dtype=bool)
    tgt_kpm[2, -2:] = True

    def call(m, src, tgt):
        wrap = _wrap_for(m)
        tgt_mask = m.generate_square_subsequent_mask(T, dtype=src.dtype)
        return m(src, tgt, tgt_mask=tgt_mask, src_key_padding_mask=wrap(src_kpm), tgt_key_padding_mask=wrap(tgt_kpm),
                 memory_key_padding_mask=wrap(src_kpm))
    compare_modules(dd, tt, [src, tgt], dtype, call)


def test_transformer_unbatched_and_default_sizes():
    dd, tt = _pair("Transformer", d_model=D, nhead=H, num_encoder_layers=1, num_decoder_layers=1,
                   dim_feedforward=FF, dropout=0.0)
    out = compare_modules(dd, tt, [rng.standard_normal((6, D)), rng.standard_normal((4, D))], np.float64)
    assert out[0].shape == (4, D)
    big = nn.Transformer()
    assert (big.d_model, big.nhead, len(big.encoder.layers), len(big.decoder.layers)) == (512, 8, 6, 6)
    assert big.encoder.layers[0].linear1.out_features == 2048 and big.encoder.layers[0].dropout.p == 0.1


def test_transformer_init_is_xavier_and_state_dict_loads_from_torch():
    torch = require_torch()
    deepdive.manual_seed(0)
    dd = nn.Transformer(d_model=16, nhead=4, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=32)
    w = dd.encoder.layers[0].linear1.weight._data
    bound = np.sqrt(6 / (16 + 32))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert not np.any(dd.encoder.layers[0].self_attn.in_proj_bias._data)
    torch.manual_seed(0)
    tt = torch.nn.Transformer(d_model=16, nhead=4, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=32)
    result = dd.load_state_dict(tt.state_dict())
    assert not result.missing_keys and not result.unexpected_keys
    assert_close(dd.decoder.layers[0].multihead_attn.in_proj_weight, tt.decoder.layers[0].multihead_attn.in_proj_weight)


def test_subclassing_transformer_with_pytorch_style_masks():
    """A seq2seq model written the PyTorch way: subclass, bool padding masks, causal float tgt mask."""
    torch = require_torch()

    def build(lib):
        class Seq2Seq(lib.nn.Transformer):
            def __init__(self, vocab):
                super().__init__(d_model=D, nhead=H, num_encoder_layers=1, num_decoder_layers=1,
                                 dim_feedforward=FF, dropout=0.0, batch_first=True)
                self.embed = lib.nn.Embedding(vocab, D)
                self.head = lib.nn.Linear(D, vocab)

            def forward(self, src, tgt, pad=0):
                tgt_mask = self.generate_square_subsequent_mask(tgt.size(1))
                out = super().forward(self.embed(src), self.embed(tgt), tgt_mask=tgt_mask,
                                      src_key_padding_mask=src == pad, tgt_key_padding_mask=tgt == pad,
                                      memory_key_padding_mask=src == pad, tgt_is_causal=True)
                return self.head(out)
        lib.manual_seed(0)
        return Seq2Seq(11)
    dd, tt = build(deepdive), build(torch)
    dd.load_state_dict(tt.state_dict())
    src = np.array([[3, 4, 5, 0], [6, 7, 8, 9]])
    tgt = np.array([[1, 2, 0], [1, 5, 6]])
    out = dd(deepdive.tensor(src), deepdive.tensor(tgt))
    ref = tt(torch.tensor(src), torch.tensor(tgt))
    assert_close(out, ref)
    out.sum().backward()
    ref.sum().backward()
    assert_close(dd.embed.weight.grad, tt.embed.weight.grad)


def test_generate_square_subsequent_mask_matches_torch():
    torch = require_torch()
    m = nn.Transformer.generate_square_subsequent_mask(4)
    assert m.dtype == deepdive.float32
    np.testing.assert_array_equal(m._data, torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())
    assert nn.Transformer.generate_square_subsequent_mask(3, dtype=deepdive.float64).dtype == deepdive.float64


def test_dropout_active_only_in_training():
    deepdive.manual_seed(0)
    layer = nn.TransformerEncoderLayer(D, H, FF, dropout=0.5)
    x = deepdive.randn(5, 2, D)
    assert not np.allclose(layer(x)._data, layer(x)._data)
    layer.eval()
    np.testing.assert_array_equal(layer(x)._data, layer(x)._data)


def test_transformer_errors():
    model = nn.Transformer(d_model=D, nhead=H, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=FF)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        model(deepdive.randn(5, 2, D), deepdive.randn(4, 3, D))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        model(deepdive.randn(5, 2, D + 1), deepdive.randn(4, 2, D + 1))
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is deepdive.Size\(\[5, 4\]\), "
                                           r"but should be \(4, 4\)."):
        model(deepdive.randn(5, 2, D), deepdive.randn(4, 2, D), tgt_mask=deepdive.zeros(5, 4))
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        model(deepdive.randn(5, 2, D), deepdive.randn(4, 2, D), tgt_is_causal=True)


@pytest.mark.parametrize("layer", ["TransformerEncoderLayer", "TransformerDecoderLayer"])
def test_layers_without_bias(layer):
    dd, tt = _pair(layer, D, H, FF, dropout=0.0, bias=False, batch_first=True)
    assert dd.norm1.bias is None and dd.self_attn.in_proj_bias is None and dd.linear1.bias is None
    x = rng.standard_normal((2, 4, D))
    inputs = [x] if layer == "TransformerEncoderLayer" else [x, rng.standard_normal((2, 3, D))]
    compare_modules(dd, tt, inputs, np.float64)


def test_encoder_inference_with_padding_matches_torch_packed_path():
    """torch runs eval + no_grad + key padding on packed (nested) sequences: padded positions come out 0."""
    torch = require_torch()
    torch.manual_seed(0)
    tt = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(D, H, FF, batch_first=True), 2).eval()
    dd = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, H, FF, batch_first=True), 2).eval()
    dd.load_state_dict(tt.state_dict())
    x = rng.standard_normal((3, 5, D)).astype(np.float32)
    kpm = np.zeros((3, 5), dtype=bool)
    kpm[0, -2:] = True
    kpm[2, -1] = True
    with torch.no_grad():
        ref = tt(torch.tensor(x), src_key_padding_mask=torch.tensor(kpm))
    with deepdive.no_grad():
        out = dd(deepdive.tensor(x), src_key_padding_mask=deepdive.tensor(kpm))
    assert_close(out, ref)
    assert np.all(out._data[kpm] == 0)
    out = dd(deepdive.tensor(x), src_key_padding_mask=deepdive.tensor(kpm))   # grad mode: no packing, as torch
    assert_close(out, tt(torch.tensor(x), src_key_padding_mask=torch.tensor(kpm)))
    assert np.all(out._data[kpm] != 0)
    # torch turns its packed path off for pre-norm layers and warns; deepdive has no packed path, so no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pre_norm = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, H, FF, batch_first=True, norm_first=True), 1)
    assert not pre_norm.use_nested_tensor
