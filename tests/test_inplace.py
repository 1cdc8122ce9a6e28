"""In-place ops against PyTorch, and the version counter that guards tensors saved for backward."""
import numpy as np
import pytest

import deepdive
from parity import check_parity, require_torch

torch = require_torch()
rng = np.random.default_rng(4)
X = rng.uniform(0.5, 2.0, (3, 4)) * rng.choice([-1, 1], (3, 4))
POS = np.abs(X)
OTHER = rng.uniform(0.5, 2.0, (4,))

# name -> (call on a tensor y (lib given), input array, needs the OTHER tensor)
INPLACE = {
    "add_": (lambda lib, y, o: y.add_(o, alpha=2), X, True),
    "add_number": (lambda lib, y, o: y.add_(1.5), X, False),
    "sub_": (lambda lib, y, o: y.sub_(o), X, True),
    "mul_": (lambda lib, y, o: y.mul_(o), X, True),
    "mul_number": (lambda lib, y, o: y.mul_(3), X, False),
    "div_": (lambda lib, y, o: y.div_(o), X, True),
    "pow_": (lambda lib, y, o: y.pow_(2), X, False),
    "pow_tensor": (lambda lib, y, o: y.pow_(o), POS, True),
    "neg_": (lambda lib, y, o: y.neg_(), X, False),
    "abs_": (lambda lib, y, o: y.abs_(), X, False),
    "exp_": (lambda lib, y, o: y.exp_(), X, False),
    "log_": (lambda lib, y, o: y.log_(), POS, False),
    "sqrt_": (lambda lib, y, o: y.sqrt_(), POS, False),
    "sigmoid_": (lambda lib, y, o: y.sigmoid_(), X, False),
    "tanh_": (lambda lib, y, o: y.tanh_(), X, False),
    "relu_": (lambda lib, y, o: y.relu_(), X, False),
    "clamp_": (lambda lib, y, o: y.clamp_(-1, 1), X, False),
    "clamp_min": (lambda lib, y, o: y.clamp_(min=0.7), X, False),
    "clip_": (lambda lib, y, o: y.clip_(max=0.5), X, False),
    "lerp_": (lambda lib, y, o: y.lerp_(o, 0.3), X, True),
    "addcmul_": (lambda lib, y, o: y.addcmul_(o, o, value=0.5), X, True),
    "addcdiv_": (lambda lib, y, o: y.addcdiv_(o, o * o, value=2), X, True),
    "floor_": (lambda lib, y, o: y.floor_(), X, False),
    "round_": (lambda lib, y, o: y.round_(), X, False),
    "reciprocal_": (lambda lib, y, o: y.reciprocal_(), X, False),
    "square_": (lambda lib, y, o: y.square_(), X, False),
    "sign_": (lambda lib, y, o: y.sign_(), X, False),
    "zero_": (lambda lib, y, o: y.zero_(), X, False),
    "fill_": (lambda lib, y, o: y.fill_(2.5), X, False),
    "copy_": (lambda lib, y, o: y.copy_(o), X, True),
    "masked_fill_": (lambda lib, y, o: y.masked_fill_(lib.tensor(X > 0), -1.0), X, False),
    "iadd": (lambda lib, y, o: y.__iadd__(o), X, True),
    "isub": (lambda lib, y, o: y.__isub__(o * 2), X, True),
    "imul": (lambda lib, y, o: y.__imul__(o), X, True),
    "itruediv": (lambda lib, y, o: y.__itruediv__(o), X, True),
    "t_": (lambda lib, y, o: y.t_(), X, False),
    "transpose_": (lambda lib, y, o: y.transpose_(0, 1), X, False),
    "unsqueeze_": (lambda lib, y, o: y.unsqueeze_(1), X, False),
    "squeeze_": (lambda lib, y, o: y.unsqueeze_(0).squeeze_(0), X, False),
}


def on_non_leaf(name):
    """y = x * 1.5 (a non-leaf), changed in place, then y * 2: torch's gradients must flow through."""
    call, _, uses_other = INPLACE[name]

    def make(lib):
        def fn(x, *o):
            y = x * 1.5
            out = call(lib, y, o[0] if o else None)
            assert out is y, f"{name} must return the tensor itself"
            return y * 2
        return fn
    return make


