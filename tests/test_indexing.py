"""Indexing ``x[...]``, ``x[...] = v`` and the index-driven ops (gather, scatter, index_*, masks) against PyTorch."""
import numpy as np
import pytest

import deepdive
from parity import check_parity, gradcheck, require_torch

torch = require_torch()
# torch warns about uint8 masks and list-of-lists indices (both still work in torch 2.13, as here)
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
rng = np.random.default_rng(1)
X = rng.standard_normal((4, 3, 5))


def index_case(make_index):
    """The same index built for each library (``make_index(lib)``), applied to the input."""
    return (lambda x: x[make_index(deepdive)], lambda x: x[make_index(torch)])


GETITEM = {
    "int": lambda lib: 1,
    "negative_int": lambda lib: -1,
    "tuple_ints": lambda lib: (0, -2, 4),
    "slice": lambda lib: slice(1, 3),
    "slice_step": lambda lib: (slice(None), slice(None, None, 2)),
    "negative_slice": lambda lib: (slice(-3, -1), 0),
    "ellipsis": lambda lib: (Ellipsis, 1),
    "ellipsis_middle": lambda lib: (0, Ellipsis, slice(1, 4)),
    "none": lambda lib: (None, 1, None),
    "none_and_ellipsis": lambda lib: (Ellipsis, None),
    "list_with_repeats": lambda lib: [0, 0, 2, 0],
    "tensor_with_repeats": lambda lib: lib.tensor([[1, 1], [3, 1]]),
    "two_tensors": lambda lib: (lib.tensor([0, 3, 0]), lib.tensor([2, 2, 2])),
    "tensor_and_slice": lambda lib: (slice(None), lib.tensor([1, 1, 0]), slice(1, 3)),
    "separated_tensors": lambda lib: (lib.tensor([0, 1]), slice(None), lib.tensor([4, 4])),
    "0d_tensor": lambda lib: lib.tensor(2),
    "bool_mask_full": lambda lib: lib.tensor(X > 0.3),
    "bool_mask_leading": lambda lib: lib.tensor([True, False, True, True]),
    "bool_mask_inner": lambda lib: (slice(None), lib.tensor([True, False, True])),
    "bool_list": lambda lib: [False, True, True, False],
    "empty_result": lambda lib: lib.tensor(X > 100),
    "negative_tensor": lambda lib: lib.tensor([-1, -4]),
    "list_of_lists_is_a_tuple": lambda lib: [[0, 1], [1, 0]],
    "empty_list": lambda lib: [],
    "int32_tensor": lambda lib: lib.tensor([2, 0], dtype=lib.int32),
    "uint8_mask": lambda lib: lib.tensor([1, 0, 0, 1], dtype=lib.uint8),
    "0d_bool": lambda lib: lib.tensor(True),
    "python_bool": lambda lib: False,
    "slice_beyond_bounds": lambda lib: slice(-10, 10),
    "2d_mask_on_leading_dims": lambda lib: lib.tensor(X[:, :, 0] > 0),
}


@pytest.mark.parametrize("name", list(GETITEM))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_getitem_parity(name, dtype):
    dd_fn, torch_fn = index_case(GETITEM[name])
    check_parity(dd_fn, torch_fn, [X.astype(dtype)])


@pytest.mark.parametrize("name", ["int", "slice_step", "ellipsis_middle", "list_with_repeats", "two_tensors",
                                  "bool_mask_full", "separated_tensors"])
def test_getitem_gradcheck(name):
    gradcheck(lambda x: x[GETITEM[name](deepdive)], X)


def test_repeated_indices_accumulate_gradient():
    x = deepdive.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 0, 2]].sum().backward()
    np.testing.assert_array_equal(x.grad._data, [3.0, 0.0, 1.0])


def test_basic_index_is_a_view_and_int_keeps_dtype():
    x = deepdive.arange(6).reshape(2, 3)
    row = x[1]
    assert row.dtype == deepdive.int64 and np.shares_memory(row._data, x._data)
    assert x[1, 2].shape == () and x[1, 2].item() == 5


def test_index_errors_are_clear():
    x = deepdive.arange(6.0).reshape(2, 3)
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 2"):
        x[5]
    with pytest.raises(IndexError, match="index 7 is out of bounds for dimension 1 with size 3"):
        x[0, 7]
    with pytest.raises(IndexError, match="tensors used as indices must be long, int, byte or bool tensors"):
        x[deepdive.tensor([1.0])]
    with pytest.raises(IndexError):
        x[deepdive.tensor([3])]
    with pytest.raises(IndexError):
        x[deepdive.ones(3, dtype=deepdive.bool)]
    with pytest.raises(RuntimeError, match="shape mismatch"):
        x[0] = deepdive.ones(2, 2)


