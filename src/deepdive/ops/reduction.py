"""Reductions: sum, mean, var/std, max/min, amax/amin, logsumexp and friends.

Every reduction takes ``dim`` (an int, a tuple of ints, or None for all dims,
negative dims counted from the end) and ``keepdim``, like PyTorch. Each
backward first puts the reduced axes back as size 1 (``_kept``), then applies the
derivative of the reduction elementwise, broadcasting over the reduced axes.
"""
import collections
import functools
import math
import warnings

import numpy as np

from .. import _dtype
from ..autograd.function import Function
from ..tensor import Tensor, _wrap, _TENSOR_TYPES
from ..autograd._graph import linked_output
from ._util import linear_backward, normalize_dims, canonical_dim

__all__ = ["sum", "mean", "var", "std", "var_mean", "std_mean", "max", "min", "amax", "amin", "logsumexp", "prod",
           "norm", "cumsum", "cumprod", "cummax", "cummin", "argmax", "argmin", "all", "any", "count_nonzero",
           "aminmax", "nansum", "nanmean"]
METHODS = [n for n in __all__ if n not in ("var_mean", "std_mean")]


# ------------------------------------------------------------------ helpers
def return_type(name, fields=("values", "indices")):
    """A named tuple like ``torch.return_types.<name>`` (``.values`` / ``.indices``)."""
    cls = collections.namedtuple(name, fields)
    cls.__module__ = "deepdive.return_types"

    def __repr__(self):
        inner = ",\n".join(f"{f}={v!r}" for f, v in zip(fields, self))
        return f"deepdive.return_types.{name}(\n{inner})"
    cls.__repr__ = __repr__
    return cls


max_type, min_type = return_type("max"), return_type("min")


def _expand_back(grad, in_shape, dims, keepdim):
    """The adjoint of a reduction's shape change: put reduced axes back as size 1, then broadcast."""
    if not keepdim:
        grad = grad.reshape([1 if i in dims else s for i, s in enumerate(in_shape)])
    if grad.__class__ in _TENSOR_TYPES:        # create_graph=True
        return grad.expand(in_shape)
    # NOTE: a fresh array (not np.broadcast_to's read-only view): two C calls, cheaper than the view's Python path.
    out = np.empty(in_shape, dtype=grad.dtype)
    out[...] = grad
    return out


def _dims(dim, ndim, op):
    """``dim`` as a tuple of axes; a 0-d tensor accepts dim 0 / -1 and reduces over no axis."""
    dims = normalize_dims(dim, ndim, op)
    return dims if ndim else ()


def _keep(y, dims, keepdim):
    """``y`` computed with keepdims=True, squeezed when ``keepdim`` is False."""
    return y if keepdim else y.squeeze(dims)


def _kept(grad, ctx):
    """An output gradient in keepdims form (reduced axes as size 1), ready to broadcast against x.

    ``ctx.kept_shape`` is the forward result's keepdims shape (a reshape is cheaper than np.expand_dims).
    """
    return grad if ctx.keepdim else grad.reshape(ctx.kept_shape)


def _check_nonempty(op, x, dims, dim_given):
    """PyTorch refuses reductions with no identity (max, amax, ...) over empty dims."""
    if x.size:
        return
    if not dim_given:
        raise RuntimeError(f"{op}(): Expected reduction dim to be specified for input.numel() == 0. "
                           "Specify the reduction dim with the 'dim' argument.")
    for d in dims:
        if x.shape[d] == 0:
            raise IndexError(f"{op}(): Expected reduction dim {d} to have non-zero size.")


