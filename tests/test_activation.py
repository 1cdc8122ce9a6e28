"""Activations: functional parity (values, dtype, gradients) in float32/float64 incl. the kinks, gradcheck,
the modules (parameters, repr) against torch, in-place variants, bad input."""
import numpy as np
import pytest

import deepdive
import deepdive.nn as nn
import deepdive.nn.functional as F
from parity import check_parity, gradcheck, require_torch
from test_layers import module_parity

rng = np.random.default_rng(0)
DTYPES = [np.float32, np.float64]

# name -> (kwargs); each is called as F.<name>(x, **kwargs) in both libraries
FUNCTIONAL = {
    "relu": {}, "relu6": {}, "leaky_relu": {}, "leaky_relu ": {"negative_slope": 0.2}, "elu": {},
    "elu ": {"alpha": 0.5}, "selu": {}, "celu": {}, "celu ": {"alpha": 2.0}, "gelu": {},
    "gelu ": {"approximate": "tanh"}, "silu": {}, "mish": {}, "sigmoid": {}, "tanh": {}, "hardtanh": {},
    "hardtanh ": {"min_val": -0.5, "max_val": 2.0}, "hardsigmoid": {}, "hardswish": {}, "softplus": {},
    "softplus ": {"beta": 2.0, "threshold": 1.0}, "softsign": {}, "tanhshrink": {}, "logsigmoid": {},
    "hardshrink": {}, "softshrink": {"lambd": 0.3}, "threshold": {"threshold": 0.1, "value": -2.0},
    "glu": {}, "glu ": {"dim": 0},
}
# Points where the piecewise definitions switch: gradients there must follow torch's convention.
KINKS = np.array([-6.0, -3.0, -2.0, -1.0, -0.5, -0.3, 0.0, 0.1, 0.3, 0.5, 1.0, 2.0, 3.0, 6.0, 25.0, -25.0])


def _call(lib_f, name, kwargs):
    return lambda x: getattr(lib_f, name.strip())(x, **kwargs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(FUNCTIONAL))
def test_functional_parity(name, dtype):
    torch = require_torch()
    kwargs = FUNCTIONAL[name]
    x = (rng.standard_normal((4, 6)) * 3).astype(dtype)
    check_parity(_call(F, name, kwargs), _call(torch.nn.functional, name, kwargs), [x])


@pytest.mark.parametrize("name", [n for n in FUNCTIONAL if not n.startswith("glu")])
def test_gradient_at_kinks_matches_torch(name):
    torch = require_torch()
    kwargs = FUNCTIONAL[name]
    check_parity(_call(F, name, kwargs), _call(torch.nn.functional, name, kwargs), [KINKS.copy()])


@pytest.mark.parametrize("name", list(FUNCTIONAL))
def test_gradcheck(name):
    x = rng.standard_normal((4, 4)) * 2
    x[np.abs(x) < 0.05] = 0.7           # keep clear of the kink at 0
    for kink in (0.5, 0.3, 3.0, 0.1, 1.0):
        x[np.abs(np.abs(x) - kink) < 0.02] += 0.1
    gradcheck(_call(F, name, FUNCTIONAL[name]), x)


def test_prelu_parity_and_gradcheck():
    torch = require_torch()
    for dtype in DTYPES:
        module_parity(nn.PReLU(), torch.nn.PReLU(), [rng.standard_normal((4, 3, 2)).astype(dtype)], dtype)
        module_parity(nn.PReLU(3, init=0.1), torch.nn.PReLU(3, init=0.1),
                      [rng.standard_normal((4, 3, 2)).astype(dtype)], dtype)
        module_parity(nn.PReLU(3), torch.nn.PReLU(3), [rng.standard_normal((5, 3)).astype(dtype)], dtype)
    gradcheck(F.prelu, rng.standard_normal((2, 3, 4)), rng.standard_normal(3))
    gradcheck(F.prelu, rng.standard_normal((2, 3)), rng.standard_normal(1))
    with pytest.raises(RuntimeError, match="mismatch of parameter numbers and input channel size"):
        F.prelu(deepdive.randn(2, 4), nn.PReLU(3).weight)


