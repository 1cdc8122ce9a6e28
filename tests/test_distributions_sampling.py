"""Drawing from deepdive.distributions: sample statistics, reproducibility from deepdive's one generator,
gradcheck through rsample with a fixed seed, the implicit Gamma gradient, and validate_args errors as PyTorch's."""
import math

import numpy as np
import pytest

import deepdive
import deepdive.distributions as D
from parity import gradcheck, require_torch

N = 40000


def t(*values, dtype=None):
    return deepdive.tensor(np.array(values, dtype=dtype or np.float32))


def _kumaraswamy_moment(a, b, n):
    """E[X^n] = b B(1 + n/a, b)."""
    return b * math.gamma(1 + n / a) * math.gamma(b) / math.gamma(1 + n / a + b)


# (distribution, expected mean, expected variance) — the moments in closed form, batch of 2 or 3
MOMENTS = [
    (lambda: D.Normal(t(0.5, -2.0), t(1.0, 0.3)), [0.5, -2.0], [1.0, 0.09]),
    (lambda: D.Uniform(t(-1.0, 2.0), t(1.0, 5.0)), [0.0, 3.5], [4 / 12, 9 / 12]),
    (lambda: D.Bernoulli(probs=t(0.2, 0.7)), [0.2, 0.7], [0.16, 0.21]),
    (lambda: D.Exponential(t(0.5, 3.0)), [2.0, 1 / 3], [4.0, 1 / 9]),
    (lambda: D.Laplace(t(1.0, -1.0), t(0.5, 2.0)), [1.0, -1.0], [0.5, 8.0]),
    (lambda: D.Gamma(t(0.4, 3.0), t(2.0, 0.5)), [0.2, 6.0], [0.1, 12.0]),
    (lambda: D.Beta(t(2.0, 0.5), t(3.0, 0.5)), [0.4, 0.5], [0.04, 0.125]),
    (lambda: D.Poisson(t(0.7, 40.0)), [0.7, 40.0], [0.7, 40.0]),
    (lambda: D.Binomial(10, probs=t(0.3, 0.9)), [3.0, 9.0], [2.1, 0.9]),
    (lambda: D.Geometric(probs=t(0.3, 0.8)), [7 / 3, 0.25], [0.7 / 0.09, 0.2 / 0.64]),
    (lambda: D.StudentT(t(5.0, 8.0), t(1.0, 0.0), t(1.0, 2.0)), [1.0, 0.0], [5 / 3, 4 * 8 / 6]),
    (lambda: D.LogNormal(t(0.0, 0.5), t(0.25, 0.1)), [math.exp(0.25 ** 2 / 2), math.exp(0.5 + 0.005)],
     [math.expm1(0.0625) * math.exp(0.0625), math.expm1(0.01) * math.exp(1.01)]),
    (lambda: D.Categorical(probs=t(0.2, 0.5, 0.3)), 1.1, 0.49),
    (lambda: D.Chi2(t(3.0, 7.0)), [3.0, 7.0], [6.0, 14.0]),
    (lambda: D.HalfNormal(t(1.0, 2.0)), [math.sqrt(2 / math.pi), 2 * math.sqrt(2 / math.pi)],
     [1 - 2 / math.pi, 4 * (1 - 2 / math.pi)]),
    (lambda: D.Gumbel(t(0.0, 1.0), t(1.0, 0.5)), [0.5772156649, 1 + 0.5 * 0.5772156649],
     [math.pi ** 2 / 6, math.pi ** 2 / 24]),
    (lambda: D.Pareto(t(1.0, 2.0), t(5.0, 6.0)), [1.25, 2.4], [5 / 48, 4 * 6 / 100]),
    (lambda: D.Weibull(t(1.0, 2.0), t(2.0, 3.0)), [math.gamma(1.5), 2 * math.gamma(4 / 3)],
     [math.gamma(2) - math.gamma(1.5) ** 2, 4 * (math.gamma(5 / 3) - math.gamma(4 / 3) ** 2)]),
    (lambda: D.NegativeBinomial(t(3.0, 5.0), probs=t(0.4, 0.2)), [2.0, 1.25], [2.0 / 0.6, 1.25 / 0.8]),
    # mean l / (2l - 1) + 1 / log((1 - l) / l), variance l (l - 1) / (1 - 2l)^2 + 1 / log((1 - l) / l)^2
    # the linear variance E[(x - loc)^2] (no wrap-around at these concentrations), by quadrature
    (lambda: D.VonMises(t(0.5, -1.0), t(8.0, 20.0)), [0.5, -1.0], [0.1341741786, 0.0513238467]),
    (lambda: D.ContinuousBernoulli(probs=t(0.2, 0.5)), [0.2 / -0.6 + 1 / math.log(4), 0.5],
     [0.2 * -0.8 / 0.36 + 1 / math.log(4) ** 2, 1 / 12]),
    (lambda: D.InverseGamma(t(5.0, 7.0), t(2.0, 3.0)), [0.5, 0.5], [0.25 / 3, 0.25 / 5]),
    (lambda: D.Kumaraswamy(t(2.0, 0.5), t(3.0, 0.5)), [_kumaraswamy_moment(2, 3, 1), _kumaraswamy_moment(0.5, 0.5, 1)],
     [_kumaraswamy_moment(2, 3, 2) - _kumaraswamy_moment(2, 3, 1) ** 2,
      _kumaraswamy_moment(0.5, 0.5, 2) - _kumaraswamy_moment(0.5, 0.5, 1) ** 2]),
    (lambda: D.FisherSnedecor(t(5.0, 10.0), t(12.0, 20.0)), [1.2, 20 / 18],
     [2 * 144 * 15 / (5 * 100 * 8), 2 * 400 * 28 / (10 * 18 ** 2 * 16)]),
]


