"""Keras-style losses by name, with Keras's ``from_logits`` semantics.

    name                               model output         target                      math (mean over samples)
    'mse' / 'mean_squared_error'       any                  same shape                  mean((y - p)^2)
    'mae' / 'mean_absolute_error'      any                  same shape                  mean(|y - p|)
    'huber'                            any                  same shape                  Huber with delta 1
    'binary_crossentropy'              probabilities        0/1, same shape (or (N,))   -[y log p + (1-y) log(1-p)]
    'categorical_crossentropy'         probabilities (N, C) one-hot / soft (N, C)       -sum_c y_c log p_c
    'sparse_categorical_crossentropy'  probabilities (N, C) class ids (N,)              -log p_y

``from_logits=False`` (the default, as in Keras) means the model ends in a
sigmoid / softmax and outputs probabilities; they are clipped to
[1e-7, 1 - 1e-7] before the log (Keras's epsilon), so a saturated output gives
a large finite loss. With ``from_logits=True`` the model outputs raw scores and
the loss applies the sigmoid / softmax itself in one stable fused op
(``F.binary_cross_entropy_with_logits`` / ``F.cross_entropy``) — the better
choice numerically. Use the classes for that: ``loss=SparseCategoricalCrossentropy(from_logits=True)``,
or the function forms, which return one loss per sample as Keras's do:
``losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)``.

NOTE: with ``from_logits=False``, outputs that are not probabilities (a last
layer without softmax/sigmoid) would train silently to a wrong loss: the
clipping turns every negative score into the same 1e-7. The probability losses
warn the first time they see such outputs (values outside [0, 1], or rows
that do not sum to 1 for the sparse categorical loss), pointing to
``from_logits=True``.

Argument order: Keras losses are called ``loss(y_true, y_pred)``; PyTorch
losses ``loss_fn(input, target)``. The classes here follow Keras; the
training engine itself calls ``loss_fn(output, target)`` (PyTorch's order) and
``Model.compile`` adapts (see ``resolve``). Sequence outputs (N, T, C) with
targets (N, T) are flattened to (N*T, C) for the categorical losses.
"""
import warnings

import numpy as np

__all__ = ["Loss", "MeanSquaredError", "MeanAbsoluteError", "Huber", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "sparse_categorical_crossentropy",
           "get", "resolve", "LOSSES"]

EPSILON = 1e-7      # Keras's backend epsilon, used to clip probabilities before the log


def _not_probabilities(y_pred, rows_sum_to_one=False):
    """A description of why ``y_pred`` is not probabilities, or None when it is (checked on the values)."""
    data = y_pred._data
    if data.size == 0:
        return None
    low, high = float(data.min()), float(data.max())
    if low < 0.0 or high > 1.0:
        return f"its values range from {low:.4g} to {high:.4g}, outside [0, 1]"
    if rows_sum_to_one:
        sums = data.reshape(-1, data.shape[-1]).sum(axis=-1)
        worst = float(sums[np.argmax(np.abs(sums - 1.0))])
        if abs(worst - 1.0) > 1e-3 * data.shape[-1]:
            return f"its rows sum to {worst:.4g}, not 1"
    return None


def _warn_if_not_probabilities(loss, y_pred, rows_sum_to_one=False, activation="softmax"):
    if getattr(loss, "_warned", False):
        return
    why = _not_probabilities(y_pred, rows_sum_to_one)
    if why is not None:
        loss._warned = True
        warnings.warn(f"{loss.name}: from_logits=False expects probabilities, but the model's output is not "
                      f"({why}), so the loss is wrong. If the last layer outputs raw scores (no {activation}), "
                      f"use loss={type(loss).__name__}(from_logits=True); or give the last layer "
                      f"activation='{activation}'.", UserWarning, stacklevel=4)


def _F():
    from ..nn import functional
    return functional


def _float_like(y_true, y_pred):
    """The target as a float tensor of the prediction's shape (Keras squeezes/expands (N,) vs (N, 1))."""
    if y_true._data.dtype != y_pred._data.dtype:
        y_true = y_true.to(y_pred.dtype)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        if y_true.numel() != y_pred.numel():
            raise ValueError(f"loss: target shape {list(y_true.shape)} does not match the output shape "
                             f"{list(y_pred.shape)}")
        y_true = y_true.reshape(y_pred.shape)
    return y_true


class Loss:
    """Base class: ``loss(y_true, y_pred) -> scalar Tensor`` (Keras's argument order)."""
    name = "loss"

    def __call__(self, y_true, y_pred):
        return self.call(y_true, y_pred)

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def __repr__(self):
        extra = f"from_logits={self.from_logits}" if hasattr(self, "from_logits") else ""
        return f"{type(self).__name__}({extra})"


class MeanSquaredError(Loss):
    name = "mean_squared_error"

    def call(self, y_true, y_pred):
        return _F().mse_loss(y_pred, _float_like(y_true, y_pred))


class MeanAbsoluteError(Loss):
    name = "mean_absolute_error"

    def call(self, y_true, y_pred):
        return _F().l1_loss(y_pred, _float_like(y_true, y_pred))


class Huber(Loss):
    name = "huber_loss"

    def __init__(self, delta=1.0):
        self.delta = delta

    def call(self, y_true, y_pred):
        return _F().huber_loss(y_pred, _float_like(y_true, y_pred), delta=self.delta)


