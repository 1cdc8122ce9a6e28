"""DistributedSampler: each rank of a data-parallel job reads its own share of the dataset."""
import math

from .sampler import Sampler


class DistributedSampler(Sampler):
    """The indices ``rank, rank + R, rank + 2R, ...`` (R = ``num_replicas``) of a per-epoch permutation.

    As PyTorch's: the permutation is drawn from a generator seeded with ``seed + epoch`` (call
    ``set_epoch`` at each epoch so the order changes), then made divisible by R, by repeating its
    first indices (``drop_last=False``) or by cutting the tail (``drop_last=True``), then interleaved:

        num_samples = ceil(N / R)            or  ceil((N - R) / R)  with drop_last and N % R != 0
        indices     = (perm + perm[:pad])[rank : R * num_samples : R]

    Args:
        dataset: anything with ``len()``.
        num_replicas: number of ranks (default: ``get_world_size()``).
        rank: this rank (default: ``get_rank()``).
        shuffle: draw a permutation (default True); otherwise ``0..N-1``.
        seed: the shuffle seed, the same on every rank (default 0).
        drop_last: drop the tail instead of padding (default False).
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if num_replicas is None or rank is None:
            from ... import distributed as dist
            if not dist.is_available():
                raise RuntimeError("Requires distributed package to be available (install deepdive[distributed])")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        if self.drop_last and len(self.dataset) % self.num_replicas != 0:
            # NOTE: PyTorch's formula: the largest per-rank count that needs no padding
            self.num_samples = math.ceil((len(self.dataset) - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(len(self.dataset) / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def _permutation(self):
        """This epoch's order of ``0..N-1``, the same on every rank."""
        if not self.shuffle:
            return list(range(len(self.dataset)))
        from ...random import Generator
        from ...creation import randperm
        g = Generator()
        g.manual_seed(self.seed + self.epoch)
        return randperm(len(self.dataset), generator=g).tolist()

    def __iter__(self):
        indices = self._permutation()
        if not self.drop_last:
            padding_size = self.total_size - len(indices)
            if padding_size <= len(indices):
                indices += indices[:padding_size]
            else:            # more ranks than samples: repeat the whole list
                indices += (indices * math.ceil(padding_size / len(indices)))[:padding_size]
        else:
            indices = indices[:self.total_size]
        assert len(indices) == self.total_size
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Seed the next ``__iter__`` with ``seed + epoch``: a new order each epoch, identical over ranks."""
        self.epoch = epoch
