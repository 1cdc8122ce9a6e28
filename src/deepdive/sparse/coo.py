"""Sparse COO tensors (PyTorch's ``torch.sparse_coo`` layout): ``indices`` (sparse_dim, nnz) int64 and
``values`` (nnz, *dense_dims) of a given ``size``; entry k sits at ``indices[:, k]``.

    adj = deepdive.sparse_coo_tensor(edge_index, weights, (N, N))      # or dense_adj.to_sparse()
    out = deepdive.sparse.mm(adj, x)                                   # or adj @ x, deepdive.mm(adj, x)

Representation: a ``SparseTensor`` holds its values as an ordinary (dense) Tensor, which
carries the autograd graph (``_vals``); the indices and size are plain data. So the gradient of a sparse tensor
is the gradient of its values: a sparse tensor with the same pattern, as torch.sparse.mm gives. Only
the sparse ops in ``deepdive.sparse`` know the layout; dense ops refuse a sparse tensor loudly (call
``.to_dense()``) instead of silently computing on its values.
"""
import numpy as np

from .._layout import sparse_coo
from ..autograd.function import Function
from ..tensor import Tensor, Size, _wrap, _new, _TENSOR_TYPES

__all__ = ["SparseTensor", "sparse_coo_tensor"]


# ---------------------------------------------------------------- differentiable pieces (all on the values)
class SparseCooTensorWithDimsAndTensors(Function):
    """The values of a new sparse tensor (named as PyTorch's node).   Backward: the identity."""

    @staticmethod
    def forward(ctx, values):
        return values.view()

    @staticmethod
    def backward(ctx, grad):
        return grad

    graph_backward = backward


class SparseToDense(Function):
    """y = dense tensor of ``size`` with y[indices[:, k]] += values[k] (duplicates add up).
    Backward: d values[k] = g[indices[:, k]]."""

    @staticmethod
    def forward(ctx, values, indices, size):
        ctx.index = tuple(indices)
        out = np.zeros(size, dtype=values.dtype)
        np.add.at(out, ctx.index, values)
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad[ctx.index], None, None

    graph_backward = backward          # a gather: recorded as Tensor indexing


class ToSparse(Function):
    """values = x[indices] (the nonzeros of a dense x).   Backward: dx = zeros with g at the indices."""

    @staticmethod
    def forward(ctx, x, indices):
        ctx.index, ctx.shape = tuple(indices), x.shape
        return x[ctx.index]

    @staticmethod
    def backward(ctx, grad):
        dx = np.zeros(ctx.shape, dtype=grad.dtype)
        dx[ctx.index] = grad
        return dx, None

    @staticmethod
    def graph_backward(ctx, grad):
        from ..ops._util import linear_backward
        return linear_backward(ctx, grad, lambda g: g[ctx.index]), None


class SegmentSum(Function):
    """y[j] = sum of values[k] over the k with group[k] = j (coalesce, sparse.sum).   Backward: g[group]."""

    @staticmethod
    def forward(ctx, values, group, n_groups):
        ctx.group = group
        out = np.zeros((n_groups,) + values.shape[1:], dtype=values.dtype)
        np.add.at(out, group, values)
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad[ctx.group], None, None

    graph_backward = backward


def _linear_index(indices, shape):
    """One int64 per entry (row-major over the sparse dims): what sorting and coalescing compare."""
    if indices.shape[0] == 0:
        return np.zeros(indices.shape[1], dtype=np.int64)
    return np.ravel_multi_index(tuple(indices), tuple(shape))


def _group(indices, shape):
    """(unique indices in row-major order, the group of every entry): coalescing's bookkeeping."""
    linear = _linear_index(indices, shape)
    unique, group = np.unique(linear, return_inverse=True)
    if indices.shape[0] == 0:
        return np.zeros((0, unique.size), dtype=np.int64), group.reshape(-1)
    return np.stack(np.unravel_index(unique, tuple(shape))).astype(np.int64), group.reshape(-1)


