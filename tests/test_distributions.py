"""deepdive.distributions against torch.distributions: log_prob, entropy, cdf/icdf, mean/mode/variance/stddev
and their gradients w.r.t. the parameters, over batch and event shapes (one shared parity helper)."""
import numpy as np
import pytest

import deepdive
import deepdive.distributions as D
from parity import check_parity, require_torch

rng = np.random.default_rng(0)


def real(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def positive(*shape):
    return rng.uniform(0.5, 2.0, shape).astype(np.float32)


def unit(*shape):
    return rng.uniform(0.1, 0.9, shape).astype(np.float32)


def counts(*shape, high=5):
    return rng.integers(0, high, shape).astype(np.float32)


def simplex(*shape):
    p = rng.uniform(0.1, 1.0, shape)
    return (p / p.sum(-1, keepdims=True)).astype(np.float32)


# name -> (parameter arrays, value array, keyword names or None for positional). Batch shape (3,) or (2, 3),
# values carry an extra sample dim so that broadcasting of value against batch is covered too.
SCALAR_FAMILIES = {
    "Normal": lambda: ([real(2, 3), positive(2, 3)], real(4, 2, 3)),
    "Laplace": lambda: ([real(3), positive(3)], real(4, 3)),
    "Cauchy": lambda: ([real(3), positive(3)], real(4, 3)),
    "LogNormal": lambda: ([real(3), positive(3)], positive(4, 3)),
    "StudentT": lambda: ([positive(3) + 2, real(3), positive(3)], real(4, 3)),
    "Exponential": lambda: ([positive(2, 3)], positive(4, 2, 3)),
    "Gamma": lambda: ([positive(3), positive(3)], positive(4, 3)),
    "Chi2": lambda: ([positive(3) * 3], positive(4, 3)),
    "Beta": lambda: ([positive(3), positive(3)], unit(4, 3)),
    "Uniform": lambda: ([real(3) - 3, real(3) + 3], rng.uniform(-0.5, 0.5, (4, 3)).astype(np.float32)),
    "Poisson": lambda: ([positive(3)], counts(4, 3)),
    "HalfNormal": lambda: ([positive(3)], positive(4, 3)),
    "HalfCauchy": lambda: ([positive(3)], positive(4, 3)),
    "Gumbel": lambda: ([real(3), positive(3)], real(4, 3)),
    "Pareto": lambda: ([positive(3) * 0.5, positive(3) + 2], positive(4, 3) + 1),
    "Weibull": lambda: ([positive(3), positive(3) + 1], positive(4, 3)),
    "NegativeBinomial": lambda: ([positive(3) * 3, unit(3)], counts(4, 3, high=8)),
    "InverseGamma": lambda: ([positive(3) + 2, positive(3)], positive(4, 3)),
    "Kumaraswamy": lambda: ([positive(3) + 1, positive(3) + 1], unit(4, 3)),
    "FisherSnedecor": lambda: ([positive(3) * 3 + 2, positive(3) * 3 + 5], positive(4, 3)),
    # probabilities on both sides of, and inside, the Taylor region around 1/2
    "ContinuousBernoulli": lambda: ([np.array([0.2, 0.4995, 0.8], np.float32)], unit(4, 3)),
    "VonMises": lambda: ([real(3), np.array([0.5, 2.0, 6.0], np.float32)], real(4, 3)),
    # concentration < 0 (bounded support), 0 (the exponential branch) and > 0
    "GeneralizedPareto": lambda: ([np.zeros(3, np.float32), positive(3), np.array([-0.2, 0.0, 0.3], np.float32)],
                                  unit(4, 3)),
}
METHODS = ["log_prob", "entropy", "mean", "variance", "stddev", "mode", "cdf", "icdf"]


def _call(dist, method, value):
    attr = getattr(dist, method)
    if method == "entropy":
        return attr()
    if method == "icdf":
        return attr(value * 0 + 0.3)
    return attr(value) if callable(attr) else attr


def _torch_supports(torch, name, params, method, value):
    try:
        _call(getattr(torch.distributions, name)(*[torch.tensor(p) for p in params]), method, torch.tensor(value))
        return True
    except NotImplementedError:
        return False


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", sorted(SCALAR_FAMILIES))
def test_scalar_family_parity(name, method):
    torch = require_torch()
    params, value = SCALAR_FAMILIES[name]()
    if not _torch_supports(torch, name, params, method, value):
        # torch does not define it (Beta.cdf, Poisson.entropy...): deepdive says so the same way.
        with pytest.raises(NotImplementedError):
            _call(getattr(D, name)(*[deepdive.tensor(p) for p in params]), method, deepdive.tensor(value))
        return
    if name in ("Gamma", "Chi2", "InverseGamma") and method == "cdf":
        # torch has no gradient for gammainc w.r.t. the concentration: compare values, and the rate's gradient.
        def detached(dists):
            return lambda c, *a: getattr(dists, name)(c.detach(), *a[:-1]).cdf(a[-1])
        check_parity(detached(D), detached(torch.distributions), params + [(value, False)], rtol=1e-4, atol=1e-5)
        return
    n = len(params)
    # NOTE: floor() (in the modes of Poisson and NegativeBinomial) has no graph in deepdive; torch carries zeros.
    check_parity(lambda *a: _call(getattr(D, name)(*a[:n]), method, a[n]),
                 lambda *a: _call(getattr(torch.distributions, name)(*a[:n]), method, a[n]),
                 params + [(value, False)], rtol=1e-4, atol=1e-5,
                 grad=not (name in ("Poisson", "NegativeBinomial") and method == "mode"))


# NOTE: torch 2.13's GeneralizedPareto.log_prob compares a float64 concentration with a float32 zero
# (torch.isclose raises "Double did not match Float"), so it has no float64 oracle.
@pytest.mark.parametrize("name", sorted(set(SCALAR_FAMILIES) - {"GeneralizedPareto"}))
def test_scalar_family_float64(name):
    torch = require_torch()
    params, value = SCALAR_FAMILIES[name]()
    params, value = [p.astype(np.float64) for p in params], value.astype(np.float64)
    n = len(params)
    check_parity(lambda *a: getattr(D, name)(*a[:n]).log_prob(a[n]),
                 lambda *a: getattr(torch.distributions, name)(*a[:n]).log_prob(a[n]),
                 params + [(value, False)], rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("use_logits", [False, True])
@pytest.mark.parametrize("name", ["Bernoulli", "Geometric", "Binomial"])
def test_binary_families(name, use_logits):
    torch = require_torch()
    p = unit(2, 3)
    param = np.log(p / (1 - p)).astype(np.float32) if use_logits else p
    value = counts(4, 2, 3, high=2) if name == "Bernoulli" else counts(4, 2, 3)
    key = "logits" if use_logits else "probs"

    def make(module, q, n=None):
        if name == "Binomial":
            return getattr(module, name)(total_count=6, **{key: q})
        return getattr(module, name)(**{key: q})

    for method in ["log_prob", "entropy", "mean", "variance", "mode"]:
        if method == "entropy" and name == "Binomial":
            continue
        check_parity(lambda q, v: _call(make(D, q), method, v),
                     lambda q, v: _call(make(torch.distributions, q), method, v),
                     [param, (value, False)], rtol=1e-4, atol=1e-5, grad=not (name == "Binomial" and method == "mode"))
    check_parity(lambda q: make(D, q).probs if use_logits else make(D, q).logits,
                 lambda q: make(torch.distributions, q).probs if use_logits else make(torch.distributions, q).logits,
                 [param])


def test_binomial_entropy_and_support():
    torch = require_torch()
    p = unit(3)
    check_parity(lambda q: D.Binomial(4, q).entropy(), lambda q: torch.distributions.Binomial(4, q).entropy(), [p])
    check_parity(lambda q: D.Binomial(4, q).enumerate_support(), lambda q: torch.distributions.Binomial(4, q)
                 .enumerate_support(), [p], grad=False)


@pytest.mark.parametrize("use_logits", [False, True])
@pytest.mark.parametrize("batch", [(), (3,), (2, 3)])
def test_categorical(batch, use_logits):
    torch = require_torch()
    param = real(*batch, 5) if use_logits else simplex(*batch, 5) * 3     # unnormalised probs are normalised
    value = rng.integers(0, 5, (4,) + batch)
    key = "logits" if use_logits else "probs"
    for method in ["log_prob", "entropy", "mode"]:
        check_parity(lambda q, v: _call(D.Categorical(**{key: q}), method, v),
                     lambda q, v: _call(torch.distributions.Categorical(**{key: q}), method, v),
                     [param, value])
    check_parity(lambda q: (D.Categorical(**{key: q}).probs, D.Categorical(**{key: q}).logits),
                 lambda q: (torch.distributions.Categorical(**{key: q}).probs,
                            torch.distributions.Categorical(**{key: q}).logits), [param])
    check_parity(lambda q: D.Categorical(**{key: q}).enumerate_support(),
                 lambda q: torch.distributions.Categorical(**{key: q}).enumerate_support(), [param], grad=False)


def test_categorical_zero_probability_entropy_is_finite():
    torch = require_torch()
    p = np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]], np.float32)
    check_parity(lambda q: D.Categorical(probs=q).entropy(), lambda q: torch.distributions.Categorical(probs=q)
                 .entropy(), [p])


