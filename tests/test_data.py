"""deepdive.utils.data: datasets, samplers, collation (vs torch's default_collate) and DataLoader."""
import numpy as np
import pytest

import deepdive
from deepdive.utils.data import (DataLoader, TensorDataset, Dataset, IterableDataset, Subset, ConcatDataset,
                                 random_split, BatchSampler, SequentialSampler, RandomSampler, default_collate,
                                 get_worker_info)
from parity import require_torch


def _dataset(n=10):
    return TensorDataset(deepdive.arange(n * 2, dtype=deepdive.float32).reshape(n, 2), deepdive.arange(n))


def test_tensor_dataset_indexing_and_errors():
    ds = _dataset()
    x, y = ds[3]
    assert x.tolist() == [6.0, 7.0] and y.item() == 3 and len(ds) == 10
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(deepdive.zeros(3, 2), deepdive.zeros(4))


@pytest.mark.parametrize("batch_size,drop_last,expected", [(4, False, [4, 4, 2]), (4, True, [4, 4]), (10, False, [10])])
def test_batches_in_order(batch_size, drop_last, expected):
    loader = DataLoader(_dataset(), batch_size=batch_size, drop_last=drop_last)
    sizes = [len(y) for _, y in loader]
    assert sizes == expected and len(loader) == len(expected)
    assert deepdive.cat([y for _, y in loader]).tolist()[:sum(expected)] == list(range(sum(expected))) \
        if hasattr(deepdive, "cat") else True


def test_shuffle_is_seedable_and_a_permutation():
    ds = _dataset(20)
    order = lambda g: [int(v) for _, y in DataLoader(ds, batch_size=5, shuffle=True, generator=g) for v in y.tolist()]
    a = order(deepdive.Generator().manual_seed(1))
    b = order(deepdive.Generator().manual_seed(1))
    c = order(deepdive.Generator().manual_seed(2))
    assert a == b and a != c and sorted(a) == list(range(20))
    # the default generator is what manual_seed sets
    deepdive.manual_seed(5)
    d = [int(v) for _, y in DataLoader(ds, batch_size=5, shuffle=True) for v in y.tolist()]
    deepdive.manual_seed(5)
    e = [int(v) for _, y in DataLoader(ds, batch_size=5, shuffle=True) for v in y.tolist()]
    assert d == e


def test_default_collate_matches_torch():
    torch = require_torch()
    from torch.utils.data import default_collate as torch_collate
    samples = [(np.ones((2, 3), np.float32) * i, i, float(i), {"a": i, "b": np.float64(i)}, "s") for i in range(3)]
    ours, theirs = default_collate(samples), torch_collate(samples)
    for o, t in zip(ours[:3], theirs[:3]):
        assert tuple(o.shape) == tuple(t.shape) and str(o.dtype).split(".")[1] == str(t.dtype).split(".")[1]
        np.testing.assert_array_equal(o.numpy(), t.numpy())
    assert set(ours[3]) == {"a", "b"} and str(ours[3]["a"].dtype) == "deepdive.int64"
    assert str(ours[3]["b"].dtype) == "deepdive.float64" and str(theirs[3]["b"].dtype) == "torch.float64"
    assert ours[4] == ("s", "s", "s") == theirs[4]
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([deepdive.zeros(2), deepdive.zeros(3)])


def test_sampler_and_batch_sampler_and_collate_fn():
    ds = _dataset()
    loader = DataLoader(ds, batch_sampler=BatchSampler(SequentialSampler(ds), 3, drop_last=True))
    assert [y.tolist() for _, y in loader] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    loader = DataLoader(ds, batch_size=2, sampler=list(reversed(range(10))), collate_fn=lambda b: [s[1].item() for s in b])
    assert next(iter(loader)) == [9, 8]
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, sampler=SequentialSampler(ds), shuffle=True)
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(SequentialSampler(ds), 0, False)


def test_batch_size_none_yields_samples():
    x, y = next(iter(DataLoader(_dataset(), batch_size=None)))
    assert x.shape == (2,) and y.item() == 0


class Squares(Dataset):
    def __len__(self):
        return 23

    def __getitem__(self, i):
        return np.array([i, i * i], dtype=np.float32), i


def test_workers_give_the_same_batches_in_order():
    serial = [(x.numpy().copy(), y.tolist()) for x, y in DataLoader(Squares(), batch_size=4)]
    parallel = [(x.numpy().copy(), y.tolist()) for x, y in DataLoader(Squares(), batch_size=4, num_workers=2)]
    assert len(serial) == len(parallel) == 6
    for (xa, ya), (xb, yb) in zip(serial, parallel):
        np.testing.assert_array_equal(xa, xb)
        assert ya == yb


