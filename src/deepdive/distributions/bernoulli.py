"""Bernoulli(probs | logits): a coin that shows 1 with probability p; ContinuousBernoulli, its [0, 1] relaxation."""
import math

import deepdive
from . import constraints
from ._params import BinaryProbsLogits
from .exp_family import ExponentialFamily
from .utils import broadcast_all, clamp_probs, lazy_property, logits_to_probs

__all__ = ["Bernoulli", "ContinuousBernoulli"]


def _bce_with_logits(logits, target):
    from ..nn.functional import binary_cross_entropy_with_logits
    return binary_cross_entropy_with_logits(logits, target, reduction="none")


class Bernoulli(BinaryProbsLogits, ExponentialFamily):
    r"""P(x) = p^x (1 - p)^(1 - x), x in {0, 1};  p = ``probs`` = sigmoid(``logits``).

    log_prob(x) = -BCEWithLogits(logits, x) (the stable form);  entropy = BCEWithLogits(logits, p).
    """
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True
    _mean_carrier_measure = 0

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._set_probs_or_logits(probs, logits)
        super().__init__(self._param.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Bernoulli, _instance)
        self._expand_probs_or_logits(new, batch_shape)
        super(Bernoulli, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def param_shape(self):
        return self._param.shape

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        mode = (self.probs >= 0.5).to(self.probs.dtype)
        return deepdive.where(self.probs == 0.5, math.nan, mode)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        with deepdive.no_grad():
            return deepdive.bernoulli(self.probs.expand(shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -_bce_with_logits(logits, value)

    def entropy(self):
        return _bce_with_logits(self.logits, self.probs)

    @property
    def _natural_params(self):
        return (deepdive.log(self.probs) - deepdive.log1p(-self.probs),)

    def _log_normalizer(self, x):
        return deepdive.log1p(deepdive.exp(x))

    def enumerate_support(self, expand=True):
        values = deepdive.arange(2, dtype=self._param.dtype).reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((-1,) + tuple(self._batch_shape)) if expand else values


class ContinuousBernoulli(BinaryProbsLogits, ExponentialFamily):
    r"""p(x) = C(lambda) lambda^x (1 - lambda)^(1 - x) on [0, 1] (Loaiza-Ganem & Cunningham 2019), the
    likelihood for [0, 1]-valued pixels in VAEs;  C(lambda) = 2 atanh(1 - 2 lambda) / (1 - 2 lambda).

    NOTE: near lambda = 1/2 (inside ``lims``) the closed forms are 0/0, so Taylor expansions are used there,
    as PyTorch does. rsample is the inverse CDF of a uniform draw.
    """
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501), validate_args=None):
        self._set_probs_or_logits(probs, logits)
        if probs is not None:
            if validate_args is not None and not bool(self.arg_constraints["probs"].check(self.probs).all()):
                raise ValueError("The parameter probs has invalid values")
            # NOTE: probs of exactly 0 or 1 make the normaliser log 0, so they are clamped before use.
            self.probs = self._param = clamp_probs(self.probs)
        self._lims = lims
        super().__init__(self._param.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(ContinuousBernoulli, _instance)
        new._lims = self._lims
        self._expand_probs_or_logits(new, batch_shape)
        super(ContinuousBernoulli, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _outside_unstable_region(self):
        return (self.probs <= self._lims[0]) | (self.probs > self._lims[1])

    def _cut_probs(self):
        return deepdive.where(self._outside_unstable_region(), self.probs,
                              self._lims[0] * deepdive.ones_like(self.probs))

    def _cont_bern_log_norm(self):
        """log C(lambda), with its Taylor series log 2 + 4/3 x + 104/45 x^2 (x = (lambda - 1/2)^2) near 1/2."""
        cut = self._cut_probs()
        below = deepdive.where(cut <= 0.5, cut, deepdive.zeros_like(cut))
        above = deepdive.where(cut >= 0.5, cut, deepdive.ones_like(cut))
        log_norm = deepdive.log(deepdive.abs(deepdive.log1p(-cut) - deepdive.log(cut))) - deepdive.where(
            cut <= 0.5, deepdive.log1p(-2.0 * below), deepdive.log(2.0 * above - 1.0))
        x = (self.probs - 0.5).pow(2)
        taylor = math.log(2.0) + (4.0 / 3.0 + 104.0 / 45.0 * x) * x
        return deepdive.where(self._outside_unstable_region(), log_norm, taylor)

    @lazy_property
    def probs(self):
        return clamp_probs(logits_to_probs(self.logits, is_binary=True))

    @property
    def param_shape(self):
        return self._param.shape

    @property
    def mean(self):
        cut = self._cut_probs()
        mus = cut / (2.0 * cut - 1.0) + 1.0 / (deepdive.log1p(-cut) - deepdive.log(cut))
        x = self.probs - 0.5
        taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * x.pow(2)) * x
        return deepdive.where(self._outside_unstable_region(), mus, taylor)

    @property
    def stddev(self):
        return deepdive.sqrt(self.variance)

    @property
    def variance(self):
        cut = self._cut_probs()
        variances = (cut * (cut - 1.0) / (1.0 - 2.0 * cut).pow(2)
                     + 1.0 / (deepdive.log1p(-cut) - deepdive.log(cut)).pow(2))
        x = (self.probs - 0.5).pow(2)
        taylor = 1.0 / 12.0 - (1.0 / 15.0 - 128.0 / 945.0 * x) * x
        return deepdive.where(self._outside_unstable_region(), variances, taylor)

    def sample(self, sample_shape=()):
        u = deepdive.rand(self._extended_shape(sample_shape), dtype=self.probs.dtype)
        with deepdive.no_grad():
            return self.icdf(u)

    def rsample(self, sample_shape=()):
        return self.icdf(deepdive.rand(self._extended_shape(sample_shape), dtype=self.probs.dtype))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -_bce_with_logits(logits, value) + self._cont_bern_log_norm()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        cut = self._cut_probs()
        cdfs = (cut.pow(value) * (1.0 - cut).pow(1.0 - value) + cut - 1.0) / (2.0 * cut - 1.0)
        unbounded = deepdive.where(self._outside_unstable_region(), cdfs, value)
        return deepdive.where(value <= 0.0, deepdive.zeros_like(value),
                              deepdive.where(value >= 1.0, deepdive.ones_like(value), unbounded))

    def icdf(self, value):
        cut = self._cut_probs()
        closed = (deepdive.log1p(-cut + value * (2.0 * cut - 1.0)) - deepdive.log1p(-cut)) / (
            deepdive.log(cut) - deepdive.log1p(-cut))
        return deepdive.where(self._outside_unstable_region(), closed, value)

    def entropy(self):
        log_probs0, log_probs1 = deepdive.log1p(-self.probs), deepdive.log(self.probs)
        return self.mean * (log_probs0 - log_probs1) - self._cont_bern_log_norm() - log_probs0

    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, x):
        """log((e^x - 1) / x), with its Taylor series x/2 + x^2/24 - x^4/2880 near 0."""
        outside = (x <= self._lims[0] - 0.5) | (x > self._lims[1] - 0.5)
        cut = deepdive.where(outside, x, (self._lims[0] - 0.5) * deepdive.ones_like(x))
        log_norm = deepdive.log(deepdive.abs(deepdive.expm1(cut))) - deepdive.log(deepdive.abs(cut))
        taylor = 0.5 * x + x.pow(2) / 24.0 - x.pow(4) / 2880.0
        return deepdive.where(outside, log_norm, taylor)