@pytest.mark.parametrize("name", list(INPLACE))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_inplace_on_non_leaf_matches_torch(name, dtype):
    _, array, uses_other = INPLACE[name]
    make = on_non_leaf(name)
    inputs = [array.astype(dtype)] + ([OTHER.astype(dtype)] if uses_other else [])
    check_parity(make(deepdive), make(torch), inputs)


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_without_grad_changes_the_same_memory(name):
    call, array, uses_other = INPLACE[name]
    results = []
    for lib in (deepdive, torch):
        y = lib.tensor(array.astype(np.float32))
        o = lib.tensor(OTHER.astype(np.float32)) if uses_other else None
        before = y._data if lib is deepdive else None
        version = y._version
        out = call(lib, y, o)
        assert out is y
        if lib is deepdive:
            if not name.endswith(("t_", "transpose_", "squeeze_", "unsqueeze_")):
                assert y._data is before
                assert y._version > version
        results.append(y.numpy().copy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)
    assert results[0].dtype == results[1].dtype


def test_inplace_on_leaf_requiring_grad_raises():
    x = deepdive.ones(3, requires_grad=True)
    for op in [lambda t: t.add_(1), lambda t: t.mul_(2), lambda t: t.exp_(), lambda t: t.zero_(),
               lambda t: t.fill_(1.0), lambda t: t.copy_(deepdive.ones(3)), lambda t: t.__iadd__(1),
               lambda t: t.masked_fill_(deepdive.ones(3, dtype=deepdive.bool), 0.0), lambda t: t.uniform_()]:
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place "
                                               "operation"):
            op(x)
    with deepdive.no_grad():           # how optimizers update parameters
        x.add_(1).mul_(2)
    np.testing.assert_array_equal(x._data, [4.0, 4.0, 4.0])
    assert x.is_leaf and x.requires_grad


@pytest.mark.parametrize("case", ["exp_output", "sigmoid_input", "mul_inputs", "custom_saved", "pow_input",
                                  "tanh_output", "div_inputs"])
def test_modifying_a_saved_tensor_raises(case):
    def build(lib):
        x = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
        if case == "exp_output":           # exp saves its output
            y = x.exp()
            y.add_(1)
            return y.sum()
        if case == "sigmoid_input":       # y = a.sigmoid() saves the output; a.mul_ is then fine in torch; ours too
            a = x * 2
            b = a.sigmoid()
            b.mul_(2)
            return b.sum()
        if case == "mul_inputs":
            a, b = x * 2, x + 1
            c = a * b
            a.mul_(2)
            return c.sum()
        if case == "custom_saved":
            a = x * 2
            c = a.log1p() if False else (a * a)
            a.sub_(1)
            return c.sum()
        if case == "pow_input":
            a = x * 2
            c = a ** 3
            a.zero_()
            return c.sum()
        if case == "tanh_output":
            y = (x * 1).tanh()
            y[0] = 0.0
            return y.sum()
        if case == "div_inputs":
            a, b = x * 2, x + 3
            c = a / b
            b.add_(1)
            return c.sum()
    for lib in (torch, deepdive):
        loss = build(lib)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            loss.backward()


def test_version_counter_error_names_the_tensor():
    x = deepdive.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"\[float32 tensor of shape \[2\]\].*is at version 1; expected version 0"):
        y.sum().backward()


def test_version_counter_counts_and_is_shared_by_detach_not_data():
    x = deepdive.zeros(3)
    assert x._version == 0
    x.add_(1)
    x[0] = 2
    x.zero_()
    assert x._version == 3
    d = x.detach()
    d.add_(1)
    assert x._version == 4
    assert x.data._version == 0       # .data has its own counter, as in PyTorch (torch says 0 here too)
    np.testing.assert_array_equal(x._data, [1.0, 1.0, 1.0])


def test_detached_change_of_saved_tensor_is_caught():
    for lib in (torch, deepdive):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x.exp()
        y.detach().mul_(3)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_chained_inplace_on_non_leaf_keeps_history():
    def fn(lib):
        def f(x, w):
            h = x * w
            h.add_(1).mul_(w)
            h += x
            h.relu_()
            return h.sum(0)
        return f
    check_parity(fn(deepdive), fn(torch), [X, OTHER])


