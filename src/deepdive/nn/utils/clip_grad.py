"""Gradient clipping: rescale (by the total norm) or clamp (by value) the gradients of parameters in place."""
import math

import numpy as np

from ...tensor import Tensor, _wrap

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _norm(array, norm_type):
    a = np.abs(array.astype(np.float64, copy=False)).reshape(-1)
    if norm_type == math.inf:
        return a.max() if a.size else 0.0
    if norm_type == -math.inf:
        return a.min() if a.size else math.inf
    if norm_type == 0:
        return float(np.count_nonzero(a))
    return float(np.sum(a ** norm_type) ** (1.0 / norm_type))


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of all the tensors' values together (as if concatenated into one vector)."""
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = [t for t in tensors if t is not None]
    norm_type = float(norm_type)
    dtype = tensors[0]._data.dtype if tensors else np.float32
    if not tensors:
        return _wrap(np.array(0.0, dtype=np.float32))
    norms = np.array([_norm(t._data, norm_type) for t in tensors])
    total = _norm(norms, norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so "
                           "it cannot be clipped. To disable this error and scale the gradients by the non-finite "
                           "norm anyway, set `error_if_nonfinite=False`")
    return _wrap(np.array(total, dtype=dtype))


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale the gradients by min(1, max_norm / (total_norm + 1e-6))."""
    grads = _grads(parameters)
    total = float(total_norm._data if isinstance(total_norm, Tensor) else total_norm)
    coef = float(max_norm) / (total + 1e-6)     # 1e-6 guards against a zero norm, as in PyTorch
    if coef < 1 or math.isnan(coef):
        with np.errstate(invalid="ignore"):      # an inf gradient times 0 gives nan, as in PyTorch
            for g in grads:
                g._data *= g._data.dtype.type(coef)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Rescale all gradients together so that their total ``norm_type``-norm is at most ``max_norm``.

    g <- g * min(1, max_norm / (total_norm + 1e-6)).  Returns the total norm (before clipping) as a Tensor.
    ``norm_type`` may be ``inf`` (the largest absolute value).
    """
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)   # a generator is read once
    grads = _grads(parameters)
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    if grads:
        clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element into [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        np.clip(g._data, -clip_value, clip_value, out=g._data)
