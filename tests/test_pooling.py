"""Pooling: max / avg / adaptive, 1-D and 2-D, against PyTorch (values, indices, gradients, dtype) + gradcheck."""
import numpy as np
import pytest

import deepdive
import deepdive.nn as nn
import deepdive.nn.functional as F
from parity import check_parity, gradcheck, require_torch

rng = np.random.default_rng(1)
DTYPES = [np.float64, np.float32]


def _tf():
    return require_torch().nn.functional


MAX2D = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=(3, 2), stride=(2, 1),
         dilation=(2, 1), padding=(1, 1)), dict(kernel_size=3, stride=2, ceil_mode=True),
         dict(kernel_size=2, ceil_mode=True, padding=1), dict(kernel_size=(1, 3), stride=1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", MAX2D, ids=str)
def test_max_pool2d_parity(case, dtype):
    x = rng.standard_normal((2, 3, 7, 9)).astype(dtype)
    check_parity(lambda a: F.max_pool2d(a, **case, return_indices=True),
                 lambda a: _tf().max_pool2d(a, **case, return_indices=True), [x])
    check_parity(lambda a: F.max_pool2d(a[1], **case), lambda a: _tf().max_pool2d(a[1], **case), [x])  # unbatched


def test_max_pool2d_ties_take_first_maximum():
    """Equal values in a window: PyTorch routes the gradient to the first one only."""
    x = np.array([[[[1.0, 1.0, 0.0], [1.0, 1.0, 2.0], [2.0, 2.0, 2.0]]]])
    check_parity(lambda a: F.max_pool2d(a, 2, 1, return_indices=True),
                 lambda a: _tf().max_pool2d(a, 2, 1, return_indices=True), [x])
    x = np.zeros((1, 2, 4, 4), dtype=np.float32)
    check_parity(lambda a: F.max_pool2d(a, 3, 2, padding=1), lambda a: _tf().max_pool2d(a, 3, 2, padding=1), [x])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                  dict(kernel_size=3, dilation=2, padding=1)], ids=str)
def test_max_pool1d_parity(case, dtype):
    x = rng.standard_normal((2, 3, 11)).astype(dtype)
    check_parity(lambda a: F.max_pool1d(a, **case, return_indices=True),
                 lambda a: _tf().max_pool1d(a, **case, return_indices=True), [x])


AVG2D = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=(3, 2), stride=(2, 1),
         padding=(1, 1)), dict(kernel_size=3, stride=2, ceil_mode=True), dict(kernel_size=2, ceil_mode=True,
         padding=1), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("case", AVG2D, ids=str)
def test_avg_pool2d_parity(case, count_include_pad, dtype):
    x = rng.standard_normal((2, 3, 7, 8)).astype(dtype)
    check_parity(lambda a: F.avg_pool2d(a, **case, count_include_pad=count_include_pad),
                 lambda a: _tf().avg_pool2d(a, **case, count_include_pad=count_include_pad), [x])