def test_inplace_with_operand_requiring_grad_on_plain_tensor():
    def fn(lib):
        def f(w):
            buf = lib.zeros(3, 4)
            buf.add_(w * 2)          # buf did not require grad; it does afterwards, through w
            assert buf.requires_grad and buf.grad_fn is not None
            return buf * buf
        return f
    check_parity(fn(deepdive), fn(torch), [OTHER])


def test_inplace_dtype_rules():
    x = deepdive.zeros(3, dtype=deepdive.int64)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        x.add_(1.5)
    x.add_(2)
    assert x.dtype == deepdive.int64 and x.tolist() == [2, 2, 2]
    f = deepdive.zeros(2)
    f.add_(deepdive.ones(2, dtype=deepdive.float64))
    assert f.dtype == deepdive.float32
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        deepdive.zeros(3).add_(deepdive.ones(2, 3))


def test_setitem_with_grad_matches_torch():
    def fn(lib):
        def f(x, v):
            y = x.exp()
            z = y * 1
            z[0] = v
            z[1, 1:3] = v[:2] * 2
            z[z > 2] = 0.0
            return z * y
        return f
    check_parity(fn(deepdive), fn(torch), [X[:2], OTHER])


def test_random_fills_keep_dtype_and_shape():
    for name, args in [("uniform_", (-1, 1)), ("normal_", (0, 2)), ("bernoulli_", (0.3,)), ("exponential_", ()),
                       ("random_", (0, 10))]:
        x = deepdive.zeros(50, dtype=deepdive.float64)
        assert getattr(x, name)(*args) is x and x.dtype == deepdive.float64 and x._version == 1
    assert (deepdive.zeros(1000).uniform_(2, 3)._data >= 2).all()
    assert set(np.unique(deepdive.zeros(1000).bernoulli_(0.5)._data)) <= {0.0, 1.0}


def test_fill_diagonal_matches_torch():
    a, b = deepdive.zeros(3, 4), torch.zeros(3, 4)
    a.fill_diagonal_(5.0)
    b.fill_diagonal_(5.0)
    np.testing.assert_array_equal(a._data, b.numpy())


VIEW_CASES = {
    "row_mul_": lambda lib, x: (lambda y: (y[0].mul_(2), y * y)[1])(x * 1),
    "row_of_exp_mul_": lambda lib, x: (lambda y: (y[0].mul_(2), y)[1])(x * 1 + 1),
    "setitem_on_view": lambda lib, x: (lambda y: (y[0].__setitem__(1, 7.0), y * y)[1])(x * 1),
    "transpose_view": lambda lib, x: (lambda y: (y.t().mul_(2), y * y)[1])(x * 1),
    "view_used_afterwards": lambda lib, x: (lambda y: (lambda v: (v.mul_(x[0]), v * y[1:].sum())[1])(y[0]))(x * 1),
    "buffer_row_add_": lambda lib, x: (lambda b: (b[1].add_(x[0] * 2), b * b)[1])(lib.zeros(2, 3, dtype=x.dtype)),
    "narrow_exp_": lambda lib, x: (lambda y: (y.narrow(1, 1, 2).exp_(), y * y)[1])(x * 1),
    "flat_view_slice": lambda lib, x: (lambda y: (y.view(-1)[2:4].mul_(3), y * y)[1])(x * 1),
    "view_of_view_zero_": lambda lib, x: (lambda y: (y[1][1:].zero_(), y * y)[1])(x * 1),
    "column_copy_": lambda lib, x: (lambda y: (y[:, 0].copy_(x[:, 2] * 5), y * y)[1])(x * 1),
    "diagonal_fill_": lambda lib, x: (lambda y: (y.diagonal().fill_(1.0), y * y)[1])(x * 1),
    "select_masked_fill_": lambda lib, x: (lambda y: (y.select(1, 2).masked_fill_(lib.tensor([True, False]), 0.0),
                                                      y * y)[1])(x * 1),
    # views taken *before* their base changes in place differentiate through the change
    "old_view_after_base_relu_": lambda lib, x: (lambda y: (lambda h: (y.relu_(), h * 3)[1])(y.view(-1)))(x * 1),
    "old_row_after_base_mul_": lambda lib, x: (lambda y: (lambda r: (y.mul_(x), r * 1)[1])(y[1]))(x * 1),
    "two_views_one_changed": lambda lib, x: (lambda y: (lambda a, b: (a.mul_(2), b.sum() * y)[1])(y[0], y[:, 1]))(
        x * 1),
    "old_transpose_after_exp_": lambda lib, x: (lambda y: (lambda t: (y.exp_(), t @ y)[1])(y.t()))(x * 1),
    "old_view_after_setitem": lambda lib, x: (lambda y: (lambda v: (y.__setitem__(0, x[1] * 5), v * 2)[1])(y[0]))(
        x * 1),
}


