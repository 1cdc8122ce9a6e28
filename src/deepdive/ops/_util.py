"""Shared pieces of the ops: the adjoint of broadcasting, operand promotion, dims."""
import numbers

import numpy as np

from .. import _dtype
from ..tensor import Tensor, _wrap, _TENSOR_TYPES, _canonical_dim

__all__ = ["unbroadcast", "binary_operands", "as_tensor_arg", "normalize_dims", "canonical_dim", "shape_arg",
           "broadcast_error", "keep_where"]

canonical_dim = _canonical_dim


_add_reduce = np.add.reduce


def unbroadcast(grad, shape):
    """The adjoint of broadcasting: sum ``grad`` back down to ``shape``.

    Broadcasting copies an input along new leading axes and along axes of size 1,
    so its vector-Jacobian product sums over exactly those axes.
    """
    if grad.shape == shape:
        return grad
    if grad.__class__ in _TENSOR_TYPES:      # create_graph=True: the same sums, recorded
        return _unbroadcast_tensor(grad, tuple(shape))
    extra = grad.ndim - len(shape)
    if extra:
        # NOTE: np.add.reduce, not ndarray.sum: same result without NumPy's Python-level wrapper.
        grad = _add_reduce(grad, axis=tuple(range(extra)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and grad.shape[i] != 1)
    if axes:
        grad = _add_reduce(grad, axis=axes, keepdims=True)
    return grad


# float16/32/64 by dtype.char (a str key: hashed once, unlike a dtype) -> the unsigned dtype of its size
_UNSIGNED_OF = {"e": np.dtype(np.uint16), "f": np.dtype(np.uint32), "d": np.dtype(np.uint64)}


def keep_where(keep, grad):
    """``np.where(keep, grad, 0)`` for a float ``grad``: ``grad`` where ``keep``, else +0.0.

    NOTE: grad's bits times the bool mask as unsigned integers (bits * 1 = bits, bits * 0 = +0.0's bits):
    one ufunc pass with the exact bits of np.where, NaN, inf and the sign of zero included (the float
    product grad * keep gives NaN for an infinite grad and -0.0 for a negative one). np.where with a
    scalar costs ~1 us more at 640 elements (its argument handling) and is a slow generic loop at
    32k (105 vs 9.5 us here); the integer product is the fastest of the exact forms at every size.
    It runs on the training hot path: ReLU's backward.
    """
    dtype = grad.dtype
    bits = _UNSIGNED_OF.get(dtype.char)
    if bits is None:
        return np.where(keep, grad, dtype.type(0))
    return np.multiply(grad.view(bits), keep).view(dtype)     # uint x bool -> uint: bool 0/1 cast in the loop



def _unbroadcast_tensor(grad, shape):
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(dim=tuple(range(extra)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(dim=axes, keepdim=True)
    return grad


def _scalar_category(value):
    if isinstance(value, (bool, np.bool_)):
        return 0
    if isinstance(value, numbers.Integral):
        return 1
    if isinstance(value, numbers.Real):
        return 2
    raise TypeError(f"unsupported operand type {type(value).__name__}")


def binary_operands(a, b):
    """Return ``(a, b)`` ready for a binary Function, with PyTorch's type promotion.

    ``a`` is a Tensor. ``b`` is a Tensor, a Python/NumPy number or an array.
    Python numbers are passed through as scalars (NumPy 2 keeps float32 for
    ``float32_array + 1.5``); only a category change (int tensor + float) casts.
    """
    if b.__class__ in _TENSOR_TYPES:
        if a._data.dtype is b._data.dtype:
            return a, b
        return _promote_tensors(a, b)
    if isinstance(b, np.ndarray):
        return _promote_tensors(a, _wrap(b))
    if isinstance(b, np.generic):
        b = b.item()
    cat = _scalar_category(b)
    a_cat = _dtype.from_numpy_dtype(a._data.dtype)._category
    if cat > a_cat:
        target = _dtype.get_default_dtype() if cat == 2 else _dtype.int64
        a = a.to(target)
    if a._data.dtype.kind == "b" and cat == 0:
        return a, np.bool_(b)
    return a, b


def _promote_tensors(a, b):
    """PyTorch's rule: dimensioned tensors outrank 0-d tensors within a category."""
    da, db = _dtype.from_numpy_dtype(a._data.dtype), _dtype.from_numpy_dtype(b._data.dtype)
    a0, b0 = a._data.ndim == 0, b._data.ndim == 0
    if a0 != b0:
        dim_t, zero_t = (da, db) if b0 else (db, da)
        result = zero_t if zero_t._category > dim_t._category else dim_t
    else:
        result = _dtype.promote(da, db)
    if da is not result:
        a = a.to(result)
    if db is not result:
        b = b.to(result)
    return a, b


def as_tensor_arg(x, like=None):
    """A Tensor from a Tensor / array / number (dtype of ``like`` for Python numbers)."""
    if x.__class__ in _TENSOR_TYPES:
        return x
    if isinstance(x, np.ndarray):
        return _wrap(x)
    if like is not None and isinstance(x, numbers.Number):
        return _wrap(np.asarray(x, dtype=like._data.dtype))
    from ..tensor import _array_from
    return _wrap(_array_from(x))


def normalize_dims(dim, ndim, op="dim"):
    """``dim`` (None, int, or sequence) as a sorted tuple of non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        return (canonical_dim(int(dim), ndim, op),)
    dims = tuple(canonical_dim(int(d), ndim, op) for d in dim)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"{op}: dim {dims} appears multiple times in the list of dims")
    return dims if dims else tuple(range(ndim))


def shape_arg(shape):
    """Accept ``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` / ``Size`` forms."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def broadcast_error(op, a_shape, b_shape):
    """PyTorch's broadcasting message, naming the op."""
    a_shape, b_shape = tuple(a_shape), tuple(b_shape)
    n = max(len(a_shape), len(b_shape))
    pa, pb = (1,) * (n - len(a_shape)) + a_shape, (1,) * (n - len(b_shape)) + b_shape
    for i in range(n - 1, -1, -1):
        if pa[i] != pb[i] and pa[i] != 1 and pb[i] != 1:
            return RuntimeError(f"{op}: The size of tensor a ({pa[i]}) must match the size of tensor b ({pb[i]}) "
                                f"at non-singleton dimension {i} "
                                f"(shapes {list(a_shape)} and {list(b_shape)})")
    return RuntimeError(f"{op}: shapes {list(a_shape)} and {list(b_shape)} cannot be broadcast together")


class _LinearAdjoint:
    """Built lazily (``Function`` imports tensor.py, which imports this module)."""
    cls = None


def linear_backward(ctx, grad, forward, index=0):
    """create_graph=True for an op that is linear in its input (reshape, indexing, padding, cat ...).

    Its backward g -> J^T g doesn't depend on the input, only on g; so the recorded backward is one
    node of its own, ``AdjointBackward``: forward = the op's NumPy backward on g, backward = the op
    itself applied to gg (``forward``: a Tensor -> Tensor call of the op, e.g. ``lambda t: t[key]``),
    which makes every order work. Returns input ``index``'s gradient as a Tensor.
    """
    if _LinearAdjoint.cls is None:
        from ..autograd.function import Function

        class AdjointBackward(Function):
            """z = J^T g (the backward of a linear op).   Backward: dg = J gg (the op applied to gg)."""

            @staticmethod
            def forward(node, g, op_ctx, op_forward, op_index):
                node.op_forward = op_forward
                # NOTE: a backward without retain_graph frees op_ctx's arrays (engine.release_saved), and may
                # reach op_ctx before this node: keep them for op_forward (lambda g: Gather.apply(g, ctx.dim,
                # ctx.index)), restored by _op_forward.
                node.op_arrays = (op_ctx, {key: value for key, value in op_ctx.__dict__.items()
                                           if value.__class__ is np.ndarray})
                linked = op_ctx._saved
                op_ctx._saved = op_ctx.__dict__.get("_raw_saved", linked)     # the arrays, not their Tensors
                try:
                    result = op_ctx.backward(op_ctx, g)
                finally:
                    op_ctx._saved = linked
                return result[op_index] if result.__class__ is tuple else result

            @staticmethod
            def backward(node, gg):
                from ..autograd.grad_mode import no_grad
                with no_grad():
                    return _op_forward(node, _wrap(gg))._data, None, None, None

            @staticmethod
            def graph_backward(node, gg):
                return _op_forward(node, gg), None, None, None

            @classmethod
            def name(cls):
                return "AdjointBackward0"

        _LinearAdjoint.cls = AdjointBackward
    return _LinearAdjoint.cls.apply(grad, ctx, forward, index)


def _op_forward(node, gg):
    """AdjointBackward's op applied to gg, the op's node holding its arrays again (see its forward)."""
    op_ctx, arrays = node.op_arrays
    state = op_ctx.__dict__
    for key, value in arrays.items():
        if state.get(key) is None:          # freed: release_saved sets a dropped array to None
            state[key] = value
    return node.op_forward(gg)
