"""Sparse COO tensors (deepdive.sparse) against PyTorch: construction, conversions, coalescing, the
sparse-dense product, sums, softmax over stored entries, and the GCN / GAT programs that use them."""
import numpy as np
import pytest

import deepdive
from parity import assert_close, check_parity, gradcheck, require_torch

# torch warns once per process that it does not check sparse invariants: not ours to see
pytestmark = pytest.mark.filterwarnings("ignore:Sparse invariant checks:UserWarning")
rng = np.random.default_rng(0)
# a 4 x 5 pattern with a duplicate entry (1, 3) twice, not sorted
INDICES = np.array([[2, 0, 1, 3, 1, 0], [4, 1, 3, 0, 3, 0]])
SIZE = (4, 5)


def _values(*dense_shape, dtype=np.float32):
    return rng.standard_normal((INDICES.shape[1],) + dense_shape).astype(dtype)


def _both(lib, indices, values, size):
    return lib.sparse_coo_tensor(lib.tensor(indices), values, size)


# ---------------------------------------------------------------- construction and metadata
def test_metadata_and_repr_match_torch():
    torch = require_torch()
    values = np.array([3.0, 4.0, 5.0], dtype=np.float32)
    indices = np.array([[0, 1, 1], [2, 0, 2]])
    ours = deepdive.sparse_coo_tensor(deepdive.tensor(indices), deepdive.tensor(values), (2, 3))
    theirs = torch.sparse_coo_tensor(torch.tensor(indices), torch.tensor(values), (2, 3))
    assert repr(ours) == repr(theirs).replace("torch.", "deepdive.")
    assert ours.is_sparse and not deepdive.ones(2).is_sparse
    assert ours.layout is deepdive.sparse_coo and deepdive.ones(2).layout is deepdive.strided
    assert repr(deepdive.sparse_coo) == "deepdive.sparse_coo"
    assert tuple(ours.shape) == (2, 3) and ours.dim() == 2 and ours.ndim == 2 and ours.size(1) == 3
    assert (ours._nnz(), ours.sparse_dim(), ours.dense_dim()) == (3, 2, 0)
    assert ours.dtype == deepdive.float32 and not ours.is_coalesced() and not theirs.is_coalesced()
    with pytest.raises(RuntimeError, match="Cannot get indices on an uncoalesced tensor"):
        ours.indices()
    assert ours.coalesce().indices().tolist() == theirs.coalesce().indices().tolist()


def test_size_is_inferred_and_hybrid_tensors():
    torch = require_torch()
    values = _values(2)
    ours = deepdive.sparse_coo_tensor(INDICES, values)
    theirs = torch.sparse_coo_tensor(torch.tensor(INDICES), torch.tensor(values))
    assert tuple(ours.shape) == tuple(theirs.shape) == (4, 5, 2)
    assert (ours.sparse_dim(), ours.dense_dim()) == (theirs.sparse_dim(), theirs.dense_dim())
    assert_close(ours.to_dense(), theirs.to_dense())
    assert repr(ours) == repr(theirs).replace("torch.", "deepdive.")


def test_construction_errors_name_the_problem():
    with pytest.raises(RuntimeError, match="indices and values must have same nnz, but got nnz from indices: 6, "
                                           "nnz from values: 2"):
        deepdive.sparse_coo_tensor(INDICES, deepdive.ones(2), SIZE)
    with pytest.raises(RuntimeError, match="size is inconsistent with indices: for dim 1, size is 4 but found index 4"):
        deepdive.sparse_coo_tensor(INDICES, _values(), (4, 4))
    with pytest.raises(RuntimeError, match="indices must be an int64 tensor"):
        deepdive.sparse_coo_tensor(INDICES.astype(np.float32), _values(), SIZE)
    s = deepdive.sparse_coo_tensor(INDICES, _values(), SIZE)
    with pytest.raises(RuntimeError, match=r"add is not supported on a sparse tensor \(size \[4, 5\]"):
        s + s
    with pytest.raises(RuntimeError, match="not supported on a sparse tensor.*to_dense"):
        deepdive.relu(s)


