"""Layers (Linear, Bilinear, LazyLinear, Embedding, Flatten, Dropout ...): weights copied into the torch twin,
outputs and ALL gradients compared in float32 and float64; gradcheck of the functional ops; clear errors."""
import numpy as np
import pytest

import deepdive
import deepdive.nn as nn
import deepdive.nn.functional as F
from parity import check_parity, gradcheck, require_torch, assert_close

rng = np.random.default_rng(0)
DTYPES = [np.float32, np.float64]


def copy_into_torch(dd_module, torch_module):
    """Load the deepdive module's state into its torch twin (same keys), so both compute the same function."""
    torch = require_torch()
    state = {k: torch.tensor(v._data.copy()) for k, v in dd_module.state_dict().items()}
    torch_module.load_state_dict(state)


def module_parity(dd_module, torch_module, inputs, dtype, train=True, rtol=None, atol=None, check_buffers=True,
                  seed=0):
    """Cast both modules to ``dtype``, copy deepdive's weights into torch, run both on the same inputs and
    compare: output values and dtype, the gradient of every floating input and of every parameter
    (backward of sum(output * w), w fixed and random), and every buffer after the call."""
    torch = require_torch()
    dd_module.to(deepdive.float64 if dtype == np.float64 else deepdive.float32)
    torch_module.to(torch.float64 if dtype == np.float64 else torch.float32)
    copy_into_torch(dd_module, torch_module)
    dd_module.train(train)
    torch_module.train(train)
    dd_in = [deepdive.tensor(a.copy(), requires_grad=a.dtype.kind == "f") for a in inputs]
    torch_in = [torch.tensor(a.copy(), requires_grad=a.dtype.kind == "f") for a in inputs]
    out, ref = dd_module(*dd_in), torch_module(*torch_in)
    assert str(out.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1], f"dtype {out.dtype} != {ref.dtype}"
    assert_close(out, ref, rtol=rtol, atol=atol, what="output")
    w = np.random.default_rng(seed).standard_normal(tuple(ref.shape)).astype(dtype)
    (out * deepdive.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for k, (a, b) in enumerate(zip(dd_in, torch_in)):
        if b.requires_grad:
            assert a.grad is not None, f"input {k}: deepdive computed no gradient"
            assert_close(a.grad, b.grad, rtol=rtol, atol=atol, what=f"grad of input {k}")
    dd_params = dict(dd_module.named_parameters())
    torch_params = dict(torch_module.named_parameters())
    assert dd_params.keys() == torch_params.keys()
    for name, tp in torch_params.items():
        dp = dd_params[name]
        assert str(dp.dtype).split(".")[-1] == str(tp.dtype).split(".")[-1], name
        if tp.grad is None:
            assert dp.grad is None, f"{name}: torch has no grad, deepdive has one"
        else:
            assert dp.grad is not None, f"{name}: deepdive computed no gradient"
            assert_close(dp.grad, tp.grad, rtol=rtol, atol=atol, what=f"grad of {name}")
    if check_buffers:
        torch_buffers = dict(torch_module.named_buffers())
        for name, db in dd_module.named_buffers():
            assert_close(db, torch_buffers[name], rtol=rtol, atol=atol, what=f"buffer {name}")
    return out


# --------------------------------------------------------------------- Linear
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 5), (5,)])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("train", [True, False])
def test_linear_parity(dtype, shape, bias, train):
    torch = require_torch()
    module_parity(nn.Linear(5, 3, bias=bias), torch.nn.Linear(5, 3, bias=bias),
                  [rng.standard_normal(shape).astype(dtype)], dtype, train=train)


def test_linear_functional_gradcheck_and_dtype():
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal(2)
    gradcheck(F.linear, x, w, b)
    gradcheck(lambda x, w: F.linear(x, w), rng.standard_normal((2, 3, 4)), w)
    out = nn.Linear(4, 2)(deepdive.randn(3, 4))
    assert out.dtype == deepdive.float32


