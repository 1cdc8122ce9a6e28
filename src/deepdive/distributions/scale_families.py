"""Location-scale and rate families with closed forms: Exponential, Laplace, Cauchy, LogNormal, StudentT."""
import math
import numbers

import deepdive
from . import constraints
from .distribution import Distribution
from .exp_family import ExponentialFamily
from .gamma import Chi2
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .transforms import ExpTransform
from .utils import broadcast_all

__all__ = ["Exponential", "Laplace", "Cauchy", "LogNormal", "StudentT"]


def _uniform(shape, low, high, dtype):
    """U[low, high) draws from deepdive's generator, filled as PyTorch's ``new(shape).uniform_(low, high)``."""
    return deepdive.empty(shape, dtype=dtype).uniform_(low, high)


class _LocScale(Distribution):
    """Shared constructor and expand of the (loc, scale) families."""
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        scalar = isinstance(loc, numbers.Number) and isinstance(scale, numbers.Number)
        super().__init__(() if scalar else self.loc.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(type(self), _instance)
        new.loc, new.scale = self.loc.expand(batch_shape), self.scale.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new


class Exponential(ExponentialFamily):
    r"""p(x) = rate e^(-rate x), x >= 0.   rsample: x = -log(1 - u) / rate.   Entropy: 1 - ln rate."""
    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(() if isinstance(rate, numbers.Number) else self.rate.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Exponential, _instance)
        new.rate = self.rate.expand(batch_shape)
        super(Exponential, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.rate.reciprocal()

    @property
    def mode(self):
        return deepdive.zeros_like(self.rate)

    @property
    def stddev(self):
        return self.rate.reciprocal()

    @property
    def variance(self):
        return self.rate.pow(-2)

    def rsample(self, sample_shape=()):
        # Exponential(1) draws / rate, drawn as PyTorch's ``new(shape).exponential_()``
        return deepdive.empty(self._extended_shape(sample_shape), dtype=self.rate.dtype).exponential_() / self.rate

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self.rate.log() - self.rate * value

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 1 - deepdive.exp(-self.rate * value)

    def icdf(self, value):
        return -deepdive.log1p(-value) / self.rate

    def entropy(self):
        return 1.0 - deepdive.log(self.rate)

    @property
    def _natural_params(self):
        return (-self.rate,)

    def _log_normalizer(self, x):
        return -deepdive.log(-x)


class Laplace(_LocScale):
    r"""p(x) = exp(-|x - loc| / scale) / (2 scale).   Entropy: 1 + ln(2 scale).

    rsample: x = loc - scale sign(u) log(1 - |u|), u ~ U(eps - 1, 1).
    """

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return 2 * self.scale.pow(2)

    @property
    def stddev(self):
        return (2 ** 0.5) * self.scale

    def rsample(self, sample_shape=()):
        eps = deepdive.finfo(self.loc.dtype).eps
        u = _uniform(self._extended_shape(sample_shape), eps - 1, 1, self.loc.dtype)
        return self.loc - self.scale * u.sign() * deepdive.log1p(-u.abs())

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -deepdive.log(2 * self.scale) - deepdive.abs(value - self.loc) / self.scale

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 - 0.5 * (value - self.loc).sign() * deepdive.expm1(-(value - self.loc).abs() / self.scale)

    def icdf(self, value):
        term = value - 0.5
        return self.loc - self.scale * term.sign() * deepdive.log1p(-2 * term.abs())

    def entropy(self):
        return 1 + deepdive.log(2 * self.scale)


class Cauchy(_LocScale):
    r"""p(x) = 1 / (pi scale (1 + ((x - loc) / scale)^2)).   Entropy: ln(4 pi scale).

    rsample: x = loc + scale tan(pi (u - 1/2)).   Mean and variance do not exist (nan, inf).
    """

    @property
    def mean(self):
        return deepdive.full(self._extended_shape(), math.nan, dtype=self.loc.dtype)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return deepdive.full(self._extended_shape(), math.inf, dtype=self.loc.dtype)

    def rsample(self, sample_shape=()):
        eps = deepdive.empty(self._extended_shape(sample_shape), dtype=self.loc.dtype).cauchy_()    # tan(pi (u - 1/2))
        return self.loc + eps * self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -math.log(math.pi) - self.scale.log() - (((value - self.loc) / self.scale) ** 2).log1p()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return deepdive.atan((value - self.loc) / self.scale) / math.pi + 0.5

    def icdf(self, value):
        return deepdive.tan(math.pi * (value - 0.5)) * self.scale + self.loc

    def entropy(self):
        return math.log(4 * math.pi) + self.scale.log()


class LogNormal(TransformedDistribution):
    r"""X = e^Y with Y ~ Normal(loc, scale).   Mean e^(loc + scale^2/2);  entropy H(Y) + loc."""
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        super().__init__(Normal(loc, scale, validate_args=validate_args), ExpTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return super().expand(batch_shape, _instance=self._get_checked_instance(LogNormal, _instance))

    @property
    def loc(self):
        return self.base_dist.loc

    @property
    def scale(self):
        return self.base_dist.scale

    @property
    def mean(self):
        return (self.loc + self.scale.pow(2) / 2).exp()

    @property
    def mode(self):
        return (self.loc - self.scale.square()).exp()

    @property
    def variance(self):
        scale2 = self.scale.pow(2)
        return scale2.expm1() * (2 * self.loc + scale2).exp()

    def entropy(self):
        return self.base_dist.entropy() + self.loc


class StudentT(Distribution):
    r"""Student's t with ``df`` degrees of freedom, location and scale.

    log p(x) = -(df + 1)/2 log(1 + y^2/df) - log(scale sqrt(df pi) Gamma(df/2) / Gamma((df+1)/2)),
    y = (x - loc) / scale.   rsample: loc + scale * z / sqrt(chi2 / df), z ~ N(0, 1), chi2 ~ Chi2(df).
    """
    arg_constraints = {"df": constraints.positive, "loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale)
        self._chi2 = Chi2(self.df)
        super().__init__(self.df.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(StudentT, _instance)
        new.df, new.loc, new.scale = (self.df.expand(batch_shape), self.loc.expand(batch_shape),
                                      self.scale.expand(batch_shape))
        new._chi2 = self._chi2.expand(batch_shape)
        super(StudentT, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return deepdive.where(self.df <= 1, math.nan, self.loc)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        finite = self.scale.pow(2) * self.df / deepdive.where(self.df > 2, self.df - 2, 1.0)
        return deepdive.where(self.df > 2, finite, deepdive.where(self.df > 1, math.inf, math.nan))

    def rsample(self, sample_shape=()):
        x = deepdive.randn(self._extended_shape(sample_shape), dtype=self.df.dtype)
        z = self._chi2.rsample(sample_shape)
        return self.loc + self.scale * x * deepdive.rsqrt(z / self.df)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        y = (value - self.loc) / self.scale
        z = (self.scale.log() + 0.5 * self.df.log() + 0.5 * math.log(math.pi) + deepdive.lgamma(0.5 * self.df)
             - deepdive.lgamma(0.5 * (self.df + 1.0)))
        return -0.5 * (self.df + 1.0) * deepdive.log1p(y ** 2.0 / self.df) - z

    def entropy(self):
        lbeta = deepdive.lgamma(0.5 * self.df) + math.lgamma(0.5) - deepdive.lgamma(0.5 * (self.df + 1))
        return (self.scale.log() + 0.5 * (self.df + 1) * (deepdive.digamma(0.5 * (self.df + 1))
                                                           - deepdive.digamma(0.5 * self.df))
                + 0.5 * self.df.log() + lbeta)
