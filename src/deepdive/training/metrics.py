"""Metrics for ``fit``/``evaluate``: accumulated over an epoch, computed in NumPy without autograd.

A metric keeps running totals: ``update_state(y_true, y_pred)`` per batch
(NumPy arrays or Tensors, Keras's argument order), ``result()`` -> float,
``reset_state()`` at each epoch. Results are sample-weighted means over all
batches seen, so an epoch's value does not depend on the batch size.

    'accuracy'        chosen from the shapes, as Keras does:
                        output (N,) or (N, 1), target same size    -> binary: (p > threshold) == y
                        output (N, C), target (N,) or (N, 1) ids   -> sparse: argmax(p) == y
                        output (N, C), target (N, C) one-hot       -> categorical: argmax(p) == argmax(y)
    'binary_accuracy' / 'categorical_accuracy' / 'sparse_categorical_accuracy'   the above, explicitly
    'top_k_accuracy'  target among the k highest scores (k=5; ids or one-hot); TopKAccuracy(k) for another k
    'mae' / 'mse' / 'rmse'   mean absolute / squared error, root of the mean squared error
"""
import numpy as np

__all__ = ["Metric", "Mean", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "TopKAccuracy", "TopKCategoricalAccuracy",
           "SparseTopKCategoricalAccuracy", "MeanAbsoluteError", "MeanSquaredError", "RootMeanSquaredError",
           "get", "METRICS"]


def _numpy(x):
    return x._data if hasattr(x, "_data") else np.asarray(x)


class Metric:
    """Base class: a sample-weighted running mean of per-sample values from ``values(y_true, y_pred)``."""
    name = "metric"

    def __init__(self, name=None):
        if name is not None:
            self.name = name
        self.reset_state()

    def reset_state(self):
        self.total, self.count = 0.0, 0

    def values(self, y_true, y_pred):
        """Per-sample (or per-element) values whose mean is the metric."""
        raise NotImplementedError

    def update_state(self, y_true, y_pred):
        values = np.asarray(self.values(_numpy(y_true), _numpy(y_pred)), dtype=np.float64)
        self.total += float(values.sum())
        self.count += values.size

    def result(self):
        return self.total / self.count if self.count else 0.0

    def __call__(self, y_true, y_pred):
        """The metric of one batch alone (state untouched)."""
        values = np.asarray(self.values(_numpy(y_true), _numpy(y_pred)), dtype=np.float64)
        return float(values.mean()) if values.size else 0.0

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


class Mean(Metric):
    """The weighted mean of values given to ``update_state(value, weight=1)`` (tracks the loss)."""
    name = "mean"

    def update_state(self, value, weight=1):
        self.total += float(value) * weight
        self.count += weight


class MeanMetricWrapper(Metric):
    """A metric from any function ``fn(y_true, y_pred) -> per-sample values``."""

    def __init__(self, fn, name=None):
        self.fn = fn
        super().__init__(name or getattr(fn, "__name__", "metric"))

    def values(self, y_true, y_pred):
        return _numpy(self.fn(y_true, y_pred))


def _sparse_labels(y_true):
    labels = y_true.reshape(-1) if y_true.ndim and y_true.shape[-1] == 1 and y_true.ndim > 1 else y_true
    return labels.reshape(-1).astype(np.int64)


class BinaryAccuracy(Metric):
    """mean((p > threshold) == y); threshold 0.5 for probabilities (0.0 suits logits)."""
    name = "binary_accuracy"

    def __init__(self, name=None, threshold=0.5):
        self.threshold = threshold
        super().__init__(name)

    def values(self, y_true, y_pred):
        pred = (y_pred > self.threshold).reshape(-1)
        truth = y_true.reshape(-1)
        if pred.size != truth.size:
            raise ValueError(f"binary accuracy: output has {pred.size} values, target {truth.size}")
        return pred == (truth > 0.5)


class CategoricalAccuracy(Metric):
    """mean(argmax(p) == argmax(y)) with one-hot (or soft) targets."""
    name = "categorical_accuracy"

    def values(self, y_true, y_pred):
        return np.argmax(y_pred, axis=-1) == np.argmax(y_true, axis=-1)


