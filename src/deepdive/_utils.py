"""``deepdive._utils`` (``torch._utils``): the private helpers that published code imports anyway.

``_flatten_dense_tensors`` joins tensors into one flat buffer (as gradient
bucketing and EMA code do); ``_unflatten_dense_tensors`` cuts such a buffer
back into tensors shaped like the originals. Both are built from ``cat`` and
``view``, so gradients flow through them.
"""
from .tensor import Tensor


def _flatten_dense_tensors(tensors):
    """One 1-D tensor: the tensors' values, flattened and concatenated in order.

    Example: ``_flatten_dense_tensors([zeros(2, 2), ones(3)])`` has 7 elements.
    """
    from .ops.joining import cat
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("_flatten_dense_tensors: expected a non-empty list of tensors")
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"_flatten_dense_tensors: expected tensors, got {type(t).__name__}")
    if len(tensors) == 1:
        return tensors[0].contiguous().view(-1)
    return cat([t.contiguous().view(-1) for t in tensors], 0)


def _unflatten_dense_tensors(flat, tensors):
    """Views of ``flat`` with the shapes of ``tensors`` (the inverse of ``_flatten_dense_tensors``)."""
    tensors = list(tensors)
    total = sum(t.numel() for t in tensors)
    if flat.numel() != total:
        raise RuntimeError(f"_unflatten_dense_tensors: flat tensor has {flat.numel()} elements but the tensors "
                           f"hold {total}")
    outputs, offset = [], 0
    for t in tensors:
        n = t.numel()
        outputs.append(flat.narrow(0, offset, n).view_as(t))
        offset += n
    return tuple(outputs)
