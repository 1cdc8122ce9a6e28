"""deepdive.linalg: PyTorch's ``torch.linalg`` (norms, solve, inverse, determinants, decompositions).

Every function takes a matrix or a stack of matrices (leading batch dims) in
float32 or float64 and is differentiable with PyTorch's gradient formulas; the
ops with a specific backward are ``Function`` classes in
``deepdive/ops/linalg_decomp.py``, the rest are composed here from them.

Example::

    import deepdive as torch
    A = torch.randn(4, 3, 3, dtype=torch.float64)
    x = torch.linalg.solve(A, torch.randn(4, 3))      # batched, broadcast
    U, S, Vh = torch.linalg.svd(A, full_matrices=False)
"""
import math

import numpy as np

from ..tensor import Tensor, _wrap
from ..ops import linalg_decomp as _fn
from ..ops.linalg import matmul
from ..ops.reduction import Norm, _dims, return_type
from ..ops._util import canonical_dim
from ..ops._out import supports_out

__all__ = ["norm", "vector_norm", "matrix_norm", "solve", "inv", "det", "slogdet", "cholesky", "qr", "svd", "svdvals",
           "eigh", "eigvalsh", "lstsq", "pinv", "matrix_rank", "cross", "multi_dot", "matrix_power", "vecdot",
           "solve_triangular", "LinAlgError", "inv_ex", "cholesky_ex"]

slogdet_type = return_type("linalg_slogdet", ("sign", "logabsdet"))
qr_type = return_type("linalg_qr", ("Q", "R"))
svd_type = return_type("linalg_svd", ("U", "S", "Vh"))
eigh_type = return_type("linalg_eigh", ("eigenvalues", "eigenvectors"))
lstsq_type = return_type("linalg_lstsq", ("solution", "residuals", "rank", "singular_values"))
inv_ex_type = return_type("linalg_inv_ex", ("inverse", "info"))
cholesky_ex_type = return_type("linalg_cholesky_ex", ("L", "info"))

_TYPE_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
               "float16": "Half"}


class LinAlgError(RuntimeError):
    """A matrix was singular / not positive-definite (``torch.linalg.LinAlgError``)."""


def _check_float(op, A):
    kind = A._data.dtype
    if kind not in (np.float32, np.float64):
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                           f"{_TYPE_NAMES.get(kind.name, kind.name)}")


def _check_matrix(op, A, square=True, name="A"):
    """PyTorch's checks: a float tensor with >= 2 dims whose last two are equal (when ``square``)."""
    if not isinstance(A, Tensor):
        raise TypeError(f"{op}(): argument '{name}' (position 1) must be Tensor, not {type(A).__name__}")
    if A._data.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor {name} must have at least 2 dimensions.")
    if square and A._data.shape[-1] != A._data.shape[-2]:
        m, n = A._data.shape[-2:]
        raise RuntimeError(f"{op}: {name} must be batches of square matrices, but they are {m} by {n} matrices")
    _check_float(op, A)


def _run(op, what, function, *args):
    """``function.apply(*args)``, with NumPy's LinAlgError turned into PyTorch's message."""
    try:
        return function.apply(*args)
    except np.linalg.LinAlgError:
        raise LinAlgError(f"{op}: {what}") from None


_SINGULAR = "The input matrix is singular, so the operation could not be completed."


# ------------------------------------------------------------------- norms
def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """||x||_ord over ``dim`` (all elements if None): (sum |x|^ord)^(1/ord); max |x| for inf, min for -inf,
    the count of nonzeros for 0. Gradient 0 where the norm is 0 (PyTorch's subgradient)."""
    if dtype is not None:
        x = x.to(dtype)
    _check_float("linalg.vector_norm", x)
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.vector_norm: ord must be a number, got {ord!r}")
    dims = _dims(dim, x._data.ndim, "linalg.vector_norm")
    return Norm.apply(x, float(ord), dims, keepdim)


