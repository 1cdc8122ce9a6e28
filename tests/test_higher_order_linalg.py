"""create_graph=True for the linear-algebra ops, distances, embedding_bag, ctc_loss, the special functions,
sparse tensors, checkpoint, backward hooks, autocast's rounding and packed RNNs: second derivatives against
torch's (``check_second_order``: autograd.grad twice) and ``gradgradcheck``; where torch 2.13 has no double
backward, the same error."""
import numpy as np
import pytest

import deepdive
import deepdive.nn.functional as F
from parity import check_second_order, gradgradcheck, require_torch

rng = np.random.default_rng(0)


def square(*batch, n=3):
    """Well-conditioned square matrices (identity-dominated)."""
    return rng.standard_normal(batch + (n, n)) + 3 * np.eye(n)


def spd(x, lib):
    """A symmetric positive-definite matrix from any square x (so that the perturbations stay symmetric)."""
    n = x.shape[-1]
    return x @ x.mT + lib.eye(n, dtype=x.dtype)


# ------------------------------------------------------------------ linalg
# Gauge-invariant functions of the decompositions (squares of singular / eigen / Q vectors), so that
# LAPACK's sign choices do not matter.
LINALG = {
    "inv": lambda L: lambda A: L.linalg.inv(A),
    "solve": lambda L: lambda A, B: L.linalg.solve(A, B),
    "det": lambda L: lambda A: L.linalg.det(A),
    "slogdet": lambda L: lambda A: L.linalg.slogdet(A).logabsdet,
    "cholesky": lambda L: lambda X: L.linalg.cholesky(spd(X, L)),
    "cholesky_upper": lambda L: lambda X: L.linalg.cholesky(spd(X, L), upper=True),
    "qr": lambda L: lambda A: tuple(t ** 2 for t in L.linalg.qr(A)),
    "svd": lambda L: lambda A: (lambda u, s, vh: (u ** 2, s, vh ** 2, u @ vh))(*L.linalg.svd(A, full_matrices=False)),
    "svdvals": lambda L: lambda A: L.linalg.svdvals(A),
    "eigh": lambda L: lambda X: (lambda w, v: (w, v ** 2))(*L.linalg.eigh(X + X.mT)),
    "eigvalsh": lambda L: lambda X: L.linalg.eigvalsh(X + X.mT),
    "pinv": lambda L: lambda A: L.linalg.pinv(A),
    "cross": lambda L: lambda a, b: L.linalg.cross(a, b) * a,
}


def linalg_inputs(name, batch):
    if name == "solve":
        return [square(*batch), rng.standard_normal(batch + (3, 2))]
    if name == "cross":
        return [rng.standard_normal(batch + (4, 3)), rng.standard_normal(batch + (1, 3))]
    if name == "qr":
        return [rng.standard_normal(batch + (4, 3))]
    if name in ("svd", "svdvals", "pinv"):
        return [rng.standard_normal(batch + (3, 4))]
    if name in ("cholesky", "cholesky_upper", "eigh", "eigvalsh"):
        return [rng.standard_normal(batch + (3, 3))]
    return [square(*batch)]


@pytest.mark.parametrize("name", list(LINALG))
@pytest.mark.parametrize("batch", [(), (2,)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_linalg_second_order(name, batch, dtype):
    t = require_torch()
    tol = {} if dtype == np.float64 else {"rtol": 2e-3, "atol": 2e-4}
    check_second_order(LINALG[name](deepdive), LINALG[name](t), [x.astype(dtype) for x in linalg_inputs(name, batch)],
                       **tol)


@pytest.mark.parametrize("name", list(LINALG))
def test_linalg_gradgradcheck(name):
    gradgradcheck(LINALG[name](deepdive), *linalg_inputs(name, (2,)))


@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (3, 3)])
def test_qr_svd_shapes_second_order(shape):
    """Tall, wide and square: QR's two branches, SVD's (I - UU^T) and (I - VV^T) terms."""
    t = require_torch()
    a = rng.standard_normal((2,) + shape)
    for name in ("qr", "svd", "pinv"):
        check_second_order(LINALG[name](deepdive), LINALG[name](t), [a])


