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
    """Write ``fig`` to ``path`` (PNG/SVG/PDF by extension) and close it; without a path return it.

    NOTE: the returned figure is closed in pyplot too. Jupyter's inline backend shows every open figure at
    the end of a cell *and* displays the cell's returned value, so an open figure was drawn twice; a closed
    figure still renders as the cell's result (and ``fig.savefig`` still works).
    """
    import matplotlib.pyplot as plt
    if path is None:
        plt.close(fig)
        return fig
    import os
    path = os.fspath(path)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
