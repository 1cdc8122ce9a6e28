"""Keras-style layers: lazy building, the custom-layer contract, and parity with nn / PyTorch.

Each layer's weights are copied into the PyTorch twin (or the equivalent deepdive.nn computation) and
outputs plus ALL gradients (input and every weight) are compared in float64 and float32.
"""
import numpy as np
import pytest

import deepdive
import deepdive.layers as L
from deepdive import nn
from deepdive.training import Sequential
from parity import assert_close, require_torch

rng = np.random.default_rng(0)


def _backward_both(dd_out, t_out, torch):
    w = rng.standard_normal(tuple(t_out.shape))
    (dd_out * deepdive.tensor(w.astype(dd_out._data.dtype))).sum().backward()
    (t_out * torch.tensor(w.astype(dd_out._data.dtype))).sum().backward()


def _compare(layer, torch_module, x, pairs, dtype, forward_dd=None, forward_t=None):
    """Run layer / torch twin on x; compare outputs, input grads and the grads of (dd weight, torch weight,
    transform) pairs, where transform maps the torch grad to deepdive's layout."""
    torch = require_torch()
    xd = deepdive.tensor(x.astype(dtype), requires_grad=True)
    xt = torch.tensor(x.astype(dtype), requires_grad=True)
    out_d = (forward_dd or layer)(xd)
    out_t = (forward_t or torch_module)(xt)
    assert out_d.dtype == (deepdive.float64 if dtype == np.float64 else deepdive.float32)
    assert_close(out_d, out_t, dtype=dtype, what="output")
    _backward_both(out_d, out_t, torch)
    assert_close(xd.grad, xt.grad, dtype=dtype, what="input grad")
    for name, dd_param, t_param, transform in pairs:
        assert_close(dd_param.grad, transform(t_param.grad.detach().numpy()), dtype=dtype, what=f"grad of {name}")


def _built(layer, x, dtype):
    layer(deepdive.tensor(x.astype(np.float32)))
    if dtype == np.float64:
        layer.double()
    return layer


# ------------------------------------------------------------------ the custom-layer contract
class CustomLayer(deepdive.layers.Layer):
    def __init__(self):
        super().__init__()
        self.dense = deepdive.layers.Dense(units=32, activation='relu')

    def call(self, inputs):
        return self.dense(inputs)