def test_softmax_modules_parity():
    torch = require_torch()
    x = rng.standard_normal((2, 3, 4))
    for dim in (0, 1, -1):
        for name in ("Softmax", "LogSoftmax", "Softmin"):
            check_parity(getattr(nn, name)(dim=dim), getattr(torch.nn, name)(dim=dim), [x])
    check_parity(nn.Softmax2d(), torch.nn.Softmax2d(), [rng.standard_normal((2, 3, 4, 5))])


MODULES = [("ReLU", ()), ("ReLU", (True,)), ("ReLU6", ()), ("LeakyReLU", ()), ("LeakyReLU", (0.2, True)),
           ("ELU", ()), ("ELU", (0.5, True)), ("SELU", ()), ("CELU", (2.0,)), ("GELU", ()), ("GELU", ("tanh",)),
           ("SiLU", ()), ("Mish", ()), ("Sigmoid", ()), ("Tanh", ()), ("Hardtanh", ()), ("Hardtanh", (-2.0, 2.0)),
           ("Hardsigmoid", ()), ("Hardswish", ()), ("Softplus", ()), ("Softplus", (2.0, 10.0)), ("Softsign", ()),
           ("Tanhshrink", ()), ("LogSigmoid", ()), ("Hardshrink", ()), ("Softshrink", (0.3,)),
           ("Threshold", (0.1, 20.0)), ("GLU", ()), ("PReLU", ()), ("Softmax", (1,)), ("LogSoftmax", (1,)),
           ("Softmin", (1,)), ("RReLU", ())]


@pytest.mark.parametrize("name,args", MODULES)
def test_module_parity_and_repr(name, args):
    torch = require_torch()
    dd, tt = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(dd) == repr(tt)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    if name == "RReLU":                    # random slopes in training; eval uses their mean
        dd.eval()
        tt.eval()
        check_parity(dd, tt, [x])
        return
    if args and args[-1] is True:          # in-place: apply to a non-leaf
        check_parity(lambda t: dd(t * 1), lambda t: tt(t * 1), [x])
        return
    module_parity(dd, tt, [x], np.float32)


@pytest.mark.parametrize("name,kwargs", [("relu6", {}), ("leaky_relu", {"negative_slope": 0.2}), ("elu", {}),
                                         ("selu", {}), ("celu", {}), ("hardtanh", {}), ("silu", {}), ("mish", {}),
                                         ("hardsigmoid", {}), ("hardswish", {}),
                                         ("threshold", {"threshold": 0.0, "value": 1.0})])
