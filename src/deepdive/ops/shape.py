"""Shape ops: reshape/view, permute/transpose, squeeze/unsqueeze, expand, ...

They move or relabel elements without changing values, so each backward is the
inverse movement of the gradient.
"""
from weakref import ref

import numpy as np

from ..autograd.function import Function
from ..tensor import _wrap, Size
from ._util import canonical_dim, shape_arg, normalize_dims, linear_backward

__all__ = ["reshape", "flatten", "squeeze", "unsqueeze", "permute", "transpose", "swapaxes", "swapdims", "t", "clone",
           "movedim", "moveaxis", "unflatten", "ravel", "broadcast_to", "broadcast_tensors", "broadcast_shapes",
           "atleast_1d", "atleast_2d", "atleast_3d"]
METHODS = ["reshape", "view", "flatten", "squeeze", "unsqueeze", "permute", "transpose", "swapaxes", "swapdims", "t",
           "expand", "expand_as", "view_as", "reshape_as", "contiguous", "clone", "movedim", "moveaxis", "unflatten",
           "ravel", "broadcast_to", "unfold"]


class View(Function):
    """y = x with a new shape (same elements, row-major order).   Backward: dx = g reshaped back."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.in_shape), None

    graph_backward = backward     # Tensor methods only: runs on Tensors too (create_graph)


class Unsqueeze(View):
    """``View`` adding a dim of size 1 (PyTorch names the node apart)."""


class Squeeze(View):
    """``View`` dropping dims of size 1."""

    @classmethod
    def name(cls):
        return "SqueezeBackward1"


class Permute(Function):
    """y = x with its axes reordered by ``dims``.   Backward: dx = g permuted by the inverse order."""

    @staticmethod
    def forward(ctx, x, dims):
        ctx.inverse = tuple(sorted(range(len(dims)), key=dims.__getitem__))   # (np.argsort costs 10x more here)
        return np.transpose(x, dims)

    @staticmethod
    def backward(ctx, grad):
        return np.transpose(grad, ctx.inverse), None

    @staticmethod
    def graph_backward(ctx, grad):
        return grad.permute(ctx.inverse), None


class Transpose(Permute):
    """``Permute`` swapping two dims (a swap is its own inverse, so backward swaps back with the same dims)."""

    @staticmethod
    def forward(ctx, x, dims):
        ctx.inverse = dims
        return x.transpose(dims)


class T(Transpose):
    """``Transpose`` of a matrix by ``t()``."""


class Expand(Function):
    """y = x broadcast to ``shape`` (a view).   Backward: dx = g summed over the broadcast axes."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, grad):
        from ._util import unbroadcast
        return unbroadcast(grad, ctx.in_shape), None

    graph_backward = backward     # Tensor methods only: runs on Tensors too (create_graph)


class Clone(Function):
    """y = a copy of x.   Backward: dx = g."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad

    graph_backward = backward     # Tensor methods only: runs on Tensors too (create_graph)


def as_view(out, input):
    """Mark ``out`` as a view of ``input`` when NumPy gave it the same memory: the two then share
    one version counter (as in PyTorch), and in-place changes of ``out`` reach the base's graph."""
    if np.may_share_memory(out._data, input._data):
        base = input._view_of
        if base is None:
            base = input
        out._view_of = base
        out._version_counter = input._version_counter
        if base.grad_fn is not None:
            # A non-leaf base remembers its views: an in-place change of the base later re-derives
            # their grad_fn from its new node (ops/inplace.py), as PyTorch does. (Leaves can't be
            # changed in place while recording, so parameters keep no list.)
            views = base.__dict__.get("_views")
            if views is None:
                base.__dict__["_views"] = views = []
            elif len(views) >= 64:
                views[:] = [v for v in views if v() is not None]
            views.append(ref(out))
    return out


