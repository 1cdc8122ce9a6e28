"""``deepdive.backends`` (``torch.backends``): the flags scripts set in their headers.

``import torch.backends.cudnn as cudnn; cudnn.benchmark = True`` is the first
line of many training scripts. deepdive computes with NumPy on the CPU, so
there is no cuDNN, MPS, CUDA or oneDNN behind these modules: every
``is_available()`` is False, and the flags are plain attributes that scripts
may set and read back; setting them changes nothing in deepdive's numbers.
"""
from . import cudnn, cuda, mps, mkldnn, openmp  # noqa: F401

__all__ = ["cudnn", "cuda", "mps", "mkldnn", "openmp"]
