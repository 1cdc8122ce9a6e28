"""dtypes with PyTorch's names, each a thin label over a NumPy dtype.

float32 is the default floating dtype, as in PyTorch; integers default to int64.
Type promotion follows PyTorch's rules, not NumPy's: an int64 tensor plus a
float32 tensor is float32 (NumPy would say float64), and a Python float with an
integer tensor gives the default float dtype.
"""
import numpy as np


class dtype:
    """A tensor element type: ``deepdive.float32``, ``deepdive.int64`` ..."""
    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize", "_category")

    def __init__(self, name, np_dtype, category):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = category == 2
        self.is_signed = self.np.kind in "if"
        self.itemsize = self.np.itemsize
        self._category = category          # 0 bool, 1 integer, 2 floating

    def __repr__(self):
        return "deepdive." + self.name

    def __reduce__(self):
        return (_by_name, (self.name,))


bool_ = dtype("bool", np.bool_, 0)
uint8 = dtype("uint8", np.uint8, 1)
int8 = dtype("int8", np.int8, 1)
int16 = dtype("int16", np.int16, 1)
int32 = dtype("int32", np.int32, 1)
int64 = dtype("int64", np.int64, 1)
float16 = dtype("float16", np.float16, 2)
float32 = dtype("float32", np.float32, 2)
float64 = dtype("float64", np.float64, 2)

# PyTorch's aliases
half, float, double = float16, float32, float64
short, int, long = int16, int32, int64

ALL = (bool_, uint8, int8, int16, int32, int64, float16, float32, float64)
_FROM_NP = {d.np: d for d in ALL}
_NAMES = {d.name: d for d in ALL}


def _by_name(name):
    return _NAMES[name]


_default_float = float32


def get_default_dtype():
    """The dtype of tensors made from Python floats (float32 unless changed)."""
    return _default_float


def set_default_dtype(d):
    global _default_float
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating-point types are supported as the default type, got {d}")
    _default_float = d


def from_numpy_dtype(np_dtype):
    """The deepdive dtype of a NumPy dtype (raises TypeError for unsupported ones)."""
    try:
        return _FROM_NP[np_dtype]
    except KeyError:
        d = _FROM_NP.get(np.dtype(np_dtype))
        if d is None:
            raise TypeError(f"can't convert np.ndarray of type {np.dtype(np_dtype)}. The only supported types are: "
                            + ", ".join(x.name for x in ALL)) from None
        return d


def to_dtype(d):
    """Accept a deepdive dtype, a NumPy dtype/type, a Python type or a name."""
    if isinstance(d, dtype):
        return d
    if d is None:
        return None
    if d is builtins_float:
        return _default_float
    if d is builtins_int:
        return int64
    if d is builtins_bool:
        return bool_
    if isinstance(d, str):
        name = d.replace("torch.", "").replace("deepdive.", "")
        aliases = {"float": float32, "double": float64, "half": float16, "long": int64, "int": int32, "bool": bool_, "short": int16}
        if name in aliases:
            return aliases[name]
        if name in _NAMES:
            return _NAMES[name]
        raise TypeError(f"unknown dtype name {d!r}")
    return from_numpy_dtype(np.dtype(d))


import builtins as _b
builtins_float, builtins_int, builtins_bool = _b.float, _b.int, _b.bool


def promote(a, b):
    """PyTorch's promote_types for two dtypes of any category."""
    if a is b:
        return a
    if a._category != b._category:
        return a if a._category > b._category else b
    if a._category == 0:
        return bool_
    return _FROM_NP[np.promote_types(a.np, b.np)]


def promote_types(type1, type2):
    """``deepdive.promote_types(int32, float32) -> float32`` (PyTorch's category-first rule)."""
    return promote(to_dtype(type1), to_dtype(type2))


def can_cast(from_, to):
    """Whether PyTorch's casting rules allow ``from_ -> to`` in-place (never to a lower category)."""
    return to_dtype(from_)._category <= to_dtype(to)._category


def result_type(tensor1, tensor2):
    """The dtype ``tensor1 + tensor2`` would have (Tensors or Python numbers)."""
    from .tensor import Tensor, _wrap
    from .ops._util import binary_operands
    if not isinstance(tensor1, Tensor):
        if not isinstance(tensor2, Tensor):
            return promote(to_dtype(type(tensor1)), to_dtype(type(tensor2)))
        tensor1, tensor2 = tensor2, tensor1
    a, b = binary_operands(tensor1, tensor2)
    return a.dtype if not isinstance(b, Tensor) else promote(a.dtype, b.dtype)


class finfo:
    """Machine limits of a floating dtype: ``deepdive.finfo(deepdive.float32).eps``."""

    def __init__(self, type=None):
        info = np.finfo((to_dtype(type) if type is not None else get_default_dtype()).np)
        self.bits, self.eps = info.bits, builtins_float(info.eps)
        self.max, self.min = builtins_float(info.max), builtins_float(info.min)
        self.tiny = self.smallest_normal = builtins_float(info.tiny)
        self.resolution, self.dtype = builtins_float(info.resolution), info.dtype.name


class iinfo:
    """Limits of an integer dtype: ``deepdive.iinfo(deepdive.int32).max``."""

    def __init__(self, type):
        info = np.iinfo(to_dtype(type).np)
        self.bits, self.dtype = info.bits, info.dtype.name
        self.max, self.min = builtins_int(info.max), builtins_int(info.min)
