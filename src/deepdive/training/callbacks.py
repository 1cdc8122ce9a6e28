"""Callbacks: code that runs at fixed points of the training loop, with explicit hooks.

    on_train_begin(logs)              on_train_end(logs)
    on_epoch_begin(epoch, logs)       on_epoch_end(epoch, logs)      logs: 'loss', metrics, 'val_*', 'lr'
    on_train_batch_begin(batch, logs) on_train_batch_end(batch, logs) logs: running 'loss' and metrics
    on_test_begin / on_test_end(logs), on_predict_begin / on_predict_end(logs)

Every callback sees ``self.model`` (the module being trained), ``self.params``
(epochs, steps) and ``self.trainer`` (``self.optimizer`` is the trainer's
optimizer). Setting ``self.model.stop_training = True`` ends training after the
current batch. Epochs are 0-based in the hooks, as in Keras; everything a user reads numbers them from 1
(the progress bar, messages, CSVLogger's file, the overfitting verdict).

Learning-rate callbacks change ``lr`` in every ``optimizer.param_groups``.
"""
import math
import os

import numpy as np

__all__ = ["Callback", "CallbackList", "History", "EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau",
           "LearningRateScheduler", "CSVLogger", "TerminateOnNaN", "LambdaCallback", "get_lr", "set_lr"]

HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
         "on_train_batch_end", "on_test_begin", "on_test_end", "on_predict_begin", "on_predict_end")


def get_lr(optimizer):
    """The learning rate of the first parameter group."""
    lr = optimizer.param_groups[0]["lr"]
    return float(lr._data if hasattr(lr, "_data") else lr)


