"""Flatten parameters into one vector and back (for second-order methods, model averaging, ...)."""

from ...autograd.grad_mode import no_grad
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters):
    """One 1-D tensor: every parameter flattened and concatenated (differentiable, like PyTorch)."""
    from ... import cat
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D ``vec`` into the parameters (in place, no gradient)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected deepdive.Tensor, but got: {type(vec).__name__}")
    offset = 0
    with no_grad():
        for p in parameters:
            n = p._data.size
            p._data[...] = vec._data[offset:offset + n].reshape(p._data.shape)
            p._version_counter[0] += 1
            offset += n
    if offset != vec._data.size:
        raise RuntimeError(f"vector_to_parameters: vector has {vec._data.size} elements, the parameters {offset}")