class BinaryCrossentropy(Loss):
    """-mean(y log p + (1 - y) log(1 - p)); from_logits=True takes raw scores (stable fused form)."""
    name = "binary_crossentropy"

    def __init__(self, from_logits=False):
        self.from_logits = from_logits

    def call(self, y_true, y_pred):
        y_true = _float_like(y_true, y_pred)
        if self.from_logits:
            return _F().binary_cross_entropy_with_logits(y_pred, y_true)
        _warn_if_not_probabilities(self, y_pred, activation="sigmoid")
        p = y_pred.clamp(EPSILON, 1.0 - EPSILON)
        return -(y_true * p.log() + (1.0 - y_true) * (1.0 - p).log()).mean()


def _flatten_classes(y_pred):
    return y_pred.reshape(-1, y_pred.shape[-1]) if y_pred.ndim > 2 else y_pred


class CategoricalCrossentropy(Loss):
    """-mean_n sum_c y[n, c] log p[n, c] over the last axis; targets one-hot or soft (N, C)."""
    name = "categorical_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0):
        self.from_logits, self.label_smoothing = from_logits, label_smoothing

    def call(self, y_true, y_pred):
        y_true = _float_like(y_true, y_pred)
        if self.label_smoothing:
            y_true = y_true * (1.0 - self.label_smoothing) + self.label_smoothing / y_pred.shape[-1]
        if self.from_logits:
            return _F().cross_entropy(_flatten_classes(y_pred), _flatten_classes(y_true))
        _warn_if_not_probabilities(self, y_pred)
        # Keras renormalises the probabilities before clipping, so outputs that do not sum to 1 still work.
        p = (y_pred / y_pred.sum(dim=-1, keepdim=True)).clamp(EPSILON, 1.0 - EPSILON)
        return -(y_true * p.log()).sum(dim=-1).mean()


class SparseCategoricalCrossentropy(Loss):
    """-mean log p[n, y_n]; targets are class ids (N,) or (N, 1) (sequences: (N, T) with outputs (N, T, C)).
    ``from_logits=True``: ``y_pred`` are raw scores (softmax applied inside, fused with the log)."""
    name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits=False, ignore_class=None):
        self.from_logits, self.ignore_class = from_logits, ignore_class

    def call(self, y_true, y_pred):
        return _sparse_categorical_crossentropy(self, y_true, y_pred, "mean")


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None):
    """Keras's function form: one loss per prediction, -log p[n, y_n] (shape of ``y_true`` flattened: (N,) or
    (N*T,)). ``from_logits=True`` for raw scores. ``compile(loss=...)`` averages it, as Keras does."""
    return _sparse_categorical_crossentropy(SparseCategoricalCrossentropy(from_logits, ignore_class), y_true,
                                            y_pred, "none")


def _sparse_categorical_crossentropy(loss, y_true, y_pred, reduction):
    F = _F()
    target = y_true.reshape(-1)
    if target._data.dtype.kind != "i":
        target = target.long()
    scores = y_pred.reshape(-1, y_pred.shape[-1]) if y_pred.ndim != 2 else y_pred
    if scores.shape[0] != target.shape[0]:
        raise ValueError(f"sparse_categorical_crossentropy: {target.shape[0]} class ids for "
                         f"{scores.shape[0]} predictions (output shape {list(y_pred.shape)}, target shape "
                         f"{list(y_true.shape)}); targets must be class indices, one per prediction")
    ignore = -100 if loss.ignore_class is None else loss.ignore_class
    if loss.from_logits:
        return F.cross_entropy(scores, target, ignore_index=ignore, reduction=reduction)
    _warn_if_not_probabilities(loss, scores, rows_sum_to_one=True)
    return F.nll_loss(scores.clamp(EPSILON, 1.0 - EPSILON).log(), target, ignore_index=ignore, reduction=reduction)


LOSSES = {"mse": MeanSquaredError, "mean_squared_error": MeanSquaredError, "mae": MeanAbsoluteError,
          "mean_absolute_error": MeanAbsoluteError, "huber": Huber, "huber_loss": Huber,
          "binary_crossentropy": BinaryCrossentropy, "categorical_crossentropy": CategoricalCrossentropy,
          "sparse_categorical_crossentropy": SparseCategoricalCrossentropy}


def get(identifier):
    """A Keras-order loss object from a name (or the object itself)."""
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in LOSSES:
            raise ValueError(f"Unknown loss {identifier!r}. Valid names: {', '.join(sorted(LOSSES))} "
                             "(or a Loss object, an nn loss module, or a callable)")
        return LOSSES[key]()
    return identifier


def resolve(identifier):
    """The loss as the engine calls it, ``loss_fn(output, target)`` (PyTorch's order).

    - a name or a ``Loss`` from this module: Keras's ``loss(y_true, y_pred)``, adapted;
    - an ``nn`` loss module (``nn.CrossEntropyLoss()``): called as PyTorch does, ``module(output, target)``;
    - any other callable: Keras's convention, ``fn(y_true, y_pred)`` (as ``Model.compile`` expects).
    """
    from ..nn.module import Module
    if identifier is None:
        raise ValueError("compile(): a loss is required, e.g. loss='mse' or loss='sparse_categorical_crossentropy'. "
                         f"Valid names: {', '.join(sorted(LOSSES))}")
    loss = get(identifier)
    if isinstance(loss, Module):
        return loss
    if not callable(loss):
        raise TypeError(f"loss must be a name, a Loss, an nn loss module or a callable, got {type(loss).__name__}")

    def loss_fn(output, target):
        value = loss(target, output)
        return value.mean() if value.ndim else value      # per-sample losses (Keras's functions): averaged

    loss_fn.keras_loss = loss
    loss_fn.__name__ = getattr(loss, "name", getattr(loss, "__name__", "loss"))
    return loss_fn