def _infer_shape(shape, numel, op, in_shape):
    if shape.count(-1) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"{op}: invalid shape dimension {s}")
            known *= s
    if -1 in shape:
        if known == 0:
            raise RuntimeError(f"{op}: cannot reshape tensor of 0 elements into shape {list(shape)} because the "
                               "unspecified dimension size -1 can be any value and is ambiguous")
        if numel % known:
            raise RuntimeError(f"{op}: shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"{op}: shape '{list(shape)}' is invalid for input of size {numel} "
                           f"(input shape {list(in_shape)})")
    return shape


def alias(input):
    """A new tensor object viewing all of ``input`` (PyTorch's no-op views: ``x.squeeze()`` with no size-1
    dim, ``x.transpose(0, 0)``, ``x.expand_as(x)``): never ``input`` itself, so an in-place change of the
    result's shape (``y.unsqueeze_(0)``) leaves ``input`` as it was, while its values stay shared."""
    return as_view(View.apply(input, input._data.shape), input)


def reshape(input, *shape, **kwargs):
    """Same elements in a new shape; one dim may be -1 (inferred). ``shape=`` works as a keyword too."""
    if kwargs:
        shape = (kwargs.pop("shape"),)
    if len(shape) == 1 and shape[0].__class__ is not int:
        shape = shape[0]
    try:
        # NumPy infers -1 itself; PyTorch's messages are built only when it refuses.
        return as_view(View.apply(input, shape), input)
    except (ValueError, TypeError):
        shape = _infer_shape(shape_arg((shape,)), input._data.size, "reshape", input.shape)
        return as_view(View.apply(input, shape), input)


def view(self, *shape, **kwargs):
    """The same memory seen with another shape (one dim may be -1); ``view(dtype)`` reinterprets the bytes.

    Like PyTorch, a view that would need a copy (e.g. of a transposed tensor) raises: use ``reshape``.
    """
    if kwargs:          # view(size=...) / view(dtype=...)
        shape = (kwargs["size"] if "size" in kwargs else kwargs["dtype"],)
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer, tuple, list)):
        from .._dtype import to_dtype
        target = to_dtype(shape[0]).np
        if target == self._data.dtype:
            return self
        if self.requires_grad:
            raise RuntimeError("view(dtype): a view of a tensor that requires grad as another dtype is not "
                               "differentiable; use .detach().view(dtype)")
        return _wrap(self._data.view(target))
    new_shape = _infer_shape(shape_arg(shape), self._data.size, "view", self.shape)
    probe = self._data.view()
    try:
        probe.shape = new_shape        # NumPy refuses exactly when the new shape needs a copy
    except AttributeError:
        raise RuntimeError(f"view size is not compatible with input tensor's size and stride (at least one dimension "
                           f"spans across two contiguous subspaces): shape {list(self.shape)} -> {list(new_shape)}. "
                           "Use .reshape(...) instead.") from None
    return reshape(self, *shape)


def view_as(self, other):
    return reshape(self, other.shape)


reshape_as = view_as


def flatten(input, start_dim=0, end_dim=-1):
    """Merge dims start_dim..end_dim into one."""
    nd = input._data.ndim
    if nd == 0:
        return reshape(input, 1)
    start, end = canonical_dim(start_dim, nd, "flatten"), canonical_dim(end_dim, nd, "flatten")
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if start == end:
        return input            # nothing to merge: PyTorch returns the input itself
    shape = input.shape
    merged = 1
    for s in shape[start:end + 1]:
        merged *= s
    return reshape(input, tuple(shape[:start]) + (merged,) + tuple(shape[end + 1:]))


def unflatten(input, dim, sizes):
    """Split dim ``dim`` into ``sizes`` (one of them may be -1): the inverse of ``flatten``."""
    nd = input._data.ndim
    d = canonical_dim(dim, nd, "unflatten")
    sizes = tuple(int(s) for s in sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    size = input._data.shape[d]
    known = 1
    for s in sizes:
        known *= s if s != -1 else 1
    if sizes.count(-1) > 1 or (-1 not in sizes and known != size) or (-1 in sizes and (known == 0 or size % known)):
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {dim} "
                           f"({size}) in the input tensor")
    sizes = tuple(size // known if s == -1 else s for s in sizes)
    shape = tuple(input.shape)
    return reshape(input, shape[:d] + sizes + shape[d + 1:])


def squeeze(input, dim=None):
    """Remove dims of size 1 (all of them, or those named by ``dim``)."""
    shape = input.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        dims = normalize_dims(dim, max(input.ndim, 1), "squeeze") if input.ndim else ()
        new = tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1))
    return as_view(Squeeze.apply(input, new), input) if new != tuple(shape) else alias(input)