# ---------------------------------------------------------------- the tensor
class SparseTensor(Tensor):
    """A sparse COO tensor: ``indices()`` (sparse_dim, nnz), ``values()`` (nnz, *dense), ``size()``.

    Build with ``deepdive.sparse_coo_tensor`` or ``dense.to_sparse()``; multiply with ``deepdive.sparse.mm``.
    """

    is_sparse = True
    layout = sparse_coo

    @classmethod
    def _make(cls, indices, values, size, coalesced):
        t = _new(cls)
        t._vals, t._indices_array, t._size = values, indices, Size(size)
        t._data = values._data              # dtype, device and friends read it
        t._coalesced = bool(coalesced)
        t._output_nr, t._version_counter, t._hooks = 0, [0], None
        t._csr = None                       # (values version, scipy's CSR form), built by the first product
        return t

    # autograd state lives on the values
    requires_grad = property(lambda self: self._vals.requires_grad)
    grad_fn = property(lambda self: self._vals.grad_fn)

    @property
    def grad(self):
        """dL/d(this) at the stored entries: a coalesced sparse tensor (a duplicated entry's gradient, once)."""
        g = self._vals.grad
        if g is None:
            return None
        if self._coalesced:
            return SparseTensor._make(self._indices_array, g, self._size, True)
        indices, group = _group(self._indices_array, self._size[:self.sparse_dim()])
        first = np.empty(indices.shape[1], dtype=np.int64)
        first[group[::-1]] = np.arange(group.size)[::-1]          # an entry of each group (all share its grad)
        return SparseTensor._make(indices, _wrap(g._data[first]), self._size, True)

    def requires_grad_(self, requires_grad=True):
        self._vals.requires_grad_(requires_grad)
        return self

    def detach(self):
        return SparseTensor._make(self._indices_array, self._vals.detach(), self._size, self._coalesced)

    # metadata
    @property
    def shape(self):
        return self._size

    def size(self, dim=None):
        return self._size if dim is None else self._size[dim]

    def dim(self):
        return len(self._size)

    ndimension = dim
    ndim = property(dim)

    def numel(self):
        return self._size.numel()

    def sparse_dim(self):
        return self._indices_array.shape[0]

    def dense_dim(self):
        return len(self._size) - self.sparse_dim()

    def _nnz(self):
        return self._indices_array.shape[1]

    def is_coalesced(self):
        return self._coalesced

    # the parts
    def _indices(self):
        return _wrap(self._indices_array)

    def _values(self):
        return self._vals

    def indices(self):
        self._check_coalesced("indices")
        return self._indices()

    def values(self):
        self._check_coalesced("values")
        return self._vals

    def _check_coalesced(self, what):
        if not self._coalesced:
            raise RuntimeError(f"Cannot get {what} on an uncoalesced tensor, please call .coalesce() first")

    # conversions
    def coalesce(self):
        """Entries sorted in row-major order, duplicates summed (differentiable in the values)."""
        if self._coalesced:
            return self
        indices, group = _group(self._indices_array, self._size[:self.sparse_dim()])
        values = SegmentSum.apply(self._vals, group, indices.shape[1])
        return SparseTensor._make(indices, values, self._size, True)

    def to_dense(self, dtype=None, *, masked_grad=True):
        dense = SparseToDense.apply(self._vals, self._indices_array, tuple(self._size))
        return dense if dtype is None else dense.to(dtype)

    def to_sparse(self, sparse_dim=None, *, layout=None):
        return self

    def to(self, *args, **kwargs):
        return SparseTensor._make(self._indices_array, self._vals.to(*args, **kwargs), self._size, self._coalesced)

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def t(self):
        """The transpose of a 2-D sparse matrix: the two index rows swapped."""
        if self.sparse_dim() != 2 or self.dense_dim() != 0:
            raise RuntimeError(f"t() expects a 2-D sparse tensor without dense dims, but got size "
                               f"{tuple(self._size)} with {self.dense_dim()} dense dims")
        return SparseTensor._make(self._indices_array[::-1].copy(), self._vals, self._size[::-1], False)

    # products and reductions (deepdive.sparse)
    def mm(self, mat2):
        from .ops import mm
        return mm(self, mat2)

    __matmul__ = matmul = mm

    def __rmatmul__(self, other):
        from .ops import mm
        return mm(other, self)

    def sum(self, dim=None, keepdim=False, dtype=None):
        from .ops import sum
        if keepdim:
            raise RuntimeError("sum: keepdim is not supported for sparse tensors")
        return sum(self, dim, dtype=dtype)

    def __mul__(self, other):
        """sparse * number: the values scaled."""
        if isinstance(other, (int, float, np.number)) and not isinstance(other, bool):
            return SparseTensor._make(self._indices_array, self._vals * other, self._size, self._coalesced)
        return _unsupported(self, "mul with a tensor")

    __rmul__ = __mul__

    def __truediv__(self, other):
        if isinstance(other, (int, float, np.number)) and not isinstance(other, bool):
            return SparseTensor._make(self._indices_array, self._vals / other, self._size, self._coalesced)
        return _unsupported(self, "div with a tensor")

    def __neg__(self):
        return self * -1

    def __reduce_ex__(self, protocol):
        # pickled (and deep-copied) as its parts, rebuilt as a sparse tensor
        return (_rebuild, (self._indices_array, self._vals.detach()._data, tuple(self._size), self._coalesced,
                           self.requires_grad and self.is_leaf))

    def __deepcopy__(self, memo):
        return _rebuild(self._indices_array.copy(), self._vals.detach()._data.copy(), tuple(self._size),
                        self._coalesced, self.requires_grad and self.is_leaf)

    def __array__(self, dtype=None, copy=None):
        _unsupported(self, "this dense operation")

    def __repr__(self):
        from .._format import tensor_repr

        def indented(text, width):
            return text.replace("\n", "\n" + " " * width)
        lines = ["tensor(indices=" + indented(tensor_repr(_wrap(self._indices_array)), 15),
                 "       values=" + indented(tensor_repr(self._vals.detach()), 14)]
        tail = f"       size={tuple(self._size)}, nnz={self._nnz()}"
        if self._vals.dtype.name != "float32":
            tail += f", dtype=deepdive.{self._vals.dtype.name}"
        tail += ", layout=deepdive.sparse_coo"
        if self.grad_fn is not None:
            tail += f",\n       grad_fn=<{self.grad_fn.name()}>"
        elif self.requires_grad:
            tail += ", requires_grad=True"
        return ",\n".join(lines + [tail + ")"])

    __str__ = __repr__


