"""``torch.backends.mkldnn``: deepdive does not use oneDNN (NumPy's BLAS does the matrix products)."""

enabled = True


def is_available():
    """False: deepdive has no oneDNN kernels (PyTorch's x86 builds would say True)."""
    return False