def _two_dims(op, A, dim):
    if len(dim) != 2:
        raise RuntimeError(f"{op}: dim must be a 2-tuple. Got {' '.join(map(str, dim))}")
    d0, d1 = (canonical_dim(d, A._data.ndim, op) for d in dim)
    if d0 == d1:
        raise RuntimeError(f"{op}: dims must be different. Got ({dim[0]}, {dim[1]})")
    return d0, d1


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """Matrix norm over the two dims ``dim``: 'fro', 'nuc' (sum of singular values), 2 / -2 (largest /
    smallest singular value), 1 / -1 (max / min column abs-sum), inf / -inf (max / min row abs-sum)."""
    if dtype is not None:
        A = A.to(dtype)
    _check_matrix("linalg.matrix_norm", A, square=False)
    d0, d1 = _two_dims("linalg.matrix_norm", A, dim)
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        s = svdvals(A.movedim((d0, d1), (-2, -1)))
        out = s.sum(-1) if ord == "nuc" else (s.amax(-1) if ord == 2 else s.amin(-1))
        if keepdim:
            for d in sorted((d0, d1)):
                out = out.unsqueeze(d)
        return out
    if ord in (1, -1, math.inf, -math.inf):
        summed, extreme = (d0, d1) if ord in (1, -1) else (d1, d0)
        sums = A.abs().sum(summed, keepdim=True)
        out = sums.amax(extreme, keepdim=True) if ord > 0 else sums.amin(extreme, keepdim=True)
        return out if keepdim else out.squeeze((d0, d1))
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """A vector norm (1-D input or an int ``dim``) or a matrix norm (2-D input or a 2-tuple ``dim``);
    with ``ord`` and ``dim`` both None, the 2-norm of all elements."""
    if isinstance(dim, int):
        dim = (dim,)
    if dim is None:
        if ord is None:
            return vector_norm(A, 2, None, keepdim, dtype=dtype)
        if A.ndim not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. "
                               f"Got {A.ndim}D.")
        dim = tuple(range(A.ndim))
    if len(dim) == 1:
        if isinstance(ord, str):
            raise RuntimeError(f"linalg.norm: ord={ord} is not supported for vectors (dim must be a 2-tuple)")
        return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
    return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)


# ----------------------------------------------------------- solve, inverse
def _is_vector_rhs(A, B):
    """PyTorch's rule: B is a (batch of) vector(s) if 1-D, or if it has one dim less than A and A's shape
    without its last dim."""
    return B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))


@supports_out
def solve(A, B, *, left=True):
    """X with A X = B (``left=False``: X A = B); batch dims broadcast, B may be a (batch of) vector(s)."""
    _check_matrix("linalg.solve", A)
    if isinstance(B, Tensor) and A._data.dtype != B._data.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A of type "
                           f"{A.dtype.name.capitalize()} and B of type {B.dtype.name.capitalize()} instead")
    if not left:
        return solve(A.mT, B.mT).mT
    vector = _is_vector_rhs(A, B)
    if vector:
        B = B.unsqueeze(-1)
    if B.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                           f"({A.shape[-2]}x{A.shape[-1]} and {B.shape[-2]}x{B.shape[-1]})")
    x = _run("torch.linalg.solve", "The solver failed because the input matrix is singular.", _fn.Solve, A, B)
    return x.squeeze(-1) if vector else x


@supports_out
def inv(A):
    """A^{-1} of each square matrix in A."""
    _check_matrix("linalg.inv", A)
    return _run("linalg.inv", "The inversion could not be completed because the input matrix is singular.",
                _fn.Inv, A)


@supports_out
def inv_ex(A, *, check_errors=False):
    """(inverse, info): info is 0 where A is invertible (the inverse is then valid)."""
    _check_matrix("linalg.inv_ex", A)
    try:
        result = _fn.Inv.apply(A)
        info = np.zeros(A.shape[:-2], np.int32)
    except np.linalg.LinAlgError:
        if check_errors:
            raise LinAlgError(f"linalg.inv_ex: {_SINGULAR}") from None
        result = _wrap(np.full(A._data.shape, np.nan, A._data.dtype))
        info = np.ones(A.shape[:-2], np.int32)
    return inv_ex_type(result, _wrap(info))


@supports_out
def det(A):
    """det(A) of each square matrix (gradient finite for singular A, from the adjugate)."""
    _check_matrix("linalg.det", A)
    return _fn.Det.apply(A)


@supports_out
def slogdet(A):
    """(sign, log|det A|): a log-determinant that does not overflow; sign is 0 for singular A."""
    _check_matrix("linalg.slogdet", A)
    return slogdet_type(*_fn.SlogDet.apply(A))


@supports_out
def matrix_power(A, n):
    """A^n by repeated squaring (n < 0: the inverse's power; n = 0: the identity)."""
    _check_matrix("linalg.matrix_power", A)
    if n < 0:
        A, n = inv(A), -n
    if n == 0:
        eye = np.broadcast_to(np.eye(A.shape[-1], dtype=A._data.dtype), A._data.shape)
        return A * 0 + _wrap(eye.copy())
    result, power = None, A
    while n:
        if n & 1:
            result = power if result is None else matmul(result, power)
        n >>= 1
        if n:
            power = matmul(power, power)
    return result