# ---------------------------------------------------------------- conversions (values and gradients)
def test_to_dense_sums_duplicates_with_gradient():
    torch = require_torch()
    check_parity(lambda v: _both(deepdive, INDICES, v, SIZE).to_dense(),
                 lambda v: _both(torch, INDICES, v, SIZE).to_dense(), [_values()])
    check_parity(lambda v: _both(deepdive, INDICES, v, SIZE + (3,)).to_dense(),
                 lambda v: _both(torch, INDICES, v, SIZE + (3,)).to_dense(), [_values(3)])
    gradcheck(lambda v: _both(deepdive, INDICES, v, SIZE).to_dense(), _values())


def test_coalesce_sorts_and_sums_duplicates():
    torch = require_torch()
    values = _values(2)
    ours, theirs = _both(deepdive, INDICES, deepdive.tensor(values), SIZE + (2,)).coalesce(), \
        _both(torch, INDICES, torch.tensor(values), SIZE + (2,)).coalesce()
    assert ours.is_coalesced() and ours._nnz() == theirs._nnz() == 5
    assert ours.indices().tolist() == theirs.indices().tolist()
    assert_close(ours.values(), theirs.values())
    check_parity(lambda v: _both(deepdive, INDICES, v, SIZE).coalesce().values(),
                 lambda v: _both(torch, INDICES, v, SIZE).coalesce().values(), [_values()])
    gradcheck(lambda v: _both(deepdive, INDICES, v, SIZE).coalesce().values(), _values())


@pytest.mark.parametrize("sparse_dim", [None, 1, 2])
def test_to_sparse_of_a_dense_tensor(sparse_dim):
    torch = require_torch()
    x = rng.standard_normal((4, 3, 2)).astype(np.float32)
    x[x < 0.3] = 0
    x[1] = 0
    args = () if sparse_dim is None else (sparse_dim,)
    ours, theirs = deepdive.tensor(x).to_sparse(*args), torch.tensor(x).to_sparse(*args)
    assert ours.is_coalesced() == theirs.is_coalesced()
    assert ours.indices().tolist() == theirs.indices().tolist()
    assert_close(ours.values(), theirs.values())
    check_parity(lambda a: a.to_sparse(*args).values() * 2, lambda a: a.to_sparse(*args).values() * 2, [x])
    check_parity(lambda a: a.to_sparse().to_dense(), lambda a: a.to_sparse().to_dense(), [x])


def test_sparse_leaf_requires_grad_gets_a_sparse_grad():
    torch = require_torch()
    values = _values()
    dense = rng.standard_normal((5, 3)).astype(np.float32)
    ours = deepdive.sparse_coo_tensor(INDICES, values, SIZE, requires_grad=True)
    theirs = torch.sparse_coo_tensor(torch.tensor(INDICES), torch.tensor(values), SIZE, requires_grad=True)
    assert ours.is_leaf and ours.requires_grad
    deepdive.sparse.mm(ours, deepdive.tensor(dense)).sum().backward()
    torch.sparse.mm(theirs, torch.tensor(dense)).sum().backward()
    assert ours.grad.is_sparse and theirs.grad.is_sparse
    assert_close(ours.grad.to_dense(), theirs.grad.to_dense())


# ---------------------------------------------------------------- the product
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spelling", ["sparse.mm", "mm", "spmm", "@", "matmul"])
def test_sparse_dense_product(spelling, dtype):
    torch = require_torch()

    def product(lib):
        def fn(values, dense):
            a = _both(lib, INDICES, values, SIZE)
            if spelling == "sparse.mm":
                return lib.sparse.mm(a, dense)
            return a @ dense if spelling == "@" else getattr(lib, spelling)(a, dense)
        return fn
    check_parity(product(deepdive), product(torch), [_values(dtype=dtype),
                                                     rng.standard_normal((5, 3)).astype(dtype)])