@pytest.mark.parametrize("index", range(len(MOMENTS)))
def test_sample_moments(index):
    make, mean, var = MOMENTS[index]
    deepdive.manual_seed(index)
    dist = make()
    x = dist.sample((N,)).numpy().astype(np.float64)
    mean, var = np.asarray(mean), np.asarray(var)
    # tolerance: 5 standard errors of the sample mean / variance (the latter from the empirical 4th moment)
    se_mean = np.sqrt(var / N)
    se_var = np.sqrt(np.maximum(((x - x.mean(0)) ** 4).mean(0) - x.var(0) ** 2, 1e-12) / N)
    np.testing.assert_array_less(np.abs(x.mean(0) - mean), 5 * se_mean + 1e-6)
    np.testing.assert_array_less(np.abs(x.var(0) - var), 5 * se_var + 1e-6)
    if dist.has_rsample:
        assert dist.rsample((3,)).shape == (3,) + tuple(dist.batch_shape)


def test_vector_sample_moments():
    deepdive.manual_seed(0)
    conc = t(1.0, 2.0, 5.0)
    x = D.Dirichlet(conc).sample((N,)).numpy()
    np.testing.assert_allclose(x.mean(0), [0.125, 0.25, 0.625], atol=0.01)
    np.testing.assert_allclose(x.sum(-1), 1.0, rtol=1e-5)
    cov = np.array([[2.0, 0.6], [0.6, 1.0]], np.float32)
    for kwargs in [{"covariance_matrix": deepdive.tensor(cov)},
                   {"precision_matrix": deepdive.tensor(np.linalg.inv(cov))},
                   {"scale_tril": deepdive.tensor(np.linalg.cholesky(cov))}]:
        x = D.MultivariateNormal(t(1.0, -1.0), **kwargs).sample((N,)).numpy()
        np.testing.assert_allclose(x.mean(0), [1.0, -1.0], atol=0.05)
        np.testing.assert_allclose(np.cov(x.T), cov, atol=0.06)
    x = D.LowRankMultivariateNormal(t(0.0, 0.0), deepdive.tensor(np.array([[1.0], [0.5]], np.float32)),
                                    t(0.5, 0.25)).sample((N,)).numpy()
    np.testing.assert_allclose(np.cov(x.T), [[1.5, 0.5], [0.5, 0.5]], atol=0.05)
    x = D.OneHotCategorical(probs=t(0.1, 0.6, 0.3)).sample((N,)).numpy()
    np.testing.assert_allclose(x.mean(0), [0.1, 0.6, 0.3], atol=0.01)
    assert set(np.unique(x.sum(-1))) == {1.0}
    mix = D.MixtureSameFamily(D.Categorical(probs=t(0.25, 0.75)), D.Normal(t(-2.0, 2.0), t(0.5, 0.5)))
    x = mix.sample((N,)).numpy()
    np.testing.assert_allclose(x.mean(), mix.mean.item(), atol=0.05)
    np.testing.assert_allclose(x.var(), mix.variance.item(), atol=0.1)
    cov = np.array([[2.0, 0.6], [0.6, 1.0]], np.float32)
    x = D.Wishart(deepdive.tensor(5.0), covariance_matrix=deepdive.tensor(cov)).sample((N,)).numpy()
    np.testing.assert_allclose(x.mean(0), 5 * cov, rtol=0.03)               # E[X] = df * Sigma
    relaxed = D.RelaxedOneHotCategorical(t(0.5), probs=t(0.2, 0.8)).rsample((N,)).numpy()
    np.testing.assert_allclose(relaxed.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose((relaxed.argmax(-1) == 1).mean(), 0.8, atol=0.01)   # Gumbel-max: argmax ~ probs
    x = D.RelaxedBernoulli(t(0.1), probs=t(0.3)).sample((N,)).numpy()
    assert ((x > 0) & (x < 1)).all()
    np.testing.assert_allclose((x > 0.5).mean(), 0.3, atol=0.01)


def test_manual_seed_reproduces_draws_and_generator_is_shared():
    dists = [D.Normal(t(0.0), t(1.0)), D.Gamma(t(0.5), t(1.0)), D.Categorical(probs=t(0.3, 0.7)),
             D.Poisson(t(3.0)), D.Dirichlet(t(1.0, 2.0))]
    deepdive.manual_seed(123)
    first = [d.sample((5,)).numpy() for d in dists]
    deepdive.manual_seed(123)
    second = [d.sample((5,)).numpy() for d in dists]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    deepdive.manual_seed(123)
    draw = D.Normal(0.0, 1.0).sample((4,))
    deepdive.manual_seed(123)
    np.testing.assert_array_equal(draw.numpy(), deepdive.randn(4).numpy())     # the same stream as randn


@pytest.mark.parametrize("name", ["Normal", "Uniform", "Laplace", "Cauchy", "Exponential", "LogNormal", "MVN",
                                  "LowRankMVN", "TanhNormal", "RelaxedBernoulli", "RelaxedOneHot"])
def test_gradcheck_through_rsample(name):
    """rsample with a fixed seed is a smooth function of the parameters: central differences agree."""
    rng = np.random.default_rng(0)
    loc, scale = rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)
    a = rng.standard_normal((3, 3))
    cov = a @ a.T + 3 * np.eye(3)
    makers = {
        "Normal": (lambda m, s: D.Normal(m, s), [loc, scale]),
        "Uniform": (lambda m, s: D.Uniform(m, m + s), [loc, scale]),
        "Laplace": (lambda m, s: D.Laplace(m, s), [loc, scale]),
        "Cauchy": (lambda m, s: D.Cauchy(m, s), [loc, scale]),
        "Exponential": (lambda s: D.Exponential(s), [scale]),
        "LogNormal": (lambda m, s: D.LogNormal(m, s), [loc, scale]),
        "MVN": (lambda m, c: D.MultivariateNormal(m, covariance_matrix=(c + c.mT) / 2, validate_args=False),
                [loc, cov]),
        "LowRankMVN": (lambda m, w, d: D.LowRankMultivariateNormal(m, w, d), [loc, rng.standard_normal((3, 2)), scale]),
        "TanhNormal": (lambda m, s: D.TransformedDistribution(D.Normal(m, s), [D.TanhTransform(cache_size=1)]),
                       [loc, scale]),
        "RelaxedBernoulli": (lambda p: D.RelaxedBernoulli(deepdive.tensor(0.5, dtype=deepdive.float64), probs=p),
                             [rng.uniform(0.2, 0.8, 3)]),
        "RelaxedOneHot": (lambda q: D.RelaxedOneHotCategorical(deepdive.tensor(0.5, dtype=deepdive.float64), logits=q),
                          [rng.standard_normal(4)]),
    }
    make, arrays = makers[name]

    def draw(*params):
        deepdive.manual_seed(7)
        return make(*params).rsample((2,))

    gradcheck(draw, *arrays)


