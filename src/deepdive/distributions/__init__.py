"""deepdive.distributions: probability distributions with PyTorch's API (``torch.distributions``).

Every density, entropy and KL is composed from deepdive Tensor ops, so gradients
flow to the parameters; ``rsample`` reparameterises draws where the family
allows it. All randomness comes from deepdive's one generator
(``deepdive.manual_seed`` reproduces the draws).
"""
from . import constraints, transforms
from .distribution import Distribution
from .bernoulli import Bernoulli
from .categorical import Categorical, OneHotCategorical, OneHotCategoricalStraightThrough
from .independent import Independent
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .transforms import *  # noqa: F401,F403
from .uniform import Uniform
