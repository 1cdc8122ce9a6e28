"""Activation functions (the math behind ``nn.ReLU6``, ``nn.GELU``, ``nn.Softplus`` ...).

Each is one fused elementwise ``Function``: one node per activation instead of
the 3-6 a composition of primitives would record. Gradients at the kinks follow
PyTorch exactly (noted per op); g = dL/dy.
(relu, sigmoid and tanh live in ``ops/elementwise.py``; softmax in ``ops/softmax.py``.)
"""
import math

import numpy as np

from .. import _fast
from ..autograd.function import Function
from ..autograd.grad_mode import STATE
from .._dtype import get_default_dtype
from ..tensor import Tensor, _wrap
from ._errors import not_implemented_for
from .elementwise import _erf
from .inplace import rebase, check_inplace

# The functions that are also torch.<name>; the rest are reached through nn.functional only.
__all__ = ["selu", "celu", "prelu", "rrelu", "threshold", "hardshrink", "relu_", "selu_", "celu_", "rrelu_",
           "threshold_"]
METHODS = ["hardshrink"]

_SELU_ALPHA = 1.6732632423543772848170429916717     # Klambauer et al. 2017, the fixed point of self-normalisation
_SELU_SCALE = 1.0507009873554804934193349852946


def _select(mask, if_true, if_false):
    """``np.where(mask, if_true, if_false)`` for finite values, branch-free.

    NOTE: np.where over an unpredictable mask (the signs of activations) runs ~10x slower than a
    multiply in NumPy 2 (branch mispredictions), so the hot activations select arithmetically:
    if_false + mask * (if_true - if_false) is exact where the mask is False.
    """
    out = if_true - if_false
    out *= mask
    out += if_false
    return out


def _sigmoid_fast(x):
    """Stable logistic sigmoid without np.where: s = 1 / (1 + e^-|x|) is sigmoid(|x|); e * s is sigmoid(-|x|)
    (exact for the negative side, where the values are tiny)."""
    e = np.exp(-np.abs(x))
    s = 1 / (1 + e)
    e *= s
    return _select(x >= 0, s, e)


def _const(mask):
    """A constant Tensor (a mask or a piecewise-constant factor) inside a recorded backward."""
    return _wrap(mask)


def _inplace(input, fn, name):
    """Compute ``fn(input)`` and write it back into ``input`` (autograd-safe, like the ops in ``inplace.py``)."""
    if input.requires_grad and STATE.enabled:
        check_inplace(input, name)
        return rebase(input, fn(rebase.source(input)))
    return rebase(input, fn(input))


