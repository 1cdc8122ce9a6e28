"""cdist, pdist, pairwise_distance, cosine_similarity (+ nn layers), bincount, histc, searchsorted, bucketize,
diff, logcumsumexp, kron: PyTorch parity (values, gradients, dtypes) and gradcheck."""
import math

import numpy as np
import pytest

import deepdive
from parity import check_parity, gradcheck, require_torch, assert_close

rng = np.random.default_rng(0)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, math.inf, 0.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cdist_parity(p, dtype):
    torch = require_torch()
    x1, x2 = rng.standard_normal((2, 5, 3)).astype(dtype), rng.standard_normal((2, 4, 3)).astype(dtype)
    x2[0, 1] = x1[0, 2]                             # a zero distance: gradient 0 there, as in PyTorch
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {}
    check_parity(lambda a, b: deepdive.cdist(a, b, p), lambda a, b: torch.cdist(a, b, p), [x1, x2], **tol)
    if p not in (0.0, math.inf) and dtype == np.float64:
        gradcheck(lambda a, b: deepdive.cdist(a, b, p), x1[1], x2[1])


def test_cdist_broadcasts_and_checks():
    torch = require_torch()
    check_parity(deepdive.cdist, torch.cdist, [rng.standard_normal((3, 1, 4, 2)), rng.standard_normal((5, 6, 2))])
    with pytest.raises(RuntimeError, match="X1 and X2 must have the same number of columns. X1: 2 X2: 3"):
        deepdive.cdist(deepdive.ones(4, 2), deepdive.ones(4, 3))


def test_pdist_and_pairwise_distance():
    torch = require_torch()
    x = rng.standard_normal((5, 3))
    for p in (2, 1, 3):
        check_parity(lambda a: deepdive.nn.functional.pdist(a, p), lambda a: torch.nn.functional.pdist(a, p), [x])
        check_parity(lambda a, b: deepdive.pairwise_distance(a, b, p), lambda a, b: torch.pairwise_distance(a, b, p),
                     [x, rng.standard_normal((5, 3))])
    check_parity(lambda a, b: deepdive.nn.PairwiseDistance(keepdim=True)(a, b),
                 lambda a, b: torch.nn.PairwiseDistance(keepdim=True)(a, b), [x, rng.standard_normal(3)])
    check_parity(deepdive.nn.functional.pairwise_distance, torch.nn.functional.pairwise_distance,
                 [rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)])
    gradcheck(deepdive.nn.functional.pdist, x)
    assert repr(deepdive.nn.PairwiseDistance()) == repr(torch.nn.PairwiseDistance())
    assert repr(deepdive.nn.CosineSimilarity()) == repr(torch.nn.CosineSimilarity())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cosine_similarity(dtype):
    torch = require_torch()
    a, b = rng.standard_normal((4, 5, 3)).astype(dtype), rng.standard_normal((4, 5, 3)).astype(dtype)
    a[1, :, 0] = 1e-10                                      # a vector shorter than eps: PyTorch's gradient there
    check_parity(deepdive.cosine_similarity, torch.cosine_similarity, [a, b])
    for dim in (0, -1):
        check_parity(lambda x, y: deepdive.nn.CosineSimilarity(dim, eps=0.3)(x, y),
                     lambda x, y: torch.nn.CosineSimilarity(dim, eps=0.3)(x, y), [a, b])
    check_parity(lambda x, y: deepdive.nn.functional.cosine_similarity(x, y, dim=-1),
                 lambda x, y: torch.nn.functional.cosine_similarity(x, y, dim=-1), [a, b[:1, :1]])   # broadcast
    if dtype == np.float64:       # (the clamped norm's pass-through gradient is PyTorch's choice, not a derivative)
        gradcheck(deepdive.cosine_similarity, rng.standard_normal((4, 5, 3)), b)


def test_bincount_histc():
    torch = require_torch()
    x = rng.integers(0, 6, 20)
    w32, w64 = rng.standard_normal(20).astype(np.float32), rng.standard_normal(20)
    for kwargs in [{}, {"minlength": 10}]:
        check_parity(lambda v: deepdive.bincount(v, **kwargs), lambda v: torch.bincount(v, **kwargs), [x])
    for w in (w32, w64, rng.integers(0, 3, 20)):
        check_parity(lambda v, ww: deepdive.bincount(v, ww), lambda v, ww: torch.bincount(v, ww), [x, (w, False)])
    check_parity(lambda v: v.bincount(), lambda v: v.bincount(), [x])
    with pytest.raises(RuntimeError, match="bincount only supports 1-d non-negative integral inputs"):
        deepdive.bincount(deepdive.tensor([-1, 2]))
    data = np.concatenate([rng.standard_normal(50), [1.0, -1.0, 3.0]]).astype(np.float32)
    for kwargs in [{}, {"bins": 7}, {"bins": 4, "min": -1, "max": 1}, {"bins": 3, "min": 5, "max": 6}]:
        check_parity(lambda v: deepdive.histc(v, **kwargs), lambda v: torch.histc(v, **kwargs), [(data, False)])
    check_parity(lambda v: v.histc(5), lambda v: v.histc(5), [(np.ones(4), False)])
    with pytest.raises(RuntimeError, match="\"histogram_cpu\" not implemented for 'Long'"):
        deepdive.histc(deepdive.tensor([1, 2]))


