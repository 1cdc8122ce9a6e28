"""The optional compiled engine (``pip install deepdive[fast]``: numba), shared by every fused kernel.

NumPy is always the reference path. A compiled kernel is used only when

* numba imports (it is never imported by ``import deepdive``, only at a kernel's first use),
* the environment variable ``DEEPDIVE_NUMBA`` is not ``0``, and
* the kernel's own first-use self-check, when it has one, agrees with the NumPy path.

Anything else -- numba missing, a compile error, a failed self-check -- leaves that kernel unused,
silently, and the NumPy path runs: the numbers a user gets never depend on whether the extra is installed
beyond what the kernel's docstring states (most kernels are bit-identical; a few agree to rounding).

Usage, in an op's module::

    def _build():                      # runs once, at first use; imports numba inside
        import numba
        @numba.njit(cache=True, nogil=True)
        def kernel(x, out): ...
        return kernel

    _kernel = _fast.Kernel("gelu_forward", _build, check=_self_check)
    k = _kernel.get()                  # the compiled function, or None: then run the NumPy code
"""
import os


def enabled():
    """Whether compiled kernels may be used at all (``DEEPDIVE_NUMBA=0`` turns them off; read every call)."""
    return os.environ.get("DEEPDIVE_NUMBA", "1") != "0"


class Kernel:
    """A lazily built compiled kernel: ``get()`` returns it, or None when it is unavailable here."""

    def __init__(self, name, build, check=None):
        self.name, self._build, self._check = name, build, check
        self._compiled = None          # None: not tried yet; False: unavailable or failed its check

    def get(self):
        if not enabled():
            return None
        if self._compiled is None:
            self._compiled = False
            try:
                compiled = self._build()
                if self._check is None or self._check(compiled):
                    self._compiled = compiled
            except Exception:          # numba missing or unusable here: the NumPy path is always there
                self._compiled = False
        return self._compiled or None
