"""Loss functions with ``torch.nn.functional``'s names, signatures and numbers.

Every loss takes ``reduction='none' | 'mean' | 'sum'`` (plus the legacy
``size_average``/``reduce`` pair). With 'none' the per-element loss comes back;
'mean' divides the sum by the number of elements (or, for the class losses,
by the summed weight of the targets that count); 'sum' sums.

The common losses are each one fused ``Function``: one NumPy pass forward, one
backward, which keeps the training hot path short, and the fused forms are the
numerically stable ones (log-sum-exp, the logits form of binary cross entropy).
Backward formulas use g = dL/d(loss) for each element. The rarer losses at the
end are short compositions of differentiable ops.
"""
import numbers
import warnings

import numpy as np

from ..autograd.function import Function, guard_saved_index
from ..autograd._graph import linked_input, composite_backward
from ..tensor import Tensor, _wrap, _TENSOR_TYPES
from ._util import unbroadcast
from .activation import softplus, logsigmoid
from .elementwise import where

__all__ = []    # torch puts the losses in torch.nn.functional only: nn/functional.py imports them by name

_REDUCTIONS = ("none", "mean", "sum")


# ------------------------------------------------------------------ reduction
def _reduction(size_average, reduce, reduction, extra=()):
    """The reduction string, honouring the legacy ``size_average``/``reduce`` flags as PyTorch does."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = ("mean" if size_average else "sum") if reduce else "none"
    if reduction not in _REDUCTIONS and reduction not in extra:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss, reduction):
    if reduction == "mean":
        return np.asarray(loss.mean())
    if reduction == "sum":
        return np.asarray(loss.sum())
    return loss


def _reduced(loss, reduction):
    """The reduction of a loss Tensor built from ops (autograd differentiates it)."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _per_element(grad, reduction, count):
    """The gradient reaching each element of the unreduced loss."""
    return grad / count if reduction == "mean" else grad


def _tensor_pair(input, target, op, promote=False):
    """input and target in one dtype: the input's, or with ``promote`` both in the promoted float dtype.

    NOTE: PyTorch 2.13 is not uniform here: mse/l1/smooth_l1 promote (float32 input, float64 target gives a
    float64 loss) while huber and most others keep the input's dtype.
    """
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"{op}(): argument 'input' and 'target' must be Tensors, got "
                        f"{type(input).__name__} and {type(target).__name__}")
    if target._data.dtype != input._data.dtype and input._data.dtype.kind == "f":
        if promote and target._data.dtype.kind == "f" and target._data.dtype.itemsize > input._data.dtype.itemsize:
            return input.to(target._data.dtype), target
        target = target.to(input._data.dtype)
    return input, target


def _like_input(weight, input):
    """A weight tensor in the input's dtype, so that a float64 weight cannot turn a float32 loss into float64."""
    if weight is None or weight._data.dtype == input._data.dtype:
        return weight
    return weight.to(input._data.dtype)


# ---------------------------------------------------------- regression losses
class _DifferenceLoss(Function):
    """Base of the losses of d = x - y: forward reduces l(d), backward is dx = l'(d) g, dy = -dx.

    Subclasses give ``pointwise(d, param)`` = l(d) and ``slope(d, param)`` = l'(d).
    """

    @staticmethod
    def forward(ctx, input, target, reduction, param):
        d = input - target
        ctx.save_for_backward(d)
        ctx.shapes, ctx.reduction, ctx.param = (input.shape, target.shape), reduction, param
        return _reduce(ctx.pointwise(d, param), reduction)

    @staticmethod
    def backward(ctx, grad):
        (d,) = ctx.saved_tensors
        dd = ctx.slope(d, ctx.param) * _per_element(grad, ctx.reduction, d.size)
        need_x, need_y = ctx.needs_input_grad[:2]
        return (unbroadcast(dd, ctx.shapes[0]) if need_x else None,
                unbroadcast(-dd, ctx.shapes[1]) if need_y else None, None, None)

    @staticmethod
    def graph_backward(ctx, grad):
        (d,) = ctx.saved_tensors
        d = d._data
        # d = x - y rebuilt on Tensors: stand-ins holding d and 0 carry the gradient to x and y
        d = linked_input(ctx, 0, d, ctx.shapes[0]) - linked_input(ctx, 1, np.zeros_like(d), ctx.shapes[1])
        dd = ctx.graph_slope(d, ctx.param) * _per_element(grad, ctx.reduction, d._data.size)
        need_x, need_y = ctx.needs_input_grad[:2]
        return (unbroadcast(dd, ctx.shapes[0]) if need_x else None,
                unbroadcast(-dd, ctx.shapes[1]) if need_y else None, None, None)

    graph_slope = None

class MSELoss(_DifferenceLoss):
    """l = d^2.   Backward: l'(d) = 2 d."""

    @staticmethod
    def pointwise(d, _):
        return d * d

    @staticmethod
    def slope(d, _):
        return 2 * d



    @staticmethod
    def graph_slope(d, _):
        return 2 * d


def _sign(d):
    """sign(d) with PyTorch's sign(NaN) = 0 (NumPy's is NaN): a NaN difference gets no gradient."""
    return np.where(np.isnan(d), np.zeros((), d.dtype), np.sign(d))


