"""Live training curves in Jupyter: one figure that redraws itself after every epoch.

In a notebook, ``fit`` (``Model.fit`` and ``training.fit``) adds ``LiveCurves`` by itself when it shows
progress (``verbose`` > 0): the first epoch displays the curves with ``display(..., display_id=True)`` and each
later epoch replaces that same output with ``handle.update(...)``, so a 50-epoch run leaves one figure, not 50
(what users install livelossplot for). The figure is ``viz.plot_history`` (training and validation curves, the
best epoch, the overfitting region) with the overfitting monitor's verdict under it once it fires.

Outside Jupyter nothing is added. Set ``DEEPDIVE_LIVE_PLOT=0`` to turn it off in a notebook too. Without
matplotlib the live output is the per-epoch table.
"""
import os

from .callbacks import Callback

__all__ = ["LiveCurves", "in_notebook", "notebook_callbacks"]


def in_notebook():
    """True inside a Jupyter kernel (IPython's ZMQ shell), not in a terminal IPython or plain Python."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def notebook_callbacks(history, verbose):
    """[LiveCurves(history)] when fit runs in a notebook with progress shown; [] otherwise."""
    if not verbose or os.environ.get("DEEPDIVE_LIVE_PLOT", "1") == "0" or not in_notebook():
        return []
    return [LiveCurves(history)]


class LiveCurves(Callback):
    """Draws ``history`` after each epoch into one display output that it updates in place.

    State: ``handle`` (IPython's DisplayHandle, None before the first epoch) and ``updates`` (how many times
    the figure was redrawn in place after it was first shown).
    """

    def __init__(self, history):
        super().__init__()
        self.history, self.handle, self.updates = history, None, 0

    def on_train_begin(self, logs=None):
        self.handle, self.updates = None, 0

    def _content(self):
        from IPython.display import HTML
        from ..viz.jupyter import history_html
        return HTML(history_html(self.history))       # the curves as a PNG, the verdict, the table

    def on_epoch_end(self, epoch, logs=None):
        from IPython.display import display
        content = self._content()
        if self.handle is None:
            self.handle = display(content, display_id=True)
        else:
            self.handle.update(content)
            self.updates += 1
