"""deepdive.linalg and the old names (torch.inverse, svd ...): gradcheck + PyTorch parity, batched, float32/64."""
import math

import numpy as np
import pytest

import deepdive
from parity import check_parity, gradcheck, require_torch, assert_close

rng = np.random.default_rng(0)
DTYPES = [np.float32, np.float64]


def well_conditioned(*shape, dtype=np.float64):
    """Random square matrices with eigenvalues away from 0: I * n + noise."""
    n = shape[-1]
    return (rng.standard_normal(shape) + n * np.eye(n)).astype(dtype)


def spd(*shape, dtype=np.float64):
    x = rng.standard_normal(shape)
    return (x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])).astype(dtype)


def sym(x):
    """A symmetric (and, with the identity added, positive-definite) function of any square x, for gradcheck of
    the ops that read one triangle only."""
    return x @ x.mT + deepdive.eye(x.shape[-1], dtype=x.dtype) * x.shape[-1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [(), (2,), (2, 3)])
def test_inv_det_slogdet_solve_parity(dtype, batch):
    torch = require_torch()
    a = well_conditioned(*batch, 4, 4, dtype=dtype)
    b = rng.standard_normal(batch + (4, 2)).astype(dtype)
    check_parity(deepdive.linalg.inv, torch.linalg.inv, [a])
    check_parity(deepdive.inverse, torch.inverse, [a])
    check_parity(deepdive.linalg.det, torch.linalg.det, [a], rtol=1e-4 if dtype == np.float32 else None)
    check_parity(lambda x: tuple(deepdive.linalg.slogdet(x)), lambda x: tuple(torch.linalg.slogdet(x)), [a])
    check_parity(deepdive.logdet, torch.logdet, [a])
    check_parity(deepdive.linalg.solve, torch.linalg.solve, [a, b])
    check_parity(lambda x, y: deepdive.linalg.solve(x, y, left=False),
                 lambda x, y: torch.linalg.solve(x, y, left=False), [a, np.swapaxes(b, -1, -2).copy()])
    check_parity(deepdive.linalg.solve, torch.linalg.solve, [a, b[..., 0].copy()])     # a (batch of) vector(s)


def test_solve_broadcasts_batch_dims():
    torch = require_torch()
    check_parity(deepdive.linalg.solve, torch.linalg.solve, [well_conditioned(3, 3), rng.standard_normal((5, 3, 2))])
    check_parity(deepdive.linalg.solve, torch.linalg.solve, [well_conditioned(2, 1, 3, 3),
                                                             rng.standard_normal((4, 3, 1))])


def test_gradcheck_inverse_det_solve():
    gradcheck(deepdive.linalg.inv, well_conditioned(2, 3, 3))
    gradcheck(deepdive.linalg.det, well_conditioned(2, 3, 3))
    gradcheck(lambda x: deepdive.linalg.slogdet(x).logabsdet, well_conditioned(3, 3))
    gradcheck(deepdive.linalg.solve, well_conditioned(2, 3, 3), rng.standard_normal((2, 3, 2)))
    gradcheck(deepdive.logdet, spd(3, 3))