def test_rsample_gradient_reaches_parameters_and_sample_does_not():
    loc = deepdive.zeros(3, requires_grad=True)
    scale = deepdive.ones(3, requires_grad=True)
    d = D.Normal(loc, scale)
    assert not d.sample().requires_grad
    d.rsample((10,)).sum().backward()
    np.testing.assert_allclose(loc.grad.numpy(), 10.0)
    assert scale.grad is not None


def test_gamma_implicit_reparameterisation_matches_torch():
    """dx/dalpha for x ~ Gamma(alpha, 1) against torch._standard_gamma_grad at the same draws."""
    torch = require_torch()
    deepdive.manual_seed(0)
    alpha = deepdive.tensor(np.array([0.3, 0.9, 1.0, 2.5, 7.0, 30.0] * 50, np.float64), requires_grad=True)
    x = D.Gamma(alpha, 1.0).rsample()
    x.sum().backward()
    expected = torch._standard_gamma_grad(torch.tensor(alpha.detach().numpy()),
                                          torch.tensor(x.detach().numpy())).numpy()
    np.testing.assert_allclose(alpha.grad.numpy(), expected, rtol=2e-3, atol=1e-5)
    # and the estimator is unbiased: d E[x] / d alpha = 1 for Gamma(alpha, 1)
    deepdive.manual_seed(1)
    a = deepdive.tensor([1.7], requires_grad=True)
    D.Gamma(a, 1.0).rsample((N,)).mean().backward()
    assert abs(a.grad.item() - 1.0) < 0.03