def set_lr(optimizer, lr):
    """Set ``lr`` in every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = float(lr)


def model_state(model):
    """Copies of every parameter and buffer array, by name (what EarlyStopping keeps)."""
    state = {name: p._data.copy() for name, p in model.named_parameters()}
    state.update({name: b._data.copy() for name, b in model.named_buffers() if b is not None})
    return state


def load_model_state(model, state):
    """Write ``state`` (from ``model_state``) back into the model's own arrays, in place, so optimizers
    holding the parameters keep working."""
    tensors = dict(model.named_parameters())
    tensors.update({name: b for name, b in model.named_buffers() if b is not None})
    for name, array in state.items():
        tensors[name]._data[...] = array
        tensors[name]._version_counter[0] += 1


class Callback:
    """Base class: override the hooks you need (the engine skips hooks left as they are)."""

    def __init__(self):
        self.model = None
        self.params = {}
        self.trainer = None

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def set_trainer(self, trainer):
        self.trainer = trainer

    @property
    def optimizer(self):
        return None if self.trainer is None else self.trainer.optimizer

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): pass
    def on_train_batch_end(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass


class CallbackList:
    """Dispatches each hook to the callbacks that override it (so empty hooks cost nothing per batch)."""

    def __init__(self, callbacks, model=None, params=None, trainer=None):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if model is not None:
                cb.set_model(model)
            if params is not None:
                cb.set_params(params)
            if trainer is not None and hasattr(cb, "set_trainer"):
                cb.set_trainer(trainer)
        for hook in HOOKS:
            active = [getattr(cb, hook) for cb in self.callbacks
                      if getattr(getattr(cb, hook), "__func__", None) is not getattr(Callback, hook)]
            setattr(self, hook, self._dispatcher(active))
            setattr(self, f"active_{hook}", bool(active))

    @staticmethod
    def _dispatcher(functions):
        if not functions:
            return lambda *args, **kwargs: None

        def call(*args, **kwargs):
            for fn in functions:
                fn(*args, **kwargs)
        return call


def _monitor_op(mode, monitor, cls):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{cls}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        mode = "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"
    return mode


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    Improvement (mode 'min'): current < best - min_delta ('max': current > best + min_delta; 'auto' picks
    'max' for accuracies). With ``restore_best_weights=True`` the weights of the best epoch are copied back
    when training is stopped (as Keras: not when it simply runs out of epochs).

    Readable state: ``wait`` (epochs since the last improvement), ``best``, ``best_epoch`` (0-based),
    ``best_weights`` (name -> array, kept only with restore_best_weights), ``stopped_epoch``.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor, self.patience, self.verbose = monitor, int(patience), verbose
        self.mode = _monitor_op(mode, monitor, "EarlyStopping")
        self.min_delta = abs(min_delta)
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        self.start_from_epoch = start_from_epoch
        self._reset()

    def _reset(self):
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights = None

    def _is_improvement(self, current, reference):
        if self.mode == "min":
            return current < reference - self.min_delta
        return current > reference + self.min_delta

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            raise KeyError(f"EarlyStopping: monitored quantity {self.monitor!r} is not in the logs (available: "
                           f"{', '.join(sorted(logs or {}))}); pass validation data for val_* quantities")
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = model_state(self.model)     # so something can be restored even without improvement
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = float(current), epoch
            if self.restore_best_weights:
                self.best_weights = model_state(self.model)
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                if self.verbose:
                    print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
                load_model_state(self.model, self.best_weights)

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")


class ModelCheckpoint(Callback):
    """Save the model's ``state_dict`` with ``deepdive.save`` (safetensors, atomic) at each epoch end.

    ``filepath`` may contain ``{epoch}`` (1-based, as printed) and any log key with a format spec, e.g.
    ``'ckpt-{epoch:02d}-{val_loss:.3f}.safetensors'``. With ``save_best_only=True`` a file is written only
    when ``monitor`` improves on the best so far. ``saved`` lists the (epoch, path) pairs written.
    Load with ``model.load_state_dict(deepdive.load(path))``.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, mode="auto",
                 save_weights_only=True, initial_value_threshold=None):
        super().__init__()
        self.filepath, self.monitor, self.verbose = os.fspath(filepath), monitor, verbose
        self.save_best_only = save_best_only
        self.mode = _monitor_op(mode, monitor, "ModelCheckpoint")
        self.initial_value_threshold = initial_value_threshold
        self.best = initial_value_threshold if initial_value_threshold is not None else \
            (math.inf if self.mode == "min" else -math.inf)
        self.saved = []

    def _improved(self, current):
        return current < self.best if self.mode == "min" else current > self.best

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                raise KeyError(f"ModelCheckpoint: monitored quantity {self.monitor!r} is not in the logs "
                               f"(available: {', '.join(sorted(logs))})")
            if not self._improved(current):
                if self.verbose:
                    print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose:
                print(f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to {current:.5f}")
            self.best = float(current)
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as missing:
            raise KeyError(f"ModelCheckpoint: filepath {self.filepath!r} uses {missing}, which is not in the logs "
                           f"(available: epoch, {', '.join(sorted(logs))})") from None
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        from ..serialization import save
        save(self.model.state_dict(), path)
        self.saved.append((epoch, path))
        if self.verbose and not self.save_best_only:
            print(f"Epoch {epoch + 1}: saving model to {path}")


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved for ``patience`` epochs.

    Improvement ('min'): current < best - min_delta. After a reduction, ``cooldown`` epochs pass before
    counting again; the rate never goes below ``min_lr``. State: ``wait``, ``best``, ``cooldown_counter``.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        super().__init__()
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1, got {factor}")
        self.monitor, self.factor, self.patience, self.verbose = monitor, float(factor), int(patience), verbose
        self.mode = _monitor_op(mode, monitor, "ReduceLROnPlateau")
        self.min_delta, self.cooldown, self.min_lr = min_delta, cooldown, float(min_lr)
        self._reset()

    def _reset(self):
        self.wait, self.cooldown_counter = 0, 0
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            raise KeyError(f"ReduceLROnPlateau: monitored quantity {self.monitor!r} is not in the logs "
                           f"(available: {', '.join(sorted(logs or {}))})")
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        improved = current < self.best - self.min_delta if self.mode == "min" else current > self.best + self.min_delta
        if improved:
            self.best, self.wait = float(current), 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = get_lr(self.optimizer)
                if old_lr > self.min_lr:
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    set_lr(self.optimizer, new_lr)
                    if self.verbose:
                        print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr:.4g}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0


