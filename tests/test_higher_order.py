"""create_graph=True: second derivatives of every recorded op (gradgradcheck + parity with torch), the
engine's rules (retain_graph, grad_outputs, .grad of leaves), custom Functions and the errors."""
import numpy as np
import pytest

import deepdive
import deepdive.nn.functional as F
from parity import check_second_order, gradgradcheck, require_torch

rng = np.random.default_rng(0)


def both(name):
    """The same call in deepdive and torch: ``both("tanh")(x)`` is ``x.tanh()`` in either."""
    return lambda x, *a: getattr(x, name)(*a)


# ------------------------------------------------------------------ elementwise
SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((2, 1, 4), (3, 1)), ((), (2, 2))]
BINARY = {"add": lambda a, b: (a + b) * a, "sub": lambda a, b: (a - b) * b, "mul": lambda a, b: a * b,
          "div": lambda a, b: a / b, "pow": lambda a, b: a.abs() ** b, "atan2": lambda a, b: a.atan2(b),
          "maximum": lambda a, b: a.maximum(b) * a, "where": lambda a, b: (a * a).where(a > 0, b * b)}


@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_second_order(name, shapes, dtype):
    a = rng.standard_normal(shapes[0]).astype(dtype)
    b = (rng.uniform(0.5, 2, shapes[1]) * rng.choice([-1, 1], shapes[1])).astype(dtype)
    check_second_order(BINARY[name], BINARY[name], [a, b])


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_gradgradcheck(name):
    gradgradcheck(BINARY[name], rng.standard_normal((2, 3)), rng.uniform(0.5, 2, (3,)))


UNARY = ["exp", "log", "log1p", "sqrt", "rsqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "square", "exp2",
         "expm1", "log2", "log10", "tan", "atan", "sinh", "cosh", "reciprocal", "erf", "asin", "acos", "neg"]
POSITIVE = ("log", "log1p", "sqrt", "rsqrt", "log2", "log10")


def unary_input(name, shape=(3, 4)):
    x = rng.uniform(0.2, 0.9, shape)
    return x if name in POSITIVE else x * rng.choice([-1, 1], shape)


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unary_second_order(name, dtype):
    check_second_order(both(name), both(name), [unary_input(name).astype(dtype)])


@pytest.mark.parametrize("name", UNARY)
def test_unary_gradgradcheck(name):
    gradgradcheck(lambda t: getattr(t, name)() * t, unary_input(name))


def test_relu_and_abs_at_zero():
    """The kinks: relu'(0) = 0 and |x|'(0) = 0, and both second derivatives are 0 (torch agrees)."""
    x = np.array([-1.0, 0.0, 0.0, 2.0], dtype=np.float32)
    for name in ("relu", "abs"):
        check_second_order(lambda t: getattr(t, name)() * t, lambda t: getattr(t, name)() * t, [x])


@pytest.mark.parametrize("fn", [lambda t: t ** 3, lambda t: t ** 2, lambda t: t ** 0, lambda t: 2 ** t,
                                lambda t: 1 / t, lambda t: 3 - t * t, lambda t: t.clamp(-0.5, 0.5) * t])
def test_scalar_operands_second_order(fn):
    check_second_order(fn, fn, [rng.uniform(0.5, 2, (2, 3)) * rng.choice([-1, 1], (2, 3))])


