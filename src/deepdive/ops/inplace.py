"""In-place ops (``add_``, ``mul_``, ``zero_`` ...) and the version counter that guards them.

An in-place op changes an array that backward may still need. Every tensor
carries a version counter, bumped by each in-place change; a node that saved
the tensor checks the version in backward and raises PyTorch's error instead of
silently using the changed values.

When autograd is involved (the tensor or the operand requires grad), the op is
computed out of place on a snapshot of the old values, the result is written
back into the same array, and the tensor's ``grad_fn`` is moved ("rebased") to
the new node, so gradients still flow through the tensor's earlier history.

Views (``x[0]``, ``x.t()``, ``x.view(...)``) share their base's memory and
version counter (``Tensor._view_of``); an in-place change of a view moves the
*base* to a ``CopySlices`` node and the view to a view of it, as PyTorch does;
views taken earlier are re-pointed at the base's new node (``_refresh_views``).
"""
import numpy as np

from ..autograd.grad_mode import STATE, no_grad
from ..autograd.function import Function
from ..tensor import Tensor, _wrap
from ._util import unbroadcast

__all__ = []
METHODS = ["add_", "sub_", "mul_", "div_", "pow_", "neg_", "abs_", "exp_", "log_", "sqrt_", "sigmoid_", "tanh_",
           "relu_", "clamp_", "clip_", "zero_", "fill_", "copy_", "masked_fill_", "uniform_", "normal_",
           "bernoulli_", "exponential_", "random_", "__iadd__", "__isub__", "__imul__", "__itruediv__", "lerp_",
           "addcmul_", "addcdiv_", "floor_", "round_", "sqrt_", "reciprocal_", "square_", "fill_diagonal_",
           "requires_grad_", "sign_", "t_", "transpose_", "unsqueeze_", "squeeze_", "resize_"]
METHODS += ["geometric_", "cauchy_", "log_normal_"]     # the rest of PyTorch's in-place samplers
METHODS.remove("requires_grad_")   # defined on Tensor itself


def check_inplace(t, op):
    if t.grad_fn is None and t.requires_grad and STATE.enabled:
        raise RuntimeError(f"{op}: a leaf Variable that requires grad is being used in an in-place operation. "
                           "Wrap the update in `with deepdive.no_grad():` or use an out-of-place op.")
    base = t._view_of
    if base is not None and base.grad_fn is None and base.requires_grad and STATE.enabled:
        raise RuntimeError(f"{op}: a view of a leaf Variable that requires grad is being used in an in-place "
                           "operation. Wrap the update in `with deepdive.no_grad():` or use an out-of-place op.")


class Overwrite(Function):
    """z = new (broadcast to old's shape): the old values are replaced, not used.
    Backward: d_old = 0,  d_new = g summed to new's shape.

    The zero gradient keeps the old history connected, as in PyTorch, where
    ``y.zero_()`` / ``y.floor_()`` / ``y.copy_(src)`` on a non-leaf y still
    give y's inputs a (zero) ``.grad``.
    """

    @staticmethod
    def forward(ctx, old, new):
        ctx.old_shape, ctx.old_dtype, ctx.new_shape = old.shape, old.dtype, np.shape(new)
        return np.broadcast_to(new, old.shape)

    @staticmethod
    def backward(ctx, grad):
        d_old = np.zeros(ctx.old_shape, dtype=grad.dtype) if ctx.needs_input_grad[0] else None
        d_new = unbroadcast(grad, ctx.new_shape) if ctx.needs_input_grad[1] else None
        return d_old, d_new

    @staticmethod
    def graph_backward(ctx, grad):
        d_old = _wrap(np.zeros(ctx.old_shape, dtype=grad._data.dtype)) if ctx.needs_input_grad[0] else None
        d_new = unbroadcast(grad, ctx.new_shape) if ctx.needs_input_grad[1] else None
        return d_old, d_new


def _history(t):
    """``t``'s current node as an input to the op that overwrites it (no copy: Overwrite reads no values)."""
    return _wrap(t._data, t.requires_grad, t.grad_fn, t._output_nr)


