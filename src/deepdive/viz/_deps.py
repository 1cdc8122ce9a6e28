"""Optional dependencies of deepdive.viz, imported only when a plot is asked for."""
from .._optional import missing_extra


def pyplot():
    """matplotlib.pyplot with the non-interactive Agg backend, or a clear error naming the extra."""
    try:
        import matplotlib
    except ImportError:
        raise missing_extra("this plot", "viz", "matplotlib") from None
    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        try:
            matplotlib.use("Agg")
        except Exception:           # a backend already in use (e.g. in Jupyter) is fine
            pass
    import matplotlib.pyplot as plt
    return plt


def save_or_return(fig, path):
    """Write ``fig`` to ``path`` (PNG/SVG/PDF by extension) and close it; without a path return it."""
    if path is None:
        return fig
    import os
    path = os.fspath(path)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    return path