def test_dirichlet_and_beta_rsample_gradients_are_unbiased():
    deepdive.manual_seed(2)
    conc = deepdive.tensor([1.0, 2.0, 3.0], dtype=deepdive.float64, requires_grad=True)
    D.Dirichlet(conc).rsample((N,))[:, 0].mean().backward()
    # d/d a_j of E[x_0] = a_0 / a_sum
    np.testing.assert_allclose(conc.grad.numpy(), [5 / 36, -1 / 36, -1 / 36], atol=0.01)
    a = deepdive.tensor(2.0, requires_grad=True)
    D.Beta(a, 3.0).rsample((N,)).mean().backward()
    assert abs(a.grad.item() - 3 / 25) < 0.01


# ---------------------------------------------------------------- validate_args
def _first_line(error):
    return str(error).splitlines()[0].replace("torch.Size", "Size").replace("deepdive.Size", "Size")


def _same_error(dd_call, torch_call, error=ValueError):
    with pytest.raises(error) as dd_error:
        dd_call()
    with pytest.raises(error) as torch_error:
        torch_call()
    assert _first_line(dd_error.value) == _first_line(torch_error.value)


@pytest.fixture
def validation_on():
    """Both libraries at their default (validate_args on), whatever an earlier test left."""
    torch = require_torch()
    before = torch.distributions.Distribution._validate_args, D.Distribution._validate_args
    torch.distributions.Distribution.set_default_validate_args(True)
    D.Distribution.set_default_validate_args(True)
    yield torch
    torch.distributions.Distribution.set_default_validate_args(before[0])
    D.Distribution.set_default_validate_args(before[1])


