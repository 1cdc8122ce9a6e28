"""``Model`` and ``Sequential``: Keras's compile / fit / evaluate / predict / summary on deepdive modules.

    model = Sequential([layers.Dense(64, activation='relu'), layers.Dense(10, activation='softmax')])
    model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
    history = model.fit(x, y, epochs=5, batch_size=32, validation_split=0.2)
    history.history['val_accuracy'], history.overfitting

A ``Model`` is a ``Layer`` and so an ``nn.Module``: subclass it and write
``call(inputs)`` (or ``forward``), and PyTorch-style code can use it as any
module. ``fit`` runs the one training loop of ``engine.py``.

compile():
    optimizer  'sgd' | 'adam' | 'adamw' | 'rmsprop' | 'adagrad' | 'adadelta' (``deepdive.optim`` with Keras's
               default learning rates: sgd 0.01, the others 0.001; adamw weight_decay 0.004; rmsprop alpha 0.9),
               an ``Optimizer`` already holding the parameters, or a factory ``f(parameters) -> Optimizer``
               (e.g. ``functools.partial(optim.SGD, lr=0.1, momentum=0.9)``), called once the model is built.
    loss       a name ('mse', 'mae', 'huber', 'binary_crossentropy', 'categorical_crossentropy',
               'sparse_categorical_crossentropy'), a ``training.losses`` object (``from_logits=True`` there),
               an ``nn`` loss module (called PyTorch's way, ``module(output, target)``), or a function
               called Keras's way, ``fn(y_true, y_pred)``. See ``losses.py`` for ``from_logits``.
    metrics    names ('accuracy', 'top_k_accuracy', 'mae', 'mse' ...) or ``Metric`` objects (``TopKAccuracy(k=3)``).
"""
import numpy as np

from ..autograd.grad_mode import no_grad
from ..layers.layer import Layer, InputLayer, _shape_of
from ..nn.module import Module
from ..tensor import Tensor, _wrap
from . import losses as losses_module
from .engine import ArrayBatches, Trainer, _take, predict as _predict

__all__ = ["Model", "Sequential", "OPTIMIZERS"]

# Keras's default hyper-parameters, on deepdive.optim's classes.
OPTIMIZERS = {"sgd": ("SGD", {"lr": 0.01}), "adam": ("Adam", {"lr": 0.001}),
              "adamw": ("AdamW", {"lr": 0.001, "weight_decay": 0.004}),
              "rmsprop": ("RMSprop", {"lr": 0.001, "alpha": 0.9}), "adagrad": ("Adagrad", {"lr": 0.001}),
              "adadelta": ("Adadelta", {"lr": 0.001})}


def _optimizer_factory(spec):
    """An Optimizer instance, or a factory f(parameters) -> Optimizer, from compile's ``optimizer``."""
    if isinstance(spec, str):
        key = spec.lower()
        if key not in OPTIMIZERS:
            raise ValueError(f"Unknown optimizer {spec!r}. Valid names: {', '.join(sorted(OPTIMIZERS))} "
                             "(or a deepdive.optim Optimizer, or a factory f(parameters) -> Optimizer)")
        cls_name, defaults = OPTIMIZERS[key]

        def make(params):
            from .. import optim
            return getattr(optim, cls_name)(params, **defaults)
        return make
    if hasattr(spec, "param_groups"):
        return spec
    if callable(spec):
        return spec
    raise TypeError(f"optimizer must be a name, an Optimizer or a factory, got {type(spec).__name__}")


def _is_array_like(x):
    return isinstance(x, (Tensor, np.ndarray, list, tuple))


def _format_shape(shape):
    if isinstance(shape, list):
        return "[" + ", ".join(_format_shape(s) for s in shape) + "]"
    dims = ["None"] + [str(s) for s in shape[1:]]
    return "(" + ", ".join(dims) + (",)" if len(dims) == 1 else ")")