class LearningRateScheduler(Callback):
    """At each epoch's start set lr = ``schedule(epoch, lr)`` (epoch 0-based, lr the current rate;
    a one-argument ``schedule(epoch)`` works too)."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule, self.verbose = schedule, verbose
        import inspect
        try:                            # Keras 2 also accepted schedule(epoch)
            self._one_arg = len(inspect.signature(schedule).parameters) == 1
        except (TypeError, ValueError):
            self._one_arg = False

    def on_epoch_begin(self, epoch, logs=None):
        lr = self.schedule(epoch) if self._one_arg else self.schedule(epoch, get_lr(self.optimizer))
        if not isinstance(lr, (float, int, np.floating, np.integer)):
            raise ValueError(f"LearningRateScheduler: schedule must return a number, got {type(lr).__name__}")
        set_lr(self.optimizer, float(lr))
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(lr):.4g}.")


class CSVLogger(Callback):
    """Append one row per epoch (``epoch``, numbered from 1 as printed, then the log keys, sorted) to a CSV file."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.separator, self.append = os.fspath(filename), separator, append
        self.keys = None

    def on_train_begin(self, logs=None):
        import csv
        self._csv = csv
        self._header_written = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            self._writer = self._csv.DictWriter(self._file, fieldnames=["epoch"] + self.keys, delimiter=self.separator)
            if not self._header_written:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch + 1, **{k: logs.get(k, "NA") for k in self.keys}})
        self._file.flush()

    def on_train_end(self, logs=None):
        self._file.close()


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite.

    In ``fit`` the trainer sees this callback and checks the loss (and the gradients) BEFORE the optimizer
    step, so the update that would write NaN into the weights is never made (Keras checks after it). In a
    hand-written loop that calls ``on_train_batch_end`` it stops after the batch, as Keras does.
    """

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, **hooks):
        super().__init__()
        unknown = set(hooks) - set(HOOKS)
        if unknown:
            raise ValueError(f"LambdaCallback: unknown hook(s) {sorted(unknown)}; valid: {', '.join(HOOKS)}")
        for name, fn in hooks.items():
            if fn is not None:
                setattr(self, name, fn)


def __getattr__(name):
    # History lives in history.py (which imports Callback from here); expose it here too, lazily.
    if name == "History":
        from .history import History
        return History
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class TensorBoard(Callback):
    """Log the training run for TensorBoard (Keras's ``TensorBoard`` callback, on deepdive's SummaryWriter).

    As Keras lays the run out: ``<log_dir>/train`` gets ``epoch_loss``, ``epoch_<metric>`` and
    ``epoch_learning_rate`` at each epoch's end; ``<log_dir>/validation`` gets the ``val_*`` logs
    under the same tags, so both curves share a chart. With ``update_freq='batch'`` (or an int N,
    every N batches) the train run also gets ``batch_<name>`` at the global batch step. With
    ``histogram_freq=N`` the weights are logged as histograms every N epochs, by parameter name.

    Args:
        log_dir (str, default "logs"): the folder of the run.
        histogram_freq (int, default 0): epochs between weight histograms (0: none).
        write_graph (bool): accepted for Keras compatibility; no graph is written (deepdive records a
            graph from a forward pass, and the callback sees no input before training; call
            ``SummaryWriter.add_graph(model, x)`` for it).
        update_freq ('epoch', 'batch' or int, default 'epoch'): how often batch logs are written.
    Needs the tensorboard package (``pip install deepdive[tensorboard]``).
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, update_freq="epoch"):
        super().__init__()
        if update_freq != "epoch" and update_freq != "batch" and not (isinstance(update_freq, int) and update_freq > 0):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive int, got {update_freq!r}")
        self.log_dir, self.histogram_freq, self.write_graph = os.fspath(log_dir), histogram_freq, write_graph
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self.writers = {}          # 'train' / 'validation' -> SummaryWriter, opened at train begin
        self.global_batch = 0

    def _writer(self, run):
        if run not in self.writers:
            from ..utils.tensorboard import SummaryWriter
            self.writers[run] = SummaryWriter(os.path.join(self.log_dir, run))
        return self.writers[run]

    def on_train_begin(self, logs=None):
        self._writer("train")
        self.global_batch = 0

    def on_train_batch_end(self, batch, logs=None):
        self.global_batch += 1
        if self.update_freq != "epoch" and self.global_batch % self.update_freq == 0:
            for key, value in (logs or {}).items():
                if isinstance(value, (int, float, np.floating, np.integer)):
                    self._writer("train").add_scalar(f"batch_{key}", float(value), self.global_batch)

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            if not isinstance(value, (int, float, np.floating, np.integer)):
                continue
            run, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            name = "learning_rate" if name == "lr" else name
            self._writer(run).add_scalar(f"epoch_{name}", float(value), epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            for name, p in self.model.named_parameters():
                self._writer("train").add_histogram(name, p.detach(), epoch)
        for writer in self.writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self.writers.values():
            writer.close()
        self.writers = {}


__all__ += ["TensorBoard"]