def test_validate_args_errors_match_torch(validation_on):
    torch = validation_on
    T = torch.distributions
    dd, tt = deepdive.tensor, torch.tensor
    _same_error(lambda: D.Normal(dd([0.0, 1.0]), dd([1.0, -1.0])), lambda: T.Normal(tt([0.0, 1.0]), tt([1.0, -1.0])))
    _same_error(lambda: D.Normal(0.0, -1.0), lambda: T.Normal(0.0, -1.0))
    _same_error(lambda: D.Bernoulli(probs=dd([1.5])), lambda: T.Bernoulli(probs=tt([1.5])))
    _same_error(lambda: D.Categorical(probs=dd([0.2, -0.1])), lambda: T.Categorical(probs=tt([0.2, -0.1])))
    _same_error(lambda: D.Categorical(), lambda: T.Categorical())
    _same_error(lambda: D.Categorical(probs=dd(0.5)), lambda: T.Categorical(probs=tt(0.5)))
    _same_error(lambda: D.Uniform(1.0, 0.0), lambda: T.Uniform(1.0, 0.0))
    _same_error(lambda: D.Gamma(dd([-1.0]), dd([1.0])), lambda: T.Gamma(tt([-1.0]), tt([1.0])))
    _same_error(lambda: D.Dirichlet(dd(1.0)), lambda: T.Dirichlet(tt(1.0)))
    _same_error(lambda: D.MultivariateNormal(dd([0.0, 0.0])), lambda: T.MultivariateNormal(tt([0.0, 0.0])))
    _same_error(lambda: D.MultivariateNormal(dd([0.0, 0.0]), scale_tril=dd([[1.0, 1.0], [0.0, 1.0]])),
                lambda: T.MultivariateNormal(tt([0.0, 0.0]), scale_tril=tt([[1.0, 1.0], [0.0, 1.0]])))
    _same_error(lambda: D.Independent(D.Normal(0.0, 1.0), 1), lambda: T.Independent(T.Normal(0.0, 1.0), 1))
    # samples outside the support, wrong shapes, non-tensors
    _same_error(lambda: D.Exponential(dd([1.0])).log_prob(dd([-1.0])),
                lambda: T.Exponential(tt([1.0])).log_prob(tt([-1.0])))
    _same_error(lambda: D.Categorical(probs=dd([0.5, 0.5])).log_prob(dd(2)),
                lambda: T.Categorical(probs=tt([0.5, 0.5])).log_prob(tt(2)))
    _same_error(lambda: D.Normal(dd([0.0, 0.0]), dd([1.0, 1.0])).log_prob(dd([1.0, 2.0, 3.0])),
                lambda: T.Normal(tt([0.0, 0.0]), tt([1.0, 1.0])).log_prob(tt([1.0, 2.0, 3.0])))
    _same_error(lambda: D.Dirichlet(dd([1.0, 1.0])).log_prob(dd([0.2, 0.2, 0.6])),
                lambda: T.Dirichlet(tt([1.0, 1.0])).log_prob(tt([0.2, 0.2, 0.6])))
    _same_error(lambda: D.Normal(0.0, 1.0).log_prob(0.5), lambda: T.Normal(0.0, 1.0).log_prob(0.5))
    _same_error(lambda: D.Poisson(dd([1.0])).log_prob(dd([0.5])), lambda: T.Poisson(tt([1.0])).log_prob(tt([0.5])))


def test_validate_args_can_be_turned_off():
    d = D.Normal(deepdive.tensor([0.0]), deepdive.tensor([-1.0]), validate_args=False)
    assert np.isnan(d.log_prob(deepdive.tensor([0.0])).numpy()).all()
    D.Distribution.set_default_validate_args(False)
    try:
        D.Bernoulli(probs=deepdive.tensor([2.0]))
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Bernoulli(probs=deepdive.tensor([2.0]))


