"""Transforms, TransformedDistribution and kl_divergence against torch.distributions (values and gradients)."""
import numpy as np
import pytest

import deepdive
import deepdive.distributions as D
from deepdive.distributions import transforms as DT
from parity import check_parity, gradcheck, require_torch

rng = np.random.default_rng(1)


def real(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def positive(*shape):
    return rng.uniform(0.5, 2.0, shape).astype(np.float32)


def unit(*shape):
    return rng.uniform(0.1, 0.9, shape).astype(np.float32)


# name -> (constructor args from a module, forward input builder)
TRANSFORMS = {
    "ExpTransform": (lambda m: m.ExpTransform(), lambda: real(2, 3)),
    "SigmoidTransform": (lambda m: m.SigmoidTransform(), lambda: real(2, 3)),
    "TanhTransform": (lambda m: m.TanhTransform(), lambda: real(2, 3)),
    "SoftplusTransform": (lambda m: m.SoftplusTransform(), lambda: real(2, 3)),
    "AffineTransform": (lambda m: m.AffineTransform(1.5, -2.0), lambda: real(2, 3)),
    "AffineTransform-event": (lambda m: m.AffineTransform(0.5, 3.0, event_dim=1), lambda: real(2, 3)),
    "PowerTransform": (lambda m: m.PowerTransform(2.5), lambda: positive(2, 3)),
    "StickBreakingTransform": (lambda m: m.StickBreakingTransform(), lambda: real(2, 3)),
    "SoftmaxTransform": (lambda m: m.SoftmaxTransform(), lambda: real(2, 3)),
    "LowerCholeskyTransform": (lambda m: m.LowerCholeskyTransform(), lambda: real(2, 3, 3)),
    "Compose": (lambda m: m.ComposeTransform([m.AffineTransform(0.3, 2.0), m.TanhTransform(),
                                              m.AffineTransform(1.0, 0.5)]), lambda: real(2, 3)),
    "Independent": (lambda m: m.IndependentTransform(m.ExpTransform(), 1), lambda: real(2, 3)),
    "Reshape": (lambda m: m.ReshapeTransform((2, 3), (6,)), lambda: real(4, 2, 3)),
    "Inverse": (lambda m: m.ExpTransform().inv, lambda: positive(2, 3)),
    "Cat": (lambda m: m.CatTransform([m.ExpTransform(), m.AffineTransform(1.0, 2.0)], dim=1, lengths=[1, 2]),
            lambda: real(2, 3)),
    "Stack": (lambda m: m.StackTransform([m.ExpTransform(), m.SigmoidTransform(), m.TanhTransform()], dim=1),
              lambda: real(2, 3)),
    "CorrCholesky": (lambda m: m.CorrCholeskyTransform(), lambda: real(2, 6)),
    "PositiveDefinite": (lambda m: m.PositiveDefiniteTransform(), lambda: real(2, 3, 3)),
    "CumulativeDistribution": (lambda m: m.CumulativeDistributionTransform(_cdf_base(m)), lambda: real(2, 3)),
}


def _cdf_base(transforms_module):
    """A Normal from the same library as ``transforms_module``."""
    import torch
    dists = D if transforms_module is DT else torch.distributions
    return dists.Normal(0.5, 2.0)


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_transform_parity(name):
    torch = require_torch()
    make, build = TRANSFORMS[name]
    x = build()
    dd, tt = make(DT), make(torch.distributions.transforms)
    check_parity(lambda v: dd(v), lambda v: tt(v), [x], rtol=1e-4, atol=1e-5)
    y = tt(torch.tensor(x)).detach().numpy()
    if name not in ("SoftmaxTransform",):       # softmax's inverse is one of many preimages; both give log y
        check_parity(lambda v: dd.inv(v), lambda v: tt.inv(v), [y], rtol=1e-3, atol=1e-4)
    if name not in ("SoftmaxTransform", "LowerCholeskyTransform", "PositiveDefinite"):   # torch defines none there
        check_parity(lambda v: dd.log_abs_det_jacobian(v, dd(v)), lambda v: tt.log_abs_det_jacobian(v, tt(v)),
                     [x], rtol=1e-4, atol=1e-4)
    assert tuple(dd.forward_shape(x.shape)) == tuple(tt.forward_shape(torch.Size(x.shape)))
    assert dd.bijective == tt.bijective
    if name not in ("Cat", "Stack"):
        assert dd.domain.event_dim == tt.domain.event_dim and dd.codomain.event_dim == tt.codomain.event_dim


@pytest.mark.parametrize("name", ["TanhTransform", "SigmoidTransform", "StickBreakingTransform", "Compose"])
def test_transform_gradcheck(name):
    make, build = TRANSFORMS[name]
    transform = make(DT)
    gradcheck(lambda v: transform.log_abs_det_jacobian(v, transform(v)), build())
    gradcheck(lambda v: transform(v), build())


def test_tanh_cache_returns_the_pre_image():
    """SAC relies on it: with cache_size=1, log_prob(rsample) reuses x instead of atanh(y) (inf at |y| = 1)."""
    t = DT.TanhTransform(cache_size=1)
    x = deepdive.tensor([20.0, -30.0, 0.5])
    y = t(x)
    assert t.inv(y) is x
    assert np.isfinite(t.log_abs_det_jacobian(x, y).numpy()).all()


def test_transformed_distribution_sac_squashed_normal():
    torch = require_torch()
    loc, scale = real(4, 2), positive(4, 2)
    u = real(4, 2)

    def dd_fn(m, s):
        dist = D.TransformedDistribution(D.Normal(m, s), [DT.TanhTransform(cache_size=1)])
        action = dist.transforms[0](m + s * deepdive.tensor(u))       # the sample rsample would give with noise u
        return dist.log_prob(action).sum(-1), action

    def torch_fn(m, s):
        tanh = torch.distributions.transforms.TanhTransform(cache_size=1)
        dist = torch.distributions.TransformedDistribution(torch.distributions.Normal(m, s), [tanh])
        action = dist.transforms[0](m + s * torch.tensor(u))
        return dist.log_prob(action).sum(-1), action

    check_parity(dd_fn, torch_fn, [loc, scale], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("method", ["log_prob", "cdf", "icdf"])
def test_transformed_distribution_affine_sigmoid_compose(method):
    torch = require_torch()
    loc, scale = real(3), positive(3)
    value = unit(5, 3)

    def build(dists, tr, m, s):
        return dists.TransformedDistribution(dists.Normal(m, s), [tr.AffineTransform(0.5, -1.5), tr.SigmoidTransform()])

    arg = value if method != "icdf" else unit(5, 3)
    check_parity(lambda m, s, v: getattr(build(D, DT, m, s), method)(v),
                 lambda m, s, v: getattr(build(torch.distributions, torch.distributions.transforms, m, s), method)(v),
                 [loc, scale, (arg, False)], rtol=1e-4, atol=1e-4)


def test_transformed_distribution_shapes_with_event_changing_transforms():
    torch = require_torch()
    loc, scale = real(2, 3), positive(2, 3)
    d = D.TransformedDistribution(D.Normal(deepdive.tensor(loc), deepdive.tensor(scale)), DT.StickBreakingTransform())
    t = torch.distributions.TransformedDistribution(torch.distributions.Normal(torch.tensor(loc), torch.tensor(scale)),
                                                     torch.distributions.transforms.StickBreakingTransform())
    assert tuple(d.batch_shape) == tuple(t.batch_shape) and tuple(d.event_shape) == tuple(t.event_shape)
    value = t.sample((4,))
    np.testing.assert_allclose(d.log_prob(deepdive.tensor(value.numpy())).numpy(), t.log_prob(value).numpy(),
                               rtol=1e-4, atol=1e-4)
    assert d.sample((4,)).shape == (4, 2, 4)


def test_log_normal_is_a_transformed_normal():
    torch = require_torch()
    check_parity(lambda m, s, v: D.LogNormal(m, s).log_prob(v),
                 lambda m, s, v: torch.distributions.LogNormal(m, s).log_prob(v),
                 [real(3), positive(3), (positive(3), False)])
    assert isinstance(D.LogNormal(0.0, 1.0), D.TransformedDistribution)


# --------------------------------------------------------------------------- KL
def _pairs(torch):
    """(name, factory(module, *arrays), arrays) for each closed-form KL pair that is tested."""
    tdist = torch.distributions
    spd = rng.standard_normal((2, 3, 3))
    spd = (spd @ np.swapaxes(spd, -1, -2) + 3 * np.eye(3)).astype(np.float32)
    spd2 = rng.standard_normal((2, 3, 3))
    spd2 = (spd2 @ np.swapaxes(spd2, -1, -2) + 3 * np.eye(3)).astype(np.float32)
    return [
        ("Normal-Normal", lambda m, a, b, c, d: (m.Normal(a, b), m.Normal(c, d)), [real(3), positive(3), real(3),
                                                                                   positive(3)]),
        ("Categorical", lambda m, a, b: (m.Categorical(logits=a), m.Categorical(logits=b)), [real(2, 4), real(2, 4)]),
        ("Bernoulli", lambda m, a, b: (m.Bernoulli(probs=a), m.Bernoulli(probs=b)), [unit(3), unit(3)]),
        ("Uniform", lambda m, a, b: (m.Uniform(a, a + 1), m.Uniform(b - 3, b + 3)), [real(3), real(3)]),
        ("Beta", lambda m, a, b, c, d: (m.Beta(a, b), m.Beta(c, d)), [positive(3) for _ in range(4)]),
        ("Gamma", lambda m, a, b, c, d: (m.Gamma(a, b), m.Gamma(c, d)), [positive(3) for _ in range(4)]),
        ("Dirichlet", lambda m, a, b: (m.Dirichlet(a), m.Dirichlet(b)), [positive(2, 4), positive(2, 4)]),
        ("Exponential", lambda m, a, b: (m.Exponential(a), m.Exponential(b)), [positive(3), positive(3)]),
        ("Laplace", lambda m, a, b, c, d: (m.Laplace(a, b), m.Laplace(c, d)), [real(3), positive(3), real(3),
                                                                              positive(3)]),
        ("Poisson", lambda m, a, b: (m.Poisson(a), m.Poisson(b)), [positive(3), positive(3)]),
        ("Geometric", lambda m, a, b: (m.Geometric(probs=a), m.Geometric(probs=b)), [unit(3), unit(3)]),
        ("Binomial", lambda m, a, b: (m.Binomial(5, probs=a), m.Binomial(5, probs=b)), [unit(3), unit(3)]),
        ("Cauchy", lambda m, a, b, c, d: (m.Cauchy(a, b), m.Cauchy(c, d)), [real(3), positive(3), real(3),
                                                                           positive(3)]),
        ("OneHotCategorical", lambda m, a, b: (m.OneHotCategorical(logits=a), m.OneHotCategorical(logits=b)),
         [real(2, 4), real(2, 4)]),
        ("Independent", lambda m, a, b, c, d: (m.Independent(m.Normal(a, b), 1), m.Independent(m.Normal(c, d), 1)),
         [real(2, 3), positive(2, 3), real(2, 3), positive(2, 3)]),
        ("MVN-MVN", lambda m, a, b, c, d: (m.MultivariateNormal(a, covariance_matrix=b),
                                           m.MultivariateNormal(c, covariance_matrix=d)), [real(2, 3), spd, real(3),
                                                                                          spd2]),
        ("LowRank-LowRank", lambda m, a, b, c, d, e, f: (m.LowRankMultivariateNormal(a, b, c),
                                                         m.LowRankMultivariateNormal(d, e, f)),
         [real(3), real(3, 2), positive(3), real(3), real(3, 2), positive(3)]),
        ("MVN-LowRank", lambda m, a, b, c, d, e: (m.MultivariateNormal(a, covariance_matrix=b),
                                                  m.LowRankMultivariateNormal(c, d, e)),
         [real(3), spd[0], real(3), real(3, 2), positive(3)]),
        ("LowRank-MVN", lambda m, a, b, c, d, e: (m.LowRankMultivariateNormal(a, b, c),
                                                  m.MultivariateNormal(d, covariance_matrix=e)),
         [real(3), real(3, 2), positive(3), real(3), spd[0]]),
        ("Transformed", lambda m, a, b, c, d: (m.LogNormal(a, b), m.LogNormal(c, d)),
         [real(3), positive(3), real(3), positive(3)]),
        ("Normal-Laplace", lambda m, a, b, c, d: (m.Normal(a, b), m.Laplace(c, d)), [real(3), positive(3), real(3),
                                                                                     positive(3)]),
        ("Laplace-Normal", lambda m, a, b, c, d: (m.Laplace(a, b), m.Normal(c, d)), [real(3), positive(3), real(3),
                                                                                     positive(3)]),
        ("Gamma-Normal", lambda m, a, b, c, d: (m.Gamma(a, b), m.Normal(c, d)), [positive(3), positive(3), real(3),
                                                                                 positive(3)]),
        ("Gamma-Exponential", lambda m, a, b, c: (m.Gamma(a, b), m.Exponential(c)), [positive(3) for _ in range(3)]),
        ("Exponential-Gamma", lambda m, a, b, c: (m.Exponential(a), m.Gamma(b, c)), [positive(3) for _ in range(3)]),
        ("Exponential-Normal", lambda m, a, b, c: (m.Exponential(a), m.Normal(b, c)), [positive(3), real(3),
                                                                                       positive(3)]),
        ("Beta-Normal", lambda m, a, b, c, d: (m.Beta(a, b), m.Normal(c, d)), [positive(3), positive(3), real(3),
                                                                               positive(3)]),
        ("Beta-Gamma", lambda m, a, b, c, d: (m.Beta(a, b), m.Gamma(c, d)), [positive(3) for _ in range(4)]),
        ("Beta-Exponential", lambda m, a, b, c: (m.Beta(a, b), m.Exponential(c)), [positive(3) for _ in range(3)]),
        ("Uniform-Normal", lambda m, a, b, c: (m.Uniform(a, a + 1), m.Normal(b, c)), [real(3), real(3), positive(3)]),
        ("Uniform-Gamma", lambda m, a, b, c: (m.Uniform(a, a + 1), m.Gamma(b, c)), [positive(3), positive(3),
                                                                                    positive(3)]),
        ("Uniform-Exponential", lambda m, a, b: (m.Uniform(a, a + 1), m.Exponential(b)), [positive(3), positive(3)]),
        ("Uniform-Beta", lambda m, a, b: (m.Uniform(a * 0.4, a * 0.4 + 0.5), m.Beta(b, b + 1)), [unit(3),
                                                                                                 positive(3)]),
        ("Bernoulli-Poisson", lambda m, a, b: (m.Bernoulli(probs=a), m.Poisson(b)), [unit(3), positive(3)]),
        ("Gumbel", lambda m, a, b, c, d: (m.Gumbel(a, b), m.Gumbel(c, d)), [real(3), positive(3), real(3),
                                                                           positive(3)]),
        ("HalfNormal", lambda m, a, b: (m.HalfNormal(a), m.HalfNormal(b)), [positive(3), positive(3)]),
        ("Pareto", lambda m, a, b, c, d: (m.Pareto(a, b), m.Pareto(c, d)), [positive(3) + 1, positive(3),
                                                                           positive(3) * 0.3, positive(3)]),
        ("ContinuousBernoulli", lambda m, a, b: (m.ContinuousBernoulli(probs=a), m.ContinuousBernoulli(probs=b)),
         [unit(3), unit(3)]),
        ("Normal-Uniform (inf)", lambda m, a, b, c: (m.Normal(a, b), m.Uniform(c, c + 1)), [real(3), positive(3),
                                                                                            real(3)]),
    ]


def test_kl_divergence_parity_values_and_gradients():
    torch = require_torch()
    for name, factory, arrays in _pairs(torch):
        def dd_fn(*a):
            return D.kl_divergence(*factory(D, *a))

        def torch_fn(*a):
            return torch.distributions.kl_divergence(*factory(torch.distributions, *a))

        try:
            check_parity(dd_fn, torch_fn, arrays, rtol=2e-4, atol=2e-4)
        except AssertionError as e:
            raise AssertionError(f"KL {name}: {e}") from None


def test_kl_infinite_where_torch_is():
    torch = require_torch()
    low, high = np.array([0.0, -1.0], np.float32), np.array([1.0, 2.0], np.float32)
    p = D.Uniform(deepdive.tensor(low), deepdive.tensor(high))
    q = D.Uniform(deepdive.tensor(low + 0.5), deepdive.tensor(high))
    tp = torch.distributions.Uniform(torch.tensor(low), torch.tensor(high))
    tq = torch.distributions.Uniform(torch.tensor(low + 0.5), torch.tensor(high))
    np.testing.assert_array_equal(D.kl_divergence(p, q).numpy(), torch.distributions.kl_divergence(tp, tq).numpy())
    probs = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]], np.float32)
    other = np.array([[0.5, 0.0, 0.5], [0.2, 0.3, 0.5]], np.float32)
    np.testing.assert_allclose(
        D.kl_divergence(D.Categorical(deepdive.tensor(probs)), D.Categorical(deepdive.tensor(other))).numpy(),
        torch.distributions.kl_divergence(torch.distributions.Categorical(torch.tensor(probs)),
                                          torch.distributions.Categorical(torch.tensor(other))).numpy())