@pytest.mark.parametrize("spelling", ["sparse.mm", "mm", "@", "matmul"])
def test_dense_sparse_product(spelling):
    torch = require_torch()

    def product(lib):
        def fn(dense, values):
            b = _both(lib, INDICES, values, SIZE)
            if spelling == "sparse.mm":
                return lib.sparse.mm(dense, b)
            return dense @ b if spelling == "@" else getattr(lib, spelling)(dense, b)
        return fn
    check_parity(product(deepdive), product(torch), [rng.standard_normal((3, 4)).astype(np.float32), _values()])


def test_product_gradcheck_and_addmm():
    torch = require_torch()
    dense = rng.standard_normal((5, 3))
    gradcheck(lambda v, d: deepdive.sparse.mm(_both(deepdive, INDICES, v, SIZE), d), _values(), dense)
    bias = rng.standard_normal((4, 3)).astype(np.float32)
    check_parity(lambda b, v, d: deepdive.sparse.addmm(b, _both(deepdive, INDICES, v, SIZE), d, beta=0.5, alpha=2.0),
                 lambda b, v, d: torch.sparse.addmm(b, _both(torch, INDICES, v, SIZE), d, beta=0.5, alpha=2.0),
                 [bias, _values(), dense.astype(np.float32)])


def test_product_errors():
    a = deepdive.sparse_coo_tensor(INDICES, _values(), SIZE)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(4x5 and 4x3\)"):
        deepdive.sparse.mm(a, deepdive.ones(4, 3))
    with pytest.raises(RuntimeError, match="same dtype"):
        deepdive.sparse.mm(a, deepdive.ones(5, 3, dtype=deepdive.float64))
    with pytest.raises(RuntimeError, match="expected a sparse COO tensor"):
        deepdive.sparse.mm(deepdive.ones(4, 5), deepdive.ones(5, 3))


def test_missing_scipy_names_the_extra(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_scipy(name, *args, **kwargs):
        if name.startswith("scipy"):
            raise ImportError("No module named 'scipy'")
        return real_import(name, *args, **kwargs)
    a = deepdive.sparse_coo_tensor(INDICES, _values(), SIZE)
    monkeypatch.setattr(builtins, "__import__", no_scipy)
    with pytest.raises(ImportError, match=r"install deepdive\[sparse\]"):
        deepdive.sparse.mm(a, deepdive.ones(5, 3))


# ---------------------------------------------------------------- sums and softmax
@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1), 2, (1, 2), (0, 1, 2), -1])
def test_sparse_sum(dim):
    torch = require_torch()

    def fn(lib):
        def run(values):
            out = lib.sparse.sum(_both(lib, INDICES, values, SIZE + (3,)), *(() if dim is None else (dim,)))
            return out.to_dense() if out.is_sparse else out
        return run
    check_parity(fn(deepdive), fn(torch), [_values(3)])
    gradcheck(fn(deepdive), _values(3))


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_sparse_softmax_over_stored_entries(dim, log):
    torch = require_torch()
    name = "log_softmax" if log else "softmax"

    def fn(lib, dim=dim):
        return lambda values: getattr(lib.sparse, name)(_both(lib, INDICES, values, SIZE), dim).coalesce().values()
    # NOTE: PyTorch 2.13's sparse softmax backward is wrong for a negative dim (the gradients within a row do
    # not sum to zero, as softmax's must; gradcheck below confirms ours): the oracle's gradient comes from
    # the same dim spelled positively, and its forward values for the negative dim are compared apart.
    check_parity(fn(deepdive), fn(torch, dim % 2), [_values()])
    values = _values()
    assert_close(fn(deepdive)(deepdive.tensor(values)), fn(torch)(torch.tensor(values)))
    gradcheck(fn(deepdive), _values())
    out = deepdive.sparse.softmax(_both(deepdive, INDICES, _values(), SIZE), dim)
    assert out.is_sparse and out.to_dense()._data.sum(axis=dim).round(5).tolist() == \
        np.isin(np.arange(SIZE[1 - dim % 2]), INDICES[1 - dim % 2]).astype(float).tolist()


