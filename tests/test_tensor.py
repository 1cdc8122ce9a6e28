"""Tensor creation, dtypes, conversion, Python protocols, repr and type promotion against PyTorch."""
import numpy as np
import pytest

import deepdive
from parity import require_torch

torch = require_torch()


def same_dtype(a, b):
    return str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]


def assert_like_torch(a, b, values=True):
    assert same_dtype(a, b), f"dtype {a.dtype} != torch's {b.dtype}"
    assert tuple(a.shape) == tuple(b.shape), f"shape {tuple(a.shape)} != torch's {tuple(b.shape)}"
    if values:
        np.testing.assert_allclose(a._data, b.numpy(), rtol=1e-6)


CREATION = {
    "tensor_ints": lambda L: L.tensor([[1, 2], [3, 4]]),
    "tensor_floats": lambda L: L.tensor([1.5, 2.0]),
    "tensor_mixed": lambda L: L.tensor([1, 2.5]),
    "tensor_bools": lambda L: L.tensor([True, False]),
    "tensor_scalar": lambda L: L.tensor(3.0),
    "tensor_int_scalar": lambda L: L.tensor(7),
    "tensor_empty": lambda L: L.tensor([]),
    "tensor_dtype": lambda L: L.tensor([1, 2], dtype=L.float64),
    "tensor_of_numpy_f64": lambda L: L.tensor(np.array([1.0, 2.0])),
    "tensor_of_numpy_i32": lambda L: L.tensor(np.array([1, 2], dtype=np.int32)),
    "tensor_of_0d_tensors": lambda L: L.tensor([L.tensor(1.0), L.tensor(2.0)]),
    "Tensor_list": lambda L: L.Tensor([1, 2]),
    "Tensor_shape": lambda L: L.Tensor(2, 3).zero_(),
    "as_tensor": lambda L: L.as_tensor([1, 2, 3]),
    "as_tensor_dtype": lambda L: L.as_tensor(np.arange(3), dtype=L.float32),
    "zeros": lambda L: L.zeros(2, 3),
    "zeros_tuple": lambda L: L.zeros((2, 3), dtype=L.int64),
    "ones_list": lambda L: L.ones([4]),
    "ones_empty_shape": lambda L: L.ones(()),
    "full_float": lambda L: L.full((2, 2), 1.5),
    "full_int": lambda L: L.full((2,), 7),
    "full_bool": lambda L: L.full((2,), True),
    "empty_shape": lambda L: L.empty(3, 2).zero_(),
    "arange_int": lambda L: L.arange(5),
    "arange_start_step": lambda L: L.arange(1, 10, 3),
    "arange_float": lambda L: L.arange(0, 1, 0.25),
    "arange_float_end": lambda L: L.arange(4.0),
    "arange_negative": lambda L: L.arange(5, 0, -2),
    "arange_dtype": lambda L: L.arange(3, dtype=L.float64),
    "linspace": lambda L: L.linspace(0, 1, 5),
    "linspace_one": lambda L: L.linspace(-2, 2, 1),
    "eye": lambda L: L.eye(3),
    "eye_rect": lambda L: L.eye(2, 4, dtype=L.int64),
    "zeros_like": lambda L: L.zeros_like(L.ones(2, 3, dtype=L.float64)),
    "ones_like_dtype": lambda L: L.ones_like(L.ones(2), dtype=L.int32),
    "full_like": lambda L: L.full_like(L.ones(2, dtype=L.int64), 3),
    "empty_like": lambda L: L.empty_like(L.ones(2, 2)).zero_(),
    "new_zeros": lambda L: L.ones(2, dtype=L.float64).new_zeros(3, 1),
    "new_ones": lambda L: L.ones(2, dtype=L.int64).new_ones((2,)),
    "new_full": lambda L: L.ones(2).new_full((2, 2), 4.0),
    "new_tensor": lambda L: L.ones(2, dtype=L.float64).new_tensor([1, 2]),
    "new_empty": lambda L: L.ones(2).new_empty(3).zero_(),
}


@pytest.mark.parametrize("name", list(CREATION))
def test_creation_matches_torch(name):
    assert_like_torch(CREATION[name](deepdive), CREATION[name](torch))


