"""Elementwise ops: arithmetic with broadcasting, math functions, activations.

Each Function's docstring gives the op and its vector-Jacobian product, with
g = dL/dy the gradient arriving from the output.
"""
import numbers

import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor, _wrap, _TENSOR_TYPES
from ._util import unbroadcast, binary_operands, broadcast_error, as_tensor_arg, keep_where
from .. import _dtype as _dtype_mod
from ._errors import not_implemented_for
from .piecewise import FLOOR, CEIL, TRUNC, ROUND, SIGN, DIV_ROUNDING, FLOOR_DIVIDE

__all__ = ["add", "sub", "mul", "div", "true_divide", "floor_divide", "remainder", "fmod", "neg", "negative", "pow",
           "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "square", "abs", "sin", "cos",
           "tan", "tanh", "sigmoid", "relu", "clamp", "clip", "maximum", "minimum", "where", "reciprocal", "sign",
           "floor", "ceil", "round", "trunc", "frac", "lerp", "addcmul", "addcdiv", "atan2", "subtract", "multiply",
           "divide", "erf", "asin", "acos", "atan", "sinh", "cosh", "xlogy", "nan_to_num", "rsub"]

METHODS = [n for n in __all__ if n not in ("where",)] + [
    "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__",
    "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__neg__", "__pos__", "__pow__", "__rpow__", "__abs__",
    "_where_method"]
ALIASES = {"where": "_where_method"}


# ---------------------------------------------------------------- arithmetic
class Add(Function):
    """z = x + y.   Backward: dx = g,  dy = g   (each summed over broadcast axes)."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.x_shape, ctx.y_shape = x.shape, (y.shape if y.__class__ is np.ndarray else ())
        return x + y

    @staticmethod
    def backward(ctx, grad):
        need_x, need_y = ctx.needs_input_grad
        return (unbroadcast(grad, ctx.x_shape) if need_x else None,
                unbroadcast(grad, ctx.y_shape) if need_y else None)

    graph_backward = backward     # operators only: the same code runs on Tensors (create_graph)


class Sub(Function):
    """z = x - y.   Backward: dx = g,  dy = -g."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.x_shape, ctx.y_shape = x.shape, (y.shape if y.__class__ is np.ndarray else ())
        return x - y

    @staticmethod
    def backward(ctx, grad):
        need_x, need_y = ctx.needs_input_grad
        return (unbroadcast(grad, ctx.x_shape) if need_x else None,
                unbroadcast(-grad, ctx.y_shape) if need_y else None)

    graph_backward = backward     # operators only: the same code runs on Tensors (create_graph)


class Mul(Function):
    """z = x * y.   Backward: dx = g * y,  dy = g * x."""

    @staticmethod
    def forward(ctx, x, y):
        if y.__class__ is np.ndarray:
            ctx.save_for_backward(x, y)
        else:
            # NOTE: x * number needs only the number for dx; not saving x lets x change in place
            # afterwards (micrograd's `d += d * 2`), as PyTorch allows.
            ctx.scalar = y
        return x * y

    @staticmethod
    def backward(ctx, grad):
        if not ctx._saved and not ctx._freed:
            return grad * ctx.scalar, None
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        return (unbroadcast(grad * y, x.shape) if need_x else None,
                unbroadcast(grad * x, np.shape(y)) if need_y else None)

    graph_backward = backward     # operators only: the same code runs on Tensors (create_graph)


class Div(Function):
    """z = x / y.   Backward: dx = g / y,  dy = -g * x / y^2, computed as -g * ((x / y) / y) (PyTorch's rounding)."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        with np.errstate(divide="ignore", invalid="ignore"):     # x / 0 = inf, 0 / 0 = nan, silently as PyTorch
            return x / y

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        # dy as PyTorch's div_tensor_other_backward: -g * ((x / y) / y), never y * y (which under/overflows first)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore", under="ignore"):   # as PyTorch, silent
            return (unbroadcast(grad / y, x.shape) if need_x else None,
                    unbroadcast(-grad * ((x / y) / y), np.shape(y)) if need_y else None)

    graph_backward = backward     # operators only: the same code runs on Tensors (create_graph)


class Neg(Function):
    """y = -x.   Backward: dx = -g."""

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, grad):
        return -grad

    graph_backward = backward     # operators only: the same code runs on Tensors (create_graph)


def _power(x, p):
    """x ** p as PyTorch's kernel computes it: the exponents 0.5, -0.5, -1, -2 and 3 are sqrt, 1 / sqrt,
    1 / x, 1 / (x x) and x x x, not C's pow (so (-0.0) ** -0.5 is -inf and (-inf) ** -0.5 is NaN, as in PyTorch)."""
    if x.__class__ is not np.ndarray or x.dtype.kind != "f":
        return x ** p
    with np.errstate(divide="ignore", invalid="ignore"):
        if p == 0.5:
            return np.sqrt(x)
        if p == -0.5:
            return 1 / np.sqrt(x)
        if p == -1:
            return 1 / x
        if p == -2:
            return 1 / (x * x)
        if p == 3:
            return x * x * x
        return x ** p


class PowScalar(Function):
    """y = x^p (p a number).   Backward: dx = g * p * x^(p-1)   (0 where p == 0)."""

    @staticmethod
    def forward(ctx, x, p):
        ctx.save_for_backward(x)
        ctx.p = p
        return _power(x, p)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        p = ctx.p
        if p == 0:
            return np.zeros_like(grad), None
        if p == 2:
            return grad * 2 * x, None
        return grad * (p * _power(x, p - 1)), None

    graph_backward = backward     # operators only: the same code runs on Tensors (create_graph)


