"""create_graph=True for the spatial ops (issue 11): transposed, grouped and 3-D convolutions, fold / unfold,
3-D and adaptive (1-D to 3-D) max pooling, unpooling (1-D to 3-D), reflect / replicate / circular padding,
local response norm, grid_sample and bilinear. Second derivatives against torch's (``autograd.grad`` twice,
float64 and float32) plus gradgradcheck, on the edge cases of the first-order tests (strides, dilation, groups,
output_padding, padding modes, ties, unbatched inputs)."""
import numpy as np
import pytest

import deepdive
import deepdive.nn.functional as F
from parity import check_second_order, gradgradcheck, require_torch

rng = np.random.default_rng(0)
F32 = dict(rtol=1e-4, atol=1e-4)        # float32: the second derivatives sum many products


def _check(case, arrays, *, float32=True, ggc=True):
    """Second order against torch in float64 (and float32), then gradgradcheck (float64)."""
    t = require_torch()
    fn = case
    check_second_order(fn(F), fn(t.nn.functional), arrays)
    if float32:
        check_second_order(fn(F), fn(t.nn.functional), [a.astype(np.float32) for a in arrays], **F32)
    if ggc:
        gradgradcheck(fn(F), *arrays)


def _normal(*shapes):
    return [rng.standard_normal(s) for s in shapes]


# ------------------------------------------------------------------ convolutions
CONVOLUTIONS = {
    "conv_transpose2d": (lambda F: lambda x, w, b: F.conv_transpose2d(x, w, b).tanh(),
                         [(2, 4, 3, 3), (4, 3, 2, 2), (3,)]),
    "conv_transpose2d_stride_pad_output_padding_groups": (
        lambda F: lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, groups=2).tanh(),
        [(2, 4, 3, 3), (4, 3, 3, 2), (6,)]),
    # output_padding >= stride (allowed as it is < dilation): conv's windows must skip those rows
    "conv_transpose2d_output_padding_past_stride": (
        lambda F: lambda x, w, b: F.conv_transpose2d(x, w, b, dilation=2, output_padding=1).tanh(),
        [(1, 2, 3, 3), (2, 3, 2, 2), (3,)]),
    "conv_transpose2d_output_padding_past_padding": (
        lambda F: lambda x, w, b: F.conv_transpose2d(x, w, b, stride=(1, 2), padding=(1, 0), dilation=(3, 1),
                                                     output_padding=(2, 1)).tanh(),
        [(1, 2, 3, 4), (2, 3, 3, 2), (3,)]),
    "conv_transpose2d_unbatched": (lambda F: lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2).tanh(),
                                   [(2, 3, 3), (2, 3, 2, 2), (3,)]),
    "conv_transpose1d": (
        lambda F: lambda x, w, b: F.conv_transpose1d(x, w, b, stride=3, padding=1, output_padding=2, dilation=2).tanh(),
        [(2, 2, 5), (2, 4, 3), (4,)]),
    "conv2d_groups": (lambda F: lambda x, w, b: F.conv2d(x, w, b, groups=2, padding=1).tanh(),
                      [(2, 4, 5, 5), (6, 2, 3, 3), (6,)]),
    "conv2d_depthwise_stride_dilation": (
        lambda F: lambda x, w, b: F.conv2d(x, w, b, groups=3, stride=2, padding=1, dilation=2).tanh(),
        [(2, 3, 6, 5), (3, 1, 3, 3), (3,)]),
    "conv2d_depthwise_multiplier_unbatched": (lambda F: lambda x, w, b: F.conv2d(x, w, b, groups=2).tanh(),
                                              [(2, 4, 4), (4, 1, 2, 3), (4,)]),
    "conv1d_groups": (lambda F: lambda x, w, b: F.conv1d(x, w, b, groups=2, padding=2).tanh(),
                      [(2, 4, 7), (4, 2, 3), (4,)]),
    "conv3d": (lambda F: lambda x, w, b: F.conv3d(x, w, b).tanh(), [(2, 2, 3, 4, 3), (3, 2, 2, 2, 2), (3,)]),
    # stride 3 > kernel along the last axis: voxels that no window reads
    "conv3d_stride_pad_dilation_groups": (
        lambda F: lambda x, w, b: F.conv3d(x, w, b, stride=(2, 1, 3), padding=(1, 0, 1), dilation=(1, 2, 1),
                                           groups=2).tanh(),
        [(1, 4, 5, 5, 6), (2, 2, 2, 2, 2), (2,)]),
    "conv3d_same_unbatched": (lambda F: lambda x, w, b: F.conv3d(x, w, b, padding="same").tanh(),
                              [(2, 3, 3, 3), (2, 2, 2, 3, 2), (2,)]),
    "conv_transpose3d": (lambda F: lambda x, w, b: F.conv_transpose3d(x, w, b).tanh(),
                         [(1, 2, 3, 2, 3), (2, 3, 2, 2, 2), (3,)]),
    "conv_transpose3d_stride_groups_output_padding": (
        lambda F: lambda x, w, b: F.conv_transpose3d(x, w, b, stride=(2, 1, 1), padding=(0, 1, 0),
                                                     output_padding=(1, 0, 1), dilation=(1, 1, 2), groups=2).tanh(),
        [(1, 4, 2, 3, 2), (4, 1, 2, 2, 2), (2,)]),
}