# ------------------------------------------------------------ piecewise linear
class Hardtanh(Function):
    """y = clamp(x, min_val, max_val).   Backward: dx = g where min_val < x < max_val, else 0 (kinks get 0)."""

    @staticmethod
    def forward(ctx, x, min_val, max_val):
        ctx.save_for_backward(x)
        ctx.bounds = (min_val, max_val)
        return np.clip(x, min_val, max_val)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        # where, not a product: outside the bounds g = inf or NaN still gives 0; a NaN input passes g (PyTorch)
        return np.where((x <= lo) | (x >= hi), np.zeros((), grad.dtype), grad), None, None

    @staticmethod
    def graph_backward(ctx, grad):
        (x,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        return grad * _const((x._data > lo) & (x._data < hi)), None, None


class LeakyRelu(Function):
    """y = x if x > 0 else slope * x.   Backward: dx = g if x > 0 else slope * g  (slope at 0)."""

    @staticmethod
    def forward(ctx, x, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        y = np.minimum(0, x)           # x second: a tie keeps x, so leaky_relu(-0.0) is -0.0 as in PyTorch
        y *= slope
        y += np.maximum(0, x)          # exact: one of the two terms is 0
        return y

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        slope = ctx.slope
        factor = (x > 0) * (1 - slope)
        factor += slope
        factor *= grad
        return factor, None

    @staticmethod
    def graph_backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * _const(np.where(x._data > 0, 1, ctx.slope).astype(x._data.dtype)), None


class Threshold(Function):
    """y = value if x <= threshold else x.   Backward: dx = g where not x <= threshold."""

    @staticmethod
    def forward(ctx, x, threshold, value):
        ctx.save_for_backward(x)
        ctx.threshold = threshold
        return np.where(x <= threshold, np.asarray(value, dtype=x.dtype), x)     # NaN stays NaN, as in PyTorch

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ~(x <= ctx.threshold), None, None

    @staticmethod
    def graph_backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * _const(x._data > ctx.threshold), None, None


class Shrink(Function):
    """Hardshrink: y = x if |x| > l else 0;  softshrink: y = x - l*sign(x) if |x| > l else 0.
    Backward: dx = g where |x| > l (the boundary gets 0)."""

    @staticmethod
    def forward(ctx, x, lambd, soft):
        mask = (x > lambd) | (x < -lambd)
        ctx.save_for_backward(mask)
        if soft:
            return mask * (x - np.sign(x) * np.asarray(lambd, dtype=x.dtype))
        return mask * x

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        return grad * mask, None, None

    graph_backward = backward     # operators only: runs on Tensors too (create_graph)


class Prelu(Function):
    """y = x if x > 0 else a * x, with a learnt per channel (dim 1) or shared.

    Backward: dx = g if x > 0 else a * g;  da = sum(g * x where x <= 0) over all but the channel dim.
    """

    @staticmethod
    def forward(ctx, x, weight):
        w = weight.reshape((1, -1) + (1,) * (x.ndim - 2)) if weight.size > 1 else weight.reshape(())
        if weight.size > 1 and x.ndim == 1:
            w = weight
        ctx.save_for_backward(x, w, weight)      # weight: for create_graph
        ctx.w_shape = weight.shape
        y = np.minimum(x, 0)
        y *= w
        y += np.maximum(x, 0)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, w, _ = ctx.saved_tensors
        positive = x > 0
        dx = grad * (w + positive * (1 - w))
        dw = None
        if ctx.needs_input_grad[1]:
            contrib = grad * np.minimum(x, 0)
            if w.ndim == 0:
                dw = np.asarray(contrib.sum()).reshape(ctx.w_shape)
            elif x.ndim == 1:
                dw = contrib.reshape(ctx.w_shape)
            else:
                axes = (0,) + tuple(range(2, x.ndim))
                dw = contrib.sum(axis=axes).reshape(ctx.w_shape)
        return dx, dw

    @staticmethod
    def graph_backward(ctx, grad):
        x, w, weight = ctx.saved_tensors
        w = weight.reshape(w.shape)
        positive = _const(x._data > 0)
        dx = grad * (w + positive * (1 - w))
        dw = None
        if ctx.needs_input_grad[1]:
            contrib = grad * x * _const(x._data < 0)       # g * min(x, 0)
            if w.ndim == 0:
                dw = contrib.sum().reshape(ctx.w_shape)
            elif x.ndim == 1:
                dw = contrib.reshape(ctx.w_shape)
            else:
                dw = contrib.sum(dim=(0,) + tuple(range(2, x.ndim))).reshape(ctx.w_shape)
        return dx, dw

_ONE_SIXTH_F32 = float(np.float32(1.0) / np.float32(6.0))


class Hardsigmoid(Function):
    """y = clamp(x / 6 + 1/2, 0, 1).   Backward: dx = g / 6 where -3 < x < 3."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (np.clip(x + 3, 0, 6) / 6).astype(x.dtype, copy=False)     # PyTorch's order (x / 6 + 0.5 rounds differently)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        # NOTE: PyTorch's kernel uses the float32 constant 1.0f/6.0f even for float64; we match it bit for bit.
        # where, not a product: outside (-3, 3), and at NaN, g = inf or NaN still gives 0, as in PyTorch
        return np.where((x > -3) & (x < 3), grad * _ONE_SIXTH_F32, np.zeros((), grad.dtype))

    @staticmethod
    def graph_backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * _const((x._data > -3) & (x._data < 3)) * _ONE_SIXTH_F32


class Hardswish(Function):
    """y = x * relu6(x + 3) / 6.   Backward: 0 for x <= -3, g * (x/3 + 1/2) for -3 < x < 3, g for x >= 3."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * np.clip(x + 3, 0, 6) / 6

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        # PyTorch's branches: 0 for x <= -3 (even where g is inf or NaN), g for x >= 3 and for a NaN x
        middle = np.where(x < 3, grad * (x / 3 + 0.5).astype(x.dtype, copy=False), grad)
        return np.where(x <= -3, np.zeros((), middle.dtype), middle)

    @staticmethod
    def graph_backward(ctx, grad):
        (x,) = ctx.saved_tensors
        middle, top = _const((x._data > -3) & (x._data < 3)), _const(x._data >= 3)
        return grad * ((x / 3 + 0.5) * middle + top)

# ------------------------------------------------------------ exponential family
class Elu(Function):
    """y = scale * x if x > 0 else scale * alpha * (exp(input_scale * x) - 1)   (ELU, CELU, SELU).

    Backward: dx = scale * g if x > 0 else g * scale * alpha * input_scale * exp(input_scale * x)
    (the negative branch at x = 0, as in PyTorch).
    """

    @staticmethod
    def forward(ctx, x, alpha, scale, input_scale):
        # min: no overflow on the unused branch; minimum(0, x) and maximum(0, x) (x second) keep x at a tie,
        # so elu(-0.0) is -0.0 as in PyTorch
        negative = np.minimum(0, x) * input_scale
        negative_exp = np.exp(negative)
        ctx.save_for_backward(x, negative_exp)
        ctx.params = (alpha, scale, input_scale)
        y = np.expm1(negative)                # 0 where x >= 0; expm1, as PyTorch: elu(-1e-15) is not 0
        y *= alpha * scale
        y += np.maximum(0, x) * scale
        return y

    @staticmethod
    def backward(ctx, grad):
        x, negative_exp = ctx.saved_tensors
        alpha, scale, input_scale = ctx.params
        factor = negative_exp * (alpha * scale * input_scale)
        factor = _select(x > 0, np.asarray(scale, dtype=factor.dtype), factor)
        nan = np.isnan(x)
        if nan.any():                  # PyTorch tests x <= 0 for the negative branch: a NaN x gets scale * g
            factor = np.where(nan, np.asarray(scale, dtype=factor.dtype), factor)
        factor *= grad
        return factor, None, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        x, _ = ctx.saved_tensors
        alpha, scale, input_scale = ctx.params
        negative_exp = (x.clamp(max=0) * input_scale).exp()
        positive = _const((x._data > 0).astype(x._data.dtype))     # a float mask: 1 - bool is refused
        return grad * (positive * scale + (1 - positive) * negative_exp * (alpha * scale * input_scale)), \
            None, None, None

class Softplus(Function):
    """y = log(1 + exp(beta x)) / beta, and y = x where beta x > threshold (for stability).

    Backward: dx = g * sigmoid(beta x)  (g where beta x > threshold).
    """

    @staticmethod
    def forward(ctx, x, beta, threshold):
        z = x * beta
        ctx.save_for_backward(z, x)         # x: for create_graph
        ctx.params = (beta, threshold)
        # NOTE: log1p(exp(-|z|)) + max(z, 0) is log(1 + e^z) without overflow.
        soft = (np.log1p(np.exp(-np.abs(z))) + np.maximum(z, 0)) / beta
        # NOTE: np.where, not _select: x may be +-inf (inf * 0 is NaN), and z > threshold is rarely true,
        # a predictable mask for which np.where is fast.
        return np.where(z > threshold, x, soft.astype(x.dtype, copy=False))

    @staticmethod
    def backward(ctx, grad):
        z, _ = ctx.saved_tensors
        _, threshold = ctx.params
        factor = _select(z > threshold, np.ones((), z.dtype), _sigmoid_fast(z))
        factor *= grad
        return factor, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        z, x = ctx.saved_tensors
        beta, threshold = ctx.params
        above = _const((z._data > threshold).astype(x._data.dtype))   # a float mask: 1 - bool is refused
        return grad * (above + (1 - above) * (x * beta).sigmoid()), None, None


class Logsigmoid(Function):
    """y = log(sigmoid(x)) = min(x, 0) - log(1 + exp(-|x|)).   Backward: dx = g * sigmoid(-x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * _sigmoid_fast(-x)

    @staticmethod
    def graph_backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (-x).sigmoid()

# ------------------------------------------------------------ smooth gates
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_INV_SQRT_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


# Abramowitz & Stegun 7.1.26: erfc(z) = (a1 t + ... + a5 t^5) e^(-z^2), t = 1/(1 + p z), z >= 0,
# |error| <= 1.5e-7 (absolute). Halved here, so the polynomial times e^(-x^2/2) is Phi(-|x|) directly.
_AS_P = 0.3275911 * _INV_SQRT_2            # t = 1/(1 + p z) with z = |x| / sqrt 2
_AS_COEFFS = tuple(0.5 * a for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592))


def _gelu_parts(x):
    """(y, dy/dx) of GELU for one block of ``x``: y = x Phi(x) and Phi(x) + x phi(x), phi = e^(-x^2/2) / sqrt(2 pi).

    NOTE: the derivative comes out of the same passes (e^(-x^2/2) serves Phi's tail and phi), so the
    backward is one multiply. float32 uses the 7.1.26 fit above: 24 NumPy passes for both outputs
    (the erfc fit used before took ~35 for Phi alone, and the backward 7 more). Phi is then accurate
    to ~1.5e-7 absolute, the float32 rounding of PyTorch's own 0.5 (1 + erf(x / sqrt 2)), which also
    keeps no relative accuracy in the far negative tail. float64 stays exact (erf).
    """
    if x.dtype != np.float32:
        e = np.exp(-0.5 * x * x)
        cdf = 0.5 * (1 + _erf(x * _INV_SQRT_2))
        return x * cdf, cdf + x * e * _INV_SQRT_2PI
    t = np.abs(x)
    t *= _AS_P
    t += 1
    np.reciprocal(t, out=t)
    e = np.multiply(x, -0.5)
    e *= x
    np.exp(e, out=e)                        # e^(-x^2/2); 0 (not inf) for |x| huge
    a5, a4, a3, a2, a1 = _AS_COEFFS
    q = np.multiply(t, a5)
    for c in (a4, a3, a2, a1):
        q += c
        q *= t
    q *= e                                  # Phi(-|x|)
    np.subtract(0.5, q, out=q)
    np.copysign(q, x, out=q)
    q += 0.5                                # Phi(x) = 1/2 + sign(x) (1/2 - Phi(-|x|))
    e *= x
    e *= _INV_SQRT_2PI
    e += q                                  # Phi(x) + x phi(x)
    q *= x
    return q, e


# NOTE: 32768 float32 elements are 128 KiB per temporary: the ~24 passes of _gelu_parts then run in L2
# cache; measured ~1.7x faster than whole-array passes on (1024, 512) (benchmarks/run_all.py, workload e).
_BLOCK = 32768


def _blockwise(fn, x, block=_BLOCK):
    """``fn(x)`` for an elementwise ``fn`` (returning one array or a tuple of arrays), ``block`` elements at a time.

    The same values, element for element; but a formula of many NumPy passes then keeps its
    temporaries in the CPU cache instead of streaming each one through main memory.
    """
    if x.size <= block:
        if x.ndim:
            return fn(x)
        out = fn(x.reshape(1))              # 0-d: NumPy's ufuncs return scalars there, which out= can't take
        return tuple(o.reshape(()) for o in out) if isinstance(out, tuple) else out.reshape(())
    flat = np.ascontiguousarray(x).reshape(-1)
    first = fn(flat[:block])
    several = isinstance(first, tuple)
    parts = first if several else (first,)
    outs = tuple(np.empty(flat.shape, dtype=p.dtype) for p in parts)
    for out, p in zip(outs, parts):
        out[:block] = p
    for start in range(block, flat.size, block):
        parts = fn(flat[start:start + block])
        for out, p in zip(outs, parts if several else (parts,)):
            out[start:start + block] = p
    outs = tuple(out.reshape(x.shape) for out in outs)
    return outs if several else outs[0]


def _build_gelu():
    from . import _fast_gelu           # imports numba: only here, at the first float32 GELU
    return _fast_gelu.gelu_parts_f32


def _gelu_agrees(kernel):
    """First-use self-check: the compiled GELU within its documented tolerance of ``_gelu_parts``."""
    x = np.linspace(-14, 14, 4099, dtype=np.float32)
    y, d = np.empty_like(x), np.empty_like(x)
    kernel(x, y, d)
    ry, rd = _gelu_parts(x)
    tol = np.float32(4 * 2.0 ** -24)
    return bool((np.abs(y - ry) <= tol * np.maximum(np.abs(x), 1)).all() and (np.abs(d - rd) <= tol).all())


# the compiled twin of _gelu_parts (ops/_fast_gelu.py): one pass instead of ~24, float32 only
_gelu_kernel = _fast.Kernel("gelu_forward", _build_gelu, check=_gelu_agrees)


def _gelu_parts_f32(x):
    """(y, dy/dx) of exact GELU for float32 ``x``: the compiled kernel when there is one, else ``_gelu_parts``."""
    kernel = _gelu_kernel.get() if x.size else None
    if kernel is None:
        return _blockwise(_gelu_parts, x)
    flat = np.ascontiguousarray(x).reshape(-1)
    y, dy_dx = np.empty_like(flat), np.empty_like(flat)
    kernel(flat, y, dy_dx)
    return y.reshape(x.shape), dy_dx.reshape(x.shape)


class Gelu(Function):
    """y = x * Phi(x) (Phi the standard normal CDF), or with ``approximate='tanh'``
    y = x/2 * (1 + tanh(k (x + 0.044715 x^3))), k = sqrt(2/pi).

    Backward: dx = g * (Phi(x) + x * phi(x)); tanh form: g * (1/2 (1 + t) + x/2 (1 - t^2) k (1 + 3 * 0.044715 x^2)).
    The exact form's factor Phi(x) + x phi(x) is computed in the forward's passes (see ``_gelu_parts``);
    for float32 its compiled twin ``ops/_fast_gelu.gelu_parts_f32`` does both in one pass when numba is there.
    """

    @staticmethod
    def forward(ctx, x, approximate):
        ctx.approximate = approximate
        if approximate == "tanh":
            t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
            ctx.save_for_backward(x, t)
            return 0.5 * x * (1 + t)
        with np.errstate(over="ignore", invalid="ignore"):    # x^2 of huge x, inf * 0 at +-inf: as PyTorch, silent
            y, dy_dx = _gelu_parts_f32(x) if x.dtype == np.float32 else _blockwise(_gelu_parts, x)
        ctx.save_for_backward(x, dy_dx)        # x: for create_graph
        return y

    @staticmethod
    def backward(ctx, grad):
        x, saved = ctx.saved_tensors
        if ctx.approximate == "tanh":
            t = saved
            inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            return grad * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * inner), None
        return grad * saved, None

    @staticmethod
    def graph_backward(ctx, grad):
        x, _ = ctx.saved_tensors
        if ctx.approximate == "tanh":
            t = (_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)).tanh()
            inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            return grad * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * inner), None
        cdf = 0.5 * (1 + (x * _INV_SQRT_2).erf())
        pdf = (-0.5 * x * x).exp() * _INV_SQRT_2PI
        return grad * (cdf + x * pdf), None


class Silu(Function):
    """y = x * sigmoid(x).   Backward: dx = g * s * (1 + x (1 - s)),  s = sigmoid(x)."""

    @staticmethod
    def forward(ctx, x):
        s = _sigmoid_fast(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, grad):
        x, s = ctx.saved_tensors
        return grad * s * (1 + x * (1 - s))

    @staticmethod
    def graph_backward(ctx, grad):
        x, _ = ctx.saved_tensors
        s = x.sigmoid()
        return grad * s * (1 + x * (1 - s))


class Mish(Function):
    """y = x * tanh(softplus(x)).   Backward: dx = g * (t + x * sigmoid(x) * (1 - t^2)),  t = tanh(softplus(x))."""

    @staticmethod
    def forward(ctx, x):
        t = np.tanh(np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0))
        ctx.save_for_backward(x, t)
        return x * t

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved_tensors
        return grad * (t + x * _sigmoid_fast(x) * (1 - t * t))

    @staticmethod
    def graph_backward(ctx, grad):
        x, _ = ctx.saved_tensors
        t = Softplus.apply(x, 1.0, 20.0).tanh()
        return grad * (t + x * x.sigmoid() * (1 - t * t))


class Softsign(Function):
    """y = x / (1 + |x|).   Backward: dx = g / (1 + |x|)^2, computed as PyTorch's composite does it,
    g / d - g (x / d / d) sign(x) with d = 1 + |x| (so it is NaN at x = +-inf, and where g = inf at x = 0)."""

    @staticmethod
    def forward(ctx, x):
        d = 1 + np.abs(x)
        ctx.save_for_backward(d, x)         # x: for create_graph
        return x / d

    @staticmethod
    def backward(ctx, grad):
        d, x = ctx.saved_tensors
        return grad / d + (-grad * (x / d / d)) * np.sign(x)

    @staticmethod
    def graph_backward(ctx, grad):
        _, x = ctx.saved_tensors
        d = 1 + x.abs()
        return grad / (d * d)


class Tanhshrink(Function):
    """y = x - tanh(x).   Backward: dx = g * tanh(x)^2, computed as PyTorch's composite does it,
    g + (-g) (1 - tanh(x)^2) (so g = inf gives NaN, not inf)."""

    @staticmethod
    def forward(ctx, x):
        t = np.tanh(x)
        ctx.save_for_backward(t, x)         # x: for create_graph
        return x - t

    @staticmethod
    def backward(ctx, grad):
        t, _ = ctx.saved_tensors
        return grad + (-grad) * (1 - t * t)

    @staticmethod
    def graph_backward(ctx, grad):
        _, x = ctx.saved_tensors
        t = x.tanh()
        return grad * t * t


class Glu(Function):
    """y = a * sigmoid(b), (a, b) the two halves of x along dim.
    Backward: da = g * sigmoid(b),  db = g * a * s (1 - s)."""

    @staticmethod
    def forward(ctx, x, dim):
        a, b = np.split(x, 2, axis=dim)
        s = _sigmoid_fast(b)
        ctx.save_for_backward(a, s, x)      # x: for create_graph
        ctx.dim = dim
        return a * s

    @staticmethod
    def backward(ctx, grad):
        a, s, _ = ctx.saved_tensors
        return np.concatenate([grad * s, grad * a * s * (1 - s)], axis=ctx.dim), None

    @staticmethod
    def graph_backward(ctx, grad):
        _, _, x = ctx.saved_tensors
        half = x.shape[ctx.dim] // 2
        a, s = x.narrow(ctx.dim, 0, half), x.narrow(ctx.dim, half, half).sigmoid()
        from .joining import cat
        return cat([grad * s, grad * a * s * (1 - s)], ctx.dim), None

# ------------------------------------------------------------ public functions
def _float(input, name):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input._data.dtype.kind != "f":
        raise not_implemented_for(name, input.dtype)
    return input


def _float_or_cast(input, name):
    """Ops PyTorch composes from others (softsign, tanhshrink): integers give the default float dtype."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input._data.dtype.kind == "b":
        raise not_implemented_for(name, input.dtype)
    return input if input._data.dtype.kind == "f" else input.to(get_default_dtype())


def _maybe_inplace(input, inplace, name, fn):
    if inplace:
        return _inplace(input, fn, name)
    return fn(input)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clamp(x, min_val, max_val)."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if isinstance(input, Tensor) and input._data.dtype.kind in "iub":
        if input._data.dtype.kind == "b":
            raise RuntimeError("Bool inputs not supported for hardtanh")
        # integers are clamped to integer bounds and stay integers, as in PyTorch (no gradient to record)
        lo, hi = int(min_val), int(max_val)
        return _maybe_inplace(input, inplace, "hardtanh_", lambda x: _wrap(np.clip(x._data, lo, hi)))
    _float(input, "hardtanh")
    return _maybe_inplace(input, inplace, "hardtanh_", lambda x: Hardtanh.apply(x, min_val, max_val))


def relu6(input, inplace=False):
    """min(max(0, x), 6) (hardtanh(x, 0, 6): zero gradient at 0 and 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x if x > 0 else negative_slope * x."""
    _float(input, "leaky_relu")
    return _maybe_inplace(input, inplace, "leaky_relu_", lambda x: LeakyRelu.apply(x, negative_slope))


def threshold(input, threshold, value, inplace=False):
    """x if x > threshold else value."""
    return _maybe_inplace(input, inplace, "threshold_", lambda x: Threshold.apply(x, threshold, value))


def hardshrink(input, lambd=0.5):
    """x if |x| > lambd else 0."""
    return Shrink.apply(_float(input, "hardshrink"), lambd, False)


def softshrink(input, lambd=0.5):
    """x - lambd * sign(x) if |x| > lambd else 0."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return Shrink.apply(_float(input, "softshrink"), lambd, True)


def prelu(input, weight):
    """x if x > 0 else a * x, a = ``weight`` (one value, or one per channel = dim 1)."""
    n = weight._data.size
    if n != 1:
        channels = input.shape[1] if input.ndim >= 2 else input.shape[0] if input.ndim == 1 else 1
        if n != channels:
            raise RuntimeError(f"prelu: mismatch of parameter numbers and input channel size. Found parameter "
                               f"numbers = {n} and channel size = {channels}.")
    return Prelu.apply(input, weight)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomized leaky ReLU: slope ~ U(lower, upper) per element in training, (lower + upper) / 2 in eval."""
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    from ..random import get_generator
    # PyTorch draws one float64 U(lower, upper) per non-positive element, in order; positive ones keep slope 1
    negative = input._data <= 0
    slope = np.ones(input._data.shape, dtype=input._data.dtype)
    dt = input._data.dtype.type       # the bounds are first rounded to the input's dtype
    slope[negative] = get_generator().uniform(float(dt(lower)), float(dt(upper)), (int(negative.sum()),), np.float64)
    return _maybe_inplace(input, inplace, "rrelu_", lambda x: _RreluTrain.apply(x, slope))


class _RreluTrain(Function):
    """y = x if x >= 0 else a * x with a fixed random slope array a.   Backward: dx = g or a * g."""

    @staticmethod
    def forward(ctx, x, slope):
        slope = np.where(x >= 0, np.ones((), x.dtype), slope)
        ctx.save_for_backward(slope)
        return x * slope

    @staticmethod
    def backward(ctx, grad):
        (slope,) = ctx.saved_tensors
        return grad * slope, None

    graph_backward = backward     # operators only: runs on Tensors too (create_graph)


def elu(input, alpha=1.0, inplace=False):
    """x if x > 0 else alpha * (exp(x) - 1)."""
    _float(input, "elu")
    return _maybe_inplace(input, inplace, "elu_", lambda x: Elu.apply(x, alpha, 1.0, 1.0))


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al. (2017)."""
    _float(input, "selu")
    return _maybe_inplace(input, inplace, "selu_", lambda x: Elu.apply(x, _SELU_ALPHA, _SELU_SCALE, 1.0))


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    _float(input, "celu")
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: celu: alpha must not be 0")
    return _maybe_inplace(input, inplace, "celu_", lambda x: Elu.apply(x, alpha, 1.0, 1.0 / alpha))


def gelu(input, approximate="none"):
    """x * Phi(x); ``approximate='tanh'`` uses the tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"approximate argument must be either none or tanh (got {approximate!r})")
    return Gelu.apply(_float(input, "gelu"), approximate)


def silu(input, inplace=False):
    """x * sigmoid(x) (swish)."""
    return _maybe_inplace(_float(input, "silu"), inplace, "silu_", Silu.apply)


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    return _maybe_inplace(_float(input, "mish"), inplace, "mish_", Mish.apply)


def hardsigmoid(input, inplace=False):
    """clamp(x / 6 + 1/2, 0, 1)."""
    return _maybe_inplace(_float(input, "hardsigmoid"), inplace, "hardsigmoid_", Hardsigmoid.apply)


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6."""
    return _maybe_inplace(_float(input, "hardswish"), inplace, "hardswish_", Hardswish.apply)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta (linear above ``threshold``)."""
    return Softplus.apply(_float(input, "softplus"), beta, threshold)


def softsign(input):
    """x / (1 + |x|)."""
    return Softsign.apply(_float_or_cast(input, "softsign"))


def tanhshrink(input):
    """x - tanh(x)."""
    return Tanhshrink.apply(_float_or_cast(input, "tanhshrink"))


def logsigmoid(input):
    """log(sigmoid(x)), stably."""
    return Logsigmoid.apply(_float(input, "logsigmoid"))


def glu(input, dim=-1):
    """a * sigmoid(b) where a, b are the halves of ``input`` along ``dim``."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    dim = dim % input.ndim
    if input.shape[dim] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {dim} is size {input.shape[dim]}")
    return Glu.apply(input, dim)


# In-place forms (F.relu_, F.elu_, ...): the same ops writing into their input.
def relu_(input):
    return input.relu_()


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


def selu_(input):
    return selu(input, inplace=True)


def celu_(input, alpha=1.0):
    return celu(input, alpha, inplace=True)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, inplace=True)


def threshold_(input, threshold_value, value):
    return threshold(input, threshold_value, value, inplace=True)