def _int_power(x, y):
    """x ** y for an integer exponent tensor; PyTorch's integer result for negative exponents.

    NOTE: NumPy raises for integers to negative powers; PyTorch gives 1 / x^|y| truncated: 1 for x = 1,
    (-1)^y for x = -1, and 0 for every other x (0 ** negative included).
    """
    negative = y < 0
    if x.dtype.kind not in "iu" or not negative.any():
        return x ** y
    z = x ** np.where(negative, 0, y)
    unit = np.where(np.remainder(y, 2) == 0, 1, x)        # x^y for x in {1, -1}
    return np.where(negative, np.where(np.abs(x) == 1, unit, 0), z).astype(z.dtype, copy=False)


class Pow(Function):
    """z = x^y (tensors).   Backward: dx = g * y * x^(y-1),  dy = g * x^y * ln(x)   (dy = 0 where x == 0 and y >= 0)."""

    @staticmethod
    def forward(ctx, x, y):
        z = _int_power(x, y) if y.__class__ is np.ndarray and y.dtype.kind in "iu" else x ** y
        ctx.save_for_backward(x, y, z)
        return z

    @staticmethod
    def backward(ctx, grad):
        x, y, z = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        dx = dy = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if need_x:
                dx = unbroadcast(np.where(y == 0, 0, grad * y * x ** (y - 1)).astype(grad.dtype), np.shape(x))
            if need_y:
                # g * where(...), PyTorch's order: an inf or NaN g still gives NaN where x == 0 and y >= 0
                dy = (grad * np.where((x == 0) & (y >= 0), 0, z * np.log(x))).astype(grad.dtype, copy=False)
                dy = unbroadcast(dy, np.shape(y))
        return dx, dy

    @staticmethod
    def graph_backward(ctx, grad):
        x, y, z = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        zero = _wrap(np.zeros((), grad._data.dtype))
        dx = unbroadcast(where(y == 0, zero, grad * y * x ** (y - 1)), x.shape) if need_x else None
        dy = unbroadcast(where((x == 0) & (y >= 0), zero, grad * z * log(x)), y.shape) if need_y else None
        return dx, dy


class RPowScalar(Function):
    """y = c^x (c a number).   Backward: dx = g * y * ln(c)."""

    @staticmethod
    def forward(ctx, x, base):
        y = np.power(np.asarray(base, dtype=x.dtype), x)
        ctx.save_for_backward(y)
        ctx.log_base = np.log(base) if base > 0 else np.nan
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return (grad * y * ctx.log_base).astype(grad.dtype, copy=False), None

    @staticmethod
    def graph_backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y * float(ctx.log_base), None


def _binary(function, name, a, b):
    # NOTE: the common case (two tensors of one dtype) skips binary_operands: this is the hot path of every
    # arithmetic operator, where each saved call is ~0.1 µs of a ~3 µs op.
    if b.__class__ not in _TENSOR_TYPES or a._data.dtype is not b._data.dtype:
        a, b = binary_operands(a, b)
    try:
        return function.apply(a, b)
    except ValueError as e:
        if "broadcast" in str(e):
            raise broadcast_error(name, a.shape, np.shape(b._data if isinstance(b, Tensor) else b)) from None
        raise


def _reflected(a, b):
    """``number op tensor``: the number as a 0-d tensor of the promoted dtype."""
    if isinstance(b, numbers.Number):
        a_cast, b_scalar = binary_operands(a, b)
        return _wrap(np.asarray(b_scalar, dtype=a_cast._data.dtype))
    return as_tensor_arg(b)


def add(input, other, *, alpha=1, out=None):
    """input + alpha * other, broadcasting."""
    if alpha != 1:
        other = mul(as_tensor_arg(other, input), alpha) if not isinstance(other, numbers.Number) else other * alpha
    if input.__class__ not in _TENSOR_TYPES:
        input, other = as_tensor_arg(input, other if isinstance(other, Tensor) else None), other
    return _binary(Add, "add", input, other)


def sub(input, other, *, alpha=1, out=None):
    """input - alpha * other, broadcasting."""
    if alpha != 1:
        other = mul(as_tensor_arg(other, input), alpha) if not isinstance(other, numbers.Number) else other * alpha
    if input.__class__ not in _TENSOR_TYPES:
        input = _reflected(other, input) if isinstance(input, numbers.Number) else as_tensor_arg(input)
    _refuse_bool_sub(input, other)
    return _binary(Sub, "sub", input, other)


def mul(input, other, *, out=None):
    if input.__class__ not in _TENSOR_TYPES:
        input, other = other, input
    return _binary(Mul, "mul", input, other)


def div(input, other, *, rounding_mode=None, out=None):
    """input / other (true division: integers give the default float dtype)."""
    if input.__class__ not in _TENSOR_TYPES:
        input = _reflected(other, input) if isinstance(input, numbers.Number) else as_tensor_arg(input)
    if rounding_mode in ("floor", "trunc"):
        return _rounding_div(input, other, rounding_mode)
    if isinstance(other, Tensor) and other._data.dtype is not input._data.dtype:
        input, other = binary_operands(input, other)    # PyTorch's promotion (0-d rules) before the float cast
    if input._data.dtype.kind != "f":
        input = _to_float(input)
    if isinstance(other, Tensor) and other._data.dtype.kind != "f":
        other = _to_float(other)
    return _binary(Div, "div", input, other)


def _to_float(t):
    from .._dtype import get_default_dtype
    return t if t._data.dtype.kind == "f" else t.to(get_default_dtype())