# ------------------------------------------------------------------ activations
ACTIVATIONS = {
    "hardtanh": lambda F: lambda x: F.hardtanh(x) * x, "relu6": lambda F: lambda x: F.relu6(x * 4) * x,
    "leaky_relu": lambda F: lambda x: F.leaky_relu(x, 0.1) * x, "elu": lambda F: lambda x: F.elu(x),
    "selu": lambda F: lambda x: F.selu(x), "celu": lambda F: lambda x: F.celu(x, 0.5),
    "softplus": lambda F: lambda x: F.softplus(x), "softplus_beta": lambda F: lambda x: F.softplus(x, 2, 1),
    "logsigmoid": lambda F: lambda x: F.logsigmoid(x), "gelu": lambda F: lambda x: F.gelu(x),
    "gelu_tanh": lambda F: lambda x: F.gelu(x, approximate="tanh"), "silu": lambda F: lambda x: F.silu(x),
    "mish": lambda F: lambda x: F.mish(x), "softsign": lambda F: lambda x: F.softsign(x),
    "tanhshrink": lambda F: lambda x: F.tanhshrink(x), "glu": lambda F: lambda x: F.glu(x, 1),
    "hardsigmoid": lambda F: lambda x: F.hardsigmoid(x * 4) * x, "hardswish": lambda F: lambda x: F.hardswish(x * 4),
    "softshrink": lambda F: lambda x: F.softshrink(x) * x, "threshold": lambda F: lambda x: F.threshold(x, 0.1, 2.0) * x,
    "softmax": lambda F: lambda x: F.softmax(x, 1) ** 2, "log_softmax": lambda F: lambda x: F.log_softmax(x, 0) ** 2,
    "softmin": lambda F: lambda x: F.softmin(x, 1) ** 2,
}


NO_TORCH_DOUBLE_BACKWARD = ("hardsigmoid",)     # torch: "derivative for aten::hardsigmoid_backward is not implemented"


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_second_order(name):
    t = require_torch()
    x = rng.standard_normal((3, 4))
    if name not in NO_TORCH_DOUBLE_BACKWARD:
        check_second_order(ACTIVATIONS[name](F), ACTIVATIONS[name](t.nn.functional), [x.astype(np.float32)])
    gradgradcheck(ACTIVATIONS[name](F), x)


def test_prelu_second_order():
    t = require_torch()
    x, w = rng.standard_normal((2, 3, 4)), np.array([0.25, 0.1, -0.2])
    check_second_order(lambda a, b: F.prelu(a, b) * a, lambda a, b: t.nn.functional.prelu(a, b) * a, [x, w])
    gradgradcheck(lambda a, b: F.prelu(a, b) * a, x, w)


# ------------------------------------------------------------------ reductions
REDUCTIONS = {
    "sum": lambda x: x.sum(1) * x.mean(), "mean": lambda x: x.mean(0, keepdim=True) * x, "var": lambda x: x.var(0) ** 2,
    "std": lambda x: x.std(1) ** 3, "std_keep": lambda x: x.std(1, keepdim=True) * x,
    "amax": lambda x: x.amax(1, keepdim=True) * x, "max_dim": lambda x: x.max(1).values ** 2,
    "logsumexp": lambda x: x.logsumexp(1) ** 2, "prod": lambda x: x.prod(1) * x.sum(),
    "norm": lambda x: x.norm(dim=1) ** 2 + x.norm(), "norm1": lambda x: x.norm(p=1, dim=0) * x.sum(),
    "norm3": lambda x: x.norm(p=3, dim=1), "cumsum": lambda x: x.cumsum(1) ** 2,
    "cummax": lambda x: x.cummax(1).values ** 2,
}


@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_reduction_second_order(name):
    x = rng.standard_normal((3, 4))
    check_second_order(REDUCTIONS[name], REDUCTIONS[name], [x])
    gradgradcheck(REDUCTIONS[name], x)


def test_max_with_ties():
    """Tied maxima share the gradient evenly (first order), and the share is constant (second order)."""
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.5]])
    for fn in (lambda t: t.max() * t.sum(), lambda t: t.amax(1) ** 2):
        check_second_order(fn, fn, [x])


# ------------------------------------------------------------------ shape, indexing, joining
def _torch_pad(t):
    return lambda x: t.nn.functional.pad(x, (1, 2)) ** 2


