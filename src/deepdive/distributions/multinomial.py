"""Multinomial(total_count, probs | logits) and NegativeBinomial(total_count, probs | logits)."""
import math

import numpy as np

import deepdive
from . import constraints
from ._params import BinaryProbsLogits, CategoricalParams
from .categorical import Categorical
from .discrete import Binomial
from .distribution import Distribution
from .gamma import Gamma
from .utils import broadcast_all

__all__ = ["Multinomial", "NegativeBinomial"]


class Multinomial(CategoricalParams, Distribution):
    r"""Counts of ``total_count`` draws from a Categorical:  P(x) = n! / prod_i x_i! * prod_i p_i^x_i.

    log_prob does not need ``total_count`` (any total is scored); sample does.
    """
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, int):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits)
        self._binomial = Binomial(total_count=total_count, probs=self.probs)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Multinomial, _instance)
        new.total_count = self.total_count
        new._categorical = self._categorical.expand(batch_shape)
        new._binomial = Binomial(total_count=self.total_count, probs=new._categorical.probs)
        super(Multinomial, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return constraints.multinomial(self.total_count)

    @property
    def mean(self):
        return self.probs * self.total_count

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        sample_shape = tuple(sample_shape)
        draws = self._categorical.sample((self.total_count,) + sample_shape).numpy()     # (n, *sample, *batch)
        k = self._categorical._num_events
        counts = (draws[..., None] == np.arange(k)).sum(0)
        return deepdive.tensor(counts.astype(self.probs._data.dtype))

    def entropy(self):
        n = deepdive.tensor(float(self.total_count), dtype=self.probs.dtype)
        term1 = n * self._categorical.entropy() - deepdive.lgamma(n + 1)
        support = self._binomial.enumerate_support(expand=False)[1:]
        binomial_probs = deepdive.exp(self._binomial.log_prob(support))
        weights = deepdive.lgamma(support + 1)
        return term1 + (binomial_probs * weights).sum([0, -1])

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        log_factorial_n = deepdive.lgamma(value.sum(-1) + 1)
        log_factorial_xs = deepdive.lgamma(value + 1).sum(-1)
        # NOTE: 0 * log 0 terms (a zero count of an impossible category) count as 0, as PyTorch.
        logits = deepdive.where((value == 0) & (logits == -math.inf), 0.0, logits)
        return log_factorial_n - log_factorial_xs + (logits * value).sum(-1)


class NegativeBinomial(BinaryProbsLogits, Distribution):
    r"""Successes before ``total_count`` failures, success probability p:
    P(k) = Gamma(r + k) / (k! Gamma(r)) p^k (1 - p)^r.   sample: Poisson(Gamma(r, (1 - p) / p))."""
    arg_constraints = {"total_count": constraints.greater_than_eq(0),
                       "probs": constraints.half_open_interval(0.0, 1.0), "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        (total_count,) = self._set_probs_or_logits(probs, logits, total_count)
        self.total_count = total_count.type_as(self._param)
        super().__init__(self._param.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(NegativeBinomial, _instance)
        new.total_count = self.total_count.expand(batch_shape)
        self._expand_probs_or_logits(new, batch_shape)
        super(NegativeBinomial, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def param_shape(self):
        return self._param.shape

    @property
    def mean(self):
        return self.total_count * deepdive.exp(self.logits)

    @property
    def mode(self):
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self):
        return self.mean / deepdive.sigmoid(-self.logits)

    def sample(self, sample_shape=()):
        with deepdive.no_grad():
            rate = Gamma(self.total_count, deepdive.exp(-self.logits), validate_args=False).sample(sample_shape)
            return deepdive.poisson(rate)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        from ..nn.functional import logsigmoid
        log_unnormalized = self.total_count * logsigmoid(-self.logits) + value * logsigmoid(self.logits)
        log_normalization = (-deepdive.lgamma(self.total_count + value) + deepdive.lgamma(1.0 + value)
                             + deepdive.lgamma(self.total_count))
        log_normalization = log_normalization.masked_fill(self.total_count + value == 0.0, 0.0)
        return log_unnormalized - log_normalization