def test_linear_wrong_features_names_both_sizes():
    layer = nn.Linear(10, 20)
    with pytest.raises(RuntimeError, match=r"Linear: expected input with 10 features \(in_features\), got 7 "
                                           r"\(input shape \[4, 7\]\)"):
        layer(deepdive.randn(4, 7))
    with pytest.raises(RuntimeError, match="mat1 and mat2 shapes cannot be multiplied"):
        F.linear(deepdive.randn(4, 7), layer.weight)
    with pytest.raises(RuntimeError, match="same dtype, but got Double and Float"):
        F.linear(deepdive.randn(4, 10, dtype=deepdive.float64), layer.weight)
    with pytest.raises(RuntimeError, match="same dtype, but got Long and Float"):
        layer(deepdive.ones(4, 10, dtype=deepdive.int64))


def test_linear_repr_and_shapes():
    layer = nn.Linear(10, 20, bias=False)
    assert repr(layer) == "Linear(in_features=10, out_features=20, bias=False)"
    assert layer.weight.shape == (20, 10) and layer.bias is None
    assert isinstance(layer.weight, nn.Parameter) and layer.weight.requires_grad


@pytest.mark.parametrize("dtype", DTYPES)
def test_bilinear_parity(dtype):
    torch = require_torch()
    module_parity(nn.Bilinear(3, 4, 2), torch.nn.Bilinear(3, 4, 2),
                  [rng.standard_normal((5, 3)).astype(dtype), rng.standard_normal((5, 4)).astype(dtype)], dtype)
    module_parity(nn.Bilinear(3, 4, 2, bias=False), torch.nn.Bilinear(3, 4, 2, bias=False),
                  [rng.standard_normal((2, 5, 3)).astype(dtype), rng.standard_normal((2, 5, 4)).astype(dtype)], dtype)


def test_bilinear_gradcheck_and_errors():
    gradcheck(F.bilinear, rng.standard_normal((3, 2)), rng.standard_normal((3, 4)), rng.standard_normal((2, 2, 4)),
              rng.standard_normal(2))
    layer = nn.Bilinear(3, 4, 2)
    with pytest.raises(RuntimeError, match="bilinear"):
        layer(deepdive.randn(5, 3), deepdive.randn(5, 5))


def test_lazy_linear_infers_in_features_then_is_linear():
    torch = require_torch()
    layer = nn.LazyLinear(3)
    assert isinstance(layer.weight, nn.UninitializedParameter)
    assert repr(layer) == "LazyLinear(in_features=0, out_features=3, bias=True)"
    x = rng.standard_normal((4, 6)).astype(np.float32)
    layer(deepdive.tensor(x))
    assert type(layer) is nn.Linear and layer.in_features == 6 and layer.weight.shape == (3, 6)
    assert type(layer.weight) is nn.Parameter
    bound = 1 / np.sqrt(6)
    assert np.abs(layer.weight._data).max() <= bound
    module_parity(layer, torch.nn.Linear(6, 3), [x], np.float32)


def test_identity_flatten_unflatten():
    torch = require_torch()
    x = rng.standard_normal((2, 3, 4, 5))
    check_parity(nn.Identity(7, foo=1), torch.nn.Identity(7, foo=1), [x])
    check_parity(nn.Flatten(), torch.nn.Flatten(), [x])
    check_parity(nn.Flatten(0, 2), torch.nn.Flatten(0, 2), [x])
    check_parity(nn.Unflatten(1, (3, 1)), torch.nn.Unflatten(1, (3, 1)), [x])
    check_parity(nn.Unflatten(-1, (5, -1)), torch.nn.Unflatten(-1, (5, -1)), [x])
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    assert repr(nn.Unflatten(1, (2, 5))) == "Unflatten(dim=1, unflattened_size=(2, 5))"


# ------------------------------------------------------------------ Embedding
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", [{}, {"padding_idx": 1}, {"padding_idx": -1}, {"scale_grad_by_freq": True}])
def test_embedding_parity(dtype, kwargs):
    torch = require_torch()
    idx = np.array([[0, 1, 2, 1], [4, 1, 0, 4]])
    dd = nn.Embedding(5, 3, **kwargs)
    tt = torch.nn.Embedding(5, 3, **kwargs)
    module_parity(dd, tt, [idx], dtype, train=False)
    dd.zero_grad()
    tt.zero_grad()
    module_parity(dd, tt, [idx], dtype)
    if kwargs.get("padding_idx") is not None:
        row = kwargs["padding_idx"] % 5
        assert not np.any(dd.weight.grad._data[row])


