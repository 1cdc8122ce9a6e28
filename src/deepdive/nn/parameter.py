"""``Parameter``: a Tensor that a ``Module`` registers as one of its learnable weights.

Assigning a ``Parameter`` to a module attribute (``self.weight = Parameter(...)``)
is what puts it into ``module.parameters()``, the list an optimizer updates.
"""
import numpy as np

from .. import _dtype
from ..tensor import Tensor, _array_from

__all__ = ["Parameter", "UninitializedParameter", "UninitializedBuffer"]


class Parameter(Tensor):
    """A leaf tensor with ``requires_grad=True`` (by default) that modules register.

    ``Parameter(data)`` shares ``data``'s values (no copy), like PyTorch.

    Args:
        data (Tensor): the initial values; an empty float32 tensor if None.
        requires_grad (bool): default True.
    """

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            array = np.empty((0,), dtype=_dtype.get_default_dtype().np)
        elif isinstance(data, Tensor):
            array = data._data
        elif isinstance(data, np.ndarray):
            array = data
        else:
            array = _array_from(data)
        if requires_grad and array.dtype.kind != "f":
            raise RuntimeError(f"Only Tensors of floating point dtype can require gradients (got {array.dtype})")
        self._data = array
        self.requires_grad = requires_grad
        self._grad = None
        self.grad_fn = None
        self._output_nr = 0
        self._version_counter = [0]
        self._hooks = None

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        # A pickled module must come back with Parameters (not plain Tensors) so it stays trainable.
        return (_rebuild_parameter, (self._data, self.requires_grad, self.__class__))


def _rebuild_parameter(array, requires_grad, cls=Parameter):
    param = Parameter.__new__(cls)
    Parameter.__init__(param, array, requires_grad)
    return param


class UninitializedParameter(Parameter):
    """A placeholder weight of a lazy module; ``materialize(shape)`` gives it a shape (and makes it a Parameter)."""
    cls_to_become = Parameter

    def __init__(self, requires_grad=True, device=None, dtype=None):
        super().__init__(None, requires_grad)
        self._init_dtype = _dtype.to_dtype(dtype or _dtype.get_default_dtype())

    def materialize(self, shape, device=None, dtype=None):
        dtype = _dtype.to_dtype(dtype) if dtype is not None else self._init_dtype
        self._data = np.empty(tuple(shape), dtype=dtype.np)
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise RuntimeError("Can't access the shape of an uninitialized parameter or buffer. This error usually "
                           "happens in `load_state_dict` when trying to load an uninitialized parameter into an "
                           "initialized one. Call `forward` to initialize the parameters before accessing their "
                           "attributes.")

    def __repr__(self):
        return f"<{self.__class__.__name__}>"

    __str__ = __repr__


class UninitializedBuffer(Tensor):
    """A placeholder buffer of a lazy module."""
    cls_to_become = Tensor

    def __init__(self, requires_grad=False, device=None, dtype=None):
        super().__init__(np.empty((0,), dtype=_dtype.get_default_dtype().np), requires_grad=requires_grad)
        self._init_dtype = _dtype.to_dtype(dtype or _dtype.get_default_dtype())

    def materialize(self, shape, device=None, dtype=None):
        dtype = _dtype.to_dtype(dtype) if dtype is not None else self._init_dtype
        self._data = np.empty(tuple(shape), dtype=dtype.np)
        self.__class__ = self.cls_to_become
