"""The one training loop, for Keras-style models and plain PyTorch-style modules alike.

``Trainer(model, loss_fn, optimizer, metrics)`` runs, for every batch
``(inputs..., target)`` of the training data::

    optimizer.zero_grad()
    output = model(*inputs)
    loss = loss_fn(output, target) + sum(regularisation penalties of Keras layers)
    loss.backward()
    optimizer.step()

— exactly the loop one writes by hand in PyTorch, with callbacks at fixed
points (``callbacks.py``), running metrics, a validation pass per epoch
(``model.eval()`` and no grad), a progress display and the overfitting monitor.
``Model.fit`` calls it; so does the function form::

    history = deepdive.training.fit(model, train_loader, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), 0.1),
                                    epochs=5, val_loader=val_loader, metrics=['accuracy'],
                                    callbacks=[EarlyStopping(patience=2)])

Data: any re-iterable of batches (a ``DataLoader``, a list of tuples,
``ArrayBatches`` over in-memory arrays). A batch is ``(x, y)`` or
``(x1, ..., xk, y)``: everything but the last item goes to the model as
positional arguments. ``loss_fn(output, target)`` is PyTorch's argument order.

Logged numbers: an epoch's ``loss`` is the sample-weighted mean of its batch
losses (penalties included, as Keras reports), metrics likewise; ``val_*`` come
from ``evaluate`` on the validation data after the epoch; ``lr`` is the first
parameter group's learning rate during the epoch.

The optimizer may also be a factory ``f(parameters) -> Optimizer``: it is
called after the first forward pass, so layers that create their weights on
first call (``deepdive.layers``) are built before the optimizer sees them.
"""
import math
import warnings

import numpy as np

from ..autograd.grad_mode import no_grad
from ..random import get_generator
from ..tensor import Tensor, _wrap
from . import metrics as metrics_module
from .callbacks import CallbackList, TerminateOnNaN, get_lr
from .history import History
from .monitor import OverfittingMonitor
from .progress import ProgressBar, format_logs

__all__ = ["Trainer", "ArrayBatches", "fit", "evaluate", "predict"]


def _as_tensor(x):
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (list, tuple)) and x and all(isinstance(item, (Tensor, np.ndarray)) for item in x):
        return type(x)(_as_tensor(item) for item in x)          # several inputs
    array = np.asarray(x)
    if array.dtype == np.float64:
        array = array.astype(np.float32)        # NumPy's float64 default would leak into float32 models
    return _wrap(array)


def _length(x):
    if isinstance(x, (list, tuple)):
        return _length(x[0])
    return x.shape[0]


def _take(x, index):
    if isinstance(x, (list, tuple)):
        return type(x)(_take(item, index) for item in x)
    return _wrap(x._data[index])


