"""Helpers shared by the distributions (``torch.distributions.utils``)."""
import numbers

import deepdive

__all__ = ["broadcast_all", "clamp_probs", "logits_to_probs", "probs_to_logits", "lazy_property", "tril_matrix_to_vec",
           "vec_to_tril_matrix"]


def broadcast_all(*values):
    """Broadcast Tensors and numbers to one shape; numbers become Tensors of the Tensors' dtype
    (the default dtype when all are numbers), as PyTorch's ``broadcast_all``."""
    if not all(isinstance(v, (deepdive.Tensor, numbers.Number)) for v in values):
        raise ValueError("Input arguments must all be instances of numbers.Number, torch.Tensor or objects "
                         "implementing __torch_function__.")
    if not all(isinstance(v, deepdive.Tensor) for v in values):
        dtype = next((v.dtype for v in values if isinstance(v, deepdive.Tensor)), deepdive.get_default_dtype())
        values = [v if isinstance(v, deepdive.Tensor) else deepdive.tensor(v, dtype=dtype) for v in values]
    return deepdive.broadcast_tensors(*values)


def clamp_probs(probs):
    """Clamp to [eps, 1 - eps] so that logs stay finite."""
    eps = deepdive.finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def logits_to_probs(logits, is_binary=False):
    """sigmoid(logits) for a binary variable, else softmax over the last dim."""
    if is_binary:
        return deepdive.sigmoid(logits)
    return deepdive.softmax(logits, dim=-1)


def probs_to_logits(probs, is_binary=False):
    """log(p) - log(1 - p) for a binary variable, else log(p) (probabilities clamped away from 0 and 1)."""
    clamped = clamp_probs(probs)
    if is_binary:
        return deepdive.log(clamped) - deepdive.log1p(-clamped)
    return deepdive.log(clamped)


class lazy_property:
    """A property computed on first access and then cached on the instance (``probs`` from ``logits``...).

    NOTE: computed with grad enabled, as PyTorch does, so a cached value keeps its graph even when it is
    first read inside ``no_grad`` (sample() runs there).
    """

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return self
        with deepdive.enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


def tril_matrix_to_vec(mat, diag=0):
    n = mat.shape[-1]
    rows, cols = deepdive.tril_indices(n, n, offset=diag)
    return mat[..., rows, cols]


def vec_to_tril_matrix(vec, diag=0):
    import math
    n = int((-(1 + 2 * diag) + math.sqrt((1 + 2 * diag) ** 2 + 8 * vec.shape[-1] + 4 * abs(diag) * (diag + 1))) / 2)
    rows, cols = deepdive.tril_indices(n, n, offset=diag)
    mat = deepdive.zeros(tuple(vec.shape[:-1]) + (n, n), dtype=vec.dtype)
    mat[..., rows, cols] = vec
    return mat
