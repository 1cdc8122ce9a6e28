"""Counting distributions: Poisson(rate), Binomial(total_count, probs | logits), Geometric(probs | logits)."""
import numbers

import numpy as np

import deepdive
from ..ops.special import _lgamma_np
from ..random import get_generator
from . import constraints
from ._params import BinaryProbsLogits
from .distribution import Distribution
from .exp_family import ExponentialFamily
from .utils import broadcast_all

__all__ = ["Poisson", "Binomial", "Geometric"]


def _inverse_cdf_draw(log_pmf, support, generator=None):
    """Draw k by inversion: the number of support points whose CDF lies below u ~ U[0, 1).

    ``log_pmf`` is (N, W) over the ``support`` grid (N, W); the grid must hold all but a negligible mass.
    """
    cdf = np.cumsum(np.exp(log_pmf), axis=-1)
    u = get_generator(generator).random((log_pmf.shape[0], 1)) * cdf[:, -1:]
    index = np.minimum((cdf <= u).sum(-1), support.shape[-1] - 1)
    return np.take_along_axis(support, index[:, None], -1)[:, 0]


def _sample_binomial(total_count, probs):
    """Binomial draws by inversion over k in [0, max(total_count)]."""
    n = np.asarray(total_count, dtype=np.float64).reshape(-1)
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    if n.size == 0:
        return np.zeros(np.shape(probs))
    k = np.broadcast_to(np.arange(int(n.max()) + 1, dtype=np.float64), (n.size, int(n.max()) + 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_choose = _lgamma_np(n[:, None] + 1) - _lgamma_np(k + 1) - _lgamma_np(n[:, None] - k + 1)
        log_pmf = log_choose + np.where(k > 0, k * np.log(p[:, None]), 0.0) + \
            np.where(n[:, None] - k > 0, (n[:, None] - k) * np.log1p(-p[:, None]), 0.0)
    log_pmf = np.where((k <= n[:, None]) & ~np.isnan(log_pmf), log_pmf, -np.inf)
    return _inverse_cdf_draw(log_pmf, k).reshape(np.shape(probs))


class Poisson(ExponentialFamily):
    r"""P(k) = rate^k e^(-rate) / k!.   log_prob = k log rate - rate - lgamma(k + 1)."""
    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(() if isinstance(rate, numbers.Number) else self.rate.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Poisson, _instance)
        new.rate = self.rate.expand(batch_shape)
        super(Poisson, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return self.rate.floor()

    @property
    def variance(self):
        return self.rate

    def sample(self, sample_shape=()):
        with deepdive.no_grad():
            return deepdive.poisson(self.rate.expand(self._extended_shape(sample_shape)))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        rate, value = broadcast_all(self.rate, value)
        return value.xlogy(rate) - rate - (value + 1).lgamma()

    @property
    def _natural_params(self):
        return (deepdive.log(self.rate),)

    def _log_normalizer(self, x):
        return deepdive.exp(x)


class Binomial(BinaryProbsLogits, Distribution):
    r"""P(k) = C(n, k) p^k (1 - p)^(n - k),  n = ``total_count``, p = ``probs`` = sigmoid(``logits``).

    log_prob uses the logits for stability: k logit - n log(1 + e^logit) + log C(n, k).
    """
    arg_constraints = {"total_count": constraints.nonnegative_integer, "probs": constraints.unit_interval,
                       "logits": constraints.real}
    has_enumerate_support = True

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        (total_count,) = self._set_probs_or_logits(probs, logits, total_count)
        self.total_count = total_count.type_as(self._param)
        super().__init__(self._param.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Binomial, _instance)
        new.total_count = self.total_count.expand(batch_shape)
        self._expand_probs_or_logits(new, batch_shape)
        super(Binomial, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    @property
    def param_shape(self):
        return self._param.shape

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def mode(self):
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        n = np.broadcast_to(self.total_count._data, shape)
        p = np.broadcast_to(self.probs._data, shape)
        return deepdive.tensor(_sample_binomial(n, p).astype(self._param._data.dtype))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        log_factorial_n = deepdive.lgamma(self.total_count + 1)
        log_factorial_k = deepdive.lgamma(value + 1)
        log_factorial_nmk = deepdive.lgamma(self.total_count - value + 1)
        # NOTE: n log(1 + e^l) computed as n max(l, 0) + n log1p(e^-|l|), finite for any logit.
        normalize_term = (self.total_count * self.logits.clamp(min=0)
                          + self.total_count * deepdive.log1p(deepdive.exp(-deepdive.abs(self.logits)))
                          - log_factorial_n)
        return value * self.logits - log_factorial_k - log_factorial_nmk - normalize_term

    def entropy(self):
        total_count = int(self.total_count.max())
        if not self.total_count.min() == total_count:
            raise NotImplementedError("Inhomogeneous total count not supported by `entropy`.")
        log_prob = self.log_prob(self.enumerate_support(False))
        return -(deepdive.exp(log_prob) * log_prob).sum(0)

    def enumerate_support(self, expand=True):
        total_count = int(self.total_count.max())
        if not self.total_count.min() == total_count:
            raise NotImplementedError("Inhomogeneous total count not supported by `enumerate_support`.")
        values = deepdive.arange(1 + total_count, dtype=self._param.dtype)
        values = values.reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((-1,) + tuple(self._batch_shape)) if expand else values


class Geometric(BinaryProbsLogits, Distribution):
    r"""P(k) = (1 - p)^k p, k = 0, 1, ... (failures before the first success).

    sample: floor(log u / log(1 - p)).   Entropy: BCEWithLogits(logits, p) / p.
    """
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._set_probs_or_logits(probs, logits)
        super().__init__(self._param.shape, validate_args=validate_args)
        if self._validate_args and probs is not None:
            valid = self.probs > 0
            if not bool(valid.all()):
                raise ValueError(f"Expected parameter probs ({type(self.probs).__name__} of shape "
                                 f"{tuple(self.probs.shape)}) of distribution {self!r} to be positive but found "
                                 f"invalid values:\n{self.probs[~valid]}")

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Geometric, _instance)
        self._expand_probs_or_logits(new, batch_shape)
        super(Geometric, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return deepdive.zeros_like(self.probs)

    @property
    def variance(self):
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        tiny = deepdive.finfo(self.probs.dtype).tiny
        with deepdive.no_grad():
            u = deepdive.empty(shape, dtype=self.probs.dtype).uniform_(tiny, 1)
            return (u.log() / (-self.probs).log1p()).floor()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_all(value, self.probs)
        # NOTE: 0 * log(1 - 1) is nan; PyTorch defines P(0) = 1 when p = 1.
        probs = deepdive.where((probs == 1) & (value == 0), 0.0, probs)
        return value * (-probs).log1p() + self.probs.log()

    def entropy(self):
        from ..nn.functional import binary_cross_entropy_with_logits
        return binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none") / self.probs
