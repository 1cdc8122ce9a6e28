"""Gamma(concentration, rate), Chi2(df), FisherSnedecor(df1, df2), and the reparameterised standard-gamma draw behind
Gamma, Chi2, StudentT, Beta and Dirichlet."""
import math
import numbers

import numpy as np

import deepdive
from ..autograd.function import Function
from ..ops.special import _lgamma_np
from ..random import get_generator
from . import constraints
from .distribution import Distribution
from .exp_family import ExponentialFamily
from .utils import broadcast_all

__all__ = ["Gamma", "Chi2", "FisherSnedecor"]


def _sample_standard_gamma(alpha, generator=None):
    """Gamma(alpha, 1) draws in float64 by Marsaglia & Tsang (2000), from deepdive's generator.

    For alpha >= 1: d = alpha - 1/3, c = 1/sqrt(9d); draw z ~ N(0,1), v = (1 + c z)^3 and accept d v when
    log u < z^2/2 + d - d v + d log v. For alpha < 1: Gamma(alpha) = Gamma(alpha + 1) * u^(1/alpha).
    """
    gen = get_generator(generator)
    alpha = np.asarray(alpha, dtype=np.float64)
    boost = alpha < 1
    a = np.where(boost, alpha + 1, alpha)
    d = a - 1.0 / 3
    c = 1.0 / np.sqrt(9 * d)
    out = np.empty(alpha.shape)
    todo = np.ones(alpha.shape, dtype=bool)
    while todo.any():
        z = gen.standard_normal(int(todo.sum()))
        u = gen.random(int(todo.sum()))
        dd, cc = d[todo], c[todo]
        v = (1 + cc * z) ** 3
        with np.errstate(invalid="ignore", divide="ignore"):
            accept = (v > 0) & (np.log(u) < 0.5 * z * z + dd - dd * v + dd * np.log(v))
        index = np.flatnonzero(todo)[accept]
        out.flat[index] = (dd * v)[accept]
        todo.flat[index] = False
    if boost.any():
        u = gen.random(int(boost.sum()))
        out[boost] = out[boost] * u ** (1.0 / alpha[boost])
    return out


def _regularized_gamma_p(a, x):
    """P(a, x) = gamma(a, x) / Gamma(a) in float64 (Numerical Recipes' gser / gcf):
    its power series where x < a + 1, else 1 - Q(a, x) by Lentz's continued fraction. Each loop stops
    as soon as every element has converged to double precision (a few dozen terms for moderate a)."""
    a, x = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(x, np.float64))
    out = np.zeros(a.shape)
    with np.errstate(all="ignore"):
        log_prefix = a * np.log(x) - x - _lgamma_np(a)
        use_series = (x > 0) & (x < a + 1)
        aa, xx = a[use_series], x[use_series]
        term = 1.0 / aa
        total = term.copy()
        for n in range(1, 1000):
            term = term * xx / (aa + n)
            total += term
            if np.all(np.abs(term) <= np.abs(total) * 1e-15):
                break
        out[use_series] = total * np.exp(log_prefix[use_series])
        use_cf = x >= a + 1
        aa, xx = a[use_cf], x[use_cf]
        tiny = 1e-300
        b = xx + 1 - aa
        c = np.full_like(b, 1 / tiny)
        d = 1 / b
        h = d.copy()
        for i in range(1, 1000):
            an = -i * (i - aa)
            b = b + 2
            d = an * d + b
            d = 1 / np.where(np.abs(d) < tiny, tiny, d)
            c = b + an / c
            c = np.where(np.abs(c) < tiny, tiny, c)
            delta = d * c
            h = h * delta
            if np.all(np.abs(delta - 1) <= 1e-15):
                break
        out[use_cf] = 1 - np.exp(log_prefix[use_cf]) * h
    return out