def unsqueeze(input, dim):
    """Insert a dim of size 1 at ``dim`` (negative counts from the end of the new shape)."""
    nd = input._data.ndim + 1
    d = canonical_dim(dim, nd, "unsqueeze")
    shape = tuple(input.shape)
    return as_view(Unsqueeze.apply(input, shape[:d] + (1,) + shape[d:]), input)


def permute(input, *dims, **kwargs):
    """Reorder dims: ``x.permute(2, 0, 1)`` (or ``dims=(2, 0, 1)``)."""
    if kwargs:
        dims = (kwargs.pop("dims"),)
    dims = shape_arg(dims)
    nd = input._data.ndim
    if len(dims) != nd:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match the length "
                           f"of the desired ordering of dimensions i.e. input.dim() = {nd} is not equal to "
                           f"len(dims) = {len(dims)}")
    dims = tuple(canonical_dim(d, nd, "permute") for d in dims)
    if len(set(dims)) != nd:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return as_view(Permute.apply(input, dims), input)


def transpose(input, dim0, dim1):
    """Swap two dims."""
    nd = input._data.ndim
    if nd == 0:
        return alias(input)
    d0, d1 = canonical_dim(dim0, nd, "transpose"), canonical_dim(dim1, nd, "transpose")
    if d0 == d1:
        return alias(input)
    dims = list(range(nd))
    dims[d0], dims[d1] = d1, d0
    return as_view(Transpose.apply(input, tuple(dims)), input)


swapaxes = swapdims = transpose


def movedim(input, source, destination):
    def dims(d):
        if isinstance(d, int):
            return (canonical_dim(d, input.ndim, "movedim"),)
        return normalize_dims(d, input.ndim, "movedim")
    src, dst = dims(source), dims(destination)
    order = [d for d in range(input.ndim) if d not in src]
    for s, d in sorted(zip(dst, src)):
        order.insert(s, d)
    return permute(input, order)


def t(input):
    """Transpose of a matrix (0-D and 1-D tensors are returned as is)."""
    if input._data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input._data.ndim}D")
    return as_view(T.apply(input, (1, 0)), input) if input._data.ndim == 2 else alias(input)


def expand(self, *sizes, **kwargs):
    """Broadcast to a larger shape without copying; -1 keeps a dim."""
    if kwargs:
        sizes = (kwargs.pop("size"),)
    sizes = shape_arg(sizes)
    shape = self.shape
    if len(sizes) < len(shape):
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to the "
                           f"number of dimensions in the tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    target = []
    for i, s in enumerate(sizes):
        own = shape[i - lead] if i >= lead else None
        if s == -1:
            if own is None:
                raise RuntimeError("expand: -1 is not allowed in a leading, non-existing dimension")
            s = own
        elif own is not None and own != 1 and own != s:
            raise RuntimeError(f"expand: The expanded size of the tensor ({s}) must match the existing size ({own}) at "
                               f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  "
                               f"Tensor sizes: {list(shape)}")
        target.append(s)
    target = tuple(target)
    if target == tuple(shape):
        return alias(self)
    return as_view(Expand.apply(self, target), self)


def expand_as(self, other):
    return expand(self, other.shape)


def contiguous(self, memory_format=None):
    if self._data.flags.c_contiguous:
        return self
    return Clone.apply(self) if self.requires_grad else _wrap(np.ascontiguousarray(self._data))


def clone(input, memory_format=None):
    """A copy with its own memory (differentiable)."""
    return Clone.apply(input)