@pytest.mark.parametrize("batch", [(), (2,)])
def test_multinomial(batch):
    torch = require_torch()
    logits = real(*batch, 4)
    value = rng.multinomial(7, [0.25] * 4, (3,) + batch).astype(np.float32)
    for method in ["log_prob", "entropy", "mean", "variance"]:
        check_parity(lambda q, v: _call(D.Multinomial(7, logits=q), method, v),
                     lambda q, v: _call(torch.distributions.Multinomial(7, logits=q), method, v),
                     [logits, (value, False)], rtol=1e-4, atol=1e-5)
    sample = D.Multinomial(7, logits=deepdive.tensor(logits)).sample((5,))
    assert sample.shape == (5,) + batch + (4,) and np.all(sample.numpy().sum(-1) == 7)


def test_one_hot_categorical():
    torch = require_torch()
    logits = real(2, 4)
    idx = rng.integers(0, 4, (3, 2))
    value = np.eye(4, dtype=np.float32)[idx]
    for method in ["log_prob", "entropy", "mean", "variance", "mode"]:
        check_parity(lambda q, v: _call(D.OneHotCategorical(logits=q), method, v),
                     lambda q, v: _call(torch.distributions.OneHotCategorical(logits=q), method, v),
                     [logits, (value, False)])
    d = D.OneHotCategorical(logits=deepdive.tensor(logits))
    assert d.event_shape == (4,) and d.batch_shape == (2,)
    assert d.sample((5,)).shape == (5, 2, 4) and d.enumerate_support().shape == (4, 2, 4)