def test_sparse_softmax_of_a_3d_tensor_matches_torch():
    torch = require_torch()
    indices = np.array([[0, 0, 1, 1, 1], [0, 2, 1, 1, 2], [1, 0, 0, 2, 2]])
    fn = lambda lib: lambda v: lib.sparse.softmax(_both(lib, indices, v, (2, 3, 3)), 1).to_dense()   # noqa: E731
    check_parity(fn(deepdive), fn(torch), [rng.standard_normal(5).astype(np.float32)])


# ---------------------------------------------------------------- graph networks, with only the import swapped
def gcn_program(torch, state=None, steps=6):
    """A two-layer GCN (Kipf & Welling 2017) as tutorials write it: the renormalised adjacency
    D^-1/2 (A + I) D^-1/2 as a sparse tensor, torch.sparse.mm(adj, x @ W), dropout, log-softmax, NLL."""
    import numpy as np
    nn, F = torch.nn, torch.nn.functional
    rng = np.random.default_rng(3)
    n, n_features, n_classes = 30, 8, 3
    labels_np = rng.integers(0, n_classes, n)
    same = labels_np[:, None] == labels_np[None, :]
    adjacency = ((rng.random((n, n)) < np.where(same, 0.3, 0.03)) | np.eye(n, dtype=bool)).astype(np.float32)
    adjacency = np.maximum(adjacency, adjacency.T)
    degree = adjacency.sum(1)
    normalized = adjacency / np.sqrt(degree[:, None] * degree[None, :])
    adj = torch.tensor(normalized).to_sparse()
    features = torch.tensor((rng.standard_normal((n, n_features)) + labels_np[:, None]).astype(np.float32))
    labels = torch.tensor(labels_np)
    train = torch.tensor(np.arange(n) < 20)

    class GraphConvolution(nn.Module):
        def __init__(self, in_features, out_features):
            super().__init__()
            self.weight = nn.Parameter(torch.empty(in_features, out_features))
            self.bias = nn.Parameter(torch.zeros(out_features))
            nn.init.xavier_uniform_(self.weight)

        def forward(self, x, adj):
            support = torch.mm(x, self.weight)
            return torch.sparse.mm(adj, support) + self.bias

    class GCN(nn.Module):
        def __init__(self, nfeat, nhid, nclass, dropout):
            super().__init__()
            self.gc1 = GraphConvolution(nfeat, nhid)
            self.gc2 = GraphConvolution(nhid, nclass)
            self.dropout = dropout

        def forward(self, x, adj):
            x = F.relu(self.gc1(x, adj))
            x = F.dropout(x, self.dropout, training=self.training)
            return F.log_softmax(self.gc2(x, adj), dim=1)

    # NOTE: dropout 0 in the side-by-side run: the two libraries' random streams differ (a dropout
    # run is checked apart, for learning only)
    model = GCN(n_features, 16, n_classes, dropout=0.0 if state is not None else 0.5)
    if state is not None:
        model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    losses = []
    for _ in range(steps):
        model.train()
        optimizer.zero_grad()
        output = model(features, adj)
        loss = F.nll_loss(output[train], labels[train])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, {k: v.detach().numpy() for k, v in model.state_dict().items()}


