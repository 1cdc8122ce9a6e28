"""Optional compiled Box-Muller fills (``pip install deepdive[fast]``: numba), same bits as the NumPy paths.

* float32 (``normal_fill_f32``): PyTorch's ``normal_fill_16_AVX2`` -- Cephes ``log256_ps`` /
  ``sincos256_ps`` (``_avx_mathfun.py``) -- written as straight-line float32 code that LLVM vectorises
  to 8-wide AVX2: selects instead of branches, the float's bits through a uint32 bitcast, and each of
  the reference's ``fma32`` steps as a true single-rounding ``llvm.fma.f32``. Every other product and
  sum is a plain IEEE operation: ``fastmath`` is off, and without it LLVM neither reassociates nor
  contracts ``a * b + c`` on its own (tests/test_random_fast.py runs all 2^24 inputs of each function).
  It also turns the twister's words into the uniforms ``(w & (2^24 - 1)) 2^-24`` on the way, in place.
* float64 (``normal_fill_f64``): PyTorch's scalar ``normal_fill_16`` calls glibc's ``log``, ``cos``
  and ``sin`` per element; a numba loop calls the very same functions (LLVM lowers ``math.log`` to the
  process's libm), so it draws the same bits by construction, and ``* std + mean`` is ``llvm.fma.f64``.

Both end with PyTorch's ``fma(r cos(theta), std, mean)`` for every (mean, std): a true FMA needs none of
the NumPy path's case analysis. Each is used only when numba imports, ``DEEPDIVE_NUMBA`` is not ``0``
(``_fast.Kernel``), and a first-use self-check against the NumPy path passes (a numba built with SVML,
say, could vectorise log with different rounding: then it is left unused and NumPy runs, same numbers).
The kernels live in ``_numba_box_muller.py``, imported (with numba) at the first draw that needs a fill,
never by ``import deepdive``. The machine code is
cached on disk (``cache=True``: next to this file, or numba's per-user cache dir when that is read-only;
where neither works it is compiled in memory each process).
"""
import numpy as np

from . import _fast


def _build_f32():
    from ._numba_box_muller import normal_fill_f32
    return normal_fill_f32


def _build_f64():
    from ._numba_box_muller import normal_fill_f64
    return normal_fill_f64


_CHECKS = ((0.0, 1.0), (0.0, 0.02), (1.0, 3.0), (-0.0, 0.5))        # (mean, std): each case of the NumPy fills


def _probe_words():
    words = np.random.default_rng(2024).integers(0, 2 ** 32, (2048, 16), dtype=np.uint32)
    words[0, :8] = 0                          # u1 = 1: r = 0 (signed zeros)
    words[1, :] = 2 ** 24 - 1                 # the largest uniform
    return words


def _same_bits(a, b):
    return a.shape == b.shape and np.array_equal(a.view(np.uint8), b.view(np.uint8))


def _check_f32(kernel):
    from ._avx_mathfun import normal_fill_16
    words = _probe_words()
    uniforms = (words & np.uint32(2 ** 24 - 1)).astype(np.float32) * np.float32(2.0 ** -24)
    for mean, std in _CHECKS:
        mine = words.copy()
        kernel(mine, np.float32(mean), np.float32(std))
        if not _same_bits(mine.view(np.float32), normal_fill_16(uniforms.copy(), mean, std)):
            return False
    return True


def _check_f64(kernel):
    from .random import _numpy_normal_fill_f64
    probe = np.random.default_rng(2024).random((2048, 16))
    probe[0, :8] = 0.0                               # u1 = 1: r = 0 (signed zeros)
    for mean, std in _CHECKS:
        mine = probe.copy()
        kernel(mine, mean, std)
        if not _same_bits(mine, _numpy_normal_fill_f64(probe.copy(), mean, std)):
            return False
    return True


_f32 = _fast.Kernel("normal_fill_f32", _build_f32, check=_check_f32)
_f64 = _fast.Kernel("normal_fill_f64", _build_f64, check=_check_f64)


def normal_fill_f32():
    """The compiled float32 fill ``kernel(words, mean, std)`` (uint32 rows of 16, float32 scalars), or None."""
    return _f32.get()


def normal_fill_f64():
    """The compiled float64 fill ``kernel(block, mean, std)`` (rows of 16 uniforms, float scalars), or None."""
    return _f64.get()
