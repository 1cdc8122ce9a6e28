"""MT19937, the 32-bit Mersenne Twister behind PyTorch's CPU generator, in vectorised NumPy.

Matsumoto & Nishimura (1998). The state is 624 words ``x[k..k+623]``; the
recurrence that makes the next word is

    x[k+624] = x[k+397] ^ (y >> 1) ^ (MATRIX_A if y & 1 else 0),
    y        = (x[k] & 0x80000000) | (x[k+1] & 0x7fffffff),

and each output is a "tempered" state word. Seeding is ``init_genrand``
(Knuth's multiplier 1812433253) on the low 32 bits of the seed, exactly as
``at::mt19937`` does it.

NOTE: the twist is vectorised in slices: x[k+624] only depends on words at
least 227 (= 624 - 397) positions back, so 227 new words can be made by one
array expression. A refill of 624 words is three slices, and tempering runs
over the whole batch of outputs at once.

The bookkeeping (``left``, ``next``) is PyTorch's: ``left - 1`` untouched
words remain at ``state[next:]``; when none remain the state is twisted.
That makes a state read from ``torch.get_rng_state()`` continue here exactly.
"""
import numpy as np

N, M = 624, 397
MATRIX_A = np.uint32(0x9908B0DF)
UPPER_MASK = np.uint32(0x80000000)
LOWER_MASK = np.uint32(0x7FFFFFFF)


def init_genrand(seed):
    """The 624 state words for a 32-bit seed (the reference ``init_genrand``)."""
    state = np.empty(N, dtype=np.uint32)
    x = int(seed) & 0xFFFFFFFF
    state[0] = x
    for j in range(1, N):       # 623 steps once per manual_seed: sequential by definition
        x = (1812433253 * (x ^ (x >> 30)) + j) & 0xFFFFFFFF
        state[j] = x
    return state


def _twist_into(x, start):
    """Fill x[start : start+227] from the 624 words before it (one vectorised slice)."""
    k = start - N
    stop = min(start + (N - M), len(x))
    n = stop - start
    y = (x[k:k + n] & UPPER_MASK) | (x[k + 1:k + 1 + n] & LOWER_MASK)
    np.bitwise_xor(x[k + M:k + M + n], y >> 1, out=x[start:stop])
    x[start:stop] ^= (y & 1) * MATRIX_A
    return stop


def twist(state):
    """The next 624 state words after ``state`` (the reference ``next_state``)."""
    x = np.empty(2 * N, dtype=np.uint32)
    x[:N] = state
    pos = N
    while pos < 2 * N:
        pos = _twist_into(x, pos)
    return x[N:]


def temper(y):
    """The output transform applied to each state word."""
    y = y ^ (y >> 11)
    y ^= (y << 7) & np.uint32(0x9D2C5680)
    y ^= (y << 15) & np.uint32(0xEFC60000)
    y ^= y >> 18
    return y


class MT19937:
    """PyTorch's ``at::mt19937``: seed, raw 32-bit draws in batches, and its state fields."""

    def __init__(self, seed=5489):
        self.seed(seed)

    def seed(self, seed):
        self.state = init_genrand(seed)
        self.left, self.next = 1, 0

    def random_raw(self, n):
        """The next ``n`` 32-bit outputs as a uint32 array (what n calls of ``mt()`` return)."""
        n = int(n)
        out = np.empty(n, dtype=np.uint32)
        have = min(n, self.left - 1)
        out[:have] = self.state[self.next:self.next + have]
        self.next += have
        self.left -= have
        if have < n:
            # Refill: generate all the state blocks we need as one long recurrence.
            blocks = -(-(n - have) // N)
            x = np.empty((blocks + 1) * N, dtype=np.uint32)
            x[:N] = self.state
            pos = N
            while pos < len(x):
                pos = _twist_into(x, pos)
            out[have:] = x[N:N + n - have]
            self.state = x[-N:].copy()
            used = (n - have) - (blocks - 1) * N
            self.next, self.left = used, N - used + 1
        return temper(out)