RANDOM = {
    "rand": lambda L: L.rand(3, 4), "randn": lambda L: L.randn((2, 5)),
    "rand_f64": lambda L: L.rand(2, dtype=L.float64),
    "randint": lambda L: L.randint(0, 10, (3, 3)), "randint_high_only": lambda L: L.randint(5, (4,)),
    "randperm": lambda L: L.randperm(6), "rand_like": lambda L: L.rand_like(L.ones(2, dtype=L.float64)),
    "randn_like": lambda L: L.randn_like(L.ones(3)), "randint_like": lambda L: L.randint_like(L.ones(3), 4),
}


@pytest.mark.parametrize("name", list(RANDOM))
def test_random_creation_shapes_and_dtypes(name):
    assert_like_torch(RANDOM[name](deepdive), RANDOM[name](torch), values=False)


def test_random_value_ranges():
    deepdive.manual_seed(0)
    assert ((deepdive.rand(1000)._data >= 0) & (deepdive.rand(1000)._data < 1)).all()
    r = deepdive.randint(3, 7, (1000,))._data
    assert r.min() == 3 and r.max() == 6
    assert sorted(deepdive.randperm(10).tolist()) == list(range(10))
    n = deepdive.randn(20000)._data
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1) < 0.05


def test_manual_seed_reproducible_and_generator():
    deepdive.manual_seed(123)
    a = deepdive.randn(5)
    deepdive.manual_seed(123)
    b = deepdive.randn(5)
    np.testing.assert_array_equal(a._data, b._data)
    assert not np.array_equal(deepdive.randn(5)._data, a._data)
    g1, g2 = deepdive.Generator().manual_seed(7), deepdive.Generator().manual_seed(7)
    np.testing.assert_array_equal(deepdive.rand(4, generator=g1)._data, deepdive.rand(4, generator=g2)._data)
    assert g1.initial_seed() == 7
    state = deepdive.get_rng_state()
    c = deepdive.rand(3)
    deepdive.set_rng_state(state)
    np.testing.assert_array_equal(deepdive.rand(3)._data, c._data)
    assert isinstance(deepdive.manual_seed(1), deepdive.Generator)


def test_from_numpy_shares_memory_and_keeps_dtype():
    arr = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = deepdive.from_numpy(arr)
    assert t.dtype == deepdive.float64
    arr[0, 0] = 42
    assert t[0, 0].item() == 42
    t.add_(1)
    assert arr[0, 0] == 43
    assert np.shares_memory(t.numpy(), arr)
    assert deepdive.as_tensor(arr)._data is arr          # as_tensor: no copy when nothing changes
    assert not np.shares_memory(deepdive.tensor(arr)._data, arr)   # tensor(): always a copy


def test_creation_requires_grad_and_errors():
    x = deepdive.zeros(2, requires_grad=True)
    assert x.requires_grad and x.is_leaf and x.grad is None
    assert deepdive.tensor([1.0], requires_grad=True).requires_grad
    with pytest.raises(RuntimeError, match="floating point"):
        deepdive.tensor([1, 2], requires_grad=True)
    with pytest.raises((TypeError, ValueError)):
        deepdive.tensor("abc")


REPRS = [
    "tensor([1, 2, 3])", "tensor([1.5, 2.25, -3.0])", "tensor([1., 2., 3.])", "tensor([1e10, 1.0])",
    "tensor([1e-5, 1.0])", "tensor([100000.0, 1.0])", "tensor([1.0, 2.0], requires_grad=True)", "tensor(3.5)",
    "tensor(3)", "tensor(True)", "tensor([])", "zeros(0, 3)", "tensor([[1.0, 2.5], [3.0, -4.0]])",
    "tensor([1.0, 2.0], dtype=L.float64)", "tensor([1, 2], dtype=L.int32)", "tensor([True, False])",
    "tensor([float('nan'), float('inf'), -float('inf'), 1.5])", "arange(12.).reshape(3, 4)", "arange(2000.)",
    "arange(3000).reshape(30, 100)", "arange(24.).reshape(2, 3, 4)", "tensor([123456.789, 0.5])",
    "tensor([0.1, 0.2, 0.3])", "tensor(1e-12)", "tensor(-0.0)", "ones(2, 3, dtype=L.float16)",
    "tensor([[1, -20], [300, 4]])", "tensor([1.0], dtype=L.float64, requires_grad=True)",
    "arange(100.).reshape(10, 10) / 3", "empty(2, 0, dtype=L.int64)", "tensor([123456789.0])",
    "tensor([[True, False], [False, False]])", "tensor([0.00012, 0.5])", "arange(10) * 100000",
    "(tensor([1.0, 2.0], requires_grad=True) * 2)", "(arange(30.).reshape(3, 10).requires_grad_() / 7).exp()",
    "zeros(3, dtype=L.int16)", "tensor([1, 2], dtype=L.uint8)",
]


