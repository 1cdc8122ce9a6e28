"""Fused multiply-add with a single rounding, in NumPy: what PyTorch's compiled kernels compute.

PyTorch's CPU kernels are built with FMA enabled, and the compiler fuses
``a * b + c`` into one instruction that rounds once. To reproduce their last
bit, deepdive computes the same exact-then-round-once result:

* float32: a * b is exact in float64 (24 + 24 bits < 53); the sum, rounded to
  odd in float64 where double rounding could bite, rounds correctly to float32.
* float64: Boldo & Melquiond, "Emulation of FMA and correctly rounded sums:
  proved algorithms using rounding to odd" (IEEE TC 2008): an exact product
  (Dekker/Veltkamp), an exact sum (TwoSum), one addition rounded to odd, and
  a last round-to-nearest addition.
"""
import numpy as np

_SPLIT = 134217729.0          # 2^27 + 1, Veltkamp's splitter for float64


def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _two_prod(a, b):
    def split(x):
        c = _SPLIT * x
        hi = c - (c - x)
        return hi, x - hi
    p = a * b
    ah, al = split(a)
    bh, bl = split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _add_round_to_odd(a, b):
    s, err = _two_sum(a, b)
    even = (s.view(np.uint64) & np.uint64(1)) == 0
    fix = (err != 0) & even
    if fix.any():
        s = np.where(fix, np.nextafter(s, np.where(err > 0, np.inf, -np.inf)), s)
    return s


def fma32(a, b, c):
    """float32 a * b + c, rounded once.

    The float64 sum of the exact product is rounded again to float32; for
    results in float32's normal range the two roundings can only disagree when
    that sum lies exactly halfway between two float32 values (low 29 mantissa
    bits 1000...0), so only those rare elements take the exact round-to-odd
    path. NOTE: results below float32's smallest normal (1.2e-38) are not
    corrected; none of deepdive's samplers produces them.
    """
    s = np.multiply(a, b, dtype=np.float64)
    np.add(s, c, out=s, dtype=np.float64)
    out = s.astype(np.float32)
    low_bits = s.view(np.uint64)
    low_bits &= np.uint64(0x1FFFFFFF)              # (reuses s's memory: s is not needed after this)
    suspect = low_bits == np.uint64(0x10000000)
    if suspect.any():
        a, b, c = np.broadcast_arrays(*(np.asarray(v, np.float64) for v in (a, b, c)))
        out[suspect] = _add_round_to_odd(a[suspect] * b[suspect], c[suspect]).astype(np.float32)
    return out


def fma64(a, b, c):
    """float64 a * b + c, rounded once (finite inputs, no overflow)."""
    a, b, c = (np.asarray(v, np.float64) for v in (a, b, c))
    uh, ul = _two_prod(a, b)
    th, tl = _two_sum(c, uh)
    return th + _add_round_to_odd(tl, ul)
