"""create_graph=True for the index-driven, in-place, diagonal, einsum, cumulative and piecewise-constant ops:
second derivatives against torch (``check_second_order``, float32 and float64) and ``gradgradcheck``, with the
edge cases of their first-order tests (repeated indices, ties, zeros, include_self, broadcasting, views)."""
import numpy as np
import pytest

import deepdive
import deepdive.nn.functional as F
from parity import check_second_order, gradgradcheck, require_torch

rng = np.random.default_rng(0)
DTYPES = [np.float32, np.float64]


def on(m, name, values, dtype=None):
    """``m.tensor(values)`` for m in (deepdive, torch): index tensors built the same way in both."""
    return m.tensor(values) if dtype is None else m.tensor(values, dtype=getattr(m, dtype))


def both(make):
    """``make(m)`` is a function of tensors written once for deepdive and torch (m is the module)."""
    return make(deepdive), make(require_torch())


def check(make, inputs, *, ggc=True, **kwargs):
    ours, theirs = both(make)
    check_second_order(ours, theirs, inputs, **kwargs)
    if ggc:
        gradgradcheck(ours, *[a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
                              for a in inputs])


# ------------------------------------------------------------------ scatter / index_add / index_put / masks
INDEX = np.array([[0, 0, 2], [1, 3, 3], [2, 2, 2]])      # repeated targets in every row
UNIQUE = np.array([[0, 3, 2], [1, 0, 3], [3, 1, 0]])     # scatter: with repeats the last write wins, not gradcheckable

SCATTER = {
    "scatter": lambda m: lambda x, s: x.scatter(1, m.tensor(UNIQUE), s) * x,
    "scatter_repeats": lambda m: lambda x, s: x.scatter(1, m.tensor(INDEX), s) * x,
    "scatter_value": lambda m: lambda x, s: x.scatter(1, m.tensor(UNIQUE), 1.5) * x,
    "scatter_small_src": lambda m: lambda x, s: (x * x).scatter(0, m.tensor([[0, 2], [1, 0]]), s * s) ** 2,
    "scatter_add": lambda m: lambda x, s: x.scatter_add(1, m.tensor(INDEX), s * s) ** 2,
    "scatter_add_small_src": lambda m: lambda x, s: x.scatter_add(0, m.tensor(INDEX[:2, :2] % 3), s * x[:, :3]) ** 2,
    "scatter_1d": lambda m: lambda x, s: x[0].scatter(0, m.tensor([3, 1]), s[0, :2] * s[1, :2]) * x[0],
    "index_add": lambda m: lambda x, s: (x * x).index_add(1, m.tensor([0, 3, 0]), s * s, alpha=0.5) ** 2,
    "index_add_dim0": lambda m: lambda x, s: x.index_add(0, m.tensor([2, 2, 0]), s.sin()[:, :1].expand(3, 4)) * x,
    "index_put_acc": lambda m: lambda x, s: x.index_put((m.tensor([0, 2, 0]), m.tensor([1, 1, 1])), s[0] * s[1],
                                                        accumulate=True) ** 2,
    "index_put_acc_rows": lambda m: lambda x, s: x.index_put((m.tensor([1, 1]),), s[0, :1] * x[0],
                                                             accumulate=True) ** 2,
    "index_put": lambda m: lambda x, s: x.index_put((m.tensor([0, 2]), m.tensor([1, 3])), s[0, :2] * s[1, :2]) * x,
    "masked_scatter": lambda m: lambda x, s: (x * x).masked_scatter(x > 0, s * s) * x,
    "masked_scatter_broadcast": lambda m: lambda x, s: x.masked_scatter(m.tensor([True, False, True, True]),
                                                                        s.exp()) ** 2,
    "index_copy": lambda m: lambda x, s: x.index_copy(1, m.tensor([3, 0, 1]), s * s) * x,
}


