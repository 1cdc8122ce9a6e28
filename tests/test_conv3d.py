"""Conv3d, ConvTranspose3d, MaxPool3d, AvgPool3d, AdaptiveAvgPool3d, AdaptiveMaxPool3d, MaxUnpool3d (+ F. forms):
PyTorch parity (values, gradients, dtypes) and gradcheck."""
import numpy as np
import pytest

import deepdive
from parity import check_parity, gradcheck, require_torch, assert_close

rng = np.random.default_rng(0)

CONV_CASES = [dict(), dict(padding=1), dict(stride=2, padding=(1, 0, 1)), dict(dilation=(2, 1, 1), padding=1),
              dict(groups=2, padding=1), dict(padding="same"), dict(stride=(1, 2, 1), padding="valid")]


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv3d_parity(case, dtype):
    torch = require_torch()
    g = case.get("groups", 1)
    x = rng.standard_normal((2, 4, 5, 6, 4)).astype(dtype)
    w = rng.standard_normal((6, 4 // g, 3, 2, 3)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    check_parity(lambda *a: deepdive.nn.functional.conv3d(*a, **case), lambda *a: torch.nn.functional.conv3d(*a, **case),
                 [x, w, b])


def test_conv3d_gradcheck_and_unbatched():
    torch = require_torch()
    x, w, b = rng.standard_normal((1, 2, 3, 4, 3)), rng.standard_normal((2, 2, 2, 2, 2)), rng.standard_normal(2)
    gradcheck(lambda *a: deepdive.conv3d(*a, stride=(1, 2, 1), padding=1), x, w, b)
    check_parity(deepdive.conv3d, torch.conv3d, [x[0], w, b])


TRANSPOSE_CASES = [dict(), dict(stride=2), dict(stride=2, padding=1, output_padding=1), dict(groups=2, dilation=2)]


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=str)
def test_conv_transpose3d_parity_and_gradcheck(case):
    torch = require_torch()
    g = case.get("groups", 1)
    x = rng.standard_normal((2, 4, 3, 4, 3))
    w = rng.standard_normal((4, 6 // g, 3, 2, 2))
    b = rng.standard_normal(6)
    check_parity(lambda *a: deepdive.nn.functional.conv_transpose3d(*a, **case),
                 lambda *a: torch.nn.functional.conv_transpose3d(*a, **case), [x, w, b])
    gradcheck(lambda *a: deepdive.conv_transpose3d(*a, **case), x[:1, :, :2], w[:, :, :2], b)


def test_conv3d_modules_copy_weights_into_torch_twin():
    torch = require_torch()
    for name, args, kwargs in [("Conv3d", (3, 4, 3), dict(padding=1, stride=2)),
                               ("Conv3d", (4, 4, (1, 3, 3)), dict(groups=4, bias=False)),
                               ("Conv3d", (2, 3, 3), dict(padding=1, padding_mode="reflect")),
                               ("ConvTranspose3d", (3, 2, 2), dict(stride=2))]:
        mine, theirs = getattr(deepdive.nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
        assert repr(mine) == repr(theirs)
        assert mine.weight.shape == tuple(theirs.weight.shape)
        mine.load_state_dict(theirs.state_dict())
        x = rng.standard_normal((2, args[0], 4, 5, 4)).astype(np.float32)
        check_parity(lambda a: mine(a), lambda a: theirs(a), [x])
        for p, q in zip(mine.parameters(), theirs.parameters()):
            assert_close(p.grad, q.grad, what=f"{name} parameter grad")


POOL_CASES = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=(2, 3, 2), stride=1),
              dict(kernel_size=3, stride=2, ceil_mode=True), dict(kernel_size=2, dilation=2, stride=1)]


@pytest.mark.parametrize("case", POOL_CASES, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool3d(case, dtype):
    torch = require_torch()
    x = rng.standard_normal((2, 3, 5, 6, 7)).astype(dtype)
    check_parity(lambda a: tuple(deepdive.nn.functional.max_pool3d(a, **case, return_indices=True)),
                 lambda a: tuple(torch.nn.functional.max_pool3d(a, **case, return_indices=True)), [x])
    kwargs = {k: v for k, v in case.items() if k != "kernel_size"}
    check_parity(lambda a: deepdive.nn.MaxPool3d(case["kernel_size"], **kwargs)(a),
                 lambda a: torch.nn.MaxPool3d(case["kernel_size"], **kwargs)(a), [x[0]])


@pytest.mark.parametrize("case", [c for c in POOL_CASES if "dilation" not in c] +
                         [dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
                          dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                          dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
                          dict(kernel_size=2, divisor_override=3)], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_avg_pool3d(case, dtype):
    torch = require_torch()
    x = rng.standard_normal((2, 3, 5, 6, 7)).astype(dtype)
    check_parity(lambda a: deepdive.nn.functional.avg_pool3d(a, **case),
                 lambda a: torch.nn.functional.avg_pool3d(a, **case), [x])
    kwargs = {k: v for k, v in case.items() if k != "kernel_size"}
    check_parity(lambda a: deepdive.nn.AvgPool3d(case["kernel_size"], **kwargs)(a),
                 lambda a: torch.nn.AvgPool3d(case["kernel_size"], **kwargs)(a), [x[0]])
    if dtype == np.float64:
        gradcheck(lambda a: deepdive.avg_pool3d(a, **case), x[:1, :1])


@pytest.mark.parametrize("size", [1, 2, (3, 2, 4), (None, 1, 5)])
def test_adaptive_avg_pool3d(size):
    torch = require_torch()
    x = rng.standard_normal((2, 3, 5, 6, 7)).astype(np.float32)
    check_parity(lambda a: deepdive.nn.functional.adaptive_avg_pool3d(a, size),
                 lambda a: torch.nn.functional.adaptive_avg_pool3d(a, size), [x])
    check_parity(lambda a: deepdive.nn.AdaptiveAvgPool3d(size)(a), lambda a: torch.nn.AdaptiveAvgPool3d(size)(a), [x[0]])
    assert repr(deepdive.nn.AdaptiveAvgPool3d(size)) == repr(torch.nn.AdaptiveAvgPool3d(size))


def test_pool3d_reprs_and_errors():
    torch = require_torch()
    assert repr(deepdive.nn.MaxPool3d(3, 2, 1)) == repr(torch.nn.MaxPool3d(3, 2, 1))
    assert repr(deepdive.nn.AvgPool3d(2)) == repr(torch.nn.AvgPool3d(2))
    with pytest.raises(RuntimeError, match="Expected 4D or 5D"):
        deepdive.max_pool3d(deepdive.ones(2, 3, 4), 2)
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size"):
        deepdive.max_pool3d(deepdive.ones(1, 1, 4, 4, 4), 2, padding=2)
    with pytest.raises(RuntimeError, match="Expected 4D \\(unbatched\\) or 5D \\(batched\\) input to conv3d"):
        deepdive.conv3d(deepdive.ones(1, 4, 4), deepdive.ones(1, 1, 2, 2, 2))


@pytest.mark.parametrize("op", ["conv3d", "conv_transpose3d"])
@pytest.mark.parametrize("bad", [dict(stride=0), dict(dilation=0), dict(padding=-1)], ids=str)
def test_conv3d_bad_steps_name_the_op(op, bad):
    x, w = deepdive.ones(1, 2, 4, 4, 4), deepdive.ones(2, 2, 2, 2, 2)
    with pytest.raises(RuntimeError, match=f"{op}: (stride and dilation should be positive|negative padding)"):
        getattr(deepdive, op)(x, w, **bad)


@pytest.mark.parametrize("size", [(2, 3, 2), 2, (None, 1, 3), (5, 4, 3), (3, 2, 2)], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adaptive_max_pool3d(size, dtype):
    torch = require_torch()
    x = rng.standard_normal((2, 3, 5, 4, 3)).astype(dtype)
    check_parity(lambda a: tuple(deepdive.nn.functional.adaptive_max_pool3d(a, size, return_indices=True)),
                 lambda a: tuple(torch.nn.functional.adaptive_max_pool3d(a, size, return_indices=True)), [x])
    check_parity(lambda a: deepdive.nn.AdaptiveMaxPool3d(size)(a), lambda a: torch.nn.AdaptiveMaxPool3d(size)(a),
                 [x[0]])
    if dtype == np.float64:
        gradcheck(lambda a: deepdive.nn.functional.adaptive_max_pool3d(a, size), x[:1, :1])


def test_adaptive_max_pool3d_ties_and_errors():
    """Ties pick the first maximum in (d, h, w) order, as torch's scan does; bad ranks name the op."""
    torch = require_torch()
    x = rng.integers(-2, 3, (2, 3, 5, 4, 3)).astype(np.float64)
    check_parity(lambda a: tuple(deepdive.nn.functional.adaptive_max_pool3d(a, (2, 3, 2), return_indices=True)),
                 lambda a: tuple(torch.nn.functional.adaptive_max_pool3d(a, (2, 3, 2), return_indices=True)), [x])
    with pytest.raises(RuntimeError, match=r"adaptive_max_pool3d\(\): Expected 4D or 5D tensor"):
        deepdive.nn.functional.adaptive_max_pool3d(deepdive.ones(2, 3), 2)


@pytest.mark.parametrize("shape, case", [((1, 2, 4, 5, 4), dict()), ((2, 4, 4, 5), dict(stride=(2, 2, 3))),
                                         ((1, 1, 5, 4, 6), dict(stride=2, padding=1))], ids=str)
def test_max_unpool3d(shape, case):
    """max_unpool3d(max_pool3d(x)) puts the maxima back (output_size = x's volume), module form too."""
    torch = require_torch()
    x = rng.standard_normal(shape)

    def roundtrip(nn):
        def f(a):
            values, indices = nn.functional.max_pool3d(a, 2, return_indices=True, **case)
            return nn.MaxUnpool3d(2, **case)(values * 2, indices, output_size=a.shape[-3:])
        return f
    check_parity(roundtrip(deepdive.nn), roundtrip(torch.nn), [x])
    gradcheck(roundtrip(deepdive.nn), x)
    assert repr(deepdive.nn.MaxUnpool3d(2, **case)) == repr(torch.nn.MaxUnpool3d(2, **case))