SHAPE_OPS = {
    "reshape_permute": lambda m: lambda a, b: a.reshape(4, 3).permute(1, 0) ** 2,
    "t": lambda m: lambda a, b: a.t() * a.t(), "expand": lambda m: lambda a, b: b.expand(2, 3, 2) ** 2,
    "slice": lambda m: lambda a, b: a[1:, ::2] ** 2, "index": lambda m: lambda a, b: a[[0, 0, 2]] ** 2,
    "mask": lambda m: lambda a, b: a[a > 0] ** 2,
    "gather": lambda m: lambda a, b: a.gather(1, m.tensor([[0, 0], [1, 3], [2, 2]])) ** 2,
    "index_select": lambda m: lambda a, b: a.index_select(1, m.tensor([0, 2, 2])) ** 2,
    "masked_fill": lambda m: lambda a, b: a.masked_fill(a > 0.5, 2.0) ** 2,
    "cat": lambda m: lambda a, b: m.cat([a, b], 1) ** 2, "stack": lambda m: lambda a, b: m.stack([a[:, :2], b]) ** 2,
    "split": lambda m: lambda a, b: m.cat([p ** 2 for p in a.split([1, 3], 1)], 1) * a,
    "unbind": lambda m: lambda a, b: m.stack([p ** 2 for p in a.unbind(0)]) * a,
    "narrow": lambda m: lambda a, b: a.narrow(1, 1, 2) ** 2, "select": lambda m: lambda a, b: a.select(1, 2) ** 2,
    "tril_triu": lambda m: lambda a, b: a.tril() ** 2 + a.triu(1) ** 3, "flip": lambda m: lambda a, b: a.flip(0) * a,
    "roll": lambda m: lambda a, b: a.roll(1, 1) * a, "repeat": lambda m: lambda a, b: a.repeat(2, 1) ** 2,
    "squeeze": lambda m: lambda a, b: a.unsqueeze(0).squeeze(0) ** 2, "view": lambda m: lambda a, b: a.view(-1) ** 2,
    "pad": lambda m: lambda a, b: m.nn.functional.pad(a, (1, 2)) ** 2,
}


@pytest.mark.parametrize("name", list(SHAPE_OPS))
def test_shape_ops_second_order(name):
    t = require_torch()
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 2))
    check_second_order(SHAPE_OPS[name](deepdive), SHAPE_OPS[name](t), [a, b])
    gradgradcheck(SHAPE_OPS[name](deepdive), a, b)


# ------------------------------------------------------------------ matmul family, linear
MATMUL = {
    "mm": lambda m: lambda a, w, b: (a @ w.t()).sin(), "mv": lambda m: lambda a, w, b: (a @ w[0]).sin(),
    "dot": lambda m: lambda a, w, b: (a[0] @ a[1]).sin(),
    "bmm": lambda m: lambda a, w, b: (a.reshape(1, 3, 4) @ w.t().reshape(1, 4, 5)).sin(),
    "broadcast": lambda m: lambda a, w, b: (a.reshape(3, 1, 4) @ w.t()).sin(),
    "addmm": lambda m: lambda a, w, b: m.addmm(b, a, w.t(), beta=0.5, alpha=2).sin(),
    "linear": lambda m: lambda a, w, b: m.nn.functional.linear(a, w, b).tanh(),
    "linear_3d": lambda m: lambda a, w, b: m.nn.functional.linear(a.reshape(3, 1, 4), w, b).tanh(),
    "linear_nobias": lambda m: lambda a, w, b: m.nn.functional.linear(a, w).tanh(),
}


@pytest.mark.parametrize("name", list(MATMUL))
def test_matmul_second_order(name):
    t = require_torch()
    a, w, b = rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)
    check_second_order(MATMUL[name](deepdive), MATMUL[name](t), [a, w, b])
    gradgradcheck(MATMUL[name](deepdive), a, w, b)