def test_kl_gradcheck_normal_and_mvn():
    gradcheck(lambda a, b, c, d: D.kl_divergence(D.Normal(a, b), D.Normal(c, d)),
              rng.standard_normal(3), rng.uniform(0.5, 2, 3), rng.standard_normal(3), rng.uniform(0.5, 2, 3))
    a = rng.standard_normal((3, 3))
    cov = a @ a.T + 3 * np.eye(3)
    q = D.MultivariateNormal(deepdive.zeros(3, dtype=deepdive.float64), covariance_matrix=deepdive.tensor(cov))
    gradcheck(lambda m, s: D.kl_divergence(D.MultivariateNormal(m, scale_tril=s, validate_args=False), q),
              rng.standard_normal(3), np.linalg.cholesky(cov))


def test_register_kl_and_missing_pair():
    class MyNormal(D.Normal):
        pass

    @D.register_kl(MyNormal, MyNormal)
    def _kl(p, q):
        return deepdive.zeros(p.batch_shape)

    p = MyNormal(deepdive.zeros(2), deepdive.ones(2))
    assert np.all(D.kl_divergence(p, p).numpy() == 0)
    q = D.Normal(deepdive.ones(2), deepdive.ones(2))
    np.testing.assert_allclose(D.kl_divergence(p, q).numpy(), 0.5)          # falls back to Normal-Normal
    with pytest.raises(NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented for p type Laplace and q "
                                                  "type Poisson"):
        D.kl_divergence(D.Laplace(deepdive.zeros(2), deepdive.ones(2)), D.Poisson(deepdive.ones(2)))
    with pytest.raises(NotImplementedError, match="cross KL-divergence between different exponential families"):
        D.kl_divergence(D.Poisson(deepdive.ones(2)), q)           # both exponential families: PyTorch's message
    with pytest.raises(TypeError, match="Expected type_p to be a Distribution subclass"):
        D.register_kl(int, D.Normal)