def test_custom_layer_from_the_keras_docs():
    layer = CustomLayer()
    assert isinstance(layer, nn.Module)
    assert list(layer.parameters()) == [] and not layer.dense.built       # weights are created lazily
    x = rng.standard_normal((4, 10)).astype(np.float32)
    xt = deepdive.tensor(x, requires_grad=True)
    out = layer(xt)
    assert tuple(out.shape) == (4, 32) and out.dtype == deepdive.float32
    names = [n for n, _ in layer.named_parameters()]
    assert names == ["dense.kernel", "dense.bias"]
    assert tuple(layer.dense.kernel.shape) == (10, 32) and tuple(layer.dense.bias.shape) == (32,)
    g = rng.standard_normal((4, 32)).astype(np.float32)
    (out * deepdive.tensor(g)).sum().backward()
    k, b = layer.dense.kernel._data, layer.dense.bias._data
    pre = x @ k + b
    gpre = g * (pre > 0)
    np.testing.assert_allclose(out._data, np.maximum(pre, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.dense.kernel.grad._data, x.T @ gpre, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.dense.bias.grad._data, gpre.sum(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(xt.grad._data, gpre @ k.T, rtol=1e-4, atol=1e-5)
    assert layer(xt).shape == out.shape and len(list(layer.parameters())) == 2       # built once only


def test_layer_names_are_unique_and_default_to_snake_case():
    a, b = L.Dense(2), L.Dense(2)
    assert a.name.startswith("dense") and b.name.startswith("dense") and a.name != b.name
    assert L.BatchNormalization().name.startswith("batch_normalization")
    assert L.Dense(2, name="head").name == "head"


def test_layer_unknown_kwarg_is_an_error():
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        L.Dense(3, kernal_initializer="zeros")


# ------------------------------------------------------------------ Dense
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", [None, "relu", "tanh"])
def test_dense_matches_torch_linear(dtype, activation):
    torch = require_torch()
    x = rng.standard_normal((5, 7))
    layer = _built(L.Dense(4, activation=activation), x, dtype)
    twin = torch.nn.Linear(7, 4).to(torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        twin.weight.copy_(torch.tensor(layer.kernel._data.T))
        twin.bias.copy_(torch.tensor(layer.bias._data))
    act = {None: lambda t: t, "relu": torch.relu, "tanh": torch.tanh}[activation]
    _compare(layer, twin, x, [("kernel", layer.kernel, twin.weight, lambda g: g.T), ("bias", layer.bias, twin.bias,
                                                                                    lambda g: g)],
             dtype, forward_t=lambda t: act(twin(t)))


def test_dense_equals_nn_linear_with_transposed_weight_on_3d_input():
    layer = L.Dense(3, use_bias=False)
    x = deepdive.randn(2, 5, 4)
    out = layer(x)
    assert layer.bias is None and len(list(layer.parameters())) == 1
    lin = nn.Linear(4, 3, bias=False)
    lin.weight._data[...] = layer.kernel._data.T
    assert_close(out, lin(x), what="Dense vs nn.Linear")


def test_dense_glorot_uniform_bounds_and_zero_bias():
    deepdive.manual_seed(0)
    layer = L.Dense(300)
    layer(deepdive.zeros(1, 200))
    limit = np.sqrt(6 / (200 + 300))
    k = layer.kernel._data
    assert k.dtype == np.float32 and np.abs(k).max() <= limit and np.abs(k).max() > 0.95 * limit
    assert abs(k.std() - limit / np.sqrt(3)) < 0.02 * limit
    assert not layer.bias._data.any()


def test_dense_wrong_input_size_after_build_names_sizes():
    layer = L.Dense(3)
    layer(deepdive.zeros(2, 4))
    with pytest.raises(ValueError, match=r"last dimension 4.*\[2, 5\]"):
        layer(deepdive.zeros(2, 5))


def test_numpy_float64_input_becomes_float32():
    out = L.Dense(2)(np.ones((3, 4)))
    assert out.dtype == deepdive.float32


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ValueError, match="Unknown activation 'relux'.*relu.*sigmoid"):
        L.Dense(2, activation="relux")


@pytest.mark.parametrize("name,torch_fn", [
    ("relu", "relu"), ("sigmoid", "sigmoid"), ("tanh", "tanh"), ("softmax", "softmax"), ("gelu", "gelu"),
    ("elu", "elu"), ("selu", "selu"), ("leaky_relu", "leaky_relu"), ("swish", "silu"), ("silu", "silu"),
    ("linear", None), (None, None)])
def test_activations_by_name_match_torch(name, torch_fn):
    torch = require_torch()
    x = rng.standard_normal((3, 5)).astype(np.float32)
    out = L.Activation(name)(deepdive.tensor(x))
    tx = torch.tensor(x)
    if torch_fn is None:
        expected = tx
    elif torch_fn == "softmax":
        expected = torch.softmax(tx, -1)
    elif torch_fn == "leaky_relu":
        expected = torch.nn.functional.leaky_relu(tx, 0.2)      # Keras's slope
    else:
        expected = getattr(torch.nn.functional, torch_fn)(tx)
    assert_close(out, expected, what=str(name))


# ------------------------------------------------------------------ Conv2D / pooling
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", [dict(kernel_size=3), dict(kernel_size=3, padding="same"),
                                    dict(kernel_size=(2, 3), strides=2), dict(kernel_size=3, strides=2, padding="same"),
                                    dict(kernel_size=3, dilation_rate=2, activation="relu")])
def test_conv2d_matches_torch(dtype, kwargs):
    torch = require_torch()
    x = rng.standard_normal((2, 3, 9, 8))
    layer = _built(L.Conv2D(4, data_format="channels_first", **kwargs), x, dtype)
    k = layer.kernel._data
    assert k.shape[:2] == (4, 3)                                   # PyTorch's (out, in, kh, kw) layout
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    weight = torch.tensor(k, requires_grad=True)
    bias = torch.tensor(layer.bias._data, requires_grad=True)
    stride = kwargs.get("strides", 1)
    dilation = kwargs.get("dilation_rate", 1)
    ks = kwargs["kernel_size"]

    def forward_t(t):
        if kwargs.get("padding") == "same":
            kh, kw = (ks, ks) if isinstance(ks, int) else ks
            pads = []
            for size, kk in ((t.shape[3], kw), (t.shape[2], kh)):
                out = -(-size // stride)
                total = max((out - 1) * stride + (kk - 1) * dilation + 1 - size, 0)
                pads += [total // 2, total - total // 2]
            t = torch.nn.functional.pad(t, pads)
        y = torch.nn.functional.conv2d(t, weight.to(tdtype), bias.to(tdtype), stride=stride, dilation=dilation)
        return torch.relu(y) if kwargs.get("activation") == "relu" else y
    _compare(layer, None, x, [("kernel", layer.kernel, weight, lambda g: g), ("bias", layer.bias, bias, lambda g: g)],
             dtype, forward_t=forward_t)
    if kwargs.get("padding") == "same":
        assert layer(deepdive.tensor(x.astype(dtype))).shape[2] == -(-9 // stride)


def test_conv2d_equals_nn_conv2d_and_channels_last():
    x = deepdive.randn(2, 3, 6, 6)
    layer = L.Conv2D(5, 3, padding="same", data_format="channels_first")
    out = layer(x)
    conv = nn.Conv2d(3, 5, 3, padding=1)
    conv.weight._data[...] = layer.kernel._data
    conv.bias._data[...] = layer.bias._data
    assert_close(out, conv(x), what="Conv2D vs nn.Conv2d")
    last = L.Conv2D(5, 3, padding="same")                          # Keras's default layout: channels_last
    assert last.data_format == "channels_last" == L.Conv2D(5, 3, data_format=None).data_format
    last(x.permute(0, 2, 3, 1))
    last.kernel._data[...] = layer.kernel._data
    last.bias._data[...] = layer.bias._data
    assert_close(last(x.permute(0, 2, 3, 1)), out.permute(0, 2, 3, 1), what="channels_last")


def test_conv2d_errors():
    with pytest.raises(ValueError, match="4-D input"):
        L.Conv2D(2, 3)(deepdive.zeros(2, 3, 8))
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same'"):
        L.Conv2D(2, 3, padding="full")
    with pytest.raises(ValueError, match="data_format"):
        L.Conv2D(2, 3, data_format="NCHW")
    # PyTorch-layout images given to the Keras-default layer: the message says how they were read and the fix
    with pytest.raises(ValueError, match=r"input of shape \[2, 1, 8, 8\] is read as \(batch, \*spatial, channels\).*"
                                         r"pass data_format='channels_first'"):
        L.Conv2D(2, 3)(deepdive.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match=r"MaxPooling2D .*smaller than the window \[2, 2\]"):
        L.MaxPooling2D()(deepdive.zeros(2, 1, 8, 8))


def test_pooling_layers_match_torch():
    torch = require_torch()
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    tx = torch.tensor(x)
    first = dict(data_format="channels_first")
    assert_close(L.MaxPooling2D(**first)(deepdive.tensor(x)), torch.nn.functional.max_pool2d(tx, 2))
    assert_close(L.AveragePooling2D(3, strides=2, **first)(deepdive.tensor(x)),
                 torch.nn.functional.avg_pool2d(tx, 3, 2))
    assert_close(L.GlobalAveragePooling2D(**first)(deepdive.tensor(x)), tx.mean((2, 3)))
    assert_close(L.GlobalMaxPooling2D(**first)(deepdive.tensor(x)), tx.amax((2, 3)))
    # the default is Keras's channels_last: (N, H, W, C) in and out
    last = deepdive.tensor(x).permute(0, 2, 3, 1)
    assert_close(L.MaxPooling2D()(last), torch.nn.functional.max_pool2d(tx, 2).permute(0, 2, 3, 1))
    assert_close(L.AveragePooling2D(3, strides=2)(last), torch.nn.functional.avg_pool2d(tx, 3, 2).permute(0, 2, 3, 1))
    assert_close(L.GlobalAveragePooling2D()(last), tx.mean((2, 3)))
    assert_close(L.GlobalMaxPooling2D()(last), tx.amax((2, 3)))
    same = L.MaxPooling2D(2, padding="same", **first)(deepdive.tensor(x))
    assert tuple(same.shape) == (2, 3, 4, 3)
    expected = torch.nn.functional.max_pool2d(torch.nn.functional.pad(tx, (0, 0, 0, 1), value=-float("inf")), 2)
    assert_close(same, expected, what="same max pooling")


# ------------------------------------------------------------------ normalisation
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_normalization_matches_torch_train_and_eval(dtype):
    torch = require_torch()
    x = rng.standard_normal((4, 3, 5, 5)) * 2 + 1
    layer = _built(L.BatchNormalization(axis=1), x, dtype)
    layer.moving_mean._data[...] = 0
    layer.moving_variance._data[...] = 1
    layer.gamma._data[...] = rng.uniform(0.5, 1.5, 3)
    layer.beta._data[...] = rng.standard_normal(3)
    twin = torch.nn.BatchNorm2d(3, eps=1e-3, momentum=0.01).to(torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        twin.weight.copy_(torch.tensor(layer.gamma._data))
        twin.bias.copy_(torch.tensor(layer.beta._data))
    _compare(layer, twin, x, [("gamma", layer.gamma, twin.weight, lambda g: g),
                              ("beta", layer.beta, twin.bias, lambda g: g)], dtype)
    assert_close(layer.moving_mean, twin.running_mean, dtype=dtype, what="moving mean")
    assert_close(layer.moving_variance, twin.running_var, dtype=dtype, what="moving variance")
    layer.eval()
    twin.eval()
    xe = rng.standard_normal((2, 3, 5, 5)).astype(dtype)
    assert_close(layer(deepdive.tensor(xe)), twin(torch.tensor(xe)), dtype=dtype, what="eval output")
    w = layer.count_params()
    assert w == 3 * 4 and len(layer.non_trainable_weights) == 2


def test_batch_normalization_channels_last_axis():
    x = deepdive.randn(4, 5, 3)
    layer = L.BatchNormalization()                  # Keras's default axis=-1: the channels of NHWC
    assert layer.axis == -1
    out = layer(x, training=True)
    flat = out._data.reshape(-1, 3)
    np.testing.assert_allclose(flat.mean(0), 0, atol=1e-5)
    assert layer.gamma.shape == (3,)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_normalization_matches_torch(dtype):
    torch = require_torch()
    x = rng.standard_normal((3, 4, 6))
    layer = _built(L.LayerNormalization(), x, dtype)
    layer.gamma._data[...] = rng.uniform(0.5, 1.5, 6)
    layer.beta._data[...] = rng.standard_normal(6)
    twin = torch.nn.LayerNorm(6, eps=1e-3).to(torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        twin.weight.copy_(torch.tensor(layer.gamma._data))
        twin.bias.copy_(torch.tensor(layer.beta._data))
    _compare(layer, twin, x, [("gamma", layer.gamma, twin.weight, lambda g: g),
                              ("beta", layer.beta, twin.bias, lambda g: g)], dtype)


# ------------------------------------------------------------------ recurrent
def _torch_rnn_twin(layer, torch, kind, dtype):
    cls = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}[kind]
    twin = cls(layer.rnn.input_size, layer.units, batch_first=True)
    twin = twin.to(torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        for name, p in twin.named_parameters():
            p.copy_(torch.tensor(getattr(layer.rnn, name)._data))
    return twin


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_recurrent_layers_match_torch(dtype, kind, return_sequences):
    torch = require_torch()
    x = rng.standard_normal((3, 5, 4))
    layer = _built(getattr(L, kind)(6, return_sequences=return_sequences), x, dtype)
    twin = _torch_rnn_twin(layer, torch, kind, dtype)

    def forward_t(t):
        out, _ = twin(t)
        return out if return_sequences else out[:, -1]
    pairs = [(name, getattr(layer.rnn, name), p, lambda g: g) for name, p in twin.named_parameters()]
    _compare(layer, twin, x, pairs, dtype, forward_t=forward_t)


def test_lstm_return_state_and_initial_state():
    torch = require_torch()
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    layer = L.LSTM(5, return_sequences=True, return_state=True)
    h0, c0 = rng.standard_normal((2, 2, 5)).astype(np.float32)
    out, h, c = layer(deepdive.tensor(x), initial_state=[deepdive.tensor(h0), deepdive.tensor(c0)])
    twin = _torch_rnn_twin(layer, torch, "LSTM", np.float32)
    tout, (th, tc) = twin(torch.tensor(x), (torch.tensor(h0)[None], torch.tensor(c0)[None]))
    assert_close(out, tout.detach())
    assert_close(h, th[0].detach())
    assert_close(c, tc[0].detach())


def test_lstm_keras_initialisation():
    layer = L.LSTM(4)
    layer(deepdive.zeros(1, 2, 3))
    b = layer.rnn.bias_ih_l0._data
    np.testing.assert_array_equal(b[4:8], 1.0)                   # unit_forget_bias
    assert not b[:4].any() and not b[8:].any() and not layer.rnn.bias_hh_l0._data.any()
    rec = layer.rnn.weight_hh_l0._data.T                          # Keras layout (units, 4 * units)
    np.testing.assert_allclose(rec @ rec.T, np.eye(4), atol=1e-5)  # orthogonal rows


def test_recurrent_errors():
    with pytest.raises(ValueError, match=r"\(batch, time, features\)"):
        L.LSTM(3)(deepdive.zeros(2, 3))
    with pytest.raises(ValueError, match="activation"):
        L.GRU(3, activation="relu")


# ------------------------------------------------------------------ attention / embedding
@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_matches_torch(causal):
    torch = require_torch()
    B, T, D, H = 2, 5, 8, 2
    q = rng.standard_normal((B, T, D))
    v = rng.standard_normal((B, T, D))
    layer = L.MultiHeadAttention(num_heads=H, key_dim=D // H)
    layer(deepdive.tensor(q.astype(np.float32)), deepdive.tensor(v.astype(np.float32)))
    layer.double()
    for name in ("query", "key", "value", "output"):
        getattr(layer, f"{name}_bias")._data[...] = rng.standard_normal(getattr(layer, f"{name}_bias").shape)
    twin = torch.nn.MultiheadAttention(D, H, batch_first=True).double()
    with torch.no_grad():
        twin.in_proj_weight.copy_(torch.tensor(np.concatenate(
            [layer.query_kernel._data.T, layer.key_kernel._data.T, layer.value_kernel._data.T])))
        twin.in_proj_bias.copy_(torch.tensor(np.concatenate(
            [layer.query_bias._data, layer.key_bias._data, layer.value_bias._data])))
        twin.out_proj.weight.copy_(torch.tensor(layer.output_kernel._data.T))
        twin.out_proj.bias.copy_(torch.tensor(layer.output_bias._data))
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1) if causal else None
    qd, vd = deepdive.tensor(q, requires_grad=True), deepdive.tensor(v, requires_grad=True)
    qt, vt = torch.tensor(q, requires_grad=True), torch.tensor(v, requires_grad=True)
    out, scores = layer(qd, vd, return_attention_scores=True, use_causal_mask=causal)
    tout, tscores = twin(qt, vt, vt, attn_mask=mask, average_attn_weights=False)
    assert_close(out, tout, dtype=np.float64, what="output")
    assert_close(scores, tscores, dtype=np.float64, what="attention scores")
    _backward_both(out, tout, torch)
    assert_close(qd.grad, qt.grad, dtype=np.float64, what="query grad")
    assert_close(vd.grad, vt.grad, dtype=np.float64, what="value grad")
    assert_close(layer.output_kernel.grad, twin.out_proj.weight.grad.T, dtype=np.float64, what="output kernel grad")
    assert_close(layer.query_kernel.grad, twin.in_proj_weight.grad[:D].T, dtype=np.float64, what="query kernel grad")


def test_multi_head_attention_boolean_mask():
    layer = L.MultiHeadAttention(num_heads=1, key_dim=4)
    q = deepdive.randn(1, 3, 4)
    mask = np.array([[[1, 0, 0], [1, 1, 0], [1, 1, 1]]], dtype=bool)
    _, scores = layer(q, q, attention_mask=mask, return_attention_scores=True)
    assert np.all(scores._data[0, 0][~mask[0]] < 1e-6)
    with pytest.raises(ValueError, match="attention_mask must have shape"):
        layer(q, q, attention_mask=np.ones((1, 2, 3), bool))


def test_embedding_matches_torch():
    torch = require_torch()
    ids = np.array([[1, 2, 2], [0, 4, 1]])
    layer = L.Embedding(5, 3)
    out = layer(deepdive.tensor(ids))
    assert np.abs(layer.embeddings._data).max() <= 0.05          # Keras's U(-0.05, 0.05)
    twin = torch.nn.Embedding(5, 3)
    with torch.no_grad():
        twin.weight.copy_(torch.tensor(layer.embeddings._data))
    tout = twin(torch.tensor(ids))
    assert_close(out, tout)
    _backward_both(out, tout, torch)
    assert_close(layer.embeddings.grad, twin.weight.grad, what="embedding grad")


# ------------------------------------------------------------------ dropout / training flag
def test_dropout_training_and_inference():
    layer = L.Dropout(0.5)
    x = deepdive.ones(200, 50)
    out = layer(x)
    kept = out._data != 0
    assert 0.4 < kept.mean() < 0.6 and np.allclose(out._data[kept], 2.0)
    layer.eval()
    assert layer(x) is x or np.array_equal(layer(x)._data, x._data)
    layer.train()
    assert np.array_equal(layer(x, training=False)._data, x._data)
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
        L.Dropout(1.0)


def test_training_false_applies_to_every_inner_layer():
    class Net(L.Layer):
        def __init__(self):
            super().__init__()
            self.drop = L.Dropout(0.9)

        def call(self, x):
            return self.drop(x)
    net = Net()
    x = deepdive.ones(10, 10)
    assert np.array_equal(net(x, training=False)._data, x._data)
    assert not np.array_equal(net(x)._data, x._data)            # train mode by default, like nn.Module


# ------------------------------------------------------------------ weights, regularisers, initialisers
def test_regularizer_penalties_and_gradient():
    layer = L.Dense(3, kernel_regularizer=L.L2(0.1), bias_regularizer=L.L1(0.5))
    layer(deepdive.ones(2, 4))
    layer.bias._data[...] = [1.0, -2.0, 0.5]
    penalties = layer.losses
    k = layer.kernel._data
    assert len(penalties) == 2
    np.testing.assert_allclose(penalties[0].item(), 0.1 * (k ** 2).sum(), rtol=1e-5)
    np.testing.assert_allclose(penalties[1].item(), 0.5 * 3.5, rtol=1e-6)
    sum(penalties[1:], penalties[0]).backward()
    np.testing.assert_allclose(layer.kernel.grad._data, 0.2 * k, rtol=1e-5)
    np.testing.assert_allclose(layer.bias.grad._data, 0.5 * np.sign(layer.bias._data))
    assert CustomLayer().losses == []


def test_trainable_false_freezes_weights():
    layer = CustomLayer()
    layer(deepdive.ones(1, 3))
    layer.trainable = False
    assert all(not p.requires_grad for p in layer.parameters()) and layer.trainable_weights == []
    frozen = L.Dense(2, trainable=False)
    frozen(deepdive.ones(1, 3))
    assert len(frozen.non_trainable_weights) == 2


def test_get_and_set_weights_round_trip():
    layer = L.Dense(2)
    layer(deepdive.ones(1, 3))
    new = [np.full((3, 2), 0.5, np.float32), np.array([1.0, 2.0], np.float32)]
    layer.set_weights(new)
    out = layer(deepdive.ones(1, 3))
    np.testing.assert_allclose(out._data, [[2.5, 3.5]])
    with pytest.raises(ValueError, match="expected 2 arrays"):
        layer.set_weights(new[:1])


def test_initializers():
    deepdive.manual_seed(1)
    from deepdive.layers import initializers as I
    he = I.get("he_normal")((400, 300))
    std = np.sqrt(2 / 400)                                          # truncated at 2 std, rescaled by 1/0.8796
    assert abs(he.std() - std) < 0.05 * std and np.abs(he).max() <= 2 * std / 0.8796 + 1e-6
    q = I.get("orthogonal")((6, 4))
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-5)
    conv = I.get("glorot_uniform")((8, 3, 3, 3))                 # (out, in, kh, kw): fans 27 and 72
    assert np.abs(conv).max() <= np.sqrt(6 / (27 + 72))
    with pytest.raises(ValueError, match="Unknown initializer"):
        I.get("glorot")


@pytest.mark.parametrize("shape,bias", [((4, 3), True), ((2, 3, 3), True), ((4, 3), False)])
def test_dense_function_gradcheck(shape, bias):
    from deepdive.layers.core import DenseFunction
    from parity import gradcheck
    x = rng.standard_normal(shape)
    k = rng.standard_normal((3, 2))
    if bias:
        gradcheck(lambda a, b, c: DenseFunction.apply(a, b, c), x, k, rng.standard_normal(2))
    else:
        gradcheck(lambda a, b: DenseFunction.apply(a, b, None), x, k)


def test_conv1d_and_simple_rnn_match_torch():
    torch = require_torch()
    x = rng.standard_normal((2, 3, 10)).astype(np.float32)
    conv = L.Conv1D(4, 3, strides=2, padding="same", data_format="channels_first")
    out = conv(deepdive.tensor(x))
    tx = torch.tensor(x)
    expected = torch.nn.functional.conv1d(torch.nn.functional.pad(tx, (0, 1)), torch.tensor(conv.kernel._data),
                                          torch.tensor(conv.bias._data), stride=2)
    assert_close(out, expected, what="Conv1D same/stride 2")
    keras = L.Conv1D(4, 3, strides=2, padding="same")            # default channels_last: (N, L, C)
    keras(deepdive.tensor(x).transpose(1, 2))
    keras.kernel._data[...], keras.bias._data[...] = conv.kernel._data, conv.bias._data
    assert_close(keras(deepdive.tensor(x).transpose(1, 2)), expected.transpose(1, 2), what="Conv1D channels_last")
    seq = rng.standard_normal((2, 5, 3)).astype(np.float32)
    rnn = L.SimpleRNN(4, return_sequences=True)
    out = rnn(deepdive.tensor(seq))
    twin = torch.nn.RNN(3, 4, batch_first=True)
    with torch.no_grad():
        for name, p in twin.named_parameters():
            p.copy_(torch.tensor(getattr(rnn.rnn, name)._data))
    assert_close(out, twin(torch.tensor(seq))[0].detach(), what="SimpleRNN")


def test_layer_dtype_sets_the_weight_dtype():
    layer = L.Dense(2, dtype="float64")
    out = layer(deepdive.ones(1, 3, dtype=deepdive.float64))
    assert layer.kernel.dtype == deepdive.float64 and out.dtype == deepdive.float64
    assert L.Dense(2)(deepdive.ones(1, 3)).dtype == deepdive.float32


# ------------------------------------------------------------------ Keras's channels_last layout end to end
def test_keras_layout_cnn_matches_its_torch_twin():
    torch = require_torch()
    x = rng.standard_normal((4, 8, 8, 2)).astype(np.float32)           # (N, H, W, C), as Keras users hold images
    model = Sequential([L.Conv2D(3, 3, padding="same", activation="relu"), L.BatchNormalization(),
                        L.MaxPooling2D(), L.Flatten(), L.Dense(5)])
    out = model(deepdive.tensor(x), training=True)
    conv, bn, dense = model.layers[0], model.layers[1], model.layers[4]
    tconv = torch.nn.Conv2d(2, 3, 3, padding=1)
    tbn = torch.nn.BatchNorm2d(3, eps=1e-3, momentum=0.01)
    tdense = torch.nn.Linear(4 * 4 * 3, 5)
    with torch.no_grad():
        tconv.weight.copy_(torch.tensor(conv.kernel._data))
        tconv.bias.copy_(torch.tensor(conv.bias._data))
        tdense.weight.copy_(torch.tensor(dense.kernel._data.T))
        tdense.bias.copy_(torch.tensor(dense.bias._data))
    tx = torch.tensor(x).permute(0, 3, 1, 2)
    h = torch.nn.functional.max_pool2d(tbn(torch.relu(tconv(tx))), 2)
    expected = tdense(h.permute(0, 2, 3, 1).reshape(4, -1))             # Flatten in (H, W, C) order
    assert_close(out, expected.detach(), what="channels_last Conv2D/BatchNormalization/MaxPooling2D/Flatten/Dense")


def test_keras_layout_data_trains_through_conv2d():
    from deepdive.datasets.vision import load_digits
    images, labels = load_digits()
    x = images[:600].permute(0, 2, 3, 1)                                # (600, 8, 8, 1): Keras's layout
    deepdive.manual_seed(0)
    model = Sequential([L.Input(shape=(8, 8, 1)), L.Conv2D(8, 3, padding="same", activation="relu"),
                        L.MaxPooling2D(), L.BatchNormalization(), L.Flatten(), L.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, labels[:600], epochs=6, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.8, history.history
    assert tuple(model.predict(x[:3]).shape) == (3, 10)