class ArrayBatches:
    """Mini-batches ``(x, y)`` (or ``(x,)`` without y) over in-memory arrays/Tensors.

    ``shuffle=True`` draws a new order every epoch from deepdive's generator (``manual_seed`` reproduces it).
    ``x`` may be a list of arrays (a model with several inputs): its batch is passed as one list.
    """

    def __init__(self, x, y=None, batch_size=32, shuffle=False):
        self.x = _as_tensor(x)
        self.y = None if y is None else _as_tensor(y)
        self.n = _length(self.x)
        if self.y is not None and _length(self.y) != self.n:
            raise ValueError(f"x and y must have the same number of samples, got {self.n} inputs and "
                             f"{_length(self.y)} targets")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        self.batch_size, self.shuffle = int(batch_size), shuffle

    def __len__(self):
        return -(-self.n // self.batch_size)

    def __iter__(self):
        order = get_generator().permutation(self.n) if self.shuffle else None
        for start in range(0, self.n, self.batch_size):
            index = order[start:start + self.batch_size] if order is not None else slice(start, start + self.batch_size)
            x = _take(self.x, index)
            yield (x,) if self.y is None else (x, _take(self.y, index))


def _split(batch):
    """(inputs tuple, target) of a training batch."""
    if (batch.__class__ is tuple or batch.__class__ is list) and len(batch) == 2 and \
            batch[0].__class__ is Tensor and batch[1].__class__ is Tensor:                  # the common case
        return (batch[0],), batch[1]
    if isinstance(batch, (list, tuple)) and len(batch) >= 2:
        return tuple(_as_tensor(b) for b in batch[:-1]), _as_tensor(batch[-1])
    raise TypeError("each training batch must be a (inputs, target) pair or (x1, ..., xk, target); got "
                    f"{type(batch).__name__}{f' of length {len(batch)}' if isinstance(batch, (list, tuple)) else ''}")


def _inputs_only(batch):
    """The model inputs of a prediction batch: ``x``, ``(x,)`` or ``(x..., y)`` (the target dropped)."""
    if isinstance(batch, (list, tuple)):
        return tuple(_as_tensor(b) for b in (batch if len(batch) == 1 else batch[:-1]))
    return (_as_tensor(batch),)


def _finite(tensor):
    data = tensor._data
    return data.dtype.kind not in "fc" or bool(np.isfinite(data).all())


def _count(target):
    return int(target.shape[0]) if target.ndim else 1


def _detached(output):
    if isinstance(output, Tensor):
        return output._data
    return None


class Trainer:
    """Trains ``model`` with ``loss_fn(output, target)`` and ``optimizer`` (see the module docstring).

    Args:
        model: any ``nn.Module`` (Keras-style layers and models included).
        loss_fn: ``loss_fn(output, target) -> scalar Tensor`` (an nn loss module or function).
        optimizer: an ``Optimizer``, or a factory ``f(parameters) -> Optimizer`` called after the first forward.
        metrics: names ('accuracy', 'top_k_accuracy', 'mae' ...) or ``Metric`` objects.
        regularization: add the penalties of Keras layers' ``kernel_regularizer`` etc. to the loss (default True).
    """

    def __init__(self, model, loss_fn, optimizer, metrics=None, regularization=True, binary_threshold=0.5):
        self.model, self.loss_fn = model, loss_fn
        if hasattr(optimizer, "param_groups") or optimizer is None:
            self.optimizer, self._make_optimizer = optimizer, None
        elif callable(optimizer):
            self.optimizer, self._make_optimizer = None, optimizer
        else:
            raise TypeError(f"optimizer must be an Optimizer or a factory f(parameters) -> Optimizer, got "
                            f"{type(optimizer).__name__}")
        self.metrics = [metrics_module.get(m, binary_threshold) for m in (metrics or [])]
        self.regularization = regularization
        self._penalties = None
        self._position, self._steps, self._nonfinite_seen, self._terminate_on_nan = None, None, False, False

    # ------------------------------------------------------------------ steps
    def _ensure_optimizer(self):
        if self.optimizer is None:
            if self._make_optimizer is None:
                raise ValueError("Trainer: no optimizer given")
            params = [p for p in self.model.parameters() if p.requires_grad]
            for p in params:
                p.grad = None
            self.optimizer = self._make_optimizer(params)

    def _fully_built(self):
        return all(getattr(m, "built", True) for m in self.model.modules())

    def _build(self, train_data):
        """Create the optimizer before training starts (callbacks may read or set its learning rate in
        ``on_train_begin``/``on_epoch_begin``). A model whose Keras layers are not built yet is first run once,
        in eval mode without grad, on one sample (array data) or on the first batch (other data; for a
        shuffling DataLoader this draws one extra order from the generator)."""
        if self.optimizer is not None or self._make_optimizer is None:
            return
        if not self._fully_built():
            if isinstance(train_data, ArrayBatches):
                inputs = (_take(train_data.x, slice(0, 1)),)
            else:
                inputs, _ = _split(next(iter(train_data)))
            was_training = self.model.training
            self.model.eval()
            try:
                with no_grad():
                    self.model(*inputs)
            finally:
                self.model.train(was_training)
        self._ensure_optimizer()

    def penalty(self):
        """The sum of the regularisation penalties of every Keras layer in the model, or None."""
        if not self.regularization:
            return None
        if self._penalties is None:
            self._penalties = [(module, name, reg) for module in self.model.modules()
                               for name, reg in getattr(module, "_regularizers", ())]
        total = None
        for module, name, reg in self._penalties:
            term = reg(getattr(module, name))
            total = term if total is None else total + term
        return total

    def train_step(self, inputs, target):
        """One optimisation step on a batch; returns (loss value, output). A non-finite loss is reported
        (``_nonfinite``); with ``TerminateOnNaN`` among the callbacks its update is skipped."""
        if self.optimizer is not None:
            self.optimizer.zero_grad()
        output = self.model(*inputs)
        self._ensure_optimizer()
        loss = self.loss_fn(output, target)
        penalty = self.penalty()
        if penalty is not None:
            loss = loss + penalty
        value = float(loss._data)
        if not math.isfinite(value) and self._nonfinite(value, inputs, target):
            return value, output                # no update: the weights stay as they were
        loss.backward()
        if self._terminate_on_nan and not self._grads_finite():
            self.model.stop_training = True
            print(f"Batch {self._position[1] if self._position else 0}: gradients are not finite (loss {value:.4g}), "
                  "terminating training before the update")
            return value, output
        self.optimizer.step()
        return value, output

    def _nonfinite(self, value, inputs, target):
        """Warn at the first non-finite loss of a fit (naming the epoch, the batch and whether its data was
        finite); return True when the update must be skipped (``TerminateOnNaN``)."""
        if not self._nonfinite_seen:
            self._nonfinite_seen = True
            where = "" if self._position is None else \
                f" at epoch {self._position[0] + 1}, batch {self._position[1] + 1}" + \
                (f" of {self._steps}" if self._steps else "")
            bad = [what for what, tensors in (("inputs", inputs), ("targets", (target,)))
                   if any(not _finite(t) for t in tensors)]
            cause = (f"the batch's {' and '.join(bad)} contain NaN or inf: clean the data (e.g. "
                     "np.nan_to_num, or drop those samples)") if bad else \
                ("the batch's inputs and targets are finite, so the model diverged: lower the learning rate, "
                 "clip gradients (nn.utils.clip_grad_norm_) or normalise the inputs")
            advice = "" if self._terminate_on_nan else \
                " Training goes on; callbacks=[TerminateOnNaN()] stops before the update that would spread it " \
                "into the weights."
            warnings.warn(f"fit: the loss is {value}{where}; {cause}.{advice}", RuntimeWarning,
                          stacklevel=5)          # the user's fit(...) line
        if self._terminate_on_nan:
            self.model.stop_training = True         # TerminateOnNaN prints why at the batch's end
            return True
        return False

    def _grads_finite(self):
        return all(p.grad is None or np.isfinite(p.grad._data).all()
                   for group in self.optimizer.param_groups for p in group["params"])

    # ------------------------------------------------------------------- fit
    def fit(self, train_data, epochs=1, val_data=None, callbacks=None, verbose=1, initial_epoch=0,
            monitor_overfitting=True, overfitting_patience=5):
        """Train for ``epochs`` (counting from ``initial_epoch``); returns a ``History``."""
        model = self.model
        history = History()
        extra = [ProgressBar(verbose)] if verbose else []
        if val_data is not None and monitor_overfitting:
            extra.append(OverfittingMonitor(history, patience=overfitting_patience, verbose=verbose,
                                            callbacks=callbacks or ()))
        from .live import notebook_callbacks          # one live figure in Jupyter, after the monitor
        extra += notebook_callbacks(history, verbose)
        steps = len(train_data) if hasattr(train_data, "__len__") else None
        history.params = {"epochs": epochs, "steps": steps, "verbose": verbose}
        self._steps = steps
        cbs = CallbackList([history] + list(callbacks or []) + extra, model, history.params, self)
        was_training = model.training
        model.stop_training = False
        self._penalties = None
        self._nonfinite_seen = False
        self._terminate_on_nan = any(isinstance(cb, TerminateOnNaN) for cb in callbacks or ())
        self._build(train_data)
        logs = {}
        cbs.on_train_begin(logs)
        for epoch in range(initial_epoch, epochs):
            model.train()
            for m in self.metrics:
                m.reset_state()
            cbs.on_epoch_begin(epoch, {})
            loss_sum, seen = 0.0, 0
            for step, batch in enumerate(train_data):
                if cbs.active_on_train_batch_begin:
                    cbs.on_train_batch_begin(step, {})
                inputs, target = _split(batch)
                self._position = (epoch, step)
                loss_value, output = self.train_step(inputs, target)
                n = _count(target)
                loss_sum += loss_value * n
                seen += n
                if self.metrics:
                    self._update_metrics(target, output)
                if cbs.active_on_train_batch_end:       # running logs only when someone listens
                    cbs.on_train_batch_end(step, {"loss": loss_sum / seen, **self._results()})
                if model.stop_training:
                    break
            if seen == 0:
                raise ValueError("fit: the training data yielded no batches")
            logs = {"loss": loss_sum / seen, **self._results()}
            if val_data is not None:
                val_logs = self.evaluate(val_data)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            if self.optimizer is not None:
                logs["lr"] = get_lr(self.optimizer)
            cbs.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
        cbs.on_train_end(logs)
        model.train(was_training)
        return history

    def _update_metrics(self, target, output):
        if self.metrics:
            predicted = _detached(output)
            if predicted is None:
                raise TypeError("metrics need the model to return one Tensor, got "
                                f"{type(output).__name__}")
            for m in self.metrics:
                m.update_state(target._data, predicted)

    def _results(self):
        return {m.name: m.result() for m in self.metrics}

    # -------------------------------------------------------------- evaluate
    def evaluate(self, data, verbose=0):
        """{'loss': ..., metric: ...} over ``data`` (model in eval mode, no grad). The loss includes the
        regularisation penalty, as in training."""
        model = self.model
        was_training = model.training
        model.eval()
        for m in self.metrics:
            m.reset_state()
        loss_sum, seen = 0.0, 0
        try:
            with no_grad():
                for batch in data:
                    inputs, target = _split(batch)
                    output = model(*inputs)
                    n = _count(target)
                    loss_sum += float(self.loss_fn(output, target)._data) * n
                    seen += n
                    self._update_metrics(target, output)
                penalty = self.penalty()
        finally:
            model.train(was_training)
        if seen == 0:
            raise ValueError("evaluate: the data yielded no batches")
        logs = {"loss": loss_sum / seen + (float(penalty._data) if penalty is not None else 0.0), **self._results()}
        if verbose:
            print(format_logs(logs))
        return logs

    # --------------------------------------------------------------- predict
    def predict(self, data):
        """The model's outputs over all batches of ``data``, concatenated (a Tensor; a tuple for several)."""
        return predict(self.model, data)


def predict(model, data):
    """Run ``model`` over every batch of ``data`` in eval mode without grad; concatenate the outputs."""
    was_training = model.training
    model.eval()
    outputs = []
    try:
        with no_grad():
            for batch in data:
                outputs.append(model(*_inputs_only(batch)))
    finally:
        model.train(was_training)
    if not outputs:
        raise ValueError("predict: the data yielded no batches")
    if isinstance(outputs[0], Tensor):
        return _wrap(np.concatenate([o._data for o in outputs]))
    return tuple(_wrap(np.concatenate([o[i]._data for o in outputs])) for i in range(len(outputs[0])))


def fit(model, train_loader, loss_fn, optimizer, epochs=1, val_loader=None, callbacks=None, metrics=None,
        verbose=1, initial_epoch=0, monitor_overfitting=True, regularization=True):
    """Train a PyTorch-style ``model`` with ``loss_fn(output, target)`` and ``optimizer``; returns a History.

    The same loop as ``Model.fit`` (see the module docstring); ``val_loader`` turns on validation and the
    overfitting monitor.
    """
    trainer = Trainer(model, loss_fn, optimizer, metrics=metrics, regularization=regularization)
    return trainer.fit(train_loader, epochs=epochs, val_data=val_loader, callbacks=callbacks, verbose=verbose,
                       initial_epoch=initial_epoch, monitor_overfitting=monitor_overfitting)


def evaluate(model, loader, loss_fn, metrics=None, verbose=0):
    """{'loss': ..., metric: ...} of ``model`` over ``loader`` (eval mode, no grad)."""
    return Trainer(model, loss_fn, None, metrics=metrics).evaluate(loader, verbose=verbose)