def test_biject_to_and_transform_to_match_torch():
    torch = require_torch()
    C, TC = D.constraints, torch.distributions.constraints
    pairs = [(C.real, TC.real), (C.positive, TC.positive), (C.greater_than(1.5), TC.greater_than(1.5)),
             (C.less_than(-2.0), TC.less_than(-2.0)), (C.interval(-1.0, 3.0), TC.interval(-1.0, 3.0)),
             (C.unit_interval, TC.unit_interval), (C.simplex, TC.simplex), (C.real_vector, TC.real_vector),
             (C.independent(C.positive, 1), TC.independent(TC.positive, 1))]
    x = real(2, 3)
    for dd_c, torch_c in pairs:
        for registry in ("biject_to", "transform_to"):
            dd_t, torch_t = getattr(D, registry)(dd_c), getattr(torch.distributions, registry)(torch_c)
            check_parity(lambda v: dd_t(v), lambda v: torch_t(v), [x], rtol=1e-4, atol=1e-5)
            y = dd_t(deepdive.tensor(x))
            assert bool(dd_c.check(y).all()), (registry, dd_c)
            if registry == "biject_to":
                check_parity(lambda v: dd_t.log_abs_det_jacobian(v, dd_t(v)),
                             lambda v: torch_t.log_abs_det_jacobian(v, torch_t(v)), [x], rtol=1e-4, atol=1e-5)
    check_parity(lambda v: D.transform_to(C.lower_cholesky)(v), lambda v: torch.distributions.transform_to(
        TC.lower_cholesky)(v), [real(2, 3, 3)])
    with pytest.raises(NotImplementedError, match="Cannot transform _Boolean constraints"):
        D.biject_to(C.boolean)