@supports_out
def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """X with A X = B for triangular A: only A's ``upper`` (or lower) triangle is read, and its diagonal is
    taken as ones when ``unitriangular``."""
    _check_matrix("linalg.solve_triangular", A)
    if isinstance(B, Tensor) and A._data.dtype != B._data.dtype:
        raise RuntimeError(f"linalg.solve_triangular: Expected A and B to have the same dtype, but found "
                           f"A of type {A.dtype} and B of type {B.dtype} instead.")
    if not left:
        return solve_triangular(A.mT, B.mT, upper=not upper, unitriangular=unitriangular).mT
    T = A.triu(1 if unitriangular else 0) if upper else A.tril(-1 if unitriangular else 0)
    if unitriangular:
        T = T + _wrap(np.eye(A.shape[-1], dtype=A._data.dtype))
    return _run("linalg.solve_triangular", _SINGULAR, _fn.Solve, T, B)


# ---------------------------------------------------------- decompositions
@supports_out
def cholesky(A, *, upper=False):
    """L with A = L L^T (lower triangular; ``upper``: U with A = U^T U) of symmetric positive-definite A."""
    _check_matrix("linalg.cholesky", A)
    return _run("linalg.cholesky", "The factorization could not be completed because the input is not "
                "positive-definite.", _fn.Cholesky, A, bool(upper))


@supports_out
def cholesky_ex(A, *, upper=False, check_errors=False):
    """(L, info): info is 0 where A is positive-definite."""
    _check_matrix("linalg.cholesky_ex", A)
    try:
        low = _fn.Cholesky.apply(A, bool(upper))
        info = np.zeros(A.shape[:-2], np.int32)
    except np.linalg.LinAlgError:
        if check_errors:
            raise LinAlgError("linalg.cholesky_ex: The factorization could not be completed because the input is "
                              "not positive-definite.") from None
        low = _wrap(np.full(A._data.shape, np.nan, A._data.dtype))
        info = np.ones(A.shape[:-2], np.int32)
    return cholesky_ex_type(low, _wrap(info))


@supports_out
def qr(A, mode="reduced"):
    """(Q, R) with A = QR: mode 'reduced' (Q is m x k), 'complete' (Q is m x m) or 'r' (Q empty)."""
    _check_matrix("linalg.qr", A, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
                           "'r', or 'complete'")
    return qr_type(*_fn.QR.apply(A, mode))


@supports_out
def svd(A, full_matrices=True, *, driver=None):
    """(U, S, Vh) with A = U diag(S) Vh, S descending; ``full_matrices=False`` gives the reduced factors."""
    _check_matrix("linalg.svd", A, square=False)
    return svd_type(*_run("linalg.svd", "The algorithm failed to converge.", _fn.SVD, A, bool(full_matrices)))


@supports_out
def svdvals(A, *, driver=None):
    """The singular values of A, descending."""
    _check_matrix("linalg.svdvals", A, square=False)
    return _run("linalg.svdvals", "The algorithm failed to converge.", _fn.SVD, A, False)[1]


def _check_uplo(op, UPLO):
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"{op}: Expected UPLO argument to be 'L' or 'U', but got {UPLO}")


@supports_out
def eigh(A, UPLO="L"):
    """(eigenvalues, eigenvectors) of symmetric A (its ``UPLO`` triangle is read), eigenvalues ascending."""
    _check_matrix("linalg.eigh", A)
    _check_uplo("linalg.eigh", UPLO)
    return eigh_type(*_run("linalg.eigh", "The algorithm failed to converge.", _fn.Eigh, A, UPLO))


@supports_out
def eigvalsh(A, UPLO="L"):
    """The eigenvalues of symmetric A, ascending."""
    _check_matrix("linalg.eigvalsh", A)
    _check_uplo("linalg.eigvalsh", UPLO)
    return _run("linalg.eigvalsh", "The algorithm failed to converge.", _fn.Eigh, A, UPLO)[0]


def _tolerances(A, atol, rtol):
    """PyTorch's defaults: rtol = eps * max(m, n) unless atol > 0 is given alone."""
    if rtol is None:
        rtol = 0.0 if (atol is not None and np.any(np.asarray(_raw(atol)) > 0)) else \
            np.finfo(A._data.dtype).eps * max(A.shape[-2:])
    return (0.0 if atol is None else _raw(atol)), _raw(rtol)