@pytest.mark.parametrize("name", list(CONVOLUTIONS))
def test_convolution_second_order(name):
    fn, shapes = CONVOLUTIONS[name]
    _check(fn, _normal(*shapes))


def test_convolution_without_bias_and_frozen_weight():
    """Only one input requires grad: d/dx of dx (weight fixed), then d/dW of dW (input fixed); no bias."""
    t = require_torch()
    x, w = _normal((1, 2, 4, 4), (2, 3, 3, 3))

    def deconv(lib, F, wrt_x):
        return lambda a: F.conv_transpose2d(a, lib.tensor(w), stride=2).tanh() if wrt_x else \
            F.conv_transpose2d(lib.tensor(x), a, stride=2).tanh()
    for wrt_x in (True, False):
        check_second_order(deconv(deepdive, F, wrt_x), deconv(t, t.nn.functional, wrt_x), [x if wrt_x else w])


def test_conv_transpose_third_order():
    """Every order: d^3/dx^3 of sum(tanh(conv_transpose2d(x, W))) along v, against torch."""
    t = require_torch()
    x, w, v = _normal((1, 2, 3, 3), (2, 2, 2, 2), (1, 2, 3, 3))

    def third(lib, F, x, w):
        y = F.conv_transpose2d(x, w, stride=2).tanh().sum()
        g, = lib.autograd.grad(y, x, create_graph=True)
        h, = lib.autograd.grad((g * lib.tensor(v)).sum(), x, create_graph=True)
        return lib.autograd.grad((h * lib.tensor(v)).sum(), x)[0]
    ours = third(deepdive, F, deepdive.tensor(x, requires_grad=True), deepdive.tensor(w))
    theirs = third(t, t.nn.functional, t.tensor(x, requires_grad=True), t.tensor(w))
    np.testing.assert_allclose(ours._data, theirs.numpy(), rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ linear spatial ops
def _unpool2d(F):
    def f(x):
        y, i = F.max_pool2d(x, 2, return_indices=True)
        return F.max_unpool2d(y * y, i, 2) ** 2
    return f


def _unpool3d(F):
    def f(x):
        y, i = F.max_pool3d(x, 2, return_indices=True)
        return F.max_unpool3d(y * y, i, 2, output_size=x.shape[-3:]) ** 2
    return f


def _unpool1d(F):
    def f(x):
        y, i = F.max_pool1d(x, 2, return_indices=True)
        return F.max_unpool1d(y * y, i, 2, output_size=(5,)) ** 2
    return f


LINEAR = {
    "unfold": (lambda F: lambda x: F.unfold(x * x, 2, padding=1, stride=2) ** 2, [(1, 2, 4, 5)]),
    "unfold_dilation_unbatched": (lambda F: lambda x: F.unfold(x * x, (2, 3), dilation=(2, 1)) ** 2, [(2, 5, 4)]),
    "fold": (lambda F: lambda x: F.fold(x * x, (4, 5), 2, padding=1, stride=2) ** 2, [(1, 8, 9)]),
    "fold_overlapping": (lambda F: lambda x: F.fold(x * x, (3, 4), (2, 2), dilation=(1, 2)) ** 2, [(2, 8, 4)]),
    "tensor_unfold": (lambda F: lambda x: (x * x).unfold(1, 3, 2) ** 2, [(2, 7)]),
    "tensor_unfold_overlap": (lambda F: lambda x: (x * x).unfold(0, 2, 1) ** 2, [(4, 3)]),
    "avg_pool3d": (lambda F: lambda x: F.avg_pool3d(x * x, 2, stride=1, padding=1, count_include_pad=False) ** 2,
                   [(1, 2, 3, 4, 3)]),
    "avg_pool3d_divisor_unbatched": (lambda F: lambda x: F.avg_pool3d(x * x, 2, divisor_override=3) ** 2,
                                     [(2, 4, 4, 3)]),
    "avg_pool3d_ceil": (lambda F: lambda x: F.avg_pool3d(x * x, 2, ceil_mode=True) ** 2, [(1, 1, 3, 3, 5)]),
    "max_pool3d": (lambda F: lambda x: F.max_pool3d(x * x, 2, stride=1) ** 2, [(1, 2, 3, 4, 3)]),
    "max_pool3d_pad_dilation": (lambda F: lambda x: F.max_pool3d(x * x, 2, padding=1, dilation=(1, 2, 1)) ** 2,
                                [(1, 1, 4, 5, 3)]),
    "adaptive_max_pool1d": (lambda F: lambda x: F.adaptive_max_pool1d(x * x, 3) ** 2, [(2, 2, 7)]),
    "adaptive_max_pool2d": (lambda F: lambda x: F.adaptive_max_pool2d(x * x, (3, 2)) ** 2, [(2, 7, 5)]),
    "adaptive_max_pool3d": (lambda F: lambda x: F.adaptive_max_pool3d(x * x, (2, 3, 2)) ** 2, [(1, 2, 5, 4, 3)]),
    "max_unpool2d": (_unpool2d, [(1, 2, 4, 4)]),
    "max_unpool3d": (_unpool3d, [(2, 4, 5, 4)]),
    "max_unpool1d": (_unpool1d, [(1, 2, 5)]),
}


@pytest.mark.parametrize("name", list(LINEAR))
def test_linear_spatial_second_order(name):
    fn, shapes = LINEAR[name]
    _check(fn, _normal(*shapes))


@pytest.mark.parametrize("name", ["max_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d"])
def test_max_pooling_ties_second_order(name):
    """Ties (small integers): the gradient goes to the first maximum, and so does its derivative, as in torch."""
    fn, shapes = LINEAR[name]
    x = rng.integers(-2, 3, shapes[0]).astype(np.float64)
    check_second_order(fn(F), fn(require_torch().nn.functional), [x])
    check_second_order(lambda a: fn(F)(a) * a.sum(), lambda a: fn(require_torch().nn.functional)(a) * a.sum(), [x])


PADDINGS = [("reflect", (1, 2), (2, 3, 4)), ("reflect", (1, 2, 2, 1), (1, 2, 4, 4)),
            ("reflect", (1, 0, 1, 1, 2, 1), (1, 3, 3, 4)), ("replicate", (2, 1), (3, 4)),
            ("replicate", (1, 2, 0, 3), (2, 3, 3)), ("replicate", (1, 1, 2, 0, 1, 2), (1, 1, 2, 3, 2)),
            ("circular", (1, 2), (2, 3, 4)), ("circular", (2, 1, 1, 3), (1, 2, 3, 4)),
            ("circular", (1, 1, 0, 2, 1, 0), (1, 2, 2, 2, 3))]


@pytest.mark.parametrize("mode, pad, shape", PADDINGS)
def test_padding_second_order(mode, pad, shape):
    _check(lambda F: lambda x: F.pad(x * x, pad, mode=mode) ** 2, _normal(shape))


# ------------------------------------------------------------------ nonlinear ops
LRN = [((2, 5, 3, 3), 3, 1e-4, 0.75, 1.0), ((2, 6, 4), 4, 0.5, 0.6, 2.0), ((1, 3, 2, 2, 3), 2, 1.0, 1.5, 1.0),
       ((1, 3, 4), 7, 1.0, 0.75, 1.0)]


@pytest.mark.parametrize("shape, size, alpha, beta, k", LRN)
def test_local_response_norm_second_order(shape, size, alpha, beta, k):
    _check(lambda F: lambda x: F.local_response_norm(x, size, alpha, beta, k), _normal(shape))


BILINEAR = [((3, 2), (3, 4), (5, 2, 4), (5,)), ((2, 3, 2), (2, 3, 3), (4, 2, 3), (4,))]


@pytest.mark.parametrize("shapes", BILINEAR)
def test_bilinear_second_order(shapes):
    _check(lambda F: lambda a, b, w, c: F.bilinear(a, b, w, c).tanh(), _normal(*shapes))


def test_bilinear_same_input_twice():
    """x^T A x: both input slots are one tensor, the gradients add."""
    _check(lambda F: lambda a, w: F.bilinear(a, a, w) ** 2, _normal((3, 2), (2, 2, 2)))


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_second_order(mode, padding_mode, align_corners):
    """d2 / d(input, grid)^2, including the grid's x-y cross terms of bilinear weights (torch has them too);
    points past the border (grid in [-1.3, 1.3]) exercise each padding mode's clipping / reflection."""
    x, grid = rng.standard_normal((2, 2, 4, 5)), rng.uniform(-1.3, 1.3, (2, 3, 2, 2))
    fn = lambda F: lambda a, g: F.grid_sample(a, g, mode=mode, padding_mode=padding_mode,  # noqa: E731
                                              align_corners=align_corners)
    # nearest is piecewise constant in the grid: its finite differences jump, so no gradgradcheck
    _check(fn, [x, grid], ggc=mode == "bilinear")


def test_grid_sample_3d_and_input_only():
    t = require_torch()
    fn = lambda F: lambda a, g: F.grid_sample(a, g, align_corners=False) ** 2   # noqa: E731
    _check(fn, [rng.standard_normal((1, 2, 3, 4, 3)), rng.uniform(-1.2, 1.2, (1, 2, 2, 3, 3))], float32=False)
    grid = rng.uniform(-1, 1, (1, 3, 3, 2))
    check_second_order(lambda a: F.grid_sample(a * a, deepdive.tensor(grid), align_corners=True),
                       lambda a: t.nn.functional.grid_sample(a * a, t.tensor(grid), align_corners=True),
                       [rng.standard_normal((1, 2, 4, 4))])


def test_grid_sample_points_on_pixels_and_edges():
    """Grid points exactly on pixel centres, corners and the clipping edge (ties of floor and of the clamp)."""
    x = rng.standard_normal((1, 1, 3, 3))
    grid = np.array([[[[-1.0, -1.0], [0.0, 0.0], [1.0, 1.0]], [[1.0, -1.0], [0.5, -0.5], [-1.0, 0.5]]]])
    for padding_mode in ("zeros", "border", "reflection"):
        fn = lambda F: lambda a, g: F.grid_sample(a, g, padding_mode=padding_mode, align_corners=True) ** 2  # noqa
        check_second_order(fn(F), fn(require_torch().nn.functional), [x, grid])


def test_no_spatial_op_left_unrecorded():
    """Every class of this file's ops records its backward (graph_backward set)."""
    from deepdive.ops import conv, conv3d, conv_grouped, grid_sample, linear, normalization, padding, pool3d, \
        pooling, shape
    classes = [conv.ConvolutionTranspose, conv.Fold, conv.Unfold, conv_grouped.GroupedConvolution,
               conv3d.Convolution3d, conv3d.ConvolutionTranspose3d, pool3d.AvgPool3d, pool3d.MaxPool3d,
               pooling.AdaptiveMaxPool, pooling.MaxUnpool, normalization.LocalResponseNorm, padding.IndexPad,
               grid_sample.GridSample, linear.Bilinear, shape.Unfold]
    assert [c.__name__ for c in classes if c.graph_backward is None] == []


ADJOINT_USERS = {        # (lib, F) -> y(x), linear in x, its backward's adjoint reading index arrays
    "gather": lambda lib, F: lambda x: x.gather(3, lib.tensor(np.array([[[[0, 2], [1, 1], [3, 0], [2, 2]]]]))),
    "adaptive_avg_pool2d": lambda lib, F: lambda x: F.adaptive_avg_pool2d(x, 3),
    "index_select": lambda lib, F: lambda x: x.index_select(2, lib.tensor(np.array([0, 2, 2]))),
    "masked_select": lambda lib, F: lambda x: x.masked_select(x > 0),
    "max_dim": lambda lib, F: lambda x: x.max(3).values,
    "max_unpool2d": lambda lib, F: lambda x: F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2),
}


