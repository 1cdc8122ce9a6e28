"""``Layer``: Keras's layer contract on top of ``nn.Module``.

    __init__(...)          stores configuration only
    build(input_shape)     creates the weights, once, when the first input arrives
                           (``add_weight`` registers them as ``Parameter``s)
    call(inputs, ...)      does the math

``layer(x)`` builds (first call only) and then runs ``Module.__call__`` (so
forward hooks, ``train()``/``eval()``, ``parameters()``, ``state_dict()`` all
work: a Layer is a Module and mixes freely with ``deepdive.nn`` code and
PyTorch-style training loops). ``forward`` simply calls ``call``.

``training``: a ``call`` that takes a ``training`` argument receives
``self.training`` (set by ``train()``/``eval()``) unless the caller passes
``training=`` explicitly; ``model(x, training=False)`` applies to every layer
inside that call, as in Keras.

Example (the custom layer from the Keras docs, unchanged)::

    class CustomLayer(deepdive.layers.Layer):
        def __init__(self):
            super().__init__()
            self.dense = deepdive.layers.Dense(units=32, activation='relu')
        def call(self, inputs):
            return self.dense(inputs)
"""
import re

import numpy as np

from ..nn.module import Module
from ..nn.parameter import Parameter
from .._dtype import get_default_dtype, to_dtype
from ..tensor import Tensor, _wrap
from . import initializers, regularizers

__all__ = ["Layer", "InputLayer", "Input", "to_tensor"]

_NAME_COUNTS = {}
# Innermost explicit ``training=`` of an enclosing layer call (None: use each layer's own mode).
_TRAINING_OVERRIDE = [None]
_ACCEPTS_TRAINING = {}


