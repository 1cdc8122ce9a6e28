"""Tensor: a NumPy array plus what autograd needs to differentiate through it.

    _data          the values (numpy.ndarray); ``t.numpy()`` shares it
    requires_grad  whether gradients should flow to this tensor
    grad           dL/d(this), filled in by ``backward()`` on leaves
    grad_fn        the Function node that produced it (None for leaves)

No math lives here: operators and methods route to the ops in ``deepdive.ops``,
which are attached as methods at the bottom of this file.
"""
import warnings

import numpy as np

from . import _dtype
from ._dtype import get_default_dtype, to_dtype, from_numpy_dtype
from ._layout import strided as _strided

_TENSOR_TYPES = set()     # Tensor and its subclasses: a set lookup is faster than isinstance on the hot path
_new = object.__new__

# torch's text (TensorBody.h), so a user sees the same advice
_NON_LEAF_GRAD = ("The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad attribute "
                  "won't be populated during autograd.backward(). If you indeed want the .grad field to be populated "
                  "for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you access the non-leaf Tensor "
                  "by mistake, make sure you access the leaf Tensor instead. See github.com/pytorch/pytorch/pull/30531 "
                  "for more information.")


def _wrap(array, requires_grad=False, grad_fn=None, output_nr=0):
    """Fast internal constructor: a Tensor over ``array`` (no copy, no checks)."""
    if array.__class__ is not np.ndarray:
        array = np.asarray(array)
    t = _new(Tensor)
    t._data = array
    t.requires_grad = requires_grad
    t._grad = None
    t.grad_fn = grad_fn
    t._output_nr = output_nr
    t._version_counter = [0]
    t._hooks = None
    return t


def _array_from(data, dtype=None):
    """Turn Python data / NumPy arrays / Tensors into an ndarray with PyTorch's default dtypes."""
    if isinstance(data, Tensor):
        arr = data._data
    elif isinstance(data, np.ndarray):
        arr = data
    elif isinstance(data, (list, tuple)) and data and any(isinstance(x, Tensor) for x in _flatten(data)):
        arr = np.array([x._data if isinstance(x, Tensor) else x for x in data])
    else:
        arr = np.array(data)
    if dtype is not None:
        return arr.astype(to_dtype(dtype).np, copy=False)
    kind = arr.dtype.kind
    typed = (np.ndarray, np.generic, Tensor)           # these carry their own dtype (np.float64(1.5) stays float64)
    if kind == "f" and not isinstance(data, typed):
        return arr.astype(get_default_dtype().np, copy=False)    # Python floats -> float32
    if kind in "iu" and not isinstance(data, typed):
        return arr.astype(np.int64, copy=False)
    if kind == "O" or kind in "USc":
        raise TypeError(f"tensor(): could not infer a numeric dtype from data of type {type(data).__name__}")
    if kind == "f" and arr.size == 0 and not isinstance(data, (np.ndarray, Tensor)):
        return arr.astype(get_default_dtype().np)
    from_numpy_dtype(arr.dtype)      # raises for unsupported NumPy dtypes
    return arr


def _flatten(seq):
    for x in seq:
        if isinstance(x, (list, tuple)):
            yield from _flatten(x)
        else:
            yield x


