"""``torch.backends.openmp``: deepdive's own code runs no OpenMP loops."""


def is_available():
    return False
