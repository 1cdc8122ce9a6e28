"""Loss modules: ``criterion = nn.CrossEntropyLoss(); loss = criterion(output, target)``.

Each module stores its options and calls the fused function of the same name in
``nn.functional`` (the math and its gradient live in ``deepdive.ops.loss``).
``reduction`` is 'mean' (default), 'sum' or 'none'; class weights are buffers,
so they follow ``.to()`` and appear in ``state_dict`` as in PyTorch.

Regularisation. L2 is the optimizers' ``weight_decay`` (coupled into the
gradient in SGD/Adam, decoupled in AdamW). An L1 penalty is one line added to
the loss, and autograd gives its subgradient lambda * sign(p)::

    loss = criterion(model(x), y)
    loss = loss + l1_lambda * sum(p.abs().sum() for p in model.parameters())
    loss.backward()
"""
from ..ops.loss import _reduction
from . import functional as F
from .module import Module

__all__ = ["L1Loss", "MSELoss", "SmoothL1Loss", "HuberLoss", "CrossEntropyLoss", "NLLLoss", "BCELoss",
           "BCEWithLogitsLoss", "KLDivLoss", "PoissonNLLLoss", "GaussianNLLLoss", "MarginRankingLoss",
           "HingeEmbeddingLoss", "SoftMarginLoss", "MultiLabelSoftMarginLoss", "CosineEmbeddingLoss",
           "TripletMarginLoss", "TripletMarginWithDistanceLoss", "MultiMarginLoss", "CTCLoss"]


class _Loss(Module):
    """Base of the losses: holds ``reduction`` (legacy ``size_average``/``reduce`` translated)."""

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = _reduction(size_average, reduce, reduction)
        self.reduction = reduction


class _WeightedLoss(_Loss):
    """A loss with an optional per-class ``weight`` buffer."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class L1Loss(_Loss):
    """Mean absolute error: l_n = |x_n - y_n|, then the reduction.

    Shape: input (*), target (*) the same shape; output scalar, or (*) with reduction='none'.
    """

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error: l_n = (x_n - y_n)^2, then the reduction.

    Shape: input (*), target (*) the same shape; output scalar, or (*) with reduction='none'.
    """

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """l_n = 0.5 (x_n - y_n)^2 / beta if |x_n - y_n| < beta else |x_n - y_n| - 0.5 beta.

    Args: beta (float, default 1.0): where the loss turns from quadratic to linear (0 gives L1).
    """

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """l_n = 0.5 (x_n - y_n)^2 if |x_n - y_n| < delta else delta (|x_n - y_n| - 0.5 delta).

    Args: delta (float, default 1.0): where the loss turns from quadratic to linear.
    """

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class CrossEntropyLoss(_WeightedLoss):
    """Cross entropy of softmax(input) against class indices or class probabilities.

    l_n = -w[y_n] log(exp(x_{n, y_n}) / sum_c exp(x_{n, c}))   (indices; 'mean' divides by sum w[y_n]),
    l_n = -sum_c w[c] y_{n, c} log softmax(x_n)_c               (probabilities; 'mean' divides by N).

    Shape: input (C), (N, C) or (N, C, d1, ..., dk) raw scores; target () / (N) / (N, d1, ..., dk)
    int64 class indices in [0, C), or probabilities of the input's shape.
    Args: weight (C), ignore_index (default -100), reduction, label_smoothing (default 0.0).
    Example::

        >>> loss = nn.CrossEntropyLoss()(deepdive.randn(3, 5, requires_grad=True), deepdive.tensor([1, 0, 4]))
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                 label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood: l_n = -w[y_n] x_{n, y_n}, for log-probabilities x (e.g. from LogSoftmax).

    Shape: input (C), (N, C) or (N, C, d1, ..., dk); target () / (N) / (N, d1, ..., dk) class indices.
    Args: weight (C), ignore_index (default -100), reduction ('mean' divides by sum w[y_n]).
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross entropy on probabilities: l_n = -w_n (y_n log x_n + (1 - y_n) log(1 - x_n)).

    Each log is clamped at -100 so that x = 0 or 1 gives a finite loss. On raw scores prefer
    ``BCEWithLogitsLoss``. Shape: input (*) in [0, 1], target (*) the same shape.
    """

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross entropy in one stable step: l_n = w_n (max(x_n, 0) - x_n y_n + log(1 + exp(-|x_n|))).

    With pos_weight p_c the positive term becomes p_c y_n log sigmoid(x_n).
    Shape: input (*) raw scores, target (*) the same shape.
    Args: weight (broadcast to the input), reduction, pos_weight (C; broadcast along the last dim).
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight, pos_weight=self.pos_weight,
                                                  reduction=self.reduction)


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence: l_n = y_n (log y_n - x_n) for log-probabilities x and probabilities y.

    Args: reduction ('batchmean' gives the mathematical KL divergence; 'mean' averages every
    element, as PyTorch), log_target (target given as log-probabilities).
    """

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class PoissonNLLLoss(_Loss):
    """Poisson negative log-likelihood: exp(x) - y x (log_input=True) or x - y log(x + eps).

    Args: log_input (default True), full (default False: add the Stirling term), eps (1e-8), reduction.
    """

    def __init__(self, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input, target):
        return F.poisson_nll_loss(log_input, target, log_input=self.log_input, full=self.full, eps=self.eps,
                                  reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood: 0.5 (log var + (x - y)^2 / var), var clamped at eps.

    Shape: input (N, *), target (N, *), var of the same shape or with one fewer / a last dim of 1.
    Args: full (default False: add 0.5 log(2 pi)), eps (1e-6), reduction.
    """

    def __init__(self, *, full=False, eps=1e-6, reduction="mean"):
        super().__init__(None, None, reduction)
        self.full, self.eps = full, eps

    def forward(self, input, target, var):
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps, reduction=self.reduction)


