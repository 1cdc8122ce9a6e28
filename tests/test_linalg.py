"""Matrix products and einsum: gradcheck + PyTorch parity, batch broadcasting, PyTorch's error messages."""
import numpy as np
import pytest

import deepdive
from parity import check_parity, gradcheck, require_torch

rng = np.random.default_rng(0)

MATMUL_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
                 ((2, 3), (5, 3, 4)), ((5, 2, 3), (5, 3, 4)), ((2, 1, 2, 3), (5, 3, 4)), ((1, 2, 3), (4, 1, 3, 2)),
                 ((5, 2, 3), (3,)), ((3,), (5, 3, 4))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_parity_with_batch_broadcasting(shapes, dtype):
    a, b = (rng.standard_normal(s).astype(dtype) for s in shapes)
    check_parity(lambda x, y: x @ y, lambda x, y: x @ y, [a, b])
    check_parity(lambda x, y: x.matmul(y), lambda x, y: x.matmul(y), [a, b])


@pytest.mark.parametrize("shapes", MATMUL_SHAPES[:8])
def test_matmul_gradcheck(shapes):
    gradcheck(lambda x, y: x @ y, *(rng.standard_normal(s) for s in shapes))


def test_matmul_shape_errors():
    a = deepdive.ones(2, 3)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"):
        a @ deepdive.ones(4, 5)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"):
        deepdive.mm(a, deepdive.ones(4, 5))
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(4x3 and 4x5\)"):
        deepdive.ones(2, 2, 3) @ deepdive.ones(4, 5)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(1x3 and 4x5\)"):
        deepdive.ones(3) @ deepdive.ones(4, 5)
    with pytest.raises(RuntimeError, match=r"size mismatch, got input \(2\), mat \(2x3\), vec \(4\)"):
        a @ deepdive.ones(4)
    with pytest.raises(RuntimeError, match=r"inconsistent tensor size, expected tensor \[3\] and src \[4\]"):
        deepdive.ones(3) @ deepdive.ones(4)
    with pytest.raises(RuntimeError, match=r"Expected size for first two dimensions of batch2 tensor to be: "
                                           r"\[2, 3\] but got: \[2, 4\]\."):
        deepdive.ones(2, 2, 3) @ deepdive.ones(2, 4, 5)
    with pytest.raises(RuntimeError, match=r"expected m1 and m2 to have the same dtype, but got: float != double"):
        a @ deepdive.ones(3, 2, dtype=deepdive.float64)
    with pytest.raises(RuntimeError, match="need to be at least 1D"):
        deepdive.tensor(2.0) @ a
    with pytest.raises(RuntimeError, match=r"The size of tensor a \(2\) must match the size of tensor b \(3\) at "
                                           r"non-singleton dimension 0"):
        deepdive.ones(2, 2, 3) @ deepdive.ones(3, 3, 5)


def test_bmm():
    torch = require_torch()
    a, b = rng.standard_normal((3, 2, 4)), rng.standard_normal((3, 4, 5))
    check_parity(deepdive.bmm, torch.bmm, [a, b])
    check_parity(lambda x, y: x.bmm(y), lambda x, y: x.bmm(y), [a.astype(np.float32), b.astype(np.float32)])
    gradcheck(deepdive.bmm, a[:2, :, :3], b[:2, :3, :2])
    with pytest.raises(RuntimeError, match="batch1 must be a 3D tensor"):
        deepdive.bmm(deepdive.ones(2, 3), deepdive.ones(2, 3, 4))
    with pytest.raises(RuntimeError, match="batch2 must be a 3D tensor"):
        deepdive.bmm(deepdive.ones(2, 3, 4), deepdive.ones(4, 5))
    with pytest.raises(RuntimeError, match=r"Expected size for first two dimensions of batch2 tensor to be: "
                                           r"\[2, 4\] but got: \[3, 4\]\."):
        deepdive.bmm(deepdive.ones(2, 3, 4), deepdive.ones(3, 4, 5))      # bmm does not broadcast batches


def test_mm_mv_dot_inner_outer():
    torch = require_torch()
    m, v, w = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal(4)
    check_parity(deepdive.mm, torch.mm, [m, rng.standard_normal((4, 2))])
    check_parity(deepdive.mv, torch.mv, [m, v])
    check_parity(lambda a, b: a.mv(b), lambda a, b: a.mv(b), [m.astype(np.float32), v.astype(np.float32)])
    out = check_parity(deepdive.dot, torch.dot, [v, w])
    assert out[0].ndim == 0
    check_parity(deepdive.outer, torch.outer, [v, rng.standard_normal(3)])
    check_parity(lambda a, b: a.ger(b), lambda a, b: a.outer(b), [v, w])
    check_parity(deepdive.inner, torch.inner, [m, rng.standard_normal((2, 5, 4))])
    check_parity(deepdive.inner, torch.inner, [v, w])
    gradcheck(deepdive.mv, m, v)
    gradcheck(deepdive.dot, v, w)
    gradcheck(deepdive.outer, v, w[:3])
    gradcheck(deepdive.inner, m[:2], rng.standard_normal((2, 2, 4)))
    # outer promotes dtypes like PyTorch (int x float -> float32)
    check_parity(deepdive.outer, torch.outer, [np.array([1, 2]), np.array([0.5, 1.5], dtype=np.float32)])