@pytest.mark.parametrize("name", list(VIEW_CASES))
def test_inplace_on_a_view_updates_the_base_graph_like_torch(name):
    fn = VIEW_CASES[name]
    check_parity(lambda x: fn(deepdive, x), lambda x: fn(torch, x), [X[:2, :3].copy()])


def test_inplace_on_view_of_leaf_raises_and_views_share_the_version_counter():
    x = deepdive.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad is being used in an "
                                           "in-place operation"):
        x[0].mul_(2)
    y = x.exp()
    row = y[1]
    row.add_(1)                           # changes y, which exp saved for backward
    assert y._version == 1 and row._version == 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    with deepdive.no_grad():              # optimizer-style updates through a view are fine
        x[0].mul_(2)
    np.testing.assert_array_equal(x._data, [[2, 2, 2], [1, 1, 1]])


def test_resize_keeps_the_leading_elements_like_torch():
    for shape in [(2, 2), (3,), (1, 4)]:
        a, b = deepdive.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([1.0, 2.0, 3.0, 4.0])
        assert a.resize_(*shape) is a
        b.resize_(*shape)
        assert a.tolist() == b.tolist() and tuple(a.shape) == tuple(b.shape)
    with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
        deepdive.ones(4, requires_grad=True).resize_(2, 2)


def test_inplace_on_expanded_view_raises():
    x = deepdive.ones(3, requires_grad=True) * 1
    y = x.expand(2, 3)
    with pytest.raises(RuntimeError, match="expanded view"):
        y.mul_(2)
    with pytest.raises(RuntimeError, match="expanded view"):
        deepdive.zeros(1).expand(4).add_(1)


def test_inplace_change_of_an_input_that_was_not_saved_is_allowed_like_torch():
    # sigmoid saves its output, not its input; x * 2 saves only the number: a.mul_(2) harms nothing
    def fn(lib):
        def f(x):
            a = x * 2
            b = a.sigmoid()
            a.mul_(2)
            return b + a
        return f
    check_parity(fn(deepdive), fn(torch), [X])
    for lib in (torch, deepdive):          # ... but a * tanh(a) saved a for the product's gradient
        x = lib.tensor([0.5, -1.0], requires_grad=True)
        a = x * 2
        b = a.tanh() * a
        a.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            b.sum().backward()


def test_fill_diagonal_on_non_leaf_matches_torch_gradients():
    for wrap in (False, True):
        def fn(lib):
            def f(x):
                y = x * 2
                y.fill_diagonal_(0.5, wrap=wrap)
                return y * y
            return f
        check_parity(fn(deepdive), fn(torch), [rng.standard_normal((7, 3))])


def test_random_fill_of_non_leaf_cuts_the_gradient_like_torch():
    for lib in (deepdive, torch):
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        y.uniform_(0, 1)
        assert y.requires_grad
        (y * 3 + x).sum().backward()
        assert x.grad.tolist() == [1.0, 1.0, 1.0]


def test_retain_grad_follows_the_tensor_through_inplace_changes():
    def scenarios(lib):
        out = []
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.retain_grad()
        y.mul_(3)
        (y * y).sum().backward()
        out.append(y.grad.tolist())
        for use_view, change_view in [(False, True), (True, True), (True, False)]:
            x = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
            y = x * 2
            v = y[0]
            v.retain_grad()
            (v if change_view else y).mul_(3)
            loss = (v * y[0]).sum() if use_view else (y * y).sum()
            loss.backward()
            out.append((None if v.grad is None else v.grad.tolist(), x.grad.tolist()))
        return out
    assert scenarios(deepdive) == scenarios(torch)