def test_det_gradient_of_singular_matrix_is_the_adjugate():
    torch = require_torch()
    a = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.5, -1.0, 2.0]])          # rank 2
    out = check_parity(deepdive.linalg.det, torch.linalg.det, [a], atol=1e-10)
    assert abs(out[0].item()) < 1e-12
    x = deepdive.tensor(a, requires_grad=True)
    deepdive.linalg.det(x).backward()
    cofactor = np.array([[np.linalg.det(np.delete(np.delete(a, i, 0), j, 1)) * (-1) ** (i + j) for j in range(3)]
                         for i in range(3)])
    np.testing.assert_allclose(x.grad.numpy(), cofactor, atol=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_parity_and_gradcheck(dtype, upper):
    torch = require_torch()
    a = spd(2, 4, 4, dtype=dtype)
    check_parity(lambda x: deepdive.linalg.cholesky(x, upper=upper), lambda x: torch.linalg.cholesky(x, upper=upper),
                 [a])
    check_parity(lambda x: deepdive.cholesky(x, upper), lambda x: torch.cholesky(x, upper), [a])
    gradcheck(lambda x: deepdive.linalg.cholesky(sym(x), upper=upper), rng.standard_normal((2, 3, 3)))


def test_cholesky_of_indefinite_matrix_raises_linalg_error():
    with pytest.raises(deepdive.linalg.LinAlgError, match="linalg.cholesky: .*not positive-definite"):
        deepdive.linalg.cholesky(deepdive.tensor([[1.0, 2.0], [2.0, 1.0]]))
    L, info = deepdive.linalg.cholesky_ex(deepdive.tensor([[1.0, 2.0], [2.0, 1.0]]))
    assert info.item() != 0
    with pytest.raises(deepdive.linalg.LinAlgError, match="singular"):
        deepdive.linalg.inv(deepdive.zeros(2, 2))


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (2, 3, 5), (2, 5, 2)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_qr_parity_and_gradcheck(shape, dtype):
    torch = require_torch()
    a = rng.standard_normal(shape).astype(dtype)
    # Q and R are unique up to the signs of R's diagonal; LAPACK (NumPy and PyTorch alike) makes the same choice
    check_parity(lambda x: tuple(deepdive.linalg.qr(x)), lambda x: tuple(torch.linalg.qr(x)), [a])
    check_parity(lambda x: tuple(deepdive.qr(x)), lambda x: tuple(torch.qr(x)), [a])
    if dtype == np.float64:
        gradcheck(lambda x: tuple(deepdive.linalg.qr(x)), a)


def test_qr_modes():
    torch = require_torch()
    a = rng.standard_normal((5, 3))
    Q, R = deepdive.linalg.qr(deepdive.tensor(a), mode="complete")
    Qt, Rt = torch.linalg.qr(torch.tensor(a), mode="complete")
    assert_close(Q, Qt)
    assert_close(R, Rt)
    Q, R = deepdive.linalg.qr(deepdive.tensor(a, requires_grad=True), mode="r")
    assert tuple(Q.shape) == (0,) and tuple(R.shape) == (3, 3)
    with pytest.raises(RuntimeError, match="mode='r'"):
        R.sum().backward()


def _svd_invariants(mod, full=False):
    """Outputs of the SVD that do not depend on the singular vectors' signs (so they compare across libraries)."""
    def f(x):
        U, S, Vh = mod.linalg.svd(x, full_matrices=False)
        return S, U * U, Vh * Vh, (U * S.unsqueeze(-2)) @ Vh
    return f


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (3, 5), (2, 4, 2)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_svd_parity_and_gradcheck(shape, dtype):
    torch = require_torch()
    a = rng.standard_normal(shape).astype(dtype)
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {}
    check_parity(_svd_invariants(deepdive), _svd_invariants(torch), [a], **tol)
    check_parity(deepdive.linalg.svdvals, torch.linalg.svdvals, [a], **tol)
    U, S, V = deepdive.svd(deepdive.tensor(a))                        # the old API returns V, not Vh
    assert_close((U * S.unsqueeze(-2)) @ V.mT, a, rtol=1e-4, atol=1e-5)
    U, S, Vh = deepdive.linalg.svd(deepdive.tensor(a))                 # full_matrices=True by default
    Ut, St, Vht = torch.linalg.svd(torch.tensor(a))
    assert U.shape == Ut.shape and Vh.shape == Vht.shape
    if dtype == np.float64:
        gradcheck(lambda x: tuple(deepdive.linalg.svd(x, full_matrices=False)[1:2]) +
                  (_svd_invariants(deepdive)(x)[1], _svd_invariants(deepdive)(x)[2]), a)
        gradcheck(deepdive.linalg.svdvals, a)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh_parity_and_gradcheck(dtype, uplo):
    torch = require_torch()
    a = rng.standard_normal((2, 4, 4)).astype(dtype)
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {}

    def invariants(mod):
        def f(x):
            L, V = mod.linalg.eigh(x, UPLO=uplo)
            return L, V * V
        return f
    check_parity(invariants(deepdive), invariants(torch), [a], **tol)
    check_parity(lambda x: deepdive.linalg.eigvalsh(x, uplo), lambda x: torch.linalg.eigvalsh(x, uplo), [a], **tol)
    if dtype == np.float64:
        gradcheck(lambda x: invariants(deepdive)(sym(x)), a[0])


def test_pinv_lstsq_matrix_rank():
    torch = require_torch()
    for shape in [(5, 3), (3, 5), (2, 4, 4)]:
        a = rng.standard_normal(shape)
        check_parity(deepdive.linalg.pinv, torch.linalg.pinv, [a])
        check_parity(deepdive.pinverse, torch.pinverse, [a])
        gradcheck(deepdive.linalg.pinv, a)
        b = rng.standard_normal(shape[:-1] + (2,))
        check_parity(lambda x, y: deepdive.linalg.lstsq(x, y).solution,
                     lambda x, y: torch.linalg.lstsq(x, y).solution, [a, b])
        for driver in ["gelsy", "gelsd", "gelss"]:
            mine = deepdive.linalg.lstsq(deepdive.tensor(a), deepdive.tensor(b), driver=driver)
            ref = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), driver=driver)
            for field in ("residuals", "rank", "singular_values"):
                assert_close(getattr(mine, field), getattr(ref, field), what=f"{driver} {field}")
    low_rank = rng.standard_normal((2, 5, 2)) @ rng.standard_normal((2, 2, 4))
    for kwargs in [{}, {"atol": 1.0}, {"rtol": 0.5}, {"hermitian": False}]:
        r = deepdive.linalg.matrix_rank(deepdive.tensor(low_rank), **kwargs)
        rt = torch.linalg.matrix_rank(torch.tensor(low_rank), **kwargs)
        assert r.dtype == deepdive.int64 and r.tolist() == rt.tolist()