def _unique_name(cls):
    """Keras-style default names: dense, dense_1, dense_2 ..."""
    base = re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", cls.__name__).lower()
    count = _NAME_COUNTS.get(base, 0)
    _NAME_COUNTS[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def to_tensor(x):
    """NumPy arrays and Python lists become Tensors (floating data as float32, Keras's default)."""
    if isinstance(x, Tensor) or x is None:
        return x
    array = np.asarray(x)
    if array.dtype.kind == "f" and array.dtype != np.float32 and not isinstance(x, np.ndarray):
        array = array.astype(np.float32)
    elif array.dtype == np.float64:
        array = array.astype(np.float32)        # Keras casts float64 NumPy input to the float32 default
    return _wrap(array)


def _shape_of(x):
    if isinstance(x, Tensor):
        return tuple(x.shape)
    if isinstance(x, (list, tuple)):
        return [_shape_of(item) for item in x]
    return tuple(np.shape(x))


class Layer(Module):
    """Base class of Keras-style layers (see the module docstring).

    Args:
        trainable: False freezes every weight of the layer (``requires_grad=False``).
        name: shown by ``Model.summary()``; defaults to the snake-case class name, numbered.
        input_shape: optional shape of one sample (no batch dim), so a model can be built
            (and summarised) before it sees data.
        dtype: dtype of the weights created by ``add_weight`` (default: deepdive's default, float32).
    """

    def __init__(self, trainable=True, name=None, dtype=None, input_shape=None, **kwargs):
        super().__init__()
        input_dim = kwargs.pop("input_dim", None)            # Keras 2's Dense(32, input_dim=784)
        if input_dim is not None and input_shape is None:
            input_shape = (int(input_dim),)
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) {', '.join(sorted(kwargs))}")
        self.name = name or _unique_name(type(self))
        self.built = False
        self._trainable = trainable
        self._regularizers = []        # (weight name, regulariser) pairs of this layer's own weights
        self._build_input_shape = None if input_shape is None else (None,) + tuple(input_shape)
        self._weight_dtype = None if dtype is None else to_dtype(dtype).np     # e.g. dtype='float64'

    # ----------------------------------------------------------------- building
    def build(self, input_shape):
        """Create the layer's weights for inputs of ``input_shape`` (batch dim first). Override."""

    def add_weight(self, name, shape, initializer="glorot_uniform", regularizer=None, trainable=True,
                   dtype=None):
        """Create, initialise and register a weight as ``self.<name>`` (a ``Parameter``)."""
        dtype = to_dtype(dtype).np if dtype is not None else (self._weight_dtype or get_default_dtype().np)
        array = initializers.get(initializer)(tuple(int(s) for s in shape), dtype)
        weight = Parameter(_wrap(np.asarray(array, dtype=dtype)),
                           requires_grad=bool(trainable and self._trainable))
        setattr(self, name, weight)
        regularizer = regularizers.get(regularizer)
        if regularizer is not None:
            self._regularizers.append((name, regularizer))
        return weight

    def _maybe_build(self, inputs):
        if not self.built:
            shape = _shape_of(inputs)
            self.build(shape)
            self._build_input_shape = shape if not isinstance(shape, tuple) else (None,) + shape[1:]
            self.built = True

    # ----------------------------------------------------------------- calling
    def call(self, inputs, *args, **kwargs):
        """The layer's computation. Override."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(inputs) (or forward)")

    def forward(self, *args, **kwargs):
        return self.call(*args, **kwargs)

    def __call__(self, inputs, *args, **kwargs):
        if inputs.__class__ is not Tensor and not isinstance(inputs, (Tensor, list, tuple, dict)):
            inputs = to_tensor(inputs)
        if args:                        # Keras takes arrays for every input (attention's value, key ...)
            args = tuple(to_tensor(a) if a.__class__ is np.ndarray else a for a in args)
        if not self.built:
            self._maybe_build(inputs)
        training = kwargs.pop("training", None) if kwargs else None
        if training is None:                                      # the common, fast path
            if self._accepts_training():
                mode = _TRAINING_OVERRIDE[0]
                kwargs["training"] = self.training if mode is None else mode
            return Module.__call__(self, inputs, *args, **kwargs)
        outer = _TRAINING_OVERRIDE[0]
        _TRAINING_OVERRIDE[0] = bool(training)
        try:
            if self._accepts_training():
                kwargs["training"] = bool(training)
            return Module.__call__(self, inputs, *args, **kwargs)
        finally:
            _TRAINING_OVERRIDE[0] = outer

    def _accepts_training(self):
        cls = type(self)
        accepts = _ACCEPTS_TRAINING.get(cls)
        if accepts is None:
            import inspect                          # lazily: only once per layer class, keeps import fast
            method = cls.call if cls.forward is Layer.forward else cls.forward
            try:
                accepts = "training" in inspect.signature(method).parameters
            except (TypeError, ValueError):
                accepts = False
            _ACCEPTS_TRAINING[cls] = accepts
        return accepts

    # ----------------------------------------------------------------- weights
    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        """``layer.trainable = False`` freezes all its weights (sub-layers included), as in Keras."""
        self.__dict__["_trainable"] = bool(value)
        for module in self.modules():
            if isinstance(module, Layer):
                module.__dict__["_trainable"] = bool(value)
        for p in self.parameters():
            p.requires_grad = bool(value)

    @property
    def weights(self):
        return list(self.parameters()) + [b for b in self.buffers() if b._data.dtype.kind == "f"]

    @property
    def trainable_weights(self):
        return [p for p in self.parameters() if p.requires_grad]

    @property
    def non_trainable_weights(self):
        return [p for p in self.parameters() if not p.requires_grad] + \
            [b for b in self.buffers() if b._data.dtype.kind == "f"]

    def get_weights(self):
        """Copies of all weights as NumPy arrays (parameters, then floating buffers)."""
        return [w._data.copy() for w in self.weights]

    def set_weights(self, arrays):
        weights = self.weights
        if len(arrays) != len(weights):
            raise ValueError(f"{self.name}: set_weights expected {len(weights)} arrays, got {len(arrays)}")
        for w, a in zip(weights, arrays):
            a = np.asarray(a)
            if a.shape != w._data.shape:
                raise ValueError(f"{self.name}: weight shape {w._data.shape} does not match the given {a.shape}")
            w._data[...] = a
            w._version_counter[0] += 1

    def count_params(self):
        return int(sum(w._data.size for w in self.weights))

    @property
    def losses(self):
        """The current regularisation penalties (scalar Tensors) of this layer and all sub-layers."""
        penalties = []
        for module in self.modules():
            for name, regularizer in getattr(module, "_regularizers", ()):
                penalties.append(regularizer(getattr(module, name)))
        return penalties

    def get_config(self):
        return {"name": self.name, "trainable": self._trainable}

    def extra_repr(self):
        return ""


class InputLayer(Layer):
    """Declares the shape of one sample (no batch dim) at the start of a ``Sequential``; the identity.

    ``Sequential([layers.Input(shape=(784,)), layers.Dense(10)])`` builds the model right away (Keras 3 style).
    """

    def __init__(self, shape, dtype="float32", name=None):
        super().__init__(name=name, input_shape=tuple(shape))
        self.input_dtype = np.dtype(str(dtype).replace("deepdive.", "").replace("torch.", ""))

    def call(self, inputs):
        return inputs


def Input(shape, batch_size=None, dtype="float32", name=None):
    """Keras's ``Input(shape=...)``: here an ``InputLayer`` marker for ``Sequential`` (no symbolic tensors)."""
    return InputLayer(shape, dtype=dtype, name=name)
