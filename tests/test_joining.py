"""Joining, splitting, triangles, flips, repeats: PyTorch parity (values, dtype, gradients), gradcheck, errors."""
import numpy as np
import pytest

import deepdive
from parity import check_parity, gradcheck, require_torch

torch = require_torch()
rng = np.random.default_rng(0)
X = rng.standard_normal((3, 4))
IDX = np.array([[0, 2, 2], [1, 1, 0]])          # repeats: gradients must accumulate


def method(name, *args, **kwargs):
    def convert(lib, a):
        return lib.tensor(a[1]) if isinstance(a, tuple) and a and a[0] == "t" else a
    return (lambda x, *xs: getattr(x, name)(*[convert(deepdive, a) for a in args], *xs, **kwargs),
            lambda x, *xs: getattr(x, name)(*[convert(torch, a) for a in args], *xs, **kwargs))


CASES = {
    "cat_dim1": ((lambda a, b: deepdive.cat([a, b], 1), lambda a, b: torch.cat([a, b], 1)),
                 [X, rng.standard_normal((3, 2))]),
    "cat_neg_dim": ((lambda a, b: deepdive.concat((a, b), dim=-2), lambda a, b: torch.concat((a, b), dim=-2)),
                    [X, rng.standard_normal((1, 4))]),
    "concatenate_three": ((lambda a, b: deepdive.concatenate([a, b, a]), lambda a, b: torch.concatenate([a, b, a])),
                          [X, X[:2] + 1]),
    "stack_last": ((lambda a, b: deepdive.stack([a, b], -1), lambda a, b: torch.stack([a, b], -1)), [X, X * 2]),
    "stack_first": ((lambda a, b: deepdive.stack((a, b, a)), lambda a, b: torch.stack((a, b, a))), [X, X * 2]),
    "hstack": ((lambda a, b: deepdive.hstack([a, b]), lambda a, b: torch.hstack([a, b])), [X, X[:, :1]]),
    "vstack_1d": ((lambda a, b: deepdive.vstack([a, b]), lambda a, b: torch.vstack([a, b])), [X[0], X[1]]),
    "dstack": ((lambda a, b: deepdive.dstack([a, b]), lambda a, b: torch.dstack([a, b])), [X, X]),
    "split_int": (method("split", 3, 1), [X]),
    "split_sizes": (method("split", [1, 0, 3], 1), [X]),
    "chunk": (method("chunk", 3, 1), [X]),
    "chunk_uneven": (method("chunk", 2, 0), [X]),
    "unbind": (method("unbind", 1), [X]),
    "tril": (method("tril"), [X]),
    "tril_diag": (method("tril", 1), [X]),
    "triu_batched": (method("triu", -1), [rng.standard_normal((2, 3, 3))]),
    "flip": (method("flip", 0, 1), [X]),
    "flip_list": (method("flip", [-1]), [X]),
    "fliplr": (method("fliplr"), [X]),
    "flipud": (method("flipud"), [X]),
    "repeat": (method("repeat", 2, 1, 3), [X]),
    "repeat_same_dims": (method("repeat", 1, 2), [X]),
    "tile_short": (method("tile", (2,)), [X]),
    "narrow": (method("narrow", 1, 1, 2), [X]),
    "narrow_neg_start": (method("narrow", 0, -2, 2), [X]),
    "select": (method("select", 1, -1), [X]),
    "roll_dims": (method("roll", (1, -1), (0, 1)), [X]),
    "roll_flat": (method("roll", 5), [X]),
    "repeat_interleave_int": (method("repeat_interleave", 2, dim=1), [X]),
    "repeat_interleave_tensor": (method("repeat_interleave", ("t", np.array([1, 0, 3])), dim=0), [X]),
    "repeat_interleave_flat": (method("repeat_interleave", 3), [X]),
    "diag_of_matrix": (method("diag", 1), [X]),
    "diag_of_vector": (method("diag", -1), [X[0]]),
    "diagonal_3d": ((lambda a: a.reshape(3, 2, 2).diagonal(0, -1, 0), lambda a: a.reshape(3, 2, 2).diagonal(0, -1, 0)),
                    [X]),
    "diagonal_offset": (method("diagonal", 1), [X]),
    "unflatten": (method("unflatten", 1, (2, -1)), [X]),
    "column_stack": ((lambda a, b: deepdive.column_stack([a, b]), lambda a, b: torch.column_stack([a, b])),
                     [X[:, 0], X[:, :2]]),
    "tensor_split_sections": (method("tensor_split", 3, 1), [X]),
    "tensor_split_indices": (method("tensor_split", [1, 3], 1), [X]),
    "tensor_split_out_of_range": (method("tensor_split", [-1, 10], 0), [X]),
    "hsplit": (method("hsplit", 2), [X]),
    "vsplit": (method("vsplit", [1]), [X]),
    "dsplit": (method("dsplit", 2), [X.reshape(3, 1, 4)]),
    "meshgrid_ij": ((lambda a, b: deepdive.meshgrid(a, b, indexing="ij"),
                     lambda a, b: torch.meshgrid(a, b, indexing="ij")), [X[0], X[1, :3]]),
    "meshgrid_xy": ((lambda a, b, c: deepdive.meshgrid([a, b, c], indexing="xy"),
                     lambda a, b, c: torch.meshgrid([a, b, c], indexing="xy")), [X[0], X[1, :3], X[2, :2]]),
    "cartesian_prod": ((lambda a, b: deepdive.cartesian_prod(a, b), lambda a, b: torch.cartesian_prod(a, b)),
                       [X[0], X[1, :3]]),
    "block_diag": ((lambda a, b, c: deepdive.block_diag(a, b, c), lambda a, b, c: torch.block_diag(a, b, c)),
                   [X, X[0, :2], np.array(1.5)]),
    "diag_embed": (method("diag_embed"), [X]),
    "diag_embed_offset_dims": (method("diag_embed", 1, 0, 2), [X]),
    "diag_embed_negative": (method("diag_embed", -2, -1, 0), [X]),
    "trace": (method("trace"), [X]),
    "rot90": (method("rot90"), [X]),
    "rot90_k2_dims": (method("rot90", 2, [1, 0]), [X]),
    "rot90_k_neg": (method("rot90", -1), [X]),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_parity(name, dtype):
    (dd_fn, torch_fn), inputs = CASES[name]
    check_parity(dd_fn, torch_fn, [a.astype(dtype) for a in inputs])


@pytest.mark.parametrize("name", list(CASES))
def test_gradcheck(name):
    (dd_fn, _), inputs = CASES[name]

    def first_outputs_summed(*xs):      # multi-output ops: check a weighted sum of every piece
        out = dd_fn(*xs)
        if isinstance(out, tuple):
            return deepdive.cat([o.reshape(-1) * (i + 1) for i, o in enumerate(out)])
        return out
    gradcheck(first_outputs_summed, *inputs)


def test_cat_promotes_dtypes_and_skips_legacy_empty():
    a, b = deepdive.ones(2, 3), deepdive.ones(2, 3, dtype=deepdive.float64)
    assert deepdive.cat([a, b]).dtype == deepdive.float64
    assert deepdive.cat([a, deepdive.ones(2, 3, dtype=deepdive.int64)]).dtype == deepdive.float32
    assert deepdive.cat([deepdive.ones(0), a]).shape == (2, 3)


def test_cat_errors_name_sizes():
    with pytest.raises(RuntimeError, match=r"Sizes of tensors must match except in dimension 0. Expected size 3 but "
                                           r"got size 4 for tensor number 1 in the list."):
        deepdive.cat([deepdive.ones(2, 3), deepdive.ones(2, 4)])
    with pytest.raises(RuntimeError, match="Tensors must have same number of dimensions: got 2 and 3"):
        deepdive.cat([deepdive.ones(2, 3), deepdive.ones(2, 3, 1)])
    with pytest.raises(ValueError, match="expected a non-empty list"):
        deepdive.cat([])
    with pytest.raises(RuntimeError, match="zero-dimensional tensor"):
        deepdive.cat([deepdive.tensor(1.0)])
    with pytest.raises(IndexError, match="Dimension out of range"):
        deepdive.cat([deepdive.ones(2, 3)], dim=2)


def test_stack_and_split_errors():
    with pytest.raises(RuntimeError, match=r"stack expects each tensor to be equal size, but got \[2, 3\] at entry 0 "
                                           r"and \[2, 4\] at entry 1"):
        deepdive.stack([deepdive.ones(2, 3), deepdive.ones(2, 4)])
    with pytest.raises(RuntimeError, match=r"split_with_sizes expects split_sizes to sum exactly to 2"):
        deepdive.ones(2, 3).split([1, 3])
    with pytest.raises(RuntimeError, match="chunk expects `chunks` to be greater than 0"):
        deepdive.ones(2, 3).chunk(0)


def test_mask_errors():
    x = deepdive.ones(2, 3)
    with pytest.raises(RuntimeError, match="only supports boolean masks"):
        x.masked_fill(deepdive.ones(3), 1.0)
    with pytest.raises(RuntimeError, match="0-dimensional value tensor"):
        x.masked_fill(deepdive.ones(3, dtype=deepdive.bool), deepdive.ones(2))
    with pytest.raises(RuntimeError, match="tril: input tensor must have at least 2 dimensions"):
        deepdive.ones(3).tril()
    with pytest.raises(RuntimeError, match="Number of dimensions of repeat dims"):
        x.repeat(2)
    with pytest.raises(RuntimeError, match="shifts and dimensions must align"):
        x.roll((1, 2), (0,))
    with pytest.raises(RuntimeError, match="don't multiply up"):
        x.unflatten(1, (2, 2))
    with pytest.raises(RuntimeError, match="repeats must have the same size as input along dim"):
        x.repeat_interleave(deepdive.tensor([1, 2]), dim=1)


def test_repeat_interleave_of_counts_only():
    np.testing.assert_array_equal(deepdive.repeat_interleave(deepdive.tensor([1, 0, 2]))._data,
                                  torch.repeat_interleave(torch.tensor([1, 0, 2])).numpy())


def test_split_outputs_and_grad_fn_names():
    x = deepdive.ones(4, 2, requires_grad=True)
    assert type(x.split(2)[0].grad_fn).__name__ == "Split" and x.split(2)[0].grad_fn.name() == "SplitBackward0"
    assert x.split([1, 3])[0].grad_fn.name() == "SplitWithSizesBackward0"
    assert x.unbind()[0].grad_fn.name() == "UnbindBackward0"
    assert deepdive.cat([x, x]).grad_fn.name() == "CatBackward0"
    assert deepdive.stack([x, x]).grad_fn.name() == "StackBackward0"
    assert x.gather(0, deepdive.zeros(1, 2, dtype=deepdive.int64)).grad_fn.name() == "GatherBackward0"


def test_unused_split_pieces_get_zero_gradient():
    # Only the first piece reaches the loss; the engine fills the others' gradients with zeros.
    check_parity(lambda a: a.split(2)[0] * 3, lambda a: a.split(2)[0] * 3, [X])
    check_parity(lambda a: a.unbind(1)[2].exp(), lambda a: a.unbind(1)[2].exp(), [X])


def test_inplace_scatter_and_triangles_match_torch():
    idx = np.array([[0, 2], [1, 1]])
    for name, args in [("scatter_", (1, "IDX", 4.0)), ("scatter_add_", (0, "IDX", "SRC")), ("tril_", (0,)),
                       ("triu_", (1,)), ("index_add_", (0, "VEC", "SRC2"))]:
        outs = []
        for lib in (deepdive, torch):
            conv = {"IDX": lib.tensor(idx), "SRC": lib.ones(2, 2), "VEC": lib.tensor([0, 0]), "SRC2": lib.ones(2, 3)}
            x = lib.tensor(X[:3, :3].astype(np.float32))
            r = getattr(x, name)(*[conv.get(a, a) if isinstance(a, str) else a for a in args])
            assert r is x
            outs.append(x.numpy().copy())
        np.testing.assert_allclose(outs[0], outs[1], err_msg=name)


def test_float32_preserved_and_no_copy_for_split_views():
    x = deepdive.tensor(X.astype(np.float32))
    for out in [deepdive.cat([x, x]), x.gather(1, deepdive.tensor(IDX)), x.repeat(2, 2), x.flip(0), x.roll(1),
                x.masked_fill(x > 0, 1), x.tril(), x.index_select(0, deepdive.tensor([0]))]:
        assert out.dtype == deepdive.float32
    a, b = x.split(2)
    assert np.shares_memory(a._data, x._data)


def test_index_helpers_and_unique_match_torch():
    assert deepdive.tril_indices(3, 4, 1).tolist() == torch.tril_indices(3, 4, 1).tolist()
    assert deepdive.triu_indices(4, 3, -1).tolist() == torch.triu_indices(4, 3, -1).tolist()
    assert deepdive.tril_indices(3, 3).dtype == deepdive.int64
    for kwargs in [{}, {"return_inverse": True}, {"return_counts": True},
                   {"return_inverse": True, "return_counts": True}]:
        ours = deepdive.unique(deepdive.tensor([3, 1, 3, 2]), **kwargs)
        theirs = torch.unique(torch.tensor([3, 1, 3, 2]), **kwargs)
        ours, theirs = (ours, theirs) if isinstance(ours, tuple) else ((ours,), (theirs,))
        assert [o.tolist() for o in ours] == [t.tolist() for t in theirs]
    assert deepdive.unique(deepdive.tensor([[1, 2], [1, 2], [0, 5]]), dim=0).tolist() == [[0, 5], [1, 2]]


def test_split_helpers_errors():
    with pytest.raises(RuntimeError, match="not divisible by the split_size 3"):
        deepdive.ones(2, 4).hsplit(3)
    with pytest.raises(RuntimeError, match="at least 3 dimension"):
        deepdive.ones(2, 4).dsplit(2)
    with pytest.raises(RuntimeError, match="reduce argument must be"):
        deepdive.ones(2).scatter_reduce(0, deepdive.tensor([0]), deepdive.ones(1), "max")
    with pytest.raises(RuntimeError, match="expected source to have at least 2 elements"):
        deepdive.ones(2).masked_scatter(deepdive.tensor([True, True]), deepdive.ones(1))