# ---------------------------------------------------------------- sum, mean
class Sum(Function):
    """y = sum of x over dims.   Backward: dx = g broadcast back over the summed dims."""

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        ctx.in_shape, ctx.dims, ctx.keepdim = x.shape, dims, keepdim
        return x.sum(axis=dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        return _expand_back(grad, ctx.in_shape, ctx.dims, ctx.keepdim), None, None

    graph_backward = backward     # operators and Tensor methods only: runs on Tensors too (create_graph)


class Mean(Function):
    """y = mean of x over dims (N elements each).   Backward: dx = g / N broadcast back."""

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        ctx.in_shape, ctx.dims, ctx.keepdim = x.shape, dims, keepdim
        ctx.count = math.prod([x.shape[d] for d in dims])
        if ctx.count == 0:      # NOTE: 0 / 0 is nan, as in torch, without NumPy's "Mean of empty slice" warning
            return np.full_like(x.sum(axis=dims, keepdims=keepdim), np.nan)
        return x.mean(axis=dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        return _expand_back(grad / ctx.count, ctx.in_shape, ctx.dims, ctx.keepdim), None, None

    graph_backward = backward     # operators and Tensor methods only: runs on Tensors too (create_graph)


def sum(input, dim=None, keepdim=False, *, dtype=None, axis=None):
    """Sum over ``dim`` (all dims if None). Integer and bool inputs sum as int64, like PyTorch.
    ``axis`` is PyTorch's NumPy-style alias of ``dim`` (Spinning Up's SAC writes ``.sum(axis=-1)``)."""
    dim = axis if axis is not None else dim
    if dtype is not None:
        input = input.to(dtype)
    elif input._data.dtype.kind in "biu":
        input = input.to(_dtype.int64)
    dims = _dims(dim, input._data.ndim, "sum")
    return Sum.apply(input, dims, keepdim)


def mean(input, dim=None, keepdim=False, *, dtype=None, axis=None):
    """Arithmetic mean over ``dim`` (floating tensors only, as in PyTorch); ``axis`` aliases ``dim``."""
    dim = axis if axis is not None else dim
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating point or "
                           f"complex dtype. Got: {input.dtype.name.capitalize()}")
    dims = _dims(dim, input._data.ndim, "mean")
    return Mean.apply(input, dims, keepdim)


# ----------------------------------------------------------------- var, std
class Var(Function):
    """y = sum((x - mean)^2) / (N - correction).   Backward: dx = g * 2 (x - mean) / (N - correction)."""

    @staticmethod
    def forward(ctx, x, dims, correction, keepdim, full=False):
        centered = x - x.mean(axis=dims, keepdims=True)
        ctx.save_for_backward(centered, x)        # x: for create_graph, where centered is recomputed on Tensors
        ctx.keepdim, ctx.dof, ctx.dims = keepdim, _dof(x.shape, dims, correction), dims
        ctx.signed_dof, ctx.full = _signed_dof(x.shape, dims, correction), full or x.ndim == 0
        with np.errstate(over="ignore"):        # a float64 variance beyond float32's range is inf, silently
            y = _divide(_sum_of_squares(_accurate(x, centered, dims), dims), ctx.dof).astype(x.dtype, copy=False)
        ctx.kept_shape = y.shape
        return _keep(y, dims, keepdim)

    @staticmethod
    def backward(ctx, grad):
        centered, x = ctx.saved_tensors
        return _var_backward(ctx, _kept(grad, ctx), centered, x), None, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        _, x = ctx.saved_tensors
        centered = x - x.mean(dim=ctx.dims, keepdim=True)
        return _kept(grad, ctx) * (2 * centered) * _inverse(ctx.dof), None, None, None


class Std(Function):
    """y = sqrt(var(x)).   Backward: dx = g * (x - mean) / ((N - correction) * y).

    NOTE: one fused op instead of sqrt(var(x)): half the passes over x. Where y == 0
    (constant input) the gradient is 0, PyTorch's choice at sqrt's kink.
    """

    @staticmethod
    def forward(ctx, x, dims, correction, keepdim, full=False):
        centered = x - x.mean(axis=dims, keepdims=True)
        ctx.keepdim, ctx.dof = keepdim, _dof(x.shape, dims, correction)
        ctx.signed_dof, ctx.full = _signed_dof(x.shape, dims, correction), full or x.ndim == 0
        y = np.sqrt(_divide(_sum_of_squares(_accurate(x, centered, dims), dims), ctx.dof)).astype(x.dtype, copy=False)
        ctx.save_for_backward(centered, y, x)     # x: for create_graph
        ctx.dims = dims
        ctx.kept_shape = y.shape
        return _keep(y, dims, keepdim)

    @staticmethod
    def backward(ctx, grad):
        centered, y, x = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            grad_var = _kept(grad, ctx) / (2 * y)
        if not y.all():              # PyTorch's masked_fill: 0 where y == 0, even for an inf or NaN g
            grad_var = np.where(y == 0, np.zeros((), grad_var.dtype), grad_var)
        return _var_backward(ctx, grad_var, centered, x), None, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        _, y, x = ctx.saved_tensors
        y = linked_output(ctx, y._data)          # saved in keepdims form: link it to the output
        centered = x - x.mean(dim=ctx.dims, keepdim=True)
        zero = _wrap(y._data == 0)
        safe = y.masked_fill(zero, 1.0) if zero._data.any() else y
        scale = (_kept(grad, ctx) / (ctx.dof * safe)).masked_fill(zero, 0.0) if zero._data.any() \
            else _kept(grad, ctx) / (ctx.dof * y)
        return scale * centered, None, None, None


def _var_backward(ctx, g, centered, x):
    """PyTorch's var_backward: 2 g (x - mean) / (N - correction), N - correction signed (not clamped at 0);
    for a full reduction with N - correction <= 0, g * (NaN where x == mean, else inf)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if ctx.full and ctx.signed_dof <= 0:
            return g * np.where(x == x.mean(), np.asarray(np.nan, g.dtype), np.asarray(np.inf, g.dtype))
        return np.float64(2.0) / ctx.signed_dof * g * centered


def _signed_dof(shape, dims, correction):
    n = 1
    for d in dims:
        n *= shape[d]
    return n - correction


def _inverse(dof):
    return 1.0 / dof if dof else float("inf")


def _accurate(x, centered, dims):
    """x - mean(x) for the value of var / std: in float64 for a float32 x, as PyTorch's CPU kernel accumulates
    (so var of [1e30, 0, 0] overflows only when cast back, and std of it is 5.8e29, not inf)."""
    if x.dtype != np.float32:
        return centered
    x = x.astype(np.float64)
    return x - x.mean(axis=dims, keepdims=True)


def _sum_of_squares(centered, dims):
    return (centered * centered).sum(axis=dims, keepdims=True)


def _divide(a, dof):
    """a / dof; dof == 0 (no degrees of freedom) gives inf/nan like PyTorch, without NumPy's warning."""
    if dof:
        return a / dof
    with np.errstate(divide="ignore", invalid="ignore"):
        return a / np.asarray(dof, dtype=a.dtype)


def _dof(shape, dims, correction):
    n = 1
    for d in dims:
        n *= shape[d]
    if n - correction <= 0:
        warnings.warn("var(): degrees of freedom is <= 0. Correction should be strictly less than the reduction "
                      "factor (input numel divided by output numel).", UserWarning, stacklevel=4)
    return n - correction if n > correction else 0


def _var_args(op, input, dim, unbiased, keepdim, correction):
    """Sort out PyTorch's overloads: var(x, unbiased), var(x, dim, unbiased, keepdim), var(x, dim, correction=)."""
    if isinstance(dim, bool):          # var(x, False): the old ``unbiased`` positional overload
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise RuntimeError(f"{op}: can't specify both unbiased and correction")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    if input._data.dtype.kind != "f":
        raise RuntimeError("std and var only support floating point and complex dtypes")
    return _dims(dim, input._data.ndim, op), correction, keepdim


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance over ``dim`` with Bessel's ``correction`` (1 by default; ``unbiased=False`` means 0).

    var = sum((x - mean)^2) / max(0, N - correction); N - correction <= 0 gives nan/inf like PyTorch.
    """
    dims, correction, keepdim = _var_args("var", input, dim, unbiased, keepdim, correction)
    return Var.apply(input, dims, correction, keepdim, full=dim is None or isinstance(dim, bool))


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Standard deviation: sqrt(var(input, dim, correction)). Same arguments as ``var``."""
    dims, correction, keepdim = _var_args("std", input, dim, unbiased, keepdim, correction)
    return Std.apply(input, dims, correction, keepdim, full=dim is None or isinstance(dim, bool))


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(var(input, ...), mean(input, ...))``."""
    return (var(input, dim, unbiased, keepdim, correction=correction),
            mean(input, None if isinstance(dim, bool) else dim, keepdim))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(std(input, ...), mean(input, ...))``."""
    return (std(input, dim, unbiased, keepdim, correction=correction),
            mean(input, None if isinstance(dim, bool) else dim, keepdim))


# --------------------------------------------------------------- max / min
_MAX, _MIN = np.maximum.reduce, np.minimum.reduce     # the ufunc reductions skip np.max's Python wrapper


class ReduceExtreme(Function):
    """y = reducer(x) over dims, a value picked from x (max, min, median).

    Backward: g split evenly among the elements equal to y, PyTorch's rule for
    ``amax``/``amin`` and for ``max()``/``min()``/``median()`` without a dim. With
    ``nan_ties`` (the full reductions) a NaN result shares g among the NaNs, as in
    PyTorch; ``amax``/``amin`` give NaN gradients there instead, as PyTorch does.
    """

    @staticmethod
    def forward(ctx, x, dims, keepdim, reducer, nan_ties):
        y = reducer(x, axis=dims, keepdims=True)
        ctx.save_for_backward(x, y)
        ctx.dims, ctx.keepdim, ctx.kept_shape, ctx.nan_ties = dims, keepdim, y.shape, nan_ties
        return _keep(y, dims, keepdim)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        mask = np.isnan(x) if ctx.nan_ties and np.isnan(y).any() else x == y
        count = mask.sum(axis=ctx.dims, keepdims=True, dtype=grad.dtype)
        if ctx.nan_ties:      # max() / min(): PyTorch's masked_fill, so an inf or NaN g still gives 0 to the others
            return np.where(mask, _kept(grad, ctx) / count, np.zeros((), grad.dtype)), None, None, None, None
        return mask * (_kept(grad, ctx) / count), None, None, None, None      # amax / amin: a product, as PyTorch

    @staticmethod
    def graph_backward(ctx, grad):
        x, y = ctx.saved_tensors
        x, y = x._data, y._data
        mask = np.isnan(x) if ctx.nan_ties and np.isnan(y).any() else x == y
        count = mask.sum(axis=ctx.dims, keepdims=True, dtype=grad._data.dtype)
        return _wrap(mask) * (_kept(grad, ctx) / _wrap(count)), None, None, None, None


class SelectAlong(Function):
    """y = x at ``index`` along ``dim`` (the values of max/min/sort/topk/median with a dim).

    Backward: dx = zeros with g scattered back to the selected positions.
    ``index`` has x's shape except along ``dim`` (keepdim form).
    """

    @staticmethod
    def forward(ctx, x, index, dim, keepdim):
        where = along(index, dim)
        y = x[where]
        ctx.in_shape, ctx.where, ctx.keepdim, ctx.kept_shape = x.shape, where, keepdim, y.shape
        ctx.index, ctx.dim = index, dim
        return y if keepdim else y.squeeze(dim)

    @staticmethod
    def backward(ctx, grad):
        dx = np.zeros(ctx.in_shape, dtype=grad.dtype)
        dx[ctx.where] = _kept(grad, ctx)       # the indices of one slice are distinct: no accumulation needed
        return dx, None, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        return linear_backward(ctx, grad, lambda g: SelectAlong.apply(g, ctx.index, ctx.dim, ctx.keepdim)), \
            None, None, None

def along(index, dim):
    """A fancy index equivalent to ``take_along_axis(x, index, dim)``: ``x[along(index, dim)]``.

    NOTE: NumPy's take/put_along_axis rebuild these index grids in Python on every call; the
    grids for the other axes depend only on the shape, so they are cached.
    """
    return _grids(index.shape, dim)[:dim] + (index,) + _grids(index.shape, dim)[dim + 1:]


@functools.lru_cache(maxsize=256)
def _grids(shape, dim):
    n = len(shape)
    return tuple(None if i == dim else np.arange(s).reshape((1,) * i + (s,) + (1,) * (n - i - 1))
                 for i, s in enumerate(shape))


def _max_min(op, largest, result_type, input, dim, keepdim, other):
    from .elementwise import maximum, minimum
    if isinstance(dim, Tensor):              # max(a, b): the elementwise maximum
        return (maximum if largest else minimum)(input, dim)
    if other is not None:
        return (maximum if largest else minimum)(input, other)
    if dim is None:
        x = input._data
        _check_nonempty(op, x, (), False)
        return ReduceExtreme.apply(input, tuple(range(x.ndim)), False, _MAX if largest else _MIN, True)
    scalar = input._data.ndim == 0
    d = canonical_dim(int(dim), input._data.ndim, op)
    if scalar:
        input, d = input.reshape(1), 0
    x = input._data
    _check_nonempty(op, x, (d,), True)
    index = (x.argmax if largest else x.argmin)(axis=d, keepdims=True)
    keep = keepdim and not scalar
    values = SelectAlong.apply(input, index, d, keep)
    return result_type(values, _wrap(index if keep else index.squeeze(d)))


def max(input, dim=None, keepdim=False, *, other=None):
    """``max(input)``: the largest element (0-d). ``max(input, dim, keepdim=False)``: a named tuple
    ``(values, indices)`` (first occurrence on ties). ``max(input, other_tensor)``: ``maximum``.

    Backward: without a dim the gradient is split evenly among tied maxima; with a dim it goes to
    the returned index (PyTorch's rules).
    """
    return _max_min("max", True, max_type, input, dim, keepdim, other)


def min(input, dim=None, keepdim=False, *, other=None):
    """Like ``max`` for the smallest element(s)."""
    return _max_min("min", False, min_type, input, dim, keepdim, other)


def amax(input, dim=(), keepdim=False):
    """The largest values over ``dim`` (int or tuple; () or None: all dims). Ties share the gradient evenly."""
    return _amax_amin("amax", True, input, dim, keepdim)


def amin(input, dim=(), keepdim=False):
    """The smallest values over ``dim`` (int or tuple; () or None: all dims). Ties share the gradient evenly."""
    return _amax_amin("amin", False, input, dim, keepdim)


def _amax_amin(op, largest, input, dim, keepdim):
    given = dim is not None and dim != ()
    dims = _dims(dim if given else None, input._data.ndim, op)
    _check_nonempty(op, input._data, dims, given)
    return ReduceExtreme.apply(input, dims, keepdim, _MAX if largest else _MIN, False)


# ---------------------------------------------------------------- logsumexp
class LogSumExp(Function):
    """y = log(sum(exp(x))) over dims, computed as m + log(sum(exp(x - m))) with m = max(x).

    Backward: dx = g * exp(x - y)   (= g * softmax(x)).
    """

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        m = x.max(axis=dims, keepdims=True) if x.size else np.zeros((1,) * x.ndim, x.dtype)
        if x.size and np.isfinite(m).all():
            y = np.log(np.exp(x - m).sum(axis=dims, keepdims=True)) + m
        else:
            # NOTE: an infinite max is not subtracted: all -inf gives log(0) = -inf, not nan (PyTorch's result).
            with np.errstate(invalid="ignore", divide="ignore"):
                m = np.where(np.isfinite(m), m, 0).astype(x.dtype, copy=False)
                y = np.log(np.exp(x - m).sum(axis=dims, keepdims=True)) + m
        ctx.save_for_backward(x, y)
        ctx.keepdim, ctx.kept_shape = keepdim, y.shape
        return _keep(y, dims, keepdim)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        return _kept(grad, ctx) * np.exp(x - y), None, None

    @staticmethod
    def graph_backward(ctx, grad):
        x, y = ctx.saved_tensors
        return _kept(grad, ctx) * (x - linked_output(ctx, y._data)).exp(), None, None


def logsumexp(input, dim=None, keepdim=False):
    """log(sum(exp(input), dim)) without overflow: the max is taken out first.

    Integer inputs give the default float dtype, like PyTorch.
    """
    if input._data.dtype.kind != "f":
        from .._dtype import get_default_dtype
        input = input.to(get_default_dtype())
    dims = _dims(dim, input._data.ndim, "logsumexp")
    return LogSumExp.apply(input, dims, keepdim)


# --------------------------------------------------------------------- prod
class Prod(Function):
    """y = product of x over dims.

    Backward: dx_i = g * prod_{j != i} x_j. Without zeros that is g * y / x_i; with
    zeros the division is undefined, so the product of the others is formed from
    exclusive cumulative products from the left and from the right (no division).
    """

    @staticmethod
    def forward(ctx, x, dims, keepdim, full=False):
        y = x.prod(axis=dims, keepdims=True)
        ctx.save_for_backward(x, y)
        ctx.dims, ctx.keepdim, ctx.kept_shape, ctx.full = dims, keepdim, y.shape, full and x.ndim > 0
        return _keep(y, dims, keepdim)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        g = _kept(grad, ctx)
        if x.ndim == 0:
            return g, None, None                    # PyTorch: a 0-d input passes g (prod(inf) too)
        if x.all():
            return g * (y / x), None, None          # PyTorch's order: y / x first
        if ctx.full and x.size - np.count_nonzero(x) > 1:
            return np.zeros_like(x), None, None     # PyTorch: two zeros make every gradient 0 (NaNs too)
        return g * _prod_of_others(x, ctx.dims), None, None

    @staticmethod
    def graph_backward(ctx, grad):
        x, y = ctx.saved_tensors
        if not x._data.all():           # zeros: the exclusive cumprods on Tensors (PyTorch's prod_safe_zeros_backward)
            return _kept(grad, ctx) * _prod_of_others_graph(x, ctx.dims), None, None
        return _kept(grad, ctx) * linked_output(ctx, y._data) / x, None, None


def _prod_of_others(x, dims):
    """prod_{j != i} x_j over ``dims`` for every i, by exclusive cumprods (exact with zeros)."""
    kept = [d for d in range(x.ndim) if d not in dims]
    order = kept + list(dims)
    moved = np.transpose(x, order)
    flat = moved.reshape(moved.shape[:len(kept)] + (-1,))
    ones = np.ones(flat.shape[:-1] + (1,), dtype=x.dtype)
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return np.transpose((left * right).reshape(moved.shape), np.argsort(order))


def _prod_of_others_graph(x, dims):
    """``_prod_of_others`` on Tensors, recorded (cumprod's own recorded backward handles the zeros)."""
    from .joining import cat
    kept = [d for d in range(x.ndim) if d not in dims]
    order = kept + list(dims)
    moved = x.permute(*order)
    flat = moved.reshape(*moved.shape[:len(kept)], -1)
    last, n = flat.ndim - 1, flat.shape[-1]
    ones = _wrap(np.ones(tuple(flat.shape[:-1]) + (1,), dtype=x._data.dtype))
    left = cat([ones, flat.narrow(last, 0, n - 1)], last).cumprod(last)
    right = cat([ones, flat.narrow(last, 1, n - 1).flip(last)], last).cumprod(last).flip(last)
    return (left * right).reshape(*moved.shape).permute(*np.argsort(order).tolist())


def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Product of all elements, or over one ``dim``. Integer and bool inputs give int64, like PyTorch."""
    if dtype is not None:
        input = input.to(dtype)
    elif input._data.dtype.kind in "biu":
        input = input.to(_dtype.int64)
    if dim is not None and not isinstance(dim, (int, np.integer)):
        raise TypeError(f"prod(): argument 'dim' must be int, not {type(dim).__name__}")
    dims = _dims(dim, input._data.ndim, "prod")
    return Prod.apply(input, dims, keepdim and dim is not None, full=dim is None)


# --------------------------------------------------------------------- norm
class Norm(Function):
    """y = ||x||_p over dims = (sum |x|^p)^(1/p); max|x| for p = inf, min|x| for -inf, count of nonzeros for 0.

    Backward: dx = g * sign(x) |x|^(p-1) / y^(p-1)   (p = 2: g x / y; p = 1: g sign(x));
    for p = +-inf, g * sign(x) split evenly among the |x| equal to y; 0 where y == 0 (PyTorch's choice).
    """

    @staticmethod
    def forward(ctx, x, p, dims, keepdim):
        if p != 0 and x.size and [x.shape[d] for d in dims].count(1) == len(dims):
            y = np.abs(x)                 # one element per norm: |x|, as PyTorch (no x^2 to overflow at 1e30)
        elif p == 2:
            y = np.sqrt((x * x).sum(axis=dims, keepdims=True))
        elif p == 1:
            y = np.abs(x).sum(axis=dims, keepdims=True)
        elif p == np.inf:
            y = np.abs(x).max(axis=dims, keepdims=True, initial=0)
        elif p == -np.inf:
            y = np.abs(x).min(axis=dims, keepdims=True, initial=np.inf)
        elif p == 0:
            y = (x != 0).sum(axis=dims, keepdims=True, dtype=x.dtype)
        else:
            y = (np.abs(x) ** p).sum(axis=dims, keepdims=True) ** (1.0 / p)
        y = y.astype(x.dtype, copy=False)
        ctx.save_for_backward(x, y)
        ctx.p, ctx.dims, ctx.keepdim, ctx.kept_shape = p, dims, keepdim, y.shape
        return _keep(y, dims, keepdim)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        p = ctx.p
        g = _kept(grad, ctx)
        if p == 0:
            return np.zeros_like(x), None, None, None
        if p == 1:
            return g * np.nan_to_num(np.sign(x)), None, None, None     # sign(NaN) = 0, as in PyTorch
        if p in (np.inf, -np.inf):
            mask = np.abs(x) == y
            share = g / mask.sum(axis=ctx.dims, keepdims=True)
            return np.where(mask, share * np.sign(x), 0).astype(x.dtype, copy=False), None, None, None
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 2:
                scale = x / y
            else:
                scale = np.sign(x) * np.abs(x) ** (p - 1) / y ** (p - 1)
        return np.where(y == 0, 0, g * scale).astype(x.dtype, copy=False), None, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        x, y = ctx.saved_tensors
        y = linked_output(ctx, y._data)
        p = ctx.p
        g = _kept(grad, ctx)
        if p == 0:
            return x * 0, None, None, None
        if p == 1:
            return g * x.sign(), None, None, None
        if p in (np.inf, -np.inf):
            mask = np.abs(x._data) == y._data
            share = g / _wrap(mask.sum(axis=ctx.dims, keepdims=True).astype(x._data.dtype))
            return share * x.sign() * _wrap(mask), None, None, None
        zero = _wrap(y._data == 0)
        safe_y = y.masked_fill(zero, 1.0)          # 0 where y == 0, PyTorch's choice, without 0/0 in the graph
        scale = x / safe_y if p == 2 else x.sign() * x.abs() ** (p - 1) / safe_y ** (p - 1)
        return (g * scale).masked_fill(zero, 0.0), None, None, None


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """The vector p-norm over ``dim`` (all elements if None); ``p='fro'`` is the 2-norm.

    Args:
        p: a number (2, 1, inf, -inf, 0, any real), ``'fro'`` or ``'nuc'`` (nuclear norm of matrices)
        dim: int or tuple of ints (None: all dims)
        keepdim: keep the reduced dims as size 1
        dtype: cast the input to this dtype first
    """
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor as input. "
                           f"Got {_TORCH_NAMES.get(input.dtype.name, input.dtype.name)}")
    if p == "fro" or p is None:
        p = 2
    elif p == "nuc":                # the sum of singular values, over dim (default: the last two dims)
        from ..linalg import matrix_norm
        return matrix_norm(input, "nuc", (-2, -1) if dim is None else dim, keepdim)
    elif isinstance(p, str):
        raise NotImplementedError(f"norm: p={p!r} is not supported (use p='fro', a number, inf or -inf)")
    dims = _dims(dim, input._data.ndim, "norm")
    if float(p) < 0 or p == np.inf:
        reduced = [input._data.shape[d] for d in dims]
        if 0 in reduced:
            raise RuntimeError(f"linalg.vector_norm cannot compute the {p} norm on an empty tensor because the "
                               f"operation does not have an identity (input shape {list(input.shape)})")
    return Norm.apply(input, float(p), dims, keepdim)


_TORCH_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


# ----------------------------------------------------------- cumsum, cumprod
class CumSum(Function):
    """y_i = sum_{j <= i} x_j along dim.   Backward: dx_i = sum_{j >= i} g_j (a reversed cumsum)."""

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        return np.cumsum(x, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        return _reverse_cumsum(grad, ctx.dim), None

    @staticmethod
    def graph_backward(ctx, grad):
        return grad.flip(ctx.dim).cumsum(ctx.dim).flip(ctx.dim), None


def _reverse_cumsum(a, dim):
    return np.flip(np.cumsum(np.flip(a, dim), axis=dim), dim)


class CumProd(Function):
    """y_i = prod_{j <= i} x_j along dim.

    Backward: dx_i = sum_{j >= i} g_j y_j / x_i when x has no zeros. With zeros (first
    zero at z): positions before z keep that formula, position z gets
    sum_{j >= z} g_j prod_{k <= j, k != z} x_k, positions after z get 0.
    """

    @staticmethod
    def forward(ctx, x, dim):
        y = np.cumprod(x, axis=dim)
        ctx.save_for_backward(x, y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        dim = ctx.dim
        if x.all():
            return _reverse_cumsum(grad * y, dim) / x, None
        shape = [1] * x.ndim
        shape[dim] = x.shape[dim]
        position = np.arange(x.shape[dim]).reshape(shape)
        is_zero = x == 0
        first_zero = np.where(is_zero.any(axis=dim, keepdims=True), np.argmax(is_zero, axis=dim, keepdims=True),
                              x.shape[dim])
        before, at = position < first_zero, position == first_zero
        dx_before = _reverse_cumsum(grad * y, dim) / np.where(before, x, 1)
        others = np.cumprod(np.where(at, 1, x), axis=dim)      # the products with the first zero left out
        dx_at = np.sum(grad * others * (position >= first_zero), axis=dim, keepdims=True)
        return np.where(before, dx_before, np.where(at, dx_at, 0)).astype(grad.dtype, copy=False), None

    @staticmethod
    def graph_backward(ctx, grad):
        x, y = ctx.saved_tensors
        dim = ctx.dim
        if x._data.all():
            return grad.mul(y).flip(dim).cumsum(dim).flip(dim) / x, None
        # NOTE: with zeros the O(n) formula of backward is exact but its derivative is not cumprod's second
        # derivative; PyTorch then uses (and differentiates) the O(n^2) one, as here:
        # dx_k = sum_{j >= k} g_j prod_{i <= j, i != k} x_i.
        from .joining import cat
        n = x.shape[dim]
        shape = [1] * x.ndim
        shape[dim] = n
        position = np.arange(n).reshape(shape)
        parts = []
        for k in range(n):
            others = x.masked_fill(_wrap(position == k), 1).cumprod(dim)
            parts.append((grad * others).narrow(dim, k, n - k).sum(dim, keepdim=True))
        return cat(parts, dim), None


def _cumulative(op, function, input, dim, dtype):
    if dtype is not None:
        input = input.to(dtype)
    elif input._data.dtype.kind in "biu":
        input = input.to(_dtype.int64)
    if input._data.ndim == 0:
        canonical_dim(int(dim), 0, op)
        return function.apply(input.reshape(1), 0).reshape(())
    return function.apply(input, canonical_dim(int(dim), input._data.ndim, op))


def cumsum(input, dim, *, dtype=None):
    """Running sum along ``dim``. Integer and bool inputs give int64, like PyTorch."""
    return _cumulative("cumsum", CumSum, input, dim, dtype)


def cumprod(input, dim, *, dtype=None):
    """Running product along ``dim`` (gradient exact with zeros). Integer and bool inputs give int64."""
    return _cumulative("cumprod", CumProd, input, dim, dtype)


cummax_type, cummin_type = return_type("cummax"), return_type("cummin")


class ScatterAddAlong(Function):
    """y = x at ``index`` along ``dim``, where an index may repeat (cummax/cummin).

    Backward: dx = zeros with g added at the selected positions (repeats accumulate).
    """

    @staticmethod
    def forward(ctx, x, index, dim):
        ctx.in_shape, ctx.where, ctx.index, ctx.dim = x.shape, along(index, dim), index, dim
        return x[ctx.where]

    @staticmethod
    def backward(ctx, grad):
        dx = np.zeros(ctx.in_shape, dtype=grad.dtype)
        np.add.at(dx, ctx.where, grad)
        return dx, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        return linear_backward(ctx, grad, lambda g: ScatterAddAlong.apply(g, ctx.index, ctx.dim)), None, None


def _running_extreme(op, largest, result_type, input, dim):
    """(values, indices) of the running max/min; on ties the index moves to the latest element, and a NaN
    holds the values from there on (PyTorch's cummax/cummin)."""
    scalar = input._data.ndim == 0
    d = canonical_dim(int(dim), input._data.ndim, op)
    if scalar:
        input = input.reshape(1)
    x = input._data
    values = (np.maximum if largest else np.minimum).accumulate(x, axis=d)
    is_new = x == values
    if x.dtype.kind == "f":
        is_new |= np.isnan(x)
    position = np.arange(x.shape[d]).reshape([-1 if i == d else 1 for i in range(x.ndim)])
    index = np.maximum.accumulate(np.where(is_new, position, 0), axis=d) if x.size else np.zeros(x.shape, np.int64)
    out = ScatterAddAlong.apply(input, index, d)
    if scalar:
        return result_type(out.reshape(()), _wrap(index.reshape(())))
    return result_type(out, _wrap(index))


def cummax(input, dim):
    """Running maximum along ``dim``: a named tuple ``(values, indices)``."""
    return _running_extreme("cummax", True, cummax_type, input, dim)


def cummin(input, dim):
    """Running minimum along ``dim``: a named tuple ``(values, indices)``."""
    return _running_extreme("cummin", False, cummin_type, input, dim)


# --------------------------------------------------- nan-aware and combined
aminmax_type = return_type("aminmax", ("min", "max"))


def aminmax(input, *, dim=None, keepdim=False):
    """``(amin(input, dim), amax(input, dim))`` as a named tuple with fields ``min`` and ``max``."""
    dims = () if dim is None else dim
    return aminmax_type(amin(input, dims, keepdim), amax(input, dims, keepdim))


class NanSum(Function):
    """y = sum of x over dims, NaN counted as 0.   Backward: dx = g * (x is not NaN), PyTorch's formula."""

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        ctx.mask = ~np.isnan(x)
        y = np.where(ctx.mask, x, 0).sum(axis=dims, keepdims=True)
        ctx.keepdim, ctx.kept_shape = keepdim, y.shape
        return _keep(y, dims, keepdim)

    @staticmethod
    def backward(ctx, grad):
        return _kept(grad, ctx) * ctx.mask, None, None

    graph_backward = backward     # operators and Tensor methods only: runs on Tensors too (create_graph)


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum over ``dim`` treating NaN as 0 (so NaNs get no gradient). Integers sum as int64."""
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":        # no NaN to skip
        return sum(input, dim, keepdim)
    return NanSum.apply(input, _dims(dim, input._data.ndim, "nansum"), keepdim)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """Mean over ``dim`` of the non-NaN elements (NaN where a slice has none)."""
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError("nanmean(): expected input to have floating point or complex dtype but got "
                           f"{_TORCH_NAMES.get(input.dtype.name, input.dtype.name)}")
    dims = _dims(dim, input._data.ndim, "nanmean")
    count = (~np.isnan(input._data)).sum(axis=dims, keepdims=keepdim, dtype=input._data.dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        return nansum(input, dim, keepdim) / _wrap(count)


# ------------------------------------------------- argmax, all, any, counting
def _index_reduction(op, finder, input, dim, keepdim):
    x = input._data
    if dim is None:
        if not x.size:
            raise IndexError(f"{op}(): Expected reduction dim to be specified for input.numel() == 0.")
        index = finder(x)
        return _wrap(np.asarray(index, dtype=np.int64).reshape((1,) * x.ndim if keepdim else ()))
    d = canonical_dim(int(dim), x.ndim, op)
    if x.ndim == 0:
        return _wrap(np.zeros((), dtype=np.int64))
    _check_nonempty(op, x, (d,), True)
    return _wrap(finder(x, axis=d, keepdims=keepdim).astype(np.int64, copy=False))


def argmax(input, dim=None, keepdim=False):
    """Index of the largest value (first on ties; NaN counts as largest), over the flattened input if dim is None."""
    if input._data.dtype.kind == "b":
        raise RuntimeError("argmax(): does not support bool input")
    return _index_reduction("argmax", np.ndarray.argmax, input, dim, keepdim)


def argmin(input, dim=None, keepdim=False):
    """Index of the smallest value (first on ties), over the flattened input if dim is None."""
    if input._data.dtype.kind == "b":
        raise RuntimeError("argmin(): does not support bool input")
    return _index_reduction("argmin", np.ndarray.argmin, input, dim, keepdim)


def _logical_reduction(op, reducer, input, dim, keepdim):
    x = input._data
    dims = _dims(dim, x.ndim, op)
    result = reducer(x, axis=dims, keepdims=keepdim and dim is not None)
    # PyTorch keeps uint8 for uint8 inputs (a legacy of masks being bytes); everything else gives bool.
    return _wrap(np.asarray(result, dtype=np.uint8 if x.dtype == np.uint8 else np.bool_))


def all(input, dim=None, keepdim=False):
    """True where every element over ``dim`` (int, tuple, or all) is nonzero."""
    return _logical_reduction("all", np.all, input, dim, keepdim)


def any(input, dim=None, keepdim=False):
    """True where some element over ``dim`` (int, tuple, or all) is nonzero."""
    return _logical_reduction("any", np.any, input, dim, keepdim)


def count_nonzero(input, dim=None):
    """Number of nonzero elements over ``dim`` (int, tuple, or all), as int64."""
    x = input._data
    dims = _dims(dim, x.ndim, "count_nonzero")
    return _wrap(np.asarray(np.count_nonzero(x, axis=dims), dtype=np.int64))
