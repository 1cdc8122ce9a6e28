"""The overfitting monitor: says, in plain words, when a model starts to overfit — and only then.

Overfitting shows as a widening gap: training loss keeps falling while
validation loss turns and rises. Loss curves are noisy, though (mini-batches,
Adam's steps, dropout), and a long run always has a few epochs in a row where
validation loss ticks up by chance. So the verdict asks for all of:

1. a meaningful rise: the validation loss, smoothed over ``window`` epochs (a
   trailing mean), stays above its best smoothed value by more than
   ``max(min_rise * best, noise_factor * noise, min_delta)`` (5% and twice the
   noise by default) — ``noise`` being the median size of the validation
   loss's second differences so far, its wiggle without the trend (about 1.6
   standard deviations of the epoch-to-epoch noise);
2. sustained: for ``patience`` epochs in a row (default 5);
3. a real generalisation gap: the (smoothed) validation loss exceeds the
   training loss by more than ``min_gap`` of itself, and the training loss is
   below where it was at the best epoch (still learning the training set);
4. not undone: an alarm is withdrawn when the validation loss later comes back
   to its old best (that was a fluctuation, not overfitting).

The monitor (on by default in ``fit`` when validation data is given) updates
the verdict after every epoch and prints it once, at the end of training
(rule 4 needs the whole run):

    The model started to overfit at epoch 14: validation loss rose by 20% from 0.491 (best, epoch 13) to 0.588
    by epoch 27 while training loss kept falling (0.412 -> 0.301). Try: dropout (layers.Dropout /
    nn.Dropout), weight decay or an L2 kernel_regularizer, EarlyStopping(restore_best_weights=True), or more
    training data.

The advice names only what the model does not use yet (its Dropout layers,
L1/L2 regularizers or the optimizer's ``weight_decay``, an ``EarlyStopping``
callback). The verdict lands in ``history.overfitting`` as a dict; epochs in it
are numbered from 1, as the progress bar and the message print them:

    detected        bool
    start_epoch     the first epoch of the sustained rise (1-based), or None
    best_epoch      the epoch with the lowest validation loss (1-based)
    best_val_loss   that loss
    message         the sentence above, or None
    gap             per epoch, val_loss - loss (the generalisation gap)

``detect_overfitting(train_losses, val_losses)`` applies the same rule to any
two loss sequences.
"""
import numpy as np

from .callbacks import Callback, EarlyStopping

__all__ = ["OverfittingMonitor", "detect_overfitting", "regularization_in_use", "advice", "ADVICE"]

ADVICE = ("Try: dropout (layers.Dropout / nn.Dropout), weight decay or an L2 kernel_regularizer, "
          "EarlyStopping(restore_best_weights=True), or more training data.")

_REMEDIES = {"dropout": "dropout (layers.Dropout / nn.Dropout)",
             "weight_decay": "weight decay or an L2 kernel_regularizer",
             "early_stopping": "EarlyStopping(restore_best_weights=True)"}
_NAMES = {"dropout": "dropout", "weight_decay": "weight decay / L2", "early_stopping": "EarlyStopping"}


def advice(uses=()):
    """What to try against overfitting, leaving out what the model already uses
    (``uses``: a set of 'dropout', 'weight_decay', 'early_stopping')."""
    missing = [text for key, text in _REMEDIES.items() if key not in uses]
    if not missing:
        return ("It already uses dropout, weight decay / L2 and EarlyStopping: try stronger settings of them "
                "(a higher dropout rate or weight decay), a smaller model, data augmentation, or more training data.")
    already = [name for key, name in _NAMES.items() if key in uses]
    lead = f"It already uses {' and '.join(already)}; also try: " if already else "Try: "
    return lead + ", ".join(missing) + ", or more training data."


def regularization_in_use(model=None, optimizer=None, callbacks=()):
    """The set of regularisers a training run already has: 'dropout' (a Dropout module in ``model``),
    'weight_decay' (an L1/L2 regularizer on a Keras layer, or ``weight_decay`` > 0 in an optimizer group),
    'early_stopping' (an ``EarlyStopping`` among ``callbacks``)."""
    uses = set()
    if model is not None:
        for module in model.modules():
            if "Dropout" in type(module).__name__ and float(getattr(module, "p", getattr(module, "rate", 0)) or 0) > 0:
                uses.add("dropout")
            if any(reg is not None for _, reg in getattr(module, "_regularizers", ())) or any(
                    getattr(module, f"{w}_regularizer", None) is not None for w in ("kernel", "recurrent", "bias")):
                uses.add("weight_decay")         # (before build, only the layer's arguments say so)
    if optimizer is not None and any(float(g.get("weight_decay", 0) or 0) > 0 for g in optimizer.param_groups):
        uses.add("weight_decay")
    if any(isinstance(cb, EarlyStopping) for cb in callbacks):
        uses.add("early_stopping")
    return uses