def setitem_fn(lib, index, value):
    """y = x * 1 (a non-leaf), then y[index] = value(x) in place; returns y."""
    def fn(x, *vs):
        y = x * 1
        y[index(lib)] = value(lib, x, *vs)
        return y
    return fn


SETITEM = {
    "int_number": (lambda lib: 0, lambda lib, x: 7.0),
    "slice_tensor": (lambda lib: (slice(None), 1), lambda lib, x, v: v),
    "broadcast_value": (lambda lib: (slice(1, 3),), lambda lib, x, v: v[0]),
    "value_with_leading_ones": (lambda lib: 0, lambda lib, x, v: v[0:1]),
    "value_from_x": (lambda lib: 1, lambda lib, x: x[0] * 3),
    "mask": (lambda lib: lib.tensor(X > 0), lambda lib, x: 0.0),
    "mask_tensor_value": (lambda lib: lib.tensor(X > 0), lambda lib, x, v: v.sum()),
    "advanced": (lambda lib: (lib.tensor([0, 2]), lib.tensor([1, 0])), lambda lib, x, v: v[0, :5]),
    "ellipsis_none": (lambda lib: (Ellipsis, 2), lambda lib, x: -1.0),
}


@pytest.mark.parametrize("name", list(SETITEM))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_setitem_parity_with_gradients(name, dtype):
    index, value = SETITEM[name]
    inputs = [X.astype(dtype)]
    if value.__code__.co_argcount == 3:
        inputs.append(rng.standard_normal((4, 5)).astype(dtype))
    check_parity(setitem_fn(deepdive, index, value), setitem_fn(torch, index, value), inputs)


def test_setitem_gradcheck():
    gradcheck(setitem_fn(deepdive, lambda lib: (slice(None), 1), lambda lib, x, v: v * 2), X,
              rng.standard_normal((4, 5)))


def test_setitem_without_grad_writes_in_place():
    x = deepdive.zeros(2, 3)
    data, version = x._data, x._version
    x[0, 1:] = deepdive.tensor([1.0, 2.0])
    x[1] = 5
    x[x > 4] = -1
    assert x._data is data and x._version > version
    np.testing.assert_array_equal(x._data, [[0, 1, 2], [-1, -1, -1]])


def test_setitem_value_requiring_grad_makes_target_require_grad():
    v = deepdive.tensor(2.0, requires_grad=True)
    x = deepdive.zeros(3)
    x[1] = v
    assert x.requires_grad and x.grad_fn is not None
    (x * deepdive.tensor([1.0, 5.0, 1.0])).sum().backward()
    assert v.grad.item() == 5.0


def test_setitem_on_leaf_requiring_grad_raises():
    x = deepdive.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x[0] = 1.0
    with deepdive.no_grad():
        x[0] = 1.0
    assert x[0].item() == 1.0


def test_setitem_float_into_int_tensor_casts_like_torch():
    x, t = deepdive.zeros(3, dtype=deepdive.int64), torch.zeros(3, dtype=torch.int64)
    x[0], t[0] = 2.7, 2.7
    assert x.tolist() == t.tolist()


def test_scalar_elements_are_views_like_torch():
    results = []
    for lib in (deepdive, torch):
        x, y, z, w = lib.zeros(3), lib.zeros(2, 2), lib.zeros(2, 2), lib.zeros(3)
        x[1].add_(5)
        y[0, 1].fill_(3)
        z[1][0] += 2
        for v in w:
            v.add_(1)
        w.select(0, 2).mul_(4)
        results.append([t.tolist() for t in (x, y, z, w)])
    assert results[0] == results[1]


def test_inplace_on_scalar_element_of_non_leaf_matches_torch_gradients():
    def fn(lib):
        def f(x):
            y = x * 2
            y[0, 1].mul_(3)
            y[1][2].zero_()
            return y * x
        return f
    check_parity(fn(deepdive), fn(torch), [X[0, :2, :3].copy()])


# ---------------------------------------------------------------- index-driven ops
IDX = np.array([[0, 2, 2], [1, 1, 0]])          # repeats: gradients must accumulate
Y = rng.standard_normal((3, 4))


def method(name, *args, **kwargs):
    """``x.name(*args, *more_inputs)`` in both libraries; Tensor args are given as ("t", array)."""
    def convert(lib, a):
        return lib.tensor(a[1]) if isinstance(a, tuple) and a and a[0] == "t" else a
    return (lambda x, *xs: getattr(x, name)(*[convert(deepdive, a) for a in args], *xs, **kwargs),
            lambda x, *xs: getattr(x, name)(*[convert(torch, a) for a in args], *xs, **kwargs))


