"""MT19937, the 32-bit Mersenne Twister behind PyTorch's CPU generator, with PyTorch's seeding and state.

Matsumoto & Nishimura (1998). The state is 624 words ``x[k..k+623]``; the
recurrence that makes the next word is

    x[k+624] = x[k+397] ^ (y >> 1) ^ (MATRIX_A if y & 1 else 0),
    y        = (x[k] & 0x80000000) | (x[k+1] & 0x7fffffff),

and each output is a "tempered" state word. Seeding is ``init_genrand``
(Knuth's multiplier 1812433253) on the low 32 bits of the seed, exactly as
``at::mt19937`` does it.

NOTE: NumPy ships this very generator in C (``numpy.random.MT19937``, the
reference ``mt19937_gen``), so the words come from there: we load the state
PyTorch would have into it and read raw 32-bit outputs in bulk, ~2.5 ns a word.
(A pure-NumPy twist, vectorised in its three 227-word slices, was 30x slower:
the recurrence only allows 227 new words per array expression.) Only the
seeding, which NumPy does differently (through SeedSequence), is done here.

The bookkeeping exposed (``state``, ``left``, ``next``) is PyTorch's: ``left - 1``
untouched words remain at ``state[next:]``, and ``left == 1, next == 0`` right
after seeding. That makes a state read from ``torch.get_rng_state()`` continue
here exactly, and the other way round.
"""
import numpy as np

N = 624


def init_genrand(seed):
    """The 624 state words for a 32-bit seed (the reference ``init_genrand``)."""
    state = np.empty(N, dtype=np.uint32)
    x = int(seed) & 0xFFFFFFFF
    state[0] = x
    for j in range(1, N):       # 623 steps once per manual_seed: sequential by definition
        x = (1812433253 * (x ^ (x >> 30)) + j) & 0xFFFFFFFF
        state[j] = x
    return state


class MT19937:
    """PyTorch's ``at::mt19937``: seed, raw 32-bit draws in batches, and its state fields."""

    def __init__(self, seed=5489):
        self._bit_generator = np.random.MT19937()
        self._words = np.random.Generator(self._bit_generator)
        self.seed(seed)

    def seed(self, seed):
        self.set_state(init_genrand(seed), left=1, next=0)

    def random_raw(self, n):
        """The next ``n`` 32-bit outputs as a uint32 array (what n calls of ``mt()`` return)."""
        n = int(n)
        if n:
            self._fresh = False
        # NOTE: over the full 32-bit range NumPy's bounded-integer path returns each next32() word
        # unchanged (no masking, no rejection): one twister output per element.
        return self._words.integers(0, 2 ** 32, n, dtype=np.uint32)

    def random_raw64(self, n):
        """The next ``n`` pairs of 32-bit outputs as uint64 ``first << 32 | second`` (``random64()``'s order).

        NOTE: NumPy's ``mt19937_next64`` builds a 64-bit word from two next32() words, the first drawn in
        the high half, and over the full 64-bit range ``integers`` returns it unchanged: exactly what
        PyTorch's ``random64()`` makes, without a swap or a copy (checked in tests/test_random.py).
        """
        n = int(n)
        if n:
            self._fresh = False
        return self._words.integers(0, 2 ** 64, n, dtype=np.uint64)

    # ------------------------------------------------------------ PyTorch's view of the state
    @property
    def _pos(self):
        return self._bit_generator.state["state"]["pos"]

    @property
    def state(self):
        return np.asarray(self._bit_generator.state["state"]["key"], dtype=np.uint32)

    @property
    def left(self):
        return 1 if self._fresh else N + 1 - self._pos

    @property
    def next(self):
        return 0 if self._fresh else self._pos

    def set_state(self, state, left, next):
        """Load PyTorch's fields: NumPy's ``pos`` (the next word to temper) is PyTorch's ``next``,
        and PyTorch's freshly seeded ``left == 1, next == 0`` is NumPy's "twist first" ``pos == 624``."""
        self._fresh = left == 1 and next == 0
        self._bit_generator.state = {"bit_generator": "MT19937",
                                     "state": {"key": np.asarray(state, dtype=np.uint32),
                                               "pos": N if self._fresh else N + 1 - int(left)}}
