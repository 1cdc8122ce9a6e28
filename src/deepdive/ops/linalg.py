"""Matrix products: matmul (@) with batched broadcasting, mm, bmm, ..."""
import numpy as np

from ..autograd.function import Function
from ._util import unbroadcast

__all__ = ["matmul", "mm"]
METHODS = ["matmul", "mm", "__matmul__", "__rmatmul__"]


def _shape_str(shape):
    return "x".join(str(s) for s in shape)


class MatMul(Function):
    """Z = X @ Y (NumPy matmul semantics: 1-D promotion, batch broadcasting).

    Backward: dX = G @ Y^T,  dY = X^T @ G, each summed over broadcast batch dims.
    """

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return np.matmul(x, y)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        # NOTE: 1-D operands are treated as a row (x) / column (y) matrix and squeezed back.
        x2 = x[None, :] if x.ndim == 1 else x
        y2 = y[:, None] if y.ndim == 1 else y
        g = grad
        if x.ndim == 1:
            g = np.expand_dims(g, -2)
        if y.ndim == 1:
            g = np.expand_dims(g, -1)
        dx = dy = None
        if need_x:
            dx = np.matmul(g, np.swapaxes(y2, -1, -2))
            dx = unbroadcast(dx, x2.shape)
            if x.ndim == 1:
                dx = dx.reshape(x.shape)
        if need_y:
            dy = np.matmul(np.swapaxes(x2, -1, -2), g)
            dy = unbroadcast(dy, y2.shape)
            if y.ndim == 1:
                dy = dy.reshape(y.shape)
        return dx, dy


def _check_matmul(op, a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"{op}: both arguments need at least 1 dimension, but got {a.ndim}D and {b.ndim}D tensors")
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if ka != kb:
        if a.ndim <= 2 and b.ndim <= 2:
            a2 = a.shape if a.ndim == 2 else (1,) + tuple(a.shape)
            b2 = b.shape if b.ndim == 2 else tuple(b.shape) + (1,)
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({_shape_str(a2)} and {_shape_str(b2)})")
        raise RuntimeError(f"{op}: Expected size for first two dimensions of batch2 tensor to match: input shapes "
                           f"{list(a.shape)} and {list(b.shape)} (inner sizes {ka} and {kb} differ)")
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"{op}: expected both tensors to have the same dtype, but got {a.dtype} and {b.dtype}")


def matmul(input, other):
    """Matrix product with PyTorch's/NumPy's broadcasting rules."""
    _check_matmul("matmul", input, other)
    try:
        return MatMul.apply(input, other)
    except ValueError as e:
        raise RuntimeError(f"matmul: batch dimensions of {list(input.shape)} and {list(other.shape)} cannot be "
                           f"broadcast together ({e})") from None


def mm(input, mat2):
    """2-D matrix product."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expected 2D tensors, got {input.ndim}D and {mat2.ndim}D")
    _check_matmul("mm", input, mat2)
    return MatMul.apply(input, mat2)


def __matmul__(self, other):
    return matmul(self, other)


def __rmatmul__(self, other):
    from ._util import as_tensor_arg
    return matmul(as_tensor_arg(other), self)