def _trailing_mean(values, window):
    sums = np.cumsum(np.concatenate([[0.0], values]))
    t = np.arange(1, len(values) + 1)
    lo = np.maximum(t - window, 0)
    return (sums[t] - sums[lo]) / (t - lo)


def detect_overfitting(train_losses, val_losses, patience=5, min_delta=0.0, epoch_offset=0, *, min_rise=0.05,
                       min_gap=0.1, window=5, noise_factor=2.0, uses=()):
    """The verdict (see the module docstring) for two per-epoch loss sequences.

    Args:
        patience: epochs in a row the smoothed validation loss must stay clearly above its best (5).
        min_delta: smallest absolute rise that counts (0).  min_rise: smallest rise relative to the best (0.05).
        min_gap: smallest generalisation gap, (val - train) / val (0.1).
        window: epochs in the trailing mean that smooths both curves (5).
        noise_factor: the rise must also exceed this many times the noise (2; see the module docstring).
        epoch_offset: added to the epochs reported (fit's ``initial_epoch``).
        uses: what the model already uses (see ``regularization_in_use``), to fit the advice.
    """
    train, val = np.asarray(train_losses, np.float64), np.asarray(val_losses, np.float64)
    if len(train) != len(val):
        raise ValueError(f"detect_overfitting: {len(train)} training losses but {len(val)} validation losses")
    if patience < 1 or window < 1:
        raise ValueError(f"detect_overfitting: patience and window must be >= 1, got {patience} and {window}")
    verdict = {"detected": False, "start_epoch": None, "best_epoch": None, "best_val_loss": None, "message": None,
               "gap": [float(v - t) for t, v in zip(train, val)]}
    finite = np.isfinite(val) & np.isfinite(train)
    if finite.any():
        best = int(np.argmin(np.where(finite, val, np.inf)))
        verdict["best_epoch"], verdict["best_val_loss"] = best + 1 + epoch_offset, float(val[best])
    if not finite.all():
        return verdict                  # a diverged run is not an overfitting one (fit warns about it)
    smooth_val, smooth_train = _trailing_mean(val, window), _trailing_mean(train, window)
    wiggle = np.abs(np.diff(val, 2))         # second differences: the noise, without the trend
    found, b = None, 0                  # b: the epoch of the best smoothed validation loss so far
    for t in range(len(val)):
        if smooth_val[t] < smooth_val[b]:
            b = t
        if found is not None:
            if smooth_val[t] <= found[1]:       # came back to the old best: that was a fluctuation
                found = None
            continue
        if t - b < patience or smooth_train[t] >= smooth_train[b] or \
                smooth_val[t] - smooth_train[t] <= min_gap * smooth_val[t]:
            continue
        noise = float(np.median(wiggle[:t - 1])) if t >= 2 else 0.0
        margin = max(min_rise * smooth_val[b], noise_factor * noise, min_delta)
        if np.all(smooth_val[t - patience + 1:t + 1] > smooth_val[b] + margin):
            found = (b, smooth_val[b], t)
    if found is None:
        return verdict
    b, _, t = found
    t = len(val) - 1                    # report where the run ended up
    start = b + 1                       # the first epoch after the best smoothed one (0-based)
    low = max(b - window + 1, 0)
    best = low + int(np.argmin(val[low:start]))     # the best raw epoch in that smoothing window
    verdict.update(detected=True, start_epoch=start + 1 + epoch_offset)
    verdict["message"] = (
        f"The model started to overfit at epoch {start + 1 + epoch_offset}: validation loss rose by "
        f"{val[t] / val[best] - 1:.0%} from {val[best]:.4g} (best, epoch {best + 1 + epoch_offset}) to {val[t]:.4g} "
        f"by epoch {t + 1 + epoch_offset} "
        f"while training loss kept falling ({train[best]:.4g} -> {train[t]:.4g}). {advice(uses)}")
    return verdict


class OverfittingMonitor(Callback):
    """Watches 'loss' and 'val_loss' each epoch; keeps the verdict in ``history.overfitting`` and prints it
    once at the end of training (unless ``verbose=0``). ``gaps`` is the per-epoch val_loss - loss.
    ``callbacks``: the run's other callbacks (so the advice knows about EarlyStopping)."""

    def __init__(self, history=None, patience=5, min_delta=0.0, verbose=1, callbacks=()):
        super().__init__()
        self.history, self.patience, self.min_delta, self.verbose = history, patience, min_delta, verbose
        self.callbacks = list(callbacks)
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
        uses = regularization_in_use(self.model, self.optimizer, self.callbacks)
        self.verdict = detect_overfitting(self.train_losses, self.val_losses, self.patience, self.min_delta,
                                          epoch_offset=self._first_epoch, uses=uses)
        if self.history is not None:
            self.history.overfitting = self.verdict

    def on_train_end(self, logs=None):
        if self.verbose and self.verdict is not None and self.verdict["detected"]:
            print(self.verdict["message"])
