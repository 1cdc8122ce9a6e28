"""PyTorch's ``out=`` keyword for functions that compute a fresh result."""
import functools

from ..autograd.grad_mode import no_grad, is_grad_enabled
from ..tensor import Tensor


def supports_out(function):
    """Let ``function`` accept ``out=``: its result is copied into the given tensor (or tuple of tensors, for
    functions returning several), which must already have the result's shape, and ``out`` is returned.

    As in PyTorch, ``out=`` is refused while an argument requires grad (the copy would not be differentiable).
    """
    @functools.wraps(function)
    def wrapper(*args, out=None, **kwargs):
        result = function(*args, **kwargs)
        if out is None:
            return result
        name = function.__name__
        values = tuple(args) + tuple(kwargs.values())
        if is_grad_enabled() and any(isinstance(v, Tensor) and v.requires_grad for v in values):
            raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic differentiation, "
                               "but one of the arguments requires grad.")
        results = result if isinstance(result, tuple) else (result,)
        outs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
        if len(outs) != len(results):
            raise TypeError(f"{name}(): out must be a tuple of {len(results)} tensors, got {len(outs)}")
        for o, r in zip(outs, results):
            if tuple(o.shape) != tuple(r.shape):
                raise RuntimeError(f"{name}(): out has shape {list(o.shape)} but the result has shape "
                                   f"{list(r.shape)} (deepdive does not resize out= tensors)")
            with no_grad():
                o.copy_(r)
        return type(result)(*outs) if isinstance(result, tuple) else out
    return wrapper