def both(fn_name, *args, **kwargs):
    """``lib.fn_name(x, *args, *more_inputs)`` in both libraries."""
    def convert(lib, a):
        return lib.tensor(a[1]) if isinstance(a, tuple) and a and a[0] == "t" else a
    return (lambda x, *xs: getattr(deepdive, fn_name)(x, *[convert(deepdive, a) for a in args], *xs, **kwargs),
            lambda x, *xs: getattr(torch, fn_name)(x, *[convert(torch, a) for a in args], *xs, **kwargs))


INDEX_OPS = {
    "gather": (method("gather", 1, ("t", IDX)), [Y]),
    "gather_dim0": (method("gather", 0, ("t", IDX)), [Y]),
    "scatter_tensor": (method("scatter", 1, ("t", np.array([[0, 2, 3], [1, 0, 3]]))), [Y, rng.standard_normal((2, 3))]),
    "scatter_value": (method("scatter", 1, ("t", IDX), 2.5), [Y]),
    "scatter_add": (method("scatter_add", 0, ("t", IDX)), [Y, rng.standard_normal((2, 3))]),
    "scatter_add_dim1": (method("scatter_add", 1, ("t", IDX)), [Y, rng.standard_normal((2, 3))]),
    "index_select": (method("index_select", 1, ("t", np.array([0, 3, 0]))), [Y]),
    "index_select_permutation": (method("index_select", 0, ("t", np.array([2, 0, 1]))), [Y]),
    "index_add": (method("index_add", 0, ("t", np.array([2, 2])), alpha=2), [Y, rng.standard_normal((2, 4))]),
    "masked_fill_number": (method("masked_fill", ("t", Y > 0), -1.5), [Y]),
    "masked_fill_tensor_value": (method("masked_fill", ("t", Y[0] > 0)), [Y, np.array(2.0)]),
    "masked_select": (method("masked_select", ("t", Y[0] > 0)), [Y]),
    "take_along_dim": (both("take_along_dim", ("t", np.array([[0], [3], [1]])), 1), [Y]),
    "take_along_dim_broadcast": (both("take_along_dim", ("t", np.array([[0, 3]])), 1), [Y]),
    "take_along_dim_flat": (both("take_along_dim", ("t", np.array([5, 0, 5]))), [Y]),
    "take": (method("take", ("t", np.array([[0, 11], [5, 5]]))), [Y]),
    "index_fill": (method("index_fill", 1, ("t", np.array([0, 2])), -1.0), [Y]),
    "index_fill_tensor_value": (method("index_fill", 0, ("t", np.array([1]))), [Y, np.array(2.0)]),
    "index_copy": (method("index_copy", 1, ("t", np.array([3, 0]))), [Y, rng.standard_normal((3, 2))]),
    "index_put": ((lambda x, v: x.index_put((deepdive.tensor([0, 2]), deepdive.tensor([1, 1])), v),
                   lambda x, v: x.index_put((torch.tensor([0, 2]), torch.tensor([1, 1])), v)), [Y, Y[0, :2]]),
    "index_put_accumulate": ((lambda x, v: x.index_put((deepdive.tensor([0, 0, 2]),), v, accumulate=True),
                              lambda x, v: x.index_put((torch.tensor([0, 0, 2]),), v, accumulate=True)), [Y, Y[1]]),
    "masked_scatter": (method("masked_scatter", ("t", Y > 0)), [Y, rng.standard_normal(12)]),
    "put": ((lambda x, v: deepdive.put(x, deepdive.tensor([[0, 5]]), v),
             lambda x, v: torch.put(x, torch.tensor([[0, 5]]), v)), [Y, Y[0, :2]]),
    "put_accumulate": ((lambda x, v: deepdive.put(x, deepdive.tensor([3, 3]), v, accumulate=True),
                        lambda x, v: torch.put(x, torch.tensor([3, 3]), v, accumulate=True)), [Y, Y[0, :2]]),
    "put_inplace_on_non_leaf": ((lambda x, v: (x * 1).put_(deepdive.tensor([1, 7]), v * 2),
                                 lambda x, v: (x * 1).put_(torch.tensor([1, 7]), v * 2)), [Y, Y[1, :2]]),
    "scatter_reduce_sum": (method("scatter_reduce", 1, ("t", IDX), reduce="sum"), [Y, rng.standard_normal((2, 3))]),
    "scatter_reduce_sum_exclude_self": (method("scatter_reduce", 1, ("t", IDX), reduce="sum", include_self=False),
                                        [Y, rng.standard_normal((2, 3))]),
    "scatter_reduce_mean": (method("scatter_reduce", 1, ("t", IDX), reduce="mean"), [Y, rng.standard_normal((2, 3))]),
    "scatter_reduce_mean_exclude_self": (method("scatter_reduce", 1, ("t", IDX), reduce="mean", include_self=False),
                                         [Y, rng.standard_normal((2, 3))]),
    "scatter_reduce_amax": (method("scatter_reduce", 1, ("t", IDX), reduce="amax"), [Y, rng.standard_normal((2, 3))]),
    "scatter_reduce_amin_exclude_self": (method("scatter_reduce", 0, ("t", IDX), reduce="amin", include_self=False),
                                         [Y, rng.standard_normal((2, 3))]),
    "scatter_reduce_prod": (method("scatter_reduce", 1, ("t", IDX), reduce="prod"), [Y, rng.standard_normal((2, 3))]),
}