@pytest.mark.parametrize("name", list(ADJOINT_USERS))
def test_linear_adjoint_outlives_its_freed_node(name):
    """d2/dx2 of sum(w(x) * y(x)), y linear in x: the second backward (no retain_graph) may free y's node
    (its index arrays) before running the adjoint of y's backward, which reads them; torch's values."""
    t = require_torch()
    x0 = rng.standard_normal((1, 1, 4, 4))

    def hessian_gradient(lib, F):
        x = lib.tensor(x0.copy(), requires_grad=True)
        out = ((x * x).sum() * ADJOINT_USERS[name](lib, F)(x)).sum()
        g, = lib.autograd.grad(out, x, create_graph=True)
        (g * g).sum().backward()
        return x.grad
    ours, theirs = hessian_gradient(deepdive, F), hessian_gradient(t, t.nn.functional)
    np.testing.assert_allclose(ours._data, theirs.numpy(), rtol=1e-10, atol=1e-12)


MODULES = {
    "ConvTranspose2d": (lambda nn: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
                        (2, 4, 3, 3)),
    "Conv2d_depthwise_reflect": (lambda nn: nn.Conv2d(3, 6, 3, groups=3, padding=1, padding_mode="reflect"),
                                 (2, 3, 4, 4)),
    "Conv1d_circular": (lambda nn: nn.Conv1d(2, 3, 3, padding=2, padding_mode="circular"), (2, 2, 5)),
    "Conv3d": (lambda nn: nn.Conv3d(2, 3, 2, stride=2, padding=1), (1, 2, 3, 4, 3)),
    "ConvTranspose3d": (lambda nn: nn.ConvTranspose3d(2, 2, 2, stride=2), (1, 2, 2, 3, 2)),
    "ConvTranspose1d": (lambda nn: nn.ConvTranspose1d(2, 3, 3, stride=2, output_padding=1), (2, 2, 4)),
}


