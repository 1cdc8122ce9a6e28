"""Samplers decide the order of indices; BatchSampler groups them into batches."""
import numpy as np

from ...random import get_generator


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
        n = len(self.data_source)
        gen = get_generator(self.generator)
        if self.replacement:
            return _in_chunks(lambda size: gen.integers(0, n, (size,)), self.num_samples)
        # without replacement: whole permutations of range(n), one at a time, the last one cut
        return _in_chunks(lambda size: gen.permutation(n)[:size], self.num_samples, chunk=n)

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
        gen = get_generator(self.generator)
        p = self.weights / self.weights.sum()
        if not self.replacement:       # at most len(weights) draws: one call
            return iter(gen.choice(len(self.weights), self.num_samples, False, p).tolist())
        return _in_chunks(lambda size: gen.choice(len(self.weights), size, True, p), self.num_samples)

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