class L1Loss(_DifferenceLoss):
    """l = |d|.   Backward: l'(d) = sign(d)   (0 at d = 0 and at d = NaN, as PyTorch)."""

    @staticmethod
    def pointwise(d, _):
        return np.abs(d)

    @staticmethod
    def slope(d, _):
        return _sign(d)



    @staticmethod
    def graph_slope(d, _):
        return d.sign()


class SmoothL1Loss(_DifferenceLoss):
    """l = 0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta.   Backward: l'(d) = clip(d / beta, -1, 1)."""

    @staticmethod
    def pointwise(d, beta):
        a = np.abs(d)
        return np.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta) if beta > 0 else a

    @staticmethod
    def slope(d, beta):
        return np.clip(d / beta, -1, 1) if beta > 0 else _sign(d)



    @staticmethod
    def graph_slope(d, beta):
        return (d / beta).clamp(-1, 1) if beta > 0 else d.sign()


class HuberLoss(_DifferenceLoss):
    """l = 0.5 d^2 if |d| < delta else delta (|d| - 0.5 delta).   Backward: l'(d) = clip(d, -delta, delta)."""

    @staticmethod
    def pointwise(d, delta):
        a = np.abs(d)
        return np.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))

    @staticmethod
    def slope(d, delta):
        return np.clip(d, -delta, delta)



    @staticmethod
    def graph_slope(d, delta):
        return d.clamp(-delta, delta)