def test_full_factors_second_order():
    """svd(full_matrices=True), square and not (torch 2.13 differentiates through the first k columns of U /
    rows of Vh and drops the rest), through S only too; qr(mode='complete') with m <= n, and its error for m > n."""
    t = require_torch()
    full = lambda L: lambda A: (lambda u, s, vh: (u[..., :, :3] ** 2, s, vh[..., :3, :] ** 2, u ** 2, vh ** 2))(
        *L.linalg.svd(A))
    only_s = lambda L: lambda A: L.linalg.svd(A).S ** 2
    complete = lambda L: lambda A: tuple(f ** 2 for f in L.linalg.qr(A, mode="complete"))
    for shape in ((2, 3, 3), (3, 5), (5, 3)):
        check_second_order(full(deepdive), full(t), [rng.standard_normal(shape)])
        check_second_order(only_s(deepdive), only_s(t), [rng.standard_normal(shape)])
    check_second_order(complete(deepdive), complete(t), [rng.standard_normal((3, 4))])
    x = deepdive.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    q = deepdive.linalg.qr(x, mode="complete").Q
    with pytest.raises(RuntimeError, match="mode='complete' and nrows > ncols"):
        deepdive.autograd.grad(q.sum(), x, create_graph=True)


def test_solve_broadcast_and_vector_rhs_second_order():
    t = require_torch()
    fn = lambda L: lambda A, b: L.linalg.solve(A, b) ** 2
    check_second_order(fn(deepdive), fn(t), [square(2), rng.standard_normal(3)])
    check_second_order(fn(deepdive), fn(t), [square(), rng.standard_normal((2, 3, 4))])
    gradgradcheck(fn(deepdive), square(2), rng.standard_normal((2, 3)))


def _cofactor_hvp(a, v, eps=1e-6):
    """d/dA sum(cof(A) * v) by central differences: the cofactors are polynomials, so this is accurate."""
    def cofactors(m):
        n = m.shape[-1]
        return np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(m, i, 0), j, 1)) for j in range(n)]
                         for i in range(n)])
    out = np.zeros_like(a)
    for index in np.ndindex(a.shape):
        e = np.zeros_like(a)
        e[index] = eps
        out[index] = ((cofactors(a + e) - cofactors(a - e)) * v).sum() / (2 * eps)
    return out


def test_det_singular_second_order():
    """At a singular matrix det's gradient is the adjugate, still differentiable: recorded through the SVD
    there (as torch where |det| < eps), through the inverse elsewhere; a batch mixes both."""
    t = require_torch()
    fn = lambda L: lambda A: L.linalg.det(A) * 2
    exact = square(3)
    exact[0, 2] = 0                                       # det exactly 0 (a zero row): torch's SVD path too
    exact[2, :, 1] = 0
    check_second_order(fn(deepdive), fn(t), [exact])
    check_second_order(fn(deepdive), fn(t), [exact[[0, 2]]])
    local = np.random.default_rng(4)
    for _ in range(5):                                    # det rounds to ~1e-16, not 0
        a = local.standard_normal((3, 3))
        a[2] = a[0] + a[1]
        v = local.standard_normal((3, 3))
        x = deepdive.tensor(a, requires_grad=True)
        (g,) = deepdive.autograd.grad(deepdive.linalg.det(x), x, create_graph=True)
        (h,) = deepdive.autograd.grad((g * deepdive.tensor(v)).sum(), x)
        np.testing.assert_allclose(h.numpy(), _cofactor_hvp(a, v), rtol=1e-6, atol=1e-8)


