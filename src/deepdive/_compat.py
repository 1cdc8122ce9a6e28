"""Names PyTorch scripts use in their headers, so those scripts run unchanged on the CPU.

The legacy ``FloatTensor``-style constructors
(also usable with ``isinstance``), memory-format sentinels, ``set_printoptions``
and ``set_num_threads`` (which really sets the threads of NumPy's bundled
OpenBLAS when it can find it).
"""
import ctypes
import glob
import os

import numpy as np

from . import _dtype
from .tensor import Tensor

__all__ = ["FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor",
           "CharTensor", "ByteTensor", "BoolTensor", "channels_last", "contiguous_format", "preserve_format",
           "set_printoptions", "set_num_threads", "get_num_threads", "set_num_interop_threads",
           "get_num_interop_threads", "use_deterministic_algorithms", "are_deterministic_algorithms_enabled"]

class _LegacyTensorType(type):
    """``deepdive.FloatTensor([1, 2])`` builds a float32 tensor; ``isinstance(t, FloatTensor)`` checks the dtype."""

    def __call__(cls, *args, **kwargs):
        return Tensor(*args, dtype=cls.dtype, **kwargs)

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype is cls.dtype


def _legacy(name, dtype):
    return _LegacyTensorType(name, (), {"dtype": dtype, "__doc__": f"Legacy constructor for {dtype} tensors."})


FloatTensor = _legacy("FloatTensor", _dtype.float32)
DoubleTensor = _legacy("DoubleTensor", _dtype.float64)
HalfTensor = _legacy("HalfTensor", _dtype.float16)
LongTensor = _legacy("LongTensor", _dtype.int64)
IntTensor = _legacy("IntTensor", _dtype.int32)
ShortTensor = _legacy("ShortTensor", _dtype.int16)
CharTensor = _legacy("CharTensor", _dtype.int8)
ByteTensor = _legacy("ByteTensor", _dtype.uint8)
BoolTensor = _legacy("BoolTensor", _dtype.bool_)


class _MemoryFormat:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"deepdive.{self.name}"


# NumPy arrays here are always row-major; the formats are accepted and change nothing.
channels_last = _MemoryFormat("channels_last")
contiguous_format = _MemoryFormat("contiguous_format")
preserve_format = _MemoryFormat("preserve_format")

def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    """Like ``torch.set_printoptions``: digits after the point, summarising threshold, edge items, line width,
    ``sci_mode`` (True/False forces scientific notation on/off; None decides per tensor)."""
    from . import _format
    profiles = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80), "full": (4, float("inf"), 3, 80)}
    if profile is not None:
        _format.PRECISION, _format.THRESHOLD, _format.EDGEITEMS, _format.LINEWIDTH = profiles[profile]
    if precision is not None:
        _format.PRECISION = int(precision)
    if threshold is not None:
        _format.THRESHOLD = threshold
    if edgeitems is not None:
        _format.EDGEITEMS = int(edgeitems)
    if linewidth is not None:
        _format.LINEWIDTH = int(linewidth)
    _format.SCI_MODE = sci_mode


def _openblas():
    """NumPy's bundled OpenBLAS (wheels ship it as numpy.libs/libscipy_openblas64_*.so), or None."""
    folder = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in glob.glob(os.path.join(folder, "libscipy_openblas*")) + glob.glob(os.path.join(folder, "libopenblas*")):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                setter = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                getter = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                if setter is not None and getter is not None:
                    return setter, getter
    return None


_BLAS = None
_threads = [None]


def set_num_threads(n):
    """Threads for matrix products: sets NumPy's bundled OpenBLAS when found (else only recorded)."""
    global _BLAS
    n = int(n)
    if n < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {n}")
    if _BLAS is None:
        _BLAS = _openblas() or False
    if _BLAS:
        _BLAS[0](ctypes.c_int(n))
    _threads[0] = n


def get_num_threads():
    global _BLAS
    if _BLAS is None:
        _BLAS = _openblas() or False
    if _BLAS:
        return int(_BLAS[1]())
    return _threads[0] or os.cpu_count() or 1


def set_num_interop_threads(n):
    pass


def get_num_interop_threads():
    return 1


_deterministic = [False]


def use_deterministic_algorithms(mode, *, warn_only=False):
    """deepdive's ops are deterministic already; the flag is recorded for scripts that read it back."""
    _deterministic[0] = bool(mode)


def are_deterministic_algorithms_enabled():
    return _deterministic[0]
