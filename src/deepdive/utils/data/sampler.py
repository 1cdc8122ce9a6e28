"""Samplers decide the order of indices; BatchSampler groups them into batches."""
import numpy as np

from ...random import Generator, get_generator


# NOTE: indices are drawn in chunks (as PyTorch's samplers do), so memory does not grow with num_samples:
# an "infinite" RandomSampler(replacement=True, num_samples=int(1e10)) iterates. The first chunk is drawn
# when iter() is called and the rest as they are consumed; NumPy's generator gives the same stream in
# chunks as in one call, so up to _CHUNK samples the draws (and their place in the generator's stream,
# before e.g. dropout's) are exactly those of one up-front draw.
_CHUNK = 1 << 15


def _in_chunks(draw, num_samples, chunk=_CHUNK):
    """An iterator over ``num_samples`` indices, ``draw(size)`` returning the next ``size`` as an array."""
    first = draw(min(chunk, num_samples)).tolist()

    def rest():
        yield from first
        left = num_samples - len(first)
        while left > 0:
            size = min(chunk, left)
            yield from draw(size).tolist()
            left -= size
    return rest()


class Sampler:
    """Base: an iterable of dataset indices."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A fresh random permutation each epoch (from ``generator`` or the default generator)."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if num_samples is not None and (not isinstance(num_samples, int) or num_samples <= 0):
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        # Lazily, as PyTorch's generator does: the seed is drawn at the first index, and indices
        # with replacement in chunks of 32 as they are consumed (so the draws interleave alike).
        n = len(self.data_source)
        gen = self.generator
        if gen is None:     # a fresh generator seeded by one int64 from the default one
            gen = Generator().manual_seed(int(get_generator().random_bits((), np.int64)))
        if self.replacement:
            for _ in range(self.num_samples // 32):
                yield from gen.integers(0, n, (32,)).tolist()
            yield from gen.integers(0, n, (self.num_samples % 32,)).tolist()
            return
        for _ in range(self.num_samples // n):
            yield from gen.permutation(n).tolist()
        yield from gen.permutation(n).tolist()[:self.num_samples % n]

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        perm = get_generator(self.generator).permutation(len(self.indices))
        return (self.indices[i] for i in perm)

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got replacement={replacement}")
        w = np.asarray(weights._data if hasattr(weights, "_data") else weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape {tuple(w.shape)}")
        self.weights, self.num_samples, self.replacement, self.generator = w, num_samples, replacement, generator

    def __iter__(self):
        from ..._sampling import multinomial_rows      # torch.multinomial(weights, n, replacement)
        gen, rows = get_generator(self.generator), self.weights.reshape(1, -1)
        if not self.replacement:       # at most len(weights) draws: one call
            return iter(multinomial_rows(gen, rows, self.num_samples, False)[0].tolist())
        # With replacement each sample takes its own uniform draw in turn, so drawing in chunks gives
        # PyTorch's one-call stream while memory stays independent of num_samples.
        return _in_chunks(lambda size: multinomial_rows(gen, rows, size, True)[0], self.num_samples)

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of ``sampler`` into lists of ``batch_size``."""

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self):
        batch = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else (n + self.batch_size - 1) // self.batch_size