class SparseCategoricalAccuracy(Metric):
    """mean(argmax(p) == y) with class-id targets."""
    name = "sparse_categorical_accuracy"

    def values(self, y_true, y_pred):
        pred = np.argmax(y_pred, axis=-1).reshape(-1)
        labels = _sparse_labels(y_true)
        if pred.size != labels.size:
            raise ValueError(f"sparse categorical accuracy: {pred.size} predictions but {labels.size} class ids")
        return pred == labels


class Accuracy(Metric):
    """Accuracy with the kind (binary / sparse / categorical) chosen from the shapes (module docstring)."""
    name = "accuracy"

    def __init__(self, name=None, threshold=0.5):
        self._binary = BinaryAccuracy(threshold=threshold)
        self._sparse = SparseCategoricalAccuracy()
        self._categorical = CategoricalAccuracy()
        super().__init__(name)

    @staticmethod
    def kind(y_true, y_pred):
        if y_pred.ndim <= 1 or y_pred.shape[-1] == 1:
            return "binary"
        if y_true.ndim == y_pred.ndim and y_true.shape[-1] == y_pred.shape[-1]:
            return "categorical"
        return "sparse"

    def values(self, y_true, y_pred):
        kind = self.kind(y_true, y_pred)
        metric = {"binary": self._binary, "sparse": self._sparse, "categorical": self._categorical}[kind]
        return metric.values(y_true, y_pred)


class TopKAccuracy(Metric):
    """Fraction of samples whose target class is among the k highest scores (ids or one-hot targets).

    Ties count in the target's favour (a score equal to the k-th best is in the top k), as tf's in_top_k.
    """
    name = "top_k_accuracy"

    def __init__(self, k=5, name=None):
        self.k = int(k)
        super().__init__(name)

    def values(self, y_true, y_pred):
        scores = y_pred.reshape(-1, y_pred.shape[-1])
        if y_true.ndim == y_pred.ndim and y_true.shape[-1] == y_pred.shape[-1] and y_pred.shape[-1] > 1:
            labels = np.argmax(y_true, axis=-1).reshape(-1)
        else:
            labels = _sparse_labels(y_true)
        target = scores[np.arange(len(labels)), labels]
        return (scores > target[:, None]).sum(axis=1) < self.k


class TopKCategoricalAccuracy(TopKAccuracy):
    name = "top_k_categorical_accuracy"


class SparseTopKCategoricalAccuracy(TopKAccuracy):
    name = "sparse_top_k_categorical_accuracy"


def _same_shape(y_true, y_pred):
    if y_true.size != y_pred.size:
        raise ValueError(f"metric: target has {y_true.size} values, output {y_pred.size}")
    return y_true.reshape(y_pred.shape).astype(np.float64), y_pred.astype(np.float64)


class MeanAbsoluteError(Metric):
    name = "mae"

    def values(self, y_true, y_pred):
        y_true, y_pred = _same_shape(y_true, y_pred)
        return np.abs(y_pred - y_true)


class MeanSquaredError(Metric):
    name = "mse"

    def values(self, y_true, y_pred):
        y_true, y_pred = _same_shape(y_true, y_pred)
        return (y_pred - y_true) ** 2


class RootMeanSquaredError(MeanSquaredError):
    name = "rmse"

    def result(self):
        return float(np.sqrt(super().result()))


METRICS = {"accuracy": Accuracy, "acc": Accuracy, "binary_accuracy": BinaryAccuracy,
           "categorical_accuracy": CategoricalAccuracy, "sparse_categorical_accuracy": SparseCategoricalAccuracy,
           "top_k_accuracy": TopKAccuracy, "top_k_categorical_accuracy": TopKCategoricalAccuracy,
           "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
           "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
           "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError, "rmse": RootMeanSquaredError}


def get(identifier, binary_threshold=0.5):
    """A ``Metric`` from a name, a Metric, or a function ``fn(y_true, y_pred) -> per-sample values``."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in METRICS:
            raise ValueError(f"Unknown metric {identifier!r}. Valid names: {', '.join(sorted(METRICS))} "
                             "(or a Metric object, or a function fn(y_true, y_pred))")
        cls = METRICS[key]
        if cls in (Accuracy, BinaryAccuracy):
            return cls(name="accuracy" if key in ("accuracy", "acc") else None, threshold=binary_threshold)
        return cls()
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise TypeError(f"metric must be a name, a Metric or a callable, got {type(identifier).__name__}")