class StandardGamma(Function):
    """x ~ Gamma(alpha, 1), reparameterised implicitly (Figurnov et al. 2018, "Implicit Reparameterization
    Gradients"): with F(x; alpha) the CDF held fixed,  dx/dalpha = -(dF/dalpha) / p(x; alpha).

    Backward: dalpha = g * dx/dalpha, where dF/dalpha is a central difference of the regularised incomplete
    gamma function in float64. NOTE: PyTorch uses the same identity with a fitted approximation of dF/dalpha,
    so the gradients agree to the accuracy of the two approximations, not bitwise.
    """

    @staticmethod
    def forward(ctx, alpha):
        x = _sample_standard_gamma(alpha)
        x = np.maximum(x, np.finfo(alpha.dtype).tiny).astype(alpha.dtype)
        ctx.save_for_backward(alpha, x)
        return x

    @staticmethod
    def backward(ctx, grad):
        alpha, x = ctx.saved_tensors
        a, xs = alpha.astype(np.float64), x.astype(np.float64)
        h = 1e-5 * np.maximum(a, 1e-3)
        dF = (_regularized_gamma_p(a + h, xs) - _regularized_gamma_p(a - h, xs)) / (2 * h)
        log_density = (a - 1) * np.log(xs) - xs - _lgamma_np(a)
        return (grad * (-dF / np.exp(log_density))).astype(alpha.dtype)

    @staticmethod
    def graph_backward(ctx, grad):
        """As PyTorch 2.13: the gradient is not differentiable again (its _standard_gamma_grad has no derivative)."""
        from ..autograd._graph import no_double_backward
        return no_double_backward(ctx, (grad,), "the derivative for '_standard_gamma_grad' is not implemented.",
                                  NotImplementedError)


_NO_DERIVATIVE_IN_A = ("the derivative of gammainc (Gamma.cdf) w.r.t. the concentration is not implemented (nor "
                       "is it in PyTorch); detach the concentration")


class GammaIncP(Function):
    """P(a, x) = gamma(a, x) / Gamma(a), the regularised lower incomplete gamma (``torch.special.gammainc``).

    Backward: dx = g * x^(a-1) e^-x / Gamma(a); the derivative in a is not implemented (nor is it in PyTorch).
    """

    @staticmethod
    def forward(ctx, a, x):
        ctx.save_for_backward(a, x)
        return _regularized_gamma_p(a, x).astype(np.result_type(a, x))

    @staticmethod
    def backward(ctx, grad):
        a, x = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            raise NotImplementedError(_NO_DERIVATIVE_IN_A)
        a64, x64 = np.broadcast_arrays(a.astype(np.float64), x.astype(np.float64))
        with np.errstate(all="ignore"):
            density = np.where(x64 > 0, np.exp((a64 - 1) * np.log(x64) - x64 - _lgamma_np(a64)), 0.0)
        from ..ops._util import unbroadcast
        return None, unbroadcast((grad * density).astype(x.dtype), x.shape)

    @staticmethod
    def graph_backward(ctx, grad):
        """The same density on Tensors: d/dx x^(a-1) e^-x / Gamma(a) = density * ((a - 1) / x - 1)."""
        from ..ops._util import unbroadcast
        from ..ops.elementwise import where
        a, x = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            raise NotImplementedError(_NO_DERIVATIVE_IN_A)
        positive = x > 0
        safe_x = where(positive, x, x.new_ones(()))           # log(0) never enters the graph
        density = where(positive, ((a - 1) * safe_x.log() - safe_x - a.lgamma()).exp(), x.new_zeros(()))
        return None, unbroadcast(grad * density, x.shape)


def _standard_gamma(concentration):
    """Differentiable Gamma(concentration, 1) draws of the same shape (``torch._standard_gamma``)."""
    return StandardGamma.apply(concentration)


