"""Optional compiled engine for the float64 Box-Muller fill (``pip install deepdive[fast]``: numba).

PyTorch's float64 ``normal_fill_16`` calls glibc's ``log``, ``cos`` and ``sin``
per element. A numba loop calls the very same functions (LLVM lowers
``math.log`` to the process's libm), so it draws the same bits by construction,
about 3x faster than the NumPy path (which redoes glibc's log in ~60 array
passes and calls cos and sin separately). Nothing is fused: ``fastmath`` is off.

It is used only when numba imports, ``DEEPDIVE_NUMBA`` is not ``0``, and a
first-use self-check against the NumPy path passes (a numba built with SVML,
say, could vectorise log with different rounding: then it is left unused).
NumPy stays the default path and gives the same numbers.

NOTE: the float32 fill gains nothing from a scalar numba loop (measured:
18.6 ms vs NumPy's 15.6 ms CPU per 10^6 under load), since PyTorch's float32
kernel is 8-wide AVX2 code; so only float64 is compiled here.
"""
import math
import os

import numpy as np

_kernel = None          # None: not tried yet; False: unavailable or failed its self-check


def _compile():
    import numba

    @numba.njit(cache=True, fastmath=False, nogil=True)
    def box_muller_f64(data):
        """In place on rows of 16 uniforms: [:, :8] <- r cos(theta), [:, 8:] <- r sin(theta)."""
        two_pi = 2.0 * math.pi
        for i in range(data.shape[0]):
            for k in range(8):
                radius = math.sqrt(-2.0 * math.log(1.0 - data[i, k]))
                theta = two_pi * data[i, k + 8]
                data[i, k] = radius * math.cos(theta)
                data[i, k + 8] = radius * math.sin(theta)

    return box_muller_f64


def box_muller_f64(numpy_fill):
    """The compiled fill, or None. ``numpy_fill(block)`` is the NumPy version it must agree with."""
    global _kernel
    if _kernel is None:
        _kernel = False
        if os.environ.get("DEEPDIVE_NUMBA", "1") != "0":
            try:
                kernel = _compile()
                probe = np.random.default_rng(2024).random((2048, 16))
                probe[0, :8] = 0.0                                 # u1 = 1: r = 0
                mine = probe.copy()
                kernel(mine)
                if np.array_equal(mine, numpy_fill(probe.copy())):
                    _kernel = kernel
            except Exception:          # numba present but unusable here: the NumPy path is always there
                _kernel = False
    return _kernel or None