moveaxis = movedim


def ravel(input):
    """The elements as a 1-D tensor: a view of a contiguous input, a copy of any other (as PyTorch's ravel,
    which is ``contiguous().view(-1)``; NumPy would find a strided view of e.g. ``x[:, ::2]``)."""
    return reshape(contiguous(input), -1)


def broadcast_to(input, size):
    """``input.expand(size)``: a broadcast view of the given shape."""
    return expand(input, size)


def broadcast_shapes(*shapes):
    """The shape that tensors of these shapes broadcast to (PyTorch's rules, NumPy's names)."""
    try:
        return Size(np.broadcast_shapes(*[(s,) if isinstance(s, (int, np.integer)) else tuple(s) for s in shapes]))
    except ValueError:
        raise RuntimeError(f"Shape mismatch: objects cannot be broadcast to a single shape: "
                           f"{[list(s) if not isinstance(s, int) else s for s in shapes]}") from None


def broadcast_tensors(*tensors):
    """Expand all tensors to their common broadcast shape (views; gradients sum back)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = broadcast_shapes(*[t.shape for t in tensors])
    # PyTorch hands back a tensor that already has the shape as itself (a no-op, not a new view).
    return tuple(t if t.shape == shape else expand(t, shape) for t in tensors)


def atleast_1d(*tensors):
    """0-d tensors become shape (1,); others are returned as they are."""
    return _atleast(tensors, lambda t: reshape(t, 1) if t.ndim == 0 else t)


def atleast_2d(*tensors):
    """Tensors with fewer than 2 dims get leading dims of size 1."""
    return _atleast(tensors, lambda t: reshape(t, (1,) * (2 - t.ndim) + tuple(t.shape)) if t.ndim < 2 else t)


def atleast_3d(*tensors):
    """Like NumPy: () -> (1, 1, 1), (n,) -> (1, n, 1), (m, n) -> (m, n, 1)."""
    def lift(t):
        if t.ndim == 0:
            return reshape(t, 1, 1, 1)
        if t.ndim == 1:
            return reshape(t, 1, -1, 1)
        return unsqueeze(t, -1) if t.ndim == 2 else t
    return _atleast(tensors, lift)


def _atleast(tensors, lift):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(lift(t) for t in tensors[0])
    return lift(tensors[0]) if len(tensors) == 1 else tuple(lift(t) for t in tensors)


class Unfold(Function):
    """y[..., i, ..., k] = x[..., i * step + k, ...]: windows of ``size`` along ``dim`` (a strided view).
    Backward: dx = the window gradients added back at their positions (windows may overlap)."""

    @staticmethod
    def forward(ctx, x, dim, size, step):
        ctx.in_shape, ctx.args = x.shape, (dim, size, step)
        windows = np.lib.stride_tricks.sliding_window_view(x, size, axis=dim)
        return windows[(slice(None),) * dim + (slice(None, None, step),)]

    @staticmethod
    def backward(ctx, grad):
        dim, size, step = ctx.args
        dx = np.zeros(ctx.in_shape, dtype=grad.dtype)
        # one strided add per offset inside the window: size adds instead of a loop over windows
        n = grad.shape[dim]
        for k in range(size):
            target = (slice(None),) * dim + (slice(k, k + (n - 1) * step + 1, step),)
            dx[target] += grad[..., k]
        return dx, None, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        # linear in x: the adjoint of the window sums is the windowing itself, applied to gg
        return linear_backward(ctx, grad, lambda g: Unfold.apply(g, *ctx.args)), None, None, None


def unfold(self, dimension, size, step):
    """Sliding windows of ``size`` every ``step`` along ``dimension``, as a new last dim (``Tensor.unfold``)."""
    nd = self._data.ndim
    d = canonical_dim(dimension, max(nd, 1), "unfold")
    length = self._data.shape[d] if nd else 1
    if size > length:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {length} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if nd == 0:
        return reshape(self, 1)
    return as_view(Unfold.apply(self, d, int(size), int(step)), self)
