"""Anomaly detection: ``set_detect_anomaly(True)`` / ``with detect_anomaly():``.

While on, every backward node's gradients are checked as soon as it has run,
and the first NaN raises PyTorch's error naming the node, instead of a NaN
surfacing later in the weights. It watches through the engine's observer hook,
so it costs nothing while off.
"""
import functools

import numpy as np

from . import engine

_STATE = {"enabled": False, "check_nan": True}


def _check_nan(node, grad_outputs, grad_inputs):
    if not _STATE["check_nan"]:
        return
    for i, grad in enumerate(grad_inputs):
        if grad is not None and np.isnan(np.asarray(grad)).any():
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")


def _switch(enabled, check_nan):
    _STATE["enabled"], _STATE["check_nan"] = bool(enabled), bool(check_nan)
    if enabled and _check_nan not in engine.OBSERVERS:
        engine.OBSERVERS.append(_check_nan)
    elif not enabled and _check_nan in engine.OBSERVERS:
        engine.OBSERVERS.remove(_check_nan)


def is_anomaly_enabled():
    return _STATE["enabled"]


def is_anomaly_check_nan_enabled():
    return _STATE["check_nan"]


class detect_anomaly:
    """Context manager / decorator that turns anomaly detection on inside it."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        self.prev = (_STATE["enabled"], _STATE["check_nan"])
        _switch(True, self.check_nan)

    def __exit__(self, *exc):
        _switch(*self.prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)
        return wrapper


class set_detect_anomaly:
    """``set_detect_anomaly(True)`` switches at once; as a context manager it restores the old mode after."""

    def __init__(self, mode, check_nan=True):
        self.prev = (_STATE["enabled"], _STATE["check_nan"])
        _switch(mode, check_nan)

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _switch(*self.prev)
        return False
