"""Allocator tuning for NumPy-heavy training loops (glibc on Linux).

A training step allocates and frees the same multi-megabyte temporaries every
step (activations, im2col columns, gradients). By default glibc serves blocks
over 32 MiB-ish with mmap and returns freed memory to the OS, so each step
page-faults its memory in again, which can cost more than the arithmetic
(measured here: a LeNet-5 step took 60% more CPU time). Raising the mmap and
trim thresholds keeps freed memory for reuse: the same remedy as the
jemalloc/tcmalloc that PyTorch's CPU performance guide recommends.

Applied once at ``import deepdive`` (process-wide); set ``DEEPDIVE_MALLOC_TUNING=0``
to leave the allocator alone.
"""
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
TUNED = False


def tune():
    global TUNED
    if TUNED or os.environ.get("DEEPDIVE_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return TUNED
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        TUNED = bool(libc.mallopt(M_MMAP_THRESHOLD, 256 << 20) and libc.mallopt(M_TRIM_THRESHOLD, 1 << 30))
    except (OSError, AttributeError):       # not glibc (musl, macOS ...): nothing to tune
        TUNED = False
    return TUNED
