"""``deepdive.sparse``: sparse COO tensors and the ops on them, as ``torch.sparse``.

    adj = deepdive.sparse_coo_tensor(indices, values, (n, n))   or   dense.to_sparse()
    deepdive.sparse.mm(adj, x)        adj @ x        deepdive.mm(adj, x)       deepdive.spmm(adj, x)
    deepdive.sparse.sum(adj, dim)     deepdive.sparse.softmax(adj, dim)        deepdive.sparse.addmm(b, adj, x)

The products need scipy (``pip install deepdive[sparse]``); building and converting do not.
"""
from .coo import SparseTensor, sparse_coo_tensor
from .ops import mm, spmm, addmm, sum, softmax, log_softmax

__all__ = ["SparseTensor", "sparse_coo_tensor", "mm", "spmm", "addmm", "sum", "softmax", "log_softmax",
           "FloatTensor", "DoubleTensor"]


def FloatTensor(indices, values, size=None):
    """The legacy constructor ``torch.sparse.FloatTensor(indices, values, size)`` (pygcn and its
    descendants build their adjacency with it): ``sparse_coo_tensor``, values kept as given, as PyTorch."""
    import warnings
    warnings.warn("deepdive.sparse.FloatTensor(indices, values, shape) is deprecated, as in PyTorch. Please use "
                  "deepdive.sparse_coo_tensor(indices, values, shape, dtype=, device=).", UserWarning, stacklevel=2)
    return sparse_coo_tensor(indices, values, size)


DoubleTensor = FloatTensor