def _rounding_div(input, other, rounding_mode):
    """div(rounding_mode='floor' | 'trunc'): integers stay integers (C-style truncation for 'trunc')."""
    a, b = binary_operands(as_tensor_arg(input), other)
    if a._data.dtype.kind == "b":          # both bools (a number or a tensor of another dtype promotes first)
        raise not_implemented_for(f"div_{rounding_mode}_cpu", a.dtype)
    if rounding_mode == "floor":
        fn = np.floor_divide
    elif a._data.dtype.kind == "f":
        def fn(x, y):
            return np.trunc(np.true_divide(x, y)).astype(x.dtype, copy=False)
    else:
        def fn(x, y):
            return _int_trunc_divide(x, y)
    _check_int_division(a, b, "div")
    return DIV_ROUNDING.apply(a, b, fn)


def _int_trunc_divide(x, y):
    quotient = np.floor_divide(x, y)
    # NOTE: floor and trunc differ where the signs differ and the division is inexact.
    return np.where((np.remainder(x, y) != 0) & ((x < 0) != (np.asarray(y) < 0)), quotient + 1, quotient)


def _check_int_division(a, b, op):
    """Integer division by zero raises in PyTorch (NumPy warns and gives 0)."""
    if a._data.dtype.kind in "iub":
        divisor = b._data if isinstance(b, Tensor) else np.asarray(b)
        if divisor.dtype.kind in "iub" and a._data.size and not np.all(divisor):
            raise RuntimeError(f"{op}(): ZeroDivisionError (integer division by zero, "
                               f"shapes {list(a.shape)} and {list(divisor.shape)}, dtype {a.dtype})")


def floor_divide(input, other):
    """floor(input / other); no derivative (as in PyTorch, backward through it raises)."""
    a, b = binary_operands(as_tensor_arg(input), other)
    if a._data.dtype.kind == "b":
        raise not_implemented_for("div_floor_cpu", a.dtype)
    _check_int_division(a, b, "floor_divide")
    return FLOOR_DIVIDE.apply(a, b, np.floor_divide, "floor_divide")


def remainder(input, other):
    """Python-style modulus (sign of the divisor). Backward: dx = g, dy = -g * floor(x / y)."""
    input, other = _modulus_operands(input, other, "remainder")
    _check_int_division(input, other, "remainder")
    return _binary(Remainder, "remainder", input, other)


def _modulus_backward(ctx, grad, quotient):
    """z = x - q(x, y) * y with q piecewise constant (floor for remainder, trunc for fmod): dx = g, dy = -g q."""
    x, y = ctx.saved_tensors
    need_x, need_y = ctx.needs_input_grad
    dy = None
    if need_y:
        with np.errstate(divide="ignore", invalid="ignore"):
            dy = unbroadcast((-grad * quotient(x, y)).astype(grad.dtype, copy=False), np.shape(y))
    return (unbroadcast(grad, np.shape(x)) if need_x else None), dy


class Remainder(Function):
    """z = x - floor(x / y) * y, computed as PyTorch does: m = fmod(x, y) (exact), plus y where m != 0 and m's sign
    differs from y's. So a zero result keeps fmod's sign, x's (NumPy's remainder gives y's: -0.0 for 0 % -2.5).

    Backward: dx = g,  dy = -g * floor(x / y).
    """

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        with np.errstate(divide="ignore", invalid="ignore"):
            if np.result_type(x, y).kind != "f":
                return np.remainder(x, y)
            m = np.fmod(x, y)
            return np.where((m != 0) & ((np.asarray(y) < 0) != (m < 0)), m + y, m)

    @staticmethod
    def backward(ctx, grad):
        return _modulus_backward(ctx, grad, np.floor_divide)

    @staticmethod
    def graph_backward(ctx, grad):
        x, y = (getattr(a, "_data", a) for a in ctx.saved_tensors)
        need_x, need_y = ctx.needs_input_grad
        dy = None
        if need_y:      # floor(x / y) is piecewise constant: its derivative is 0, as in PyTorch
            with np.errstate(divide="ignore", invalid="ignore"):
                quotient = _wrap(np.asarray(np.floor_divide(x, y)).astype(grad._data.dtype, copy=False))
            dy = unbroadcast(-grad * quotient, np.shape(y))
        return (unbroadcast(grad, np.shape(x)) if need_x else None), dy


def fmod(input, other):
    """C-style modulus (sign of the dividend). Backward: dx = g, dy = -g * trunc(x / y)."""
    input, other = _modulus_operands(input, other, "fmod")
    _check_int_division(input, other, "fmod")
    return _binary(Fmod, "fmod", input, other)


class Fmod(Function):
    """z = x - trunc(x / y) * y   (np.fmod: exact, as PyTorch's; x - trunc(x / y) * y rounds at |x| >> |y|).

    Backward: dx = g,  dy = -g * trunc(x / y).
    """

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.fmod(x, y)

    @staticmethod
    def backward(ctx, grad):
        return _modulus_backward(ctx, grad, lambda x, y: np.trunc(np.divide(x, y)))

    @staticmethod
    def graph_backward(ctx, grad):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        dy = None
        if need_y:
            with np.errstate(divide="ignore", invalid="ignore"):
                quotient = _wrap(np.trunc(np.divide(x._data, y._data)).astype(grad._data.dtype, copy=False))
            dy = unbroadcast(-grad * quotient, y.shape)
        return (unbroadcast(grad, x.shape) if need_x else None), dy


