"""Shape ops (reshape/view/flatten/unflatten/squeeze/unsqueeze/permute/transpose/t/expand/contiguous/clone/movedim)."""
import numpy as np
import pytest

import deepdive
from parity import check_parity, gradcheck, require_torch

torch = require_torch()
rng = np.random.default_rng(2)
X = rng.standard_normal((2, 3, 4))

CASES = {
    "reshape": lambda x: x.reshape(4, 6),
    "reshape_tuple_infer": lambda x: x.reshape((-1, 2)),
    "reshape_to_scalar_shape": lambda x: x[0, 0, :1].reshape(()),
    "view": lambda x: x.view(6, 4),
    "view_list": lambda x: x.view([3, -1]),
    "view_as": lambda x: x.view_as(x[0].reshape(-1).expand(2, 12)),
    "flatten": lambda x: x.flatten(),
    "flatten_range": lambda x: x.flatten(1),
    "flatten_neg": lambda x: x.flatten(0, -2),
    "unflatten": lambda x: x.unflatten(-1, (2, 2)),
    "squeeze_all": lambda x: x[:, :1, None].squeeze(),
    "squeeze_dim": lambda x: x[:, :1].squeeze(1),
    "squeeze_non_one_dim": lambda x: x.squeeze(0),
    "squeeze_tuple": lambda x: x[:1, :1].squeeze((0, 1)),
    "unsqueeze": lambda x: x.unsqueeze(1),
    "unsqueeze_neg": lambda x: x.unsqueeze(-1),
    "permute": lambda x: x.permute(2, 0, 1),
    "permute_tuple_neg": lambda x: x.permute((-1, 1, 0)),
    "transpose": lambda x: x.transpose(0, 2),
    "transpose_neg": lambda x: x.transpose(-1, -2),
    "swapaxes": lambda x: x.swapaxes(0, 1),
    "t": lambda x: x[0].t(),
    "t_1d": lambda x: x[0, 0].t(),
    "T": lambda x: x.T if x.ndim == 2 else x[0].T,
    "mT": lambda x: x.mT,
    "expand": lambda x: x[:, :1].expand(2, 3, 4),
    "expand_new_dims": lambda x: x[0, 0].expand(5, 3, 4),
    "expand_minus_one": lambda x: x[:, :1].expand(-1, 6, -1),
    "expand_as": lambda x: x[0, :, :1].expand_as(x),
    "contiguous": lambda x: x.transpose(0, 1).contiguous(),
    "clone": lambda x: x.clone(),
    "movedim": lambda x: x.movedim(0, -1),
    "movedim_tuple": lambda x: x.movedim((0, 1), (2, 0)),
    "reshape_after_permute": lambda x: x.permute(2, 1, 0).reshape(-1),
    "ravel_of_transposed": lambda x: x.transpose(0, 2).ravel(),
    "swapdims": lambda x: x.swapdims(0, -1),
    "moveaxis": lambda x: x.moveaxis(-1, 0),
    "broadcast_to": lambda x: x[:, :1].broadcast_to((5, 2, 3, 4)),
    "unfold": lambda x: x.unfold(2, 2, 1),
    "unfold_step": lambda x: x.unfold(-1, 2, 2),
    "unfold_gaps": lambda x: x.unfold(1, 1, 2),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_parity(name, dtype):
    check_parity(CASES[name], CASES[name], [X.astype(dtype)])


@pytest.mark.parametrize("name", list(CASES))
def test_gradcheck(name):
    gradcheck(CASES[name], X)


@pytest.mark.parametrize("fn", [lambda m: m.flatten(X), lambda m: m.reshape(X, (4, 6)), lambda m: m.squeeze(X),
                                lambda m: m.unsqueeze(X, 0), lambda m: m.permute(X, (1, 0, 2)),
                                lambda m: m.transpose(X, 0, 1), lambda m: m.t(X[0]), lambda m: m.clone(X),
                                lambda m: m.movedim(X, 1, 0), lambda m: m.unflatten(X, 1, (3, 1))])
def test_functional_forms_match_torch(fn):
    a = fn(type("M", (), {k: staticmethod(lambda x, *args, _k=k: getattr(deepdive, _k)(deepdive.tensor(x), *args))
                           for k in dir(deepdive) if not k.startswith("_")}))
    b = fn(type("M", (), {k: staticmethod(lambda x, *args, _k=k: getattr(torch, _k)(torch.tensor(x), *args))
                           for k in dir(torch) if not k.startswith("_") and k in dir(deepdive)}))
    np.testing.assert_array_equal(a._data, b.numpy())


def test_views_share_memory_and_shapes_are_sizes():
    x = deepdive.zeros(2, 3, 4)
    for y in [x.reshape(6, 4), x.view(-1), x.transpose(0, 1), x.permute(2, 1, 0), x.unsqueeze(0), x[:, :1].squeeze(1),
              x[0, :1].expand(5, 4)]:
        assert np.shares_memory(y._data, x._data)
    assert isinstance(x.reshape(6, 4).shape, deepdive.Size) and repr(x.flatten(1).shape) == "deepdive.Size([2, 12])"
    assert x.transpose(0, 1).is_contiguous() is False and x.transpose(0, 1).contiguous().is_contiguous()
    c = x.clone()
    assert not np.shares_memory(c._data, x._data)


def test_clone_keeps_dtype_and_grad_fn_names():
    x = deepdive.ones(2, 3, requires_grad=True)
    assert x.clone().grad_fn.name() == "CloneBackward0"
    tx = torch.ones(2, 3, requires_grad=True)
    for fn in [lambda a: a.reshape(3, 2), lambda a: a.view(-1), lambda a: a.flatten(), lambda a: a.permute(1, 0),
               lambda a: a.transpose(0, 1), lambda a: a.t(), lambda a: a.unsqueeze(0), lambda a: a[:1].squeeze(0),
               lambda a: a.expand(4, 2, 3), lambda a: a[0], lambda a: a[:, 1:], lambda a: a[[0, 1]],
               lambda a: a.unflatten(1, (3, 1))]:
        assert fn(x).grad_fn.name() == type(fn(tx).grad_fn).__name__
    assert deepdive.ones(2, dtype=deepdive.float64).clone().dtype == deepdive.float64


def test_shape_errors_match_torch():
    x = deepdive.zeros(2, 3)
    with pytest.raises(RuntimeError, match=r"shape '\[4, 2\]' is invalid for input of size 6"):
        x.reshape(4, 2)
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        x.view(-1, -1)
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-3, 2\], but got 3\)"):
        x.unsqueeze(3)
    with pytest.raises(RuntimeError, match="duplicate dims"):
        x.permute(0, 0)
    with pytest.raises(RuntimeError, match="number of dimensions in the tensor input does not match"):
        x.permute(0)
    with pytest.raises(RuntimeError, match=r"The expanded size of the tensor \(4\) must match the existing size \(3\) "
                                           r"at non-singleton dimension 1"):
        x.expand(2, 4)
    with pytest.raises(RuntimeError, match="t\\(\\) expects a tensor with <= 2 dimensions, but self is 3D"):
        deepdive.zeros(1, 2, 3).t()
    with pytest.raises(RuntimeError, match="start_dim cannot come after end_dim"):
        deepdive.zeros(1, 2, 3).flatten(2, 1)