def _family_factories():
    """family name -> (arrays, factory(module, *arrays)); supports chosen so that most pairs are finite."""
    spd = rng.standard_normal((3, 3))
    spd = (spd @ spd.T + 3 * np.eye(3)).astype(np.float32)
    return {
        "Bernoulli": ([unit(3)], lambda m, a: m.Bernoulli(probs=a)),
        "Beta": ([positive(3), positive(3)], lambda m, a, b: m.Beta(a, b)),
        "Binomial": ([unit(3)], lambda m, a: m.Binomial(5, probs=a)),
        "Categorical": ([real(3, 4)], lambda m, a: m.Categorical(logits=a)),
        "Cauchy": ([real(3), positive(3)], lambda m, a, b: m.Cauchy(a, b)),
        "ContinuousBernoulli": ([unit(3)], lambda m, a: m.ContinuousBernoulli(probs=a)),
        "Dirichlet": ([positive(3, 4)], lambda m, a: m.Dirichlet(a)),
        "Exponential": ([positive(3)], lambda m, a: m.Exponential(a)),
        "Gamma": ([positive(3), positive(3)], lambda m, a, b: m.Gamma(a, b)),
        "Geometric": ([unit(3)], lambda m, a: m.Geometric(probs=a)),
        "Gumbel": ([real(3), positive(3)], lambda m, a, b: m.Gumbel(a, b)),
        "HalfNormal": ([positive(3)], lambda m, a: m.HalfNormal(a)),
        "Laplace": ([real(3), positive(3)], lambda m, a, b: m.Laplace(a, b)),
        "LowRankMultivariateNormal": ([real(3), real(3, 2), positive(3)],
                                      lambda m, a, b, c: m.LowRankMultivariateNormal(a, b, c)),
        "MultivariateNormal": ([real(3), spd], lambda m, a, b: m.MultivariateNormal(a, covariance_matrix=b)),
        "Normal": ([real(3), positive(3)], lambda m, a, b: m.Normal(a, b)),
        "OneHotCategorical": ([real(3, 4)], lambda m, a: m.OneHotCategorical(logits=a)),
        "Pareto": ([positive(3) * 0.2, positive(3) + 2.5], lambda m, a, b: m.Pareto(a, b)),
        "Poisson": ([positive(3)], lambda m, a: m.Poisson(a)),
        "Uniform": ([rng.uniform(0.2, 0.4, 3).astype(np.float32), rng.uniform(0.6, 0.8, 3).astype(np.float32)],
                    lambda m, a, b: m.Uniform(a, b)),
    }