def _modulus_operands(input, other, op):
    """Both operands in the promoted dtype (a bool one too: PyTorch has no bool kernel, but promotes first)."""
    input = as_tensor_arg(input)
    if input._data.dtype.kind == "b" and (isinstance(other, bool) or
                                          (isinstance(other, Tensor) and other._data.dtype.kind == "b")):
        raise not_implemented_for(op, input.dtype)
    input, other = binary_operands(input, other)
    if input._data.dtype.kind == "b":       # a bool tensor with a Python number
        input = input.to(_dtype_mod.int64)
    return input, other


_BOOL_SUB = ("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert "
             "a mask, use the `~` or `logical_not()` operator instead.")
_BOOL_NEG = ("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, "
             "use the `~` or `logical_not()` operator instead.")


def _refuse_bool_sub(a, b):
    if a._data.dtype.kind == "b" or b.__class__ is bool or (b.__class__ in _TENSOR_TYPES and b._data.dtype.kind == "b"):
        raise RuntimeError(_BOOL_SUB)       # a Python bool counts as a bool tensor, as in PyTorch


def neg(input):
    if input._data.dtype.kind == "b":
        raise RuntimeError(_BOOL_NEG)
    return Neg.apply(input)


negative = neg


def pow(input, exponent):
    """input ** exponent; either may be a number."""
    if input.__class__ not in _TENSOR_TYPES:
        if isinstance(input, numbers.Number):
            exponent = _to_float(exponent) if not isinstance(input, numbers.Integral) else exponent
            if exponent._data.dtype.kind == "b" and not isinstance(input, bool):
                exponent = exponent.to(_dtype_mod.int64)        # 2 ** bool_tensor is int64 in PyTorch
            if exponent._data.dtype.kind in "iu" and isinstance(input, numbers.Integral):
                # 2 ** int_tensor: PyTorch's integer powers (0 / +-1 for negative exponents), as tensor ** tensor
                return _binary(Pow, "pow", _reflected(exponent, input), exponent)
            return RPowScalar.apply(exponent, input)
        input = as_tensor_arg(input)
    if isinstance(exponent, numbers.Number) and not isinstance(exponent, bool):
        if isinstance(exponent, float) and input._data.dtype.kind != "f":
            input = _to_float(input)
        if input._data.dtype.kind in "iub" and exponent < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        if input._data.dtype.kind == "b":
            input = input.to(_dtype_mod.int64)
        return PowScalar.apply(input, exponent)
    if input._data.dtype.kind == "b" and isinstance(exponent, Tensor) and exponent._data.dtype.kind == "b":
        raise not_implemented_for("pow", input.dtype)
    return _binary(Pow, "pow", input, exponent)


def rsub(input, other, alpha=1):
    return sub(other, input, alpha=alpha) if isinstance(other, Tensor) else sub(_reflected(input, other), input, alpha=alpha)


def __add__(self, other):
    return _binary(Add, "add", self, other)


def __radd__(self, other):
    return _binary(Add, "add", self, other)


def __sub__(self, other):
    _refuse_bool_sub(self, other)
    return _binary(Sub, "sub", self, other)


def __rsub__(self, other):
    _refuse_bool_sub(self, other)
    return _binary(Sub, "sub", _reflected(self, other), self)


def __mul__(self, other):
    return _binary(Mul, "mul", self, other)


__rmul__ = __mul__


def __truediv__(self, other):
    return div(self, other)


def __rtruediv__(self, other):
    return div(_reflected(self, other), self)


def __floordiv__(self, other):
    return floor_divide(self, other)


def __rfloordiv__(self, other):
    return floor_divide(_reflected(self, other), self)


def __mod__(self, other):
    return remainder(self, other)


def __rmod__(self, other):
    return remainder(_reflected(self, other), self)


def __neg__(self):
    if self._data.dtype.kind == "b":
        raise RuntimeError(_BOOL_NEG)
    return Neg.apply(self)


def __pos__(self):
    return self


def __pow__(self, exponent):
    return pow(self, exponent)


def __rpow__(self, base):
    return pow(base, self)


# ------------------------------------------------------------ unary math
def _unary(forward, backward, name, doc, saves="x", quiet=False, graph=None):
    """Build a one-input Function from its forward and its local derivative.

    ``backward(x, y, grad)`` gets the input, the output and g; ``saves`` says
    which of x / y the derivative needs (only those are kept alive). ``quiet``
    silences NumPy's warnings for results PyTorch gives silently (log(0) = -inf,
    sqrt(-1) = nan). ``graph`` is the derivative on Tensors for create_graph=True
    (True: ``backward`` itself, which then uses operators only). NOTE: not for exp-like ops, which are hot: np.errstate costs
    ~1.4 µs, and their overflow warning only fires on extreme inputs.
    """
    def fwd(ctx, x):
        if quiet:
            with np.errstate(all="ignore"):
                y = forward(x)
        else:
            y = forward(x)
        ctx.save_for_backward(x if saves == "x" else y)
        return y

    def bwd(ctx, grad):
        (saved,) = ctx.saved_tensors
        return backward(saved, grad)

    def graph_bwd(ctx, grad):
        (saved,) = ctx.saved_tensors
        return (backward if graph is True else graph)(saved, grad)

    return type(name, (Function,), {"__doc__": doc, "forward": staticmethod(fwd), "backward": staticmethod(bwd),
                                    "graph_backward": staticmethod(graph_bwd) if graph else None,
                                    "__module__": __name__})