# ------------------------------------------------------------------ losses
LOSSES = {
    "mse": lambda F, a, t, y: F.mse_loss(a, t), "mse_none": lambda F, a, t, y: F.mse_loss(a, t, reduction="none"),
    "mse_broadcast": lambda F, a, t, y: F.mse_loss(a, t[0].expand(4, 3), reduction="sum"),
    "l1": lambda F, a, t, y: F.l1_loss(a, t) * a.sum(), "smooth_l1": lambda F, a, t, y: F.smooth_l1_loss(a, t),
    "huber": lambda F, a, t, y: F.huber_loss(a, t, delta=0.5),
    "cross_entropy": lambda F, a, t, y: F.cross_entropy(a, y),
    "cross_entropy_sum": lambda F, a, t, y: F.cross_entropy(a, y, reduction="sum"),
    "cross_entropy_none": lambda F, a, t, y: F.cross_entropy(a, y, reduction="none"),
    "cross_entropy_smooth": lambda F, a, t, y: F.cross_entropy(a, y, label_smoothing=0.1),
    "cross_entropy_probs": lambda F, a, t, y: F.cross_entropy(a, t.detach().softmax(1)),
    "nll": lambda F, a, t, y: F.nll_loss(a.log_softmax(1), y),
    "bce_logits": lambda F, a, t, y: F.binary_cross_entropy_with_logits(a, t.detach().sigmoid()),
    "bce": lambda F, a, t, y: F.binary_cross_entropy(a.sigmoid(), t.detach().sigmoid()),
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_second_order(name):
    t = require_torch()
    a, tgt, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3)), np.array([0, 2, 1, 1])
    check_second_order(lambda p, q, r: LOSSES[name](F, p, q, r),
                       lambda p, q, r: LOSSES[name](t.nn.functional, p, q, r), [a, tgt, y])


def test_cross_entropy_spatial_and_weights_gradgradcheck():
    x, y = rng.standard_normal((2, 3, 2, 2)), deepdive.tensor(rng.integers(0, 3, (2, 2, 2)))
    w = deepdive.tensor(np.array([1.0, 2.0, 0.5]))
    gradgradcheck(lambda a: F.cross_entropy(a, y, weight=w), x)
    gradgradcheck(lambda a: F.cross_entropy(a, y, reduction="none"), x)
    gradgradcheck(lambda a: F.nll_loss(a, y, reduction="none"), x)
    gradgradcheck(lambda p, q: F.binary_cross_entropy(p, q), rng.uniform(0.1, 0.9, (4, 3)), rng.uniform(0, 1, (4, 3)))
    gradgradcheck(lambda a, q: F.binary_cross_entropy_with_logits(a, q, pos_weight=deepdive.tensor([1.0, 2.0, 3.0])),
                  rng.standard_normal((4, 3)), rng.uniform(0, 1, (4, 3)))


def test_embedding_and_dropout_second_order():
    t = require_torch()
    w, idx = rng.standard_normal((5, 3)), np.array([[0, 2, 2], [4, 1, 0]])
    check_second_order(lambda a, i: F.embedding(i, a).tanh(), lambda a, i: t.nn.functional.embedding(i, a).tanh(),
                       [w, idx])
    gradgradcheck(lambda a: F.embedding(deepdive.tensor(idx), a).tanh(), w)
    deepdive.manual_seed(0)
    x = deepdive.tensor(w, requires_grad=True)
    y = F.dropout(x, 0.5, training=True)
    mask = y._data / np.where(w == 0, 1, w)
    g, = deepdive.autograd.grad((y.tanh()).sum(), x, create_graph=True)
    h, = deepdive.autograd.grad(g.sum(), x)
    expected = -2 * np.tanh(y._data) * (1 - np.tanh(y._data) ** 2) * mask * mask
    np.testing.assert_allclose(h._data, expected, rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------------ engine rules
def test_third_order_and_leaf_grad():
    """d^3/dx^3 of x^4 = 24x; backward(create_graph=True) leaves a differentiable .grad (as in PyTorch)."""
    x = deepdive.tensor([1.0, -2.0], requires_grad=True)
    g, = deepdive.autograd.grad((x ** 4).sum(), x, create_graph=True)
    h, = deepdive.autograd.grad(g.sum(), x, create_graph=True)
    k, = deepdive.autograd.grad(h.sum(), x)
    np.testing.assert_allclose(k._data, 24 * x._data)
    y = deepdive.tensor([3.0], requires_grad=True)
    (y ** 3).sum().backward(create_graph=True)
    assert y.grad.requires_grad and y.grad.grad_fn is not None
    first = y.grad
    y.grad = None
    first.sum().backward()
    np.testing.assert_allclose(y.grad._data, [18.0])


def test_retain_graph_defaults_to_create_graph():
    x = deepdive.tensor([1.0, 2.0], requires_grad=True)
    loss = (x.sin() * x).sum()
    deepdive.autograd.grad(loss, x, create_graph=True)
    g2, = deepdive.autograd.grad(loss, x)      # the graph was kept: a second pass works
    np.testing.assert_allclose(g2._data, np.cos(x._data) * x._data + np.sin(x._data), rtol=1e-6)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        deepdive.autograd.grad(loss, x)


def test_grad_outputs_that_require_grad():
    t = require_torch()
    results = []
    for m in (deepdive, t):
        x = m.tensor([0.5, -1.0, 2.0], requires_grad=True)
        v = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x.tanh()
        g, = m.autograd.grad(y, x, grad_outputs=v, create_graph=True)
        dx, dv = m.autograd.grad((g * g).sum(), (x, v))
        results.append((dx, dv))
    for a, b in zip(results[0], results[1]):
        np.testing.assert_allclose(a._data, b.detach().numpy(), rtol=1e-5)


def test_custom_function_with_tensor_backward_is_differentiable():
    class Cube(deepdive.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * 3 * x ** 2

    class Exp(deepdive.autograd.Function):           # saves its output: linked back to the node
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad_output):
            (y,) = ctx.saved_tensors
            return grad_output * y

    x = deepdive.tensor([0.5, 2.0], requires_grad=True)
    g, = deepdive.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    h, = deepdive.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h._data, 6 * x._data)
    g, = deepdive.autograd.grad(Exp.apply(x).sum(), x, create_graph=True)
    h, = deepdive.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h._data, np.exp(x._data), rtol=1e-6)


