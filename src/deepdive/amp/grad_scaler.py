"""GradScaler: loss scaling for mixed precision, PyTorch's algorithm.

Small gradients underflow to zero in float16. Scaling the loss by S scales every
gradient by S (the chain rule is linear), lifting them into range; before the
optimizer step they are divided by S again. If any gradient came out inf/NaN
(S too large), the step is skipped and S shrinks; after ``growth_interval``
clean steps in a row it grows:

    unscale_:  g <- g * (1/S) (float32);  found_inf = any(!isfinite(g))
    step:      optimizer.step() unless found_inf
    update:    found_inf ? (S <- S * backoff_factor, tracker <- 0)
                         : (tracker += 1; tracker == growth_interval ? (S <- S * growth_factor, tracker <- 0))
"""
import warnings

import numpy as np

from ..tensor import Tensor, _wrap

__all__ = ["GradScaler"]

_READY, _UNSCALED, _STEPPED = 0, 1, 2


class GradScaler:
    """``GradScaler(device="cuda", init_scale=2.**16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
    enabled=True)``.

    Pass ``device="cpu"`` (``deepdive.amp.GradScaler("cpu")``): with the default ``"cuda"``, as in PyTorch on a
    machine without CUDA, it warns and disables itself (``scale`` then returns the loss unchanged and ``step``
    just calls ``optimizer.step()``).
    """

    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        self._device = str(device)
        if enabled and self._device != "cpu":
            warnings.warn(f"deepdive.amp.GradScaler is enabled for device {self._device!r}, but CUDA is not "
                          "available.  Disabling.")
            enabled = False
        self._enabled = enabled
        if not 0.0 < backoff_factor < 1.0:
            raise AssertionError("The backoff factor must be < 1.0.")
        if growth_factor <= 1.0:
            raise AssertionError("The growth factor must be > 1.0.")
        self._scale = np.float32(init_scale)
        self._growth_factor, self._backoff_factor = growth_factor, backoff_factor
        self._growth_interval = growth_interval
        self._growth_tracker = 0
        self._per_optimizer_states = {}

    def is_enabled(self):
        return self._enabled

    def get_scale(self):
        return float(self._scale) if self._enabled else 1.0

    def get_growth_factor(self):
        return self._growth_factor

    def get_backoff_factor(self):
        return self._backoff_factor

    def get_growth_interval(self):
        return self._growth_interval

    def _state(self, optimizer):
        return self._per_optimizer_states.setdefault(id(optimizer), {"stage": _READY, "found_inf": False})

    def scale(self, outputs):
        """``outputs * S`` (a tensor, or a list/tuple of them)."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            return outputs * _wrap(np.array(self._scale, dtype=np.float32))
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def unscale_(self, optimizer):
        """Divide this optimizer's gradients by S in place (call before clipping them)."""
        if not self._enabled:
            return
        state = self._state(optimizer)
        if state["stage"] is _UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if state["stage"] is _STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        inv_scale = np.float32(np.float64(1.0) / np.float64(self._scale))      # PyTorch: double reciprocal
        found_inf = False
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad._data.dtype == np.float16:
                    raise ValueError("Attempting to unscale FP16 gradients.")
                g = p.grad._data
                g *= inv_scale
                if not np.isfinite(g).all():
                    found_inf = True
        state["found_inf"], state["stage"] = found_inf, _UNSCALED

    def step(self, optimizer, *args, **kwargs):
        """``optimizer.step()`` on unscaled gradients, skipped if any is inf/NaN; returns its result or None."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        state = self._state(optimizer)
        if state["stage"] is _STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] is _READY:
            self.unscale_(optimizer)
        result = None if state["found_inf"] else optimizer.step(*args, **kwargs)
        state["stage"] = _STEPPED
        return result

    def update(self, new_scale=None):
        """Shrink S after an inf/NaN step, grow it after ``growth_interval`` clean ones (or set ``new_scale``)."""
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = np.float32(new_scale.item() if isinstance(new_scale, Tensor) else new_scale)
        else:
            if not self._per_optimizer_states:
                raise AssertionError("No inf checks were recorded prior to update.")
            if any(s["found_inf"] for s in self._per_optimizer_states.values()):
                self._scale = np.float32(self._scale * np.float32(self._backoff_factor))
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    grown = np.float32(self._scale * np.float32(self._growth_factor))
                    if np.isfinite(grown):
                        self._scale = grown
                    self._growth_tracker = 0
        self._per_optimizer_states = {}

    def state_dict(self):
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict):
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved from a disabled "
                               "instance of GradScaler.")
        self._scale = np.float32(state_dict["scale"])
        self._growth_factor = state_dict["growth_factor"]
        self._backoff_factor = state_dict["backoff_factor"]
        self._growth_interval = state_dict["growth_interval"]
        self._growth_tracker = state_dict["_growth_tracker"]