def _count_params(module):
    trainable = sum(p._data.size for p in module.parameters() if p.requires_grad)
    frozen = sum(p._data.size for p in module.parameters() if not p.requires_grad)
    frozen += sum(b._data.size for b in module.buffers() if b is not None and b._data.dtype.kind == "f")
    return int(trainable), int(frozen)


class Model(Layer):
    """A trainable model: a Layer with ``compile``, ``fit``, ``evaluate``, ``predict``, ``summary``.

    Subclass and define ``call(inputs)`` (layers created in ``__init__``), or use ``Sequential``.
    """

    def __init__(self, *args, **kwargs):
        if args:
            raise TypeError("Model(inputs, outputs) (Keras's functional API) is not supported: subclass Model and "
                            "write call(inputs), or use Sequential([...])")
        super().__init__(**kwargs)
        self.stop_training = False
        self.compiled = False
        self.optimizer = None
        self.history = None
        self._build_input_dtype = np.float32

    # ---------------------------------------------------------------- build
    def _maybe_build(self, inputs):
        # A model builds by running: its layers build themselves on this first call.
        if not self.built:
            shape = _shape_of(inputs)
            if isinstance(shape, tuple):
                self._build_input_shape = (None,) + shape[1:]
                self._build_input_dtype = inputs._data.dtype
            self.built = True

    def build(self, input_shape=None):
        """Create all weights by running the model once (in eval mode, no grad) on zeros of ``input_shape``
        (batch dim first, may be None), as Keras's ``model.build((None, 784))``."""
        if input_shape is None:
            input_shape = self._build_input_shape
            if input_shape is None:
                raise ValueError(f"Model '{self.name}': build() needs an input_shape, e.g. build((None, 784))")
        self._build_input_shape = (None,) + tuple(input_shape)[1:]
        self.built = True
        self._dummy_call()

    def _dummy_call(self, hooks=None):
        shape = (1,) + tuple(self._build_input_shape)[1:]
        x = _wrap(np.zeros(shape, dtype=self._build_input_dtype))
        was_training = self.training
        self.eval()
        handles = [child.register_forward_hook(hook) for child, hook in (hooks or [])]
        try:
            with no_grad():
                return self(x)
        finally:
            for h in handles:
                h.remove()
            self.train(was_training)

    @property
    def layers(self):
        return list(self.children())

    # -------------------------------------------------------------- compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, regularization=True):
        """Set the optimizer, loss and metrics used by fit/evaluate (see the module docstring)."""
        object.__setattr__(self, "loss", loss)       # not registered as a sub-module even when an nn loss module
        loss_fn = losses_module.resolve(loss)
        keras_loss = getattr(loss_fn, "keras_loss", None)
        # 'accuracy' thresholds probabilities at 0.5; a model that outputs logits is thresholded at 0.
        logits = (isinstance(keras_loss, losses_module.BinaryCrossentropy) and keras_loss.from_logits) or \
            type(loss).__name__ == "BCEWithLogitsLoss"
        threshold = 0.0 if logits else 0.5
        factory = _optimizer_factory(optimizer)
        self._trainer = Trainer(self, loss_fn, factory, metrics=metrics, regularization=regularization,
                                binary_threshold=threshold)
        self.optimizer = self._trainer.optimizer
        self.compiled = True
        return self

    def _check_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(f"You must compile the model before calling {what}(), e.g. "
                               "model.compile(optimizer='adam', loss='mse')")

    @property
    def metrics_names(self):
        self._check_compiled("metrics_names")
        return ["loss"] + [m.name for m in self._trainer.metrics]

    # ----------------------------------------------------------------- data
    @staticmethod
    def _batches(x, y, batch_size, shuffle, what):
        from ..utils.data import DataLoader, Dataset
        if isinstance(x, Dataset):
            if y is not None:
                raise ValueError(f"{what}: y must be None when x is a Dataset (it yields the targets)")
            return DataLoader(x, batch_size=batch_size or 32, shuffle=shuffle)
        if not _is_array_like(x):
            if y is not None:
                raise ValueError(f"{what}: y must be None when x is a DataLoader / iterable of batches")
            return x
        if y is None and what != "predict":
            raise ValueError(f"{what}: y (the targets) is required when x is an array")
        return ArrayBatches(x, y, batch_size or 32, shuffle)

    # ------------------------------------------------------------------ fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose=1, callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, initial_epoch=0, monitor_overfitting=True, overfitting_patience=5):
        """Train the model; returns a ``History`` (also kept as ``model.history``).

        Args:
            x, y: arrays / Tensors (batched here, reshuffled each epoch when ``shuffle``), or ``x`` a
                ``Dataset`` / ``DataLoader`` / iterable of (inputs, target) batches with ``y=None``.
            batch_size: 32 by default (array input only).
            validation_split: fraction in (0, 1) of the array data held out (the last samples, before
                shuffling, as Keras) for validation.
            validation_data: (x_val, y_val) arrays, or a DataLoader / iterable of batches.
            callbacks: ``deepdive.training.callbacks`` objects.  verbose: 0 silent, 1 bar, 2 one line per epoch.
            monitor_overfitting: report when validation loss rises, clearly and for ``overfitting_patience``
                epochs, while training loss falls (needs validation; see ``training/monitor.py``).
        """
        self._check_compiled("fit")
        if validation_split:
            if not 0 < validation_split < 1:
                raise ValueError(f"validation_split must be between 0 and 1 (exclusive), got {validation_split}")
            if not _is_array_like(x):
                raise ValueError("validation_split needs array inputs x, y; with a Dataset/DataLoader pass "
                                 "validation_data instead")
            if validation_data is not None:
                raise ValueError("give either validation_split or validation_data, not both")
            data = ArrayBatches(x, y)
            split = int(data.n * (1 - validation_split))
            if split == 0 or split == data.n:
                raise ValueError(f"validation_split={validation_split} of {data.n} samples leaves an empty "
                                 f"{'training' if split == 0 else 'validation'} set")
            validation_data = (_take(data.x, slice(split, None)), _take(data.y, slice(split, None)))
            x, y = _take(data.x, slice(0, split)), _take(data.y, slice(0, split))
        train = self._batches(x, y, batch_size, shuffle, "fit")
        val = None
        if validation_data is not None:
            if isinstance(validation_data, tuple) and len(validation_data) == 2 and _is_array_like(validation_data[0]):
                val = ArrayBatches(validation_data[0], validation_data[1], batch_size or 32, False)
            else:
                val = self._batches(validation_data, None, batch_size, False, "validation_data")
        self.history = self._trainer.fit(train, epochs=epochs, val_data=val, callbacks=callbacks, verbose=verbose,
                                         initial_epoch=initial_epoch, monitor_overfitting=monitor_overfitting,
                                         overfitting_patience=overfitting_patience)
        self.optimizer = self._trainer.optimizer
        return self.history

    def evaluate(self, x=None, y=None, batch_size=None, verbose=0, return_dict=False):
        """The loss (and metrics) on the given data: a float without metrics, else [loss, *metrics];
        a dict {'loss': ..., name: ...} with ``return_dict=True``."""
        self._check_compiled("evaluate")
        logs = self._trainer.evaluate(self._batches(x, y, batch_size, False, "evaluate"), verbose=verbose)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose=0):
        """The model's outputs for ``x`` (batched, eval mode, no grad) as one Tensor."""
        return _predict(self, self._batches(x, None, batch_size, False, "predict"))

    # ---------------------------------------------------------- save / load
    def save_weights(self, path):
        """Write the state_dict with ``deepdive.save`` (safetensors)."""
        from ..serialization import save
        save(self.state_dict(), path)

    def load_weights(self, path):
        from ..serialization import load
        return self.load_state_dict(load(path))

    # -------------------------------------------------------------- summary
    def summary(self, print_fn=print):
        """A table of the layers (name (type), output shape, parameter count) and the totals; printed with
        ``print_fn`` (None: not printed) and returned. Output shapes come from running the model on one
        zero sample (eval mode, no grad), so it must have been built or called once, or given an input_shape."""
        if self._build_input_shape is None:
            raise ValueError(f"Model '{self.name}' has not been built yet, so its output shapes are unknown. "
                             "Call it on data, call model.build(input_shape), or give the first layer an "
                             "input_shape=... argument.")
        children = list(self.named_children())
        shapes = {}

        def recorder(key):
            def hook(module, args, output):
                shapes[key] = _shape_of(output)
            return hook
        self._dummy_call([(child, recorder(key)) for key, child in children])
        rows = []
        for key, child in children:
            name = getattr(child, "name", key)
            shape = shapes.get(key)
            rows.append((f"{name} ({type(child).__name__})", "?" if shape is None else _format_shape(shape),
                         f"{sum(_count_params(child)):,}"))
        width0 = max([27] + [len(r[0]) for r in rows]) + 2       # Keras's column widths, widened to fit
        width1 = max([24] + [len(r[1]) for r in rows]) + 2
        width2 = max([10] + [len(r[2]) for r in rows])
        total_width = width0 + width1 + width2 + 1
        trainable, frozen = _count_params(self)
        lines = [f'Model: "{self.name}"', "_" * total_width,
                 " " + "Layer (type)".ljust(width0) + "Output Shape".ljust(width1) + "Param #", "=" * total_width]
        for i, row in enumerate(rows):
            lines.append(" " + row[0].ljust(width0) + row[1].ljust(width1) + row[2])
            if i < len(rows) - 1:
                lines.append("")
        size_kb = (trainable + frozen) * 4 / 1024
        lines += ["=" * total_width, f"Total params: {trainable + frozen:,} ({size_kb:.2f} KB)",
                  f"Trainable params: {trainable:,}", f"Non-trainable params: {frozen:,}", "_" * total_width]
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        return text


