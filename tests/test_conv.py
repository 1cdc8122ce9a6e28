"""Convolutions, unfold/fold and F.pad: gradcheck + PyTorch parity (values, every gradient, dtype),
the layers against their torch twins, and PyTorch's error messages."""
import itertools

import numpy as np
import pytest

import deepdive
import deepdive.nn as nn
import deepdive.nn.functional as F
from parity import check_parity, gradcheck, require_torch, assert_close

rng = np.random.default_rng(0)
DTYPES = [np.float64, np.float32]


def _tf():
    return require_torch().nn.functional


# ---------------------------------------------------------------- conv2d
CONV2D_CASES = [
    dict(),
    dict(stride=2, padding=1),
    dict(stride=(2, 1), padding=(0, 2), dilation=(1, 2)),
    dict(padding="same"),
    dict(padding="same", dilation=2),                 # even effective kernel: PyTorch pads the extra at the end
    dict(padding="valid", stride=3),
    dict(groups=2, padding=1),
    dict(groups=4, stride=2, padding=1),              # depthwise (C_in = groups)
    dict(groups=2, dilation=(2, 1), stride=(1, 2), padding=(2, 0)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV2D_CASES, ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_parity(case, dtype, bias):
    groups = case.get("groups", 1)
    x = rng.standard_normal((2, 4, 7, 6)).astype(dtype)          # odd sizes on purpose
    w = rng.standard_normal((6 if groups != 4 else 8, 4 // groups, 3, 2)).astype(dtype)
    b = rng.standard_normal(w.shape[0]).astype(dtype)
    if bias:
        check_parity(lambda a, k, c: F.conv2d(a, k, c, **case), lambda a, k, c: _tf().conv2d(a, k, c, **case),
                     [x, w, b])
    else:
        check_parity(lambda a, k: F.conv2d(a, k, **case), lambda a, k: _tf().conv2d(a, k, **case), [x, w])


@pytest.mark.parametrize("case", [dict(padding=1), dict(groups=3, stride=(1, 2), dilation=2, padding=(0, 3))], ids=str)
def test_conv2d_wide_outputs(case):
    """Outputs at least 16 wide take the (n, y, x) column order (narrow ones go batch-last): both are checked."""
    g = case.get("groups", 1)
    x = rng.standard_normal((2, 3, 5, 37))
    w, b = rng.standard_normal((6, 3 // g, 3, 3)), rng.standard_normal(6)
    out = check_parity(lambda a, k, c: F.conv2d(a, k, c, **case), lambda a, k, c: _tf().conv2d(a, k, c, **case),
                       [x, w, b])
    assert out[0].shape[-1] >= 16
    check_parity(lambda a, k: F.conv1d(a, k, padding=2), lambda a, k: _tf().conv1d(a, k, padding=2),
                 [x[:, :, 0].astype(np.float32), rng.standard_normal((4, 3, 5)).astype(np.float32)])


@pytest.mark.parametrize("case", [dict(), dict(groups=2, padding=1)], ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_many_columns_take_the_blocked_gemms(case, dtype):
    """More than 2 * GEMM_COLUMNS output positions (batch x height x width): the forward, dx and dW
    products run over column blocks (a ragged last one here), narrow and wide outputs alike; an empty
    batch still gives dW = 0."""
    from deepdive.ops.conv import GEMM_COLUMNS
    g = case.get("groups", 1)
    for shape in [(9, 4, 33, 33), (70, 4, 14, 14)]:               # wide (n, y, x) and narrow batch-last columns
        x = rng.standard_normal(shape).astype(dtype)
        w, b = rng.standard_normal((6, 4 // g, 3, 3)).astype(dtype), rng.standard_normal(6).astype(dtype)
        # float32: dW sums ~10^4 products of size ~10^2 (in another order than torch's): rounding ~1e-4 of it
        tol = dict(rtol=1e-4, atol=1e-3) if dtype == np.float32 else {}
        out = check_parity(lambda a, k, c: F.conv2d(a, k, c, **case), lambda a, k, c: _tf().conv2d(a, k, c, **case),
                           [x, w, b], **tol)
        n, _, oh, ow = out[0].shape
        assert n * oh * ow > 2 * GEMM_COLUMNS and (n * oh * ow) % GEMM_COLUMNS
    if g > 1:
        return                  # NOTE: an empty batch with groups > 1 fails in GroupedConvolution (not this path)
    k = deepdive.tensor(rng.standard_normal((6, 4 // g, 3, 3)).astype(dtype), requires_grad=True)
    F.conv2d(deepdive.zeros((0, 4, 8, 8), dtype=deepdive.float32 if dtype == np.float32 else deepdive.float64), k,
             **case).sum().backward()
    assert k.grad.shape == k.shape and not k.grad._data.any()


def test_conv2d_unbatched_and_1x1():
    x = rng.standard_normal((3, 5, 5))
    w = rng.standard_normal((2, 3, 1, 1))
    out = check_parity(lambda a, k: F.conv2d(a, k), lambda a, k: _tf().conv2d(a, k), [x, w])
    assert tuple(out[0].shape) == (2, 5, 5)


def test_conv2d_only_weight_needs_grad():
    """The first layer of a network: the input needs no gradient (col2im is skipped)."""
    x = rng.standard_normal((2, 1, 6, 6)).astype(np.float32)
    w = rng.standard_normal((3, 1, 3, 3)).astype(np.float32)
    check_parity(lambda a, k: F.conv2d(a, k, padding=1), lambda a, k: _tf().conv2d(a, k, padding=1),
                 [(x, False), (w, True)])


@pytest.mark.parametrize("case", [dict(stride=2, padding=1), dict(groups=2, dilation=2, padding="same")], ids=str)
def test_conv2d_gradcheck(case):
    x, w, b = rng.standard_normal((1, 2, 5, 4)), rng.standard_normal((4, 2 // case.get("groups", 1), 3, 3)), \
        rng.standard_normal(4)
    gradcheck(lambda a, k, c: F.conv2d(a, k, c, **case), x, w, b)


# ---------------------------------------------------------------- conv1d
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [dict(), dict(stride=2, padding=2), dict(padding="same", dilation=3),
                                  dict(groups=3, padding=1), dict(groups=3, stride=2, dilation=2)], ids=str)
def test_conv1d_parity(case, dtype):
    g = case.get("groups", 1)
    x = rng.standard_normal((2, 3, 11)).astype(dtype)
    w = rng.standard_normal((6, 3 // g, 3)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    check_parity(lambda a, k, c: F.conv1d(a, k, c, **case), lambda a, k, c: _tf().conv1d(a, k, c, **case), [x, w, b])
    check_parity(lambda a, k, c: F.conv1d(a[0], k, c, **case), lambda a, k, c: _tf().conv1d(a[0], k, c, **case),
                 [x, w, b])


def test_conv1d_gradcheck():
    gradcheck(lambda a, k, c: F.conv1d(a, k, c, stride=2, padding=1), rng.standard_normal((2, 2, 7)),
              rng.standard_normal((3, 2, 3)), rng.standard_normal(3))


# ---------------------------------------------------------------- transposed
CONVT_CASES = [
    dict(),
    dict(stride=2),
    dict(stride=2, padding=1, output_padding=1),
    dict(stride=(3, 2), padding=(1, 0), output_padding=(2, 1)),
    dict(dilation=2, padding=2),
    dict(groups=2, stride=2, output_padding=1, dilation=(1, 2)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONVT_CASES, ids=str)
def test_conv_transpose2d_parity(case, dtype):
    g = case.get("groups", 1)
    x = rng.standard_normal((2, 4, 5, 4)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 2)).astype(dtype)
    b = rng.standard_normal(3 * g).astype(dtype)
    check_parity(lambda a, k, c: F.conv_transpose2d(a, k, c, **case),
                 lambda a, k, c: _tf().conv_transpose2d(a, k, c, **case), [x, w, b])


def test_conv_transpose1d_parity_and_gradcheck():
    x, w, b = rng.standard_normal((2, 2, 6)), rng.standard_normal((2, 3, 4)), rng.standard_normal(3)
    case = dict(stride=3, padding=1, output_padding=2)
    check_parity(lambda a, k, c: F.conv_transpose1d(a, k, c, **case),
                 lambda a, k, c: _tf().conv_transpose1d(a, k, c, **case), [x, w, b])
    gradcheck(lambda a, k, c: F.conv_transpose2d(a, k, c, stride=2, padding=1, output_padding=1),
              rng.standard_normal((1, 2, 3, 3)), rng.standard_normal((2, 2, 3, 3)), rng.standard_normal(2))


def test_conv_transpose_is_adjoint_of_conv():
    """<conv(x), y> = <x, conv_transpose(y)> for the same weight: the defining property."""
    x, w = rng.standard_normal((2, 3, 8, 7)), rng.standard_normal((4, 3, 3, 3))
    y = F.conv2d(deepdive.tensor(x), deepdive.tensor(w), stride=2, padding=1)
    r = rng.standard_normal(tuple(y.shape))
    back = F.conv_transpose2d(deepdive.tensor(r), deepdive.tensor(w), stride=2, padding=1, output_padding=(1, 0))
    assert tuple(back.shape) == x.shape
    np.testing.assert_allclose(np.sum(y.numpy() * r), np.sum(x * back.numpy()), rtol=1e-10)


# ---------------------------------------------------------------- unfold / fold
@pytest.mark.parametrize("case", [dict(kernel_size=2),
                                  dict(kernel_size=(2, 3), stride=(1, 2), padding=1, dilation=(2, 1)),
                                  dict(kernel_size=3, stride=2, padding=1)], ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_unfold_fold_parity(case, dtype):
    x = rng.standard_normal((2, 3, 5, 6)).astype(dtype)
    check_parity(lambda a: F.unfold(a, **case), lambda a: _tf().unfold(a, **case), [x])
    cols = _tf().unfold(require_torch().tensor(x), **case).numpy()
    check_parity(lambda a: F.fold(a, (5, 6), **case), lambda a: _tf().fold(a, (5, 6), **case), [cols])
    m = nn.Unfold(**case)
    assert_close(m(deepdive.tensor(x)), _tf().unfold(require_torch().tensor(x), **case))


def test_unfold_fold_gradcheck():
    gradcheck(lambda a: F.unfold(a, 2, padding=1, stride=2), rng.standard_normal((1, 2, 3, 3)))
    gradcheck(lambda a: F.fold(a, (4, 4), 3, padding=1, stride=2), rng.standard_normal((1, 18, 4)))


def test_fold_bad_block_count():
    with pytest.raises(RuntimeError, match="sliding blocks"):
        F.fold(deepdive.randn(1, 12, 5), (4, 4), 2)


# ---------------------------------------------------------------- F.pad
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pad", [(1, 2), (1, 2, 3, 0), (0, 1, 2, 1, 1, 1), (-1, 2, 1, -2)])
def test_constant_pad_parity(pad, dtype):
    x = rng.standard_normal((2, 3, 5, 6)).astype(dtype)
    check_parity(lambda a: F.pad(a, pad, value=1.5), lambda a: _tf().pad(a, pad, value=1.5), [x])


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", [(1, 2, 3, 0), (4, 1, 2, 2), (2, 2)])
def test_nonconstant_pad_parity(mode, pad):
    x = rng.standard_normal((2, 3, 5, 6) if len(pad) == 4 else (2, 3, 6))
    check_parity(lambda a: F.pad(a, pad, mode=mode), lambda a: _tf().pad(a, pad, mode=mode), [x])
    check_parity(lambda a: F.pad(a, pad, mode=mode), lambda a: _tf().pad(a, pad, mode=mode), [x[0]])  # unbatched


def test_pad_gradcheck_and_errors():
    gradcheck(lambda a: F.pad(a, (2, 1, 1, 2), mode="reflect"), rng.standard_normal((1, 1, 3, 4)))
    with pytest.raises(RuntimeError, match="Padding size should be less than the corresponding input dimension"):
        F.pad(deepdive.randn(2, 3, 4), (5, 5), mode="reflect")
    with pytest.raises(NotImplementedError, match="Padding size 2 is not supported for 4D input"):
        F.pad(deepdive.randn(2, 3, 4, 4), (1, 1), mode="replicate")


@pytest.mark.parametrize("name,args", [("ZeroPad2d", (2,)), ("ConstantPad1d", ((1, 2), 3.0)),
                                       ("ReflectionPad2d", ((1, 0, 2, 1),)),
                                       ("ReplicationPad1d", (2,)), ("CircularPad2d", (1,))])
def test_padding_layers(name, args):
    t = require_torch()
    x = rng.standard_normal((2, 3, 4, 5) if "2d" in name else (2, 3, 5)).astype(np.float32)
    ours, theirs = getattr(nn, name)(*args), getattr(t.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    check_parity(ours, theirs, [x])


# ---------------------------------------------------------------- layers vs torch twins
def _copy_params(ours, theirs):
    t = require_torch()
    with t.no_grad():
        for name, p in theirs.named_parameters():
            getattr(ours, name)._data[...] = p.detach().numpy()


LAYERS = [
    ("Conv2d", (3, 6, 3), dict(padding=1)),
    ("Conv2d", (4, 8, (3, 2)), dict(stride=2, groups=2, bias=False, dilation=(1, 2))),
    ("Conv2d", (4, 4, 3), dict(groups=4, padding="same")),
    ("Conv2d", (3, 5, 3), dict(padding=2, padding_mode="reflect")),
    ("Conv2d", (3, 5, 3), dict(padding="same", padding_mode="circular")),
    ("Conv2d", (3, 5, 2), dict(padding=1, padding_mode="replicate", stride=2)),
    ("Conv1d", (3, 4, 5), dict(stride=2, padding=2)),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2)),
    ("ConvTranspose1d", (3, 2, 4), dict(stride=2)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,args,kwargs", LAYERS, ids=lambda v: str(v))
def test_conv_layers_match_torch(name, args, kwargs, dtype):
    t = require_torch()
    deepdive.manual_seed(0)
    ours = getattr(nn, name)(*args, **kwargs)
    theirs = getattr(t.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    if dtype == np.float64:
        ours, theirs = ours.double(), theirs.double()
    _copy_params(ours, theirs)
    spatial = (9, 8) if "2d" in name else (9,)
    x = rng.standard_normal((2, args[0]) + spatial).astype(dtype)
    out = check_parity(ours, theirs, [x])
    assert out[0].dtype == (deepdive.float64 if dtype == np.float64 else deepdive.float32)
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):   # weight and bias gradients
        assert_close(p.grad, q.grad, what=f"grad of {n}")


def test_conv2d_init_statistics():
    """kaiming_uniform(a=sqrt(5)): weight and bias in U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = C/g * kh * kw."""
    deepdive.manual_seed(0)
    conv = nn.Conv2d(16, 32, 3, groups=2)
    bound = 1 / np.sqrt(8 * 9)
    w, b = conv.weight.detach().numpy(), conv.bias.detach().numpy()
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.05 * bound
    assert np.abs(b).max() <= bound
    convt = nn.ConvTranspose2d(4, 6, 3)            # weight (4, 6, 3, 3): fan_in = 6 * 9
    assert np.abs(convt.weight.detach().numpy()).max() <= 1 / np.sqrt(54)


def test_conv_transpose_output_size_argument():
    t = require_torch()
    ours, theirs = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1), t.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    _copy_params(ours, theirs)
    x = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
    out = ours(deepdive.tensor(x), output_size=(8, 8))
    assert tuple(out.shape) == (1, 3, 8, 8)
    assert_close(out, theirs(t.tensor(x), output_size=(8, 8)))
    with pytest.raises(ValueError, match="valid sizes range from 7 to 8"):
        ours(deepdive.tensor(x), output_size=(10, 10))


# ---------------------------------------------------------------- errors
def test_wrong_channel_count_message():
    x, w = deepdive.randn(2, 4, 8, 8), deepdive.randn(8, 3, 3, 3)
    with pytest.raises(RuntimeError) as err:
        F.conv2d(x, w)
    assert str(err.value) == ("conv2d: Given groups=1, weight of size [8, 3, 3, 3], expected input[2, 4, 8, 8] to have 3 "
                              "channels, but got 4 channels instead")
    with pytest.raises(RuntimeError, match=r"expected input\[2, 4, 8, 8\] to have 3 channels"):
        nn.Conv2d(3, 8, 3)(x)


def test_input_rank_and_kernel_size_errors():
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d, "
                                           r"but got input "
                                           r"of size: \[2, 3\]"):
        F.conv2d(deepdive.randn(2, 3), deepdive.randn(8, 3, 3, 3))
    with pytest.raises(RuntimeError, match=r"Expected 2D \(unbatched\) or 3D \(batched\) input to conv1d"):
        nn.Conv1d(3, 4, 3)(deepdive.randn(2, 3, 5, 5))
    with pytest.raises(RuntimeError, match=r"Calculated padded input size per channel: \(2 x 2\). Kernel size: "
                                           r"\(3 x 3\). Kernel size can't be greater than actual input size"):
        F.conv2d(deepdive.randn(2, 3, 2, 2), deepdive.randn(8, 3, 3, 3))


def test_bad_arguments():
    with pytest.raises(RuntimeError, match="expected scalar type Double but found Float"):
        F.conv2d(deepdive.randn(1, 3, 5, 5, dtype=deepdive.float64), deepdive.randn(2, 3, 3, 3))
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided convolutions"):
        F.conv2d(deepdive.randn(1, 3, 5, 5), deepdive.randn(2, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 6, 3, groups=2)
    with pytest.raises(RuntimeError, match="expected bias to be 1-dimensional with 8 elements"):
        F.conv2d(deepdive.randn(1, 3, 5, 5), deepdive.randn(8, 3, 3, 3), deepdive.randn(5))
    with pytest.raises(RuntimeError, match="Given transposed=1, weight of size \\[3, 8, 3, 3\\], expected "
                                           "input\\[2, 4, 5, 5\\] to have 3 channels, but got 4 channels instead"):
        F.conv_transpose2d(deepdive.randn(2, 4, 5, 5), deepdive.randn(3, 8, 3, 3))


def test_float32_stays_float32_and_backward_through_stack():
    """A conv -> relu -> conv stack trains in float32 end to end (no float64 leaks)."""
    x = deepdive.randn(2, 3, 8, 8)
    c1, c2 = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 2, 3, stride=2)
    y = c2(c1(x).relu())
    assert y.dtype == deepdive.float32 and tuple(y.shape) == (2, 2, 3, 3)
    y.sum().backward()
    for p in itertools.chain(c1.parameters(), c2.parameters()):
        assert p.grad is not None and p.grad.dtype == deepdive.float32


def _random_conv_config(r):
    groups = int(r.choice([1, 2, 3]))
    k = (int(r.integers(1, 4)), int(r.integers(1, 4)))
    d = (int(r.integers(1, 3)), int(r.integers(1, 3)))
    s = (int(r.integers(1, 4)), int(r.integers(1, 4)))
    p = (int(r.integers(0, 3)), int(r.integers(0, 3)))
    size = (int(r.integers(d[0] * (k[0] - 1) + 1, 9)), int(r.integers(d[1] * (k[1] - 1) + 1, 20)))
    return groups, k, d, s, p, size


@pytest.mark.parametrize("seed", range(12))
def test_conv2d_and_transpose_random_sweep(seed):
    """Seeded random configurations (kernel, stride, padding, dilation, groups, odd and wide sizes), float64."""
    r = np.random.default_rng(100 + seed)
    groups, k, d, s, p, size = _random_conv_config(r)
    cin, cout = groups * int(r.integers(1, 3)), groups * int(r.integers(1, 3))
    x = r.standard_normal((int(r.integers(1, 4)), cin) + size)
    w, b = r.standard_normal((cout, cin // groups) + k), r.standard_normal(cout)
    args = dict(stride=s, padding=p, dilation=d, groups=groups)
    check_parity(lambda a, q, c: F.conv2d(a, q, c, **args), lambda a, q, c: _tf().conv2d(a, q, c, **args), [x, w, b])
    op = (int(r.integers(0, max(s[0], d[0]))), int(r.integers(0, max(s[1], d[1]))))
    wt = r.standard_normal((cin, cout // groups) + k)
    targs = dict(stride=s, padding=(min(p[0], k[0] - 1), min(p[1], k[1] - 1)), output_padding=op, groups=groups,
                 dilation=d)
    check_parity(lambda a, q, c: F.conv_transpose2d(a, q, c, **targs),
                 lambda a, q, c: _tf().conv_transpose2d(a, q, c, **targs), [x, wt, b])


def test_conv2d_rebuilds_columns_when_they_are_large(monkeypatch):
    """Past SAVED_COLUMNS_BYTES the input is saved instead of the im2col columns; gradients are unchanged."""
    import deepdive.ops.conv as conv_ops
    monkeypatch.setattr(conv_ops, "SAVED_COLUMNS_BYTES", 0)
    for width in (6, 20):                                   # both column orders
        x, w, b = rng.standard_normal((2, 3, 5, width)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
        check_parity(lambda a, k, c: F.conv2d(a, k, c, padding=1, stride=(1, 2)),
                     lambda a, k, c: _tf().conv2d(a, k, c, padding=1, stride=(1, 2)), [x, w, b])


def test_outputs_never_alias_inputs():
    """1x1 windows make im2col/col2im plain reshapes: results must still be new arrays, as in PyTorch."""
    x = deepdive.randn(1, 3, 4, 4)
    outputs = [F.unfold(x, 1), F.fold(F.unfold(x, 1), (4, 4), 1), F.max_pool2d(x, 1), F.avg_pool2d(x, 1),
               F.conv2d(x, deepdive.ones(3, 1, 1, 1), groups=3), F.pad(x, (0, 0)), F.interpolate(x, size=(4, 4))]
    for out in outputs:
        assert not np.may_share_memory(out.numpy(), x.numpy())


def test_non_contiguous_inputs():
    """Flipped, transposed and strided arrays go through the strided im2col views unchanged."""
    from deepdive.tensor import _wrap
    t = require_torch()
    x, w = rng.standard_normal((2, 4, 9, 20)), rng.standard_normal((3, 2, 3, 3))
    for view in (x[:, 1:3, ::-1, ::-1], x[:, ::2].transpose(0, 1, 3, 2)):
        expected = t.nn.functional.conv2d(t.tensor(np.ascontiguousarray(view)), t.tensor(w), padding=1)
        assert_close(F.conv2d(_wrap(view), _wrap(w), padding=1), expected)
        expected = t.nn.functional.max_pool2d(t.tensor(np.ascontiguousarray(view)), 3, 2, 1)
        assert_close(F.max_pool2d(_wrap(view), 3, 2, 1), expected)