class _Rebase:
    """Write ``result`` into ``t``'s array and move ``t`` to ``result``'s node."""

    def __call__(self, t, result):
        if not result.requires_grad and t.requires_grad and STATE.enabled:
            # New values that do not depend on the old ones (floor_, sign_): zero gradient to t's history.
            result = Overwrite.apply(_history(t), result)
        base = t._view_of
        if base is not None and result.requires_grad and STATE.enabled and t._data.flags.writeable:
            positions = view_positions(base._data, t._data)
            if positions is not None:
                return _rebase_view(t, base, result, positions)
        write(t, result._data, "in-place op")
        if result.requires_grad:
            retained = _release_retained(t)
            t.grad_fn = result.grad_fn
            t._output_nr = result._output_nr
            t.requires_grad = True
            if retained:                # retain_grad() follows the tensor to its new version, as in PyTorch
                t.retain_grad()
            if "_views" in t.__dict__:
                _refresh_views(t)
        return t

    @staticmethod
    def source(t):
        """A snapshot of ``t`` before the change, standing in for it as the op's input."""
        return _wrap(t._data.copy(), t.requires_grad, t.grad_fn, t._output_nr)


rebase = _Rebase()


def _release_retained(t):
    """Stop retaining ``t``'s gradient at its current node; True if it was retained."""
    node = t.grad_fn
    if node is not None and node._retained and node._retained.get(t._output_nr) is t:
        del node._retained[t._output_nr]
        return True
    return False