# ------------------------------------------------------------------ errors
def test_differentiating_a_gradient_computed_without_create_graph():
    x = deepdive.tensor([1.0, 2.0], requires_grad=True)
    g, = deepdive.autograd.grad((x ** 3).sum(), x)
    assert not g.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        g.sum().backward()


def test_once_differentiable_raises_when_differentiated_twice():
    from deepdive.autograd.function import once_differentiable

    class Square(deepdive.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * 2 * x

    x = deepdive.tensor([1.0, 2.0], requires_grad=True)
    g, = deepdive.autograd.grad(Square.apply(x).sum(), x)           # first order: fine
    np.testing.assert_allclose(g._data, [2.0, 4.0])
    g, = deepdive.autograd.grad(Square.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g._data, [2.0, 4.0])
    with pytest.raises(RuntimeError, match="trying to differentiate twice a function that was marked with "
                                           "@once_differentiable"):
        g.sum().backward()


def test_input_that_does_not_require_grad():
    x = deepdive.tensor([1.0, 2.0])
    y = deepdive.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="does not require grad"):
        deepdive.autograd.grad((x * y).sum(), x, create_graph=True)


def test_op_without_recorded_backward_raises_clearly():
    """A built-in op whose backward is not recorded (``graph_backward = None``, e.g. one added later) gives
    an exact gradient, but differentiating it again raises instead of giving a wrong value."""
    from deepdive.autograd.function import Function

    class Cube(Function):               # x^3 with a NumPy-only backward
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad):
            x, = ctx.saved_tensors
            return 3 * grad * x * x

    x = deepdive.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    g, = deepdive.autograd.grad(Cube.apply(x * x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g._data, 6 * x._data ** 5, rtol=1e-12)
    with pytest.raises(RuntimeError, match=r"CubeBackward0 does not support create_graph=True "
                                           r"\(higher-order gradients\) yet"):
        g.sum().backward()


CONVS = {
    "conv2d": lambda F: lambda x, w, b: F.conv2d(x, w, b).tanh(),
    "conv2d_stride_pad": lambda F: lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1).tanh(),
    "conv2d_dilation": lambda F: lambda x, w, b: F.conv2d(x, w, b, dilation=2, padding=2).tanh(),
    "conv1d": lambda F: lambda x, w, b: F.conv1d(x[:, :, 0], w[:, :, 0], b, padding=1).tanh(),
}


@pytest.mark.parametrize("name", list(CONVS))
def test_convolution_second_order(name):
    t = require_torch()
    x, w, b = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)
    check_second_order(CONVS[name](F), CONVS[name](t.nn.functional), [x, w, b])
    gradgradcheck(CONVS[name](F), x, w, b)