def test_avg_pool2d_divisor_override_and_1d():
    x = rng.standard_normal((2, 3, 7, 8))
    check_parity(lambda a: F.avg_pool2d(a, 3, padding=1, divisor_override=2),
                 lambda a: _tf().avg_pool2d(a, 3, padding=1, divisor_override=2), [x])
    x1 = rng.standard_normal((2, 3, 11)).astype(np.float32)
    for case in [dict(kernel_size=2),
                 dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)]:
        check_parity(lambda a: F.avg_pool1d(a, **case), lambda a: _tf().avg_pool1d(a, **case), [x1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [(3, 4), 1, (5, None), (7, 9), (4, 2), (10, 3)], ids=str)
def test_adaptive_pool2d_parity(size, dtype):
    x = rng.standard_normal((2, 3, 7, 9)).astype(dtype)
    check_parity(lambda a: F.adaptive_avg_pool2d(a, size), lambda a: _tf().adaptive_avg_pool2d(a, size), [x])
    check_parity(lambda a: F.adaptive_max_pool2d(a, size, True), lambda a: _tf().adaptive_max_pool2d(a, size, True),
                 [x])


def test_adaptive_pool1d_parity():
    x = rng.standard_normal((2, 3, 11)).astype(np.float32)
    for size in (4, 1, 11):
        check_parity(lambda a: F.adaptive_avg_pool1d(a, size), lambda a: _tf().adaptive_avg_pool1d(a, size), [x])
        check_parity(lambda a: F.adaptive_max_pool1d(a, size, True),
                     lambda a: _tf().adaptive_max_pool1d(a, size, True), [x])


@pytest.mark.parametrize("fn", [lambda a: F.max_pool2d(a, 2, 1, padding=1),
                                lambda a: F.avg_pool2d(a, 3, 2, 1, True, False),
                                lambda a: F.adaptive_avg_pool2d(a, (2, 3)), lambda a: F.adaptive_max_pool2d(a, 2),
                                lambda a: F.max_pool1d(a[0], 3, 2, ceil_mode=True)])
def test_pooling_gradcheck(fn):
    gradcheck(fn, rng.permutation(40).reshape(1, 2, 4, 5) * 0.1)   # distinct values: max is differentiable


LAYERS = [("MaxPool2d", (3,), dict(stride=2, padding=1, ceil_mode=True)), ("MaxPool1d", (2,), {}),
          ("AvgPool2d", (3,), dict(stride=1, padding=1, count_include_pad=False)), ("AvgPool1d", (3,), dict(stride=2)),
          ("AdaptiveAvgPool2d", ((2, 3),), {}), ("AdaptiveAvgPool1d", (4,), {}), ("AdaptiveMaxPool2d", (3,), {}),
          ("AdaptiveMaxPool1d", (3,), {}), ("MaxPool2d", (2,), dict(return_indices=True))]


@pytest.mark.parametrize("name,args,kwargs", LAYERS, ids=str)
def test_pool_layers_match_torch(name, args, kwargs):
    t = require_torch()
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(t.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    x = rng.standard_normal((2, 3, 8, 9) if "2d" in name else (2, 3, 9)).astype(np.float32)
    out = check_parity(ours, theirs, [x])
    assert out[0].dtype == deepdive.float32


def test_pooling_errors():
    with pytest.raises(RuntimeError, match=r"Given input size: \(3x2x2\). Calculated output size: \(3x0x0\). "
                                           "Output size is too small"):
        F.max_pool2d(deepdive.randn(2, 3, 2, 2), 3)
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size, but got pad=2, "
                                           "kernel_size=2 and dilation=1"):
        F.max_pool2d(deepdive.randn(2, 3, 4, 4), 2, padding=2)
    with pytest.raises(RuntimeError, match="pad should be at most half of kernel size"):
        nn.AvgPool2d(2, padding=2)(deepdive.randn(1, 1, 6, 6))
    with pytest.raises(RuntimeError, match=r"Expected 3D or 4D \(batch mode\) tensor for input"):
        nn.MaxPool2d(2)(deepdive.randn(4, 4))


def test_max_pool_nan_propagates_like_torch():
    """PyTorch's scan takes NaN as the max (the last NaN of a window wins the index)."""
    x = rng.standard_normal((1, 2, 6, 6))
    x[0, 0, 1, 1] = x[0, 0, 0, 1] = x[0, 1, 4, 3] = np.nan
    for case in [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1)]:
        ours = F.max_pool2d(deepdive.tensor(x), **case, return_indices=True)
        theirs = _tf().max_pool2d(require_torch().tensor(x), **case, return_indices=True)
        np.testing.assert_array_equal(ours[0].numpy(), theirs[0].numpy())
        np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())