@pytest.mark.parametrize("batch", [(), (2,)])
def test_dirichlet(batch):
    torch = require_torch()
    conc = positive(*batch, 4)
    value = simplex(3, *batch, 4)
    for method in ["log_prob", "entropy", "mean", "variance", "mode"]:
        check_parity(lambda c, v: _call(D.Dirichlet(c), method, v),
                     lambda c, v: _call(torch.distributions.Dirichlet(c), method, v),
                     [conc, (value, False)], rtol=1e-4, atol=1e-5)


def _spd(*batch, n=3):
    a = rng.standard_normal(batch + (n, n))
    return (a @ np.swapaxes(a, -1, -2) + n * np.eye(n)).astype(np.float32)


@pytest.mark.parametrize("param", ["covariance_matrix", "precision_matrix", "scale_tril"])
@pytest.mark.parametrize("batch", [(), (2,)])
def test_multivariate_normal(param, batch):
    torch = require_torch()
    loc = real(*batch, 3)
    matrix = _spd(*batch)
    if param == "scale_tril":
        matrix = np.linalg.cholesky(matrix).astype(np.float32)
    value = real(4, *batch, 3)
    for method in ["log_prob", "entropy", "mean", "variance", "mode"]:
        check_parity(lambda m, s, v: _call(D.MultivariateNormal(m, **{param: s}), method, v),
                     lambda m, s, v: _call(torch.distributions.MultivariateNormal(m, **{param: s}), method, v),
                     [loc, matrix, (value, False)], rtol=1e-4, atol=1e-4)
    for prop in ["covariance_matrix", "precision_matrix", "scale_tril"]:
        check_parity(lambda m, s: getattr(D.MultivariateNormal(m, **{param: s}), prop),
                     lambda m, s: getattr(torch.distributions.MultivariateNormal(m, **{param: s}), prop),
                     [loc, matrix], rtol=1e-4, atol=1e-4)


