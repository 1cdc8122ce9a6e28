"""Comparisons and logical ops: boolean results, no gradient."""
import numpy as np

from ..tensor import Tensor, _wrap
from ._util import binary_operands, broadcast_error

__all__ = ["eq", "ne", "lt", "le", "gt", "ge", "greater", "less", "greater_equal", "less_equal", "not_equal",
           "isnan", "isinf", "isfinite", "isclose", "allclose", "equal", "logical_and", "logical_or", "logical_not",
           "logical_xor", "isposinf", "isneginf", "bitwise_and", "bitwise_or", "bitwise_not", "bitwise_xor"]
METHODS = [n for n in __all__] + ["__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__and__", "__or__",
                                  "__xor__", "__invert__", "__rand__", "__ror__", "__rxor__"]


def _compare(ufunc, name):
    def op(input, other):
        a, b = binary_operands(input, other)
        try:
            return _wrap(ufunc(a._data, b._data if isinstance(b, Tensor) else b))
        except ValueError:
            raise broadcast_error(name, a.shape, np.shape(b._data if isinstance(b, Tensor) else b)) from None
    op.__name__ = name
    op.__doc__ = f"Elementwise {name} (a bool tensor; comparisons carry no gradient)."
    return op


eq = _compare(np.equal, "eq")
ne = not_equal = _compare(np.not_equal, "ne")
lt = less = _compare(np.less, "lt")
le = less_equal = _compare(np.less_equal, "le")
gt = greater = _compare(np.greater, "gt")
ge = greater_equal = _compare(np.greater_equal, "ge")
logical_and = _compare(np.logical_and, "logical_and")
logical_or = _compare(np.logical_or, "logical_or")
logical_xor = _compare(np.logical_xor, "logical_xor")
bitwise_and = _compare(np.bitwise_and, "bitwise_and")
bitwise_or = _compare(np.bitwise_or, "bitwise_or")
bitwise_xor = _compare(np.bitwise_xor, "bitwise_xor")


def __eq__(self, other):
    if other is None:
        return False
    return eq(self, other)


def __ne__(self, other):
    if other is None:
        return True
    return ne(self, other)


__lt__, __le__, __gt__, __ge__ = lt, le, gt, ge
__and__ = __rand__ = bitwise_and
__or__ = __ror__ = bitwise_or
__xor__ = __rxor__ = bitwise_xor


def bitwise_not(input):
    return _wrap(np.invert(input._data))


__invert__ = bitwise_not


def logical_not(input):
    return _wrap(np.logical_not(input._data))


def isnan(input):
    return _wrap(np.isnan(input._data))


def isinf(input):
    return _wrap(np.isinf(input._data))


def isposinf(input):
    return _wrap(np.isposinf(input._data))


def isneginf(input):
    return _wrap(np.isneginf(input._data))


def isfinite(input):
    return _wrap(np.isfinite(input._data))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return _wrap(np.isclose(input._data, other._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(np.allclose(input._data, other._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(input, other):
    """True if both tensors have the same shape and values."""
    return input.shape == other.shape and bool((input._data == other._data).all())
