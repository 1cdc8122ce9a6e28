"""``History``: what ``fit`` returns — every epoch's logs, as Keras keeps them.

    history.history   {'loss': [...], 'accuracy': [...], 'val_loss': [...], 'val_accuracy': [...], 'lr': [...]}
    history.epoch     the epoch indices run (0-based; ``initial_epoch`` shifts them)
    history.params    {'epochs': ..., 'steps': ..., 'verbose': ...}
    history.overfitting  the overfitting monitor's verdict (a dict; see ``monitor.py``), or None
                         when it did not run (no validation data, or turned off)
"""
from .callbacks import Callback

__all__ = ["History"]


class History(Callback):
    """Records each epoch's logs in ``history`` (a dict of lists)."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []
        self.overfitting = None

    def on_train_begin(self, logs=None):
        self.epoch = []
        self.history = {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def _repr_html_(self):              # Jupyter: curves, verdict and the per-epoch table
        from ..viz.jupyter import history_html
        return history_html(self)

    def __repr__(self):
        keys = ", ".join(self.history)
        return f"<History: {len(self.epoch)} epochs; {keys}>"
