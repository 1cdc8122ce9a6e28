"""Watching a network train: gradient flow, activation statistics, weights and their updates.

Each monitor is a training callback (use it in ``fit(..., callbacks=[...])``)
that can also be driven by hand in a PyTorch-style loop (``monitor.record()``
after ``loss.backward()``). Nothing is hooked into the model until a monitor is
attached, so training without monitors pays nothing.
"""
import math

import numpy as np

from ..training.callbacks import Callback

__all__ = ["GradientFlow", "ActivationStats", "WeightTracker"]


def _layer_of(name):
    return name.rsplit(".", 1)[0] if "." in name else name


class GradientFlow(Callback):
    """Per-parameter gradient norms after each backward, with vanishing/exploding warnings.

    ``history[name]`` is the list of L2 norms of ``param.grad`` over recorded steps.
    ``warnings`` holds plain-language notes, e.g. 'gradients of layer1.weight are vanishing
    (norm 3e-09 < 1e-07): the layers before it barely learn'.
    """

    def __init__(self, model=None, every=1, vanish=1e-7, explode=1e3):
        super().__init__()
        self.every, self.vanish, self.explode = every, vanish, explode
        self.history, self.warnings, self.steps = {}, [], 0
        self._warned = set()
        if model is not None:
            self.set_model(model)

    def set_model(self, model):
        self.model = model

    def record(self):
        """Read ``.grad`` of every parameter now (call after ``loss.backward()``)."""
        self.steps += 1
        if (self.steps - 1) % self.every:
            return
        for name, p in self.model.named_parameters():
            if p.grad is None:
                continue
            norm = float(np.sqrt(np.sum(np.square(p.grad._data, dtype=np.float64))))
            self.history.setdefault(name, []).append(norm)
            self._check(name, norm)

    def _check(self, name, norm):
        if not math.isfinite(norm) or norm > self.explode:
            key = (name, "explode")
            if key not in self._warned:
                self._warned.add(key)
                self.warnings.append(f"gradients of {name} are exploding (norm {norm:.3g} > {self.explode:g}): "
                                     "lower the learning rate, clip gradients (nn.utils.clip_grad_norm_) or normalise inputs")
        elif norm < self.vanish and "bias" not in name:
            key = (name, "vanish")
            if key not in self._warned:
                self._warned.add(key)
                self.warnings.append(f"gradients of {name} are vanishing (norm {norm:.3g} < {self.vanish:g}): the "
                                     "layers before it barely learn; try ReLU instead of sigmoid/tanh, normalisation "
                                     "layers, or residual connections")

    def on_train_batch_end(self, batch, logs=None):
        self.record()

    def summary(self):
        """{name: (first, last, mean) norm}."""
        return {k: (v[0], v[-1], float(np.mean(v))) for k, v in self.history.items()}


def _keras_activation(module):
    """The activation name of a Keras-style layer (``Dense(8, activation='relu')``), or None."""
    fn = getattr(module, "activation", None)
    if fn is None or not callable(fn) or not hasattr(module, "build"):
        return None
    from ..layers import activations
    try:
        return activations.serialize(fn)
    except (TypeError, ValueError, KeyError):
        return None


