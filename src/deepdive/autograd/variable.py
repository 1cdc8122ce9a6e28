"""``Variable``: the pre-0.4 PyTorch wrapper, kept because published code still writes it.

Since PyTorch 0.4 a Variable *is* a Tensor: ``Variable(t, requires_grad=True)``
returns a Tensor sharing ``t``'s values, a new leaf of the graph, and
``isinstance(x, Variable)`` holds for every tensor. deepdive does the same.
"""
import warnings

from ..tensor import Tensor


class _VariableMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor)

    def __call__(cls, data, requires_grad=False, volatile=False):
        if volatile:
            warnings.warn("volatile was removed and now has no effect. Use `with torch.no_grad():` instead.",
                          stacklevel=2)
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        out = data.detach()
        if requires_grad:
            out.requires_grad_(True)
        return out


class Variable(metaclass=_VariableMeta):
    """``Variable(tensor, requires_grad=False)`` -> a Tensor (shares values; a leaf)."""