class Gamma(ExponentialFamily):
    r"""p(x) = rate^alpha x^(alpha - 1) e^(-rate x) / Gamma(alpha),  alpha = ``concentration``.

    Entropy: alpha - ln rate + lgamma(alpha) + (1 - alpha) digamma(alpha).
    rsample: x = StandardGamma(alpha) / rate, with implicit reparameterisation for alpha.
    """
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        scalar = isinstance(concentration, numbers.Number) and isinstance(rate, numbers.Number)
        super().__init__(() if scalar else self.concentration.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Gamma, _instance)
        new.concentration, new.rate = self.concentration.expand(batch_shape), self.rate.expand(batch_shape)
        super(Gamma, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        return _standard_gamma(self.concentration.expand(shape)) / self.rate.expand(shape)

    def log_prob(self, value):
        if not isinstance(value, deepdive.Tensor):
            value = deepdive.tensor(value, dtype=self.rate.dtype)
        if self._validate_args:
            self._validate_sample(value)
        return (deepdive.xlogy(self.concentration, self.rate) + deepdive.xlogy(self.concentration - 1, value)
                - self.rate * value - deepdive.lgamma(self.concentration))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        a, x = deepdive.broadcast_tensors(self.concentration, self.rate * value)
        return GammaIncP.apply(a, x)

    def entropy(self):
        return (self.concentration - deepdive.log(self.rate) + deepdive.lgamma(self.concentration)
                + (1.0 - self.concentration) * deepdive.digamma(self.concentration))

    @property
    def _natural_params(self):
        return (self.concentration - 1, -self.rate)

    def _log_normalizer(self, x, y):
        return deepdive.lgamma(x + 1) + (x + 1) * deepdive.log(-y.reciprocal())


class Chi2(Gamma):
    """Chi2(df) = Gamma(df / 2, 1 / 2)."""
    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, validate_args=None):
        super().__init__(0.5 * df, 0.5, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return super().expand(batch_shape, self._get_checked_instance(Chi2, _instance))

    @property
    def df(self):
        return self.concentration * 2


class FisherSnedecor(Distribution):
    r"""F(df1, df2) = (X1 / df1) / (X2 / df2), X_i ~ Chi2(df_i); drawn as the ratio of two rsampled Gammas."""
    arg_constraints = {"df1": constraints.positive, "df2": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, df1, df2, validate_args=None):
        self.df1, self.df2 = broadcast_all(df1, df2)
        self._gamma1 = Gamma(self.df1 * 0.5, self.df1)
        self._gamma2 = Gamma(self.df2 * 0.5, self.df2)
        scalar = isinstance(df1, numbers.Number) and isinstance(df2, numbers.Number)
        super().__init__(() if scalar else self.df1.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(FisherSnedecor, _instance)
        new.df1, new.df2 = self.df1.expand(batch_shape), self.df2.expand(batch_shape)
        new._gamma1, new._gamma2 = self._gamma1.expand(batch_shape), self._gamma2.expand(batch_shape)
        super(FisherSnedecor, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        df2 = deepdive.where(self.df2 <= 2, math.nan, self.df2)
        return df2 / (df2 - 2)

    @property
    def mode(self):
        mode = (self.df1 - 2) / self.df1 * self.df2 / (self.df2 + 2)
        return deepdive.where(self.df1 <= 2, math.nan, mode)

    @property
    def variance(self):
        df2 = deepdive.where(self.df2 <= 4, math.nan, self.df2)
        return 2 * df2.pow(2) * (self.df1 + df2 - 2) / (self.df1 * (df2 - 2).pow(2) * (df2 - 4))

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        tiny = deepdive.finfo(self.df1.dtype).tiny
        x1 = self._gamma1.rsample(sample_shape).reshape(shape)
        x2 = self._gamma2.rsample(sample_shape).reshape(shape).clamp(min=tiny)
        return (x1 / x2).clamp(min=tiny)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        ct1, ct2, ct3 = self.df1 * 0.5, self.df2 * 0.5, self.df1 / self.df2
        t1 = (ct1 + ct2).lgamma() - ct1.lgamma() - ct2.lgamma()
        t2 = ct1 * ct3.log() + (ct1 - 1) * deepdive.log(value)
        t3 = (ct1 + ct2) * deepdive.log1p(ct3 * value)
        return t1 + t2 - t3