def _difference_loss(function, op, input, target, reduction, param=None, weight=None, mean_by_weight=True):
    input, target = _tensor_pair(input, target, op, promote=op in ("mse_loss", "l1_loss", "smooth_l1_loss"))
    if input._data.shape != target._data.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
                      "This will likely lead to incorrect results due to broadcasting. Please ensure they have the "
                      "same size.", stacklevel=3)
    try:
        if weight is None:
            return function.apply(input, target, reduction, param)
        loss = function.apply(input, target, "none", param)
    except ValueError as e:
        if "broadcast" not in str(e):
            raise
        raise RuntimeError(f"{op}: The size of input {list(input.shape)} and target {list(target.shape)} "
                           "cannot be broadcast together") from None
    if weight._data.shape != input._data.shape:
        raise ValueError(f"{op}: Weights and input must have the same size (got {list(weight.shape)} and "
                         f"{list(input.shape)}).")
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:            # PyTorch: a weighted average for mse/l1
        return loss.sum() / weight.sum()
    return _reduced(loss, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error: (input - target)^2, reduced. Shapes broadcast (with PyTorch's warning).

    ``weight`` (the input's shape) scales each element; 'mean' is then sum(w l) / sum(w).
    """
    return _difference_loss(MSELoss, "mse_loss", input, target, _reduction(size_average, reduce, reduction),
                            weight=weight)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error: |input - target|, reduced; ``weight`` as in ``mse_loss``."""
    return _difference_loss(L1Loss, "l1_loss", input, target, _reduction(size_average, reduce, reduction),
                            weight=weight)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Quadratic below ``beta``, linear above: 0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta."""
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    return _difference_loss(SmoothL1Loss, "smooth_l1_loss", input, target,
                            _reduction(size_average, reduce, reduction), float(beta))


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d^2 if |d| < delta else delta (|d| - 0.5 delta)   (smooth_l1_loss scaled by delta).

    ``weight`` (the input's shape) scales each element; 'mean' stays the plain mean, as PyTorch.
    """
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    return _difference_loss(HuberLoss, "huber_loss", input, target, _reduction(None, None, reduction), float(delta),
                            weight=weight, mean_by_weight=False)


# ------------------------------------------------------------- class losses
def _classes_last(x):
    """(N, C, d1, ...) -> (N*d1*..., C): one row per sample, classes along the row."""
    if x.ndim == 2:
        return x
    if x.ndim == 1:
        return x.reshape(1, -1)
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _classes_back(grad, shape):
    """The inverse of ``_classes_last`` for a gradient of shape (M, C)."""
    if len(shape) == 2:
        return grad
    if len(shape) == 1:
        return grad.reshape(shape)
    if grad.__class__ in _TENSOR_TYPES:        # create_graph=True
        return grad.reshape((shape[0],) + shape[2:] + (shape[1],)).movedim(-1, 1)
    return np.moveaxis(grad.reshape((shape[0],) + shape[2:] + (shape[1],)), -1, 1)


def _grad_shape(shape):
    """The layout of a per-sample column (M, 1) in the input's layout: the class dim of size 1."""
    return shape[:1] + (1,) + shape[2:] if len(shape) > 1 else (1,)


def _reduce_class_loss(loss, reduction, total_weight):
    total = np.add.reduce(loss, axis=None)
    if reduction == "sum":
        return np.asarray(total)
    return np.asarray(total / total_weight if total_weight else total * np.nan)    # all ignored: nan, as PyTorch


def _per_sample(grad, reduction, total_weight):
    """The gradient reaching each sample's loss, as a column to scale rows of (M, C)."""
    if reduction == "none":
        return grad.reshape(-1, 1)
    if reduction == "sum":
        return grad
    # NOTE: when every target is ignored the loss is 0/0 = nan, but as in PyTorch no gradient flows (not nan).
    return grad / total_weight if total_weight else grad * 0


_max_reduce, _add_reduce = np.maximum.reduce, np.add.reduce


def _as_unsigned(target):
    # NOTE: negative indices become huge unsigned ones, so one max() checks both bounds.
    return target.view(np.uint64) if target.dtype == np.int64 else target.astype(np.uint64)


def _target_distribution(target, n_classes, weight, ignore_index, label_smoothing, dtype):
    """The weighted target distribution q (M, C) and the 'mean' denominator for class-index targets.

    q[i, c] = w[c] ((1 - eps) [c == y_i] + eps / C) for the samples whose target is not
    ``ignore_index`` (rows of zeros for the others). PyTorch's 'mean' divides by
    sum_i w[y_i] over the counted samples, even with label smoothing.
    """
    valid = target != ignore_index
    all_valid = valid.all()
    safe = target if all_valid else np.where(valid, target, 0)
    checked = target[valid]            # ignored targets are never checked (the stand-in 0 may not exist: C = 0)
    if checked.size and (checked.min() < 0 or checked.max() >= n_classes):
        bad = checked[(checked < 0) | (checked >= n_classes)][0]
        raise IndexError(f"Target {bad} is out of bounds.")
    rows = np.arange(target.size)
    w_target = (np.ones(target.size, dtype) if weight is None else weight[safe].astype(dtype, copy=False))
    if not all_valid:
        w_target = w_target * valid
    q = np.zeros((target.size, n_classes), dtype)
    if n_classes:
        q[rows, safe] = (1 - label_smoothing) * w_target
    if label_smoothing:
        per_class = np.full(n_classes, label_smoothing / n_classes, dtype) if weight is None \
            else (label_smoothing / n_classes) * weight.astype(dtype, copy=False)
        q += per_class if all_valid else valid[:, None] * per_class
    return q, w_target.sum()


class CrossEntropy(Function):
    """loss_i = -sum_c q_ic log softmax(x_i)_c   (q: the weighted, smoothed target distribution).

    Backward: dx_i = g_i (softmax(x_i) sum_c q_ic - q_i)   (softmax - onehot for plain class targets);
              dq_i = -g_i log softmax(x_i)   (class-probability targets).
    """
    # NOTE: log-softmax and NLL fused: the max-shifted log-sum-exp keeps huge logits finite, and one
    # Function instead of five keeps the per-step cost low on the training hot path.

    @staticmethod
    def forward(ctx, input, target, weight, ignore_index, reduction, label_smoothing):
        x = _classes_last(input)
        m, n_classes = x.shape
        # NOTE: ufunc.reduce directly: ndarray.max/sum add a Python wrapper that costs more than the
        # arithmetic at this size (batch 32 x 2 classes on the training hot path); for the same reason
        # the empty-class case (C = 0: no max, log(0) rows) is apart instead of paying an initial= and
        # an errstate context on every call.
        if n_classes:
            shifted = x - _max_reduce(x, axis=1, keepdims=True)
            logp = shifted - np.log(_add_reduce(np.exp(shifted), axis=1, keepdims=True))
        else:
            logp = np.full(x.shape, -np.inf, x.dtype)
        ctx.in_shape, ctx.reduction = input.shape, reduction
        if target.shape == input.shape and target.dtype.kind == "f":        # class probabilities
            t = _classes_last(target)
            q = t if not label_smoothing else (1 - label_smoothing) * t + label_smoothing / n_classes
            if weight is not None:
                q = q * weight
            ctx.count, ctx.smoothing, ctx.weight = m, label_smoothing, weight
            loss = -(q * logp).sum(axis=1)
        elif weight is None and not label_smoothing and (ignore_index < 0 or ignore_index >= n_classes) \
                and (not target.size or _max_reduce(_as_unsigned(target), axis=None) < n_classes):
            y = target.reshape(-1)                                           # the hot path: plain class indices
            rows = np.arange(m)
            ctx.q, ctx.y, ctx.rows, ctx.count = None, y, rows, m
            ctx.save_for_backward(logp)
            picked = logp[rows, y]
            if reduction == "none":
                return -picked.reshape(target.shape)
            total = 0 - _add_reduce(picked, axis=None)   # 0 - sum, as PyTorch accumulates: a zero loss is +0.0, not -0.0
            return np.asarray(total / m if reduction == "mean" else total)
        else:
            q, ctx.count = _target_distribution(target.reshape(-1), n_classes, weight, ignore_index,
                                                label_smoothing, logp.dtype)
            # NOTE: ignored rows count for nothing even when their logits are NaN (0 * nan would poison the sum)
            loss = -np.where(q != 0, q * logp, 0).sum(axis=1)
            loss[target.reshape(-1) == ignore_index] = 0     # +0.0 as PyTorch's ignored rows (not -(0) = -0.0)
        ctx.q = q
        ctx.save_for_backward(logp)
        if reduction == "none":
            return loss.reshape(input.shape[:1] + input.shape[2:] if input.ndim > 1 else ())
        return _reduce_class_loss(loss, reduction, ctx.count)

    @staticmethod
    def backward(ctx, grad):
        (logp,) = ctx.saved_tensors
        g = _per_sample(grad, ctx.reduction, ctx.count)
        need_x, need_t = ctx.needs_input_grad[:2]
        dx = dt = None
        if need_x:
            dx = np.exp(logp)                                                # softmax
            if ctx.q is None:
                dx[ctx.rows, ctx.y] -= 1
            else:
                dx *= ctx.q.sum(axis=1, keepdims=True)
                dx -= ctx.q
            dx *= g
            dx = _classes_back(dx, ctx.in_shape)
        if need_t:                                                           # only for probability targets
            dt = -(1 - ctx.smoothing) * logp * g
            if ctx.weight is not None:
                dt *= ctx.weight
            dt = _classes_back(dt, ctx.in_shape)
        return dx, dt, None, None, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        (logp,) = ctx.saved_tensors
        if ctx.needs_input_grad[1]:
            return NotImplemented            # probability targets that require grad: not recorded yet
        shape = ctx.in_shape
        # softmax is shift-invariant: log-softmax's rows stand in for the logits, linked to the input
        x = linked_input(ctx, 0, _classes_back(logp._data, shape))
        p = x.softmax(1 if len(shape) > 1 else 0)
        g = _per_sample(grad, ctx.reduction, ctx.count)
        if ctx.q is None:
            q = np.zeros(logp.shape, logp._data.dtype)
            q[ctx.rows, ctx.y] = 1
            q_sum = 1.0
        else:
            q, q_sum = ctx.q, _wrap(_classes_back(ctx.q.sum(axis=1, keepdims=True), _grad_shape(shape)))
        dx = (p * q_sum - _wrap(_classes_back(q, shape))) * (_classes_back(g, _grad_shape(shape)) if g.ndim else g)
        return dx, None, None, None, None, None


class NLLLoss(Function):
    """loss_i = -sum_c q_ic x_ic = -w[y_i] x_{i, y_i}   (x: log-probabilities).   Backward: dx_i = -g_i q_i."""

    @staticmethod
    def forward(ctx, input, target, weight, ignore_index, reduction):
        x = _classes_last(input)
        q, count = _target_distribution(target.reshape(-1), x.shape[1], weight, ignore_index, 0.0, x.dtype)
        ctx.q, ctx.count, ctx.in_shape, ctx.reduction = q, count, input.shape, reduction
        loss = -(q * x).sum(axis=1)
        loss[target.reshape(-1) == ignore_index] = 0         # +0.0 as PyTorch's ignored rows (not -(0) = -0.0)
        if reduction == "none":
            return loss.reshape(target.shape)
        return _reduce_class_loss(loss, reduction, count)

    @staticmethod
    def backward(ctx, grad):
        g = _per_sample(grad, ctx.reduction, ctx.count)
        return _classes_back(-ctx.q * g, ctx.in_shape), None, None, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        g = _per_sample(grad, ctx.reduction, ctx.count)
        q = _wrap(-ctx.q)
        return _classes_back(q * g, ctx.in_shape), None, None, None, None


def _check_class_target(input, target, op, allow_probabilities):
    """Validate shapes/dtypes of a class loss; True when ``target`` holds class probabilities."""
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"{op}(): argument 'input' and 'target' must be Tensors, got "
                        f"{type(input).__name__} and {type(target).__name__}")
    x, t = input._data, target._data
    if x.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point input (scores for each class), got {input.dtype}")
    if x.ndim == 0:
        raise ValueError(f"{op}: input must have a class dimension (C), (N, C) or (N, C, d1, ...), got a 0-d tensor")
    expected = x.shape[:1] + x.shape[2:] if x.ndim >= 2 else ()
    if allow_probabilities and t.shape == x.shape and t.shape != expected:
        if t.dtype.kind != "f":
            raise RuntimeError(f"{op}: a target with the input's shape {list(x.shape)} holds class probabilities "
                               f"and must be floating point, but got dtype {t.dtype}")
        return True
    if t.dtype.kind not in "iu":
        what = (f"class indices of an integer dtype with shape {list(expected)}" +
                (f" or class probabilities with the input's shape {list(x.shape)}" if allow_probabilities else ""))
        raise RuntimeError(f"{op}: expected target of {what}, but got target of dtype {t.dtype} "
                           f"and shape {list(t.shape)} (input shape {list(x.shape)})")
    if t.shape != expected:
        if x.ndim == 2 and t.ndim == 1:
            raise ValueError(f"{op}: Expected input batch_size ({x.shape[0]}) to match target batch_size ({t.shape[0]}).")
        raise RuntimeError(f"{op}: expected target size {list(expected)} for input of size {list(x.shape)}, "
                           f"got {list(t.shape)}")
    return False


def _check_weight(weight, n_classes, op):
    if weight is None:
        return None
    if weight.ndim != 1 or weight.shape[0] != n_classes:
        raise RuntimeError(f"{op}: weight tensor should be defined either for all {n_classes} classes or no classes "
                           f"but got weight tensor of shape: {list(weight.shape)}")
    return weight


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross entropy between ``softmax(input)`` and the target, over the class dim (dim 1; dim 0 unbatched).

    loss_i = -w[y_i] log softmax(x_i)[y_i]   (class indices), or
    loss_i = -sum_c w[c] p_ic log softmax(x_i)[c]   (class probabilities, same shape as input).
    With ``label_smoothing`` eps the target becomes (1 - eps) target + eps / C.

    Shape: input (C), (N, C) or (N, C, d1, ..., dk); target () / (N) / (N, d1, ..., dk) of class
    indices, or the input's shape of probabilities. 'none' returns the per-sample loss.
    Args: weight (C) rescales each class; ignore_index: targets that count for nothing ('mean'
    divides by the summed weight of the counted targets); label_smoothing in [0, 1].
    """
    if reduction != "mean" or size_average is not None or reduce is not None:
        reduction = _reduction(size_average, reduce, reduction)
    probabilities = _check_class_target(input, target, "cross_entropy", True)
    if weight is not None:
        _check_weight(weight, input._data.shape[1 if input._data.ndim > 1 else 0], "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if probabilities and ignore_index >= 0:
        raise RuntimeError("cross_entropy: ignore_index is not supported for floating point target")
    return guard_saved_index(CrossEntropy.apply(input, target, _like_input(weight, input), int(ignore_index),
                                                reduction, float(label_smoothing)), target)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of the target class: loss_i = -w[y_i] input[i, y_i] (input: log-probabilities).

    Shape: input (C), (N, C) or (N, C, d1, ..., dk); target () / (N) / (N, d1, ..., dk) class indices.
    'mean' divides by the summed weight of the targets that are not ``ignore_index``.
    """
    reduction = _reduction(size_average, reduce, reduction)
    _check_class_target(input, target, "nll_loss", False)
    _check_weight(weight, input._data.shape[1 if input._data.ndim > 1 else 0], "nll_loss")
    return guard_saved_index(NLLLoss.apply(input, target, _like_input(weight, input), int(ignore_index), reduction),
                             target)


# ------------------------------------------------------------ binary losses
class BinaryCrossEntropy(Function):
    """l = -w (y log x + (1 - y) log(1 - x)), each log clamped at -100 as PyTorch.

    Backward: dx = g w (x - y) / max(x (1 - x), 1e-12),   dy = g w (log(1 - x) - log x).
    """

    @staticmethod
    def forward(ctx, input, target, weight, reduction):
        with np.errstate(divide="ignore"):
            log_x = np.maximum(np.log(input), -100)
            log_1mx = np.maximum(np.log(1 - input), -100)
        loss = -(target * log_x + (1 - target) * log_1mx)
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(input, target)
        ctx.weight, ctx.logs, ctx.reduction, ctx.count = weight, (log_x, log_1mx), reduction, loss.size
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        g = _per_element(grad, ctx.reduction, ctx.count)
        if ctx.weight is not None:
            g = g * ctx.weight
        need_x, need_y = ctx.needs_input_grad[:2]
        # NOTE: PyTorch's EPSILON = 1e-12 keeps the gradient finite at x = 0 or 1.
        dx = g * (x - y) / np.maximum(x * (1 - x), 1e-12) if need_x else None
        dy = g * (ctx.logs[1] - ctx.logs[0]) if need_y else None
        return (None if dx is None else unbroadcast(dx, x.shape), None if dy is None else unbroadcast(dy, y.shape),
                None, None)

    @staticmethod
    def graph_backward(ctx, grad):
        x, y = ctx.saved_tensors
        g = _per_element(grad, ctx.reduction, ctx.count)
        if ctx.weight is not None:
            g = g * _wrap(ctx.weight)
        need_x, need_y = ctx.needs_input_grad[:2]
        dx = g * (x - y) / (x * (1 - x)).clamp(min=1e-12) if need_x else None
        dy = g * ((1 - x).log().clamp(min=-100) - x.log().clamp(min=-100)) if need_y else None
        return (None if dx is None else unbroadcast(dx, x.shape), None if dy is None else unbroadcast(dy, y.shape),
                None, None)

class BinaryCrossEntropyWithLogits(Function):
    """l = w ((1 - y) x + L softplus(-x)),   L = 1 + (pos_weight - 1) y   (L = 1 without pos_weight).

    softplus(-x) = max(-x, 0) + log(1 + exp(-|x|)) never overflows, so huge logits stay finite.
    Backward: dx = g w (L sigmoid(x) - pos_weight y),   dy = g w ((pos_weight - 1) softplus(-x) - x),
              dpos_weight = g w y softplus(-x),   dw = g l / w.
    """

    @staticmethod
    def forward(ctx, input, target, weight, pos_weight, reduction):
        softplus_neg = np.maximum(-input, 0) + np.log1p(np.exp(-np.abs(input)))
        scale = softplus_neg if pos_weight is None else (1 + (pos_weight - 1) * target) * softplus_neg
        unweighted = (1 - target) * input + scale
        ctx.save_for_backward(input, target)
        ctx.softplus_neg, ctx.weight, ctx.pos_weight, ctx.reduction = softplus_neg, weight, pos_weight, reduction
        loss = unweighted if weight is None else unweighted * weight
        ctx.unweighted, ctx.count = unweighted, loss.size
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        sp, w, pw = ctx.softplus_neg, ctx.weight, ctx.pos_weight
        g = _per_element(grad, ctx.reduction, ctx.count)
        gw = g if w is None else g * w
        need = ctx.needs_input_grad
        sigmoid = np.exp(-sp)                      # sigmoid(x) = exp(-softplus(-x)), stable for any x
        dx = dy = dweight = dpos = None
        if need[0]:
            dx = unbroadcast(gw * (sigmoid - y if pw is None else (1 + (pw - 1) * y) * sigmoid - pw * y), x.shape)
        if need[1]:
            dy = unbroadcast(gw * (-x if pw is None else (pw - 1) * sp - x), y.shape)
        if need[2]:
            dweight = unbroadcast(g * ctx.unweighted, w.shape)
        if len(need) > 3 and need[3]:
            dpos = unbroadcast(gw * y * sp, pw.shape)
        return dx, dy, dweight, dpos, None

    @staticmethod
    def graph_backward(ctx, grad):
        x, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        if need[2] or (len(need) > 3 and need[3]):
            return NotImplemented            # weights that require grad: not recorded yet
        w, pw = ctx.weight, ctx.pos_weight
        g = _per_element(grad, ctx.reduction, ctx.count)
        gw = g if w is None else g * _wrap(w)
        sp = (-x).clamp(min=0) + (-x.abs()).exp().log1p()        # softplus(-x), stable
        dx = dy = None
        if need[0]:
            dx = unbroadcast(gw * (x.sigmoid() - y if pw is None else (1 + (_wrap(pw) - 1) * y) * x.sigmoid()
                                   - _wrap(pw) * y), x.shape)
        if need[1]:
            dy = unbroadcast(gw * (-x if pw is None else (_wrap(pw) - 1) * sp - x), y.shape)
        return dx, dy, None, None, None


def _check_same_size(input, target, message):
    if input._data.shape != target._data.shape:
        raise ValueError(message.format(target=target.shape, input=input.shape))


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-w (y log x + (1 - y) log(1 - x)) with ``input`` probabilities in [0, 1]; logs clamp at -100.

    Prefer ``binary_cross_entropy_with_logits`` on raw scores: it is exact where sigmoid saturates.
    """
    reduction = _reduction(size_average, reduce, reduction)
    input, target = _tensor_pair(input, target, "binary_cross_entropy")
    _check_same_size(input, target, "Using a target size ({target}) that is different to the input size ({input}) "
                                    "is deprecated. Please ensure they have the same size.")
    x = input._data
    if x.size and (x.min() < 0 or x.max() > 1):
        raise RuntimeError("binary_cross_entropy: all elements of input should be between 0 and 1 "
                           f"(got values in [{x.min()}, {x.max()}]); apply sigmoid or use "
                           "binary_cross_entropy_with_logits")
    return BinaryCrossEntropy.apply(input, target, _like_input(weight, input), reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    """Sigmoid + binary cross entropy in the stable form max(x, 0) - x y + log(1 + exp(-|x|)).

    Args: weight rescales each element (broadcast); pos_weight (C) weighs the positive term of
    each class (broadcast along the last dim), trading recall against precision.
    """
    reduction = _reduction(size_average, reduce, reduction)
    input, target = _tensor_pair(input, target, "binary_cross_entropy_with_logits")
    _check_same_size(input, target, "Target size ({target}) must be the same as input size ({input})")
    return BinaryCrossEntropyWithLogits.apply(input, target, _like_input(weight, input), _like_input(pos_weight, input),
                                              reduction)


# ------------------------------------------------------------------- kl_div
class KLDiv(Function):
    """l = y (log y - x)   (y = exp(t) when log_target), with 0 log 0 = 0; x: log-probabilities.

    Backward: dx = -g y,   dt = g (log y + 1 - x)   (times y when log_target).
    """

    @staticmethod
    def forward(ctx, input, target, reduction, log_target):
        if log_target:
            y = np.exp(target)
            loss = y * (target - input)
        else:
            y = target
            with np.errstate(divide="ignore", invalid="ignore"):
                loss = np.where(y == 0, 0, y * np.log(y)).astype(input.dtype, copy=False) - y * input
        ctx.save_for_backward(input, target)
        ctx.y, ctx.reduction, ctx.log_target, ctx.count = y, reduction, log_target, loss.size
        if reduction == "batchmean":
            return np.asarray(loss.sum() / (input.shape[0] if input.ndim else 1))
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved_tensors
        y = ctx.y
        if ctx.reduction == "batchmean":
            g = grad / (x.shape[0] if x.ndim else 1)
        else:
            g = _per_element(grad, ctx.reduction, ctx.count)
        need_x, need_t = ctx.needs_input_grad[:2]
        dx = None
        if need_x:
            dx = -g * y
            if dx.shape != x.shape:     # y broadcast against x: widen -g y to the loss's shape, then sum to x's
                dx = unbroadcast(np.broadcast_to(dx, np.broadcast_shapes(dx.shape, x.shape)), x.shape)
        dt = None
        if need_t:
            with np.errstate(divide="ignore"):
                dt = g * y * (t - x + 1) if ctx.log_target else g * (np.log(y) + 1 - x)
            dt = unbroadcast(dt, t.shape)
        return dx, dt, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        x, t = ctx.saved_tensors
        y = t.exp() if ctx.log_target else t
        g = grad / (x.shape[0] if x.ndim else 1) if ctx.reduction == "batchmean" else \
            _per_element(grad, ctx.reduction, ctx.count)
        need_x, need_t = ctx.needs_input_grad[:2]
        dx = None
        if need_x:
            dx = -g * y
            if tuple(dx.shape) != tuple(x.shape):
                dx = unbroadcast(dx.expand(*np.broadcast_shapes(tuple(dx.shape), tuple(x.shape))), x.shape)
        dt = None
        if need_t:
            dt = unbroadcast(g * y * (t - x + 1) if ctx.log_target else g * (t.log() + 1 - x), t.shape)
        return dx, dt, None, None


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Kullback-Leibler divergence KL(target || exp(input)) pointwise: target (log target - input).

    ``input`` holds log-probabilities; ``target`` probabilities (log-probabilities if ``log_target``).
    Use reduction='batchmean' (sum / batch size) for the true KL divergence; 'mean' averages over
    every element, as PyTorch (which warns about it).
    """
    reduction = _reduction(size_average, reduce, reduction, extra=("batchmean",))
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size. "
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition. "
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      stacklevel=2)
    input, target = _tensor_pair(input, target, "kl_div")
    return KLDiv.apply(input, target, reduction, bool(log_target))


# ---------------------------------------------------- losses composed of ops
# These are short compositions of differentiable ops (autograd derives their gradients);
# none is on a hot path that would justify a fused Function.
def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """Negative log-likelihood of ``target`` under Poisson(rate): exp(x) - y x (``log_input``), else
    x - y log(x + eps). ``full`` adds the Stirling term y log y - y + 0.5 log(2 pi y) where y > 1."""
    reduction = _reduction(size_average, reduce, reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        y = target._data
        with np.errstate(divide="ignore", invalid="ignore"):
            stirling = np.where(y > 1, y * np.log(y) - y + 0.5 * np.log(2 * np.pi * y), 0).astype(y.dtype)
        loss = loss + _wrap(stirling)
    return _reduced(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Negative log-likelihood of ``target`` under N(input, var): 0.5 (log max(var, eps) + (x - y)^2 / max(var, eps)),
    plus 0.5 log(2 pi) when ``full``. ``var`` has the input's shape, or one fewer dim / a last dim of 1
    (one variance per sample). As PyTorch, the clamp at eps passes gradients through unchanged."""
    if isinstance(var, numbers.Real):
        var = _wrap(np.full(input._data.shape, var, input._data.dtype))
    if var._data.shape != input._data.shape:
        if input._data.shape[:-1] == var._data.shape:
            var = var.unsqueeze(-1)
        elif not (input._data.shape[:-1] == var._data.shape[:-1] and var._data.shape[-1] == 1):
            raise ValueError(f"gaussian_nll_loss: var is of incorrect size {list(var.shape)} for input of size "
                             f"{list(input.shape)}")
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    if np.any(var._data < 0):
        raise ValueError("gaussian_nll_loss: var has negative entry/entries")
    # var + (clamped - var) detached: the values are clamped, the gradient is the identity's.
    var = var + _wrap(np.maximum(var._data, eps) - var._data)
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * float(np.log(2 * np.pi))
    return _reduced(loss, reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """max(0, -y (x1 - x2) + margin): x1 should rank above x2 when y = 1, below when y = -1."""
    reduction = _reduction(size_average, reduce, reduction)
    return _reduced((-target * (input1 - input2) + margin).clamp(min=0), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """x where y = 1, max(0, margin - x) where y = -1 (x typically a distance between a pair)."""
    reduction = _reduction(size_average, reduce, reduction)
    zeros = _wrap(np.zeros((), input._data.dtype))
    loss = where(target != -1, input, zeros) + where(target != 1, (margin - input).clamp(min=0), zeros)
    return _reduced(loss, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-y x)) for labels y in {-1, 1} (the logistic loss)."""
    return _reduced(softplus(-target * input), _reduction(size_average, reduce, reduction))


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Per sample, the mean over the C classes of -(y log sigmoid(x) + (1 - y) log sigmoid(-x))."""
    reduction = _reduction(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    return _reduced(loss.sum(dim=input.ndim - 1) / input.shape[-1], reduction)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1 (cosine over the last dim)."""
    reduction = _reduction(size_average, reduce, reduction)
    dim = input1.ndim - 1
    eps = 1e-12                     # PyTorch's EPSILON keeps zero vectors finite
    cos = (input1 * input2).sum(dim=dim) / (((input1 * input1).sum(dim=dim) + eps) *
                                            ((input2 * input2).sum(dim=dim) + eps)).sqrt()
    zeros = _wrap(np.zeros((), cos._data.dtype))
    loss = where(target == 1, 1 - cos, zeros) + where(target == -1, (cos - margin).clamp(min=0), zeros)
    return _reduced(loss, reduction)


def _pairwise_distance(x1, x2, p, eps):
    diff = (x1 - x2 + eps).abs()
    return (diff ** p).sum(dim=x1.ndim - 1) ** (1.0 / p)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """max(0, margin + d(a, p) - d(a, n)) with d the p-norm distance ||x1 - x2 + eps||_p over the last dim;
    ``swap`` uses min(d(a, n), d(p, n)) as the negative distance (Balntas et al., 2016)."""
    reduction = _reduction(size_average, reduce, reduction)
    d_positive = _pairwise_distance(anchor, positive, p, eps)
    d_negative = _pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_negative = d_negative.minimum(_pairwise_distance(positive, negative, p, eps))
    return _reduced((margin + d_positive - d_negative).clamp(min=0), reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0,
                                      swap=False, reduction="mean"):
    """max(0, margin + d(a, p) - d(a, n)) for any ``distance_function`` (default: the L2 pairwise distance)."""
    if margin <= 0:
        raise ValueError(f"triplet_margin_with_distance_loss: expected margin to be greater than 0, got {margin} "
                         "instead")
    distance = distance_function or (lambda x1, x2: _pairwise_distance(x1, x2, 2.0, 1e-6))
    d_positive, d_negative = distance(anchor, positive), distance(anchor, negative)
    if swap:
        d_negative = d_negative.minimum(distance(positive, negative))
    return _reduced((margin + d_positive - d_negative).clamp(min=0), _reduction(None, None, reduction))


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    """Multi-class hinge loss: per sample, sum over classes j != y of max(0, margin - x_y + x_j)^p, times
    weight[y], divided by C.   Shape: input (N, C) or (C); target (N) or () class indices."""
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss: only p == 1 and p == 2 supported, got {p}")
    reduction = _reduction(size_average, reduce, reduction)
    x = input if input.ndim == 2 else input.reshape(1, -1)
    y = target._data.reshape(-1)
    n_classes = x.shape[1]
    if y.size and (_as_unsigned(y).max() >= n_classes):
        bad = y[(y < 0) | (y >= n_classes)][0]
        raise IndexError(f"Target {bad} is out of bounds.")
    x_target = x.gather(1, _wrap(y.reshape(-1, 1)))
    hinge = (margin - x_target + x).clamp(min=0)
    if p == 2:
        hinge = hinge * hinge
    # the target class itself does not count; weight[y] scales each sample's terms
    scale = (np.arange(n_classes) != y[:, None]).astype(x._data.dtype)
    if weight is not None:
        scale = scale * weight._data[y][:, None].astype(x._data.dtype)
    loss = (hinge * _wrap(scale)).sum(dim=1) / n_classes
    return _reduced(loss if input.ndim == 2 else loss.reshape(()), reduction)


# ------------------------------------------------------------------ helpers
def one_hot(tensor, num_classes=-1):
    """Class indices (int64, any shape S) -> int64 tensor of shape S + (num_classes,) with 1 at each index.

    ``num_classes=-1`` infers max(tensor) + 1.
    """
    t = tensor._data
    if t.dtype != np.int64:
        raise RuntimeError(f"one_hot is only applicable to index tensor of type LongTensor (int64), got {t.dtype}")
    if num_classes == -1:
        if t.size == 0:
            raise RuntimeError("one_hot: Can not infer total number of classes from empty tensor.")
        num_classes = int(t.max()) + 1
    if t.size and t.min() < 0:
        raise RuntimeError("one_hot: Class values must be non-negative.")
    if t.size and t.max() >= num_classes:
        raise RuntimeError(f"one_hot: Class values must be smaller than num_classes ({num_classes}), "
                           f"got {int(t.max())}.")
    return _wrap((t[..., None] == np.arange(num_classes)).astype(np.int64))


class Normalize(Function):
    """y = x / max(||x||_p, eps) along dim.

    Backward (n = ||x||_p, s = max(n, eps)): dx = g / s - [n > eps] sum(g x) / s^2 * sign(x) |x|^(p-1) / n^(p-1).
    """

    @staticmethod
    def forward(ctx, x, p, dim, eps):
        a = np.abs(x)
        if dim is None or x.shape[dim] == 1:
            norm = a                      # one element per norm (0-d too): |x|, as PyTorch (no x^2 to round or overflow)
        else:
            norm = np.sqrt((x * x).sum(axis=dim, keepdims=True)) if p == 2 else \
                (a ** p).sum(axis=dim, keepdims=True) ** (1 / p)
        denom = np.maximum(norm, eps)
        ctx.save_for_backward(x)
        ctx.norm, ctx.denom, ctx.p, ctx.dim, ctx.eps = norm, denom, p, dim, eps
        return x / denom

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        norm, denom, p = ctx.norm, ctx.denom, ctx.p
        dot = (grad * x).sum(axis=ctx.dim, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            dnorm = x / norm if p == 2 else np.sign(x) * np.abs(x) ** (p - 1) / norm ** (p - 1)
        # where: at norm <= eps the clamp passes no gradient to the norm, even where g is inf (g x is NaN)
        through_norm = np.where(norm > ctx.eps, dot / (denom * denom) * dnorm, 0).astype(x.dtype, copy=False)
        return grad / denom - through_norm, None, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return composite_backward(
            ctx, (grad,), lambda x, *_: (x / x.norm(p=ctx.p, dim=ctx.dim, keepdim=True).clamp(min=ctx.eps),),
            (x._data, None, None, None))

def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """Scale each slice along ``dim`` to unit ``p``-norm: x / max(||x||_p, eps)."""
    if not isinstance(p, numbers.Real) or not 0 < p < float("inf"):
        raise ValueError(f"normalize: p must be a positive finite number, got {p}")
    ndim = input._data.ndim
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"Dimension out of range (expected to be in range of [{-max(ndim, 1)}, {max(ndim, 1) - 1}], "
                         f"but got {dim})")
    return Normalize.apply(input, float(p), dim % max(ndim, 1) if ndim else None, float(eps))
