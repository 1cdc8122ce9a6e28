"""Elementwise ops: gradcheck + PyTorch parity over broadcast shapes and edge cases."""
import numpy as np
import pytest

import deepdive
from parity import check_parity, gradcheck, require_torch

rng = np.random.default_rng(0)
SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((2, 1, 4), (3, 1)), ((), (2, 2)), ((4, 1), (1, 5))]
BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "maximum": lambda a, b: a.maximum(b) if hasattr(a, "maximum") else None,
}


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_parity(name, shapes, dtype):
    a = rng.standard_normal(shapes[0]).astype(dtype)
    b = (rng.uniform(0.5, 2, shapes[1]) * rng.choice([-1, 1], shapes[1])).astype(dtype)
    fn = BINARY[name]
    check_parity(fn, fn, [a, b])


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div"])
def test_binary_gradcheck(name):
    a = rng.standard_normal((2, 3))
    b = rng.uniform(0.5, 2, (3,))
    gradcheck(BINARY[name], a, b)


@pytest.mark.parametrize("fn", [lambda a: 2 - a, lambda a: 3 / a, lambda a: 2 ** a, lambda a: a ** 3, lambda a: a ** 0.5,
                                lambda a: -a, lambda a: a ** -1.5, lambda a: 1 + a * 2.5])
def test_scalar_operands(fn):
    a = rng.uniform(0.5, 2, (2, 3)).astype(np.float32)
    out = check_parity(fn, fn, [a])
    assert out[0].dtype == deepdive.float32


UNARY = ["exp", "log", "log1p", "sqrt", "rsqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "square", "exp2",
         "expm1", "log2", "log10", "tan", "atan", "sinh", "cosh", "reciprocal", "erf"]


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unary_parity(name, dtype):
    x = rng.uniform(0.2, 1.5, (3, 4)).astype(dtype) * (1 if name in ("log", "log1p", "sqrt", "rsqrt", "log2", "log10") else rng.choice([-1, 1], (3, 4)))
    check_parity(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), [x.astype(dtype)])


@pytest.mark.parametrize("name", UNARY)
def test_unary_gradcheck(name):
    x = rng.uniform(0.2, 1.5, (3, 2))
    gradcheck(lambda t: getattr(deepdive, name)(t), x)


def test_relu_and_abs_at_zero_have_zero_gradient():
    x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
    check_parity(lambda t: t.relu(), lambda t: t.relu(), [x])
    check_parity(lambda t: t.abs(), lambda t: t.abs(), [x])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_relu_backward_bits_match_torch(dtype):
    """ReLU's fast backward (a bit mask, not np.where) gives PyTorch's exact gradient: +0.0 where the
    output is <= 0 even for an infinite, NaN or negative incoming gradient, and the gradient itself
    where the input is NaN; below and above the size where the bit mask takes over, contiguous or not."""
    torch = require_torch()
    x = np.array([[-1.0, 0.0, 2.0, np.nan, -3.0, 4.0], [5.0, -0.0, -2.0, 1.0, -1.0, 0.5]], dtype=dtype)
    g = np.array([[-np.inf, np.nan, -2.0, -5.0, -1.5, np.inf], [np.nan, -1.0, np.inf, 3.0, -0.5, -1.0]],
                 dtype=dtype)
    big_x, big_g = np.tile(x, (1, 400)), np.tile(g, (1, 400))      # 4800 elements: the bit-mask path
    for xs, gs in ((x, g), (x.T, g.T), (big_x, big_g), (big_x.T, big_g.T), (big_x[:, ::2], big_g[:, ::2])):
        t = deepdive.tensor(xs.copy(), requires_grad=True)
        t.relu().backward(deepdive.tensor(gs))
        ref = torch.tensor(xs.copy(), requires_grad=True)
        ref.relu().backward(torch.tensor(gs.copy()))
        expected = ref.grad.numpy()
        assert t.grad._data.dtype == dtype
        np.testing.assert_array_equal(t.grad._data, expected)
        np.testing.assert_array_equal(np.signbit(t.grad._data), np.signbit(expected))


def test_sigmoid_huge_logits_stable():
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=np.float32)
    with np.errstate(over="raise"):
        out = check_parity(lambda t: t.sigmoid(), lambda t: t.sigmoid(), [x])
    assert np.isfinite(out[0]._data).all()


def test_maximum_minimum_ties_split_gradient():
    a = np.array([1.0, 2.0, 3.0], dtype=np.float64)
    b = np.array([1.0, 5.0, 0.0], dtype=np.float64)
    check_parity(lambda x, y: x.maximum(y), lambda x, y: x.maximum(y), [a, b])
    check_parity(lambda x, y: deepdive.minimum(x, y), lambda x, y: __import__("torch").minimum(x, y), [a, b])


def test_clamp_and_where():
    x = rng.standard_normal((4, 3))
    check_parity(lambda t: t.clamp(-0.5, 0.5), lambda t: t.clamp(-0.5, 0.5), [x])
    check_parity(lambda t: t.clamp(min=0.1), lambda t: t.clamp(min=0.1), [x])
    cond = x > 0
    torch = require_torch()
    check_parity(lambda a, b: deepdive.where(deepdive.tensor(cond), a, b),
                 lambda a, b: torch.where(torch.tensor(cond), a, b), [x, rng.standard_normal((3,))])
    gradcheck(lambda t: t.clamp(-0.5, 0.5), x)


def test_pow_tensor_exponent():
    x = rng.uniform(0.5, 2, (3,))
    y = rng.uniform(-1, 2, (3,))
    check_parity(lambda a, b: a ** b, lambda a, b: a ** b, [x, y])
    gradcheck(lambda a, b: a ** b, x, y)


def test_type_promotion_matches_torch():
    torch = require_torch()
    cases = [(np.array([1, 2]), 1.5), (np.array([1, 2], dtype=np.int32), 3), (np.array([True, False]), 1)]
    for arr, scalar in cases:
        assert str((deepdive.tensor(arr) + scalar).dtype).split(".")[-1] == str((torch.tensor(arr) + scalar).dtype).split(".")[-1]
    a = deepdive.tensor([1, 2])
    assert (a / 2).dtype == deepdive.float32
    assert (deepdive.tensor([1, 2]) + deepdive.tensor([1.5, 2.5])).dtype == deepdive.float32
    assert (deepdive.tensor([1., 2.]) + deepdive.tensor(1., dtype=deepdive.float64)).dtype == deepdive.float32


def test_broadcast_error_names_op_and_shapes():
    with pytest.raises(RuntimeError, match=r"add: The size of tensor a \(3\) must match the size of tensor b \(4\) at non-singleton dimension 1"):
        deepdive.ones(2, 3) + deepdive.ones(4)


def test_no_numpy_warnings_where_torch_is_silent():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert deepdive.tensor([0.0]).log().item() == float("-inf")
        assert np.isnan(deepdive.tensor([-1.0]).sqrt().item())
        assert (deepdive.tensor([1.0]) / deepdive.tensor([0.0])).item() == float("inf")
