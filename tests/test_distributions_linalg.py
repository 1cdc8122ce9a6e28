"""The private differentiable Cholesky, triangular solve and Cholesky inverse behind MultivariateNormal:
gradcheck + parity with torch.linalg (values and gradients), batched and broadcast."""
import numpy as np
import pytest

import deepdive
from deepdive.distributions import _linalg
from parity import check_parity, gradcheck, require_torch

rng = np.random.default_rng(3)


def spd(*batch, n=4, dtype=np.float64):
    a = rng.standard_normal(batch + (n, n))
    return (a @ np.swapaxes(a, -1, -2) + n * np.eye(n)).astype(dtype)


def _sym(a):
    return (a + a.mT) / 2            # gradcheck perturbs entries one at a time; keep the input symmetric


@pytest.mark.parametrize("batch", [(), (3,), (2, 2)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cholesky_parity(batch, dtype):
    torch = require_torch()
    check_parity(lambda a: _linalg.cholesky(_sym(a)), lambda a: torch.linalg.cholesky(_sym(a)),
                 [spd(*batch, dtype=dtype)])


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("shapes", [((4, 4), (4, 2)), ((3, 4, 4), (3, 4, 1)), ((4, 4), (2, 4, 3)), ((2, 1, 4, 4),
                                                                                                     (3, 4, 2))])
def test_solve_triangular_parity(upper, shapes):
    torch = require_torch()
    a_shape, b_shape = shapes
    a = rng.standard_normal(a_shape) + 4 * np.eye(4)
    b = rng.standard_normal(b_shape)
    check_parity(lambda x, y: _linalg.solve_triangular(x, y, upper=upper),
                 lambda x, y: torch.linalg.solve_triangular(x, y, upper=upper), [a, b])


def test_cholesky_inverse_parity():
    torch = require_torch()
    lower = np.linalg.cholesky(spd(2))
    check_parity(_linalg.cholesky_inverse, torch.cholesky_inverse, [lower])


@pytest.mark.parametrize("shapes", [((4, 4), (4, 2)), ((3, 4, 4), (3, 4, 1)), ((4, 4), (2, 4, 3))])
def test_cholesky_solve_parity(shapes):
    torch = require_torch()
    lower = np.linalg.cholesky(spd(*shapes[0][:-2]))
    b = rng.standard_normal(shapes[1])
    check_parity(_linalg.cholesky_solve, torch.cholesky_solve, [b, lower])


def test_gradcheck():
    gradcheck(lambda b, lower: _linalg.cholesky_solve(b, lower.tril()), rng.standard_normal((4, 2)),
              np.linalg.cholesky(spd()))
    gradcheck(lambda a: _linalg.cholesky(_sym(a)), spd(2))
    gradcheck(lambda a, b: _linalg.solve_triangular(a, b, upper=False), np.tril(rng.standard_normal((4, 4))) +
              4 * np.eye(4), rng.standard_normal((4, 3)))
    # NOTE: like torch.cholesky_inverse, the forward reads the lower triangle only while the gradient formula
    # fills the whole matrix (PyTorch's convention, kept for parity); the true derivative is its lower part.
    gradcheck(lambda lower: _linalg.cholesky_inverse(lower.tril()), np.linalg.cholesky(spd()))


def test_errors():
    with pytest.raises(RuntimeError, match="not positive-definite"):
        _linalg.cholesky(deepdive.tensor([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(RuntimeError, match="same dtype"):
        _linalg.solve_triangular(deepdive.eye(2), deepdive.ones(2, 1, dtype=deepdive.float64), upper=False)
