"""Affine maps: ``linear`` (y = x W^T + b) and ``bilinear`` (y = x1^T A x2 + b), each one fused Function.

NOTE: fused rather than composed from matmul + transpose + add: one node instead
of three, no transposed copy of W, and the batch dims are folded into one matmul
in backward. ``linear`` is on the hot path of every MLP.
"""
import numpy as np

from ..autograd.function import Function
from ..autograd._graph import linked_input

__all__ = ["bilinear"]


_TORCH_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
                     "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _dtype_name(t):
    name = str(t.dtype).split(".")[-1]
    return _TORCH_TYPE_NAMES.get(name, name)


class Linear(Function):
    """y = x W^T + b   (x: (*, in), W: (out, in), b: (out,)).

    Backward: dx = g W,  dW = g^T x,  db = sum(g)   (g and x flattened to 2-D over the batch dims).
    """
    _saved_only = True      # x and W through save_for_backward, nothing else (engine.release_saved)

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        if x.ndim > 2:          # one GEMM over all batch dims rather than a batched matmul
            y = (_rows(x) @ weight.T).reshape(x.shape[:-1] + (weight.shape[0],))
        else:
            y = x @ weight.T
        if bias is not None:
            y += bias
        return y

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        dx = dw = db = None
        if need_x:
            dx = grad @ weight if grad.ndim <= 2 else \
                (_rows(grad) @ weight).reshape(grad.shape[:-1] + (weight.shape[1],))
        if need_w or need_b:
            g2 = _rows(grad) if grad.ndim != 2 else grad
            if need_w:
                x2 = _rows(x) if x.ndim != 2 else x
                dw = g2.T @ x2
            if need_b:
                db = np.add.reduce(g2, axis=0)      # not g2.sum: NumPy's Python wrapper costs more at MLP sizes
        return dx, dw, db

    @staticmethod
    def graph_backward(ctx, grad):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        dx = grad @ weight if need_x else None
        g2 = grad.reshape(-1, grad.shape[-1])
        dw = g2.t() @ x.reshape(-1, x.shape[-1]) if need_w else None
        db = g2.sum(0) if need_b else None
        return dx, dw, db


def _rows(a):
    """``a`` as (rows, last dim); not reshape(-1, n), which NumPy refuses for 0 elements and n = 0."""
    return a.reshape(int(np.prod(a.shape[:-1])), a.shape[-1])


def linear(input, weight, bias=None):
    """y = x W^T + b over the last dim of ``input``.

    Shape: input (*, in_features), weight (out_features, in_features), bias (out_features,) -> (*, out_features).
    """
    x, w = input._data, weight._data
    if x.dtype is not w.dtype and x.dtype != w.dtype:
        raise RuntimeError(f"linear: mat1 and mat2 must have the same dtype, but got {_dtype_name(input)} and "
                           f"{_dtype_name(weight)}")
    if x.ndim == 0 or x.shape[-1] != w.shape[-1]:
        rows = int(np.prod(x.shape[:-1])) if x.ndim > 1 else 1
        raise RuntimeError(f"linear: mat1 and mat2 shapes cannot be multiplied "
                           f"({rows}x{x.shape[-1] if x.ndim else 1} and {w.shape[-1]}x{w.shape[0]})")
    if w.ndim == 1:             # a 1-D weight: x @ w, one output per row without the out_features dim
        from .linalg import matmul
        out = matmul(input, weight)
        return out if bias is None else out + bias
    return Linear.apply(input, weight, bias)


class Bilinear(Function):
    """y_o = sum_ij x1_i A_oij x2_j + b_o   (x1: (N, in1), x2: (N, in2), A: (out, in1, in2)).

    With T = x1 A (T_noj = sum_i x1_ni A_oij):
    Backward: dx1_ni = sum_oj g_no A_oij x2_nj,  dx2_nj = sum_o g_no T_noj,
              dA_oij = sum_n g_no x1_ni x2_nj,   db = sum_n g_no.
    """

    @staticmethod
    def forward(ctx, x1, x2, weight, bias):
        out_f, in1, in2 = weight.shape
        lead = x1.shape[:-1]
        a = x1.reshape(-1, in1)
        b = x2.reshape(-1, in2)
        t = (a @ weight.transpose(1, 0, 2).reshape(in1, out_f * in2)).reshape(-1, out_f, in2)
        y = np.einsum("noj,nj->no", t, b)
        if bias is not None:
            y += bias
        ctx.save_for_backward(a, b, weight, t)
        ctx.lead = lead
        return y.reshape(lead + (out_f,))

    @staticmethod
    def backward(ctx, grad):
        a, b, weight, t = ctx.saved_tensors
        need1, need2, need_w, need_b = ctx.needs_input_grad
        g = grad.reshape(-1, weight.shape[0])
        d1 = d2 = dw = db = None
        if need1:
            gb = np.einsum("no,nj->noj", g, b)
            d1 = np.einsum("noj,oij->ni", gb, weight).reshape(ctx.lead + (weight.shape[1],))
        if need2:
            d2 = np.einsum("no,noj->nj", g, t).reshape(ctx.lead + (weight.shape[2],))
        if need_w:
            dw = np.einsum("no,ni,nj->oij", g, a, b, optimize=True)
        if need_b:
            db = g.sum(axis=0)
        return d1, d2, dw, db

    @staticmethod
    def graph_backward(ctx, grad):
        # the same products written with recorded matmuls and broadcasts (trilinear in x1, x2, A)
        a, b, weight, _ = ctx.saved_tensors
        need1, need2, need_w, need_b = ctx.needs_input_grad
        out_f, in1, in2 = weight.shape
        n = a.shape[0]
        a = linked_input(ctx, 0, a._data.reshape(ctx.lead + (in1,))).reshape(n, in1)      # saved as 2-D views
        b = linked_input(ctx, 1, b._data.reshape(ctx.lead + (in2,))).reshape(n, in2)
        g = grad.reshape(n, out_f)
        d1 = d2 = dw = db = None
        if need1:       # dx1_ni = sum_oj (g_no x2_nj) A_oij
            gb = (g.unsqueeze(2) * b.unsqueeze(1)).reshape(n, out_f * in2)
            d1 = (gb @ weight.permute(0, 2, 1).reshape(out_f * in2, in1)).reshape(ctx.lead + (in1,))
        if need2:       # dx2_nj = sum_o g_no T_noj,  T = x1 A
            t = (a @ weight.permute(1, 0, 2).reshape(in1, out_f * in2)).reshape(n, out_f, in2)
            d2 = (g.unsqueeze(1) @ t).reshape(ctx.lead + (in2,))
        if need_w:      # dA_oij = sum_n g_no x1_ni x2_nj
            dw = (g.t() @ (a.unsqueeze(2) * b.unsqueeze(1)).reshape(n, in1 * in2)).reshape(out_f, in1, in2)
        if need_b:
            db = g.sum(0)
        return d1, d2, dw, db


def bilinear(input1, input2, weight, bias=None):
    """y = x1^T A x2 + b over the last dims.  Shape: (*, in1), (*, in2), A (out, in1, in2) -> (*, out)."""
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear: input1 and input2 must have the same batch dims, got {list(input1.shape)} "
                           f"and {list(input2.shape)}")
    if input1.shape[-1] != weight.shape[1] or input2.shape[-1] != weight.shape[2]:
        raise RuntimeError(f"bilinear: expected input1 with {weight.shape[1]} and input2 with {weight.shape[2]} "
                           f"features (weight shape {list(weight.shape)}), got {input1.shape[-1]} and "
                           f"{input2.shape[-1]}")
    return Bilinear.apply(input1, input2, weight, bias)