@pytest.mark.parametrize("expr", REPRS)
def test_repr_identical_to_torch(expr):
    def build(lib):
        names = {n: getattr(lib, n) for n in ("tensor", "zeros", "ones", "arange", "empty")}
        return eval(expr.replace("L.", "lib."), {"lib": lib, **names})
    ours = repr(build(deepdive))
    theirs = repr(build(torch)).replace("torch.", "deepdive.")
    assert ours == theirs
    assert str(build(deepdive)) == ours


def test_format_of_0d_tensors():
    x, t = deepdive.tensor(3.14159), torch.tensor(3.14159)
    for spec in [".2f", ".3e", "", ">10.1f"]:
        assert format(x, spec) == format(t, spec)
    assert f"{deepdive.tensor(7):d}" == "7"
    with pytest.raises(TypeError):
        format(deepdive.ones(2), ".2f")


def test_item_tolist_len_iter_bool():
    x = deepdive.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert x.tolist() == [[1.0, 2.0], [3.0, 4.0]] and deepdive.tensor(2).tolist() == 2
    assert len(x) == 2 and [r.tolist() for r in x] == [[1.0, 2.0], [3.0, 4.0]]
    assert x[1, 0].item() == 3.0 and isinstance(x[1, 0].item(), float)
    assert isinstance(deepdive.tensor(5).item(), int) and isinstance(deepdive.tensor(True).item(), bool)
    assert deepdive.tensor([2.5]).item() == 2.5
    with pytest.raises(RuntimeError, match="a Tensor with 4 elements cannot be converted to Scalar"):
        x.item()
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(deepdive.tensor(1.0))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(deepdive.tensor(1.0))
    assert bool(deepdive.tensor([0.5])) and not bool(deepdive.tensor(0))
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value is ambiguous"):
        bool(x)
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with no values is ambiguous"):
        bool(deepdive.tensor([]))
    assert float(deepdive.tensor(2.5)) == 2.5 and int(deepdive.tensor(3.9)) == 3
    assert [10, 20, 30][deepdive.tensor(1)] == 20
    with pytest.raises(TypeError):
        [1, 2][deepdive.tensor(1.0)]
    assert 3.0 in x and 7.0 not in x


def test_iteration_is_differentiable():
    x = deepdive.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    total = sum(row * (i + 1) for i, row in enumerate(x))
    total.sum().backward()
    np.testing.assert_array_equal(x.grad._data, [[1, 1], [2, 2]])


def test_dtype_conversions_match_torch():
    for conv in [lambda t: t.to(t.new_zeros(1).double().dtype), lambda t: t.float(), lambda t: t.double(),
                 lambda t: t.long(), lambda t: t.int(), lambda t: t.half(), lambda t: t.bool(), lambda t: t.short(),
                 lambda t: t.byte(), lambda t: t.to("cpu"), lambda t: t.cpu(), lambda t: t.to(dtype=t.long().dtype),
                 lambda t: t.type_as(t.long()), lambda t: t.to("cpu", t.double().dtype)]:
        assert_like_torch(conv(deepdive.tensor([1.7, -2.2, 0.0])), conv(torch.tensor([1.7, -2.2, 0.0])))
    x = deepdive.ones(2)
    assert x.to(deepdive.float32) is x and x.to("cpu") is x and x.cpu() is x
    assert x.to(deepdive.float32, copy=True) is not x
    assert x.type() == "deepdive.FloatTensor" and x.long().type() == "deepdive.LongTensor"
    assert x.double().type() == x.type(deepdive.float64).type() == "deepdive.DoubleTensor"
    assert x.device == deepdive.device("cpu") and str(x.device) == "cpu" and not x.is_cuda