class ActivationStats(Callback):
    """Forward hooks on activation layers: dead ReLUs and sigmoid/tanh saturation.

    A ReLU unit is *dead* when it outputs 0 for every sample seen (in training mode, since the start of the
    current epoch): no gradient reaches its weights, so it never recovers. About half of a healthy ReLU
    layer's outputs are 0 at any time; that is how ReLU works, not a fault. A unit is one feature of a
    (N, features) output, one channel of a convolution's (N, C, H, W) output (channels-last Keras layers:
    the last axis).

    ``history[name]`` is a list of dicts per recorded step: mean, std, and for ReLU/ReLU6 'zeros' (the
    fraction of outputs that are 0) and 'dead' (the fraction of units that are 0 for every sample of the
    batch), for sigmoid/tanh 'saturated' (fraction with |y| > 0.99 for tanh, y < 0.01 or y > 0.99 for
    sigmoid). ``dead_units[name]`` is (dead, units) over the samples seen; ``warnings`` (filled at the end of
    training, for layers with more than ``dead_warning`` = 75% of their units dead) name each layer by its
    module path and type. Call ``remove()`` (or let ``on_train_end`` do it)
    to detach the hooks.
    """

    KINDS = {"ReLU": "relu", "ReLU6": "relu", "LeakyReLU": "smooth", "Sigmoid": "sigmoid", "Tanh": "tanh",
             "GELU": "smooth", "SiLU": "smooth", "ELU": "smooth"}
    # NOTE: a trained, healthy network can have many dead units: the CNN demo (96% accuracy) ends with up to
    # half of its 64 hidden units dead (its Linear layer sees only non-negative, post-ReLU inputs). The warning
    # is for layers where most units died (learning rate too high, a bad initialisation).
    dead_warning = 0.75         # warn when more than this fraction of a layer's units is dead

    def __init__(self, model=None, every=1):
        super().__init__()
        self.every, self.history, self.handles, self._calls = every, {}, [], 0
        self.warnings, self.labels, self._alive = [], {}, {}
        if model is not None:
            self.attach(model)

    def attach(self, model):
        self.remove()
        self.model = model
        for name, module in model.named_modules():
            kind = self.KINDS.get(type(module).__name__)
            activation = _keras_activation(module)
            if kind is None and activation in ("relu", "sigmoid", "tanh"):
                kind = activation
            if kind is not None:
                path = name or type(module).__name__
                self.labels[path] = f"{path} ({type(module).__name__}" + \
                    (f", activation='{activation}')" if activation and type(module).__name__ not in self.KINDS else ")")
                self.handles.append(module.register_forward_hook(self._hook(path, kind)))
        return self

    @property
    def dead_units(self):
        """{name: (dead units, units)} over the samples seen since the epoch began."""
        return {name: (int((~alive).sum()), int(alive.size)) for name, alive in self._alive.items()}

    @staticmethod
    def _units_alive(module, y):
        """Per unit, whether it output anything but 0 for some sample of this batch."""
        if y.ndim < 2:
            return y != 0
        axis = y.ndim - 1 if y.ndim == 2 or getattr(module, "data_format", None) == "channels_last" else 1
        return np.moveaxis(y != 0, axis, -1).reshape(-1, y.shape[axis]).any(axis=0)

    def _hook(self, name, kind):
        def hook(module, inputs, output):
            if not module.training:
                return
            y = output._data
            if kind == "relu":                  # every batch counts towards "every sample seen"
                alive = self._units_alive(module, y)
                seen = self._alive.get(name)
                self._alive[name] = alive if seen is None or seen.shape != alive.shape else seen | alive
            self._calls += 1
            if (self._calls - 1) % self.every:
                return
            stats = {"mean": float(y.mean()), "std": float(y.std())}
            if kind == "relu":
                stats["zeros"] = float(np.mean(y == 0))
                stats["dead"] = float(1.0 - np.mean(alive))
            elif kind == "sigmoid":
                stats["saturated"] = float(np.mean((y < 0.01) | (y > 0.99)))
            elif kind == "tanh":
                stats["saturated"] = float(np.mean(np.abs(y) > 0.99))
            self.history.setdefault(name, []).append(stats)
        return hook

    def set_model(self, model):
        if getattr(self, "model", None) is not model:
            self.attach(model)

    def on_epoch_begin(self, epoch, logs=None):
        self._alive = {}                # dead = 0 for every sample of the epoch so far

    def on_train_end(self, logs=None):
        for name, (dead, units) in self.dead_units.items():
            if dead and dead > self.dead_warning * units:
                self.warnings.append(f"{self.labels.get(name, name)}: {dead} of its {units} units output 0 for "
                                     "every sample seen (dead ReLUs: no gradient reaches them); try a smaller "
                                     "learning rate, LeakyReLU, or He (kaiming) initialisation")
        for name, rows in self.history.items():
            last = rows[-1]
            if last.get("saturated", 0) > 0.5:
                self.warnings.append(f"{self.labels.get(name, name)}: {last['saturated']:.0%} of its outputs are "
                                     "saturated (gradient ~0): normalise inputs or use ReLU-family activations")
        self.remove()

    def remove(self):
        for h in self.handles:
            h.remove()
        self.handles = []


class WeightTracker(Callback):
    """Snapshots of the weights at the start and end of each epoch: for weight and update histograms.

    ``weights[name]`` is the latest array; ``updates[name]`` the change over the last epoch;
    ``update_ratio[name]`` the list of |update| / |weight| per epoch (healthy: around 1e-3 per step).
    """

    def __init__(self, model=None):
        super().__init__()
        self.weights, self.updates, self.update_ratio, self._start = {}, {}, {}, {}
        if model is not None:
            self.set_model(model)

    def snapshot(self):
        return {n: p._data.copy() for n, p in self.model.named_parameters()}

    def on_epoch_begin(self, epoch, logs=None):
        self._start = self.snapshot()

    def on_epoch_end(self, epoch, logs=None):
        now = self.snapshot()
        for name, w in now.items():
            if name in self._start:
                delta = w - self._start[name]
                self.updates[name] = delta
                ratio = float(np.linalg.norm(delta) / (np.linalg.norm(w) + 1e-12))
                self.update_ratio.setdefault(name, []).append(ratio)
        self.weights = now
