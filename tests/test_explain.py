"""viz.explain_neuron and viz.explain_backward state the arithmetic the model really does."""
import re

import numpy as np
import pytest

import deepdive
import deepdive.nn as nn
from deepdive import layers, viz


def _printed_y(text):
    return float(re.search(r"^  y = σ\([^)]*\) = (\S+)$", text, re.M).group(1))


MODULES = [nn.ReLU(), nn.Sigmoid(), nn.Tanh(), nn.LeakyReLU(0.1), nn.ELU(alpha=0.7), nn.SELU(), nn.GELU(),
           nn.GELU(approximate="tanh"), nn.SiLU(), nn.Softplus(beta=2.0), nn.Softmax(dim=-1), nn.Identity()]


@pytest.mark.parametrize("activation", MODULES, ids=lambda m: repr(m))
@pytest.mark.parametrize("unit", [0, 2])
def test_sequential_neuron_y_is_the_models_output(activation, unit):
    deepdive.manual_seed(1)
    model = nn.Sequential(nn.Linear(5, 3), activation, nn.Linear(3, 1))
    x = deepdive.randn(4, 5) * 2
    text = viz.explain_neuron(model, x, unit=unit)
    expected = float(model[:2](x)[0, unit])
    assert _printed_y(text) == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert type(activation).__name__ in text or "identity" in text


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "leaky_relu", "elu", "selu", "gelu", "silu", "swish",
                                  "softplus", "softmax", "linear", None])
def test_keras_dense_neuron_uses_its_own_activation(name):
    deepdive.manual_seed(2)
    dense = layers.Dense(3, activation=name)
    x = deepdive.randn(2, 4) * 2
    out = dense(x)
    for unit in range(3):
        text = viz.explain_neuron(dense, x, unit=unit)
        assert _printed_y(text) == pytest.approx(float(out[0, unit]), rel=1e-5, abs=1e-6)
    if name in ("sigmoid", "tanh"):
        assert "ReLU" not in text and name in text


def test_neuron_in_a_sequential_after_other_layers_and_keras_activation_layer():
    deepdive.manual_seed(3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 4), layers.Activation("tanh"))
    x = deepdive.randn(3, 2, 3)
    assert _printed_y(viz.explain_neuron(model, x, unit=3)) == pytest.approx(float(model(x)[0, 3]), rel=1e-5)


def test_a_module_whose_first_child_is_linear_uses_the_next_activation():
    class Net(nn.Module):                      # the post's SimpleNN pattern: layer1, relu, layer2
        def __init__(self):
            super().__init__()
            self.layer1, self.act, self.layer2 = nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 1)

        def forward(self, x):
            return self.layer2(self.act(self.layer1(x)))
    net, x = Net(), deepdive.randn(1, 3)
    text = viz.explain_neuron(net, x, unit=1)
    assert "sigmoid" in text and _printed_y(text) == pytest.approx(float(net.act(net.layer1(x))[0, 1]), rel=1e-5)


def test_bare_linear_is_the_identity_unless_told_and_conflicts_are_refused():
    layer, x = nn.Linear(3, 2), deepdive.tensor([1.0, 0.5, -1.0])
    assert _printed_y(viz.explain_neuron(layer, x, unit=1)) == pytest.approx(float(layer(x)[1]), rel=1e-5)
    z = float(layer(x)[1])
    assert _printed_y(viz.explain_neuron(layer, x, unit=1, activation="sigmoid")) == pytest.approx(1 / (1 + np.exp(-z)), rel=1e-5)
    with pytest.raises(ValueError, match="applies 'sigmoid', not 'relu'"):
        viz.explain_neuron(layers.Dense(2, activation="sigmoid"), x.reshape(1, 3), activation="relu")


def test_unit_out_of_range_and_wrong_inputs_get_clear_errors():
    layer = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"unit=2 is out of range: the layer has 2 units \(0 to 1\)"):
        viz.explain_neuron(layer, deepdive.ones(3), unit=2)
    with pytest.raises(ValueError, match="out of range"):
        viz.explain_neuron(layer, deepdive.ones(3), unit=-1)
    with pytest.raises(ValueError, match="input has 5 features but the layer expects 3"):
        viz.explain_neuron(layer, deepdive.ones(5))
    with pytest.raises(ValueError, match="cannot explain the activation"):
        viz.explain_neuron(layer, deepdive.ones(3), activation="mish")
    with pytest.raises(TypeError, match="needs nn.Linear, layers.Dense"):
        viz.explain_neuron(nn.Conv2d(1, 1, 3), deepdive.ones(3))


def test_explain_backward_after_backward_says_how_to_call_it():
    a = deepdive.tensor(2.0, requires_grad=True)
    c = a * a + a
    c.backward()
    with pytest.raises(RuntimeError, match=r"before loss.backward\(\).*retain_graph=True"):
        viz.explain_backward(c, {"a": a})
    a.grad = None
    d = a * a + a
    d.backward(retain_graph=True)                 # a retained graph can still be explained
    assert "a []: dL/dw = 5" in viz.explain_backward(d, {"a": a})


def test_explain_backward_names_ops_as_users_know_them_and_prints_no_negative_zero():
    deepdive.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    with deepdive.no_grad():
        model[0].bias.copy_(deepdive.tensor([-5.0, 5.0, -5.0, 5.0]))     # two dead units: zero gradients
    loss = nn.functional.cross_entropy(model(deepdive.randn(1, 3)), deepdive.tensor([1]))
    text = viz.explain_backward(loss, params=model)
    assert "1. CrossEntropyLoss:" in text and "ReLU: receives" in text and "Relu" not in text
    assert "-0," not in text and "-0]" not in text and "[-0" not in text and " 0," in text


def test_keras_sequential_of_dense_layers_uses_the_first_dense_layers_own_activation():
    from deepdive import training
    deepdive.manual_seed(4)
    model = training.Sequential([layers.Dense(3), layers.Dense(2, activation="sigmoid")])   # unbuilt, lazy
    x = deepdive.randn(2, 4)
    text = viz.explain_neuron(model, x, unit=1)
    assert "identity" in text and "sigmoid" not in text and "then" not in text.splitlines()[0]
    assert _printed_y(text) == pytest.approx(float(model.layers[0](x)[0, 1]), rel=1e-5)