@pytest.mark.parametrize("name", list(MODULES))
def test_conv_module_second_order(name):
    """The layers, weights copied into the torch twin: d2/dx2 of tanh(layer(x)) (float32)."""
    t = require_torch()
    make, shape = MODULES[name]
    ours, theirs = make(deepdive.nn), make(t.nn)
    with t.no_grad():
        for p, q in zip(ours.parameters(), theirs.parameters()):
            q.copy_(t.tensor(p._data))
    x = rng.standard_normal(shape).astype(np.float32)
    check_second_order(lambda a: ours(a).tanh(), lambda a: theirs(a).tanh(), [x], **F32)


def test_func_hessian_matches_torch():
    """deepdive.func.hessian (reverse over reverse) of a grid_sample and a conv_transpose2d loss."""
    t = require_torch()
    image, grid, weight = rng.standard_normal((1, 1, 3, 3)), rng.uniform(-1, 1, (1, 2, 1, 2)), _normal((1, 2, 2, 2))[0]
    sample = lambda lib, F: lambda g: (F.grid_sample(lib.tensor(image), g, align_corners=False) ** 2).sum()  # noqa
    ours = deepdive.func.hessian(sample(deepdive, F))(deepdive.tensor(grid))
    # torch.func.hessian is forward over reverse, which grid_sample lacks in torch: its reverse-mode twin
    theirs = t.autograd.functional.hessian(sample(t, t.nn.functional), t.tensor(grid))
    np.testing.assert_allclose(ours._data, theirs.numpy(), rtol=1e-10, atol=1e-12)
    deconv = lambda lib, F: lambda w: F.conv_transpose2d(lib.tensor(image), w, stride=2).tanh().sum()  # noqa
    ours = deepdive.func.hessian(deconv(deepdive, F))(deepdive.tensor(weight))
    theirs = t.func.hessian(deconv(t, t.nn.functional))(t.tensor(weight))
    np.testing.assert_allclose(ours._data, theirs.numpy(), rtol=1e-10, atol=1e-12)


def test_max_pool3d_indices_are_not_differentiable():
    """As in torch (and max_pool2d): the indices have no grad_fn; the values' second derivative still works."""
    x = deepdive.tensor(rng.standard_normal((1, 1, 2, 4, 2)), requires_grad=True)
    values, indices = F.max_pool3d(x, 2, return_indices=True)
    assert not indices.requires_grad and indices.grad_fn is None
    g, = deepdive.autograd.grad((values ** 3).sum(), x, create_graph=True)
    h, = deepdive.autograd.grad(g.sum(), x)
    expected = np.zeros(x.shape)
    np.put(expected, indices._data.reshape(-1), 6 * values._data.reshape(-1))   # d2/dv2 v^3 = 6v at each max
    np.testing.assert_allclose(h._data, expected)
