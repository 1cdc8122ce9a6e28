"""``deepdive.sparse``: sparse COO tensors and the ops on them, as ``torch.sparse``.

    adj = deepdive.sparse_coo_tensor(indices, values, (n, n))   or   dense.to_sparse()
    deepdive.sparse.mm(adj, x)        adj @ x        deepdive.mm(adj, x)       deepdive.spmm(adj, x)
    deepdive.sparse.sum(adj, dim)     deepdive.sparse.softmax(adj, dim)        deepdive.sparse.addmm(b, adj, x)

The products need scipy (``pip install deepdive[sparse]``); building and converting do not.
"""
from .coo import SparseTensor, sparse_coo_tensor, to_sparse
from .ops import mm, spmm, addmm, sum, softmax, log_softmax

__all__ = ["SparseTensor", "sparse_coo_tensor", "mm", "spmm", "addmm", "sum", "softmax", "log_softmax"]
