"""The autograd engine: graph shapes, accumulation, retain_graph, hooks, autograd.grad, custom Functions, grad modes."""
import numpy as np
import pytest

import deepdive
from parity import assert_close, check_parity, require_torch

torch = require_torch()
rng = np.random.default_rng(3)


def test_diamond_shared_subgraph_matches_torch():
    def fn(lib):
        def f(x, w):
            h = (x * w).tanh()          # used by both branches
            a, b = h.exp(), h * 3
            return (a * b + h).sum(1)
        return f
    check_parity(fn(deepdive), fn(torch), [rng.standard_normal((3, 4)), rng.standard_normal((4,))])


def test_same_tensor_used_twice_in_one_op():
    check_parity(lambda x: x * x + x / (x + 3), lambda x: x * x + x / (x + 3), [rng.uniform(1, 2, (5,))])


def test_gradients_accumulate_across_backward_calls():
    x = deepdive.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x ** 2).sum().backward()
    np.testing.assert_allclose(x.grad._data, [3 + 2, 3 + 4])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad._data, [3, 3])


def test_second_backward_without_retain_graph_raises_torch_error():
    x = deepdive.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = deepdive.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad._data.copy()
    y.backward()
    np.testing.assert_allclose(x.grad._data, 2 * first, rtol=1e-6)


def test_retain_grad_on_non_leaf():
    for lib in (deepdive, torch):
        x = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        h = x * 2
        h.retain_grad()
        assert h.retains_grad
        (h ** 2).sum().backward()
        np.testing.assert_allclose(h.grad.numpy(), [4.0, -8.0, 12.0])
    x = deepdive.tensor([1.0], requires_grad=True)
    with pytest.warns(UserWarning, match="not a leaf Tensor is being accessed"):      # as torch warns
        assert (x * 2).grad is None      # not retained: no .grad on a non-leaf


def test_tensor_hooks_leaf_and_non_leaf_modify_and_remove():
    results = {}
    for lib in (deepdive, torch):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        seen = []
        h_leaf = x.register_hook(lambda g: g * 10)
        y = x * x
        h_mid = y.register_hook(lambda g: seen.append(g.clone()) or g + 1)
        y.sum().backward()
        first = x.grad.numpy().copy()
        h_leaf.remove()
        h_mid.remove()
        x.grad = None
        (x * x).sum().backward()
        results[lib.__name__] = (first, x.grad.numpy().copy(), [s.numpy() for s in seen])
    d, t = results["deepdive"], results["torch"]
    np.testing.assert_allclose(d[0], t[0])      # (1 + 1) * 2x * 10
    np.testing.assert_allclose(d[1], t[1])
    assert len(d[2]) == len(t[2]) == 1
    np.testing.assert_allclose(d[2][0], t[2][0])


def test_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        deepdive.ones(2).register_hook(lambda g: g)


def test_autograd_grad_returns_without_touching_dot_grad():
    x = deepdive.tensor([1.0, 2.0], requires_grad=True)
    z = deepdive.tensor([3.0], requires_grad=True)
    y = (x ** 3).sum()
    (gx,) = deepdive.autograd.grad(y, x, retain_graph=True)
    np.testing.assert_allclose(gx._data, [3.0, 12.0])
    assert x.grad is None
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        deepdive.autograd.grad(y, [x, z], retain_graph=True)
    gx, gz = deepdive.autograd.grad(y, [x, z], allow_unused=True, retain_graph=True)
    assert gz is None and gx is not None
    gx, gz = deepdive.autograd.grad([y], [x, z], materialize_grads=True)
    np.testing.assert_array_equal(gz._data, [0.0])