def test_gradgradcheck_catches_a_wrong_second_derivative():
    class Wrong(deepdive.autograd.Function):       # d/dx of its backward is 0, but x^3's is 6x
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x.detach())
            return x ** 3

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * 3 * x ** 2

    x = deepdive.tensor(rng.standard_normal(3), requires_grad=True)
    assert deepdive.autograd.gradcheck(Wrong.apply, (x,))
    assert not deepdive.autograd.gradgradcheck(Wrong.apply, (x,), raise_exception=False)


def test_viz_graph_of_a_gradient_shows_its_backward_nodes():
    """d/dx sum(sin(x) * x) = cos(x) * x + sin(x): the gradient's own graph holds the backward's ops
    (Cos, from sin's derivative) next to the forward's (Sin), drawn by the unchanged deepdive.viz.graph."""
    x = deepdive.tensor([1.0, 2.0], requires_grad=True)
    g, = deepdive.autograd.grad((x.sin() * x).sum(), x, create_graph=True)
    labels = [n.label for n in deepdive.viz.graph(g, params={"x": x}).nodes]
    assert "Cos" in labels and "Sin" in labels and "x" in labels


NORMS = {
    "layer_norm": lambda F: lambda x, w, b: F.layer_norm(x, (4,), w, b).tanh(),
    "layer_norm_2d": lambda F: lambda x, w, b: F.layer_norm(x.reshape(3, 2, 2), (2, 2)).tanh(),
    "batch_norm_train": lambda F: lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True).tanh(),
    "batch_norm_eval": lambda F: lambda x, w, b: F.batch_norm(x, x.detach().mean(0) * 0 + 0.1,
                                                              x.detach().var(0) * 0 + 2.0, w, b).tanh(),
}


@pytest.mark.parametrize("name", list(NORMS))
def test_normalization_second_order(name):
    t = require_torch()
    x, w, b = rng.standard_normal((3, 4)), rng.uniform(0.5, 1.5, 4), rng.standard_normal(4)
    check_second_order(NORMS[name](F), NORMS[name](t.nn.functional), [x, w, b])
    gradgradcheck(NORMS[name](F), x, w, b)


POOLS = {
    "max_pool2d": lambda F: lambda x: F.max_pool2d(x * x, 2) ** 2,
    "max_pool2d_overlap": lambda F: lambda x: F.max_pool2d(x * x, 3, stride=1, padding=1) ** 2,
    "max_pool1d": lambda F: lambda x: F.max_pool1d(x[:, :, 0] * x[:, :, 0], 2) ** 2,
    "avg_pool2d": lambda F: lambda x: F.avg_pool2d(x * x, 2) ** 2,
    "avg_pool2d_pad": lambda F: lambda x: F.avg_pool2d(x * x, 3, stride=2, padding=1) ** 2,
}


@pytest.mark.parametrize("name", list(POOLS))
def test_pooling_second_order(name):
    t = require_torch()
    x = rng.standard_normal((2, 2, 4, 4))
    check_second_order(POOLS[name](F), POOLS[name](t.nn.functional), [x])
    gradgradcheck(POOLS[name](F), x)


ATTENTION = {
    "plain": lambda F, q, k, v, m: F.scaled_dot_product_attention(q, k, v).tanh(),
    "causal": lambda F, q, k, v, m: F.scaled_dot_product_attention(q, k, v, is_causal=True).tanh(),
    "float_mask": lambda F, q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m).tanh(),
    "bool_mask": lambda F, q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m > -0.5).tanh(),
    "scale": lambda F, q, k, v, m: F.scaled_dot_product_attention(q, k, v, scale=0.3).tanh(),
}


@pytest.mark.parametrize("name", list(ATTENTION))
def test_attention_second_order(name):
    t = require_torch()
    q, k, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 2))
    m = rng.standard_normal((3, 5))
    m[:, 0] = 1.0                      # no row fully blocked by the bool mask
    if name == "causal":
        k, v = k[:, :3], v[:, :3]
    check_second_order(lambda a, b, c, d: ATTENTION[name](F, a, b, c, d),
                       lambda a, b, c, d: ATTENTION[name](t.nn.functional, a, b, c, d), [q, k, v, m])
    gradgradcheck(lambda a, b, c, d: ATTENTION[name](F, a, b, c, d), q, k, v, m)