class WorkerIds(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return -1 if info is None else info.id


def test_worker_info_only_inside_workers():
    assert get_worker_info() is None
    ids = [v for b in DataLoader(WorkerIds(), batch_size=2, num_workers=2) for v in b.tolist()]
    assert set(ids) == {0, 1}


class Broken(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        raise ValueError("sample 2 is corrupt")


def test_worker_error_reaches_the_main_process():
    # as in PyTorch: the worker's exception type, its traceback in the message
    with pytest.raises(ValueError, match="(?s)Caught ValueError in DataLoader worker process 0.*sample 2 is corrupt"):
        list(DataLoader(Broken(), batch_size=2, num_workers=1))


class Stream(IterableDataset):
    def __iter__(self):
        return iter(range(7))

    def __len__(self):
        return 7


def test_iterable_dataset():
    assert [b.tolist() for b in DataLoader(Stream(), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(DataLoader(Stream(), batch_size=3)) == 3
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(Stream(), shuffle=True)


def test_random_split_subset_concat():
    ds = _dataset(10)
    a, b = random_split(ds, [7, 3], generator=deepdive.Generator().manual_seed(0))
    idx = sorted(a.indices + b.indices)
    assert len(a) == 7 and len(b) == 3 and idx == list(range(10))
    a, b, c = random_split(ds, [0.5, 0.3, 0.2])
    assert (len(a), len(b), len(c)) == (5, 3, 2)
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(ds, [3, 3])
    sub = Subset(ds, [2, 4])
    assert sub[1][1].item() == 4
    cat = ConcatDataset([sub, ds])
    assert len(cat) == 12 and cat[2][1].item() == 0 and cat[-1][1].item() == 9


def test_random_sampler_replacement():
    s = RandomSampler(range(5), replacement=True, num_samples=50, generator=deepdive.Generator().manual_seed(0))
    values = list(s)
    assert len(values) == 50 and set(values) <= set(range(5))


# ---------------------------------------------------------------- lazy samplers (an "infinite" loader)
@pytest.mark.parametrize("num_samples", [1, 31, 70_000])        # one chunk, and several
def test_lazy_samplers_with_replacement_draw_what_pytorchs_draw(num_samples):
    from parity import require_torch
    from deepdive.utils.data import WeightedRandomSampler
    torch = require_torch()
    ours = RandomSampler(range(7), True, num_samples, deepdive.Generator().manual_seed(3))
    theirs = torch.utils.data.RandomSampler(range(7), True, num_samples, torch.Generator().manual_seed(3))
    assert list(ours) == list(theirs)
    weights = np.arange(1.0, 8)
    ours = WeightedRandomSampler(weights, num_samples, generator=deepdive.Generator().manual_seed(3))
    theirs = torch.utils.data.WeightedRandomSampler(weights, num_samples, generator=torch.Generator().manual_seed(3))
    assert list(ours) == list(theirs)


def test_random_sampler_draws_interleave_with_other_draws_as_in_pytorch():
    """The sampler's draws sit where PyTorch's sit in the default generator's stream (its seed is drawn at
    the first index), so a seeded loop that also draws (dropout, augmentation) matches PyTorch's."""
    from parity import require_torch
    torch = require_torch()
    results = []
    for lib in (deepdive, torch):
        lib.manual_seed(0)
        it = iter(lib.utils.data.RandomSampler(range(9), replacement=True, num_samples=40))
        before = lib.rand(3).tolist()
        first = next(it)
        middle = lib.rand(2).tolist()
        results.append((before, first, middle, list(it), lib.rand(2).tolist()))
    assert results[0] == results[1]


def test_random_sampler_without_replacement_repeats_permutations():
    values = list(RandomSampler(range(4), num_samples=10, generator=deepdive.Generator().manual_seed(1)))
    assert len(values) == 10 and sorted(values[:4]) == [0, 1, 2, 3] and sorted(values[4:8]) == [0, 1, 2, 3]
    assert set(values[8:]) <= set(range(4)) and len(set(values[8:])) == 2


@pytest.mark.parametrize("weighted", [False, True])
def test_infinite_loader_runs_in_constant_memory(weighted):
    """GPT trainers sample with RandomSampler(replacement=True, num_samples=int(1e10)): it must not build
    1e10 indices up front (74.5 GiB), and a few thousand batches must not grow memory."""
    import itertools
    import tracemalloc
    from deepdive.utils.data import WeightedRandomSampler
    data = TensorDataset(deepdive.arange(64, dtype=deepdive.float32).reshape(32, 2))
    sampler = (WeightedRandomSampler(deepdive.ones(32), num_samples=int(1e10)) if weighted else
               RandomSampler(data, replacement=True, num_samples=int(1e10)))
    loader = DataLoader(data, batch_size=8, sampler=sampler)
    assert len(loader) == int(1e10) // 8
    tracemalloc.start()
    try:
        batches = iter(loader)
        for (x,) in itertools.islice(batches, 200):
            assert tuple(x.shape) == (8, 2)
        tracemalloc.reset_peak()
        warm, _ = tracemalloc.get_traced_memory()
        for (x,) in itertools.islice(batches, 4000):        # 32,000 samples: crosses a chunk boundary
            assert tuple(x.shape) == (8, 2)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # one chunk of 2**15 Python ints is ~1 MiB; 1e10 of them would be ~300 GiB
    assert peak - warm < 8 * 2 ** 20 and current - warm < 4 * 2 ** 20


def test_weighted_sampler_checks_its_arguments_as_torch():
    from deepdive.utils.data import WeightedRandomSampler
    for kwargs, message in [({"num_samples": 0}, "num_samples should be a positive integer value"),
                            ({"num_samples": 2.5}, "num_samples should be a positive integer value"),
                            ({"num_samples": 2, "replacement": 1}, "replacement should be a boolean value"),
                            ({"num_samples": 2, "weights": [[1.0, 2.0]]}, r"weights should be a 1d sequence but "
                                                                           r"given weights have shape \(1, 2\)")]:
        with pytest.raises(ValueError, match=message):
            WeightedRandomSampler(**{"weights": [1.0, 2.0], **kwargs})
