"""create_graph=True for the last Function classes: Keras Dense, gammainc (Gamma.cdf), the implicit
reparameterisation of Gamma draws (torch 2.13 has no double backward there: its own error)."""
import numpy as np
import pytest

import deepdive
from parity import check_second_order, gradgradcheck, require_torch

rng = np.random.default_rng(0)


def test_dense_second_order_equals_linear():
    """Dense is F.linear with the kernel transposed: its second derivatives are torch's linear's."""
    from deepdive.layers.core import DenseFunction
    x, k, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal(5)
    check_second_order(lambda x, k, b: DenseFunction.apply(x, k, b).tanh(),
                       lambda x, k, b: (x @ k + b).tanh(), [x, k, b])
    gradgradcheck(lambda x, k, b: DenseFunction.apply(x, k, b).sigmoid(), x, k, b)


def test_dense_layer_hessian_through_fit_style_layer():
    layer = deepdive.layers.Dense(3, activation="tanh")
    x = deepdive.randn(5, 4, requires_grad=True)
    y = layer(x).pow(2).sum()
    (g,) = deepdive.autograd.grad(y, x, create_graph=True)
    (gg,) = deepdive.autograd.grad(g.sum(), x)
    torch = require_torch()
    tx = torch.tensor(x.detach().numpy(), requires_grad=True)
    k, b = (torch.tensor(w.detach().numpy()) for w in (layer.kernel, layer.bias))
    (tg,) = torch.autograd.grad(torch.tanh(tx @ k + b).pow(2).sum(), tx, create_graph=True)
    (tgg,) = torch.autograd.grad(tg.sum(), tx)
    np.testing.assert_allclose(gg.numpy(), tgg.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gammainc_second_order_in_x(dtype):
    a = rng.uniform(0.5, 4, (2, 3)).astype(dtype)
    x = rng.uniform(0.2, 5, (2, 3)).astype(dtype)
    torch = require_torch()
    check_second_order(lambda a, x: deepdive.distributions.Gamma(a.detach(), 1.0).cdf(x) * x,
                       lambda a, x: torch.distributions.Gamma(a.detach(), 1.0).cdf(x) * x, [a, x])


def test_gammainc_gradgradcheck():
    a = deepdive.tensor(rng.uniform(0.5, 4, (4,)))
    gradgradcheck(lambda x: deepdive.distributions.Gamma(a, 1.0).cdf(x), rng.uniform(0.2, 5, (4,)))


def test_standard_gamma_double_backward_raises_as_torch():
    torch = require_torch()
    messages = []
    for lib in (deepdive, torch):
        alpha = lib.tensor([2.0, 3.0], requires_grad=True)
        draw = lib.distributions.Gamma(alpha, 1.0).rsample()
        (g,) = lib.autograd.grad(draw.sum(), alpha, create_graph=True)
        with pytest.raises(NotImplementedError) as info:
            g.sum().backward()
        messages.append(str(info.value))
    assert messages[0] == messages[1]