def _raw(value):
    value = value._data if isinstance(value, Tensor) else np.asarray(value)
    return value[..., None] if value.ndim else value       # broadcast against the singular values (..., k)


@supports_out
def pinv(A, *, atol=None, rtol=None, hermitian=False):
    """The Moore-Penrose pseudo-inverse from the SVD; singular values <= max(atol, rtol * s_max) count as 0."""
    _check_matrix("linalg.pinv", A, square=False)
    atol, rtol = _tolerances(A, atol, rtol)
    return _fn.Pinv.apply(A, atol, rtol)


@supports_out
def matrix_rank(A, *, atol=None, rtol=None, hermitian=False):
    """The number of singular values above max(atol, rtol * s_max) (an int64 tensor)."""
    _check_matrix("linalg.matrix_rank", A, square=False)
    atol, rtol = _tolerances(A, atol, rtol)
    s = np.linalg.svd(A._data, compute_uv=False)
    tol = np.maximum(atol, rtol * s.max(axis=-1, keepdims=True, initial=0))
    return _wrap(np.asarray((s > tol).sum(axis=-1), dtype=np.int64))


def lstsq(A, B, rcond=None, *, driver=None):
    """(solution, residuals, rank, singular_values) of min ||A X - B||: the minimum-norm solution pinv(A) B.

    As in PyTorch, ``residuals`` (the squared residual norms) is filled only for m > n, full-rank A and a
    driver other than 'gelsy'; ``rank`` for drivers other than 'gels'; ``singular_values`` for 'gelsd' and
    'gelss'. The gradient is that of pinv(A) B (PyTorch's too).
    """
    _check_matrix("linalg.lstsq", A, square=False)
    driver = driver or "gelsy"
    if driver not in ("gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError("torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)")
    vector = B.ndim == A.ndim - 1
    if vector:
        B = B.unsqueeze(-1)
    if B.shape[-2] != A.shape[-2]:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-2), got "
                           f"{A.shape[-2]} and {B.shape[-2]}")
    rtol = np.finfo(A._data.dtype).eps * max(A.shape[-2:]) if rcond is None or rcond < 0 else rcond
    x = matmul(pinv(A, rtol=rtol), B)
    m, n = A.shape[-2:]
    dt = A._data.dtype
    empty = _wrap(np.zeros(0, dt))
    s = np.linalg.svd(A._data, compute_uv=False)
    rank = (s > rtol * s.max(axis=-1, keepdims=True, initial=0)).sum(axis=-1).astype(np.int64)
    residuals = empty
    if m > n and driver != "gelsy" and np.all(rank == n):
        residuals = ((matmul(A, x) - B) ** 2).sum(-2).detach()
        if vector:
            residuals = residuals.squeeze(-1)
    rank_t = _wrap(np.zeros(0, np.int64)) if driver == "gels" else _wrap(np.asarray(rank))
    values = _wrap(s.astype(dt)) if driver in ("gelsd", "gelss") else empty
    return lstsq_type(x.squeeze(-1) if vector else x, residuals, rank_t, values)


# ------------------------------------------------------------------ products
@supports_out
def cross(input, other, *, dim=-1):
    """The cross product of 3-vectors along ``dim`` (other dims broadcast)."""
    if input.ndim != other.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    d = canonical_dim(dim, input.ndim, "linalg.cross")
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {input.shape[d]} and "
                           f"{other.shape[d]}")
    return _fn.Cross.apply(input, other, d - input.ndim)


@supports_out
def multi_dot(tensors):
    """A_1 @ A_2 @ ... @ A_n; the first may be 1-D (a row vector), the last 1-D (a column vector)."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    first, last = tensors[0].ndim == 1, tensors[-1].ndim == 1
    for i, t in enumerate(tensors):
        if t.ndim != 2 and not ((i == 0 and first) or (i == len(tensors) - 1 and last)):
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.ndim}D")
    if first:
        tensors[0] = tensors[0].unsqueeze(0)
    if last:
        tensors[-1] = tensors[-1].unsqueeze(-1)
    result = tensors[0]
    for t in tensors[1:]:
        result = matmul(result, t)
    if first:
        result = result.squeeze(0)
    if last:
        result = result.squeeze(-1)
    return result


def vecdot(x, y, *, dim=-1):
    """sum(x * y) along ``dim`` (broadcast)."""
    return (x * y).sum(dim)