def test_zero_d_and_empty_shapes():
    for shape_fn in [lambda x: x.reshape(1, 1), lambda x: x.flatten(), lambda x: x.unsqueeze(0), lambda x: x.squeeze(),
                     lambda x: x.t(), lambda x: x.expand(3, 2)]:
        a, b = shape_fn(deepdive.tensor(1.5)), shape_fn(torch.tensor(1.5))
        assert tuple(a.shape) == tuple(b.shape)
    for shape_fn in [lambda x: x.reshape(0, 3, 2), lambda x: x.flatten(), lambda x: x.permute(1, 0),
                     lambda x: x.reshape(-1, 2)]:
        a, b = shape_fn(deepdive.zeros(0, 6)), shape_fn(torch.zeros(0, 6))
        assert tuple(a.shape) == tuple(b.shape)
    with pytest.raises(RuntimeError, match="cannot reshape tensor of 0 elements"):
        deepdive.zeros(0, 6).reshape(0, 3, -1)


def test_broadcast_helpers_and_atleast_match_torch():
    assert tuple(deepdive.broadcast_shapes((2, 1), (3,), ())) == tuple(torch.broadcast_shapes((2, 1), (3,), ()))
    with pytest.raises(RuntimeError, match="Shape mismatch"):
        deepdive.broadcast_shapes((2,), (3,))
    a, b = deepdive.broadcast_tensors(deepdive.ones(2, 1), deepdive.ones(3))
    assert a.shape == b.shape == (2, 3)
    for fn in ("atleast_1d", "atleast_2d", "atleast_3d"):
        for shape in [(), (3,), (2, 3), (1, 2, 3)]:
            ours = getattr(deepdive, fn)(deepdive.ones(shape))
            theirs = getattr(torch, fn)(torch.ones(shape))
            assert tuple(ours.shape) == tuple(theirs.shape), (fn, shape)
        assert len(getattr(deepdive, fn)(deepdive.ones(2), deepdive.ones(3))) == 2


