"""float32 log and sincos exactly as PyTorch's CPU normal sampler computes them.

PyTorch fills float32 tensors of >= 16 elements with Box-Muller through
``normal_fill_16_AVX2`` (``aten/src/ATen/native/cpu/DistributionTemplates.h``),
whose ``log256_ps`` / ``sincos256_ps`` come from ``avx_mathfun.h`` (Giovanni
Garberoglio's AVX port of Julien Pommier's sse_mathfun, i.e. the Cephes
single-precision polynomials). They are not libm's ``logf``/``sinf``: to draw
the same bits we redo the same float32 operations in the same order. Each
NumPy float32 ``+``/``*`` is one IEEE-rounded operation, like each intrinsic.

NOTE: PyTorch's compiler contracts each multiply feeding an add into one fused
multiply-add (GCC's default ``-ffp-contract=fast`` on the AVX2 build), so a
``y = y * x + p`` step here is ``fma32`` -- one rounding, not two. Which
products fuse was settled against torch 2.13's output bit for bit.

The sampler itself runs ``log256_unit`` / ``sincos256_unit`` (below): the same
operations restricted to the sampler's 2^24 possible inputs, with cheaper fused
steps; ``log256_ps`` / ``sincos256_ps`` stay as the step-by-step reference that
tests compare them with on every one of those inputs.

NOTE: PyTorch registers no AVX512 kernel for ``normal_`` (it "exposes
flakiness in test_sgd"), so AVX512 machines use this same AVX2 path; a CPU
without AVX2 takes PyTorch's scalar libm path instead (see random.py).
"""
import math

import numpy as np

from ._fma import fma32

f32 = np.float32
_MIN_NORM_POS = np.array(0x00800000, dtype=np.uint32).view(np.float32)
_SQRTHF = f32(0.707106781186547524)
_LOG_P = [f32(c) for c in (7.0376836292E-2, -1.1514610310E-1, 1.1676998740E-1, -1.2420140846E-1,
                           1.4249322787E-1, -1.6668057665E-1, 2.0000714765E-1, -2.4999993993E-1,
                           3.3333331174E-1)]
_LOG_Q1, _LOG_Q2 = f32(-2.12194440e-4), f32(0.693359375)
_DP1, _DP2, _DP3 = f32(-0.78515625), f32(-2.4187564849853515625e-4), f32(-3.77489497744594108e-8)
_SINCOF = [f32(c) for c in (-1.9515295891E-4, 8.3321608736E-3, -1.6666654611E-1)]
_COSCOF = [f32(c) for c in (2.443315711809948E-005, -1.388731625493765E-003, 4.166664568298827E-002)]
_FOPI = f32(1.27323954473516)   # 4 / pi


def log256_ps(x):
    """Cephes logf: split x = m * 2^e with m in [sqrt(1/2), sqrt(2)), then a degree-9 polynomial in m - 1."""
    x = np.asarray(x, dtype=np.float32)
    invalid = x <= 0
    x = np.maximum(x, _MIN_NORM_POS)
    bits = x.view(np.uint32)
    e = ((bits >> 23).astype(np.int32) - 0x7F).astype(np.float32) + f32(1)
    x = ((bits & np.uint32(0x807FFFFF)) | np.float32(0.5).view(np.uint32)).view(np.float32)
    mask = x < _SQRTHF
    tmp = np.where(mask, x, f32(0))
    x = x - f32(1)
    e = e - np.where(mask, f32(1), f32(0))
    x = x + tmp
    z = x * x
    y = np.full_like(x, _LOG_P[0])
    for p in _LOG_P[1:]:
        y = fma32(y, x, p)
    y = y * x
    y = fma32(y, z, e * _LOG_Q1)
    y = y - z * f32(0.5)         # products exact (halving; small integer e times a 9-bit constant):
    x = (x + y) + e * _LOG_Q2    # the fused and unfused forms round the same, so skip the emulation
    return np.where(invalid, f32(np.nan), x)