def _sigmoid(x):
    # NOTE: 1 / (1 + e^-x) is exact at both ends: e^-x overflows to inf for x << 0 and 1 / inf = 0,
    # so only the overflow warning needs silencing (two passes instead of a where over two branches).
    with np.errstate(over="ignore"):
        y = np.exp(-x)
        if y.__class__ is not np.ndarray:       # a 0-d input: NumPy returns a scalar, which has no out=
            return np.asarray(1 / (1 + y))
        y += 1
        return np.reciprocal(y, out=y)


Exp = _unary(np.exp, lambda y, g: g * y, "Exp", "y = e^x.   Backward: dx = g * y.", saves="y",
             graph=True)
Exp2 = _unary(np.exp2, lambda y, g: g * y * np.log(2).astype(y.dtype), "Exp2", "y = 2^x.   Backward: dx = g * y * ln 2.", saves="y",
              graph=lambda y, g: g * y * float(np.log(2)))
Expm1 = _unary(np.expm1, lambda y, g: g * (y + 1), "Expm1", "y = e^x - 1.   Backward: dx = g * (y + 1).", saves="y",
               graph=True)
Log = _unary(np.log, lambda x, g: g / x, "Log", "y = ln x.   Backward: dx = g / x.", quiet=True,
             graph=True)
Log2 = _unary(np.log2, lambda x, g: g / (x * np.log(2).astype(x.dtype)), "Log2", "y = log2 x.   Backward: dx = g / (x ln 2).", quiet=True,
              graph=lambda x, g: g / (x * float(np.log(2))))
Log10 = _unary(np.log10, lambda x, g: g / (x * np.log(10).astype(x.dtype)), "Log10", "y = log10 x.   Backward: dx = g / (x ln 10).", quiet=True,
               graph=lambda x, g: g / (x * float(np.log(10))))
Log1p = _unary(np.log1p, lambda x, g: g / (1 + x), "Log1p", "y = ln(1 + x).   Backward: dx = g / (1 + x).", quiet=True,
               graph=True)
Sqrt = _unary(np.sqrt, lambda y, g: g / (2 * y), "Sqrt", "y = sqrt(x).   Backward: dx = g / (2 y).", saves="y", quiet=True,
              graph=True)
# NOTE: (-0.5 g) * y^3 and -g * (y * y) in PyTorch's order: y^3 may overflow where g is 0 (NaN, as in PyTorch).
Rsqrt = _unary(lambda x: 1 / np.sqrt(x), lambda y, g: -0.5 * g * (y * y * y), "Rsqrt",
               "y = 1 / sqrt(x).   Backward: dx = -g * y^3 / 2.", saves="y", quiet=True,
               graph=True)
Square = _unary(np.square, lambda x, g: 2 * g * x, "Square", "y = x^2.   Backward: dx = 2 g x.",
                graph=True)
# NOTE: d|x|/dx at 0 is taken as 0 (sign(0) = 0), as PyTorch does.
Abs = _unary(np.abs, lambda x, g: g * _sign(x), "Abs", "y = |x|.   Backward: dx = g * sign(x)   (0 at x = 0).",
             graph=lambda x, g: g * sign(x))
Sin = _unary(np.sin, lambda x, g: g * np.cos(x), "Sin", "y = sin x.   Backward: dx = g * cos x.",
             graph=lambda x, g: g * cos(x))
Cos = _unary(np.cos, lambda x, g: -g * np.sin(x), "Cos", "y = cos x.   Backward: dx = -g * sin x.",
             graph=lambda x, g: -g * sin(x))
Tan = _unary(np.tan, lambda y, g: g * (1 + y * y), "Tan", "y = tan x.   Backward: dx = g * (1 + y^2).", saves="y",
             graph=True)
Asin = _unary(np.arcsin, lambda x, g: g / np.sqrt(1 - x * x), "Asin", "y = asin x.   Backward: dx = g / sqrt(1 - x^2).", quiet=True,
              graph=lambda x, g: g / sqrt(1 - x * x))
Acos = _unary(np.arccos, lambda x, g: -g / np.sqrt(1 - x * x), "Acos", "y = acos x.   Backward: dx = -g / sqrt(1 - x^2).", quiet=True,
              graph=lambda x, g: -g / sqrt(1 - x * x))
Atan = _unary(np.arctan, lambda x, g: g / (1 + x * x), "Atan", "y = atan x.   Backward: dx = g / (1 + x^2).",
              graph=True)
Sinh = _unary(np.sinh, lambda x, g: g * np.cosh(x), "Sinh", "y = sinh x.   Backward: dx = g * cosh x.",
              graph=lambda x, g: g * cosh(x))
Cosh = _unary(np.cosh, lambda x, g: g * np.sinh(x), "Cosh", "y = cosh x.   Backward: dx = g * sinh x.",
              graph=lambda x, g: g * sinh(x))
Tanh = _unary(np.tanh, lambda y, g: g * (1 - y * y), "Tanh", "y = tanh x.   Backward: dx = g * (1 - y^2).", saves="y",
              graph=True)
Sigmoid = _unary(_sigmoid, lambda y, g: g * y * (1 - y), "Sigmoid",
                 "y = 1 / (1 + e^-x)  (stable form).   Backward: dx = g * y * (1 - y).", saves="y",
                 graph=True)
Reciprocal = _unary(lambda x: 1 / x, lambda y, g: -g * (y * y), "Reciprocal", "y = 1 / x.   Backward: dx = -g * y^2.", saves="y", quiet=True,
                    graph=True)