COMPOSED = {       # the public functions composed from the Functions above
    "pinv_rank_deficient": (lambda L: lambda A: L.linalg.pinv(A),
                            lambda: [rng.standard_normal((4, 2)) @ rng.standard_normal((2, 3))]),
    "lstsq": (lambda L: lambda A, B: L.linalg.lstsq(A, B).solution,
              lambda: [rng.standard_normal((5, 3)), rng.standard_normal((5, 2))]),
    "matrix_power": (lambda L: lambda A: L.linalg.matrix_power(A, -2), lambda: [square()]),
    "solve_triangular": (lambda L: lambda A, B: L.linalg.solve_triangular(A, B, upper=True),
                         lambda: [square(), rng.standard_normal((3, 2))]),
    "matrix_norms": (lambda L: lambda A: L.linalg.matrix_norm(A, ord="nuc") + L.linalg.matrix_norm(A, ord=2),
                     lambda: [rng.standard_normal((3, 4))]),
    "logdet": (lambda L: lambda A: L.logdet(spd(A, L)), lambda: [rng.standard_normal((3, 3))]),
}


@pytest.mark.parametrize("name", list(COMPOSED))
def test_composed_linalg_second_order(name):
    t = require_torch()
    fn, inputs = COMPOSED[name]
    check_second_order(fn(deepdive), fn(t), inputs())


def test_matrix_functions_hessian():
    """torch.func-style: the Hessian of log det and of a trace of the inverse (compositions of the above)."""
    t = require_torch()
    fn = lambda L: lambda A: L.linalg.slogdet(A).logabsdet + (L.linalg.inv(A) * L.eye(3, dtype=A.dtype)).sum() + L.linalg.det(A)
    a = square()
    h_dd = deepdive.autograd.functional.hessian(fn(deepdive), deepdive.tensor(a))
    h_t = t.autograd.functional.hessian(fn(t), t.tensor(a))
    np.testing.assert_allclose(h_dd.numpy(), h_t.numpy(), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name", list(LINALG))
def test_linalg_third_order(name):
    """The recorded backwards are made of differentiable ops, down to any order: a third derivative."""
    t = require_torch()
    arrays = linalg_inputs(name, ())
    results = []
    for lib in (deepdive, t):
        xs = [lib.tensor(a.copy(), requires_grad=True) for a in arrays]
        y = LINALG[name](lib)(*xs)
        y = y if isinstance(y, tuple) else (y,)
        grads = lib.autograd.grad(sum((part ** 2).sum() for part in y), xs, create_graph=True)
        hessian_terms = lib.autograd.grad(sum((g ** 2).sum() for g in grads), xs, create_graph=True)
        third = lib.autograd.grad(sum(h.sum() for h in hessian_terms), xs)
        results.append([k.detach().numpy() for k in third])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-7, atol=1e-9)


# ------------------------------------------------------------------ special functions
# torch's chain: lgamma' = digamma, digamma' = trigamma = polygamma(1), polygamma(n)' = polygamma(n + 1)
SPECIAL = {
    "lgamma": lambda L: lambda x: L.lgamma(x) * x, "digamma": lambda L: lambda x: L.digamma(x) * x,
    "trigamma": lambda L: lambda x: L.polygamma(1, x) * x, "polygamma2": lambda L: lambda x: L.polygamma(2, x) ** 2,
    "erfinv": lambda L: lambda x: L.erfinv(x) * x, "mvlgamma": lambda L: lambda x: L.mvlgamma(x + 2, 3) ** 2,
}


def special_input(name, shape=(3, 4)):
    if name == "erfinv":
        return rng.uniform(-0.9, 0.9, shape)
    x = rng.uniform(0.3, 5.0, shape)
    x[0, :2] = [-0.4, -2.6]          # the reflection branch
    return x


@pytest.mark.parametrize("name", list(SPECIAL))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_special_second_order(name, dtype):
    t = require_torch()
    tol = {"rtol": 1e-9} if dtype == np.float64 else {"rtol": 2e-4, "atol": 1e-4}
    check_second_order(SPECIAL[name](deepdive), SPECIAL[name](t), [special_input(name).astype(dtype)], **tol)