def test_embedding_padding_row_starts_at_zero_and_max_norm():
    torch = require_torch()
    emb = nn.Embedding(6, 4, padding_idx=2)
    assert not np.any(emb.weight._data[2]) and np.any(emb.weight._data[1])
    dd = nn.Embedding(5, 3, max_norm=1.0)
    tt = torch.nn.Embedding(5, 3, max_norm=1.0)
    dd.weight._data *= 3
    copy_into_torch(dd, tt)
    idx = np.array([0, 2, 2, 4])
    out = dd(deepdive.tensor(idx))
    ref = tt(torch.tensor(idx))
    assert_close(out, ref)
    assert_close(dd.weight._data, tt.weight.detach())      # the looked-up rows were renormalised in place
    assert np.linalg.norm(dd.weight._data[1]) > 1.0         # rows not looked up are untouched


def test_embedding_from_pretrained_and_gradcheck():
    weights = deepdive.tensor([[1.0, 2.3, 3.0], [4.0, 5.1, 6.3]])
    emb = nn.Embedding.from_pretrained(weights)
    assert not emb.weight.requires_grad
    assert emb(deepdive.tensor([1]))._data.tolist() == [[4.0, 5.099999904632568, 6.300000190734863]]
    emb = nn.Embedding.from_pretrained(weights, freeze=False)
    assert emb.weight.requires_grad
    idx = deepdive.tensor([[0, 1], [1, 1]])
    gradcheck(lambda w: F.embedding(idx, w), rng.standard_normal((3, 2)))   # (padding_idx is not a true derivative)


def test_embedding_errors():
    emb = nn.Embedding(5, 3)
    with pytest.raises(IndexError, match="index out of range in self"):
        emb(deepdive.tensor([1, 5]))
    with pytest.raises(RuntimeError, match="Long, Int"):
        emb(deepdive.tensor([1.0, 2.0]))
    assert repr(nn.Embedding(3, 4, padding_idx=0)) == "Embedding(3, 4, padding_idx=0)"


# -------------------------------------------------------------------- Dropout
def test_dropout_eval_is_identity_and_train_scales():
    deepdive.manual_seed(0)
    drop = nn.Dropout(0.3)
    x = deepdive.ones(200, 500, requires_grad=True)
    y = drop(x)
    kept = y._data != 0
    assert abs(1 - kept.mean() - 0.3) < 0.01
    np.testing.assert_allclose(y._data[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad._data, kept / 0.7, rtol=1e-6)      # gradient goes through the same mask
    drop.eval()
    z = drop(x)
    np.testing.assert_array_equal(z._data, x._data)
    assert repr(drop) == "Dropout(p=0.3, inplace=False)"


def test_dropout_seeded_and_edge_probabilities():
    x = deepdive.randn(10, 10)
    deepdive.manual_seed(5)
    a = F.dropout(x, 0.5)
    deepdive.manual_seed(5)
    b = F.dropout(x, 0.5)
    np.testing.assert_array_equal(a._data, b._data)
    np.testing.assert_array_equal(F.dropout(x, 0.0)._data, x._data)
    assert not np.any(F.dropout(x, 1.0)._data)
    assert F.dropout(x, 0.5)._data.dtype == np.float32
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, -0.1)


def test_dropout_inplace():
    x = deepdive.ones(50, 50)
    y = F.dropout(x, 0.5, inplace=True)
    assert y is x and np.any(x._data == 0)
    leaf = deepdive.ones(4, requires_grad=True)
    h = leaf * 2
    h2 = nn.Dropout(0.5, inplace=True)(h)
    h2.sum().backward()
    np.testing.assert_allclose(leaf.grad._data, (h2._data != 0) * 4.0)


@pytest.mark.parametrize("cls,shape", [(nn.Dropout1d, (4, 6, 8)), (nn.Dropout2d, (4, 6, 3, 3)),
                                       (nn.Dropout3d, (2, 6, 2, 2, 2)), (nn.Dropout1d, (6, 8))])