# ------------------------------------------------------- in-place changes of views
# A view (x[0], x.t(), x.view(...), x.narrow(...)) shares its base's memory, so an
# in-place change of the view changes the base too; PyTorch then moves the *base*
# to a CopySlices node, and the view to a view of that node. Without this the
# base's later users would get gradients as if nothing had changed.
def view_positions(base, view, index=None):
    """For each element of ``view``, its flat index in ``base`` (None if that can't be read off the strides).
    ``index`` is ``np.arange(base.size)``, passed in when computing many views of one base."""
    if not base.flags.c_contiguous or view.dtype != base.dtype:
        return None
    item = base.itemsize
    offset = view.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    if offset % item or any(s % item for s in view.strides) or not 0 <= offset < max(base.nbytes, 1):
        return None
    if index is None:
        index = np.arange(base.size)
    return np.lib.stride_tricks.as_strided(index[offset // item:], view.shape,
                                           tuple(s // item * index.itemsize for s in view.strides)).copy()


def _refresh_views(base):
    """After ``base`` moved to a new node, point its live views at that node (through ``AsStrided``),
    so a view taken before the in-place change differentiates through it, as in PyTorch."""
    views = base.__dict__.get("_views")
    if not views:
        return
    index = np.arange(base._data.size)
    alive = []
    for view_ref in views:
        view = view_ref()
        if view is None or view._view_of is not base:
            continue
        positions = view_positions(base._data, view._data, index)
        if positions is None:
            continue
        node = AsStrided.apply(base, positions)
        retained = _release_retained(view)
        view.grad_fn, view._output_nr, view.requires_grad = node.grad_fn, 0, True
        if retained:
            view.retain_grad()
        alive.append(view_ref)
    base.__dict__["_views"] = alive


class CopySlices(Function):
    """z = base with the view's elements (flat ``positions``) replaced by ``values``.
    Backward: d_base = g with those positions zeroed,  d_values = g at those positions."""

    @staticmethod
    def forward(ctx, base, values, positions):
        ctx.positions = positions
        out = base.copy()
        out.reshape(-1)[positions] = values
        return out

    @staticmethod
    def backward(ctx, grad):
        d_base = d_values = None
        if ctx.needs_input_grad[0]:
            d_base = grad.copy()
            d_base.reshape(-1)[ctx.positions] = 0
        if ctx.needs_input_grad[1]:
            d_values = grad.reshape(-1)[ctx.positions]
        return d_base, d_values, None

    @staticmethod
    def graph_backward(ctx, grad):
        d_base = d_values = None
        if ctx.needs_input_grad[0]:          # the same write, of zeros
            d_base = CopySlices.apply(grad, np.zeros((), grad._data.dtype), ctx.positions)
        if ctx.needs_input_grad[1]:
            d_values = AsStrided.apply(grad, ctx.positions)
        return d_base, d_values, None


class AsStrided(Function):
    """y = base's elements at flat ``positions`` (how a view reads its base).   Backward: dx = g put back there."""

    @staticmethod
    def forward(ctx, base, positions):
        ctx.base_shape, ctx.positions = base.shape, positions
        return base.reshape(-1)[positions]

    @staticmethod
    def backward(ctx, grad):
        d_base = np.zeros(ctx.base_shape, dtype=grad.dtype)
        d_base.reshape(-1)[ctx.positions] = grad
        return d_base, None

    @staticmethod
    def graph_backward(ctx, grad):
        base = _wrap(np.zeros(ctx.base_shape, dtype=grad._data.dtype))
        return CopySlices.apply(base, grad, ctx.positions), None


def _rebase_view(view, base, result, positions):
    check_inplace(base, "in-place op on a view")
    values = result if result._data.shape == positions.shape else _wrap(
        np.broadcast_to(result._data, positions.shape), result.requires_grad, result.grad_fn, result._output_nr)
    retained = _release_retained(view)
    rebase(base, CopySlices.apply(_history(base), values, positions))   # writes the new values into memory
    node = AsStrided.apply(base, positions)
    view.grad_fn, view._output_nr, view.requires_grad = node.grad_fn, 0, True
    if retained:
        view.retain_grad()
    return view


def write(t, values, op):
    """Copy ``values`` into ``t``'s array with PyTorch's checks, and bump the version."""
    data = t._data
    if np.shape(values) != data.shape:
        try:
            np.broadcast_to(values, data.shape)
        except ValueError:
            raise RuntimeError(f"{op}: output with shape {list(data.shape)} doesn't match the broadcast shape "
                               f"{list(np.broadcast_shapes(np.shape(values), data.shape))}") from None
    if not data.flags.writeable:
        raise RuntimeError(f"{op}: unsupported operation: more than one element of the written-to tensor refers to a "
                           "single memory location (an expanded view). Please clone() the tensor before performing "
                           "the operation.")
    if np.asarray(values).dtype.kind == "f" and data.dtype.kind in "iub":
        raise RuntimeError(f"{op}: result type Float can't be cast to the desired output type "
                           f"{ {'i': 'Long', 'u': 'Byte', 'b': 'Bool'}[data.dtype.kind] }")
    np.copyto(data, values, casting="unsafe")
    t._version_counter[0] += 1


def _make_inplace(name, out_of_place):
    def op(self, *args, **kwargs):
        needs_graph = STATE.enabled and (self.requires_grad or any(
            isinstance(a, Tensor) and a.requires_grad for a in args))
        if needs_graph:
            check_inplace(self, name)
            return rebase(self, out_of_place(rebase.source(self), *args, **kwargs))
        with no_grad():
            result = out_of_place(self, *args, **kwargs)
        write(self, result._data, name)
        return self
    op.__name__ = name
    op.__doc__ = f"In-place version of ``{name[:-1]}``: changes this tensor and returns it."
    return op


def _ops():
    from . import elementwise as ew
    table = {
        "add_": ew.add, "sub_": ew.sub, "mul_": ew.mul, "div_": ew.div, "pow_": ew.pow, "neg_": ew.neg,
        "abs_": ew.abs, "exp_": ew.exp, "log_": ew.log, "sqrt_": ew.sqrt, "sigmoid_": ew.sigmoid,
        "tanh_": ew.tanh, "relu_": ew.relu, "clamp_": ew.clamp, "clip_": ew.clamp, "lerp_": ew.lerp,
        "addcmul_": ew.addcmul, "addcdiv_": ew.addcdiv, "floor_": ew.floor, "round_": ew.round,
        "reciprocal_": ew.reciprocal, "square_": ew.square, "sign_": ew.sign,
    }
    return table


for _name, _fn in _ops().items():
    globals()[_name] = _make_inplace(_name, _fn)

__iadd__, __isub__, __imul__, __itruediv__ = add_, sub_, mul_, div_  # noqa: F821


def zero_(self):
    """Fill with zeros (no gradient flows to the old values)."""
    return fill_(self, 0)


def fill_(self, value):
    if STATE.enabled and (self.requires_grad or (isinstance(value, Tensor) and value.requires_grad)):
        check_inplace(self, "fill_")
        value_t = value.to(self.dtype) if isinstance(value, Tensor) else np.asarray(value, dtype=self._data.dtype)
        return rebase(self, Overwrite.apply(_history(self), value_t))
    value = value._data if isinstance(value, Tensor) else value
    self._data[...] = value
    self._version_counter[0] += 1
    return self


def copy_(self, src, non_blocking=False):
    """Copy ``src``'s values (broadcast, cast to this dtype) into this tensor."""
    src_t = src if isinstance(src, Tensor) else _wrap(np.asarray(src))
    if STATE.enabled and (self.requires_grad or src_t.requires_grad):
        check_inplace(self, "copy_")
        values = src_t.to(self.dtype) if src_t._data.dtype != self._data.dtype else src_t
        try:
            return rebase(self, Overwrite.apply(_history(self), values))
        except ValueError:
            raise RuntimeError(f"copy_: the size of src {list(src_t.shape)} must be broadcastable to "
                               f"{list(self.shape)}") from None
    try:
        np.copyto(self._data, np.broadcast_to(src_t._data, self._data.shape), casting="unsafe")
    except ValueError:
        raise RuntimeError(f"copy_: the size of src {list(src_t.shape)} must be broadcastable to "
                           f"{list(self.shape)}") from None
    self._version_counter[0] += 1
    return self


def masked_fill_(self, mask, value):
    """Set elements where ``mask`` is True to ``value``."""
    from .elementwise import where
    mask_t = mask if isinstance(mask, Tensor) else _wrap(np.asarray(mask))
    if mask_t._data.dtype != np.bool_:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype {mask_t.dtype}")
    from .indexing import fill_value
    value_t = value if isinstance(value, Tensor) else _wrap(fill_value(value, self, "masked_fill_"))
    if STATE.enabled and (self.requires_grad or value_t.requires_grad):
        check_inplace(self, "masked_fill_")
        return rebase(self, where(mask_t, value_t.to(self.dtype), rebase.source(self)))
    np.copyto(self._data, value_t._data.astype(self._data.dtype), where=np.broadcast_to(mask_t._data, self._data.shape))
    self._version_counter[0] += 1
    return self


def _random_fill(self, name, sample):
    """Fill ``self`` with ``sample(shape, dtype, contiguous)``, drawn in memory order as PyTorch does.

    PyTorch's kernels walk a strided tensor in the order of its memory (a
    transposed view takes its draws column by column), so we draw for the
    axes sorted by stride and write through that view.
    """
    data = self._data
    axes = _memory_order(data)
    view = data.transpose(axes) if axes else data
    values = sample(view.shape, data.dtype, data.flags.c_contiguous)
    values = np.asarray(values).astype(data.dtype, copy=False).transpose(np.argsort(axes)) if axes else values
    if STATE.enabled and self.requires_grad:       # new values, zero gradient to the old ones (as in PyTorch)
        check_inplace(self, name)
        return rebase(self, Overwrite.apply(_history(self), values))
    self._data[...] = values
    self._version_counter[0] += 1
    return self


def _memory_order(array):
    """The axes of ``array`` from the largest stride to the smallest (C order for a contiguous array)."""
    return tuple(np.argsort([-abs(st) for st in array.strides], kind="stable")) if array.ndim else ()


def _float_only(self, name):
    if self._data.dtype.kind != "f":
        raise RuntimeError(f"{name} expects a floating point tensor, but got a tensor of dtype {self.dtype}")


def uniform_(self, a=0.0, b=1.0, *, generator=None):
    """Fill with samples from U(a, b)."""
    from ..random import get_generator
    _float_only(self, "uniform_")
    if a > b:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={a} > to={b}")
    return _random_fill(self, "uniform_", lambda shape, dt, _: get_generator(generator).uniform(a, b, shape, dt))


def normal_(self, mean=0.0, std=1.0, *, generator=None):
    """Fill with samples from N(mean, std^2)."""
    from ..random import get_generator
    _float_only(self, "normal_")
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    return _random_fill(self, "normal_", lambda shape, dt, contiguous: get_generator(generator).normal(
        mean, std, shape, dt, contiguous))


def bernoulli_(self, p=0.5, *, generator=None):
    """Fill with 1 with probability ``p`` (a float or a tensor of probabilities broadcast to self), else 0."""
    from ..random import get_generator
    p = p._data if isinstance(p, Tensor) else float(p)
    if np.any((np.asarray(p) < 0) | (np.asarray(p) > 1)):
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
    if np.ndim(p):       # probabilities in the order the draws are made
        p = np.broadcast_to(p, self._data.shape).transpose(_memory_order(self._data) or None)
    return _random_fill(self, "bernoulli_", lambda shape, dt, _: get_generator(generator).bernoulli(p, shape, dt))


def exponential_(self, lambd=1.0, *, generator=None):
    """Fill with samples from Exp(lambd): density lambd * exp(-lambd * x)."""
    from ..random import get_generator
    _float_only(self, "exponential_")
    if lambd <= 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    return _random_fill(self, "exponential_", lambda shape, dt, _: get_generator(generator).exponential(
        None, shape, dt, lambd=lambd))


def geometric_(self, p, *, generator=None):
    """Fill with the number of Bernoulli(p) trials up to the first success (1, 2, ...)."""
    from ..random import get_generator
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    return _random_fill(self, "geometric_", lambda shape, dt, _: get_generator(generator).geometric(p, shape, dt))


def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    """Fill with samples from Cauchy(median, sigma)."""
    from ..random import get_generator
    _float_only(self, "cauchy_")
    return _random_fill(self, "cauchy_", lambda shape, dt, _: get_generator(generator).cauchy(
        median, sigma, shape, dt))


def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    """Fill with exp(N(mean, std^2)) samples."""
    from ..random import get_generator
    _float_only(self, "log_normal_")
    if std <= 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    return _random_fill(self, "log_normal_", lambda shape, dt, _: get_generator(generator).log_normal(
        mean, std, shape, dt))


def random_(self, low=0, high=None, *, generator=None):
    """Fill with integers: [0, max] with no bounds (floats: [0, 2^mantissa]), [0, low) or [low, high)."""
    from ..random import get_generator
    gen = get_generator(generator)
    if high is None and low == 0:
        return _random_fill(self, "random_", lambda shape, dt, _: gen.random_bits(shape, dt))
    if high is None:
        low, high = 0, low
    return _random_fill(self, "random_", lambda shape, dt, _: gen.integers(low, high, shape, dt))


def fill_diagonal_(self, fill_value, wrap=False):
    if STATE.enabled and self.requires_grad:       # through masked_fill_, so the graph sees the change
        check_inplace(self, "fill_diagonal_")
        mask = np.zeros(self._data.shape, dtype=bool)
        np.fill_diagonal(mask, True, wrap=wrap)
        return masked_fill_(self, _wrap(mask), fill_value)
    np.fill_diagonal(self._data, fill_value, wrap=wrap)
    self._version_counter[0] += 1
    return self


def _metadata_inplace(name, op):
    def method(self, *args):
        result = op(self, *args)
        self._data = result._data
        if result.requires_grad:
            self.grad_fn, self._output_nr = result.grad_fn, result._output_nr
        return self
    method.__name__ = name
    return method


def _shape_ops():
    from . import shape
    return {"t_": shape.t, "transpose_": shape.transpose, "unsqueeze_": shape.unsqueeze, "squeeze_": shape.squeeze}


for _name, _fn in _shape_ops().items():
    globals()[_name] = _metadata_inplace(_name, _fn)


def resize_(self, *sizes):
    from ._util import shape_arg
    if self.requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    shape = shape_arg(sizes)
    self._data = np.resize(self._data, shape)
    self._version_counter[0] += 1
    return self