class Tensor:
    """A multi-dimensional array that can record the operations applied to it.

    ``deepdive.Tensor(data)`` builds a float32 tensor like ``torch.Tensor``;
    ``deepdive.tensor(data)`` infers the dtype (float32 for floats, int64 for ints).
    """
    __slots__ = ("_data", "requires_grad", "_grad", "grad_fn", "_output_nr", "_version_counter", "_hooks",
                 "__weakref__", "__dict__")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _TENSOR_TYPES.add(cls)

    def __init__(self, *args, dtype=None, device=None, requires_grad=False):
        if not args:    # Tensor(): an empty 1-D float tensor
            args = ([],)
        if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
            arr = _array_from(args[0], dtype or _dtype.float32)
        else:           # Tensor(2, 3): a tensor of that shape (zeros here; PyTorch leaves it uninitialised)
            arr = np.zeros(tuple(int(a) for a in args), dtype=to_dtype(dtype or _dtype.float32).np)
        self._data = arr
        self.requires_grad = requires_grad
        self._grad = None
        self.grad_fn = None
        self._output_nr = 0
        self._version_counter = [0]
        self._hooks = None

    # ----------------------------------------------------------------- metadata
    @property
    def grad(self):
        """The gradient accumulated by ``backward()`` (leaves, and non-leaves after ``retain_grad()``)."""
        grad = self._grad
        if grad is None and self.grad_fn is not None and not self.retains_grad:
            warnings.warn(_NON_LEAF_GRAD, UserWarning, stacklevel=2)
        return grad

    @grad.setter
    def grad(self, value):
        self._grad = value

    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_canonical_dim(dim, self._data.ndim, "size")]

    @property
    def dtype(self):
        return from_numpy_dtype(self._data.dtype)

    @property
    def device(self):
        return _CPU

    is_cuda = False
    is_sparse = False
    is_quantized = False
    is_meta = False
    layout = _strided
    is_xpu = False
    is_mps = False

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    ndimension = dim

    def numel(self):
        return self._data.size

    nelement = numel

    def element_size(self):
        return self._data.itemsize

    def is_floating_point(self):
        return self._data.dtype.kind == "f"

    def is_complex(self):
        return False

    def is_contiguous(self, memory_format=None):
        return self._data.flags.c_contiguous

    def stride(self, dim=None):
        strides = tuple(s // self._data.itemsize for s in self._data.strides)
        return strides if dim is None else strides[_canonical_dim(dim, self._data.ndim, "stride")]

    def data_ptr(self):
        return self._data.__array_interface__["data"][0]

    @property
    def T(self):
        """All dims reversed (the matrix transpose for 2-D tensors)."""
        return self.permute(*range(self._data.ndim - 1, -1, -1)) if self._data.ndim > 1 else self

    @property
    def mT(self):
        """Transpose of the last two dims (a batch of matrices)."""
        if self._data.ndim < 2:
            raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. Got {self._data.ndim}-D tensor.")
        return self.transpose(-2, -1)

    H, mH = T, mT

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def _version(self):
        return self._version_counter[0]

    @property
    def data(self):
        """A tensor sharing this one's values but detached from the graph (PyTorch's ``.data``).

        NOTE: unlike ``detach()`` it gets its own version counter, as in PyTorch: an in-place change
        through ``.data`` is invisible to autograd (no "modified by an inplace operation" error), which
        is why old optimizer code could write ``p.data.add_(...)`` (and why it can silently give wrong
        gradients when a saved value is changed).
        """
        return _wrap(self._data)

    @data.setter
    def data(self, value):
        value = value._data if isinstance(value, Tensor) else np.asarray(value)
        self._data = value

    # --------------------------------------------------------------- conversion
    def numpy(self, force=False):
        if self.requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype)

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.reshape(()).item()

    def apply_(self, callable):
        """Replace each element ``x`` by ``callable(x)`` (a Python float/int), in place; slow, for CPU tensors.

        As in PyTorch, not allowed on a tensor that requires grad, and the version counter is left alone.
        """
        if self.requires_grad:
            raise RuntimeError("Can't call apply_() on Variable that requires grad. Use var.detach().apply_() "
                               "instead.")
        flat = self._data.reshape(-1)
        values = [callable(v) for v in flat.tolist()]
        self._data[...] = np.asarray(values, dtype=self._data.dtype).reshape(self._data.shape)
        return self

    def tolist(self):
        return self._data.tolist()

    def __float__(self):
        if self._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return float(self.item())

    def __int__(self):
        if self._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {'no values' if self._data.size == 0 else 'more than one value'} "
                               "is ambiguous")
        return bool(self._data.reshape(()).item())

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __hash__(self):
        return id(self)

    def __contains__(self, element):
        value = element._data if isinstance(element, Tensor) else element
        return bool((self._data == value).any())

    def __reduce_ex__(self, protocol):
        # Tensors pickle as their values (DataLoader worker processes send batches this way).
        return (_rebuild, (self._data, self.requires_grad))

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy protocol")
        new = self.__class__.__new__(self.__class__)
        new._data = self._data.copy()
        new.requires_grad = self.requires_grad
        new._grad = None if self._grad is None else _wrap(self._grad._data.copy())
        new.grad_fn = None
        new._output_nr = 0
        new._version_counter = [0]
        new._hooks = None
        if hasattr(self, "__dict__"):
            for k, v in self.__dict__.items():
                new.__dict__[k] = v
        memo[id(self)] = new
        return new

    # ------------------------------------------------------------------ dtypes
    def to(self, *args, **kwargs):
        """``to(dtype)``, ``to('cpu')``, ``to(device, dtype)``, ``to(other)``; ``copy=True`` forces a copy."""
        dtype = kwargs.get("dtype")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, (_dtype.dtype, np.dtype)) or (isinstance(a, type) and (a in (float, int, bool) or
                                                                        issubclass(a, np.generic))):
                dtype = a
            elif isinstance(a, str) and a.replace("torch.", "") in _dtype._NAMES:
                dtype = a
            else:
                _check_device(a)
        if "device" in kwargs:
            _check_device(kwargs["device"])
        if dtype is None or to_dtype(dtype).np == self._data.dtype:
            return self.clone() if kwargs.get("copy") else self
        return _cast(self, to_dtype(dtype))

    def type(self, dtype=None, **kwargs):
        if dtype is None:
            return "deepdive." + _TYPE_NAMES.get(self.dtype.name, "Tensor")
        if isinstance(dtype, str) and dtype.split(".")[-1] in _TYPE_NAMES.values():   # x.type('torch.DoubleTensor')
            names = {v: k for k, v in _TYPE_NAMES.items()}
            dtype = getattr(_dtype, names[dtype.split(".")[-1]].replace("bool", "bool_"))
        return self.to(dtype)

    def type_as(self, other):
        return self.to(other.dtype)

    def float(self):
        return self.to(_dtype.float32)

    def double(self):
        return self.to(_dtype.float64)

    def half(self):
        return self.to(_dtype.float16)

    def long(self):
        return self.to(_dtype.int64)

    def int(self):
        return self.to(_dtype.int32)

    def short(self):
        return self.to(_dtype.int16)

    def bool(self):
        return self.to(_dtype.bool_)

    def byte(self):
        return self.to(_dtype.uint8)

    def cpu(self, *args, **kwargs):
        return self

    def cuda(self, *args, **kwargs):
        raise RuntimeError("deepdive runs on the CPU only (NumPy); there is no CUDA device. Use .cpu() or .to('cpu').")

    def pin_memory(self):
        return self

    def share_memory_(self):
        return self

    # ---------------------------------------------------------------- autograd
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Compute d(self)/d(leaf) for every leaf in the graph and add it to ``leaf.grad``."""
        _engine.backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)

    def detach(self):
        """The same values, cut from the graph (shares memory, like PyTorch)."""
        t = _wrap(self._data)
        t._version_counter = self._version_counter
        return t

    def detach_(self):
        self.grad_fn = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad=True):
        if not self.is_leaf and not requires_grad:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to use a "
                               "computed variable in a subgraph that doesn't require differentiation use "
                               "var_no_grad = var.detach().")
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients (got {self.dtype})")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is not None:
            if self.grad_fn._retained is None:
                self.grad_fn._retained = {}
            self.grad_fn._retained[self._output_nr] = self

    @property
    def retains_grad(self):
        return self.grad_fn is not None and bool(self.grad_fn._retained) and \
            self.grad_fn._retained.get(self._output_nr) is self

    def register_hook(self, hook):
        """``hook(grad) -> Tensor or None`` runs when this tensor's gradient is computed;
        a returned tensor replaces the gradient. Returns a handle with ``.remove()``."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = {}
            hooks = self._hooks
        else:
            node = self.grad_fn
            if node._pre_hooks is None:
                node._pre_hooks = {}
            hooks = node._pre_hooks.setdefault(self._output_nr, {})
        return RemovableHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """``hook(tensor)`` runs after a leaf's ``.grad`` has been accumulated."""
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        import weakref
        hooks = _engine.POST_ACCUMULATE_HOOKS
        if id(self) not in hooks:
            hooks[id(self)] = {}
            weakref.finalize(self, hooks.pop, id(self), None)
        return RemovableHandle(hooks[id(self)], hook)

    # -------------------------------------------------------------------- repr
    def __repr__(self):
        from ._format import tensor_repr
        return tensor_repr(self)

    __str__ = __repr__

    def __format__(self, spec):
        if self._data.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    # numpy should defer to our reflected operators (ndarray + Tensor -> Tensor)
    __array_priority__ = 1000
    # Set by view ops (x[0], x.t(), x.view(...)): the tensor whose memory this one shares, so that an
    # in-place change of the view can update the base's graph (ops/inplace.py). None for non-views.
    _view_of = None


