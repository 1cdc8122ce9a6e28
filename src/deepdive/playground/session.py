"""A training session the page watches: a model trained in a worker thread, and snapshots of it for the page.

Training and drawing run at their own speeds: the worker takes optimisation steps as fast as it can while
playing, and the server asks for a ``snapshot()`` at a steady frame rate (``server.FRAME_RATE``); one lock
keeps a snapshot from seeing half a step. A snapshot runs the model in eval mode without grad and draws no
random numbers, so watching never changes what training does: the page's numbers are the program's.

``PlaygroundSession`` trains the post's ``SimpleNN`` built from the page's settings (see ``program.py``);
``WatchSession`` trains a user's own model on their own data (``deepdive.playground.watch``).
"""
import base64
import contextlib
import io
import threading
import zipfile

import numpy as np

from .. import datasets, nn, optim
from ..autograd.grad_mode import no_grad
from ..random import get_rng_state, manual_seed, set_rng_state
from ..tensor import Tensor, _wrap
from ..utils.data import DataLoader, TensorDataset
from . import program
from .settings import ACTIVATIONS, MAX_STEPS_PER_REQUEST, MAX_TOTAL_STEPS, SettingsError, validate

BOUNDARY_GRID = 40           # the decision boundary: 40 x 40 predictions over the input plane
NEURON_GRID = 14             # each neuron's heat map: 14 x 14 (small multiples, as TF Playground draws them)


def _bytes(values):
    """Values in [0, 1] as base64 of uint8: 4x smaller than JSON numbers, and the page only has 256 colours."""
    scaled = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.5) * 255      # a diverged model: grey
    return base64.b64encode(np.clip(np.rint(scaled), 0, 255).astype(np.uint8).tobytes()).decode()


def _grid(extent, n):
    x0, x1, y0, y1 = extent
    xs, ys = np.linspace(x0, x1, n), np.linspace(y1, y0, n)     # row 0 is the top of the picture
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)


def _extent(x):
    low, high = x.min(0), x.max(0)
    margin = 0.1 * (high - low) + 1e-3
    return [float(low[0] - margin[0]), float(high[0] + margin[0]), float(low[1] - margin[1]),
            float(high[1] + margin[1])]


def _softmax(logits):
    if logits.shape[1] == 1:                      # one output: a binary classifier's logit
        p = 1 / (1 + np.exp(-logits))
        return np.concatenate([1 - p, p], 1)
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


MAX_CURVE_POINTS = 400       # a frame carries at most this many points per curve: long runs stay cheap to send


