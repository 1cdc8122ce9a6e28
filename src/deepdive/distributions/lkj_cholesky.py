"""LKJCholesky(dim, concentration): a prior over Cholesky factors of correlation matrices
(Lewandowski, Kurowicka & Joe 2009), sampled by the onion method."""
import math

import deepdive
from . import constraints
from .dirichlet import Beta
from .distribution import Distribution
from .utils import broadcast_all

__all__ = ["LKJCholesky"]


class LKJCholesky(Distribution):
    r"""p(L) ∝ prod_{i=2..d} L_ii^(d - i + 2 (eta - 1)) for L the Cholesky factor of a correlation matrix,
    eta = ``concentration`` (eta = 1: uniform over correlation matrices).

    sample (onion method): row i is sqrt(y_i) u_i with y_i ~ Beta(i/2, eta + (d - 2)/2 - i/2) and u_i uniform
    on the unit sphere, then the diagonal entry that makes the row's norm 1.
    """
    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim, concentration=1.0, validate_args=None):
        if dim < 2:
            raise ValueError(f"Expected dim to be an integer greater than or equal to 2. Found dim={dim}.")
        self.dim = dim
        (self.concentration,) = broadcast_all(concentration)
        marginal_conc = self.concentration + 0.5 * (self.dim - 2)
        offset = deepdive.arange(self.dim - 1, dtype=self.concentration.dtype)
        offset = deepdive.cat([offset.new_zeros((1,)), offset])
        self._beta = Beta(offset + 0.5, marginal_conc.unsqueeze(-1) - 0.5 * offset)
        super().__init__(self.concentration.shape, (dim, dim), validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LKJCholesky, _instance)
        new.dim = self.dim
        new.concentration = self.concentration.expand(batch_shape)
        new._beta = self._beta.expand(tuple(batch_shape) + (self.dim,))
        super(LKJCholesky, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=()):
        with deepdive.no_grad():
            y = self._beta.sample(sample_shape).unsqueeze(-1)
            u_normal = deepdive.randn(self._extended_shape(sample_shape), dtype=y.dtype).tril(-1)
            u_hypersphere = u_normal / u_normal.norm(dim=-1, keepdim=True)
            first_row = deepdive.arange(self.dim).reshape(-1, 1) == 0     # row 0 has no off-diagonal part
            u_hypersphere = deepdive.where(first_row, 0.0, u_hypersphere)
            w = deepdive.sqrt(y) * u_hypersphere
            diag = deepdive.clamp(1 - deepdive.sum(w ** 2, dim=-1), min=deepdive.finfo(w.dtype).tiny).sqrt()
            return w + deepdive.diag_embed(diag)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        diag_elems = value.diagonal(dim1=-1, dim2=-2)[..., 1:]
        order = deepdive.arange(2, self.dim + 1)
        order = 2 * (self.concentration - 1).unsqueeze(-1) + self.dim - order
        unnormalized_log_pdf = deepdive.sum(order * diag_elems.log(), dim=-1)
        dm1 = self.dim - 1
        alpha = self.concentration + 0.5 * dm1
        denominator = deepdive.lgamma(alpha) * dm1
        numerator = deepdive.mvlgamma(alpha - 0.5, dm1)
        normalize_term = 0.5 * dm1 * math.log(math.pi) + numerator - denominator
        return unnormalized_log_pdf - normalize_term