for _name in ("__add__", "__radd__", "__sub__", "__rsub__", "__rtruediv__", "__pow__", "__getitem__"):
    setattr(SparseTensor, _name, lambda self, *args, _op=_name.strip("_"): _unsupported(self, _op))

# NOTE: not an autograd "tensor type": Function.apply must not unwrap a sparse tensor into its values
# array (a dense op would silently compute on the nonzeros alone); the sparse ops pass ``_vals``.
_TENSOR_TYPES.discard(SparseTensor)


def _rebuild(indices, values, size, coalesced, requires_grad):
    return SparseTensor._make(indices, _wrap(values, requires_grad), size, coalesced)


def _unsupported(tensor, what):
    raise RuntimeError(f"{what} is not supported on a sparse tensor (size {list(tensor.shape)}, layout "
                       "deepdive.sparse_coo) in deepdive: use deepdive.sparse.mm / sum / softmax, or call "
                       ".to_dense() first")


# ---------------------------------------------------------------- construction
def _as_index_array(indices):
    array = indices._data if isinstance(indices, Tensor) else np.asarray(indices)
    if array.dtype.kind not in "iu":
        raise RuntimeError(f"indices must be an int64 tensor, but got {array.dtype}")
    return array.astype(np.int64)


def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None, requires_grad=False,
                      check_invariants=None, is_coalesced=None):
    """A sparse COO tensor with ``values[k]`` at ``indices[:, k]`` (duplicates allowed: they add up).

    Args:
        indices: (sparse_dim, nnz) integers; values: (nnz, *dense_dims) (float32 for Python floats);
        size (tuple, optional): inferred as max(indices) + 1 per sparse dim, plus values' dense dims;
        dtype (optional): of the values; requires_grad (bool, False): the values become a leaf that does;
        is_coalesced (bool, optional): promise that the indices are unique and sorted.
    """
    from ..tensor import _array_from
    indices = _as_index_array(indices)
    if indices.ndim != 2:
        raise RuntimeError(f"indices must be sparse_dim x nnz, but got: {list(indices.shape)}")
    if not isinstance(values, Tensor):
        values = _wrap(_array_from(values, dtype))
    elif dtype is not None:
        values = values.to(dtype)
    if values.dim() == 0:
        raise RuntimeError("values must have at least one dimension (nnz, *dense_dims)")
    if indices.shape[1] != values.shape[0]:
        raise RuntimeError(f"indices and values must have same nnz, but got nnz from indices: {indices.shape[1]}, "
                           f"nnz from values: {values.shape[0]}")
    sparse_dim = indices.shape[0]
    if size is None:
        size = tuple(int(m) + 1 for m in indices.max(axis=1)) if indices.shape[1] else (0,) * sparse_dim
        size += tuple(values.shape[1:])
    size = tuple(int(s) for s in size)
    if len(size) != sparse_dim + values.dim() - 1:
        raise RuntimeError(f"number of dimensions must be sparse_dim ({sparse_dim}) + dense_dim "
                           f"({values.dim() - 1}), but got {len(size)}")
    if tuple(values.shape[1:]) != size[sparse_dim:]:
        raise RuntimeError(f"values has incorrect size, expected {[values.shape[0], *size[sparse_dim:]]}, "
                           f"got {list(values.shape)}")
    for d in range(sparse_dim):
        if indices.shape[1] and (indices[d].max() >= size[d] or indices[d].min() < 0):
            bad = indices[d].max() if indices[d].max() >= size[d] else indices[d].min()
            raise RuntimeError(f"size is inconsistent with indices: for dim {d}, size is {size[d]} but found "
                               f"index {bad}")
    if requires_grad:
        values = values.detach().requires_grad_()
    elif values.requires_grad:
        values = SparseCooTensorWithDimsAndTensors.apply(values)
    return SparseTensor._make(indices, values, size, bool(is_coalesced))


