"""The matrix helpers behind the multivariate distributions (as torch.distributions' private ones).

The factorisation and the solves are deepdive.linalg's (and the top-level cholesky_solve / cholesky_inverse),
with PyTorch's gradients; only the batched products on top of them live here.
"""
import deepdive
from ..linalg import cholesky, solve_triangular
from ..ops.linalg_legacy import cholesky_inverse, cholesky_solve

__all__ = ["cholesky", "solve_triangular", "cholesky_solve", "cholesky_inverse", "batch_mv", "batch_mahalanobis"]


def batch_mv(bmat, bvec):
    """Matrix times vector over broadcast batch dims."""
    return deepdive.matmul(bmat, bvec.unsqueeze(-1)).squeeze(-1)


def batch_mahalanobis(bL, bx):
    """|L^-1 x|^2 for L lower triangular, x broadcast against L's batch dims."""
    return solve_triangular(bL, bx.unsqueeze(-1), upper=False).squeeze(-1).pow(2).sum(-1)