def test_max_pool_integer_input():
    x = rng.integers(-5, 5, (1, 1, 5, 5))
    t = require_torch()
    np.testing.assert_array_equal(F.max_pool2d(deepdive.tensor(x), 2, padding=1).numpy(),
                                  _tf().max_pool2d(t.tensor(x).double(), 2, padding=1).long().numpy())


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_unpool_parity(dtype):
    """max_unpool puts pooled values back at their argmax positions; gradients flow back through them."""
    t = require_torch()
    x = rng.standard_normal((2, 3, 6, 7)).astype(dtype)
    values, indices = _tf().max_pool2d(t.tensor(x), 2, return_indices=True)
    idx = indices.numpy()
    check_parity(lambda v: F.max_unpool2d(v, deepdive.tensor(idx), 2, output_size=(6, 7)),
                 lambda v: _tf().max_unpool2d(v, t.tensor(idx), 2, output_size=(6, 7)), [values.detach().numpy()])
    x1 = rng.standard_normal((2, 3, 9)).astype(dtype)
    v1, i1 = _tf().max_pool1d(t.tensor(x1), 3, 2, return_indices=True)
    check_parity(lambda v: nn.MaxUnpool1d(3, 2)(v, deepdive.tensor(i1.numpy())),
                 lambda v: t.nn.MaxUnpool1d(3, 2)(v, i1), [v1.detach().numpy()])
    assert repr(nn.MaxUnpool2d(2)) == repr(t.nn.MaxUnpool2d(2))


def test_max_unpool_roundtrip_and_errors():
    x = deepdive.randn(1, 2, 4, 4)
    pooled, indices = nn.MaxPool2d(2, return_indices=True)(x)
    restored = nn.MaxUnpool2d(2)(pooled, indices)
    kept = restored.numpy() != 0
    assert kept.sum() == 8 and np.array_equal(restored.numpy()[kept], x.numpy()[kept])
    gradcheck(lambda v: F.max_unpool2d(v, indices, 2), pooled.numpy().astype(np.float64))
    with pytest.raises(RuntimeError, match="Found an invalid max index"):
        F.max_unpool2d(pooled, indices + 100, 2)


@pytest.mark.parametrize("seed", range(12))
def test_pooling_random_sweep(seed):
    """Seeded random max/avg pooling configurations (kernel, stride, padding <= k/2, dilation, ceil_mode)."""
    r = np.random.default_rng(200 + seed)
    k = (int(r.integers(1, 4)), int(r.integers(1, 4)))
    d = (int(r.integers(1, 3)), int(r.integers(1, 3)))
    s = (int(r.integers(1, 4)), int(r.integers(1, 4)))
    p = (int(r.integers(0, k[0] // 2 + 1)), int(r.integers(0, k[1] // 2 + 1)))
    ceil = bool(r.integers(0, 2))
    x = r.standard_normal((2, 2, int(r.integers(d[0] * (k[0] - 1) + 1, 9)), int(r.integers(d[1] * (k[1] - 1) + 1, 20))))
    margs = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil, return_indices=True)
    check_parity(lambda a: F.max_pool2d(a, **margs), lambda a: _tf().max_pool2d(a, **margs), [x])
    aargs = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil, count_include_pad=bool(r.integers(0, 2)))
    check_parity(lambda a: F.avg_pool2d(a, **aargs), lambda a: _tf().avg_pool2d(a, **aargs), [x])


def test_empty_batch():
    """N = 0 runs forward and backward with the right shapes, as in PyTorch."""
    x = deepdive.randn(0, 3, 8, 8, requires_grad=True)
    cases = [(lambda a: F.max_pool2d(a, 2), (0, 3, 4, 4)), (lambda a: F.avg_pool2d(a, 3, 1, 1), (0, 3, 8, 8)),
             (lambda a: F.adaptive_max_pool2d(a, 3), (0, 3, 3, 3)), (lambda a: F.interpolate(a, size=5), (0, 3, 5, 5)),
             (lambda a: nn.Conv2d(3, 4, 3)(a), (0, 4, 6, 6)), (lambda a: nn.ConvTranspose2d(3, 2, 3)(a), (0, 2, 10, 10)),
             (lambda a: F.fold(F.unfold(a, 2), (8, 8), 2), (0, 3, 8, 8))]
    for fn, shape in cases:
        out = fn(x)
        assert tuple(out.shape) == shape
        out.sum().backward()
        assert tuple(x.grad.shape) == (0, 3, 8, 8)
        x.grad = None
    pooled, indices = F.max_pool2d(x, 2, return_indices=True)
    assert tuple(F.max_unpool2d(pooled, indices, 2).shape) == (0, 3, 8, 8)