def _thinned(history):
    """Every k-th point of each curve (and always the last), so a frame's size stays bounded however long
    training runs; the overfitting verdict is computed on the full history."""
    n = len(history["step"])
    keep = sorted(set(range(0, n, -(-n // MAX_CURVE_POINTS))) | {n - 1}) if n > MAX_CURVE_POINTS else range(n)
    return {k: [v[i] for i in keep] for k, v in history.items()}


class _Session:
    """The worker thread, play / pause / step, the history, and the parts of a snapshot any model has."""

    mode = "watch"

    def __init__(self):
        self.lock = threading.RLock()
        self._wake = threading.Condition(self.lock)
        self.running, self._closed, self.error = False, False, None
        self.version = 0                           # bumped on every rebuild: the page redraws the network
        self._cache = (None, None)                 # (state key, snapshot) of the last snapshot
        self._thread = threading.Thread(target=self._work, name="deepdive-playground-trainer", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def close(self):
        with self.lock:
            self._closed, self.running = True, False
            self._wake.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    # ---------------------------------------------------------------- training
    def _reset_counters(self):
        self.steps, self.epoch, self.history = 0, 0, {k: [] for k in ("step", "loss", "accuracy", "val_loss",
                                                                       "val_accuracy")}
        self.grad_flow, self.error = {}, None
        self.version += 1

    def _work(self):
        while True:
            with self.lock:
                while not self.running and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                self._guarded_step()
            # NOTE: outside the lock between steps, so a snapshot or a request never waits for more than one step

    @contextlib.contextmanager
    def _own_rng(self):
        """Run with this session's own random stream (shuffling, dropout), as if it were alone in the process:
        another session, or the user's code next to watch(), drawing numbers cannot change its training."""
        outside = get_rng_state()
        set_rng_state(self._rng_state)
        try:
            yield
        finally:
            self._rng_state = get_rng_state()
            set_rng_state(outside)

    def _guarded_step(self):
        try:
            with self._own_rng(), np.errstate(over="ignore", invalid="ignore"):   # a divergence is reported below
                self._step()
        except Exception as e:                   # a diverging model (NaN) or a user's model raising: show it, pause
            self.error, self.running = f"{type(e).__name__}: {e}", False
            return
        if self.steps >= MAX_TOTAL_STEPS:
            self.running = False

    def control(self, action, count=1):
        """'play', 'pause', 'step' (``count`` steps, at most MAX_STEPS_PER_REQUEST) or 'reset'."""
        with self.lock:
            if action == "play":
                self.running = True
                self._wake.notify_all()
            elif action == "pause":
                self.running = False
            elif action == "step":
                if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_STEPS_PER_REQUEST:
                    raise SettingsError(f"playground: step count must be a whole number from 1 to "
                                        f"{MAX_STEPS_PER_REQUEST}, got {count!r}")
                self.running = False
                for _ in range(count):
                    self._guarded_step()
                    if self.error:
                        break
            elif action == "reset":
                self.running = False
                self.reset()
            else:
                raise SettingsError(f"playground: unknown action {action!r}; the actions are play, pause, step, reset")

    def _record_epoch(self):
        """One point of each curve (eval mode, the whole training and validation sets) and the verdict."""
        train, val = self._evaluate(*self.train), self._evaluate(*self.val) if self.val else (None, None)
        h = self.history
        h["step"].append(self.steps)
        h["loss"].append(train[0]), h["accuracy"].append(train[1])
        h["val_loss"].append(val[0]), h["val_accuracy"].append(val[1])

    def _evaluate(self, x, y):
        model = self.model
        was_training = model.training
        model.eval()
        try:
            with no_grad():
                out = model(x)
                loss = float(self.loss_fn(out, y)._data)
        finally:
            model.train(was_training)
        accuracy = None
        o, t = out._data, y._data
        if o.ndim == 2 and t.ndim == 1 and np.issubdtype(t.dtype, np.integer):
            accuracy = float((o.argmax(1) == t).mean()) if o.shape[1] > 1 else float(((o[:, 0] > 0) == t).mean())
        return loss, accuracy

    def _record_grad_flow(self):
        """Mean |dL/dw| per weight: vanishing gradients show as a bar that shrinks towards the input."""
        self.grad_flow = {name: float(np.abs(p.grad._data).mean()) for name, p in self.model.named_parameters()
                          if p.grad is not None and p.ndim >= 2}

    # ---------------------------------------------------------------- snapshot
    def _verdict(self):
        from ..training.monitor import detect_overfitting
        h = self.history
        if len(h["val_loss"]) < 2 or h["val_loss"][0] is None:
            return None
        verdict = detect_overfitting(h["loss"], h["val_loss"])
        return verdict["message"] if verdict["detected"] else None

    def _activation_stats(self, x):
        """Per leaf module: mean and std of its output on ``x``, and the fraction of exact zeros (dead ReLUs)."""
        stats, hooks = [], []

        def record(name):
            def hook(module, inputs, output):
                if isinstance(output, Tensor):
                    a = output._data
                    stats.append({"name": name, "type": type(module).__name__, "mean": float(a.mean()),
                                  "std": float(a.std()), "zeros": float((a == 0).mean())})
            return hook
        for name, module in self.model.named_modules():
            if name and not list(module.children()):
                hooks.append(module.register_forward_hook(record(name)))
        try:
            with no_grad():
                self.model(x)
        finally:
            for h in hooks:
                h.remove()
        return stats

    def snapshot(self):
        """Everything the page draws, as a JSON-ready dict (one computation shared by every open tab)."""
        with self.lock:
            key = (self.version, self.steps, self.running, self.error)
            if self._cache[0] != key:
                self._cache = (key, self._snapshot())
            return self._cache[1]

    def _snapshot(self):
        with self.lock:
            model = self.model
            was_training = model.training
            model.eval()
            try:
                snap = {"mode": self.mode, "version": self.version, "steps": self.steps, "epoch": self.epoch,
                        "running": self.running, "error": self.error,
                        "history": _thinned(self.history),
                        "grad_flow": dict(self.grad_flow), "verdict": self._verdict()}
                snap["loss"], snap["accuracy"] = self._evaluate(*self.train)
                if self.val:
                    snap["val_loss"], snap["val_accuracy"] = self._evaluate(*self.val)
                sample = self.val[0] if self.val else self.train[0]
                snap["activations"] = self._activation_stats(sample[:256])
                if self.train[0].ndim == 2 and self.train[0].shape[1] == 2:
                    snap["boundary"] = self._boundary()
                snap.update(self._extra())
            finally:
                model.train(was_training)
        return snap

    def _extra(self):
        return {}

    def points(self):
        """The data points (2-D inputs only) for the page to draw: [[x, y, label], ...] per split."""
        out = {}
        for split, data in (("train", self.train), ("val", self.val)):
            if data and data[0].ndim == 2 and data[0].shape[1] == 2:
                x, y = data[0]._data, data[1]._data
                out[split] = [[round(float(a), 4), round(float(b), 4), int(c)] for (a, b), c in zip(x, y)]
        return out

    def _boundary(self):
        extent = _extent(np.concatenate([d[0]._data for d in (self.train, self.val) if d]))
        with no_grad():
            probs = _softmax(self.model(_wrap(_grid(extent, BOUNDARY_GRID)))._data.astype(np.float64))
        return {"n": BOUNDARY_GRID, "extent": extent, "classes": probs.shape[1], "probs": _bytes(probs)}

    def close_enough_point(self, x, y):
        """The data point nearest to (x, y) on the page: (input, label, split, index)."""
        if self.train[0].ndim != 2 or self.train[0].shape[1] != 2:
            raise SettingsError(f"playground: points are picked on the plane of a 2-D input; this model's input "
                                f"has shape {list(self.train[0].shape[1:])}")
        best = None
        for split, data in (("train", self.train), ("val", self.val)):
            if not data:
                continue
            d = ((data[0]._data - np.array([x, y], np.float32)) ** 2).sum(1)
            i = int(d.argmin())
            if best is None or d[i] < best[0]:
                best = (d[i], data[0][i:i + 1], data[1][i:i + 1], split, i)
        return best[1:]

    def explain(self, x, y):
        """The backward pass for the data point nearest to (x, y), step by step (``viz.explain_backward``)."""
        from ..viz import explain_backward
        with self.lock:
            point, label, split, index = self.close_enough_point(x, y)
            model = self.model
            was_training = model.training
            model.eval()                             # no dropout: explaining draws no random numbers
            try:
                loss = self.loss_fn(model(point), label)
                text = str(explain_backward(loss, params=model))
            finally:
                model.train(was_training)
        return {"point": [float(v) for v in point._data[0]], "label": int(label._data[0]), "split": split,
                "index": index, "loss": float(loss._data), "backward": text}


def _tensor_pair(data, name):
    x, y = data
    x = x if isinstance(x, Tensor) else _wrap(np.asarray(x, dtype=np.float32))
    y = y if isinstance(y, Tensor) else _wrap(np.asarray(y))
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"watch: {name} has {x.shape[0]} inputs but {y.shape[0]} targets")
    return x, y


class PlaygroundSession(_Session):
    """The post's SimpleNN on a built-in 2-D data set, built and trained exactly as ``program.program`` does."""

    mode = "playground"

    def __init__(self, settings=None):
        super().__init__()
        self.settings = validate(settings or {})
        self.reset()

    def configure(self, changes):
        """Change settings (a dict of only what changes); the model is rebuilt from the seed, as the code is."""
        with self.lock:
            self.settings = validate(changes, self.settings)
            self.reset()
            self._wake.notify_all()
        return self.settings

    def reset(self):
        with self.lock:
            s = self.settings
            fn, kwargs = program.dataset_call(s)
            outside = get_rng_state()
            manual_seed(s["seed"])                      # the program's torch.manual_seed(seed), then its model
            X, y = getattr(datasets, fn)(**kwargs)
            n_val = program.n_val(s)
            self.train, self.val = (X[n_val:], y[n_val:]), (X[:n_val], y[:n_val])
            namespace = {"nn": nn}
            exec(program.model_source(s), namespace)   # NOTE: the program's own class: the page trains its code
            self.model = namespace["SimpleNN"]()
            self._rng_state = get_rng_state()
            set_rng_state(outside)
            self.loss_fn = nn.CrossEntropyLoss()
            opt = program.optimizer_source(s).replace("optim.", "", 1)
            self.optimizer = eval(opt, {**vars(optim), "model": self.model})
            self.weights = [m.weight for m in self.model.modules() if isinstance(m, nn.Linear)]
            self.loader = DataLoader(TensorDataset(*self.train), batch_size=s["batch_size"], shuffle=True,
                                     drop_last=True)
            self._batches = None
            self._reset_counters()
            self._record_epoch()

    def _step(self):
        """One step of the program's loop: ``for inputs, labels in train_loader`` resumed where it stopped."""
        if self._batches is None:
            self._batches = iter(self.loader)
        try:
            inputs, labels = next(self._batches)
        except StopIteration:
            self._batches = iter(self.loader)
            inputs, labels = next(self._batches)
        self.model.train()
        loss = self.loss_fn(self.model(inputs), labels)
        if self.settings["l1"] > 0:
            loss = loss + self.settings["l1"] * sum(w.abs().sum() for w in self.weights)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        if not np.isfinite(float(loss._data)):
            raise FloatingPointError("the loss is not finite: the learning rate is too large for this network; "
                                     "lower it and reset")
        self.steps += 1
        self._record_grad_flow()
        if self.steps % len(self.loader) == 0:
            self.epoch += 1
            self._record_epoch()

    def _layers(self):
        """[(index, Linear, the modules that follow it up to the next Linear)] of SimpleNN, in forward order."""
        layers = []
        for name, module in self.model.named_children():
            if isinstance(module, nn.Linear):
                layers.append([name, module, []])
            else:
                layers[-1][2].append((name, module))
        return layers

    def _extra(self):
        """The network view: each hidden unit's output over the input plane, and every weight."""
        extent = _extent(np.concatenate([self.train[0]._data, self.val[0]._data]))
        out = _wrap(_grid(extent, NEURON_GRID))
        layers, maps = [], []
        with no_grad():
            for name, linear, after in self._layers():
                out = linear(out)
                for _, module in after:
                    out = module(out)
                layers.append({"name": name, "weight": np.round(linear.weight._data, 3).tolist(),
                               "bias": np.round(linear.bias._data, 3).tolist(),
                               "after": [type(m).__name__ for _, m in after]})
                if after:                                       # a hidden layer: one heat map per unit
                    a = out._data.astype(np.float64)
                    # NOTE: each unit on its own scale, [-max|a|, max|a|] -> [0, 1]: one layer-wide scale left
                    # most ReLU units near white; the numbers themselves are in the neuron view
                    scale = np.abs(a).max(0, keepdims=True) + 1e-12
                    maps.append(_bytes((a / scale + 1).T / 2))
        return {"settings": self.settings, "layers": layers, "neuron_maps": maps, "neuron_grid": NEURON_GRID,
                "architecture": repr(self.model)}

    def neuron(self, layer, unit, x, y):
        """``viz.explain_neuron`` for hidden unit ``unit`` of hidden layer ``layer`` (1-based, as fc1, fc2...),
        on the data point nearest to (x, y)."""
        from ..viz import explain_neuron
        with self.lock:
            layers = self._layers()[:-1]
            if isinstance(layer, bool) or not isinstance(layer, int) or not 1 <= layer <= len(layers):
                raise SettingsError(f"playground: layer={layer!r} is not a hidden layer (1 to {len(layers)})")
            name, linear, after = layers[layer - 1]
            if isinstance(unit, bool) or not isinstance(unit, int) or not 0 <= unit < linear.out_features:
                raise SettingsError(f"playground: unit={unit!r} is out of range: layer {layer} has "
                                    f"{linear.out_features} units (0 to {linear.out_features - 1})")
            point = self.close_enough_point(x, y)[0]
            self.model.eval()
            try:
                with no_grad():
                    h = point
                    for _, lin, rest in layers[:layer - 1]:
                        h = lin(h)
                        for _, m in rest:
                            h = m(h)
                norm = [type(m).__name__ for _, m in after if "Norm" in type(m).__name__]
                act = next(name for _, m in after for name, cls in ACTIVATIONS.items() if type(m).__name__ == cls)
                text = str(explain_neuron(linear, h, unit=unit, activation=None if norm else act))
                if norm:
                    text += (f"\n  then {norm[0]} normalises z over the {'batch' if 'Batch' in norm[0] else 'layer'}"
                             f" and {act} is applied to the result (σ above is the identity for that reason)")
            finally:
                self.model.train()
        return {"layer": layer, "unit": unit, "text": text}

    def code(self):
        with self.lock:
            return program.program(self.settings, self.steps)

    def download(self):
        """playground.zip: the program and the trained weights (model.safetensors, via ``deepdive.save``)."""
        from ..serialization import save
        with self.lock:
            code = program.program(self.settings, self.steps)
            weights = io.BytesIO()
            save(self.model.state_dict(), weights)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("playground_model.py", code)
            z.writestr("model.safetensors", weights.getvalue())
        return buf.getvalue()



class WatchSession(_Session):
    """A user's own model, loss and optimizer on their own data: curves, gradient flow, activation statistics,
    and the decision boundary when the input is 2-D."""

    def __init__(self, model, train_data, val_data=None, loss_fn=None, optimizer=None, batch_size=32, seed=0):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"watch: model must be an nn.Module, got {type(model).__name__}")
        self.model = model
        self.train = _tensor_pair(train_data, "train_data")
        self.val = _tensor_pair(val_data, "val_data") if val_data is not None else None
        self.loss_fn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss()
        self.optimizer = optimizer if optimizer is not None else optim.Adam(model.parameters(), lr=1e-3)
        outside = get_rng_state()
        manual_seed(seed)
        self._rng_state = get_rng_state()
        set_rng_state(outside)
        self.loader = DataLoader(TensorDataset(*self.train), batch_size=batch_size, shuffle=True)
        self._batches = None
        self._reset_counters()
        self._record_epoch()

    def reset(self):
        raise SettingsError("playground: watch() trains your own model as you built it; it cannot be reset from "
                            "the page (build it again and call watch)")

    def configure(self, changes):
        raise SettingsError("playground: settings belong to the built-in playground; watch() trains your own "
                            "model, loss and optimizer as you passed them")

    def _step(self):
        if self._batches is None:
            self._batches = iter(self.loader)
        batch = next(self._batches, None)
        if batch is None:
            self._batches = iter(self.loader)
            batch = next(self._batches)
        inputs, target = batch
        self.model.train()
        loss = self.loss_fn(self.model(inputs), target)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.steps += 1
        self._record_grad_flow()
        if self.steps % len(self.loader) == 0:
            self.epoch += 1
            self._record_epoch()

    def _extra(self):
        return {"architecture": repr(self.model)}

    def neuron(self, layer, unit, x, y):
        raise SettingsError("playground: the neuron view is for the built-in playground's SimpleNN")

    def code(self):
        raise SettingsError("playground: 'show the code' is for the built-in playground; watch() shows your own model")

    download = code