def test_vector_product_errors():
    with pytest.raises(RuntimeError, match=r"1D tensors expected, but got 2D and 1D tensors"):
        deepdive.dot(deepdive.ones(3, 1), deepdive.ones(3))
    with pytest.raises(RuntimeError, match=r"inconsistent tensor size"):
        deepdive.dot(deepdive.ones(3), deepdive.ones(4))
    with pytest.raises(RuntimeError, match=r"dot : expected both vectors to have same dtype, but found Float32"):
        deepdive.dot(deepdive.ones(3), deepdive.ones(3, dtype=deepdive.float64))
    with pytest.raises(RuntimeError, match=r"outer: Expected 1-D argument self, but got 2-D"):
        deepdive.outer(deepdive.ones(3, 2), deepdive.ones(3))
    with pytest.raises(RuntimeError, match=r"size mismatch, got input \(2\), mat \(2x3\), vec \(4\)"):
        deepdive.mv(deepdive.ones(2, 3), deepdive.ones(4))


@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, 2.0), (0, 1), (2, 0)])
@pytest.mark.parametrize("c_shape", [(2, 4), (4,), (1, 4), (2, 1), ()])
def test_addmm(beta, alpha, c_shape):
    torch = require_torch()
    c, a, b = rng.standard_normal(c_shape), rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    fn_dd = lambda c, a, b: deepdive.addmm(c, a, b, beta=beta, alpha=alpha)      # noqa: E731
    fn_t = lambda c, a, b: torch.addmm(c, a, b, beta=beta, alpha=alpha)          # noqa: E731
    check_parity(fn_dd, fn_t, [c, a, b])
    check_parity(fn_dd, fn_t, [x.astype(np.float32) for x in (c, a, b)])
    gradcheck(fn_dd, c, a, b)


def test_addmm_beta_zero_ignores_nan_and_method():
    torch = require_torch()
    c = np.full((2, 4), np.nan)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    out = deepdive.addmm(deepdive.tensor(c), deepdive.tensor(a), deepdive.tensor(b), beta=0)
    assert np.isfinite(out.numpy()).all()
    check_parity(lambda c, a, b: c.addmm(a, b, alpha=3), lambda c, a, b: c.addmm(a, b, alpha=3),
                 [rng.standard_normal((2, 4)), a, b])
    with pytest.raises(RuntimeError, match=r"addmm: The expanded size of the tensor \(4\) must match"):
        deepdive.addmm(deepdive.ones(3), deepdive.ones(2, 3), deepdive.ones(3, 4))
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x4\)"):
        deepdive.addmm(deepdive.ones(4), deepdive.ones(2, 3), deepdive.ones(4, 4))


@pytest.mark.parametrize("c_shape", [(3, 2, 5), (5,), (1, 2, 1)])
def test_baddbmm_and_addmv(c_shape):
    torch = require_torch()
    c, a, b = rng.standard_normal(c_shape), rng.standard_normal((3, 2, 4)), rng.standard_normal((3, 4, 5))
    check_parity(lambda c, a, b: deepdive.baddbmm(c, a, b, beta=0.5, alpha=-2),
                 lambda c, a, b: torch.baddbmm(c, a, b, beta=0.5, alpha=-2), [c, a, b])
    gradcheck(lambda c, a, b: c.baddbmm(a, b, alpha=2), c, a[:, :, :2], b[:, :2, :])
    m, v = rng.standard_normal((2, 3)), rng.standard_normal(3)
    check_parity(lambda c, m, v: deepdive.addmv(c, m, v, beta=2), lambda c, m, v: torch.addmv(c, m, v, beta=2),
                 [rng.standard_normal(2), m, v])
    gradcheck(lambda c, m, v: c.addmv(m, v, alpha=0.5), rng.standard_normal(2), m, v)
    with pytest.raises(RuntimeError, match="batch1 must be a 3D tensor"):
        deepdive.baddbmm(deepdive.ones(1), deepdive.ones(2, 3), deepdive.ones(2, 3, 4))


EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),                      # implicit output
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
    ("ii->i", [(3, 3)]),                              # diagonal: repeated index
    ("ii", [(3, 3)]),                                 # trace
    ("ij->", [(2, 3)]),
    ("ij->ji", [(2, 3)]),
    ("i,j->ij", [(2,), (3,)]),
    ("i,i->", [(3,), (3,)]),
    ("ij,j->i", [(2, 3), (3,)]),
    ("ijk->", [(2, 2, 2)]),
    ("ij,kl->", [(2, 3), (2, 2)]),                    # indices summed in one operand only
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]),  # ellipsis with batch broadcasting
    ("...ij,...jk", [(5, 2, 3), (3, 4)]),
    ("b...,b...->...", [(2, 3, 1), (2, 3, 4)]),         # size-1 broadcast inside the ellipsis
    ("iij,jk->ik", [(2, 2, 3), (3, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),       # three operands
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),  # attention scores
    ("i j , j k -> i k", [(2, 3), (3, 4)]),           # spaces are ignored
]


@pytest.mark.parametrize("equation,shapes", EINSUM_CASES)
def test_einsum(equation, shapes):
    torch = require_torch()
    arrays = [rng.standard_normal(s) for s in shapes]
    check_parity(lambda *t: deepdive.einsum(equation, *t), lambda *t: torch.einsum(equation, *t), arrays)
    check_parity(lambda *t: deepdive.einsum(equation, *t), lambda *t: torch.einsum(equation, *t),
                 [a.astype(np.float32) for a in arrays])
    gradcheck(lambda *t: deepdive.einsum(equation, *t), *arrays)


def test_einsum_list_form_and_large_contraction():
    torch = require_torch()
    a, b = rng.standard_normal((64, 96)).astype(np.float32), rng.standard_normal((96, 80)).astype(np.float32)
    check_parity(lambda x, y: deepdive.einsum("ij,jk->ik", [x, y]), lambda x, y: torch.einsum("ij,jk->ik", [x, y]),
                 [a, b])


def test_einsum_errors():
    a = deepdive.ones(2, 3)
    with pytest.raises(RuntimeError, match="subscript j has size 4 for operand 1 which does not broadcast with "
                                           "previously seen size 3"):
        deepdive.einsum("ij,jk", a, deepdive.ones(4, 5))
    with pytest.raises(RuntimeError, match="fewer operands were provided than specified in the equation"):
        deepdive.einsum("ij,jk->ik", a)
    with pytest.raises(RuntimeError, match="more operands were provided"):
        deepdive.einsum("ij->i", a, a)
    with pytest.raises(RuntimeError, match=r"the number of subscripts in the equation \(3\) does not match the number "
                                           r"of dimensions \(2\) for operand 0"):
        deepdive.einsum("ijk->i", a)
    with pytest.raises(RuntimeError, match="output subscript z does not appear"):
        deepdive.einsum("ij->iz", a)
    with pytest.raises(RuntimeError, match="same dtype"):
        deepdive.einsum("ij,jk", a, deepdive.ones(3, 2, dtype=deepdive.float64))


@pytest.mark.parametrize("shapes,dims", [(((2, 3, 4), (3, 4, 5)), 2), (((2, 3), (3, 2)), ([1], [0])),
                                         (((2, 3), (4,)), 0), (((2, 3, 4), (4, 2, 3)), ([1, 2], [2, 0])),
                                         (((3, 4), (4, 3)), ([-1], [0]))])
def test_tensordot(shapes, dims):
    torch = require_torch()
    a, b = (rng.standard_normal(s) for s in shapes)
    check_parity(lambda x, y: deepdive.tensordot(x, y, dims), lambda x, y: torch.tensordot(x, y, dims), [a, b])
    gradcheck(lambda x, y: deepdive.tensordot(x, y, dims), a, b)


def test_tensordot_and_trace_errors():
    with pytest.raises(RuntimeError, match="contracted dimensions need to match"):
        deepdive.tensordot(deepdive.ones(2, 3), deepdive.ones(4, 2), 1)
    with pytest.raises(RuntimeError, match="trace: expected a matrix, but got tensor with dim 3"):
        deepdive.ones(2, 2, 2).trace()


@pytest.mark.parametrize("shape", [(3, 3), (2, 4), (4, 2)])
def test_trace(shape):
    torch = require_torch()
    x = rng.standard_normal(shape)
    check_parity(deepdive.trace, torch.trace, [x])
    check_parity(lambda t: t.trace(), lambda t: t.trace(), [x.astype(np.float32)])
    gradcheck(lambda t: t.trace(), x)
    check_parity(deepdive.trace, torch.trace, [np.arange(9).reshape(3, 3).astype(np.int32)])