def test_autograd_grad_of_non_leaf_and_grad_outputs():
    for lib in (deepdive, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        h = x.exp()
        y = h * 3
        gh, gx = lib.autograd.grad(y, [h, x], grad_outputs=lib.tensor([1.0, -1.0]))
        if lib is deepdive:
            ours = (gh.numpy(), gx.numpy())
        else:
            np.testing.assert_allclose(ours[0], gh.numpy())
            np.testing.assert_allclose(ours[1], gx.numpy(), rtol=1e-6)


def test_long_chain_backward_has_no_recursion_limit():
    x = deepdive.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(50_000):
        y = y * 1.0001
    y.backward()
    assert abs(x.grad.item() - 1.0001 ** 50_000) / 1.0001 ** 50_000 < 1e-3


class DDExp(deepdive.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return grad_output * y


class TorchExp(torch.autograd.Function):
    forward = staticmethod(DDExp.forward)
    backward = staticmethod(DDExp.backward)


class DDMulAdd(deepdive.autograd.Function):
    """Two inputs, a non-tensor argument, two outputs: (x * y * k, x + y)."""

    @staticmethod
    def forward(ctx, x, y, k):
        ctx.save_for_backward(x, y)
        ctx.k = k
        return x * y * k, x + y

    @staticmethod
    def backward(ctx, g_prod, g_sum):
        x, y = ctx.saved_tensors
        return g_prod * y * ctx.k + g_sum, g_prod * x * ctx.k + g_sum, None


class TorchMulAdd(torch.autograd.Function):
    forward = staticmethod(DDMulAdd.forward)
    backward = staticmethod(DDMulAdd.backward)


def test_custom_function_the_pytorch_way():
    check_parity(lambda x: DDExp.apply(x * 2), lambda x: TorchExp.apply(x * 2), [rng.standard_normal((3,))])
    check_parity(lambda x, y: DDMulAdd.apply(x, y.tanh(), 2.5), lambda x, y: TorchMulAdd.apply(x, y.tanh(), 2.5),
                 [rng.standard_normal((2, 3)), rng.standard_normal((2, 3))])
    x = deepdive.ones(2, requires_grad=True)
    out = DDExp.apply(x)
    assert out.requires_grad and out.grad_fn is not None and not x.grad_fn
    with deepdive.no_grad():
        assert not DDExp.apply(x).requires_grad


def test_custom_function_saved_tensor_modified_in_place_raises():
    x = deepdive.ones(2, requires_grad=True)
    y = DDExp.apply(x * 1)
    with deepdive.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode", "set_grad_enabled"])
def test_grad_modes_as_context_managers_and_decorators(mode):
    make = {"no_grad": lambda: deepdive.no_grad(), "inference_mode": lambda: deepdive.inference_mode(),
            "set_grad_enabled": lambda: deepdive.set_grad_enabled(False)}[mode]
    x = deepdive.ones(2, requires_grad=True)
    with make():
        y = x * 2
        assert not deepdive.is_grad_enabled()
        with deepdive.enable_grad():
            z = x * 2
    assert deepdive.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and z.requires_grad

    @make()
    def f(t):
        return t * 2
    assert deepdive.is_grad_enabled(), "creating the decorator must not switch grad off"
    assert not f(x).requires_grad and deepdive.is_grad_enabled()

    @deepdive.enable_grad()
    def g(t):
        return t * 2
    with deepdive.no_grad():
        assert g(x).requires_grad


def test_bare_decorators_like_torch():
    x = deepdive.ones(2, requires_grad=True)

    @deepdive.no_grad
    def f(t):
        return t * 2

    @deepdive.inference_mode
    def h(t):
        return t * 2
    assert not f(x).requires_grad and not h(x).requires_grad and deepdive.is_grad_enabled()


def test_set_grad_enabled_as_a_plain_call():
    try:
        deepdive.set_grad_enabled(False)
        assert not (deepdive.ones(1, requires_grad=True) * 2).requires_grad
    finally:
        deepdive.set_grad_enabled(True)
    assert deepdive.is_grad_enabled()
    with deepdive.inference_mode(False):
        assert deepdive.is_grad_enabled()


def test_detach_shares_memory_and_cuts_the_graph():
    x = deepdive.ones(3, requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and np.shares_memory(d._data, y._data)
    (d * x).sum().backward()
    np.testing.assert_allclose(x.grad._data, [2.0, 2.0, 2.0])


def test_requires_grad_flags():
    x = deepdive.ones(2)
    assert x.requires_grad_() is x and x.requires_grad and x.is_leaf
    x.requires_grad_(False)
    assert not x.requires_grad
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require gradients"):
        deepdive.ones(2, dtype=deepdive.int64).requires_grad_()
    y = deepdive.ones(2, requires_grad=True) * 2
    assert not y.is_leaf
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf variables"):
        y.requires_grad_(False)
    assert not (deepdive.ones(2) * deepdive.ones(2)).requires_grad


def test_non_scalar_backward_needs_gradient():
    x = deepdive.ones(2, 3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        y.backward()
    y.backward(gradient=deepdive.full((2, 3), 0.5))
    np.testing.assert_allclose(x.grad._data, np.ones((2, 3)))
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(deepdive.ones(3))


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        deepdive.ones(1).sum().backward()


def test_grad_fn_names_like_torch():
    x, w = deepdive.ones(2, 3, requires_grad=True), deepdive.ones(3, requires_grad=True)
    tx, tw = torch.ones(2, 3, requires_grad=True), torch.ones(3, requires_grad=True)
    for fn in [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b, lambda a, b: a / b, lambda a, b: a.exp(),
               lambda a, b: a.sum(), lambda a, b: a.mean(), lambda a, b: a.tanh(), lambda a, b: a.sigmoid(),
               lambda a, b: -a, lambda a, b: a.reshape(3, 2), lambda a, b: a.permute(1, 0), lambda a, b: a.log(),
               lambda a, b: a.relu(), lambda a, b: a.clone()]:
        assert fn(x, w).grad_fn.name() == fn(tx, tw).grad_fn.name()
    assert repr((x + w).grad_fn).startswith("<AddBackward0")
    assert x.grad_fn is None and (x + w).grad_fn.next_functions


def test_micrograd_readme_example_matches_torch():
    def run(lib):
        a = lib.tensor(-4.0, dtype=lib.float64, requires_grad=True)
        b = lib.tensor(2.0, dtype=lib.float64, requires_grad=True)
        c = a + b
        d = a * b + b ** 3
        c = c + c + 1
        c = c + 1 + c + (-a)
        d = d + d * 2 + (b + a).relu()
        d = d + 3 * d + (b - a).relu()
        e = c - d
        f = e ** 2
        g = f / 2.0
        g = g + 10.0 / f
        g.backward()
        return g.item(), a.grad.item(), b.grad.item()
    ours, theirs = run(deepdive), run(torch)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    np.testing.assert_allclose(ours, (24.70408163265306, 138.83381924198252, 645.5772594752186), rtol=1e-12)


def test_micrograd_example_with_inplace_operators():
    # micrograd writes `c += c + 1`; on tensors that is an in-place op on a non-leaf, which torch allows
    def run(lib):
        a = lib.tensor(-4.0, requires_grad=True)
        b = lib.tensor(2.0, requires_grad=True)
        c = a + b
        d = a * b + b ** 3
        c += c + 1
        c += 1 + c + (-a)
        d += d * 2 + (b + a).relu()
        d += 3 * d + (b - a).relu()
        e = c - d
        f = e ** 2
        g = f / 2.0
        g += 10.0 / f
        g.backward()
        return g.item(), a.grad.item(), b.grad.item()
    np.testing.assert_allclose(run(deepdive), run(torch), rtol=1e-5)


def test_backward_through_integer_and_bool_paths_stops():
    x = deepdive.tensor([1.0, -2.0], requires_grad=True)
    mask = x > 0
    assert not mask.requires_grad
    (x * mask).sum().backward()
    np.testing.assert_array_equal(x.grad._data, [1.0, 0.0])


def test_gradient_dtype_matches_leaf():
    for dtype in (deepdive.float32, deepdive.float64):
        x = deepdive.ones(3, dtype=dtype, requires_grad=True)
        (x * 2).sum().backward()
        assert x.grad.dtype == dtype


def test_multiple_roots_with_autograd_backward():
    for lib in (deepdive, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        lib.autograd.backward([(x * 2).sum(), (x ** 2).sum()])
        if lib is deepdive:
            ours = x.grad.numpy().copy()
    assert_close(ours, x.grad)


def test_custom_function_setup_context_and_non_differentiable_outputs():
    results = []
    for lib in (deepdive, torch):
        class Square(lib.autograd.Function):
            @staticmethod
            def forward(x):
                return x * x

            @staticmethod
            def setup_context(ctx, inputs, output):
                ctx.save_for_backward(inputs[0])

            @staticmethod
            def backward(ctx, grad):
                (x,) = ctx.saved_tensors
                return 2 * x * grad

        class ScaleAndArgmax(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                index = x.argmax()
                ctx.mark_non_differentiable(index)
                return x * 2, index

            @staticmethod
            def backward(ctx, grad, grad_index):
                return grad * 2

        x = lib.tensor([1.0, 3.0, 2.0], requires_grad=True)
        y, index = ScaleAndArgmax.apply(Square.apply(x))
        assert not index.requires_grad and y.requires_grad
        y.sum().backward()
        results.append((x.grad.tolist(), index.item()))
    assert results[0] == results[1]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")      # 0 / 0 in sqrt's backward is the point here
def test_detect_anomaly_names_the_node_that_made_nan():
    for lib in (torch, deepdive):
        x = lib.tensor([0.0, 1.0], requires_grad=True)
        with pytest.warns(UserWarning) if lib is torch else _nothing():
            with lib.autograd.detect_anomaly():
                assert lib.is_anomaly_enabled()
                y = (x.sqrt() * 0).sum()       # d sqrt(0) = inf, times 0: nan
                with pytest.raises(RuntimeError, match="Function 'SqrtBackward0' returned nan values in its 0th "
                                                       "output"):
                    y.backward()
        assert not lib.is_anomaly_enabled()
    x = deepdive.tensor([0.0, 1.0], requires_grad=True)
    (x.sqrt() * 0).sum().backward()          # anomaly mode off: the nan just arrives
    assert np.isnan(x.grad._data[0])
    try:
        deepdive.autograd.set_detect_anomaly(True)
        with pytest.raises(RuntimeError, match="returned nan values"):
            (deepdive.tensor([0.0], requires_grad=True).sqrt() * 0).sum().backward()
    finally:
        deepdive.autograd.set_detect_anomaly(False)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_backward_with_inputs_accumulates_only_there():
    results = []
    for lib in (deepdive, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        w = lib.tensor([3.0, -1.0], requires_grad=True)
        h = x * w
        loss = (h * h).sum()
        loss.backward(inputs=[w, h], retain_graph=True)
        assert x.grad is None
        first_h = h.grad.tolist()
        loss.backward(inputs=w)
        assert x.grad is None
        results.append((w.grad.tolist(), first_h))
    assert results[0] == results[1]
    with pytest.raises(RuntimeError, match="cannot be empty"):
        (deepdive.ones(1, requires_grad=True) * 2).sum().backward(inputs=[])


def test_custom_function_sees_needs_input_grad_in_forward():
    seen = {}
    for lib in (deepdive, torch):
        class Scale(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                seen[lib.__name__] = tuple(ctx.needs_input_grad)
                return x * y

            @staticmethod
            def backward(ctx, grad):
                return grad, grad
        Scale.apply(lib.ones(2, requires_grad=True), lib.ones(2))
    assert seen["deepdive"] == seen["torch"] == (True, False)


def test_leaf_gradients_never_alias_other_arrays():
    """A first gradient that no one else holds becomes ``.grad`` without a copy (engine._exclusive_refcount);
    every shared one is still copied: changing one ``.grad`` in place never changes another tensor."""
    a, b = deepdive.randn(3, requires_grad=True), deepdive.randn(3, requires_grad=True)
    (a + b).sum().backward()                                    # one array handed to both leaves
    a.grad._data += 1
    np.testing.assert_array_equal(b.grad._data, np.ones(3, np.float32))
    g = deepdive.ones(3)
    c = deepdive.randn(3, requires_grad=True)
    c.clone().backward(g)                                       # the caller's own gradient passes through
    c.grad._data += 1
    np.testing.assert_array_equal(g._data, np.ones(3, np.float32))
    d = deepdive.randn(3, requires_grad=True)
    y = d.exp()                                                 # exp saves its output: dx = g * y
    y.sum().backward()
    assert not np.shares_memory(d.grad._data, y._data)
    layer = deepdive.nn.Linear(4, 2)
    x = deepdive.randn(5, 4)
    layer(x).sum().backward()                                   # dW = g^T x: fresh, kept without a copy
    first = layer.weight.grad._data.copy()
    layer(x).sum().backward()                                   # accumulates into it
    np.testing.assert_allclose(layer.weight.grad._data, 2 * first, rtol=1e-6)
    out = layer(x).sum()
    out.backward(retain_graph=True)                             # the graph keeps its arrays: still correct
    out.backward()
    np.testing.assert_allclose(layer.weight.grad._data, 4 * first, rtol=1e-6)
