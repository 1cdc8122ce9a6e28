"""``deepdive.version`` (``torch.version``): deepdive's version; no CUDA, no ROCm, no git hash."""
__version__ = "0.1.0"
cuda = None
hip = None
xpu = None
debug = False
git_version = "unknown"
