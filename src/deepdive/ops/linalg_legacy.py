"""The old top-level names of the matrix functions (``torch.inverse``, ``det``, ``svd``, ``qr`` ...) and their
Tensor methods, with their old signatures and return conventions; each calls ``deepdive.linalg``.

NOTE: ``svd`` returns V (not Vh, as linalg.svd does) and takes ``some`` (reduced factors) instead of
``full_matrices``; ``qr`` takes ``some``; ``pinverse`` takes ``rcond`` (relative tolerance, default 1e-15).
"""
import numpy as np

from .. import linalg
from ..tensor import _wrap
from .reduction import return_type
from ._out import supports_out

__all__ = ["inverse", "det", "logdet", "slogdet", "svd", "cholesky", "qr", "pinverse", "cross", "matrix_power",
           "cholesky_solve", "cholesky_inverse", "chain_matmul"]
METHODS = ["inverse", "det", "logdet", "slogdet", "svd", "cholesky", "qr", "pinverse", "cross", "matrix_power",
           "cholesky_solve", "cholesky_inverse"]

svd_type = return_type("svd", ("U", "S", "V"))
qr_type = return_type("qr", ("Q", "R"))
slogdet_type = return_type("slogdet", ("sign", "logabsdet"))


@supports_out
def inverse(input):
    """A^{-1} (``linalg.inv``)."""
    return linalg.inv(input)


def det(input):
    """det(A) (``linalg.det``)."""
    return linalg.det(input)


def logdet(input):
    """log det(A): nan where det(A) < 0, -inf where it is 0 (gradient A^{-T} where det(A) > 0)."""
    sign, logabsdet = linalg.slogdet(input)
    with np.errstate(divide="ignore", invalid="ignore"):
        return logabsdet + _wrap(np.log(sign._data))


def slogdet(input):
    """(sign, log|det A|) (``linalg.slogdet``)."""
    return slogdet_type(*linalg.slogdet(input))


@supports_out
def svd(input, some=True, compute_uv=True):
    """(U, S, V) with A = U diag(S) V^T; ``some=False`` gives square U and V; without ``compute_uv``
    U and V are zero-filled (m x m) and (n x n)."""
    if not compute_uv:
        m, n = input.shape[-2:]
        batch, dt = tuple(input.shape[:-2]), input._data.dtype
        return svd_type(_wrap(np.zeros(batch + (m, m), dt)), linalg.svdvals(input), _wrap(np.zeros(batch + (n, n), dt)))
    U, S, Vh = linalg.svd(input, full_matrices=not some)
    return svd_type(U, S, Vh.mT)


@supports_out
def cholesky(input, upper=False):
    """L with A = L L^T (``upper``: U with A = U^T U)."""
    return linalg.cholesky(input, upper=upper)


@supports_out
def qr(input, some=True):
    """(Q, R) with A = QR (``some=False``: Q is square)."""
    return qr_type(*linalg.qr(input, mode="reduced" if some else "complete"))


def pinverse(input, rcond=1e-15):
    """The pseudo-inverse, singular values below rcond * s_max counting as zero."""
    return linalg.pinv(input, rtol=rcond)


@supports_out
def cross(input, other, dim=None):
    """Cross product along ``dim``; None (deprecated in PyTorch) takes the first dim of size 3."""
    if dim is None:
        sizes = [i for i, (a, b) in enumerate(zip(input.shape, other.shape)) if a == 3 and b == 3]
        if not sizes:
            raise RuntimeError("no dimension of size 3 in input")
        dim = sizes[0]
    return linalg.cross(input, other, dim=dim)


def matrix_power(input, n):
    """A^n (``linalg.matrix_power``)."""
    return linalg.matrix_power(input, n)


@supports_out
def cholesky_solve(input, input2, upper=False):
    """X with (L L^T) X = B, given B (``input``) and the Cholesky factor L (``input2``; U = L^T if ``upper``)."""
    # NOTE: solved against the product L L^T, not by two triangular solves: PyTorch's gradient w.r.t. the
    # factor is that of the full product (not projected onto its triangle).
    low = input2.mT if upper else input2
    return linalg.solve(low @ low.mT, input)


@supports_out
def cholesky_inverse(input, upper=False):
    """(L L^T)^{-1} from the Cholesky factor L (U = L^T if ``upper``)."""
    low = input.mT if upper else input
    return linalg.inv(low @ low.mT)


@supports_out
def chain_matmul(*matrices):
    """A_1 @ ... @ A_n of 2-D matrices (deprecated in PyTorch for ``linalg.multi_dot``)."""
    if len(matrices) == 1:
        return matrices[0].clone()          # a new tensor, as PyTorch's (never the input itself)
    return linalg.multi_dot(matrices)
