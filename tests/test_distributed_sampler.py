"""DistributedSampler: the indices of PyTorch's for the same permutation (padding, interleaving, drop_last,
set_epoch), and a deterministic permutation from deepdive's own generator."""
import itertools

import pytest

import deepdive
from deepdive.utils.data import DistributedSampler
from parity import require_torch

CASES = [(n, replicas, drop_last) for n in (1, 7, 10, 12, 33) for replicas in (1, 2, 3, 4, 8)
         for drop_last in (False, True) if not (drop_last and n < replicas)]


@pytest.mark.parametrize("n,replicas,drop_last", CASES)
def test_indices_equal_pytorchs_for_the_same_permutation(n, replicas, drop_last):
    torch = require_torch()
    dataset = list(range(n))
    for rank, (seed, epoch) in itertools.product(range(replicas), [(0, 0), (5, 3)]):
        theirs = torch.utils.data.distributed.DistributedSampler(dataset, replicas, rank, True, seed, drop_last)
        theirs.set_epoch(epoch)
        ours = DistributedSampler(dataset, replicas, rank, True, seed, drop_last)
        ours.set_epoch(epoch)
        g = torch.Generator()
        g.manual_seed(seed + epoch)             # what PyTorch's __iter__ draws
        permutation = torch.randperm(n, generator=g).tolist()
        ours._permutation = lambda: list(permutation)
        assert list(ours) == list(theirs), (rank, seed, epoch)
        assert len(ours) == len(theirs) and ours.total_size == theirs.total_size
        unshuffled = torch.utils.data.distributed.DistributedSampler(dataset, replicas, rank, False, seed, drop_last)
        assert list(DistributedSampler(dataset, replicas, rank, False, seed, drop_last)) == list(unshuffled)


def test_own_permutation_is_shared_by_the_ranks_and_changes_with_the_epoch():
    torch = require_torch()
    n, replicas = 23, 3
    samplers = [DistributedSampler(range(n), replicas, r, seed=1) for r in range(replicas)]
    first = [list(s) for s in samplers]
    covered = sorted(itertools.chain(*first))
    assert set(covered) == set(range(n)) and len(covered) == 24       # every index, one padded
    assert first == [list(DistributedSampler(range(n), replicas, r, seed=1)) for r in range(replicas)]
    for s in samplers:
        s.set_epoch(1)
    assert [list(s) for s in samplers] != first
    # deepdive's generator reproduces torch's randperm stream, so the whole sampler equals PyTorch's
    for rank in range(replicas):
        for epoch in (0, 1, 5):
            ours = DistributedSampler(range(n), replicas, rank, seed=1)
            theirs = torch.utils.data.distributed.DistributedSampler(range(n), replicas, rank, seed=1)
            ours.set_epoch(epoch)
            theirs.set_epoch(epoch)
            assert list(ours) == list(theirs), (rank, epoch)


def test_errors_are_pytorchs():
    torch = require_torch()
    for rank in (3, -1):
        with pytest.raises(ValueError) as ours:
            DistributedSampler(range(5), 3, rank)
        with pytest.raises(ValueError) as theirs:
            torch.utils.data.distributed.DistributedSampler(range(5), 3, rank)
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedSampler(range(5))


def test_with_a_dataloader():
    data = deepdive.utils.data.TensorDataset(deepdive.arange(10.))
    loader = deepdive.utils.data.DataLoader(data, batch_size=2, sampler=DistributedSampler(data, 2, 1, shuffle=False))
    assert [b[0].tolist() for b in loader] == [[1., 3.], [5., 7.], [9.]]