def test_inplace_writes_into_input_and_keeps_gradient(name, kwargs):
    torch = require_torch()
    x = rng.standard_normal((3, 5))

    def run(lib_f, tensor_lib):
        def fn(t):
            h = t * 1.5
            out = getattr(lib_f, name)(h, inplace=True, **kwargs)
            assert out is h
            return out
        return fn
    check_parity(run(F, deepdive), run(torch.nn.functional, torch), [x])
    leaf = deepdive.tensor(x.copy(), requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        getattr(F, name)(leaf, inplace=True, **kwargs)


def test_rrelu_training_slopes_in_range():
    deepdive.manual_seed(0)
    x = deepdive.full((1000,), -1.0, requires_grad=True)
    y = F.rrelu(x, 0.1, 0.3, training=True)
    slopes = -y._data
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and slopes.std() > 0.03
    y.sum().backward()
    np.testing.assert_allclose(x.grad._data, slopes, rtol=1e-6)


def test_extreme_inputs_stay_finite():
    x = deepdive.tensor([-1e4, -100.0, 0.0, 100.0, 1e4], requires_grad=True)
    for name in ("softplus", "logsigmoid", "mish", "silu", "elu", "selu", "celu", "gelu"):
        with np.errstate(over="raise", invalid="raise"):
            y = getattr(F, name)(x)
            y.sum().backward()
        assert np.isfinite(y._data).all() and np.isfinite(x.grad._data).all(), name
        x.grad = None


def test_bad_inputs():
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        F.gelu(deepdive.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        F.gelu(deepdive.randn(2), approximate="fast")
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        F.glu(deepdive.randn(2, 3))
    with pytest.raises(ValueError, match="max_val must be greater than min_val"):
        nn.Hardtanh(1.0, -1.0)
    with pytest.raises(TypeError, match="must be Tensor"):
        F.softsign([1.0, 2.0])


def test_torch_level_names():
    torch = require_torch()
    x = rng.standard_normal((3, 4))
    for name in ("selu", "celu", "hardshrink"):
        check_parity(getattr(deepdive, name), getattr(torch, name), [x])
    check_parity(lambda t: t.hardshrink(0.3), lambda t: t.hardshrink(0.3), [x])


def test_underscore_inplace_functions():
    torch = require_torch()
    x = rng.standard_normal((3, 4))
    for name, args in [("relu_", ()), ("elu_", (0.5,)), ("selu_", ()), ("celu_", (2.0,)), ("leaky_relu_", (0.1,)),
                       ("hardtanh_", (-0.5, 0.5)), ("threshold_", (0.1, 3.0))]:
        a, b = deepdive.tensor(x.copy()), torch.tensor(x.copy())
        assert getattr(F, name)(a, *args) is a
        getattr(torch.nn.functional, name)(b, *args)
        np.testing.assert_allclose(a._data, b.numpy(), rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gelu_blockwise_path_matches_torch_and_the_whole_array_formula(dtype):
    """Inputs larger than one cache block take the blockwise path of GELU's forward: it must give the
    whole-array formula's values bit for bit (also for a non-contiguous input and a ragged last block)
    and match torch."""
    from deepdive.ops.activation import _BLOCK, _blockwise, _gelu_parts
    torch = require_torch()
    x = (rng.standard_normal((3 * _BLOCK // 64 + 3, 128)) * 4).astype(dtype)[:, ::2]
    assert x.size > _BLOCK and x.size % _BLOCK and not x.flags.c_contiguous
    for blocked, whole in zip(_blockwise(_gelu_parts, x), _gelu_parts(x)):
        np.testing.assert_array_equal(blocked, whole)
    check_parity(F.gelu, torch.nn.functional.gelu, [x])


@pytest.mark.parametrize("numba", ["0", "1"], ids=["numpy", "numba"])
def test_gelu_float32_fit_is_within_rounding_of_the_exact_values_everywhere(numba, monkeypatch):
    """float32 GELU uses a polynomial fit of erfc: over [-12, 12] its values and gradients stay within
    1e-6 (absolute) of the float64 exact ones (PyTorch's float32 kernel is within ~1.1e-6 itself),
    the signs of +-0 and the special values are PyTorch's, and huge inputs raise no NumPy warning;
    on the NumPy path and on the [fast] extra's compiled one (DEEPDIVE_NUMBA)."""
    import warnings
    monkeypatch.setenv("DEEPDIVE_NUMBA", numba)
    torch = require_torch()
    x = np.concatenate([np.linspace(-12, 12, 40001), [0.0, -0.0, 1e30, -1e30, 1e-30, -np.inf, np.nan]])
    x32 = x.astype(np.float32)
    a = deepdive.tensor(x32, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = F.gelu(a)
        y.backward(deepdive.ones_like(y))
    xt = torch.tensor(x32.astype(np.float64), requires_grad=True)          # float64 reference
    yt = torch.nn.functional.gelu(xt)
    yt.backward(torch.ones_like(yt))
    np.testing.assert_allclose(y._data, yt.detach().numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(a.grad._data, xt.grad.numpy(), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(np.signbit(y._data[-7:-5]), [False, True])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_relu_backward_masks_bitwise_as_torch_at_special_values(dtype):
    """relu's backward keeps g where the output is non-zero (NaN included) and gives +0 at dead units even
    for g = inf / NaN, bit for bit as torch; also for a strided (non-contiguous) incoming gradient."""
    torch = require_torch()
    x = np.array([-1, 0, -0.0, 2, np.nan, -np.nan, np.inf, -np.inf, 3, -2] * 3, dtype=dtype).reshape(3, 10)
    g = np.array([1, 2, np.nan, np.inf, 5, -6, 7, np.nan, -np.inf, np.inf] * 6, dtype=dtype).reshape(3, 20)[:, ::2]
    a = deepdive.tensor(x, requires_grad=True)
    F.relu(a).backward(deepdive.tensor(g))
    b = torch.tensor(x, requires_grad=True)
    torch.relu(b).backward(torch.tensor(g))
    np.testing.assert_array_equal(a.grad._data.view(np.uint8), b.grad.numpy().view(np.uint8))