def test_searchsorted_bucketize():
    torch = require_torch()
    seq = np.sort(rng.integers(0, 10, 8)).astype(np.float32)
    values = rng.integers(-1, 11, (3, 4)).astype(np.float32)
    for kwargs in [{}, {"right": True}, {"side": "right"}, {"out_int32": True}]:
        check_parity(lambda s, v: deepdive.searchsorted(s, v, **kwargs), lambda s, v: torch.searchsorted(s, v, **kwargs),
                     [(seq, False), (values, False)])
        check_parity(lambda s, v: deepdive.bucketize(v, s, right=kwargs.get("right", False)),
                     lambda s, v: torch.bucketize(v, s, right=kwargs.get("right", False)),
                     [(seq, False), (values, False)])
    rows = np.sort(rng.standard_normal((2, 3, 5)), axis=-1)
    check_parity(deepdive.searchsorted, torch.searchsorted, [(rows, False), (rng.standard_normal((2, 3, 4)), False)])
    assert deepdive.searchsorted(deepdive.tensor([1, 3, 5]), 3).item() == 1
    unsorted = rng.standard_normal(6)
    order = np.argsort(unsorted)
    check_parity(lambda s, v, o: deepdive.searchsorted(s, v, sorter=o), lambda s, v, o: torch.searchsorted(s, v, sorter=o),
                 [(unsorted, False), (rng.standard_normal(4), False), order])


def test_diff():
    torch = require_torch()
    x = rng.standard_normal((3, 5))
    for kwargs in [{}, {"n": 2}, {"dim": 0}, {"n": 3, "dim": 1}, {"n": 0}]:
        check_parity(lambda a: deepdive.diff(a, **kwargs), lambda a: torch.diff(a, **kwargs), [x])
    check_parity(lambda a, p, q: deepdive.diff(a, 2, 1, p, q), lambda a, p, q: torch.diff(a, 2, 1, p, q),
                 [x, rng.standard_normal((3, 1)), rng.standard_normal((3, 2))])
    check_parity(lambda a: a.diff(), lambda a: a.diff(), [np.array([1, 4, 9, 16])])
    check_parity(lambda a: a.diff(), lambda a: a.diff(), [np.array([True, True, False])])
    gradcheck(lambda a: deepdive.diff(a, 2), x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logcumsumexp(dtype):
    torch = require_torch()
    x = (rng.standard_normal((3, 6)) * 30).astype(dtype)          # large values: no overflow
    for dim in (0, 1, -1):
        check_parity(lambda a: deepdive.logcumsumexp(a, dim), lambda a: torch.logcumsumexp(a, dim), [x])
    check_parity(lambda a: a.logcumsumexp(0), lambda a: a.logcumsumexp(0), [np.array(2.0, dtype)])
    x[0, 2] = -np.inf
    check_parity(lambda a: deepdive.logcumsumexp(a, 1), lambda a: torch.logcumsumexp(a, 1), [x])
    if dtype == np.float64:
        gradcheck(lambda a: deepdive.logcumsumexp(a, 1), rng.standard_normal((2, 5)))


def test_kron():
    torch = require_torch()
    for sa, sb in [((2, 3), (4, 5)), ((3,), (2, 2)), ((2, 1, 3), (2, 2)), ((), (3,))]:
        check_parity(deepdive.kron, torch.kron, [rng.standard_normal(sa), rng.standard_normal(sb)])
    check_parity(lambda a, b: a.kron(b), lambda a, b: a.kron(b), [np.arange(4).reshape(2, 2), np.eye(2, dtype=np.int64)])
    gradcheck(deepdive.kron, rng.standard_normal((2, 3)), rng.standard_normal((2, 2)))


def test_existing_friends_still_match():
    """tensordot, cartesian_prod, cummax/cummin and trace were already there: one parity check each."""
    torch = require_torch()
    check_parity(lambda a, b: deepdive.tensordot(a, b, dims=([1, 0], [0, 1])),
                 lambda a, b: torch.tensordot(a, b, dims=([1, 0], [0, 1])),
                 [rng.standard_normal((3, 4, 2)), rng.standard_normal((4, 3, 5))])
    check_parity(deepdive.cartesian_prod, torch.cartesian_prod, [rng.standard_normal(2), rng.standard_normal(3)])
    check_parity(lambda a: tuple(deepdive.cummax(a, 1)), lambda a: tuple(torch.cummax(a, 1)), [rng.standard_normal((2, 5))])
    check_parity(lambda a: tuple(deepdive.cummin(a, 0)), lambda a: tuple(torch.cummin(a, 0)), [rng.standard_normal((4, 2))])
    check_parity(deepdive.trace, torch.trace, [rng.standard_normal((3, 4))])