@pytest.mark.parametrize("name", list(INDEX_OPS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_index_op_parity(name, dtype):
    (dd_fn, torch_fn), inputs = INDEX_OPS[name]
    check_parity(dd_fn, torch_fn, [a.astype(dtype) for a in inputs])


@pytest.mark.parametrize("name", list(INDEX_OPS))
def test_index_op_gradcheck(name):
    (dd_fn, _), inputs = INDEX_OPS[name]
    gradcheck(dd_fn, *inputs)


def test_index_errors():
    x = deepdive.ones(2, 3)
    with pytest.raises(RuntimeError, match="index 5 is out of bounds for dimension 1 with size 3"):
        x.gather(1, deepdive.tensor([[5]]))
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        x.gather(1, deepdive.tensor([0]))
    with pytest.raises(RuntimeError, match="Expected dtype int64"):
        x.gather(1, deepdive.tensor([[0.0]]))
    with pytest.raises(IndexError, match="Index is supposed to be a vector"):
        x.index_select(0, deepdive.tensor([[0]]))
    with pytest.raises(IndexError, match="out of range"):
        x.index_select(0, deepdive.tensor([2]))
    with pytest.raises(IndexError, match=r"select\(\): index 3 out of range for tensor of size \[2, 3\] at "
                                         r"dimension 0"):
        x.select(0, 3)
    with pytest.raises(RuntimeError, match=r"start \(2\) \+ length \(2\) exceeds dimension size \(3\)"):
        x.narrow(1, 2, 2)


def test_nonzero_matches_torch():
    for a in [np.array([[0, 1], [2, 0]]), np.array([0.0, 3.0, -1.0]), np.array(3.0), np.array(0.0), np.zeros((2, 0))]:
        d, t = deepdive.tensor(a), torch.tensor(a)
        np.testing.assert_array_equal(d.nonzero()._data, t.nonzero().numpy())
        assert d.nonzero().dtype == deepdive.int64
        for u, v in zip(deepdive.nonzero(d, as_tuple=True), torch.nonzero(t, as_tuple=True)):
            np.testing.assert_array_equal(u._data, v.numpy())
        np.testing.assert_array_equal(deepdive.argwhere(d)._data, torch.argwhere(t).numpy())


def test_inplace_scatter_on_non_leaf_matches_torch_gradients():
    def run(lib, a):
        y = a * 2
        y.scatter_(1, lib.tensor([[0], [1], [2]]), 0.0)
        return y
    check_parity(lambda a: run(deepdive, a), lambda a: run(torch, a), [Y])


def test_gather_large_repeated_index_gradient():
    # the bincount scatter-add path: many repeats of one index
    idx = np.zeros((50, 40), dtype=np.int64)
    idx[:, ::3] = 7
    check_parity(lambda a: a.gather(1, deepdive.tensor(idx)), lambda a: a.gather(1, torch.tensor(idx)),
                 [rng.standard_normal((50, 10)).astype(np.float32)])


def test_more_inplace_index_ops_match_torch():
    for name, args in [("index_fill_", (1, "VEC", 2.0)), ("index_copy_", (0, "VEC", "SRC")),
                       ("index_put_", (("VEC",), "ROW", True)), ("masked_scatter_", ("MASK", "SRC")),
                       ("scatter_reduce_", (1, "IDX", "SRC", "amax"))]:
        outs = []
        for lib in (deepdive, torch):
            conv = {"VEC": lib.tensor([0, 2]), "SRC": lib.ones(2, 3) * 7, "ROW": lib.ones(3),
                    "MASK": lib.tensor(Y[:3, :3] > 0), "IDX": lib.tensor([[0, 0], [2, 1]])}
            x = lib.tensor(Y[:3, :3].astype(np.float32))
            call = [tuple(conv[i] for i in a) if isinstance(a, tuple) else conv.get(a, a) if isinstance(a, str)
                    else a for a in args]
            assert getattr(x, name)(*call) is x
            outs.append(x.numpy().copy())
        np.testing.assert_allclose(outs[0], outs[1], err_msg=name)
