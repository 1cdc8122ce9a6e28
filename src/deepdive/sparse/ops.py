"""Ops on sparse COO tensors (``deepdive.sparse``): the sparse-dense product, sums and softmax over
the stored entries. Every op is differentiable in the values and in the dense operand.

NOTE: the product runs in scipy.sparse's CSR kernel (the [sparse] extra), built once per sparse
tensor; the gradient for the values is sampled at the stored entries only (the same pattern), as
torch.sparse.mm gives it, never a dense (n, m) matrix.
"""
import numpy as np

from ..autograd.function import Function
from ..ops._util import canonical_dim
from .coo import SparseTensor, SegmentSum, _group
from ._scipy import scipy_sparse

__all__ = ["mm", "spmm", "addmm", "sum", "softmax", "log_softmax"]


def _check_sparse(input, op):
    if not isinstance(input, SparseTensor):
        raise RuntimeError(f"{op}: expected a sparse COO tensor as the first argument, got a dense "
                           f"{type(input).__name__} of size {list(input.shape)} (use .to_sparse())")


# ---------------------------------------------------------------- the product
class SparseMM(Function):
    """Y = A X, A sparse (n, m) with entries a_k at (r_k, c_k), X dense (m, p).

    Backward (g = dL/dY):  dX = A^T g,   da_k = sum_j g[r_k, j] X[c_k, j]   (only at the stored entries).
    """

    @staticmethod
    def forward(ctx, values, dense, csr, rows, cols):
        ctx.save_for_backward(dense, values)        # values: for create_graph (dX depends on them)
        ctx.csr, ctx.rows, ctx.cols = csr, rows, cols
        return np.ascontiguousarray(csr @ dense)

    @staticmethod
    def backward(ctx, grad):
        dense = ctx.saved_tensors[0]
        need = ctx.needs_input_grad
        d_values = np.einsum("kj,kj->k", grad[ctx.rows], dense[ctx.cols]) if need[0] else None
        d_dense = np.ascontiguousarray(ctx.csr.T @ grad) if need[1] else None
        return d_values, d_dense, None, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        """The same on Tensors: da as a recorded gather and row sum, dX = A^T g as a SparseMM of A^T (the
        entries at (c_k, r_k), the same values), so both are differentiable again in g, X and the values."""
        dense, values = ctx.saved_tensors
        need = ctx.needs_input_grad
        d_values = (grad[ctx.rows] * dense[ctx.cols]).sum(1) if need[0] else None
        d_dense = SparseMM.apply(values, grad, ctx.csr.T, ctx.cols, ctx.rows) if need[1] else None
        return d_values, d_dense, None, None, None


def _csr(sparse):
    """scipy's CSR matrix of a 2-D sparse tensor (duplicates summed), cached on the tensor until its
    values change in place (their version counter moves)."""
    version = sparse._vals._version_counter[0]
    if sparse._csr is None or sparse._csr[0] != version:
        rows, cols = sparse._indices_array
        matrix = scipy_sparse().csr_matrix((sparse._vals._data, (rows, cols)), shape=tuple(sparse.shape))
        sparse._csr = (version, matrix)
    return sparse._csr[1]


def mm(mat1, mat2):
    """``torch.sparse.mm``: sparse (n, m) @ dense (m, p) -> dense (n, p) (or dense @ sparse, through
    the transposes: (B^T A^T)^T).

    Gradients flow to the dense operand and to the sparse one's values (a sparse gradient, same pattern).
    """
    if not isinstance(mat1, SparseTensor) and isinstance(mat2, SparseTensor):
        return mm(mat2.t(), mat1.t()).t()
    _check_sparse(mat1, "sparse.mm")
    if isinstance(mat2, SparseTensor):
        raise NotImplementedError("sparse.mm: sparse @ sparse is not supported in deepdive; call .to_dense() on "
                                  "one operand")
    if mat1.sparse_dim() != 2 or mat1.dense_dim() != 0 or mat2.dim() != 2:
        raise RuntimeError(f"sparse.mm: expected a 2-D sparse matrix and a 2-D dense matrix, got sizes "
                           f"{list(mat1.shape)} (sparse_dim {mat1.sparse_dim()}) and {list(mat2.shape)}")
    if mat1.shape[1] != mat2.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({mat1.shape[0]}x{mat1.shape[1]} and "
                           f"{mat2.shape[0]}x{mat2.shape[1]})")
    if mat1.dtype != mat2.dtype:
        raise RuntimeError(f"sparse.mm: expected mat1 and mat2 to have the same dtype, but got "
                           f"{mat1.dtype} and {mat2.dtype}")
    rows, cols = mat1._indices_array
    return SparseMM.apply(mat1._vals, mat2, _csr(mat1), rows, cols)


spmm = mm


