"""Connectionist Temporal Classification loss (Graves et al., 2006), forward-backward in log space.

For a target l (length S) the extended label sequence l' = (blank, l_1, blank, l_2, ..., l_S, blank) has
2S + 1 states; a path may stay, step to the next state, or skip a blank between two different labels:

    alpha_t(s) = logsumexp(alpha_{t-1}(s), alpha_{t-1}(s-1), [alpha_{t-1}(s-2) if l'_s != blank, l'_s != l'_{s-2}])
                 + lp_t(l'_s),         alpha_0 = (lp_0(blank), lp_0(l_1), -inf, ...)
    beta_t(s)  = the same recursion run backwards from t = T - 1 (both include lp_t(l'_s))
    loss       = -log p(l | x) = -logsumexp(alpha_{T-1}(2S), alpha_{T-1}(2S - 1))
"""
import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor, _wrap

__all__ = ["ctc_loss"]

NEG_INF = -np.inf


def _shift(a, k):
    """a shifted right by k states along the last axis (-inf enters)."""
    out = np.full_like(a, NEG_INF)
    out[..., k:] = a[..., :a.shape[-1] - k]
    return out


def _unshift(a, k):
    """a shifted left by k states (the backward recursion reads s + k)."""
    out = np.full_like(a, NEG_INF)
    out[..., :a.shape[-1] - k] = a[..., k:]
    return out


class CTCLoss(Function):
    """nll[n] = -log p(target_n | log_probs[:T_n, n]) (see the module doc).

    Backward, as PyTorch computes it (it assumes log_probs come from log_softmax):
        d log_probs[t, n, c] = g_n * (exp(lp[t, n, c]) - exp(logsumexp_{s: l'_s = c}(alpha_t(s) + beta_t(s)) + nll_n
                                                           - lp[t, n, c]))      for t < T_n, 0 after;
    the first term is the log_softmax normaliser's share, so the gradient of the logits below is exact.
    With ``zero_infinity`` an infinite loss (an impossible alignment) is 0 with a zero gradient.
    """

    @staticmethod
    def forward(ctx, log_probs, labels, input_lengths, label_lengths, zero_infinity):
        T, N, C = log_probs.shape
        lp = log_probs.astype(np.float64).transpose(1, 0, 2)                  # (N, T, C)
        L = labels.shape[1]
        emit = np.take_along_axis(lp, np.broadcast_to(labels[:, None, :], (N, T, L)), axis=2)    # lp_t(l'_s)
        skip = np.zeros((N, L), dtype=bool)
        skip[:, 2:] = (labels[:, 2:] != labels[:, :1]) & (labels[:, 2:] != labels[:, :-2])   # labels[:, 0] is blank
        states = np.arange(L)[None, :]
        valid = states < (2 * label_lengths + 1)[:, None]
        alpha = np.full((N, T, L), NEG_INF)
        start = np.full((N, L), NEG_INF)
        start[:, 0] = emit[:, 0, 0]
        start[:, 1] = np.where(label_lengths > 0, emit[:, 0, 1], NEG_INF)
        alpha[:, 0] = np.where(valid, start, NEG_INF)
        for t in range(1, T):
            prev = alpha[:, t - 1]
            step = np.logaddexp(np.logaddexp(prev, _shift(prev, 1)), np.where(skip, _shift(prev, 2), NEG_INF))
            alpha[:, t] = np.where(valid & (t < input_lengths)[:, None], step + emit[:, t], NEG_INF)
        last = input_lengths - 1
        end = 2 * label_lengths
        batch = np.arange(N)
        final = alpha[batch, last]
        log_likelihood = np.logaddexp(final[batch, end], np.where(label_lengths > 0, final[batch, end - 1], NEG_INF))
        nll = -log_likelihood
        ctx.saved = (lp, labels, emit, skip, valid, alpha, nll, input_lengths, label_lengths, zero_infinity)
        if zero_infinity:
            nll = np.where(np.isinf(nll), 0.0, nll)
        return nll.astype(log_probs.dtype)

    @staticmethod
    def backward(ctx, grad):
        lp, labels, emit, skip, valid, alpha, nll, input_lengths, label_lengths, zero_infinity = ctx.saved
        N, T, C = lp.shape
        L = labels.shape[1]
        batch = np.arange(N)
        beta = np.full((N, T, L), NEG_INF)
        end = 2 * label_lengths
        skip_next = _unshift(skip.astype(float), 2) > 0                     # may s jump to s + 2?
        for t in range(T - 1, -1, -1):
            at_last = t == input_lengths - 1
            init = np.full((N, L), NEG_INF)
            init[batch, end] = emit[batch, t, end]
            init[batch, np.maximum(end - 1, 0)] = np.where(label_lengths > 0, emit[batch, t, np.maximum(end - 1, 0)],
                                                           init[batch, np.maximum(end - 1, 0)])
            if t < T - 1:
                nxt = beta[:, t + 1]
                step = np.logaddexp(np.logaddexp(nxt, _unshift(nxt, 1)), np.where(skip_next, _unshift(nxt, 2), NEG_INF))
                step = step + emit[:, t]
            else:
                step = np.full((N, L), NEG_INF)
            beta[:, t] = np.where(valid, np.where(at_last[:, None], init,
                                                  np.where((t < input_lengths - 1)[:, None], step, NEG_INF)), NEG_INF)
        both = alpha + beta                                                   # (N, T, L)
        lcab = np.full((N, T, C), NEG_INF)
        for s in range(L):
            column = labels[:, s]
            lcab[batch, :, column] = np.logaddexp(lcab[batch, :, column], both[:, :, s])
        with np.errstate(over="ignore", invalid="ignore"):
            d = np.exp(lp) - np.exp(lcab + nll[:, None, None] - lp)
        d = np.where((np.arange(T)[None, :] < input_lengths[:, None])[:, :, None], d, 0.0)
        if zero_infinity:
            d = np.where(np.isinf(nll)[:, None, None], 0.0, d)
        d = d * grad.astype(np.float64)[:, None, None]
        return d.transpose(1, 0, 2).astype(grad.dtype), None, None, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        """As PyTorch 2.13: the gradient is not differentiable again (its _ctc_loss_backward has no derivative)."""
        from ..autograd._graph import no_double_backward
        return no_double_backward(ctx, (grad,), "derivative for aten::_ctc_loss_backward is not implemented")