def test_cast_is_differentiable():
    for lib in (deepdive, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (x.double() * 3).sum()
        y.backward()
        assert same_dtype(x.grad, torch.ones(1)) and x.grad.tolist() == [3.0, 3.0]


def test_cuda_raises_clearly():
    with pytest.raises(RuntimeError, match="CPU only"):
        deepdive.ones(2).cuda()
    with pytest.raises(RuntimeError, match="CPU only"):
        deepdive.ones(2).to("cuda")
    with pytest.raises(RuntimeError, match="CPU only"):
        deepdive.zeros(2, device="cuda")
    assert not deepdive.cuda.is_available()


PROMOTIONS = [
    ("int64 tensor + float", lambda L: L.tensor([1, 2]) + 1.5),
    ("int64 tensor + int", lambda L: L.tensor([1, 2]) + 1),
    ("int32 tensor + int", lambda L: L.tensor([1, 2], dtype=L.int32) + 3),
    ("int32 + int64 tensors", lambda L: L.tensor([1], dtype=L.int32) + L.tensor([1])),
    ("float32 + float64 tensors", lambda L: L.ones(2) + L.ones(2, dtype=L.float64)),
    ("float32 + 0-d float64", lambda L: L.ones(2) + L.tensor(1.0, dtype=L.float64)),
    ("int64 + 0-d float64", lambda L: L.tensor([1, 2]) + L.tensor(1.0, dtype=L.float64)),
    ("0-d int + 0-d float64", lambda L: L.tensor(1) + L.tensor(1.0, dtype=L.float64)),
    ("float16 + 0-d float32", lambda L: L.ones(2, dtype=L.float16) + L.tensor(1.0)),
    ("int32 + 0-d int64", lambda L: L.tensor([1], dtype=L.int32) + L.tensor(2)),
    ("uint8 + int8", lambda L: L.tensor([1], dtype=L.uint8) + L.tensor([1], dtype=L.int8)),
    ("bool + bool", lambda L: L.tensor([True]) + L.tensor([True])),
    ("bool + int", lambda L: L.tensor([True, False]) + 1),
    ("bool + float", lambda L: L.tensor([True, False]) * 1.5),
    ("bool tensor + int tensor", lambda L: L.tensor([True]) + L.tensor([2], dtype=L.int16)),
    ("int / int", lambda L: L.tensor([1, 2]) / L.tensor([2, 2])),
    ("int / number", lambda L: L.tensor([3]) / 2),
    ("int // int", lambda L: L.tensor([7, -7]) // 2),
    ("float64 * python float", lambda L: L.ones(2, dtype=L.float64) * 0.1),
    ("float32 ** int", lambda L: L.ones(2) ** 2),
    ("int ** float", lambda L: L.tensor([2]) ** 0.5),
    ("number - int tensor", lambda L: 1.5 - L.tensor([1])),
    ("comparison dtype", lambda L: L.tensor([1, 2]) > 1.5),
    ("sum of int32", lambda L: L.tensor([1, 2], dtype=L.int32).sum()),
    ("sum of bool", lambda L: L.tensor([True, True]).sum()),
    ("where int/float", lambda L: L.where(L.tensor([True, False]), L.tensor([1, 2]), 0.5)),
]


@pytest.mark.parametrize("name,fn", PROMOTIONS, ids=[p[0] for p in PROMOTIONS])
def test_type_promotion_matches_torch(name, fn):
    assert_like_torch(fn(deepdive), fn(torch))


def test_metadata_matches_torch():
    a, b = deepdive.zeros(2, 3, 4), torch.zeros(2, 3, 4)
    assert a.shape == b.shape and a.size() == b.size() and a.size(1) == b.size(1) and a.size(-1) == 4
    assert a.dim() == a.ndim == 3 and a.numel() == 24 and a.nelement() == 24 and a.element_size() == 4
    assert a.stride() == b.stride() and a.transpose(0, 2).stride() == b.transpose(0, 2).stride()
    assert a.is_floating_point() and not deepdive.zeros(2, dtype=deepdive.int64).is_floating_point()
    assert deepdive.is_tensor(a) and not deepdive.is_tensor(np.zeros(2)) and deepdive.numel(a) == 24
    assert repr(a.shape) == "deepdive.Size([2, 3, 4])" and a.shape[1:] == (3, 4)
    assert isinstance(a.shape[1:], deepdive.Size) and a.shape.numel() == 24
    with pytest.raises(IndexError, match="Dimension out of range"):
        a.size(3)


def test_default_dtype_switch():
    try:
        deepdive.set_default_dtype(deepdive.float64)
        assert deepdive.tensor([1.0]).dtype == deepdive.float64 and deepdive.zeros(2).dtype == deepdive.float64
        assert repr(deepdive.tensor([1.5])) == "tensor([1.5000])"
        assert repr(deepdive.tensor([1.5], dtype=deepdive.float32)) == "tensor([1.5000], dtype=deepdive.float32)"
    finally:
        deepdive.set_default_dtype(deepdive.float32)
    assert deepdive.get_default_dtype() == deepdive.float32


def test_numpy_interop():
    x = deepdive.tensor([1.0, 2.0])
    assert isinstance(np.asarray(x), np.ndarray) and np.asarray(x).dtype == np.float32
    out = np.ones(2, dtype=np.float32) + x          # numpy defers to Tensor's reflected operator
    assert isinstance(out, deepdive.Tensor)
    with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires grad"):
        deepdive.ones(1, requires_grad=True).numpy()
    assert deepdive.ones(1, requires_grad=True).detach().numpy().tolist() == [1.0]


def test_deepcopy_and_pickle():
    import copy
    import pickle
    x = deepdive.tensor([1.0, 2.0], requires_grad=True)
    y = copy.deepcopy(x)
    assert y is not x and y.requires_grad and not np.shares_memory(y._data, x._data)
    z = pickle.loads(pickle.dumps(x))
    assert z.tolist() == [1.0, 2.0] and z.requires_grad
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(x * 2)


def test_dtype_utilities_match_torch():
    assert deepdive.finfo(deepdive.float32).eps == torch.finfo(torch.float32).eps
    assert deepdive.finfo().max == torch.finfo().max and deepdive.finfo(deepdive.float64).tiny == torch.finfo(
        torch.float64).tiny
    assert deepdive.iinfo(deepdive.int32).max == torch.iinfo(torch.int32).max
    pairs = [("int32", "float32"), ("uint8", "int8"), ("bool", "int16"), ("float16", "float64"), ("int64", "float16")]
    for a, b in pairs:
        ours = deepdive.promote_types(getattr(deepdive, a), getattr(deepdive, b))
        assert ours.name == str(torch.promote_types(getattr(torch, a), getattr(torch, b))).split(".")[-1]
        ours = deepdive.can_cast(getattr(deepdive, a), getattr(deepdive, b))
        assert ours == torch.can_cast(getattr(torch, a), getattr(torch, b)), (a, b)
    for make in [lambda L: (L.tensor([1]), 1.0), lambda L: (L.tensor([1]), L.tensor(1.0, dtype=L.float64)),
                 lambda L: (L.tensor([True]), 1), lambda L: (L.ones(2, dtype=L.float16), L.tensor([1.0]))]:
        assert deepdive.result_type(*make(deepdive)).name == str(torch.result_type(*make(torch))).split(".")[-1]


def test_numpy_scalars_keep_their_dtype_and_scalar_conversion_errors():
    for value in [np.float64(1.5), np.int32(3), np.float16(2.0), np.bool_(True)]:
        assert_like_torch(deepdive.tensor(value), torch.tensor(value))
    assert_like_torch(deepdive.Tensor(), torch.Tensor())
    with pytest.raises(ValueError, match="only one element tensors can be converted to Python scalars"):
        int(deepdive.tensor([1, 2]))
    with pytest.raises(ValueError, match="only one element tensors can be converted to Python scalars"):
        float(deepdive.tensor([1.0, 2.0]))
    assert deepdive.ones(1).type("deepdive.DoubleTensor").dtype == deepdive.float64
    assert deepdive.ones(1).type("torch.LongTensor").dtype == deepdive.int64
    with pytest.raises(NotImplementedError):
        deepdive.randn(3, dtype=deepdive.int64)
    with pytest.raises(NotImplementedError):
        deepdive.rand_like(deepdive.ones(2, dtype=deepdive.int64))


@pytest.mark.parametrize("options", [dict(precision=2), dict(sci_mode=True), dict(sci_mode=False),
                                     dict(threshold=5, edgeitems=1), dict(linewidth=40), dict(profile="short"),
                                     dict(profile="full")])
def test_set_printoptions_like_torch(options):
    exprs = ["tensor([1.23456, 2.5, -3.0])", "tensor([1e-6, 1.0])", "arange(12.).reshape(3, 4) / 7", "arange(2000.)",
             "tensor([1., 2.])"]
    try:
        deepdive.set_printoptions(**options)
        torch.set_printoptions(**options)
        for expr in exprs:
            ours = repr(eval(expr, {"tensor": deepdive.tensor, "arange": deepdive.arange}))
            theirs = repr(eval(expr, {"tensor": torch.tensor, "arange": torch.arange})).replace("torch.", "deepdive.")
            assert ours == theirs, expr
    finally:
        deepdive.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")
