"""``torch.backends.cudnn``: there is no cuDNN here; the flags keep PyTorch's (CPU build) defaults."""

enabled = True          # PyTorch's default, even in its CPU build
benchmark = False
deterministic = False
allow_tf32 = True
benchmark_limit = 10


def is_available():
    """False: deepdive has no GPU and no cuDNN."""
    return False


def version():
    """None, as in a PyTorch build without cuDNN."""
    return None
