"""The one place for each error message format of the ops.

PyTorch names the op, the shapes, the dtypes and the argument in its errors; a
raw NumPy message ("cannot reshape array of size 0 into shape (0)", "axis 0 is
out of bounds for array of dimension 0") names none of them. Ops raise through
these helpers, and ``Function.apply`` passes any NumPy error escaping a forward
through ``from_numpy``, so no raw NumPy error reaches a user.
"""
import numpy as np

# PyTorch's C++ scalar type names, as they appear in its "not implemented for" messages.
SCALAR_TYPE_NAMES = {"float64": "Double", "float32": "Float", "float16": "Half", "bfloat16": "BFloat16",
                     "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
                     "bool": "Bool", "complex64": "ComplexFloat", "complex128": "ComplexDouble"}


def scalar_type_name(dtype):
    """'Long' for int64, 'Float' for float32 ... (accepts deepdive and NumPy dtypes)."""
    name = getattr(dtype, "name", None) or str(dtype)
    return SCALAR_TYPE_NAMES.get(str(name).split(".")[-1], str(name))


def not_implemented_for(op, dtype):
    """PyTorch's message for an op without a kernel for ``dtype``: '"abs" not implemented for 'Bool''."""
    return NotImplementedError(f'"{op}" not implemented for \'{scalar_type_name(dtype)}\'')


def describe(values):
    """'shapes [2, 3] and [3], dtypes float32 and int64' for the arrays / tensors among ``values``."""
    arrays = [getattr(v, "_data", v) for v in values]
    arrays = [a for a in arrays if isinstance(a, (np.ndarray, np.generic))]
    if not arrays:
        return ""
    shapes = " and ".join(str(list(np.shape(a))) for a in arrays)
    dtypes = " and ".join(str(a.dtype) for a in arrays)
    return f"shape{'s' if len(arrays) > 1 else ''} {shapes}, dtype{'s' if len(arrays) > 1 else ''} {dtypes}"


class OpRuntimeError(RuntimeError, ValueError):
    """PyTorch's RuntimeError for a NumPy ValueError (still a ValueError, for code that caught NumPy's)."""


class OpIndexError(IndexError, ValueError):
    """PyTorch's IndexError for NumPy's AxisError (a dim out of range)."""


# NumPy's exception types, mapped to the type PyTorch raises for the same mistake.
_TYPES = ((np.exceptions.AxisError, OpIndexError), (IndexError, IndexError), (TypeError, TypeError),
          (ValueError, OpRuntimeError))


def from_numpy(op, error, values=()):
    """``error`` raised by NumPy inside ``op``, as the PyTorch-kind error naming the op, shapes and dtypes."""
    kind = next((to for frm, to in _TYPES if isinstance(error, frm)), OpRuntimeError)
    where = describe(values)
    return kind(f"{op}(): {error}" + (f" (input {where})" if where else ""))


def is_from_numpy(error):
    """True when ``error`` was raised inside NumPy itself (the last traceback frame is NumPy's).

    NumPy's LinAlgError is not one of these: ``deepdive.linalg`` turns it into PyTorch's own
    ``LinAlgError`` message (singular, not positive-definite) around the op.
    """
    if isinstance(error, np.linalg.LinAlgError):
        return False
    tb = error.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return _in_numpy(tb.tb_frame.f_code.co_filename) or _raised_by_ufunc(error, tb)


_NUMPY_DIR = np.__file__.rsplit("/", 1)[0]


def _in_numpy(filename):
    return filename.startswith(_NUMPY_DIR)


def _raised_by_ufunc(error, tb):
    # NOTE: errors of C-level NumPy calls (ufuncs, reshape) carry the caller's frame, not NumPy's; they are
    # told apart by being one of NumPy's exception types raised by a bare call rather than a `raise` of ours.
    import dis
    code, offset = tb.tb_frame.f_code, tb.tb_lasti
    for instr in dis.get_instructions(code):
        if instr.offset == offset:
            return instr.opname != "RAISE_VARARGS"
    return False