def test_constraints_check_like_torch():
    torch = require_torch()
    from deepdive.distributions import constraints as C
    TC = torch.distributions.constraints
    x = np.array([[-1.0, 0.0, 0.5], [1.0, 2.0, np.nan]], np.float32)
    for name in ["real", "positive", "nonnegative", "unit_interval", "boolean", "nonnegative_integer"]:
        np.testing.assert_array_equal(getattr(C, name).check(deepdive.tensor(x)).numpy(),
                                      getattr(TC, name).check(torch.tensor(x)).numpy(), err_msg=name)
    s = np.array([[0.2, 0.8], [0.5, 0.6]], np.float32)
    np.testing.assert_array_equal(C.simplex.check(deepdive.tensor(s)).numpy(),
                                  TC.simplex.check(torch.tensor(s)).numpy())
    m = np.array([[[1.0, 0.0], [0.3, 2.0]], [[1.0, 0.1], [0.3, 2.0]], [[-1.0, 0.0], [0.3, 2.0]]], np.float32)
    for name in ["lower_cholesky", "lower_triangular"]:
        np.testing.assert_array_equal(getattr(C, name).check(deepdive.tensor(m)).numpy(),
                                      getattr(TC, name).check(torch.tensor(m)).numpy(), err_msg=name)
    spd = np.array([[[2.0, 0.5], [0.5, 1.0]], [[1.0, 2.0], [2.0, 1.0]]], np.float32)
    np.testing.assert_array_equal(C.positive_definite.check(deepdive.tensor(spd)).numpy(),
                                  TC.positive_definite.check(torch.tensor(spd)).numpy())
    assert repr(C.interval(0.0, 1.0)) == repr(TC.interval(0.0, 1.0))
    assert repr(C.positive) == repr(TC.positive) and repr(C.real) == repr(TC.real)
    assert C.independent(C.real, 1).event_dim == 1 and C.simplex.event_dim == 1
    assert D.Normal.arg_constraints.keys() == torch.distributions.Normal.arg_constraints.keys()
    assert D.Categorical(probs=deepdive.tensor([0.5, 0.5])).support.upper_bound == 1


def _stream_cases(torch):
    p = np.array([0.2, 0.5, 0.3], np.float32)
    eye = np.eye(3, dtype=np.float32)

    def pair(name, *args, method="sample", **kwargs):
        def build(module, to_tensor):
            return getattr(module, name)(*[to_tensor(a) for a in args], **{k: to_tensor(v) for k, v in kwargs.items()})
        return name, method, lambda: build(D, deepdive.tensor), lambda: build(torch.distributions, torch.tensor)

    exact = [pair("Uniform", p * 0, p + 1, method="rsample"), pair("Bernoulli", probs=p), pair("Categorical", probs=p),
             pair("OneHotCategorical", probs=p), pair("Normal", p, p), pair("Normal", p, p, method="rsample"),
             pair("Poisson", p * 10), pair("Exponential", p, method="rsample"), pair("Cauchy", p, p, method="rsample"),
             pair("Geometric", probs=p), pair("HalfNormal", p, method="rsample"),
             pair("MultivariateNormal", p, eye, method="rsample"),
             pair("LowRankMultivariateNormal", p, eye[:, :1], p, method="rsample")]
    # the same uniform / normal draws, then log / exp / pow: NumPy and PyTorch round those within an ulp or two
    close = [pair("Laplace", p, p, method="rsample"), pair("Gumbel", p, p), pair("LogNormal", p, p, method="rsample"),
             pair("Pareto", p, p + 1, method="rsample"), pair("Weibull", p + 1, p + 1, method="rsample"),
             pair("Kumaraswamy", p + 1, p + 1, method="rsample"),
             pair("ContinuousBernoulli", probs=p, method="rsample")]
    return exact, close


def test_seeded_draws_are_pytorchs():
    """deepdive's generator reproduces PyTorch's streams, and the families draw through the same calls as
    torch.distributions (rand, normal_, multinomial, bernoulli, poisson, exponential_, cauchy_, uniform_), so the
    same seed gives PyTorch's samples."""
    torch = require_torch()
    exact, close = _stream_cases(torch)
    for cases, rtol in ((exact, 0), (close, 1e-5)):
        for name, method, make_dd, make_torch in cases:
            deepdive.manual_seed(3)
            ours = getattr(make_dd(), method)((4,)).detach().numpy()
            torch.manual_seed(3)
            theirs = getattr(make_torch(), method)((4,)).detach().numpy()
            np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=0, err_msg=f"{name}.{method}")
