"""scipy.sparse, the optional kernel library behind sparse-dense products (the [sparse] extra)."""


def scipy_sparse():
    """The scipy.sparse module, or a clear error naming the extra."""
    try:
        import scipy.sparse
    except ImportError:
        raise ImportError("sparse matrix products need scipy, which is optional: install deepdive[sparse] "
                          "(pip install -e \".[sparse]\" in a checkout, or pip install scipy)") from None
    return scipy.sparse