RECURRENT = {
    "rnn_tanh": lambda nn: nn.RNN(3, 4, batch_first=True), "rnn_relu": lambda nn: nn.RNN(3, 4, nonlinearity="relu"),
    "lstm": lambda nn: nn.LSTM(3, 4, batch_first=True), "lstm_bidirectional": lambda nn: nn.LSTM(3, 2, bidirectional=True),
    "gru": lambda nn: nn.GRU(3, 4, num_layers=2), "gru_nobias": lambda nn: nn.GRU(3, 4, bias=False),
}


@pytest.mark.parametrize("name", list(RECURRENT))
def test_recurrent_second_order(name):
    """d/dx of the fused RNN/LSTM/GRU's gradient (the backward through time, recorded step by step)."""
    t = require_torch()
    ours, theirs = RECURRENT[name](deepdive.nn), RECURRENT[name](t.nn)
    with t.no_grad():
        for p, q in zip(ours.parameters(), theirs.parameters()):
            q.copy_(t.tensor(p._data))
    x = rng.standard_normal((2, 3, 3)).astype(np.float32)
    check_second_order(lambda a: ours(a)[0].tanh(), lambda a: theirs(a)[0].tanh(), [x], rtol=1e-4, atol=1e-5)
    ours64 = RECURRENT[name](deepdive.nn)
    for p in ours64.parameters():
        p._data = p._data.astype(np.float64)
    gradgradcheck(lambda a: ours64(a)[0].tanh(), x[:, :2].astype(np.float64))


MORE = {
    "group_norm": lambda F: lambda x, w, b: F.group_norm(x.reshape(3, 4, 1), 2, w, b).tanh(),
    "rms_norm": lambda F: lambda x, w, b: F.rms_norm(x, (4,), w, eps=1e-6).tanh(),
    "normalize": lambda F: lambda x, w, b: F.normalize(x, dim=1) * x,
    "normalize_p1": lambda F: lambda x, w, b: F.normalize(x, p=1.0, dim=0) * x,
}


@pytest.mark.parametrize("name", list(MORE))
def test_more_normalization_second_order(name):
    t = require_torch()
    x, w, b = rng.standard_normal((3, 4)), rng.uniform(0.5, 1.5, 4), rng.standard_normal(4)
    check_second_order(MORE[name](F), MORE[name](t.nn.functional), [x, w, b])
    gradgradcheck(MORE[name](F), x, w, b)


def test_multihead_attention_second_order():
    """nn.MultiheadAttention (split heads, fused attention, merge heads): the gradient w.r.t. the input is
    differentiable again, as in torch."""
    t = require_torch()
    ours, theirs = deepdive.nn.MultiheadAttention(4, 2, batch_first=True), t.nn.MultiheadAttention(4, 2, batch_first=True)
    with t.no_grad():
        for p, q in zip(ours.parameters(), theirs.parameters()):
            q.copy_(t.tensor(p._data))
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    check_second_order(lambda a: ours(a, a, a)[0].tanh(), lambda a: theirs(a, a, a)[0].tanh(), [x],
                       rtol=1e-4, atol=1e-5)


RESAMPLING = {
    "nearest": lambda F: lambda x: F.interpolate(x * x, scale_factor=2) ** 2,
    "bilinear": lambda F: lambda x: F.interpolate(x * x, size=(5, 3), mode="bilinear", align_corners=False) ** 2,
    "area": lambda F: lambda x: F.interpolate(x * x, size=(2, 2), mode="area") ** 2,
    "adaptive_avg_pool2d": lambda F: lambda x: F.adaptive_avg_pool2d(x * x, (3, 2)) ** 2,
}


@pytest.mark.parametrize("name", list(RESAMPLING))
def test_resampling_second_order(name):
    t = require_torch()
    x = rng.standard_normal((1, 2, 4, 4))
    check_second_order(RESAMPLING[name](F), RESAMPLING[name](t.nn.functional), [x])
    gradgradcheck(RESAMPLING[name](F), x)
