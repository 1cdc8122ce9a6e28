"""nn.init: each scheme's distribution (bounds, mean, std) matches PyTorch's formula and torch's own samples;
gains and fans equal torch's; default layer initialisations; reproducibility with manual_seed; errors."""
import math

import numpy as np
import pytest

import deepdive
import deepdive.nn as nn
from deepdive.nn import init
from parity import require_torch

SHAPES = [(64, 32), (16, 8, 3, 3), (40, 20, 5)]


def _pair(shape):
    torch = require_torch()
    return deepdive.empty(*shape), torch.empty(*shape)


@pytest.mark.parametrize("nonlinearity,param", [("linear", None), ("conv2d", None), ("sigmoid", None),
                                                ("tanh", None), ("relu", None), ("leaky_relu", None),
                                                ("leaky_relu", 0.2), ("selu", None), ("conv_transpose2d", None)])
def test_calculate_gain_matches_torch(nonlinearity, param):
    torch = require_torch()
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity, param))


def test_calculate_gain_and_fan_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.kaiming_uniform_(deepdive.empty(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_normal_(deepdive.empty(3, 3), mode="fan_avg")


@pytest.mark.parametrize("shape", SHAPES)
def test_fans_match_torch(shape):
    torch = require_torch()
    a, b = _pair(shape)
    assert init._calculate_fan_in_and_fan_out(a) == torch.nn.init._calculate_fan_in_and_fan_out(b)


def _assert_same_distribution(a, b, uniform_bound=None, std=None, mean=0.0):
    """deepdive's samples vs torch's: same support, mean and std (within sampling error)."""
    x, y = a._data.astype(np.float64).ravel(), b.detach().numpy().astype(np.float64).ravel()
    n = x.size
    if uniform_bound is not None:
        assert np.abs(x).max() <= uniform_bound * (1 + 1e-6)
        assert np.abs(x).max() > 0.9 * uniform_bound          # fills the interval
        std = uniform_bound / math.sqrt(3)
    # 5 standard errors: of a mean std/sqrt(n), of a sample std about std/sqrt(2n) (a normal's; less for uniform)
    assert abs(x.mean() - mean) < 5 * std / math.sqrt(n)
    assert abs(x.std() - std) < 5 * std / math.sqrt(2 * n)
    assert abs(x.std() - y.std()) < 5 * std / math.sqrt(n)      # torch's draw has the same spread
    assert a.dtype == deepdive.float32


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity,a", [("leaky_relu", 0), ("relu", 0), ("leaky_relu", math.sqrt(5)),
                                            ("tanh", 0)])
def test_kaiming(shape, mode, nonlinearity, a):
    torch = require_torch()
    x, y = _pair(shape)
    fan = dict(zip(("fan_in", "fan_out"), init._calculate_fan_in_and_fan_out(x)))[mode]
    std = init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    init.kaiming_uniform_(x, a=a, mode=mode, nonlinearity=nonlinearity)
    torch.nn.init.kaiming_uniform_(y, a=a, mode=mode, nonlinearity=nonlinearity)
    _assert_same_distribution(x, y, uniform_bound=math.sqrt(3) * std)
    init.kaiming_normal_(x, a=a, mode=mode, nonlinearity=nonlinearity)
    torch.nn.init.kaiming_normal_(y, a=a, mode=mode, nonlinearity=nonlinearity)
    _assert_same_distribution(x, y, std=std)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_xavier(shape, gain):
    torch = require_torch()
    x, y = _pair(shape)
    fan_in, fan_out = init._calculate_fan_in_and_fan_out(x)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    init.xavier_uniform_(x, gain=gain)
    torch.nn.init.xavier_uniform_(y, gain=gain)
    _assert_same_distribution(x, y, uniform_bound=math.sqrt(3) * std)
    init.xavier_normal_(x, gain=gain)
    torch.nn.init.xavier_normal_(y, gain=gain)
    _assert_same_distribution(x, y, std=std)


def test_uniform_normal_constant_ones_zeros():
    torch = require_torch()
    x, y = _pair((100, 100))
    init.uniform_(x, -2, 4)
    torch.nn.init.uniform_(y, -2, 4)
    assert x._data.min() >= -2 and x._data.max() <= 4
    _assert_same_distribution(x, y, std=6 / math.sqrt(12), mean=1.0)
    init.normal_(x, 3.0, 0.5)
    torch.nn.init.normal_(y, 3.0, 0.5)
    _assert_same_distribution(x, y, std=0.5, mean=3.0)
    assert np.all(init.constant_(x, 0.25)._data == 0.25)
    assert np.all(init.ones_(x)._data == 1) and not init.zeros_(x)._data.any()