def test_multivariate_normal_broadcasts_loc_against_matrix():
    torch = require_torch()
    loc, cov, value = real(2, 3), _spd(n=3), real(2, 3)
    check_parity(lambda m, s, v: D.MultivariateNormal(m, covariance_matrix=s).log_prob(v),
                 lambda m, s, v: torch.distributions.MultivariateNormal(m, covariance_matrix=s).log_prob(v),
                 [loc, cov, value], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("batch", [(), (2,)])
def test_lowrank_multivariate_normal(batch):
    torch = require_torch()
    loc, factor, diag, value = real(*batch, 4), real(*batch, 4, 2), positive(*batch, 4), real(3, *batch, 4)
    for method in ["log_prob", "entropy", "variance"]:
        check_parity(lambda m, w, d, v: _call(D.LowRankMultivariateNormal(m, w, d), method, v),
                     lambda m, w, d, v: _call(torch.distributions.LowRankMultivariateNormal(m, w, d), method, v),
                     [loc, factor, diag, (value, False)], rtol=1e-4, atol=1e-4)
    for prop in ["covariance_matrix", "precision_matrix", "scale_tril"]:
        check_parity(lambda m, w, d: getattr(D.LowRankMultivariateNormal(m, w, d), prop),
                     lambda m, w, d: getattr(torch.distributions.LowRankMultivariateNormal(m, w, d), prop),
                     [loc, factor, diag], rtol=1e-4, atol=1e-4)


def test_independent_reinterprets_batch_dims():
    torch = require_torch()
    loc, scale, value = real(2, 3, 4), positive(2, 3, 4), real(5, 2, 3, 4)
    for ndims in [1, 2]:
        for method in ["log_prob", "entropy", "mean", "variance"]:
            check_parity(lambda m, s, v: _call(D.Independent(D.Normal(m, s), ndims), method, v),
                         lambda m, s, v: _call(torch.distributions.Independent(torch.distributions.Normal(m, s),
                                                                               ndims), method, v),
                         [loc, scale, (value, False)])
        d = D.Independent(D.Normal(deepdive.tensor(loc), deepdive.tensor(scale)), ndims)
        t = torch.distributions.Independent(torch.distributions.Normal(torch.tensor(loc), torch.tensor(scale)), ndims)
        assert tuple(d.batch_shape) == tuple(t.batch_shape) and tuple(d.event_shape) == tuple(t.event_shape)


@pytest.mark.parametrize("event", [False, True])
def test_mixture_same_family(event):
    torch = require_torch()
    weights, loc, scale = positive(2, 5), real(2, 5, 3), positive(2, 5, 3)
    value = real(4, 2, 3) if event else real(4, 2)
    if not event:
        loc, scale = loc[..., 0], scale[..., 0]

    def make(dists, w, m, s):
        comp = dists.Normal(m, s)
        if event:
            comp = dists.Independent(comp, 1)
        return dists.MixtureSameFamily(dists.Categorical(probs=w), comp)

    for method in ["log_prob", "mean", "variance"] + ([] if event else ["cdf"]):
        check_parity(lambda w, m, s, v: _call(make(D, w, m, s), method, v),
                     lambda w, m, s, v: _call(make(torch.distributions, w, m, s), method, v),
                     [weights, loc, scale, (value, False)], rtol=1e-4, atol=1e-5)
    sample = make(D, *[deepdive.tensor(a) for a in (weights, loc, scale)]).sample((6,))
    assert sample.shape == ((6, 2, 3) if event else (6, 2))


def test_logistic_normal():
    torch = require_torch()
    loc, scale = real(2, 3), positive(2, 3)
    value = simplex(5, 2, 4)
    check_parity(lambda m, s, v: D.LogisticNormal(m, s).log_prob(v),
                 lambda m, s, v: torch.distributions.LogisticNormal(m, s).log_prob(v),
                 [loc, scale, (value, False)], rtol=1e-4, atol=1e-4)
    assert D.LogisticNormal(deepdive.tensor(loc), deepdive.tensor(scale)).rsample((3,)).shape == (3, 2, 4)


@pytest.mark.parametrize("dim", [2, 4])
def test_lkj_cholesky(dim):
    torch = require_torch()
    conc = positive(3)
    value = torch.distributions.LKJCholesky(dim, torch.tensor(conc)).sample((2,)).numpy()
    check_parity(lambda c, v: D.LKJCholesky(dim, c).log_prob(v),
                 lambda c, v: torch.distributions.LKJCholesky(dim, c).log_prob(v),
                 [conc, (value, False)], rtol=1e-4, atol=1e-4)
    d = D.LKJCholesky(dim, deepdive.tensor(conc))
    sample = d.sample((5,))
    assert sample.shape == (5, 3, dim, dim) and bool(D.constraints.corr_cholesky.check(sample).all())
    assert np.isfinite(d.log_prob(sample).numpy()).all()


# NOTE: torch 2.13's Wishart.rsample tests `support.check(sample)` without negating it, so it warns
# "Singular sample detected." for every valid draw; the warning is torch's, not deepdive's.
@pytest.mark.filterwarnings("ignore:Singular sample detected")
@pytest.mark.parametrize("param", ["covariance_matrix", "precision_matrix", "scale_tril"])
@pytest.mark.parametrize("batch", [(), (2,)])
def test_wishart(param, batch):
    torch = require_torch()
    df = np.asarray(positive(*batch) + 4, dtype=np.float32)
    matrix = _spd(*batch)
    if param == "scale_tril":
        matrix = np.linalg.cholesky(matrix).astype(np.float32)
    value = torch.distributions.Wishart(torch.tensor(df), **{param: torch.tensor(matrix)}).sample((3,)).numpy()
    for method in ["log_prob", "entropy", "mean", "variance", "mode"]:
        check_parity(lambda n, s, v: _call(D.Wishart(n, **{param: s}), method, v),
                     lambda n, s, v: _call(torch.distributions.Wishart(n, **{param: s}), method, v),
                     [df, matrix, (value, False)], rtol=2e-4, atol=2e-4)
    d = D.Wishart(deepdive.tensor(df), **{param: deepdive.tensor(matrix)})
    x = d.rsample((4,))
    assert x.shape == (4,) + batch + (3, 3) and bool(D.constraints.positive_definite.check(x).all())


def test_relaxed_distributions_log_prob():
    torch = require_torch()
    logits, temperature = real(2, 4), np.array(0.7, np.float32)
    value = simplex(3, 2, 4)
    check_parity(lambda t, q, v: D.RelaxedOneHotCategorical(t, logits=q).log_prob(v),
                 lambda t, q, v: torch.distributions.RelaxedOneHotCategorical(t, logits=q).log_prob(v),
                 [temperature, logits, (value, False)], rtol=1e-4, atol=1e-4)
    probs, value = unit(3), unit(5, 3)
    check_parity(lambda t, q, v: D.RelaxedBernoulli(t, probs=q).log_prob(v),
                 lambda t, q, v: torch.distributions.RelaxedBernoulli(t, probs=q).log_prob(v),
                 [temperature, probs, (value, False)], rtol=1e-4, atol=1e-4)


def test_shapes_sample_and_expand_match_torch():
    torch = require_torch()
    cases = [("Normal", [real(2, 3), positive(2, 3)]), ("Gamma", [positive(3), positive(3)]),
             ("Dirichlet", [positive(2, 4)]), ("Categorical", [simplex(2, 4)]), ("Bernoulli", [unit(3)]),
             ("Poisson", [positive(3)]), ("MultivariateNormal", [real(2, 3), _spd(2)]),
             ("Beta", [positive(3), positive(3)]), ("StudentT", [positive(3) + 2])]
    for name, params in cases:
        d = getattr(D, name)(*[deepdive.tensor(p) for p in params])
        t = getattr(torch.distributions, name)(*[torch.tensor(p) for p in params])
        for sample_shape in [(), (5,), (2, 4)]:
            assert tuple(d.sample(sample_shape).shape) == tuple(t.sample(sample_shape).shape), (name, sample_shape)
            if t.has_rsample:
                assert tuple(d.rsample(sample_shape).shape) == tuple(t.rsample(sample_shape).shape)
        assert d.has_rsample == t.has_rsample, name
        new_batch = (4,) + tuple(t.batch_shape)
        de, te = d.expand(new_batch), t.expand(new_batch)
        assert tuple(de.batch_shape) == tuple(te.batch_shape) and tuple(de.event_shape) == tuple(te.event_shape)
        value = te.sample()
        np.testing.assert_allclose(de.log_prob(deepdive.tensor(value.numpy())).numpy(), te.log_prob(value).numpy(),
                                   rtol=1e-4, atol=1e-4)
    assert D.Normal(0.0, 1.0).batch_shape == () and D.Normal(0.0, 1.0).sample().dtype == deepdive.float32


def test_scalar_parameters_give_default_dtype():
    torch = require_torch()
    d, t = D.Normal(0.5, 2.0), torch.distributions.Normal(0.5, 2.0)
    value = deepdive.tensor([0.1, 3.0])
    assert d.log_prob(value).dtype == deepdive.float32
    np.testing.assert_allclose(d.log_prob(value).numpy(), t.log_prob(torch.tensor([0.1, 3.0])).numpy(), rtol=1e-6)
    assert repr(D.Normal(0.0, 1.0)) == repr(torch.distributions.Normal(0.0, 1.0))
    assert repr(D.Bernoulli(probs=0.3)) == repr(torch.distributions.Bernoulli(probs=0.3))


def test_module_paths_as_programs_import_them():
    import importlib
    import subprocess
    import sys
    code = ("import deepdive as torch\n"
            "d = torch.distributions.Normal(torch.zeros(2), torch.ones(2))\n"     # attribute access, no import
            "from deepdive.distributions.transforms import TanhTransform\n"
            "from deepdive.distributions.kl import kl_divergence\n"
            "from deepdive.distributions.utils import probs_to_logits, logits_to_probs\n"
            "from deepdive.distributions import constraints\n"
            "print(type(d).__name__, kl_divergence(d, d).sum().item())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ})
    assert out.stdout.strip() == "Normal 0.0"
    torch = require_torch()
    for name in torch.distributions.__all__:
        assert hasattr(D, name), name           # every public name of torch.distributions
    assert importlib.import_module("deepdive.distributions") is D


EXP_FAMILIES = {
    "Normal": lambda: [real(2, 3), positive(2, 3)], "Bernoulli": lambda: [unit(3)], "Beta": lambda: [positive(3),
                                                                                                     positive(3)],
    "Exponential": lambda: [positive(3)], "Gamma": lambda: [positive(3), positive(3)], "Poisson": lambda: [positive(3)],
    "Dirichlet": lambda: [positive(2, 4)],
    "ContinuousBernoulli": lambda: [np.array([0.2, 0.4995, 0.8], np.float32)],
}


@pytest.mark.parametrize("name", sorted(EXP_FAMILIES))
def test_exponential_family_bregman_entropy_and_kl(name):
    """The natural parameters and log normalizers are right: the generic Bregman entropy and KL equal the
    closed forms (and torch's)."""
    torch = require_torch()
    from deepdive.distributions.kl import _kl_expfamily_expfamily
    params, others = EXP_FAMILIES[name](), EXP_FAMILIES[name]()
    d = getattr(D, name)(*[deepdive.tensor(p) for p in params])
    q = getattr(D, name)(*[deepdive.tensor(p) for p in others])
    t = getattr(torch.distributions, name)(*[torch.tensor(p) for p in params])
    assert isinstance(d, D.ExponentialFamily)
    with deepdive.no_grad():
        kl = _kl_expfamily_expfamily(d, q)
    np.testing.assert_allclose(kl.numpy(), D.kl_divergence(d, q).numpy(), rtol=1e-3, atol=1e-4)
    try:
        expected = torch.distributions.ExponentialFamily.entropy(t).detach().numpy()
    except NotImplementedError:             # torch defines no carrier measure for Beta, Dirichlet, Poisson
        with pytest.raises(NotImplementedError), deepdive.no_grad():
            D.ExponentialFamily.entropy(d)
        return
    with deepdive.no_grad():
        generic = D.ExponentialFamily.entropy(d)
    np.testing.assert_allclose(generic.numpy(), d.entropy().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(generic.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_exponential_family_generic_forms_say_they_need_higher_order_gradients():
    d = D.Normal(deepdive.zeros(2, requires_grad=True), deepdive.ones(2))
    with pytest.raises(NotImplementedError, match="create_graph=True"):
        D.ExponentialFamily.entropy(d)
    from deepdive.distributions.kl import _kl_expfamily_expfamily
    with pytest.raises(NotImplementedError, match="cross KL-divergence between different exponential families"):
        _kl_expfamily_expfamily(d, D.Exponential(deepdive.ones(2)))