def _rebuild(array, requires_grad):
    t = _wrap(array)
    t.requires_grad = requires_grad
    return t


_TENSOR_TYPES.add(Tensor)


class Size(tuple):
    """``tensor.shape``: a tuple with PyTorch's repr ``deepdive.Size([2, 3])``."""

    def __repr__(self):
        return f"deepdive.Size({list(self)})"

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, item):
        result = tuple.__getitem__(self, item)
        return Size(result) if isinstance(item, slice) else result


class device:
    """``deepdive.device('cpu')``: the only device deepdive has."""
    __slots__ = ("type", "index")

    def __init__(self, type="cpu", index=None):
        if isinstance(type, device):
            type, index = type.type, type.index
        _check_device(type)
        self.type = "cpu"
        self.index = index

    def __repr__(self):
        return "device(type='cpu')"

    def __str__(self):
        return "cpu"

    def __eq__(self, other):
        return isinstance(other, device) or other == "cpu"

    def __hash__(self):
        return hash("cpu")


def _check_device(d):
    if d is None or isinstance(d, device):
        return
    name = str(d)
    if not (name == "cpu" or name.startswith("cpu:")):
        raise RuntimeError(f"deepdive runs on the CPU only (NumPy); device {name!r} is not available. "
                           "Use 'cpu' (code that picks 'cuda' if available can test deepdive.cuda.is_available(), "
                           "which is False).")