def test_trunc_normal_bounds_and_moments():
    torch = require_torch()
    x, y = _pair((200, 200))
    init.trunc_normal_(x, mean=0.5, std=1.0, a=-0.5, b=2.0)
    torch.nn.init.trunc_normal_(y, mean=0.5, std=1.0, a=-0.5, b=2.0)
    data, ref = x._data.astype(np.float64), y.numpy().astype(np.float64)
    assert data.min() >= -0.5 and data.max() <= 2.0
    # the truncated normal's exact moments (alpha, beta: the bounds in standard units)
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)      # noqa: E731
    cdf = lambda z: (1 + math.erf(z / math.sqrt(2))) / 2                # noqa: E731
    alpha, beta = -1.0, 1.5
    z = cdf(beta) - cdf(alpha)
    mean = 0.5 + (pdf(alpha) - pdf(beta)) / z
    std = math.sqrt(1 + (alpha * pdf(alpha) - beta * pdf(beta)) / z - ((pdf(alpha) - pdf(beta)) / z) ** 2)
    tol = 5 * std / math.sqrt(data.size)                                # 5 standard errors
    for sample in (data, ref):
        assert abs(sample.mean() - mean) < tol and abs(sample.std() - std) < tol
    init.trunc_normal_(x, std=0.02)                 # the ViT usage: the bounds (+-2) hold no extra mass
    assert abs(x._data.std() - 0.02) < 0.001


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (8, 2, 3)])
def test_orthogonal(shape):
    x = deepdive.empty(*shape)
    init.orthogonal_(x, gain=2.0)
    flat = x._data.reshape(shape[0], -1).astype(np.float64)
    gram = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
    np.testing.assert_allclose(gram, 4 * np.eye(gram.shape[0]), atol=1e-5)


def test_eye_dirac_sparse():
    torch = require_torch()
    x, y = _pair((3, 5))
    np.testing.assert_array_equal(init.eye_(x)._data, torch.nn.init.eye_(y).numpy())
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.eye_(deepdive.empty(2, 2, 2))
    for shape, groups in [((4, 2, 3), 1), ((6, 3, 3, 3), 2), ((2, 2, 3, 3, 3), 1)]:
        x, y = _pair(shape)
        np.testing.assert_array_equal(init.dirac_(x, groups)._data, torch.nn.init.dirac_(y, groups).numpy())
    x = init.sparse_(deepdive.empty(10, 6), sparsity=0.3)
    assert np.all((x._data == 0).sum(axis=0) >= 3)


def test_seeded_init_is_reproducible_and_not_recorded():
    deepdive.manual_seed(3)
    a = nn.Linear(5, 4)
    deepdive.manual_seed(3)
    b = nn.Linear(5, 4)
    np.testing.assert_array_equal(a.weight._data, b.weight._data)
    np.testing.assert_array_equal(a.bias._data, b.bias._data)
    assert a.weight.grad_fn is None and a.weight.requires_grad
    version = a.weight._version
    init.normal_(a.weight)
    assert a.weight._version == version + 1 and a.weight.is_leaf


def test_generator_argument():
    g1, g2 = deepdive.Generator().manual_seed(7), deepdive.Generator().manual_seed(7)
    x, y = deepdive.empty(4, 4), deepdive.empty(4, 4)
    init.kaiming_uniform_(x, generator=g1)
    init.kaiming_uniform_(y, generator=g2)
    np.testing.assert_array_equal(x._data, y._data)


@pytest.mark.parametrize("make", [lambda l: l.nn.Linear(300, 200), lambda l: l.nn.Bilinear(60, 20, 40),
                                  lambda l: l.nn.Embedding(300, 100), lambda l: l.nn.PReLU(),
                                  lambda l: l.nn.LayerNorm(50), lambda l: l.nn.BatchNorm1d(50)])
def test_default_layer_initialisation_matches_torch(make):
    torch = require_torch()
    dd, tt = make(deepdive), make(torch)
    for (name, p), (_, q) in zip(dd.named_parameters(), tt.named_parameters()):
        x, y = p._data.astype(np.float64), q.detach().numpy().astype(np.float64)
        assert p.dtype == deepdive.float32 and p.shape == tuple(q.shape), name
        if y.std() == 0:
            np.testing.assert_array_equal(x, y)
            continue
        # same support and spread as torch's own initialisation
        # the difference of two sample stds: standard error ~ std / sqrt(n); allow 5 of them
        assert abs(x.std() - y.std()) < 5 * y.std() / math.sqrt(x.size), name
        if y.std() < 0.5:      # uniform schemes: the same support
            assert np.abs(x).max() <= np.abs(y).max() * (1 + 10 / x.size) + 1e-3, name
        if isinstance(dd, nn.Linear):
            bound = 1 / math.sqrt(300)
            assert np.abs(x).max() <= bound and np.abs(x).max() > 0.95 * bound


def test_deprecated_aliases_warn_and_work():
    x = deepdive.empty(4, 6)
    with pytest.warns(FutureWarning, match="nn.init.xavier_uniform_"):
        init.xavier_uniform(x)
    assert np.abs(x._data).max() <= math.sqrt(6 / 10)
    with pytest.warns(FutureWarning):
        init.constant(x, 2.0)
    assert np.all(x._data == 2)
