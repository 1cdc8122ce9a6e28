"""Property tests (hypothesis): broadcasting, shape round trips and dtype preservation hold for any shapes."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import deepdive
from parity import require_torch

torch = require_torch()
SETTINGS = settings(max_examples=25, deadline=None)
BINARY = {
    "add": (lambda a, b: a + b, np.add), "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply), "div": (lambda a, b: a / b, np.divide),
    "maximum": (lambda a, b: a.maximum(b), np.maximum), "pow": (lambda a, b: a.abs() ** b, None),
}


def arrays(shape, dtype=np.float64, low=0.5, high=2.0):
    return hnp.arrays(dtype, shape, elements=st.floats(low, high, width=64 if dtype == np.float64 else 32))


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4),
       op=st.sampled_from(sorted(BINARY)), data=st.data())
def test_binary_broadcasting_matches_numpy_and_torch(shapes, op, data):
    (shape_a, shape_b), result_shape = shapes.input_shapes, shapes.result_shape
    a, b = data.draw(arrays(shape_a)), data.draw(arrays(shape_b))
    fn, np_fn = BINARY[op]
    x, y = deepdive.tensor(a, requires_grad=True), deepdive.tensor(b, requires_grad=True)
    out = fn(x, y)
    assert tuple(out.shape) == result_shape
    if np_fn is not None:
        np.testing.assert_allclose(out._data, np_fn(a, b), rtol=1e-12)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    tout = fn(tx, ty)
    np.testing.assert_allclose(out._data, tout.detach().numpy(), rtol=1e-12)
    # the adjoint of broadcasting: each gradient has its input's shape and torch's values
    w = np.random.default_rng(0).standard_normal(result_shape)
    (out * deepdive.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    assert x.grad.shape == shape_a and y.grad.shape == shape_b
    np.testing.assert_allclose(x.grad._data, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y.grad._data, ty.grad.numpy(), rtol=1e-10, atol=1e-12)


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3, max_side=3))
def test_incompatible_shapes_raise_like_torch(shapes):
    (shape_a, shape_b) = shapes.input_shapes
    bad_b = shape_b[:-1] + (shape_a[-1] + 1 if shape_a[-1] > 1 else 2,)
    if shape_a[-1] == 1:
        shape_a = shape_a[:-1] + (3,)
    a, b = deepdive.ones(*shape_a), deepdive.ones(*bad_b)
    with pytest.raises(RuntimeError, match="must match the size of tensor b"):
        a + b
    with pytest.raises(RuntimeError):
        torch.ones(*shape_a) + torch.ones(*bad_b)


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), data=st.data())
def test_reshape_flatten_round_trip(shape, data):
    a = data.draw(arrays(shape, low=-3, high=3))
    x = deepdive.tensor(a, requires_grad=True)
    flat = x.reshape(-1)
    assert flat.shape == (a.size,)
    back = flat.view(*shape)
    np.testing.assert_array_equal(back._data, a)
    start = data.draw(st.integers(0, len(shape) - 1))
    end = data.draw(st.integers(start, len(shape) - 1))
    f = x.flatten(start, end)
    np.testing.assert_array_equal(f.unflatten(start, shape[start:end + 1])._data, a)
    (back * deepdive.tensor(a)).sum().backward()
    np.testing.assert_array_equal(x.grad._data, a)


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=5, max_side=3), data=st.data())
def test_permute_and_inverse_round_trip(shape, data):
    a = data.draw(arrays(shape, low=-3, high=3))
    perm = data.draw(st.permutations(range(len(shape))))
    x = deepdive.tensor(a, requires_grad=True)
    y = x.permute(*perm)
    np.testing.assert_array_equal(y._data, np.transpose(a, perm))
    np.testing.assert_array_equal(y._data, torch.tensor(a).permute(*perm).numpy())
    inverse = list(np.argsort(perm))
    np.testing.assert_array_equal(y.permute(inverse)._data, a)
    w = np.random.default_rng(1).standard_normal(y.shape)
    (y * deepdive.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad._data, np.transpose(w, inverse))


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), data=st.data())
def test_transpose_twice_is_identity(shape, data):
    a = data.draw(arrays(shape, low=-3, high=3))
    d0 = data.draw(st.integers(-len(shape), len(shape) - 1))
    d1 = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = deepdive.tensor(a)
    y = x.transpose(d0, d1)
    assert tuple(y.shape) == tuple(torch.tensor(a).transpose(d0, d1).shape)
    np.testing.assert_array_equal(y.transpose(d0, d1)._data, a)


UNARY_OPS = ["exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs", "neg", "sin", "square", "reciprocal"]
SHAPE_OPS = [lambda t: t.reshape(-1), lambda t: t.t() if t.ndim == 2 else t, lambda t: t.unsqueeze(0),
             lambda t: t.sum(0), lambda t: t.mean(), lambda t: t[..., :1], lambda t: t.flip(0), lambda t: t.clone(),
             lambda t: deepdive.cat([t, t]), lambda t: deepdive.stack([t, t], -1), lambda t: t.repeat(2, 1),
             lambda t: t.expand(3, *t.shape), lambda t: t.roll(1, 0), lambda t: t.tril(),
             lambda t: t.masked_fill(t > 1, 0.5)]


@SETTINGS
@given(dtype=st.sampled_from([np.float32, np.float64]), data=st.data(),
       shape=hnp.array_shapes(min_dims=2, max_dims=2, max_side=4))
def test_dtype_preserved_through_ops_and_gradients(dtype, data, shape):
    a = data.draw(arrays(shape, dtype=dtype))
    x = deepdive.tensor(a, requires_grad=True)
    dd_dtype = deepdive.float32 if dtype == np.float32 else deepdive.float64
    outs = [getattr(x, name)() for name in UNARY_OPS] + [f(x) for f in SHAPE_OPS]
    outs += [x + 1, x * 2.5, 3 / x, x ** 2, x - deepdive.tensor(1), x @ x.t(), x.max(), x.clamp(0.7, 1.2),
             deepdive.where(x > 1, x, 0.0)]
    for out in outs:
        assert out.dtype == dd_dtype, f"{out.grad_fn} gave {out.dtype} for {dd_dtype}"
    total = outs[0].sum()
    for out in outs[1:]:
        total = total + out.sum()
    assert total.dtype == dd_dtype
    total.backward()
    assert x.grad.dtype == dd_dtype and x.grad.shape == x.shape


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), data=st.data())
def test_basic_indexing_matches_numpy_and_gradients_match_torch(shape, data):
    a = data.draw(arrays(shape, low=-3, high=3))
    index = data.draw(hnp.basic_indices(shape, min_dims=0, allow_newaxis=True, allow_ellipsis=True))
    if isinstance(index, tuple) and any(isinstance(i, slice) and i.step is not None and i.step < 0 for i in index):
        return      # PyTorch has no negative slice steps
    if isinstance(index, slice) and index.step is not None and index.step < 0:
        return
    x = deepdive.tensor(a, requires_grad=True)
    y = x[index]
    np.testing.assert_array_equal(y._data, a[index])
    if y.numel() == 0:
        return
    tx = torch.tensor(a, requires_grad=True)
    w = np.random.default_rng(2).standard_normal(y.shape)
    (y * deepdive.tensor(w)).sum().backward()
    (tx[index] * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad._data, tx.grad.numpy(), rtol=1e-12)


@SETTINGS
@given(lengths=st.lists(st.integers(0, 3), min_size=1, max_size=4), other=st.integers(1, 3), dim=st.integers(0, 1),
       data=st.data())
def test_cat_then_split_round_trip(lengths, other, dim, data):
    shapes = [(n, other) if dim == 0 else (other, n) for n in lengths]
    arrays_ = [data.draw(arrays(s, low=-3, high=3)) for s in shapes]
    xs = [deepdive.tensor(a, requires_grad=True) for a in arrays_]
    joined = deepdive.cat(xs, dim)
    np.testing.assert_array_equal(joined._data, np.concatenate(arrays_, dim))
    pieces = joined.split([a.shape[dim] for a in arrays_], dim)
    for piece, a in zip(pieces, arrays_):
        np.testing.assert_array_equal(piece._data, a)
    total = sum((p * (i + 1)).sum() for i, p in enumerate(pieces))
    total.backward()
    for i, x in enumerate(xs):
        np.testing.assert_array_equal(x.grad._data, np.full(x.shape, i + 1.0))