class Sequential(Model):
    """A plain stack of layers, each fed the previous one's output.

    Layers may be Keras-style layers or any ``nn.Module``; they are registered as "0", "1", ... (state_dict
    keys like ``0.kernel``, as ``nn.Sequential`` numbers them). Start with ``layers.Input(shape=(784,))`` (Keras 3)
    or give the first layer ``input_shape=`` (Keras 2) to build the model (and ``summary()`` it) straight away.
    """

    def __init__(self, layers=None, name=None, trainable=True):
        super().__init__(name=name, trainable=trainable)
        self._layers = []
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        if isinstance(layer, InputLayer):
            if self._layers:
                raise ValueError("Sequential: an Input can only be the first layer")
            self._build_input_shape, self._build_input_dtype = layer._build_input_shape, layer.input_dtype
            return
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential.add: expected a Layer or nn.Module, got {type(layer).__name__}")
        self.add_module(str(len(self._layers)), layer)
        self._layers.append(layer)
        first_shape = getattr(self._layers[0], "_build_input_shape", None)
        if len(self._layers) == 1 and first_shape is not None and self._build_input_shape is None:
            self._build_input_shape = first_shape
        if self._build_input_shape is not None:
            self.built = True
            self._dummy_call()       # Keras builds a Sequential with a known input shape right away

    def pop(self):
        if not self._layers:
            raise IndexError("Sequential.pop: there are no layers to remove")
        layer = self._layers.pop()
        delattr(self, str(len(self._layers)))
        return layer

    @property
    def layers(self):
        return list(self._layers)

    def __getitem__(self, index):
        return self._layers[index]

    def __len__(self):
        return len(self._layers)

    def __iter__(self):
        return iter(self._layers)

    def call(self, inputs):
        x = inputs
        for layer in self._layers:
            x = layer(x)
        return x