@pytest.mark.parametrize("dtype", DTYPES)
def test_norms_parity(dtype):
    torch = require_torch()
    a = rng.standard_normal((2, 3, 4)).astype(dtype)
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {}
    for ord_ in [2, 1, 3, math.inf, -math.inf, 0.5]:
        check_parity(lambda x: deepdive.linalg.vector_norm(x, ord_, dim=(0, 2)),
                     lambda x: torch.linalg.vector_norm(x, ord_, dim=(0, 2)), [a], **tol)
    check_parity(deepdive.linalg.vector_norm, torch.linalg.vector_norm, [a], **tol)
    for ord_ in ["fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf]:
        for keepdim in (False, True):
            check_parity(lambda x: deepdive.linalg.matrix_norm(x, ord_, keepdim=keepdim),
                         lambda x: torch.linalg.matrix_norm(x, ord_, keepdim=keepdim), [a], **tol)
        check_parity(lambda x: deepdive.linalg.matrix_norm(x, ord_, dim=(2, 0)),
                     lambda x: torch.linalg.matrix_norm(x, ord_, dim=(2, 0)), [a], **tol)
    check_parity(deepdive.linalg.norm, torch.linalg.norm, [a], **tol)
    check_parity(lambda x: deepdive.linalg.norm(x, 1, dim=1), lambda x: torch.linalg.norm(x, 1, dim=1), [a], **tol)
    check_parity(lambda x: deepdive.linalg.norm(x[0], "nuc"), lambda x: torch.linalg.norm(x[0], "nuc"), [a], **tol)
    check_parity(lambda x: deepdive.linalg.norm(x[0, 0], 3), lambda x: torch.linalg.norm(x[0, 0], 3), [a], **tol)
    gradcheck(lambda x: deepdive.linalg.matrix_norm(x, "nuc"), a.astype(np.float64))
    gradcheck(lambda x: deepdive.linalg.matrix_norm(x, 2), a.astype(np.float64))


def test_vector_norm_gradient_at_zero_is_zero():
    torch = require_torch()
    check_parity(deepdive.linalg.vector_norm, torch.linalg.vector_norm, [np.zeros((3,))])


def test_cross_multi_dot_matrix_power_solve_triangular():
    torch = require_torch()
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((1, 3))
    check_parity(deepdive.linalg.cross, torch.linalg.cross, [a, b])
    check_parity(lambda x, y: deepdive.cross(x, y, dim=1), lambda x, y: torch.cross(x, y, dim=1), [a, b])
    check_parity(lambda x, y: x.cross(y.expand(4, 3)), lambda x, y: x.cross(y.expand(4, 3), dim=1), [a, b])
    check_parity(lambda x, y: deepdive.linalg.cross(x, y, dim=0), lambda x, y: torch.linalg.cross(x, y, dim=0),
                 [a.T.copy(), rng.standard_normal((3, 4))])
    gradcheck(deepdive.linalg.cross, a, b)
    mats = [rng.standard_normal(3), rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)]
    check_parity(lambda *m: deepdive.linalg.multi_dot(m), lambda *m: torch.linalg.multi_dot(m), mats)
    check_parity(lambda *m: deepdive.linalg.multi_dot(m), lambda *m: torch.linalg.multi_dot(m), mats[1:3])
    sq = well_conditioned(2, 3, 3)
    for n in [0, 1, 2, 5, -2]:
        check_parity(lambda x: deepdive.linalg.matrix_power(x, n), lambda x: torch.linalg.matrix_power(x, n), [sq])
    check_parity(lambda x: x.matrix_power(3), lambda x: x.matrix_power(3), [sq])
    rhs = rng.standard_normal((2, 3, 2))
    for upper in (True, False):
        for left in (True, False):
            for unit in (False, True):
                r = rhs if left else np.swapaxes(rhs, -1, -2).copy()
                check_parity(lambda x, y: deepdive.linalg.solve_triangular(x, y, upper=upper, left=left,
                                                                           unitriangular=unit),
                             lambda x, y: torch.linalg.solve_triangular(x, y, upper=upper, left=left,
                                                                        unitriangular=unit), [sq, r])
    L = np.linalg.cholesky(spd(3, 3))
    for upper in (False, True):
        factor = L.T.copy() if upper else L
        check_parity(lambda x, y: deepdive.cholesky_solve(x, y, upper), lambda x, y: torch.cholesky_solve(x, y, upper),
                     [rng.standard_normal((3, 2)), factor])
        check_parity(lambda y: deepdive.cholesky_inverse(y, upper), lambda y: torch.cholesky_inverse(y, upper),
                     [factor])