def dense_to_dense(self, dtype=None, *, masked_grad=None):
    """``dense.to_dense()``: the tensor itself (PyTorch's no-op for the strided layout)."""
    return self if dtype is None else self.to(dtype)


def to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
    """``dense.to_sparse()``: the nonzeros of a dense tensor as a coalesced sparse COO tensor.

    With ``sparse_dim`` < dim, the trailing dims stay dense: an entry per index whose slice has a nonzero.
    """
    if layout is not None and layout is not sparse_coo:
        raise NotImplementedError(f"to_sparse: only layout=deepdive.sparse_coo is supported, got {layout}")
    sparse_dim = self.dim() if sparse_dim is None else int(sparse_dim)
    if not 0 < sparse_dim <= self.dim():
        raise RuntimeError(f"sparse_dim must be in [1, {self.dim()}] for a {self.dim()}-D tensor, got {sparse_dim}")
    nonzero = self._data != 0
    if sparse_dim < self.dim():
        nonzero = nonzero.any(axis=tuple(range(sparse_dim, self.dim())))
    indices = np.stack(np.nonzero(nonzero)).astype(np.int64).reshape(sparse_dim, -1)   # row-major: coalesced
    values = ToSparse.apply(self, indices)
    return SparseTensor._make(indices, values, tuple(self.shape), True)