def addmm(mat, mat1, mat2, *, beta=1.0, alpha=1.0):
    """``torch.sparse.addmm``: beta * mat + alpha * (mat1 @ mat2), mat1 sparse, mat and mat2 dense."""
    product = mm(mat1, mat2)
    if alpha != 1:
        product = product * alpha
    return product + (mat if beta == 1 else mat * beta)


# ---------------------------------------------------------------- reductions
def _dims(dim, ndim, op):
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    return sorted({canonical_dim(d, ndim, op) for d in dims})


def sum(input, dim=None, dtype=None):
    """``torch.sparse.sum``: the sum of the stored entries over ``dim`` (all dims if None).

    Returns a dense tensor when every sparse dim is summed (a scalar for ``dim=None``), else a
    coalesced sparse tensor over the dims that remain.
    """
    _check_sparse(input, "sparse.sum")
    values = input._vals if dtype is None else input._vals.to(dtype)
    if dim is None:
        return values.sum()
    dims = _dims(dim, input.dim(), "sparse.sum")
    sparse_dim = input.sparse_dim()
    dense_axes = [d - sparse_dim + 1 for d in dims if d >= sparse_dim]
    if dense_axes:
        values = values.sum(dim=tuple(dense_axes))
    kept = [d for d in range(sparse_dim) if d not in dims]
    kept_dense = [s for d, s in enumerate(input.shape) if d >= sparse_dim and d not in dims]
    if not kept:        # every sparse dim summed: a dense tensor of the remaining dense dims
        return values.sum(dim=0)
    size = [input.shape[d] for d in kept]
    indices, group = _group(input._indices_array[kept], size)
    summed = SegmentSum.apply(values, group, indices.shape[1])
    return SparseTensor._make(indices, summed, size + kept_dense, True)


# ---------------------------------------------------------------- softmax over the stored entries
class SegmentSoftmax(Function):
    """y_k = exp(x_k) / sum_{l in group(k)} exp(x_l): softmax within each group of entries (a row of a
    sparse matrix for dim=1), the entries that are not stored counting as -inf.

    Backward: dx_k = y_k (g_k - sum_{l in group(k)} g_l y_l).   (log: dx_k = g_k - exp(y_k) sum_group g.)
    """

    @staticmethod
    def forward(ctx, x, group, n_groups, log):
        shape = (n_groups,) + x.shape[1:]
        peak = np.full(shape, -np.inf, dtype=x.dtype)
        np.maximum.at(peak, group, x)            # subtract each group's max: exp cannot overflow
        shifted = x - peak[group]
        e = np.exp(shifted)
        total = np.zeros(shape, dtype=x.dtype)
        np.add.at(total, group, e)
        y = shifted - np.log(total)[group] if log else e / total[group]
        ctx.save_for_backward(y)
        ctx.group, ctx.n_groups, ctx.log = group, n_groups, log
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        shape = (ctx.n_groups,) + y.shape[1:]
        total = np.zeros(shape, dtype=y.dtype)
        if ctx.log:
            np.add.at(total, ctx.group, grad)
            return grad - np.exp(y) * total[ctx.group], None, None, None
        np.add.at(total, ctx.group, grad * y)
        return y * (grad - total[ctx.group]), None, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        (y,) = ctx.saved_tensors
        if ctx.log:
            return grad - y.exp() * SegmentSum.apply(grad, ctx.group, ctx.n_groups)[ctx.group], None, None, None
        return y * (grad - SegmentSum.apply(grad * y, ctx.group, ctx.n_groups)[ctx.group]), None, None, None


def _softmax(input, dim, dtype, log, op):
    _check_sparse(input, op)
    (dim,) = _dims(dim, input.dim(), op)
    if dim >= input.sparse_dim():
        raise NotImplementedError(f"{op}: softmax over a dense dim ({dim}) of a hybrid sparse tensor is not "
                                  "supported in deepdive")
    input = input.coalesce()
    values = input._vals if dtype is None else input._vals.to(dtype)
    others = [d for d in range(input.sparse_dim()) if d != dim]
    if others:
        _, group = _group(input._indices_array[others], [input.shape[d] for d in others])
        n_groups = int(group.max()) + 1 if group.size else 0
    else:
        group, n_groups = np.zeros(input._nnz(), dtype=np.int64), 1
    out = SegmentSoftmax.apply(values, group, n_groups, log)
    return SparseTensor._make(input._indices_array, out, tuple(input.shape), True)


def softmax(input, dim, dtype=None):
    """``torch.sparse.softmax``: softmax along ``dim`` over the stored entries only (the rest count as -inf,
    so they stay zero): GAT-style attention over a graph's edges. Returns a sparse tensor (same pattern)."""
    return _softmax(input, dim, dtype, False, "sparse.softmax")


def log_softmax(input, dim, dtype=None):
    """``torch.sparse.log_softmax``: log of ``softmax`` over the stored entries."""
    return _softmax(input, dim, dtype, True, "sparse.log_softmax")