# torch 2.13 fails its own double backward when src is larger than index ("ScatterBackward0 returned an
# invalid gradient at index 1 - got [2, 2] but expected shape compatible with [3, 3]"): gradgradcheck only.
TORCH_SMALL_INDEX_BUG = ("scatter_small_src", "scatter_add_small_src")


@pytest.mark.parametrize("name", list(SCATTER))
@pytest.mark.parametrize("dtype", DTYPES)
def test_scatter_family_second_order(name, dtype):
    x, s = rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal((3, 3)).astype(dtype)
    if name in TORCH_SMALL_INDEX_BUG:
        if dtype == np.float64:
            gradgradcheck(SCATTER[name](deepdive), x, s)
        return
    check(SCATTER[name], [x, s], ggc=dtype == np.float64 and name != "scatter_repeats")


REDUCES = ["sum", "prod", "mean", "amax", "amin"]


def scatter_reduce_fn(reduce, include_self, index=INDEX):
    return lambda m: lambda x, s: (x * x).scatter_reduce(1, m.tensor(index), s * s.abs(), reduce,
                                                         include_self=include_self) * x


@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_scatter_reduce_second_order(reduce, include_self, dtype):
    x, s = rng.uniform(0.5, 2, (3, 4)).astype(dtype), rng.uniform(0.5, 2, (3, 3)).astype(dtype)
    s *= rng.choice([-1, 1], s.shape).astype(dtype)
    check(scatter_reduce_fn(reduce, include_self), [x, s], ggc=dtype == np.float64)