class MarginRankingLoss(_Loss):
    """max(0, -y (x1 - x2) + margin) for y in {1, -1}.   Args: margin (default 0.0), reduction."""

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    """x where y = 1, max(0, margin - x) where y = -1.   Args: margin (default 1.0), reduction."""

    def __init__(self, margin=1.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input, target):
        return F.hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)


class SoftMarginLoss(_Loss):
    """log(1 + exp(-y x)) for y in {1, -1}, averaged over all elements by default."""

    def forward(self, input, target):
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """Multi-label one-versus-all logistic loss: per sample, the class mean of
    -(y log sigmoid(x) + (1 - y) log sigmoid(-x)).   Shape: input (N, C), target (N, C) of 0/1.
    Args: weight (C), reduction."""

    def forward(self, input, target):
        return F.multilabel_soft_margin_loss(input, target, weight=self.weight, reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    """1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1.

    Shape: x1, x2 (N, D) or (D); target (N) or (). Args: margin (default 0.0), reduction.
    """

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class TripletMarginLoss(_Loss):
    """max(0, margin + d(a, p) - d(a, n)), d the p-norm distance.

    Args: margin (1.0), p (2.0), eps (1e-6), swap (False: use min(d(a, n), d(p, n)) when True), reduction.
    """

    def __init__(self, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p, eps=self.eps,
                                     swap=self.swap, reduction=self.reduction)


class TripletMarginWithDistanceLoss(_Loss):
    """max(0, margin + d(a, p) - d(a, n)) for a ``distance_function`` (default: pairwise L2 distance).

    Args: distance_function (callable or None), margin (1.0), swap (False), reduction.
    """

    def __init__(self, *, distance_function=None, margin=1.0, swap=False, reduction="mean"):
        super().__init__(reduction=reduction)
        self.distance_function, self.margin, self.swap = distance_function, margin, swap

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_with_distance_loss(anchor, positive, negative, distance_function=self.distance_function,
                                                   margin=self.margin, swap=self.swap, reduction=self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """Multi-class hinge loss: sum_{j != y} max(0, margin - x_y + x_j)^p weight[y] / C per sample.

    Args: p (1 or 2, default 1), margin (1.0), weight (C), reduction.
    """

    def __init__(self, p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction="mean"):
        if p not in (1, 2):
            raise ValueError("only p == 1 and p == 2 supported")
        super().__init__(weight, size_average, reduce, reduction)
        self.p, self.margin = p, margin

    def forward(self, input, target):
        return F.multi_margin_loss(input, target, p=self.p, margin=self.margin, weight=self.weight,
                                   reduction=self.reduction)


class CTCLoss(_Loss):
    """Connectionist Temporal Classification: -log p(target | input) summed over all alignments (forward-
    backward in log space, ``deepdive.ops.ctc``).

    Shape: forward(log_probs (T, N, C) from log_softmax, targets (N, S) or 1-D concatenated, input_lengths (N,),
    target_lengths (N,)) -> scalar ('mean': each loss / its target length, then averaged; 'sum') or (N,) ('none').
    Args: blank=0, reduction='mean', zero_infinity=False (impossible alignments give 0 and no gradient).
    """

    def __init__(self, blank=0, reduction="mean", zero_infinity=False):
        super().__init__(reduction=reduction)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank, self.reduction,
                          self.zero_infinity)
