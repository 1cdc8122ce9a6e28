"""The numba Box-Muller kernels behind ``_numba_engine.py`` (imported only from there, at the first fill).

This module imports numba, so nothing imports it at ``import deepdive``. Everything a kernel uses is a
module global (constants, intrinsics): numba's on-disk cache keys a function by its bytecode and its
closure cells, and an intrinsic in a closure cell pickles differently in every process (always a miss).
``fastmath`` is off: LLVM then neither reassociates nor contracts ``a * b + c`` by itself, so the only
fused operations are the explicit ``_fma`` calls, exactly where the reference (``_avx_mathfun.py``) fuses.
"""
import math

import numba
import numpy as np

from ._numba_intrinsics import bits_float as _bits_float, float_bits as _float_bits, fma as _fma
from ._avx_mathfun import _COSCOF, _DP1, _DP2, _DP3, _FOPI, _LOG_P, _LOG_Q1, _LOG_Q2, _SINCOF, _SQRTHF


def _njit(signature):
    """``numba.njit`` (eager for a signature, else at first call) with the on-disk cache where a cache
    directory can be found, else compiled in memory."""
    def decorate(fn):
        jit = lambda **cache: numba.njit(*[signature] if signature else [], fastmath=False, nogil=True,
                                         error_model="numpy", **cache)(fn)
        try:
            return jit(cache=True)
        except RuntimeError:       # "cannot cache function ...: no locator available" (read-only install, no home)
            return jit()
    return decorate


_f32, _u32, _i32 = np.float32, np.uint32, np.int32
_P0, _P1, _P2, _P3, _P4, _P5, _P6, _P7, _P8 = _LOG_P
_S0, _S1, _S2 = _SINCOF
_C0, _C1, _C2 = _COSCOF
_ONE, _ZERO, _HALF, _MINUS_TWO = _f32(1), _f32(0), _f32(0.5), _f32(-2)
_TWO_PI, _UNIT, _LOW24 = _f32(2 * np.pi), _f32(2.0 ** -24), _u32(2 ** 24 - 1)


@numba.njit(fastmath=False, inline="always")
def _log_unit(u1):
    """``log256_ps(u1)`` for the sampler's u1 in [2^-24, 1] (so no clamp, no NaN for u1 <= 0)."""
    bits = _float_bits(u1)                  # u1 = m 2^e, m in [1/2, 1); below sqrt(1/2) use 2m - 1 and e - 1
    e = _f32(_i32(bits >> _u32(23)) - _i32(0x7F)) + _ONE
    x = _bits_float((bits & _u32(0x807FFFFF)) | _u32(0x3F000000))
    small = x < _SQRTHF
    tmp = x if small else _ZERO
    x = x - _ONE
    e = e - (_ONE if small else _ZERO)
    x = x + tmp
    z = x * x
    y = _fma(_fma(_fma(_fma(_fma(_fma(_fma(_fma(_P0, x, _P1), x, _P2), x, _P3), x, _P4), x, _P5), x, _P6),
                  x, _P7), x, _P8)
    y = y * x
    y = _fma(y, z, e * _LOG_Q1)
    y = y - z * _HALF
    return (x + y) + e * _LOG_Q2


@numba.njit(fastmath=False, inline="always")
def _sincos_unit(theta):
    """``sincos256_ps(theta)`` for theta >= 0: reduce by j pi/4 (j even), then one polynomial for each."""
    j = _i32(theta * _FOPI)                  # truncation, as cvttps
    j = (j + _i32(1)) & _i32(-2)
    y = _f32(j)
    swap_sin = (j & _i32(4)) != 0
    poly_mask = (j & _i32(2)) == 0
    x = theta + y * _DP1
    x = x + y * _DP2
    x = _fma(y, _DP3, x)
    sign_cos = (~(j - _i32(2)) & _i32(4)) != 0
    z = x * x
    yc = _fma(_fma(_C0, z, _C1), z, _C2) * z
    yc = _fma(yc, z, -(z * _HALF))
    yc = yc + _ONE
    ys = _fma(_fma(_S0, z, _S1), z, _S2) * z
    ys = _fma(ys, x, x)
    ysin2 = ys if poly_mask else _ZERO
    ysin1 = _ZERO if poly_mask else yc
    sin = ysin1 + ysin2
    cos = (yc - ysin1) + (ys - ysin2)
    return (-sin if swap_sin else sin), (-cos if sign_cos else cos)


@_njit("void(uint32[:, ::1], float32, float32)")
def normal_fill_f32(data, mean, std):
    """Rows of 16 twister words -> N(mean, std^2) float32 bits, in place (``_avx_mathfun.normal_fill_16``).

    u = (w & (2^24 - 1)) 2^-24; u1 = 1 - u[:8], u2 = u[8:]; out[:8] = fma(r cos(theta), std, mean),
    out[8:] = fma(r sin(theta), std, mean), r = sqrt(-2 log u1), theta = 2 pi u2. ``_log_unit`` and
    ``_sincos_unit`` are ``log256_ps`` and ``sincos256_ps`` line for line, less the steps that are no-ops
    on the sampler's inputs (log's clamp and NaN for x <= 0; sincos' input sign). Their conditional
    expressions become selects: LLVM vectorises the k loop to 8 lanes (one AVX2 register, as PyTorch).
    """
    for i in range(data.shape[0]):
        for k in range(8):
            u1 = _ONE - _f32(data[i, k] & _LOW24) * _UNIT
            u2 = _f32(data[i, k + 8] & _LOW24) * _UNIT
            radius = math.sqrt(_MINUS_TWO * _log_unit(u1))
            sin, cos = _sincos_unit(_TWO_PI * u2)
            data[i, k] = _float_bits(_fma(radius * cos, std, mean))
            data[i, k + 8] = _float_bits(_fma(radius * sin, std, mean))


@_njit(None)
def log_unit_f32(u1, out):
    """out = ``log256_ps(u1)`` elementwise, the kernel's own log (for tests: all 2^24 sampler inputs)."""
    for i in range(u1.size):
        out[i] = _log_unit(u1[i])


@_njit(None)
def sincos_unit_f32(theta, sin, cos):
    """sin, cos = ``sincos256_ps(theta)`` elementwise, the kernel's own (for tests)."""
    for i in range(theta.size):
        sin[i], cos[i] = _sincos_unit(theta[i])


@_njit("void(float64[:, ::1], float64, float64)")
def normal_fill_f64(data, mean, std):
    """Rows of 16 uniforms -> [:, :8] fma(r cos(theta), std, mean), [:, 8:] the same with sin, in place.

    r = sqrt(-2 log(1 - u[:8])), theta = 2 pi u[8:]; math.log/cos/sin are the process's libm (glibc), as
    PyTorch's scalar float64 ``normal_fill_16`` calls them.
    """
    two_pi = 2.0 * math.pi
    for i in range(data.shape[0]):
        for k in range(8):
            radius = math.sqrt(-2.0 * math.log(1.0 - data[i, k]))
            theta = two_pi * data[i, k + 8]
            data[i, k] = _fma(radius * math.cos(theta), std, mean)
            data[i, k + 8] = _fma(radius * math.sin(theta), std, mean)
