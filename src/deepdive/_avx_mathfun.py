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


def normal_fill_16(data, mean, std):
    """Box-Muller on rows of 16 uniforms: u1 = 1 - data[:8], u2 = data[8:] (PyTorch's layout).

    out[:8] = r cos(theta) * std + mean, out[8:] = r sin(theta) * std + mean,
    r = sqrt(-2 log u1), theta = 2 pi u2, all in float32.
    """
    u1 = f32(1) - data[:, :8]
    u2 = data[:, 8:]
    radius = np.sqrt(f32(-2) * log256_ps(u1))
    sin, cos = sincos256_ps(f32(2 * np.pi) * u2)
    mean, std = f32(mean), f32(std)
    if math.frexp(float(std))[0] == 0.5:       # std a power of two (N(0, 1) above all): exact product
        return np.concatenate([radius * cos * std + mean, radius * sin * std + mean], axis=1)
    return np.concatenate([fma32(radius * cos, std, mean), fma32(radius * sin, std, mean)], axis=1)
