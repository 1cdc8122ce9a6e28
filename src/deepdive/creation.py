"""Tensor creation: ``tensor``, ``zeros``, ``randn``, ``arange`` ... with PyTorch's defaults.

Floating results are float32 (the default dtype) unless ``dtype`` says
otherwise; NumPy's float64 default never leaks through.
"""
import numbers

import numpy as np

from . import _dtype
from ._dtype import to_dtype, get_default_dtype
from .random import get_generator
from .tensor import Tensor, _wrap, _array_from, _check_device
from .ops._util import shape_arg

__all__ = ["tensor", "as_tensor", "asarray", "from_numpy", "zeros", "ones", "full", "empty", "arange", "linspace",
           "logspace", "eye", "rand", "randn", "randint", "randperm", "zeros_like", "ones_like", "full_like",
           "empty_like", "rand_like", "randn_like", "randint_like", "multinomial", "bernoulli", "poisson", "normal",
           "scalar_tensor"]
METHODS = ["new_zeros", "new_ones", "new_full", "new_empty", "new_tensor"]


def _finish(array, requires_grad, device=None):
    _check_device(device)
    t = _wrap(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _float_dtype(dtype):
    d = to_dtype(dtype) if dtype is not None else get_default_dtype()
    return d.np


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of ``data`` (floats -> float32, ints -> int64, bools -> bool)."""
    if isinstance(data, Tensor):
        array = data._data.astype(to_dtype(dtype).np) if dtype is not None else data._data.copy()
    else:
        array = _array_from(data, dtype)
        if isinstance(data, np.ndarray) and array is data:
            array = array.copy()
    return _finish(np.array(array, copy=False) if array.ndim else np.asarray(array), requires_grad, device)


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares memory with a NumPy array or Tensor when no conversion is needed."""
    if isinstance(data, Tensor):
        return data if dtype is None or to_dtype(dtype).np == data._data.dtype else data.to(dtype)
    if isinstance(data, np.ndarray):
        return _wrap(data if dtype is None else data.astype(to_dtype(dtype).np, copy=False))
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def from_numpy(ndarray):
    """A tensor that shares memory with ``ndarray`` (changes show in both)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    _dtype.from_numpy_dtype(ndarray.dtype)
    return _wrap(ndarray)


def scalar_tensor(value, dtype=None, device=None, requires_grad=False):
    return _finish(np.asarray(value, dtype=_float_dtype(dtype)), requires_grad, device)


def _size(size_args, size, op):
    """The shape given positionally (``zeros(2, 3)``, ``zeros((2, 3))``) or as ``zeros(size=(2, 3))``."""
    if size is None:
        return size_args
    if size_args:
        raise TypeError(f"{op}() received an invalid combination of arguments: the size was given both "
                        f"positionally {size_args} and as size={size}")
    return (size,) if isinstance(size, (tuple, list)) else (int(size),)


def _filled(fill, size, dtype, device, requires_grad, default=None):
    shape = shape_arg(size)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(shape)}")
    np_dtype = to_dtype(dtype).np if dtype is not None else (default or get_default_dtype().np)
    return _finish(np.full(shape, fill, dtype=np_dtype), requires_grad, device)


def zeros(*size_args, size=None, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    return _filled(0, _size(size_args, size, "zeros"), dtype, device, requires_grad)


def ones(*size_args, size=None, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    return _filled(1, _size(size_args, size, "ones"), dtype, device, requires_grad)


def empty(*size_args, size=None, dtype=None, device=None, requires_grad=False, out=None, layout=None,
          memory_format=None):
    """Like PyTorch's ``empty``, but zero-filled (uninitialised memory helps nobody learn)."""
    return _filled(0, _size(size_args, size, "empty"), dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor of ``size`` filled with ``fill_value`` (its dtype inferred from the value, like PyTorch)."""
    if dtype is None:
        if isinstance(fill_value, bool):
            dtype = _dtype.bool_
        elif isinstance(fill_value, numbers.Integral):
            dtype = _dtype.int64
    return _filled(fill_value, (size,) if isinstance(size, int) else (tuple(size),), dtype, device, requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """Values from start (inclusive) to end (exclusive) by step; int64 when all are integers."""
    if end is None:
        start, end = 0, start
    values = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        dtype = _dtype.int64 if all(isinstance(v, numbers.Integral) for v in values) else get_default_dtype()
    np_dtype = to_dtype(dtype).np
    # NOTE: computed in float64 then cast, so float32 ranges end where PyTorch's do.
    return _finish(np.arange(*values, dtype=np.float64 if np_dtype.kind == "f" else np_dtype).astype(np_dtype),
                   requires_grad, device)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    return _finish(np.linspace(start, end, int(steps)).astype(_float_dtype(dtype)), requires_grad, device)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    return _finish(np.logspace(start, end, int(steps), base=base).astype(_float_dtype(dtype)), requires_grad, device)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    return _finish(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad, device)


def rand(*size_args, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform samples from [0, 1)."""
    _check_float(dtype, "rand")
    shape = shape_arg(_size(size_args, size, "rand"))
    return _finish(get_generator(generator).random(shape, _float_dtype(dtype)), requires_grad, device)


def _check_float(dtype, op):
    if dtype is not None and to_dtype(dtype).np.kind != "f":
        raise NotImplementedError(f"{op}: sampling is only implemented for floating dtypes, not {to_dtype(dtype)}")


def randn(*size_args, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    """Standard normal samples."""
    _check_float(dtype, "randn")
    shape = shape_arg(_size(size_args, size, "randn"))
    return _finish(get_generator(generator).standard_normal(shape, _float_dtype(dtype)), requires_grad, device)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """Integers in [low, high) (int64 by default): ``randint(10, (3,))`` or ``randint(2, 10, (3,))``."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    np_dtype = to_dtype(dtype).np if dtype is not None else np.int64
    return _finish(get_generator(generator).integers(low, high, tuple(size), np_dtype), requires_grad, device)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of 0..n-1 (int64)."""
    np_dtype = to_dtype(dtype).np if dtype is not None else np.int64
    return _finish(get_generator(generator).permutation(n).astype(np_dtype), requires_grad, device)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Draw indices with probability proportional to the rows of ``input`` (1-D or 2-D)."""
    probs = input._data.astype(np.float64)
    rows = probs[None] if probs.ndim == 1 else probs
    if (rows < 0).any() or not np.isfinite(rows).all():
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or element < 0")
    sums = rows.sum(-1, keepdims=True)
    if (sums <= 0).any():
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement and num_samples > rows.shape[-1]:
        raise RuntimeError("multinomial: cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    from ._sampling import multinomial_rows
    rows = input._data[None] if input._data.ndim == 1 else input._data     # drawn in the input's dtype
    out = multinomial_rows(get_generator(generator), rows, int(num_samples), replacement)
    return _wrap(out[0] if probs.ndim == 1 else out)


def bernoulli(input, p=None, *, generator=None):
    """0/1 samples with probabilities ``input`` (or the scalar ``p``), in ``input``'s dtype."""
    probs = input._data if p is None else float(p)
    return _wrap(get_generator(generator).bernoulli(probs, input._data.shape, input._data.dtype))


def poisson(input, generator=None):
    """One Poisson(rate) draw per element of ``input`` (PyTorch's CPU algorithm), in ``input``'s dtype."""
    from ._sampling import poisson as _poisson
    if (input._data < 0).any():
        raise RuntimeError("poisson: invalid Poisson rate, expected rate to be non-negative")
    return _wrap(_poisson(get_generator(generator), input._data).astype(input._data.dtype))


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None):
    """N(mean, std^2) samples; mean and/or std may be tensors (broadcast), else ``size`` gives the shape.

    As PyTorch draws them: N(0, 1) (or N(0, std) for a scalar std) into the
    output, then ``* std`` and ``+ mean`` as separate float ops.
    """
    gen = get_generator(generator)
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        m = mean._data if isinstance(mean, Tensor) else mean
        s = std._data if isinstance(std, Tensor) else std
        if np.any(np.asarray(s) < 0):
            raise RuntimeError("normal expects all elements of std >= 0.0")
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
        dt = (mean if isinstance(mean, Tensor) else std)._data.dtype
        if isinstance(std, Tensor):
            out = gen.normal(0.0, 1.0, shape, dt) * s
            return _wrap((out + np.asarray(m, dtype=dt)).astype(dt))
        return _wrap((gen.normal(0.0, std, shape, dt) + m).astype(dt))
    if size is None:
        raise TypeError("normal() received an invalid combination of arguments: with float mean and std, "
                        "size is required")
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    return _wrap(gen.normal(mean, std, tuple(size), _float_dtype(dtype)))


def _like(factory):
    def like(input, dtype=None, device=None, requires_grad=False, memory_format=None, **kwargs):
        dt = dtype if dtype is not None else input.dtype
        return factory(*input.shape, dtype=dt, requires_grad=requires_grad, **kwargs)
    like.__name__ = factory.__name__ + "_like"
    like.__doc__ = f"``{factory.__name__}`` with the shape (and by default the dtype) of ``input``."
    return like


zeros_like = _like(zeros)
ones_like = _like(ones)
empty_like = _like(empty)
rand_like = _like(rand)
randn_like = _like(randn)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False, memory_format=None):
    return full(tuple(input.shape), fill_value, dtype=dtype or input.dtype, requires_grad=requires_grad)


def randint_like(input, low=0, high=None, dtype=None, device=None, requires_grad=False, memory_format=None):
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), dtype=dtype or input.dtype)


def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
    return zeros(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)


def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
    return ones(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)


def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
    return empty(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)


def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
    return full(size, fill_value, dtype=dtype or self.dtype, requires_grad=requires_grad)


def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
    return tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)
