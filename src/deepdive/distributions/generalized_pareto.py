"""GeneralizedPareto(loc, scale, concentration): the limit law of threshold exceedances (extreme values)."""
import math
import numbers

import deepdive
from . import constraints
from .distribution import Distribution
from .utils import broadcast_all

__all__ = ["GeneralizedPareto"]


class GeneralizedPareto(Distribution):
    r"""Survival S(x) = (1 + xi z)^(-1/xi), z = (x - loc) / scale, xi = ``concentration``; exponential at xi = 0.

    rsample: the inverse CDF of u ~ U(0, 1). NOTE: xi = 0 is handled by its own branch (as PyTorch) because
    the general form is 0/0 there.
    """
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive, "concentration": constraints.real}
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args=None):
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        scalar = all(isinstance(v, numbers.Number) for v in (loc, scale, concentration))
        super().__init__(() if scalar else self.loc.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(GeneralizedPareto, _instance)
        new.loc, new.scale = self.loc.expand(batch_shape), self.scale.expand(batch_shape)
        new.concentration = self.concentration.expand(batch_shape)
        super(GeneralizedPareto, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _zero_and_safe(self):
        eq_zero = deepdive.isclose(self.concentration, deepdive.zeros_like(self.concentration))
        return eq_zero, deepdive.where(eq_zero, deepdive.ones_like(self.concentration), self.concentration)

    def _z(self, x):
        return (x - self.loc) / self.scale

    def rsample(self, sample_shape=()):
        return self.icdf(deepdive.rand(self._extended_shape(sample_shape), dtype=self.loc.dtype))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        eq_zero, safe_conc = self._zero_and_safe()
        y = 1 / safe_conc + deepdive.ones_like(z)
        where_nonzero = deepdive.where(y == 0, y, y * deepdive.log1p(safe_conc * z))
        return -self.scale.log() - deepdive.where(eq_zero, z, where_nonzero)

    def log_survival_function(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        eq_zero, safe_conc = self._zero_and_safe()
        return deepdive.where(eq_zero, -z, -deepdive.log1p(safe_conc * z) / safe_conc)

    def log_cdf(self, value):
        return deepdive.log1p(-deepdive.exp(self.log_survival_function(value)))

    def cdf(self, value):
        return deepdive.exp(self.log_cdf(value))

    def icdf(self, value):
        eq_zero, safe_conc = self._zero_and_safe()
        logu = deepdive.log1p(-value)
        where_nonzero = self.loc + self.scale / safe_conc * deepdive.expm1(-safe_conc * logu)
        return deepdive.where(eq_zero, self.loc - self.scale * logu, where_nonzero)

    @property
    def mean(self):
        valid = self.concentration < 1
        safe_conc = deepdive.where(valid, self.concentration, 0.5)
        return deepdive.where(valid, self.loc + self.scale / (1 - safe_conc), math.nan)

    @property
    def variance(self):
        valid = self.concentration < 0.5
        safe_conc = deepdive.where(valid, self.concentration, 0.25)
        result = self.scale ** 2 / ((1 - safe_conc) ** 2 * (1 - 2 * safe_conc))
        return deepdive.where(valid, result, math.nan)

    def entropy(self):
        return (deepdive.log(self.scale) + self.concentration + 1).expand(self._batch_shape)

    @property
    def mode(self):
        return self.loc

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        upper = deepdive.where(self.concentration < 0, self.loc - self.scale / self.concentration, math.inf)
        return constraints.interval(self.loc, upper)