def sincos256_ps(x):
    """Cephes sinf/cosf: reduce by multiples of pi/4 in three parts, then one of two polynomials."""
    x = np.asarray(x, dtype=np.float32)
    sign_sin = np.signbit(x)
    x = np.abs(x)
    j = (x * _FOPI).astype(np.int32)          # cvttps: truncation
    j = (j + 1) & ~1
    y = j.astype(np.float32)
    swap_sin = (j & 4) != 0
    poly_mask = (j & 2) == 0
    x = x + y * _DP1             # y is a small integer and DP1, DP2 have few bits: exact products
    x = x + y * _DP2
    x = fma32(y, _DP3, x)
    sign_cos = ((~(j - 2)) & 4) != 0
    sign_sin = sign_sin ^ swap_sin
    z = x * x
    yc = fma32(_COSCOF[0], z, _COSCOF[1])
    yc = fma32(yc, z, _COSCOF[2]) * z
    yc = fma32(yc, z, -(z * f32(0.5)))
    yc = yc + f32(1)
    ys = fma32(_SINCOF[0], z, _SINCOF[1])
    ys = fma32(ys, z, _SINCOF[2]) * z
    ys = fma32(ys, x, x)
    zero = f32(0)
    ysin2 = np.where(poly_mask, ys, zero)
    ysin1 = np.where(poly_mask, zero, yc)
    sin = ysin1 + ysin2
    cos = (yc - ysin1) + (ys - ysin2)
    sin = np.where(sign_sin, -sin, sin)
    cos = np.where(sign_cos, -cos, cos)
    return sin, cos


# ----------------------------------------------------------------------------------------------------
# The same two functions, lean, for the sampler's inputs only: u1 = 1 - k 2^-24 and theta = 2 pi k 2^-24
# (float32), k = 0 .. 2^24 - 1. They do the same float32 operations in the same order; what changes is
# how each fused multiply-add is done: in float64, y * x + c exactly (a product of two float32s is
# exact in float64, and with these operands' ranges and bit counts the sum is too), then rounded once to
# float32 -- no double-rounding check needed. Each value is kept in a float64 array between steps (a
# float32-valued float64), so a Horner step is 4 array passes instead of fma32's ~17. Both functions
# take 2^24 possible inputs, and tests/test_random_fast.py runs every one of them through both versions.
_F64 = np.float64


def _round32(t, scratch):
    """Round the float64 ``t`` to float32 in place (through ``scratch``), and return the float32 copy."""
    scratch[...] = t
    t[...] = scratch
    return scratch


def _horner32(x64, coefs, scratch):
    """float32 Horner with each step fused: y = fma(y, x, c) over coefs[1:], from y = coefs[0]."""
    y = x64 * _F64(coefs[0])
    y += _F64(coefs[1])
    for c in coefs[2:]:
        _round32(y, scratch)
        y *= x64
        y += _F64(c)
    scratch[...] = y
    return scratch


def log256_unit(u1):
    """``log256_ps(u1)`` for u1 in [2^-24, 1] (no zero, negative or subnormal inputs)."""
    m, e_int = np.frexp(u1)                     # u1 = m 2^e, m in [0.5, 1): Cephes' split, its e is frexp's
    small = m < _SQRTHF                         # m < sqrt(1/2): x = 2m - 1 (exact) and e - 1
    e_int -= small
    x = small.astype(np.float32)                # (arithmetic, not a masked ufunc: those branch per element)
    x += f32(1)
    x *= m
    x -= f32(1)
    e = e_int.astype(np.float32)
    z = x * x
    x64 = x.astype(_F64)
    scratch = np.empty_like(x)
    yx = _horner32(x64, _LOG_P, scratch)
    yx *= x
    # y = fma(y, z, e * Q1): e * Q1 is rounded to float32 first, and here the float64 sum can be inexact
    # (tiny z against a large e * Q1), so the rare halfway sums are redone exactly
    eq1 = e * _LOG_Q1
    s = np.multiply(yx, z, dtype=_F64)
    s += eq1
    y = s.astype(np.float32)
    suspect = (s.view(np.uint64) & np.uint64(0x1FFFFFFF)) == np.uint64(0x10000000)
    if suspect.any():
        y[suspect] = fma32(yx[suspect], z[suspect], eq1[suspect])
    y -= z * f32(0.5)
    x += y
    x += e * _LOG_Q2
    return x