def test_broadcast_tensors_gradients():
    check_parity(lambda a, b: deepdive.broadcast_tensors(a, b), lambda a, b: torch.broadcast_tensors(a, b),
                 [X[:, :1, :1], X[0, 0]])


def test_unfold_errors():
    with pytest.raises(RuntimeError, match="maximum size for tensor at dimension 0 is 3 but size is 4"):
        deepdive.ones(3).unfold(0, 4, 1)
    with pytest.raises(RuntimeError, match="step is 0 but must be > 0"):
        deepdive.ones(3).unfold(0, 2, 0)


def test_view_of_a_transposed_tensor_raises_like_torch():
    torch = require_torch()
    x = deepdive.arange(6.0).reshape(2, 3)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        x.t().view(-1)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        torch.arange(6.0).reshape(2, 3).t().view(-1)
    assert x.t().reshape(-1).tolist() == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    v = x.view(3, 2)
    v[0, 0] = 100.0                                  # a view shares memory with its base
    assert x[0, 0].item() == 100.0


def test_view_dtype_reinterprets_bits():
    torch = require_torch()
    ours = deepdive.tensor([1.0, -2.0]).view(deepdive.int32)
    theirs = torch.tensor([1.0, -2.0]).view(torch.int32)
    assert ours.tolist() == theirs.tolist() and ours.dtype == deepdive.int32


def test_keyword_forms_like_torch():
    for fn in [lambda L, x: x.reshape(shape=(3, 2)), lambda L, x: L.reshape(x, shape=(6,)),
               lambda L, x: x.view(size=(6,)),
               lambda L, x: x.permute(dims=(1, 0)), lambda L, x: x.expand(size=(2, 2, 3)),
               lambda L, x: x.flip(dims=[1]), lambda L, x: x.tile(dims=(2,)), lambda L, x: x.repeat(repeats=(2, 1)),
               lambda L, x: x.transpose(dim0=1, dim1=0), lambda L, x: x.unsqueeze(dim=0),
               lambda L, x: x.flatten(start_dim=0),
               lambda L, x: x.roll(shifts=1, dims=1), lambda L, x: x.narrow(dim=1, start=1, length=2)]:
        a, b = fn(deepdive, deepdive.tensor(X[0, :2, :3])), fn(torch, torch.tensor(X[0, :2, :3]))
        np.testing.assert_array_equal(a._data, b.numpy())