Erf = _unary(lambda x: _erf(x), lambda x, g: g * (2 / np.sqrt(np.pi)) * np.exp(-x * x).astype(x.dtype), "Erf",
             "y = erf(x).   Backward: dx = g * 2/sqrt(pi) * e^(-x^2).",
             graph=lambda x, g: g * (2 / np.sqrt(np.pi)) * exp(-x * x))


class Relu(Function):
    """y = max(0, x).   Backward: dx = g * (x > 0).

    NOTE: relu'(0) is taken as 0, as in PyTorch (the subgradient at the kink).
    """
    _saved_only = True      # y through save_for_backward, nothing else (engine.release_saved)

    @staticmethod
    def forward(ctx, x):
        y = np.maximum(x, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        # NOTE: PyTorch's threshold_backward: 0 where y <= 0, else g (not g * (y > 0): a NaN input passes g,
        # and g = inf/NaN at a dead unit gives +0.0). y = max(x, 0) is >= 0 or NaN, so "not y <= 0" is
        # y != 0: one comparison, no negation pass.
        return keep_where(y != 0, grad)

    @staticmethod
    def graph_backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * _wrap(~(y._data <= 0))    # relu'' = 0: the mask is a constant of the recorded graph


def _erf(x):
    try:
        from scipy.special import erf as scipy_erf      # exact where available
        return scipy_erf(x).astype(x.dtype, copy=False)
    except ImportError:
        return _erf_numpy(x)


def _erf_numpy(x):
    """erf in float64 via the Abramowitz-Stegun 7.1.26-style rational form refined to ~1e-16 by
    its series/continued fraction split; accurate to float32/float64 rounding for test use."""
    x64 = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x64)
    small = np.abs(x64) < 2.5
    xs = x64[small]
    # Maclaurin series for |x| < 2.5 (converges fast enough with 60 terms)
    term = xs.copy()
    total = xs.copy()
    x2 = xs * xs
    for n in range(1, 60):
        term = term * (-x2) / n
        total = total + term / (2 * n + 1)
    out[small] = 2 / np.sqrt(np.pi) * total
    xl = x64[~small]
    # continued fraction for erfc at |x| >= 2.5
    ax = np.abs(xl)
    frac = np.zeros_like(ax)
    for k in range(60, 0, -1):
        frac = (k / 2) / (ax + frac)
    erfc = np.exp(-ax * ax) / np.sqrt(np.pi) / (ax + frac)
    out[~small] = np.sign(xl) * (1 - erfc)
    return out.astype(np.asarray(x).dtype, copy=False)


def _float_unary(function):
    def op(input):
        if input._data.dtype.kind != "f":
            input = _to_float(input)
        return function.apply(input)
    op.__name__ = function.__name__.lower()
    op.__doc__ = function.__doc__
    return op


exp = _float_unary(Exp)
exp2 = _float_unary(Exp2)
expm1 = _float_unary(Expm1)
log = _float_unary(Log)
log2 = _float_unary(Log2)
log10 = _float_unary(Log10)
log1p = _float_unary(Log1p)
sqrt = _float_unary(Sqrt)
rsqrt = _float_unary(Rsqrt)
sin = _float_unary(Sin)
cos = _float_unary(Cos)
tan = _float_unary(Tan)
asin = _float_unary(Asin)
acos = _float_unary(Acos)
atan = _float_unary(Atan)
sinh = _float_unary(Sinh)
cosh = _float_unary(Cosh)
tanh = _float_unary(Tanh)
sigmoid = _float_unary(Sigmoid)
reciprocal = _float_unary(Reciprocal)
erf = _float_unary(Erf)


def square(input):
    if input._data.dtype.kind == "b":       # PyTorch squares bools as int64 (NumPy would give int8)
        input = input.to(_dtype_mod.int64)
    return Square.apply(input)


def abs(input):
    if input._data.dtype.kind == "b":
        raise not_implemented_for("abs", input.dtype)
    return Abs.apply(input)


__abs__ = abs


def relu(input, inplace=False):
    """max(0, x) elementwise (``inplace=True`` as in ``F.relu``: changes ``input`` and returns it)."""
    if input._data.dtype.kind == "b":
        raise RuntimeError("Boolean inputs not supported for relu")
    if inplace:
        return input.relu_()
    return Relu.apply(input)


def sign(input):
    """-1, 0 or 1, and 0 for NaN as in PyTorch (zero gradient)."""
    return SIGN.apply(input, _sign)


def _sign(x):
    if x.dtype.kind == "b":
        return x.copy()
    return np.nan_to_num(np.sign(x), nan=0.0) if x.dtype.kind == "f" else np.sign(x)


def _no_grad_unary(fn, name, node):
    def keep_dtype(x):
        return fn(x).astype(x.dtype, copy=False)

    def op(input):
        if input._data.dtype.kind == "b":
            raise not_implemented_for(name, input.dtype)
        return node.apply(input, keep_dtype)
    op.__name__ = name
    op.__doc__ = f"{name} elementwise (piecewise constant: the graph is kept, its gradient is zero)."
    return op


floor = _no_grad_unary(np.floor, "floor", FLOOR)
ceil = _no_grad_unary(np.ceil, "ceil", CEIL)
trunc = _no_grad_unary(np.trunc, "trunc", TRUNC)


def round(input, decimals=0):
    """Round half to even, like PyTorch (zero gradient)."""
    if input._data.dtype.kind == "b" or (decimals and input._data.dtype.kind != "f"):
        raise not_implemented_for("round", input.dtype)
    return ROUND.apply(input, _round, decimals)


def _round(x, decimals):
    return np.round(x, decimals).astype(x.dtype, copy=False)