def test_old_names_are_tensor_methods():
    torch = require_torch()
    a = well_conditioned(3, 3)
    for name in ["inverse", "det", "logdet", "pinverse"]:
        check_parity(lambda x: getattr(x, name)(), lambda x: getattr(x, name)(), [a])
    check_parity(lambda x: tuple(x.slogdet()), lambda x: tuple(x.slogdet()), [a])
    check_parity(lambda x: x.cholesky(), lambda x: x.cholesky(), [spd(3, 3)])
    U, S, V = deepdive.tensor(a).svd(compute_uv=False)
    assert not U.any() and tuple(U.shape) == (3, 3)
    assert_close(S, torch.tensor(a).svd(compute_uv=False).S)


def test_errors_name_the_op_and_shapes():
    with pytest.raises(RuntimeError, match="linalg.inv: A must be batches of square matrices, but they are 2 by 3"):
        deepdive.linalg.inv(deepdive.ones(2, 3))
    with pytest.raises(RuntimeError, match="linalg.det: The input tensor A must have at least 2 dimensions"):
        deepdive.linalg.det(deepdive.ones(3))
    with pytest.raises(RuntimeError, match="linalg.solve: Expected a floating point or complex tensor as input. "
                                           "Got Long"):
        deepdive.linalg.solve(deepdive.ones(2, 2, dtype=deepdive.int64), deepdive.ones(2, dtype=deepdive.int64))
    with pytest.raises(RuntimeError, match=r"Incompatible shapes of A and B .*\(3x3 and 2x1\)"):
        deepdive.linalg.solve(deepdive.eye(3), deepdive.ones(2, 1))
    with pytest.raises(RuntimeError, match="linalg.cross: inputs dimension -1 must have length 3"):
        deepdive.linalg.cross(deepdive.ones(2, 4), deepdive.ones(2, 4))


def test_import_forms():
    import deepdive.linalg as la
    from deepdive.linalg import norm
    assert la.norm is norm is deepdive.linalg.norm


def test_out_keyword_writes_into_the_given_tensors():
    torch = require_torch()
    a = well_conditioned(2, 3, 3)
    out = deepdive.empty(2, 3, 3, dtype=deepdive.float64)
    result = deepdive.linalg.inv(deepdive.tensor(a), out=out)
    assert result is out
    assert_close(out, torch.linalg.inv(torch.tensor(a)))
    sign, logabsdet = deepdive.empty(2, dtype=deepdive.float64), deepdive.empty(2, dtype=deepdive.float64)
    deepdive.linalg.slogdet(deepdive.tensor(a), out=(sign, logabsdet))
    assert_close(logabsdet, torch.linalg.slogdet(torch.tensor(a)).logabsdet)
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        deepdive.inverse(deepdive.tensor(a, requires_grad=True), out=out)
    with pytest.raises(RuntimeError, match="out has shape \\[3\\] but the result has shape \\[2, 3, 3\\]"):
        deepdive.linalg.inv(deepdive.tensor(a), out=deepdive.empty(3, dtype=deepdive.float64))


def test_torch_norm_nuc_is_the_nuclear_matrix_norm():
    torch = require_torch()
    a = rng.standard_normal((2, 3, 4))
    check_parity(lambda x: deepdive.norm(x, p="nuc", dim=(1, 2)), lambda x: torch.norm(x, p="nuc", dim=(1, 2)), [a])
    check_parity(lambda x: x[0].norm(p="nuc"), lambda x: x[0].norm(p="nuc"), [a])