@pytest.mark.parametrize("reduce", ["amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_ties_second_order(reduce, include_self):
    """Tied maxima/minima share the gradient; the share is constant, so its own derivative is 0 there."""
    x = np.array([[1.0, 2.0, 2.0, 0.5], [3.0, 1.0, 1.0, 1.0], [0.5, 0.5, 2.0, 2.0]])
    s = np.array([[1.0, 1.0, 2.0], [1.0, 1.0, 1.0], [2.0, 0.5, 2.0]])
    check_second_order(*both(lambda m: lambda a, b: a.scatter_reduce(1, m.tensor(INDEX), b, reduce,
                                                                     include_self=include_self) ** 2), [x, s])


@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_prod_with_zeros(include_self):
    """A zero in self or one zero in a slot of src: the gradient is the product of the others (PyTorch's rule),
    and it is differentiated again."""
    x = np.array([[1.5, 0.0, 2.0, 0.5], [3.0, 1.0, 0.0, 1.0], [0.5, -0.5, 2.0, 2.0]])
    s = np.array([[1.0, 0.0, 2.0], [0.5, 0.0, 1.5], [2.0, 0.5, -2.0]])
    make = lambda m: lambda a, b: a.scatter_reduce(1, m.tensor(INDEX), b, "prod", include_self=include_self) ** 2
    check_second_order(*both(make), [x, s])
    gradgradcheck(make(deepdive), x, s)


def test_scatter_reduce_prod_two_zeros_in_a_slot_raises_on_double_backward():
    """PyTorch: 'Double backward is unsupported for src when >1 zeros in src are scattered to the same position'."""
    t = require_torch()
    x = np.array([[1.5, 2.0, 2.0, 0.5]])
    s = np.array([[0.0, 0.0, 2.0]])
    index = np.array([[1, 1, 2]])
    for m in (deepdive, t):
        a, b = m.tensor(x, requires_grad=True), m.tensor(s, requires_grad=True)
        ga, gb = m.autograd.grad(a.scatter_reduce(1, m.tensor(index), b, "prod").pow(2).sum(), (a, b),
                                 create_graph=True)
        with pytest.raises(RuntimeError, match=r"Double backward is unsupported for src when >1 zeros"):
            m.autograd.grad(gb.sum(), (a, b))
        m.autograd.grad(ga.sum(), (a, b), allow_unused=True)      # the gradient of self still is differentiable


# ------------------------------------------------------------------ x[idx] = v, in-place ops on views
def setitem(index, value_fn):
    def make(m):
        def fn(x, v):
            y = x * 1.5
            y[index(m)] = value_fn(v)
            return y * x
        return fn
    return make


SETITEM = {
    "basic": setitem(lambda m: (slice(None), 1), lambda v: v[0, :3] * v[1, :3]),
    "int": setitem(lambda m: 0, lambda v: v[0] ** 2),
    "broadcast": setitem(lambda m: slice(1, 3), lambda v: v[0].sin()),
    "scalar_value": setitem(lambda m: (1, slice(None, None, 2)), lambda v: v[1, 0] * v[2, 1]),
    "advanced": setitem(lambda m: (m.tensor([0, 2]), m.tensor([1, 3])), lambda v: v[0, :2] * v[1, :2]),
    "mask": setitem(lambda m: m.tensor([[True, False, True, False], [False] * 4, [True] * 4]),
                    lambda v: (v[:2] ** 2).reshape(-1)[:6]),
    "ellipsis_negative": setitem(lambda m: (Ellipsis, -1), lambda v: v[2, :3].tanh()),
    "none_and_slice": setitem(lambda m: (None, slice(0, 2), 2), lambda v: v[0, :2] * v[1, :2]),
    "leading_ones": setitem(lambda m: 1, lambda v: v[:1] * v[1:2]),
}


@pytest.mark.parametrize("name", list(SETITEM))
@pytest.mark.parametrize("dtype", DTYPES)
def test_setitem_second_order(name, dtype):
    x, v = rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal((3, 4)).astype(dtype)
    check(SETITEM[name], [x, v], ggc=dtype == np.float64)


def inplace(body):
    def make(m):
        def fn(x, z):
            y = x.clone() * x
            body(m, y, z)
            return y.tanh() * x
        return fn
    return make


INPLACE = {
    "view_mul_": inplace(lambda m, y, z: y[:, 1].mul_(2.0)),
    "view_mul_tensor": inplace(lambda m, y, z: y[1:, ::2].mul_(z[:2, :2])),
    "row_assign": inplace(lambda m, y, z: y.__setitem__(0, z[0] * z[1])),
    "transposed_view_add_": inplace(lambda m, y, z: y.t()[1].add_(z[0, :3] ** 2)),
    "copy_": inplace(lambda m, y, z: y.copy_(z[0] * z[0])),
    "view_copy_": inplace(lambda m, y, z: y[2].copy_(z[1].exp())),
    "zero_": inplace(lambda m, y, z: y[:, 0].zero_()),
    "fill_tensor": inplace(lambda m, y, z: y[1].fill_(z[0, 0] * z[1, 1])),
    "diagonal_mul_": inplace(lambda m, y, z: y.diagonal().mul_(z[0, :3])),
    "setitem_advanced_view": inplace(lambda m, y, z: y[1:].__setitem__((m.tensor([0, 1, 1]), m.tensor([3, 0, 2])),
                                                                       z[0, :3] ** 2)),
    "earlier_view": inplace(lambda m, y, z: (y.__setitem__(0, z[0] * 2), y[1:].mul_(z[1:] ** 2))),
}


@pytest.mark.parametrize("name", list(INPLACE))
@pytest.mark.parametrize("dtype", DTYPES)
def test_inplace_on_views_second_order(name, dtype):
    x, z = rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal((3, 4)).astype(dtype)
    check(INPLACE[name], [x, z], ggc=dtype == np.float64)


def test_view_taken_before_the_change_second_order():
    """A view read before an in-place change of its base sees the new values (AsStrided onto CopySlices)."""
    def make(m):
        def fn(x, z):
            y = x * x
            row = y[1]
            y[1:].mul_(z[1:])
            return (row * x[0]).sin()
        return fn
    x, z = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    check(make, [x, z])


# ------------------------------------------------------------------ diagonals, block_diag, repeat_interleave
JOINING = {
    "diagonal": lambda m: lambda a, b: (a * a).diagonal() * a.diagonal(1).sum(),
    "diagonal_offset_dims": lambda m: lambda a, b: (a.reshape(2, 3, 2) ** 2).diagonal(-1, 2, 0) ** 2,
    "diag_matrix": lambda m: lambda a, b: m.diag(a * a, 1) ** 2 + m.diag(a, -2).sum(),
    "diag_vector": lambda m: lambda a, b: m.diag(b[0] * b[1], -1) * m.diag(b[0] ** 2, -1),
    "diag_embed": lambda m: lambda a, b: m.diag_embed(a * a) ** 2,
    "diag_embed_offset_dims": lambda m: lambda a, b: m.diag_embed(a[:2] * b[:, :1], -1, 0, 2) ** 2,
    "trace": lambda m: lambda a, b: (a[:, :3] @ a[:, 1:].t()).trace() * a,
    "block_diag": lambda m: lambda a, b: m.block_diag(a * a, b, b[0] * b[1], (a * b[0, 0]).sum()) ** 2,
    "repeat_interleave": lambda m: lambda a, b: (a * a).repeat_interleave(2, dim=1) ** 2,
    "repeat_interleave_flat": lambda m: lambda a, b: (a * a).repeat_interleave(3) * a.sum(),
    "repeat_interleave_counts": lambda m: lambda a, b: (a * a).repeat_interleave(m.tensor([2, 0, 1]), dim=0) ** 2,
}


@pytest.mark.parametrize("name", list(JOINING))
@pytest.mark.parametrize("dtype", DTYPES)
def test_joining_second_order(name, dtype):
    a, b = rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal((2, 3)).astype(dtype)
    check(JOINING[name], [a, b], ggc=dtype == np.float64)


# ------------------------------------------------------------------ einsum
EINSUM = {
    "matmul": ("ij,jk->ik", [(3, 4), (4, 2)]),
    "batched": ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
    "three": ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    "outer": ("i,j->ij", [(3,), (4,)]),
    "trace": ("ii->", [(3, 3)]),
    "diagonal": ("ii->i", [(3, 3)]),
    "diag_batch": ("bii,bj->bij", [(2, 3, 3), (2, 4)]),
    "summed_out": ("ij,kl->ik", [(2, 3), (4, 5)]),
    "implicit": ("ij,jk", [(3, 4), (4, 2)]),
    "ellipsis_broadcast": ("...ij,...jk->...ik", [(2, 1, 3, 4), (3, 4, 2)]),
    "square": ("ij,ij->i", [(3, 4), (3, 4)]),
    "triple_diagonal": ("iii,ij->ij", [(3, 3, 3), (3, 2)]),
    "same_operand": ("ij,jk->ik", [(3, 3)]),
}


@pytest.mark.parametrize("name", list(EINSUM))
@pytest.mark.parametrize("dtype", DTYPES)
def test_einsum_second_order(name, dtype):
    equation, shapes = EINSUM[name]
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    if name == "same_operand":
        make = lambda m: lambda a: m.einsum(equation, a, a.sin()) ** 2
    else:
        make = lambda m: lambda *xs: (m.einsum(equation, *xs) ** 2).sum() * xs[0].sum()
    check(make, arrays, ggc=dtype == np.float64)


# ------------------------------------------------------------------ cumulative products and sums, prod, kl_div
ZEROS = np.array([[1.5, 0.0, 3.0, 0.5], [2.0, -3.0, 0.0, 0.0], [0.5, 2.0, -1.0, 1.5]])

CUMULATIVE = {
    "cumprod": lambda m: lambda x: x.cumprod(1) * x,
    "cumprod_dim0": lambda m: lambda x: x.cumprod(0) ** 2,
    "cumprod_0d": lambda m: lambda x: x[0, 0].cumprod(0) * x,
    "prod_dim": lambda m: lambda x: x.prod(1) * x.sum(),
    "prod_dim0_keepdim": lambda m: lambda x: x.prod(0, keepdim=True) * x,
    "prod_all": lambda m: lambda x: x.prod() * x.sum(),
    "prod_row": lambda m: lambda x: x[:, 1:].prod() * x,
    "logcumsumexp": lambda m: lambda x: x.logcumsumexp(1) ** 2,
    "logcumsumexp_dim0": lambda m: lambda x: x.logcumsumexp(0) * x,
}


@pytest.mark.parametrize("name", list(CUMULATIVE))
@pytest.mark.parametrize("zeros", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cumulative_second_order(name, zeros, dtype):
    """With zeros in the input, PyTorch's exact formulas (cumprod's O(n^2) one, prod's exclusive cumprods)."""
    x = (ZEROS if zeros else rng.uniform(0.5, 1.5, (3, 4)) * rng.choice([-1, 1], (3, 4))).astype(dtype)
    if name == "logcumsumexp_dim0" and zeros:
        # x * logcumsumexp(x): the gradient reaching logcumsumexp is 0 where x is, and torch's second derivative
        # is NaN there (it differentiates log|g| at g = 0); ours is exact, which gradgradcheck checks.
        gradgradcheck(CUMULATIVE[name](deepdive), x.astype(np.float64))
        return
    check(CUMULATIVE[name], [x], ggc=dtype == np.float64)


def test_prod_with_zeros_third_order():
    """Exact to any order: d^3/dx0 dx1 dx2 of x0 x1 x2 x3 = x3, also where x0 = x1 = 0."""
    x = deepdive.tensor([0.0, 0.0, 2.0, 3.0], requires_grad=True)
    g, = deepdive.autograd.grad(x.prod(), x, create_graph=True)
    h, = deepdive.autograd.grad(g[0], x, create_graph=True)
    k, = deepdive.autograd.grad(h[1], x)
    np.testing.assert_allclose(g._data, [0, 0, 0, 0])
    np.testing.assert_allclose(h._data, [0, 6, 0, 0])
    np.testing.assert_allclose(k._data, [0, 0, 3, 2])


def kl(reduction, log_target):
    return lambda m: lambda x, t: m.nn.functional.kl_div(x, (t.exp() / 4 if not log_target else t * 0.5), reduction=reduction,
                                                         log_target=log_target) * (x.sum() if reduction != "none" else x)


@pytest.mark.filterwarnings("ignore:reduction")
@pytest.mark.parametrize("reduction", ["none", "mean", "sum", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_div_second_order(reduction, log_target, dtype):
    x = rng.standard_normal((3, 4)).astype(dtype)
    t = rng.standard_normal((3, 4)).astype(dtype)
    check(kl(reduction, log_target), [x, t], ggc=dtype == np.float64)


def test_kl_div_broadcast_target_second_order():
    make = lambda m: lambda x, t: m.nn.functional.kl_div(x, t.softmax(0), reduction="sum") * x.sum()
    check(make, [rng.standard_normal((3, 4)), rng.standard_normal(4)])


# ------------------------------------------------------------------ remainder and the piecewise-constant ops
PIECEWISE = {
    "remainder": lambda m: lambda x, y: x.remainder(y) * x * y,
    "remainder_scalar": lambda m: lambda x, y: (x * 3).remainder(1.5) * x,
    "remainder_broadcast": lambda m: lambda x, y: m.remainder(x, y[0]) ** 2,
    "floor": lambda m: lambda x, y: (x * 2).floor() * x,
    "ceil": lambda m: lambda x, y: (x * 2).ceil() * x + y,
    "trunc": lambda m: lambda x, y: (x * 2).trunc() * y,
    "round": lambda m: lambda x, y: (x * 2).round() * x,
    "round_decimals": lambda m: lambda x, y: (x * 2).round(decimals=1) * x,
    "sign": lambda m: lambda x, y: x.sign() * x * y,
    "div_floor": lambda m: lambda x, y: x.div(y, rounding_mode="floor") * x * y,
    "div_trunc": lambda m: lambda x, y: m.div(x, y, rounding_mode="trunc") * y,
    "floor_alone": lambda m: lambda x, y: (x * y).floor(),
}


@pytest.mark.parametrize("name", list(PIECEWISE))
@pytest.mark.parametrize("dtype", DTYPES)
def test_piecewise_second_order(name, dtype):
    """The derivative of a rounding op is 0, and so is the derivative of that 0 (torch agrees)."""
    x = rng.uniform(-3, 3, (3, 4)).astype(dtype)
    y = (rng.uniform(0.5, 2, (3, 4)) * rng.choice([-1, 1], (3, 4))).astype(dtype)
    check(PIECEWISE[name], [x, y], ggc=dtype == np.float64)


def test_floor_divide_has_no_derivative_at_any_order():
    t = require_torch()
    for m in (deepdive, t):
        x = m.tensor([3.0, -2.5], requires_grad=True)
        y = m.tensor([2.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="derivative for aten::floor_divide is not implemented"):
            m.autograd.grad((x.floor_divide(y) * x).sum(), (x, y), create_graph=True)


def test_logcumsumexp_large_and_third_order():
    """No overflow with large inputs (the composite is shifted per row by logsumexp), and any order works."""
    make = lambda m: lambda x: x.logcumsumexp(1) * x
    x = np.array([[800.0, -700.0, 801.0], [-1000.0, 3.0, 2.0]])
    check(make, [x])
    a = deepdive.tensor(x, requires_grad=True)
    g, = deepdive.autograd.grad(a.logcumsumexp(1).sum(), a, create_graph=True)
    h, = deepdive.autograd.grad(g.sum(), a, create_graph=True)
    k, = deepdive.autograd.grad((h * h).sum(), a)
    assert np.isfinite(k._data).all()


def test_setitem_into_a_tensor_without_grad():
    """y = zeros; y[1] = f(z): only the value carries a gradient, and it is differentiated again."""
    def make(m):
        def fn(z):
            y = m.zeros(3, 4, dtype=z.dtype)
            y[1] = z[0] * z[1]
            y[:, 2] += z[2, :3].exp()
            return y * z
        return fn
    check(make, [rng.standard_normal((3, 4))])


def test_hessian_through_scatter_add_and_einsum():
    """deepdive.func.hessian (reverse over reverse) against torch.func.hessian."""
    t = require_torch()
    x = rng.standard_normal(4)
    index = [0, 2, 2, 1]

    def fn(m):
        def f(v):
            s = m.zeros(3, dtype=v.dtype).scatter_add(0, m.tensor(index), v * v)
            return m.einsum("i,i->", s, s.sin()) + v.cumprod(0).sum()
        return f
    ours = deepdive.func.hessian(fn(deepdive))(deepdive.tensor(x))
    theirs = t.func.hessian(fn(t))(t.tensor(x))
    np.testing.assert_allclose(ours._data, theirs.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("make", [SCATTER["index_add"], JOINING["block_diag"],
                                  INPLACE["view_mul_tensor"], scatter_reduce_fn("amax", False)])
def test_third_order(make):
    """The recorded backward is itself recorded: a third derivative (HVP of an HVP) against torch's."""
    t = require_torch()
    x, s = rng.standard_normal((3, 4)), rng.uniform(0.5, 2, (3, 3))
    if make is JOINING["block_diag"]:
        s = rng.standard_normal((2, 3))
    if make is INPLACE["view_mul_tensor"]:
        s = rng.standard_normal((3, 4))
    results = []
    for m in (deepdive, t):
        a, b = m.tensor(x, requires_grad=True), m.tensor(s, requires_grad=True)
        out = make(m)(a, b)
        ga, gb = m.autograd.grad((out * out).sum(), (a, b), create_graph=True)
        ha, hb = m.autograd.grad((ga * ga).sum() + (gb * gb).sum(), (a, b), create_graph=True)
        results.append(m.autograd.grad((ha * ha).sum() + hb.sum(), (a, b), allow_unused=True))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours._data, theirs.detach().numpy(), rtol=1e-9, atol=1e-10)
