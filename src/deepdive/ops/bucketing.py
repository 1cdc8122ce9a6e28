"""Counting and bucketing: bincount, histc, searchsorted, bucketize (no gradients: integer or count outputs)."""
import numbers

import numpy as np

from ..tensor import Tensor, _wrap
from ._out import supports_out

__all__ = ["bincount", "histc", "searchsorted", "bucketize"]
METHODS = ["bincount", "histc"]
_TYPE_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def bincount(input, weights=None, minlength=0):
    """out[k] = number of (or, with ``weights``, the sum of weights at) entries of the 1-D int ``input`` equal to k;
    length max(input) + 1, at least ``minlength``. Weights: float32 stays float32, others sum as float64."""
    x = input._data
    if x.ndim != 1 or x.dtype.kind not in "iub":
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if x.size and x.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if weights is None:
        return _wrap(np.bincount(x, minlength=minlength).astype(np.int64))
    w = weights._data
    if w.shape != x.shape:
        raise RuntimeError("weights should be 1-d and have the same length as input")
    dtype = w.dtype if w.dtype in (np.float32, np.float64) else np.float64
    return _wrap(np.bincount(x, weights=w, minlength=minlength).astype(dtype))


def histc(input, bins=100, min=0, max=0):
    """A histogram of ``bins`` equal-width bins over [min, max] (the data's range if min == max; values
    outside are ignored, the last bin includes max). Same dtype as input."""
    x = input._data
    if x.dtype.kind != "f":
        raise RuntimeError(f"\"histogram_cpu\" not implemented for '{_TYPE_NAMES.get(x.dtype.name, x.dtype.name)}'")
    if bins <= 0:
        raise RuntimeError("torch.histc: bins must be > 0, but got " f"{bins} for dimension 0")
    low, high = float(min), float(max)
    if low == high and x.size:
        low, high = float(x.min()), float(x.max())
    if low == high:          # PyTorch widens an empty range by one on each side
        low, high = low - 1, high + 1
    if low > high:
        raise RuntimeError(f"torch.histc: max must be larger than min, but got min {low} max {high}")
    flat = x.reshape(-1)
    flat = flat[(flat >= low) & (flat <= high)]
    # NOTE: the bin index as PyTorch computes it, (x - min) * bins / (max - min), so edge values fall alike.
    position = ((flat.astype(np.float64) - low) * bins / (high - low)).astype(np.int64)
    position = np.minimum(position, bins - 1)
    return _wrap(np.bincount(position, minlength=bins).astype(x.dtype))


def _as_array(values, like):
    if isinstance(values, Tensor):
        return values._data, False
    if isinstance(values, numbers.Number):
        return np.asarray(values, dtype=like.dtype if isinstance(values, float) and like.dtype.kind == "f"
                          else None), True
    raise TypeError(f"searchsorted(): argument 'input' must be Tensor or Number, not {type(values).__name__}")


@supports_out
def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    """For each value, the index where it would be inserted into ``sorted_sequence`` to keep it sorted
    (``right``/``side='right'``: after equal elements). An N-D sequence is searched row by row, matching
    ``input``'s leading dims."""
    seq = sorted_sequence._data
    values, scalar = _as_array(input, seq)
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of left "
                               "while right was True")
        right = side == "right"
    side = "right" if right else "left"
    if sorter is not None:
        seq = np.take_along_axis(seq, sorter._data, axis=-1)
    dtype = np.int32 if out_int32 else np.int64
    if seq.ndim <= 1:
        return _wrap(np.asarray(np.searchsorted(seq, values, side=side), dtype=dtype))
    if scalar or seq.shape[:-1] != values.shape[:-1]:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                           "dimensions of boundaries tensor and input value tensor must match, but we got "
                           f"boundaries tensor {list(seq.shape)} and input value tensor {list(values.shape)}")
    rows_seq, rows_val = seq.reshape(-1, seq.shape[-1]), values.reshape(-1, values.shape[-1])
    out = np.stack([np.searchsorted(s, v, side=side) for s, v in zip(rows_seq, rows_val)]) if rows_val.size else \
        np.zeros(rows_val.shape, dtype)
    return _wrap(out.reshape(values.shape).astype(dtype))


@supports_out
def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket index of each value: i with boundaries[i-1] < x <= boundaries[i] (``right``:
    boundaries[i-1] <= x < boundaries[i]), for 1-D sorted ``boundaries``."""
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)