def test_gcn_trains_as_torch_step_by_step():
    torch = require_torch()
    torch.manual_seed(0)
    _, start = gcn_program(torch, steps=0)
    start = {k: v.copy() for k, v in start.items()}
    t_losses, t_state = gcn_program(torch, start)
    d_losses, d_state = gcn_program(deepdive, start)
    np.testing.assert_allclose(d_losses, t_losses, rtol=1e-5)
    assert d_losses[-1] < d_losses[0]
    for name, value in t_state.items():
        np.testing.assert_allclose(d_state[name], value, rtol=1e-4, atol=1e-6, err_msg=name)


def test_gcn_with_dropout_learns():
    deepdive.manual_seed(0)
    losses, _ = gcn_program(deepdive, steps=60)
    assert losses[-1] < 0.6 * losses[0]


def gat_layer(torch, h, weight, a_src, a_dst, edge_index, n):
    """A GAT-style attention layer over a graph's edges (Velickovic et al. 2018): per edge (i, j)
    e_ij = LeakyReLU(a_src . W h_i + a_dst . W h_j), attention = sparse softmax over each node's edges."""
    F = torch.nn.functional
    wh = h @ weight
    src, dst = edge_index[0], edge_index[1]
    scores = F.leaky_relu((wh @ a_src)[src] + (wh @ a_dst)[dst], 0.2)
    attention = torch.sparse.softmax(torch.sparse_coo_tensor(edge_index, scores, (n, n)), dim=1)
    return F.elu(torch.sparse.mm(attention, wh))


def test_gat_layer_matches_torch_values_and_gradients():
    torch = require_torch()
    n = 7
    edges = np.array([(i, j) for i in range(n) for j in range(n) if i == j or rng.random() < 0.35]).T
    edge_index = edges[:, rng.permutation(edges.shape[1])]          # unsorted, as edge lists come
    inputs = [rng.standard_normal((n, 4)).astype(np.float32), rng.standard_normal((4, 5)).astype(np.float32),
              rng.standard_normal(5).astype(np.float32), rng.standard_normal(5).astype(np.float32)]
    check_parity(lambda *a: gat_layer(deepdive, *a, deepdive.tensor(edge_index), n),
                 lambda *a: gat_layer(torch, *a, torch.tensor(edge_index), n), inputs)


def test_sparse_tensors_pickle_and_deepcopy_as_sparse():
    import copy
    import pickle
    a = deepdive.sparse_coo_tensor(INDICES, _values(), SIZE)
    for b in (pickle.loads(pickle.dumps(a)), copy.deepcopy(a)):
        assert b.is_sparse and tuple(b.shape) == SIZE and not b.is_coalesced()
        np.testing.assert_array_equal(b.to_dense()._data, a.to_dense()._data)


def test_legacy_sparse_float_tensor_as_pygcn_builds_its_adjacency():
    torch = require_torch()
    import scipy.sparse as sp
    adj = sp.random(6, 6, density=0.4, random_state=1, format="coo", dtype=np.float32)

    def build(lib):        # pygcn's sparse_mx_to_torch_sparse_tensor
        indices = lib.from_numpy(np.vstack((adj.row, adj.col)).astype(np.int64))
        values = lib.from_numpy(adj.data)
        return lib.sparse.FloatTensor(indices, values, lib.Size(adj.shape))
    with pytest.warns(UserWarning, match="deprecated"):
        ours = build(deepdive)
    with pytest.warns(UserWarning, match="deprecated"):
        theirs = build(torch)
    assert ours.dtype == deepdive.float32 and tuple(ours.shape) == tuple(theirs.shape)
    assert_close(ours.to_dense(), theirs.to_dense())


def test_product_sees_values_changed_in_place():
    values = deepdive.tensor(_values())
    a = deepdive.sparse_coo_tensor(INDICES, values, SIZE)
    x = deepdive.tensor(rng.standard_normal((5, 2)).astype(np.float32))
    first = deepdive.sparse.mm(a, x)
    with deepdive.no_grad():
        values.mul_(2)
    np.testing.assert_allclose(deepdive.sparse.mm(a, x)._data, 2 * first._data, rtol=1e-6)