# NOTE: pairs whose KL is +inf make the helper's scalar loss sum(inf * w) = nan (NumPy warns); the
# gradients compared are unaffected (the inf entries are constants in both libraries).
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_every_kl_pair_torch_registers_matches_torch():
    """Each (p, q) type pair in torch.distributions.kl's registry: the same rule exists here and gives the same
    values and gradients (inf where torch gives inf)."""
    torch = require_torch()
    from deepdive.distributions import kl as dd_kl
    families = _family_factories()
    registered = {(a.__name__, b.__name__) for a, b in dd_kl._KL_REGISTRY}
    checked = 0
    for type_p, type_q in torch.distributions.kl._KL_REGISTRY:
        pair = (type_p.__name__, type_q.__name__)
        assert pair in registered, pair
        if pair[0] not in families or pair[1] not in families:
            continue            # ExponentialFamily, Independent, TransformedDistribution: tested on their own
        (p_arrays, make_p), (q_arrays, make_q) = families[pair[0]], families[pair[1]]
        n = len(p_arrays)

        def dd_fn(*a):
            return D.kl_divergence(make_p(D, *a[:n]), make_q(D, *a[n:]))

        def torch_fn(*a):
            return torch.distributions.kl_divergence(make_p(torch.distributions, *a[:n]),
                                                     make_q(torch.distributions, *a[n:]))

        try:
            check_parity(dd_fn, torch_fn, p_arrays + q_arrays, rtol=2e-4, atol=2e-4)
        except (AssertionError, NotImplementedError) as e:
            raise AssertionError(f"KL{pair}: {e}") from None
        checked += 1
    assert checked >= 70
