"""Compiled twin of ``activation._gelu_parts`` for float32 (the optional numba engine, see ``deepdive._fast``).

Imported only by ``activation._build_gelu`` at the first float32 GELU, never by ``import deepdive``.

One pass per element instead of ~24 NumPy passes, the same formula in the same order, in float32:

    t = 1 / (1 + p |x|),  e = exp(-x^2 / 2),
    Phi(-|x|) = (((((a5 t + a4) t + a3) t + a2) t + a1) t) e           (Abramowitz & Stegun 7.1.26, halved)
    Phi(x) = 1/2 + sign(x) (1/2 - Phi(-|x|)),   y = x Phi(x),   dy/dx = Phi(x) + x e / sqrt(2 pi)

Every step is the NumPy path's float32 operation (no fastmath, so no FMA contraction or reassociation),
except exp: NumPy's SIMD expf and the one here (``_expf``: Cody-Waite reduction, Cephes' degree-5
polynomial, measured <= 0.54 ulp against float64 exp) each round differently in the last place. So
the two paths agree to float32 rounding, measured on 10^6 values in [-14, 14] and N(0, 9):
|y_numba - y_numpy| <= 2 * 2^-24 * max(|x|, 1) and |dy/dx_numba - dy/dx_numpy| <= 2 * 2^-24 (~7% and ~19% of
the values differ at all), well inside the fit's own 1.5e-7; +-0, +-inf and NaN give the same values.
tests/test_fast_gelu.py checks 4 * 2^-24. Measured 1.0 ms vs the NumPy path's 3.7 ms on 2^20 values, 1 thread.
"""
import math

import numba
import numpy as np

from .._numba_intrinsics import bits_float as _bits_float


_F = np.float32
_LOG2E = _F(1.4426950408889634)
_LN2_HI, _LN2_LO = _F(0.693359375), _F(-2.12194440e-4)          # ln 2 = hi + lo, hi exact in 9 bits
_EXP_P = tuple(_F(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3,
                                4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1))
_EXP_MIN = _F(-87.33654)        # exp of this is FLT_MIN; below it 0 is returned (NumPy gives subnormals: < 1.2e-38)
_HALF, _ONE, _ZERO = _F(0.5), _F(1.0), _F(0.0)

_AS_P = _F(0.3275911 / math.sqrt(2))
_A1, _A2, _A3, _A4, _A5 = (_F(0.5 * a) for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429))
_INV_SQRT_2PI = _F(1 / math.sqrt(2 * math.pi))


@numba.njit(cache=True, nogil=True, inline="always")
def _expf(a):
    """e^a for float32 a <= 0: 2^k e^r, k = round(a log2 e), r = a - k ln 2 (|r| <= ln2 / 2), e^r by Cephes' expf
    polynomial. Branch-free so that LLVM vectorises the calling loop."""
    c = max(a, _EXP_MIN)
    k = np.floor(c * _LOG2E + _HALF)           # np.floor keeps float32 (math.floor gives an int64)
    r = c - k * _LN2_HI
    r = r - k * _LN2_LO
    p0, p1, p2, p3, p4, p5 = _EXP_P
    p = p0 * r + p1
    p = p * r + p2
    p = p * r + p3
    p = p * r + p4
    p = p * r + p5
    e = (p * r) * r + r + _ONE
    e = e * _bits_float((np.int32(k) + np.int32(127)) << np.int32(23))
    return e if a >= _EXP_MIN else _ZERO


@numba.njit(cache=True, nogil=True, error_model="numpy")     # numpy: x / 0 is inf, no raise (which stops vectorising)
def gelu_parts_f32(x, y, dy_dx):
    """y = x Phi(x) and dy/dx = Phi(x) + x phi(x) over flat contiguous float32 arrays (see the module docstring)."""
    for i in range(x.size):
        xi = x[i]
        t = _ONE / (abs(xi) * _AS_P + _ONE)
        e = _expf((xi * -_HALF) * xi)
        q = t * _A5
        q = (q + _A4) * t
        q = (q + _A3) * t
        q = (q + _A2) * t
        q = (q + _A1) * t
        q = q * e
        phi = np.copysign(_HALF - q, xi) + _HALF
        dy_dx[i] = (e * xi) * _INV_SQRT_2PI + phi
        y[i] = phi * xi
