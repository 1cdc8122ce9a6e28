"""The overfitting monitor: says, in plain words, when a model starts to overfit.

Overfitting shows as a widening gap: training loss keeps falling while
validation loss turns and rises. The monitor (on by default in ``fit`` when
validation data is given) watches both after every epoch and reports once,
when the validation loss has risen for ``patience`` (default 3) consecutive
epochs while the training loss fell over the same stretch:

    The model started to overfit at epoch 7: validation loss has risen for 3 epochs in a row
    (0.412 -> 0.530) while training loss kept falling (0.205 -> 0.101). Epoch 6 was best
    (val_loss 0.412). Try: dropout (layers.Dropout / nn.Dropout), weight decay or an L2
    kernel_regularizer, EarlyStopping(restore_best_weights=True), or more training data.

The verdict lands in ``history.overfitting`` as a dict:

    detected        bool
    start_epoch     the first epoch whose validation loss rose (0-based, like ``history.epoch``), or None
    best_epoch      the epoch with the lowest validation loss so far (0-based)
    best_val_loss   that loss
    message         the sentence above (epochs written 1-based, as the progress bar prints them), or None
    gap             per epoch, val_loss - loss (the generalisation gap)

``detect_overfitting(train_losses, val_losses)`` applies the same rule to any
two loss sequences.
"""
import math

from .callbacks import Callback

__all__ = ["OverfittingMonitor", "detect_overfitting", "ADVICE"]

ADVICE = ("Try: dropout (layers.Dropout / nn.Dropout), weight decay or an L2 kernel_regularizer, "
          "EarlyStopping(restore_best_weights=True), or more training data.")


def detect_overfitting(train_losses, val_losses, patience=3, min_delta=0.0, epoch_offset=0):
    """The verdict (see the module docstring) for two per-epoch loss sequences.

    A rise is val[t] > val[t-1] + min_delta. Overfitting is ``patience`` rises in a row ending at epoch t
    with train[t] < train[start - 1] (the training loss fell across the stretch). Returns the first such
    stretch. ``epoch_offset`` is added to the epochs reported (fit's ``initial_epoch``).
    """
    train, val = [float(x) for x in train_losses], [float(x) for x in val_losses]
    if len(train) != len(val):
        raise ValueError(f"detect_overfitting: {len(train)} training losses but {len(val)} validation losses")
    if patience < 1:
        raise ValueError(f"detect_overfitting: patience must be >= 1, got {patience}")
    verdict = {"detected": False, "start_epoch": None, "best_epoch": None, "best_val_loss": None, "message": None,
               "gap": [v - t for t, v in zip(train, val)]}
    streak = 0
    for t in range(len(val)):
        finite = math.isfinite(val[t])
        if finite and (verdict["best_val_loss"] is None or val[t] < verdict["best_val_loss"]):
            verdict["best_epoch"], verdict["best_val_loss"] = t + epoch_offset, val[t]
        if t == 0:
            continue
        streak = streak + 1 if finite and val[t] > val[t - 1] + min_delta else 0
        if streak >= patience:
            start = t - patience + 1
            if train[t] < train[start - 1]:
                verdict.update(detected=True, start_epoch=start + epoch_offset)
                verdict["message"] = (
                    f"The model started to overfit at epoch {start + epoch_offset + 1}: validation loss has risen "
                    f"for {patience} epochs in a row ({val[start - 1]:.4g} -> {val[t]:.4g}) while training loss "
                    f"kept falling ({train[start - 1]:.4g} -> {train[t]:.4g}). Epoch {verdict['best_epoch'] + 1} "
                    f"was best (val_loss {verdict['best_val_loss']:.4g}). {ADVICE}")
                return verdict
    return verdict


class OverfittingMonitor(Callback):
    """Watches 'loss' and 'val_loss' each epoch; prints the verdict once (unless ``verbose=0``) and keeps it in
    ``history.overfitting``. ``gaps`` is the per-epoch val_loss - loss."""

    def __init__(self, history=None, patience=3, min_delta=0.0, verbose=1):
        super().__init__()
        self.history, self.patience, self.min_delta, self.verbose = history, patience, min_delta, verbose
        self.train_losses, self.val_losses, self.verdict = [], [], None
        self._first_epoch = None

    @property
    def gaps(self):
        return [v - t for t, v in zip(self.train_losses, self.val_losses)]

    def on_train_begin(self, logs=None):
        self.train_losses, self.val_losses, self.verdict, self._first_epoch = [], [], None, None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if "loss" not in logs or "val_loss" not in logs:
            return
        if self._first_epoch is None:
            self._first_epoch = epoch
        self.train_losses.append(logs["loss"])
        self.val_losses.append(logs["val_loss"])
        already = self.verdict is not None and self.verdict["detected"]
        if already:
            self.verdict["gap"] = self.gaps
        else:
            self.verdict = detect_overfitting(self.train_losses, self.val_losses, self.patience, self.min_delta,
                                              epoch_offset=self._first_epoch)
            if self.verdict["detected"] and self.verbose:
                print(self.verdict["message"])
        if self.history is not None:
            self.history.overfitting = self.verdict
