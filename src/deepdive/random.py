"""The one random source behind initialisation, dropout, shuffling and sampling.

``deepdive.manual_seed(s)`` seeds the default generator; functions that take a
``generator=`` use that ``Generator`` instead. (The streams differ from
PyTorch's: seeding makes deepdive reproducible, not bit-identical to torch.)
"""
import numpy as np


class Generator:
    """A seedable random source (wraps NumPy's PCG64 bit generator)."""

    def __init__(self, device="cpu"):
        self._seed = 67280421310721     # PyTorch's default seed, for familiarity
        self._rng = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed):
        seed = int(seed)
        if seed < 0:
            seed += 2 ** 64
        self._seed = seed
        self._rng = np.random.Generator(np.random.PCG64(seed))
        return self

    def seed(self):
        seed = int(np.random.SeedSequence().entropy % (2 ** 63))
        self.manual_seed(seed)
        return seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        from .tensor import _wrap
        import json
        state = json.dumps(self._rng.bit_generator.state).encode()
        return _wrap(np.frombuffer(state, dtype=np.uint8).copy())

    def set_state(self, state):
        import json
        raw = state._data if hasattr(state, "_data") else np.asarray(state)
        self._rng.bit_generator.state = json.loads(bytes(raw.astype(np.uint8)).decode())
        return self

    # Samplers used inside deepdive (NumPy arrays out)
    def uniform(self, low, high, shape):
        return self._rng.uniform(low, high, shape)

    def normal(self, mean, std, shape):
        return self._rng.normal(mean, std, shape)

    def standard_normal(self, shape, dtype=np.float64):
        return self._rng.standard_normal(shape, dtype=dtype)

    def random(self, shape, dtype=np.float64):
        return self._rng.random(shape, dtype=dtype)

    def integers(self, low, high, shape):
        return self._rng.integers(low, high, shape)

    def permutation(self, n):
        return self._rng.permutation(n)

    def exponential(self, scale, shape):
        return self._rng.exponential(scale, shape)

    def choice(self, n, size, replace, p):
        return self._rng.choice(n, size=size, replace=replace, p=p)


default_generator = Generator()


def get_generator(generator=None):
    return default_generator if generator is None else generator


def manual_seed(seed):
    """Seed the default generator (and return it, like PyTorch)."""
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)
