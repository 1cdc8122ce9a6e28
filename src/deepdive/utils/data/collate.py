"""Collation: a list of samples -> one batch, with PyTorch's default rules.

Tensors are stacked along a new first dim; NumPy arrays and numbers become
tensors (Python floats -> float64, as in PyTorch's default_collate; ints ->
int64); tuples/lists are collated per position, dicts per key; strings are kept
as lists.
"""
import collections.abc
import numbers

import numpy as np

from ...tensor import Tensor, _wrap


def default_collate(batch):
    elem = batch[0]
    if isinstance(elem, Tensor):
        shapes = {tuple(b.shape) for b in batch}
        if len(shapes) > 1:
            raise RuntimeError(f"default_collate: stack expects each tensor to be equal size, but got {sorted(shapes)}")
        return _wrap(np.stack([b._data for b in batch]))
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "OUS":
            raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                            f"found array of dtype {elem.dtype}")
        return _wrap(np.stack(batch))
    if isinstance(elem, np.generic):
        return _wrap(np.array(batch))
    if isinstance(elem, bool):
        return _wrap(np.array(batch, dtype=np.bool_))
    if isinstance(elem, numbers.Integral):
        return _wrap(np.array(batch, dtype=np.int64))
    if isinstance(elem, numbers.Real):
        return _wrap(np.array(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return type(elem)({key: default_collate([d[key] for d in batch]) for key in elem}) \
            if not isinstance(elem, collections.OrderedDict) else \
            collections.OrderedDict((key, default_collate([d[key] for d in batch])) for key in elem)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):        # namedtuple
        return type(elem)(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if len({len(e) for e in batch}) != 1:
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = [default_collate(samples) for samples in zip(*batch)]
        return tuple(transposed) if isinstance(elem, tuple) else transposed
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                    f"found {type(elem).__name__}")


def default_convert(data):
    """What the loader does to samples when batching is off: arrays become tensors."""
    if isinstance(data, np.ndarray) and data.dtype.kind not in "OUS":
        return _wrap(data)
    if isinstance(data, collections.abc.Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple):
        return tuple(default_convert(d) for d in data)
    if isinstance(data, list):
        return [default_convert(d) for d in data]
    return data