def sincos256_unit(theta):
    """``sincos256_ps(theta)`` for theta = 2 pi u, u in [0, 1) (so theta >= 0: no input sign)."""
    x = theta
    j = (x * _FOPI).astype(np.int32)            # cvttps: truncation
    j += 1
    j &= ~1
    y = j.astype(np.float32)
    # the selects below are bit operations on uint32 views (NumPy's masked ufuncs branch per element):
    # sign bits from j's bit 2 (sin) and from ~(j - 2)'s bit 2 (cos), all-ones where j & 2 == 0
    sign_sin = (j & 4).view(np.uint32) << np.uint32(29)
    poly_mask = ((j & 2) >> 1).view(np.uint32)
    poly_mask -= np.uint32(1)
    j -= 2
    np.invert(j, out=j)
    j &= 4
    sign_cos = j.view(np.uint32) << np.uint32(29)
    x = x + y * _DP1             # exact products (y a small integer, DP1 and DP2 have few bits)
    x += y * _DP2
    x64 = y.astype(_F64)         # x = fma(y, DP3, x)
    x64 *= _F64(_DP3)
    x64 += x
    x = _round32(x64, np.empty_like(x))
    z = x * x
    z64 = z.astype(_F64)
    yc = _horner32(z64, _COSCOF, np.empty_like(x))
    yc *= z
    c64 = np.multiply(yc, z64)                  # yc = fma(yc, z, -(z * 0.5)), then + 1
    c64 -= z * f32(0.5)
    yc[...] = c64
    yc += f32(1)
    ys = _horner32(z64, _SINCOF, np.empty_like(x))
    ys *= z
    s64 = np.multiply(ys, x64)                  # ys = fma(ys, x, x)
    s64 += x64
    ys[...] = s64
    # sin = ysin1 + ysin2 and cos = (yc - ysin1) + (ys - ysin2) pick one polynomial each (adding exact zeros)
    ys, yc = ys.view(np.uint32), yc.view(np.uint32)
    pick = ys ^ yc
    pick &= poly_mask
    sin = yc ^ pick                             # ys where poly_mask, else yc
    cos = ys ^ pick                             # yc where poly_mask, else ys
    sin ^= sign_sin
    cos ^= sign_cos
    return sin.view(np.float32), cos.view(np.float32)


def normal_fill_16(data, mean, std):
    """Box-Muller on rows of 16 uniforms: u1 = 1 - data[:8], u2 = data[8:] (PyTorch's layout), in place.

    out[:8] = r cos(theta) * std + mean, out[8:] = r sin(theta) * std + mean,
    r = sqrt(-2 log u1), theta = 2 pi u2, all in float32 (the ``* std + mean`` fused). ``data`` holds
    uniforms of the sampler (multiples of 2^-24 in [0, 1)); it is overwritten and returned.
    """
    radius = log256_unit(f32(1) - data[:, :8])
    radius *= f32(-2)
    np.sqrt(radius, out=radius)
    sin, cos = sincos256_unit(f32(2 * np.pi) * data[:, 8:])
    mean, std = f32(mean), f32(std)
    if math.frexp(float(std))[0] != 0.5 and not (mean == 0 and 0 < std < np.inf):
        data[:, :8] = fma32(radius * cos, std, mean)
        data[:, 8:] = fma32(radius * sin, std, mean)
        return data
    np.multiply(radius, cos, out=data[:, :8])
    np.multiply(radius, sin, out=data[:, 8:])
    if math.frexp(float(std))[0] != 0.5:     # mean 0: n * std is exact in float64, the FMA rounds only it
        data[...] = data * np.float64(std)
    elif std != 1:         # std a power of two (N(0, 1) above all): an exact product, the FMA rounds once
        data *= std
    if mean != 0 or not radius.all():        # (+ 0 only turns the -0.0 of r == -0.0 into +0.0)
        data += mean
    return data