def test_channel_dropout_zeroes_whole_channels(cls, shape):
    deepdive.manual_seed(1)
    x = deepdive.ones(*shape)
    y = cls(0.5)(x)._data
    batched = len(shape) in (3, 4, 5) and not (cls is nn.Dropout1d and len(shape) == 2)
    per_channel = y.reshape(shape[:2] + (-1,)) if batched else y.reshape(shape[:1] + (-1,))
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))
    assert (per_channel == 0).any() and (per_channel == 2).any()
    if cls is nn.Dropout1d:        # Dropout2d/3d only warn on other ranks (see the test below)
        with pytest.raises(RuntimeError, match="Expected"):
            cls(0.5)(deepdive.ones(2))


# (input shape, shape of the mask PyTorch 2.13 draws: one value shared along the 1-dims)
_DROPOUT2D_RANKS = [((6, 7), (6, 7)), ((4, 6, 5), (4, 6, 1)), ((3, 4, 5, 6, 2), (3, 4, 1, 1, 1))]
_DROPOUT3D_RANKS = [((40,), (40,)), ((6, 7), (6, 1)), ((6, 4, 5), (6, 1, 1)), ((5, 3, 2, 2), (5, 1, 1, 1)),
                    ((12, 4, 2, 2, 2, 2), (12, 1, 1, 1, 1, 1))]


@pytest.mark.parametrize("name,shape,mask_shape", [("Dropout2d",) + c for c in _DROPOUT2D_RANKS] +
                         [("Dropout3d",) + c for c in _DROPOUT3D_RANKS])
def test_dropout2d_3d_other_ranks_warn_as_torch(name, shape, mask_shape):
    """An MNIST RNN puts Dropout2d on (N, features): PyTorch warns and drops per (i, j), it does not raise."""
    import warnings
    torch = require_torch()

    def run(module, x):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y = module(x)
        return y, [str(w.message) for w in caught]

    deepdive.manual_seed(0)
    y, messages = run(getattr(nn, name)(0.5), deepdive.ones(*shape))
    _, torch_messages = run(getattr(torch.nn, name)(0.5), torch.ones(*shape))
    assert messages == torch_messages
    y = y._data
    assert y.shape == shape and set(np.unique(y)) <= {0.0, 2.0}
    # constant along the mask's broadcast dims, and varying across the rest
    reduced = tuple(d for d, n in enumerate(mask_shape) if n == 1)
    first = y[tuple(slice(0, 1) if d in reduced else slice(None) for d in range(len(shape)))]
    np.testing.assert_array_equal(y, np.broadcast_to(first, shape))
    assert (first == 0).any() and (first == 2).any()


def test_dropout2d_needs_two_dims_and_eval_is_identity():
    with pytest.raises(RuntimeError, match="at least 2 dimensions"), pytest.warns(UserWarning, match="1-D input"):
        nn.Dropout2d(0.5)(deepdive.ones(3))
    x = deepdive.ones(4, 5)
    with pytest.warns(UserWarning, match="2-D input to dropout2d"):
        assert nn.Dropout2d(0.5).eval()(x) is x


def test_alpha_dropout_keeps_mean_and_variance():
    deepdive.manual_seed(0)
    x = deepdive.randn(400, 500)
    y = nn.AlphaDropout(0.2)(x)._data
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    m = nn.AlphaDropout(0.2).eval()
    np.testing.assert_array_equal(m(x)._data, x._data)


def test_lazy_linear_materialised_by_load_state_dict():
    source = nn.Linear(5, 3)
    lazy = nn.LazyLinear(3)
    lazy.load_state_dict(source.state_dict())
    x = deepdive.randn(2, 5)
    np.testing.assert_allclose(lazy(x)._data, source(x)._data)
    assert type(lazy) is nn.Linear and lazy.in_features == 5


@pytest.mark.parametrize("vocab,count", [(7, 50), (3000, 2000)])      # the one-hot GEMM and the sorted-sum paths
def test_embedding_gradient_paths(vocab, count):
    torch = require_torch()
    idx = rng.integers(0, vocab, count).reshape(-1, 5)
    module_parity(nn.Embedding(vocab, 4), torch.nn.Embedding(vocab, 4), [idx], np.float64)
    module_parity(nn.Embedding(vocab, 4, padding_idx=3, scale_grad_by_freq=True),
                  torch.nn.Embedding(vocab, 4, padding_idx=3, scale_grad_by_freq=True), [idx], np.float32)