@pytest.mark.parametrize("name", list(SPECIAL))
def test_special_gradgradcheck(name):
    gradgradcheck(SPECIAL[name](deepdive), special_input(name))


def test_lgamma_fourth_derivative():
    """lgamma'''' = polygamma(3): four autograd.grad calls through the chain, against torch's."""
    t = require_torch()
    x = rng.uniform(0.5, 4.0, 5)
    results = []
    for lib in (deepdive, t):
        y = lib.tensor(x.copy(), requires_grad=True)
        g = lib.lgamma(y).sum()
        for order in range(4):
            (g,) = lib.autograd.grad(g.sum(), y, create_graph=order < 3)
        results.append(g.numpy() if lib is deepdive else g.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-9)
    np.testing.assert_allclose(results[0], t.polygamma(3, t.tensor(x)).numpy(), rtol=1e-9)


# ------------------------------------------------------------------ distances
@pytest.mark.parametrize("rows", [(30, 4), (4, 30)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cdist_mm_path_second_order(rows, dtype):
    """torch differentiates cdist twice only on its matrix-product path: p = 2 with more than 25 rows
    (the default compute_mode) or compute_mode='use_mm_for_euclid_dist'."""
    t = require_torch()
    tol = {} if dtype == np.float64 else {"rtol": 1e-3, "atol": 1e-4}
    x1, x2 = rng.standard_normal((2, rows[0], 3)), rng.standard_normal((1, rows[1], 3))
    fn = lambda L: lambda a, b: L.cdist(a, b) ** 3
    check_second_order(fn(deepdive), fn(t), [x1.astype(dtype), x2.astype(dtype)], **tol)
    mode = lambda L: lambda a, b: L.cdist(a, b, compute_mode="use_mm_for_euclid_dist") * a.sum()
    check_second_order(mode(deepdive), mode(t), [x1[:, :3].astype(dtype), x2[:, :2].astype(dtype)], **tol)


def test_cdist_gradgradcheck():
    gradgradcheck(lambda a, b: deepdive.cdist(a, b, compute_mode="use_mm_for_euclid_dist") ** 2,
                  rng.standard_normal((3, 4)), rng.standard_normal((5, 4)))


@pytest.mark.parametrize("p, mode", [(2.0, "use_mm_for_euclid_dist_if_necessary"), (2.0, "donot_use_mm_for_euclid_dist"),
                                     (1.0, "use_mm_for_euclid_dist"), (3.0, "use_mm_for_euclid_dist_if_necessary"),
                                     (float("inf"), "use_mm_for_euclid_dist_if_necessary")])
def test_cdist_without_double_backward_raises_as_torch(p, mode):
    t = require_torch()
    x1, x2 = rng.standard_normal((3, 4)), rng.standard_normal((5, 4))
    for lib in (deepdive, t):
        a, b = lib.tensor(x1, requires_grad=True), lib.tensor(x2, requires_grad=True)
        (g,) = lib.autograd.grad(lib.cdist(a, b, p, compute_mode=mode).sum(), a, create_graph=True)
        with pytest.raises(NotImplementedError, match="the derivative for '_cdist_backward' is not implemented"):
            lib.autograd.grad(g.sum(), (a, b))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cosine_similarity_second_order(dtype):
    """NormFloor (the eps clamp of the norms) passes the gradient through, at every order; also a vector whose
    norm is below eps."""
    t = require_torch()
    x1, x2 = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    x1[1] *= 1e-4
    fn = lambda L: lambda a, b: L.nn.functional.cosine_similarity(a, b, eps=1e-3) ** 2
    check_second_order(fn(deepdive), fn(t), [x1.astype(dtype), x2.astype(dtype)])
    gradgradcheck(fn(deepdive), rng.standard_normal((4, 5)), rng.standard_normal((4, 5)))


# ------------------------------------------------------------------ embedding_bag, ctc_loss: no double backward in torch
def _second_grad(lib, fn, arrays, wrt):
    """autograd.grad twice (create_graph in the first); ``wrt``: the indices of the inputs of the second."""
    xs = [lib.tensor(a.copy(), requires_grad=True) for a in arrays]
    grads = lib.autograd.grad(fn(*xs), xs, create_graph=True)
    return lib.autograd.grad(sum((g * g).sum() for g in grads), [xs[i] for i in wrt])


BAG_INDICES, BAG_OFFSETS = np.array([1, 2, 4, 5, 4, 3, 2, 9]), np.array([0, 4])


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_double_backward_raises_as_torch(mode):
    """torch 2.13: "the derivative for '_embedding_bag_backward' is not implemented" once the gradient of the
    weight depends on something (here on the weight, through out ** 2)."""
    t = require_torch()
    w = rng.standard_normal((10, 3))
    for lib in (deepdive, t):
        fn = lambda W: (lib.nn.functional.embedding_bag(lib.tensor(BAG_INDICES), W, lib.tensor(BAG_OFFSETS),
                                                       mode=mode) ** 2).sum()
        with pytest.raises(NotImplementedError, match="the derivative for '_embedding_bag_backward' is not "
                                                      "implemented"):
            _second_grad(lib, fn, [w], [0])


def test_embedding_bag_per_sample_weights_double_backward_raises_as_torch():
    t = require_torch()
    w, psw = rng.standard_normal((10, 3)), rng.standard_normal(8)
    for lib in (deepdive, t):
        fn = lambda W, p: lib.nn.functional.embedding_bag(lib.tensor(BAG_INDICES), W, lib.tensor(BAG_OFFSETS),
                                                          mode="sum", per_sample_weights=p).sum()
        with pytest.raises((RuntimeError, NotImplementedError), match="_embedding_bag.*backward"):
            _second_grad(lib, fn, [w, psw], [0, 1])
        xs = [lib.tensor(a.copy(), requires_grad=True) for a in (w, psw)]
        (g_psw,) = lib.autograd.grad(fn(*xs), xs[1], create_graph=True)
        with pytest.raises(RuntimeError, match="derivative for aten::_embedding_bag_per_sample_weights_backward "
                                               "is not implemented"):
            lib.autograd.grad(g_psw.sum(), xs[0])


def test_ctc_loss_double_backward_raises_as_torch():
    t = require_torch()
    logits = rng.standard_normal((6, 2, 5))
    for lib in (deepdive, t):
        fn = lambda x: lib.nn.functional.ctc_loss(x.log_softmax(2), lib.tensor([[1, 2], [3, 3]]),
                                                  lib.tensor([6, 5]), lib.tensor([2, 2]))
        with pytest.raises(RuntimeError, match="derivative for aten::_ctc_loss_backward is not implemented"):
            _second_grad(lib, fn, [logits], [0])


# ------------------------------------------------------------------ sparse COO tensors
EDGES = np.array([[0, 1, 1, 2, 0], [2, 0, 2, 1, 2]])          # a duplicate entry (0, 2)


def _coo(lib, values):
    return lib.sparse_coo_tensor(lib.tensor(EDGES), values, (3, 3))


SPARSE = {      # where torch differentiates twice: sparse.mm / addmm / @, and dense -> to_sparse -> ...
    "mm_values": lambda L: lambda v, x: L.sparse.mm(_coo(L, v), x) ** 2,
    "mm_coalesced": lambda L: lambda v, x: L.sparse.mm(_coo(L, v).coalesce(), x) ** 2,
    "dense_mm_sparse": lambda L: lambda v, x: L.sparse.mm(x.mT, _coo(L, v)) ** 2,
    "addmm": lambda L: lambda v, x: L.sparse.addmm(x[:, :1] * x[:, 1:], _coo(L, v), x) ** 2,
    "to_sparse_mm": lambda L: lambda d, x: L.sparse.mm(d.to_sparse(), x) * x,
    "to_sparse_to_dense": lambda L: lambda d, x: d.to_sparse().to_dense() ** 2 * x[:, :1],
}


@pytest.mark.parametrize("name", list(SPARSE))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_second_order(name, dtype):
    t = require_torch()
    # NOTE: a dense matrix without zeros. Where d has zeros, torch's first-order gradient of
    # sparse.mm(d.to_sparse(), x) has d's pattern (ours too), but its second derivative w.r.t. d does not (it is
    # dense there); ours keeps the pattern at every order, consistent with the first.
    first = rng.standard_normal((3, 3)) + 3 * np.eye(3) if "to_sparse" in name else rng.standard_normal(5)
    check_second_order(SPARSE[name](deepdive), SPARSE[name](t), [first.astype(dtype),
                                                                  rng.standard_normal((3, 2)).astype(dtype)])


# torch 2.13's gradient of sparse_coo_tensor(indices, values) for the values ends in the non-differentiable
# ``_values()``, so there (to_dense, sparse.sum, sparse.softmax) its gradient silently has no graph; ours has,
# and gradgradcheck checks it, along with every sparse op above.
SPARSE_ONLY_OURS = {
    "coo_to_dense": lambda v, x: _coo(deepdive, v).to_dense() ** 2 * x[:, :1],
    "coalesce": lambda v, x: _coo(deepdive, v).coalesce().values() ** 3 * x.sum(),
    "sum": lambda v, x: deepdive.sparse.sum(_coo(deepdive, v), 1).to_dense() ** 2 * x[:, 0],
    "softmax": lambda v, x: deepdive.sparse.softmax(_coo(deepdive, v * x[0, 0]), 1).values() ** 2,
    "log_softmax": lambda v, x: deepdive.sparse.log_softmax(_coo(deepdive, v * x[0, 0]), 0).values() ** 2,
}


@pytest.mark.parametrize("name", list(SPARSE) + list(SPARSE_ONLY_OURS))
def test_sparse_gradgradcheck(name):
    fn = SPARSE[name](deepdive) if name in SPARSE else SPARSE_ONLY_OURS[name]
    first = rng.standard_normal((3, 3)) + 3 * np.eye(3) if "to_sparse" in name else rng.standard_normal(5)
    gradgradcheck(fn, first, rng.standard_normal((3, 2)))


def test_sparse_first_order_gradient_matches_torch_where_torch_drops_the_graph():
    t = require_torch()
    fn = lambda L: lambda v: L.sparse.softmax(_coo(L, v).coalesce(), 1).to_dense() ** 2
    check_second_order(fn(deepdive), fn(t), [rng.standard_normal(5)])


# ------------------------------------------------------------------ checkpoint, backward hooks, autocast
@pytest.mark.parametrize("use_reentrant", [False, True])
def test_checkpoint_second_order(use_reentrant):
    """A checkpointed segment reading an input and a captured leaf (the weight): the gradient of both is
    differentiable again (torch: its non-reentrant checkpoint; deepdive's reentrant variant also allows it)."""
    t = require_torch()

    def fn(L, reentrant):
        def run(x, w):
            segment = lambda a: (a @ w).tanh() * a.sum(1, keepdim=True)
            return L.utils.checkpoint.checkpoint(segment, x, use_reentrant=reentrant) ** 2
        return run

    x, w = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    check_second_order(fn(deepdive, use_reentrant), fn(t, False), [x, w])
    gradgradcheck(fn(deepdive, use_reentrant), x, w)


def test_checkpoint_hessian_equals_plain():
    """With dropout inside: the recomputation under create_graph draws the same mask (random state restored)."""
    x = rng.standard_normal((4, 5))
    results = []
    for checkpointed in (True, False):
        deepdive.manual_seed(3)
        a = deepdive.tensor(x, requires_grad=True)
        segment = lambda t: F.dropout(t.sin(), 0.5, training=True) * t
        y = deepdive.utils.checkpoint.checkpoint(segment, a, use_reentrant=False) if checkpointed else segment(a)
        (g,) = deepdive.autograd.grad((y ** 2).sum(), a, create_graph=True)
        (h,) = deepdive.autograd.grad(g.sum(), a)
        results.append(h.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)


def test_full_backward_hooks_in_a_create_graph_pass():
    """Module full backward (pre-)hooks run in a create_graph pass, see Tensors with graph, and what they
    return is differentiated again; the second pass crosses the module again and calls them again (with
    gradients that don't require grad), exactly as torch does."""
    t = require_torch()
    x0, w0 = rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
    results = []
    for lib in (deepdive, t):
        layer = lib.nn.Linear(4, 2, bias=False).double()
        with lib.no_grad():
            layer.weight.copy_(lib.tensor(w0))
        log = []

        def pre(module, grad_output):
            log.append(("pre", grad_output[0].requires_grad))
            return (grad_output[0] * 3,)

        def post(module, grad_input, grad_output):
            log.append(("post", grad_input[0].requires_grad))
            return (grad_input[0] ** 2,)

        layer.register_full_backward_pre_hook(pre)
        layer.register_full_backward_hook(post)
        x = lib.tensor(x0, requires_grad=True)
        y = layer(x).tanh()
        gx, gw = lib.autograd.grad((y ** 2).sum(), (x, layer.weight), create_graph=True)
        log.append("second pass")
        hx, hw = lib.autograd.grad((gx ** 2).sum() + gw.sum(), (x, layer.weight))
        results.append(([r.detach().numpy() for r in (gx, gw, hx, hw)], log))
    for ours, theirs in zip(results[0][0], results[1][0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    assert results[0][1] == results[1][1] == [("pre", True), ("post", True), "second pass", ("pre", False),
                                              ("post", False)]


def test_autocast_rounding_second_order():
    """Under CPU autocast the rounding to bfloat16 of inputs and gradients is recorded too: a second
    derivative through an autocast matmul, against torch's (to bfloat16's precision)."""
    t = require_torch()
    x0, w0 = rng.standard_normal((4, 8)).astype(np.float32), rng.standard_normal((8, 3)).astype(np.float32)
    results = []
    for lib in (deepdive, t):
        x, w = lib.tensor(x0, requires_grad=True), lib.tensor(w0, requires_grad=True)
        with lib.autocast("cpu", dtype=lib.bfloat16):
            y = (x @ w).float()
        gx, gw = lib.autograd.grad((y ** 2).sum(), (x, w), create_graph=True)
        hx, hw = lib.autograd.grad((gx.float() ** 2).sum() + (gw.float() * 1.5).sum(), (x, w))
        results.append([r.detach().float().numpy() for r in (gx, gw, hx, hw)])
    for ours, theirs in zip(*results):
        scale = float(np.abs(theirs).max())
        np.testing.assert_allclose(ours, theirs, rtol=2 ** -5, atol=2 ** -5 * scale)


# ------------------------------------------------------------------ packed sequences, LSTM projections
PACKED = {
    "rnn": lambda nn: nn.RNN(3, 4), "rnn_relu_bidirectional": lambda nn: nn.RNN(3, 3, nonlinearity="relu",
                                                                               bidirectional=True),
    "lstm": lambda nn: nn.LSTM(3, 4, num_layers=2), "lstm_bidirectional": lambda nn: nn.LSTM(3, 2, bidirectional=True),
    "lstm_proj": lambda nn: nn.LSTM(3, 4, proj_size=2), "lstm_proj_bidirectional": lambda nn: nn.LSTM(3, 4, proj_size=2,
                                                                                                    bidirectional=True),
    "gru": lambda nn: nn.GRU(3, 4), "gru_bidirectional": lambda nn: nn.GRU(3, 2, bidirectional=True, num_layers=2),
}


def _twin_modules(name, dtype):
    t = require_torch()
    ours, theirs = PACKED[name](deepdive.nn), PACKED[name](t.nn)
    for p in ours.parameters():
        p._data = p._data.astype(dtype)
    theirs = theirs.to(getattr(t, np.dtype(dtype).name))
    with t.no_grad():
        for p, q in zip(ours.parameters(), theirs.parameters()):
            q.copy_(t.tensor(p._data))
    return ours, theirs


def _packed_run(lib, module, lengths):
    """A packed (unsorted lengths, so sorted inside) batch through the module; the padded output and the
    final states, as one function of the padded input."""
    utils = lib.nn.utils.rnn

    def run(x):
        packed = utils.pack_padded_sequence(x, lib.tensor(lengths), enforce_sorted=False)
        out, state = module(packed)
        padded, _ = utils.pad_packed_sequence(out)
        states = state if isinstance(state, tuple) else (state,)
        return (padded.tanh(),) + tuple(s * s for s in states)
    return run


@pytest.mark.parametrize("name", list(PACKED))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_packed_recurrent_second_order(name, dtype):
    """Packed sequences (rows that finished hold their state) and LSTM projections: the backward through time
    recorded step by step, against torch's double backward."""
    t = require_torch()
    ours, theirs = _twin_modules(name, dtype)
    lengths = np.array([2, 4, 3])
    x = rng.standard_normal((4, 3, 3)).astype(dtype)
    tol = {} if dtype == np.float64 else {"rtol": 1e-4, "atol": 1e-5}
    check_second_order(_packed_run(deepdive, ours, lengths), _packed_run(t, theirs, lengths), [x], **tol)


@pytest.mark.parametrize("name", ["lstm_proj", "lstm_proj_bidirectional"])
def test_lstm_projection_second_order_padded(name):
    t = require_torch()
    ours, theirs = _twin_modules(name, np.float64)
    x = rng.standard_normal((3, 2, 3))
    check_second_order(lambda a: ours(a)[0].tanh(), lambda a: theirs(a)[0].tanh(), [x])
    gradgradcheck(lambda a: ours(a)[0].tanh(), x[:2])


@pytest.mark.parametrize("name", ["lstm_proj", "gru", "rnn"])
def test_packed_recurrent_gradgradcheck(name):
    ours, _ = _twin_modules(name, np.float64)
    gradgradcheck(lambda a: _packed_run(deepdive, ours, np.array([1, 3]))(a)[0], rng.standard_normal((3, 2, 3)))


def test_lstm_projection_weight_second_order():
    """The second derivatives reach every weight, W_hr included, on a packed batch."""
    t = require_torch()
    ours, theirs = _twin_modules("lstm_proj", np.float64)
    x0 = rng.standard_normal((4, 3, 3))
    results = []
    for lib, module in ((deepdive, ours), (t, theirs)):
        x = lib.tensor(x0.copy(), requires_grad=True)
        params = list(module.parameters())
        outs = _packed_run(lib, module, np.array([2, 4, 3]))(x)
        loss = sum((o ** 2).sum() for o in outs)
        grads = lib.autograd.grad(loss, [x] + params, create_graph=True)
        second = lib.autograd.grad(sum((g ** 2).sum() for g in grads), [x] + params)
        results.append([g.detach().numpy() for g in second])
    for ours_h, theirs_h in zip(*results):
        np.testing.assert_allclose(ours_h, theirs_h, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", ["det", "slogdet", "cholesky", "eigvalsh", "svdvals"])
def test_func_hessian_linalg(name):
    """torch.func.hessian of a scalar function of each decomposition, against torch's."""
    t = require_torch()
    a = linalg_inputs(name, ())[0]
    scalar = lambda L: lambda A: (LINALG[name](L)(A) ** 2).sum()
    ours = deepdive.func.hessian(scalar(deepdive))(deepdive.tensor(a))
    theirs = t.func.hessian(scalar(t))(t.tensor(a))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-8, atol=1e-10)
