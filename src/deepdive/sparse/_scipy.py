"""scipy.sparse, the optional kernel library behind sparse-dense products (the [sparse] extra)."""
from .._optional import missing_extra


def scipy_sparse():
    """The scipy.sparse module, or a clear error naming the extra."""
    try:
        import scipy.sparse
    except ImportError:
        raise missing_extra("a sparse matrix product", "sparse", "scipy") from None
    return scipy.sparse
