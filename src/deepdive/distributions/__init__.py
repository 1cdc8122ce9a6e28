"""deepdive.distributions: probability distributions with PyTorch's API (``torch.distributions``).

Every density, entropy and KL is composed from deepdive Tensor ops, so gradients
flow to the parameters; ``rsample`` reparameterises draws where the family
allows it. All randomness comes from deepdive's one generator
(``deepdive.manual_seed`` reproduces the draws). Families that PyTorch draws with
rand / normal_ / multinomial / bernoulli / poisson / exponential_ / cauchy_ /
uniform_ draw through the same calls here, so a seed gives PyTorch's samples;
the Gamma-based families (Gamma, Chi2, Beta, Dirichlet, StudentT, FisherSnedecor,
InverseGamma, NegativeBinomial, Wishart, LKJCholesky), Binomial and VonMises use
deepdive's own samplers (same distributions, different streams).

Example (REINFORCE)::

    from deepdive.distributions import Categorical
    m = Categorical(logits=policy(state))
    action = m.sample()
    loss = -m.log_prob(action) * reward
"""
from . import constraints, transforms
from .bernoulli import Bernoulli, ContinuousBernoulli
from .constraint_registry import biject_to, transform_to
from .categorical import Categorical, OneHotCategorical, OneHotCategoricalStraightThrough
from .dirichlet import Beta, Dirichlet
from .discrete import Binomial, Geometric, Poisson
from .distribution import Distribution
from .exp_family import ExponentialFamily
from .gamma import Chi2, FisherSnedecor, Gamma
from .generalized_pareto import GeneralizedPareto
from .independent import Independent
from .kl import kl_divergence, register_kl
from .lkj_cholesky import LKJCholesky
from .lowrank_multivariate_normal import LowRankMultivariateNormal
from .mixture_same_family import MixtureSameFamily
from .multinomial import Multinomial, NegativeBinomial
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .relaxed import ExpRelaxedCategorical, LogitRelaxedBernoulli, RelaxedBernoulli, RelaxedOneHotCategorical
from .scale_families import Cauchy, Exponential, Laplace, LogNormal, StudentT
from .transformed_distribution import TransformedDistribution
from .transformed_families import (Gumbel, HalfCauchy, HalfNormal, InverseGamma, Kumaraswamy, LogisticNormal, Pareto,
                                   Weibull)
from .transforms import *  # noqa: F401,F403
from .uniform import Uniform
from .von_mises import VonMises
from .wishart import Wishart

__all__ = ["Bernoulli", "Beta", "Binomial", "Categorical", "Cauchy", "Chi2", "ContinuousBernoulli", "Dirichlet",
           "Distribution", "ExpRelaxedCategorical", "Exponential", "ExponentialFamily", "FisherSnedecor", "Gamma",
           "GeneralizedPareto", "Geometric", "Gumbel", "HalfCauchy", "HalfNormal", "Independent", "InverseGamma",
           "Kumaraswamy", "LKJCholesky", "Laplace", "LogNormal", "LogisticNormal", "LogitRelaxedBernoulli",
           "LowRankMultivariateNormal", "MixtureSameFamily", "Multinomial", "MultivariateNormal", "NegativeBinomial",
           "Normal", "OneHotCategorical", "OneHotCategoricalStraightThrough", "Pareto", "Poisson", "RelaxedBernoulli",
           "RelaxedOneHotCategorical", "StudentT", "TransformedDistribution", "Uniform", "VonMises", "Weibull",
           "Wishart", "biject_to", "constraints", "kl_divergence", "register_kl", "transform_to",
           "transforms"] + transforms.__all__