def _lengths(name, value, N):
    array = value._data if isinstance(value, Tensor) else np.asarray(value)
    array = np.asarray(array, dtype=np.int64).reshape(-1)
    if array.shape != (N,):
        raise RuntimeError(f"{name} must be of size batch_size ({N}), got {list(array.shape)}")
    return array


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """The CTC loss of (T, N, C) log-probabilities (log_softmax over C) and targets (N, S) padded or the
    concatenation of all targets (1-D); lengths as tensors or tuples of ints.

    reduction: 'mean' (each loss divided by its target length, then the batch mean), 'sum' or 'none'.
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
        targets = targets.unsqueeze(0) if targets.ndim == 1 else targets
    if log_probs.ndim != 3:
        raise RuntimeError(f"ctc_loss: expected log_probs to be (T, N, C) or (T, C), got {list(log_probs.shape)}")
    if log_probs._data.dtype.kind != "f":
        raise RuntimeError(f"ctc_loss: expected floating point log_probs, got {log_probs.dtype}")
    T, N, C = log_probs.shape
    in_len, tgt_len = _lengths("input_lengths", input_lengths, N), _lengths("target_lengths", target_lengths, N)
    if (in_len > T).any() or (in_len < 1).any():
        raise RuntimeError(f"Expected input_lengths to have value at most {T} (and at least 1), but got value "
                           f"{int(in_len.max() if (in_len > T).any() else in_len.min())}")
    tgt = np.asarray(targets._data if isinstance(targets, Tensor) else targets, dtype=np.int64)
    if tgt.ndim == 1:
        starts = np.concatenate([[0], np.cumsum(tgt_len)[:-1]])
        rows = [tgt[s:s + n] for s, n in zip(starts, tgt_len)]
    else:
        if (tgt_len > tgt.shape[1]).any():
            raise RuntimeError(f"Expected tensor to have size at least {int(tgt_len.max())} at dimension 1, but got "
                               f"size {tgt.shape[1]} for targets")
        rows = [tgt[n, :k] for n, k in enumerate(tgt_len)]
    S = max([len(r) for r in rows] + [0])
    labels = np.full((N, 2 * S + 1), blank, dtype=np.int64)
    for n, r in enumerate(rows):
        if ((r < 0) | (r >= C)).any() or (r == blank).any():
            raise RuntimeError(f"ctc_loss: target labels must be in [0, {C}) and differ from blank={blank}, "
                               f"got {r.tolist()}")
        labels[n, 1:2 * len(r):2] = r
    loss = CTCLoss.apply(log_probs, labels, in_len, tgt_len, bool(zero_infinity))
    if reduction == "mean":
        divisor = _wrap(np.maximum(tgt_len, 1).astype(log_probs._data.dtype))
        return (loss / divisor).mean()
    if reduction == "sum":
        return loss.sum()
    return loss.squeeze(0) if unbatched else loss