_CPU = device("cpu")
_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor", "int64": "LongTensor",
               "int32": "IntTensor", "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor",
               "bool": "BoolTensor"}


class RemovableHandle:
    """What ``register_*hook`` returns: ``handle.remove()`` unregisters the hook."""
    _next_id = 0

    def __init__(self, hooks_dict, hook):
        RemovableHandle._next_id += 1
        self.id = RemovableHandle._next_id
        self.hooks_dict = hooks_dict
        hooks_dict[self.id] = hook

    def remove(self):
        self.hooks_dict.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _canonical_dim(dim, ndim, op="dim"):
    """Wrap a negative dim and check its range with PyTorch's message."""
    low, high = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    if not low <= dim <= high:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{low}, {high}], but got {dim})")
    return dim % ndim if ndim else 0


# Ops attach themselves as methods; imported last because they import Tensor.
from .ops import install_methods as _install  # noqa: E402
from .ops.dtype_ops import cast as _cast      # noqa: E402

_install(Tensor)

# Sparse COO tensors (deepdive.sparse): dense.to_sparse(), and to_dense() as the identity on a dense tensor.
from .sparse.coo import to_sparse as _to_sparse, dense_to_dense as _to_dense  # noqa: E402
Tensor.to_sparse, Tensor.to_dense = _to_sparse, _to_dense
from .autograd import engine as _engine  # noqa: E402