def frac(input):
    """x - trunc(x).   Backward: dx = g."""
    if input._data.dtype.kind != "f":
        raise not_implemented_for("frac", input.dtype)
    return sub(input, trunc(input))


# --------------------------------------------------------- clamp / min / max
class Clamp(Function):
    """y = min(max(x, lo), hi).   Backward: dx = g where lo <= x <= hi, else 0."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        # NOTE: np.clip, not maximum/minimum: at a tie it keeps x, as PyTorch does (clamp(-0.0, min=0) is -0.0)
        lo = np.asarray(lo, dtype=x.dtype) if lo is not None and np.ndim(lo) == 0 else lo
        hi = np.asarray(hi, dtype=x.dtype) if hi is not None and np.ndim(hi) == 0 else hi
        y = np.clip(x, lo, hi)
        if x.dtype.kind == "f" and any(b is not None and np.ndim(b) == 0 and b == 0 for b in (lo, hi)):
            y = np.where((y == 0) & (x == 0), x, y)      # np.clip gives the upper bound at a tie: keep x's sign
        return y

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        # where, not a product: outside the bounds an inf or NaN g still gives 0, as PyTorch's clamp_backward
        return np.where(_clamp_mask(ctx, x), grad, np.zeros((), grad.dtype)), None, None

    @staticmethod
    def graph_backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * _wrap(_clamp_mask(ctx, x._data)), None, None


def _clamp_mask(ctx, x):
    mask = np.ones(x.shape, dtype=bool)
    if ctx.lo is not None:
        mask &= x >= ctx.lo
    if ctx.hi is not None:
        mask &= x <= ctx.hi
    return mask


def clamp(input, min=None, max=None):
    """Clamp every element into [min, max] (numbers or tensors)."""
    if min is None and max is None:
        raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        # NOTE: where, not maximum/minimum: at a tie the gradient goes to the input, as PyTorch's clamp does
        # (maximum would split it in half).
        out = input
        if min is not None:
            low = as_tensor_arg(min, input)
            out = where(out < low, low, out)
        if max is not None:
            high = as_tensor_arg(max, input)
            out = where(out > high, high, out)
        return out
    if input._data.dtype.kind != "f" and any(isinstance(v, float) for v in (min, max)):
        input = _to_float(input)
    elif input._data.dtype.kind == "b" and any(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                               for v in (min, max)):
        input = input.to(_dtype_mod.int64)      # bool clamped by integers is int64 in PyTorch
    return Clamp.apply(input, min, max)


clip = clamp


class Maximum(Function):
    """z = max(x, y).   Backward: g goes to the larger input; on ties it is split in half (PyTorch's rule)."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return np.maximum(x, y)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        share = np.where(x == y, grad / 2, grad).astype(grad.dtype, copy=False)
        # NOTE: ~(x < y), not x >= y: where one side is NaN both get g, as in PyTorch
        zero = np.zeros((), share.dtype)     # masked_fill, as PyTorch: an inf or NaN g still gives the loser 0
        return (unbroadcast(np.where(x < y, zero, share), x.shape) if ctx.needs_input_grad[0] else None,
                unbroadcast(np.where(y < x, zero, share), y.shape) if ctx.needs_input_grad[1] else None)

    @staticmethod
    def graph_backward(ctx, grad):
        x, y = ctx.saved_tensors
        xa, ya = x._data, y._data
        share = grad * _wrap(np.where(xa == ya, 0.5, 1.0).astype(grad._data.dtype))
        return (unbroadcast(share * _wrap(xa >= ya), x.shape) if ctx.needs_input_grad[0] else None,
                unbroadcast(share * _wrap(ya >= xa), y.shape) if ctx.needs_input_grad[1] else None)

class Minimum(Function):
    """z = min(x, y).   Backward: g goes to the smaller input; on ties it is split in half."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return np.minimum(x, y)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        share = np.where(x == y, grad / 2, grad).astype(grad.dtype, copy=False)
        zero = np.zeros((), share.dtype)     # masked_fill, as PyTorch: an inf or NaN g still gives the loser 0
        return (unbroadcast(np.where(x > y, zero, share), x.shape) if ctx.needs_input_grad[0] else None,
                unbroadcast(np.where(y > x, zero, share), y.shape) if ctx.needs_input_grad[1] else None)

    @staticmethod
    def graph_backward(ctx, grad):
        x, y = ctx.saved_tensors
        xa, ya = x._data, y._data
        share = grad * _wrap(np.where(xa == ya, 0.5, 1.0).astype(grad._data.dtype))
        return (unbroadcast(share * _wrap(xa <= ya), x.shape) if ctx.needs_input_grad[0] else None,
                unbroadcast(share * _wrap(ya <= xa), y.shape) if ctx.needs_input_grad[1] else None)

def maximum(input, other):
    return _binary(Maximum, "maximum", input, as_tensor_arg(other, input))


def minimum(input, other):
    return _binary(Minimum, "minimum", input, as_tensor_arg(other, input))


class Where(Function):
    """z = x where cond else y.   Backward: dx = g * cond,  dy = g * (not cond)."""

    @staticmethod
    def forward(ctx, cond, x, y):
        ctx.cond = cond
        ctx.x_shape, ctx.y_shape = np.shape(x), np.shape(y)
        return np.where(cond, x, y)

    @staticmethod
    def backward(ctx, grad):
        cond = ctx.cond
        zero = np.zeros((), dtype=grad.dtype)
        return (None,
                unbroadcast(np.where(cond, grad, zero), ctx.x_shape) if ctx.needs_input_grad[1] else None,
                unbroadcast(np.where(cond, zero, grad), ctx.y_shape) if ctx.needs_input_grad[2] else None)

    @staticmethod
    def graph_backward(ctx, grad):
        cond = _wrap(ctx.cond)
        zero = _wrap(np.zeros((), dtype=grad._data.dtype))
        return (None,
                unbroadcast(where(cond, grad, zero), ctx.x_shape) if ctx.needs_input_grad[1] else None,
                unbroadcast(where(cond, zero, grad), ctx.y_shape) if ctx.needs_input_grad[2] else None)

def where(condition, input=None, other=None):
    """``where(cond, x, y)`` picks x where cond is True, else y (numbers allowed).
    ``where(cond)`` alone returns the indices of True elements, like ``nonzero(as_tuple=True)``."""
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if input is None and other is None:
        # a 0-d condition counts as one element, as in PyTorch (NumPy refuses nonzero of 0-d arrays)
        return tuple(_wrap(i.astype(np.int64)) for i in np.nonzero(np.atleast_1d(cond)))
    if cond.dtype != np.bool_:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype {cond.dtype}")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        input = as_tensor_arg(input)
    if not isinstance(input, Tensor):
        input = as_tensor_arg(input, other) if isinstance(input, numbers.Number) else as_tensor_arg(input)
    input, other = binary_operands(input, other)
    if not isinstance(other, Tensor):
        other = _wrap(np.asarray(other, dtype=input._data.dtype))
    try:
        return Where.apply(cond, input, other)
    except ValueError:
        raise RuntimeError(f"where: condition {list(cond.shape)}, input {list(input.shape)} and other "
                           f"{list(other.shape)} cannot be broadcast together") from None


def _where_method(self, condition, other):
    """``x.where(cond, y)`` is ``where(cond, x, y)``."""
    return where(condition, self, other)


# ------------------------------------------------------------ composites
def lerp(input, end, weight):
    """input + weight * (end - input)."""
    return add(input, mul(sub(as_tensor_arg(end, input), input), weight))


def addcmul(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 * tensor2."""
    return add(input, mul(mul(tensor1, tensor2), value))


def addcdiv(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 / tensor2."""
    return add(input, mul(div(tensor1, tensor2), value))


def atan2(input, other):
    """atan(input / other) in the right quadrant.   Backward: dx = g*o/(x^2+o^2), do = -g*x/(x^2+o^2)."""
    x, y = binary_operands(input, as_tensor_arg(other, input))
    return Atan2.apply(_to_float(x), _to_float(y))      # integers give the default float dtype, not float64


class Atan2(Function):
    """z = atan2(x, y).   Backward: dx = g * y / (x^2 + y^2),  dy = -g * x / (x^2 + y^2)."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return np.arctan2(x, y)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        denom = x * x + y * y
        denom = np.where(denom == 0, np.inf, denom)        # at (0, 0) the gradient is 0, as in PyTorch
        return unbroadcast(grad * y / denom, x.shape), unbroadcast(-grad * x / denom, y.shape)

    @staticmethod
    def graph_backward(ctx, grad):
        x, y = ctx.saved_tensors
        denom = x * x + y * y
        denom = denom + _wrap(np.where(denom._data == 0, np.inf, 0).astype(denom._data.dtype))   # (0, 0): 0
        return unbroadcast(grad * y / denom, x.shape), unbroadcast(-grad * x / denom, y.shape)


class Xlogy(Function):
    """z = x log(y), 0 where x == 0 (even if y == 0), NaN wherever y is NaN.

    Backward, PyTorch's formulas: dx = xlogy(g, y), 0 where x == 0 and y <= 0;  dy = g x / y
    (so dy is NaN at x = y = 0, as in PyTorch).
    """

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = x * np.log(y)
        return np.where((x == 0) & ~np.isnan(y), np.zeros((), z.dtype), z)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        dx = dy = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if need_x:
                zero = np.zeros((), grad.dtype)
                dx = np.where((grad == 0) & ~np.isnan(y), zero, grad * np.log(y))      # xlogy(g, y)
                dx = unbroadcast(np.where((x == 0) & (y <= 0), zero, dx), np.shape(x))
            if need_y:
                dy = unbroadcast(grad * x / y, np.shape(y))
        return dx, dy

    @staticmethod
    def graph_backward(ctx, grad):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        zero = _wrap(np.zeros((), grad._data.dtype))
        dx = unbroadcast(where((x == 0) & (y <= 0), zero, xlogy(grad, y)), x.shape) if need_x else None
        dy = unbroadcast(grad * x / y, y.shape) if need_y else None
        return dx, dy


def xlogy(input, other):
    """x * log(y), with 0 where x == 0 (even if y == 0), and NaN wherever y is NaN, as in PyTorch."""
    input = as_tensor_arg(input)
    other = as_tensor_arg(other, input)
    input, other = binary_operands(input, other)
    input, other = _to_float(input), _to_float(other)
    return Xlogy.apply(input, other)


class NanToNum(Function):
    """y = x with NaN, +inf and -inf replaced.   Backward: dx = g * isfinite(x)
    (a product, as in PyTorch: an inf or NaN g at a replaced element gives NaN, not 0)."""

    @staticmethod
    def forward(ctx, x, nan, posinf, neginf):
        ctx.finite = np.isfinite(x)
        return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.finite, None, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        return grad * _wrap(ctx.finite), None, None, None


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """Replace NaN and infinities (gradient passes where the value was finite)."""
    return NanToNum.apply(input, nan, posinf, neginf)


true_divide = divide = div
subtract = sub
multiply = mul
