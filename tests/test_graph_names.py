"""viz.graph names ops as users know them and draws the data (input, target) as its own nodes."""
import xml.etree.ElementTree as ET

import pytest

import deepdive
import deepdive.nn as nn
from deepdive import viz


def _ops(g):
    return [n.label for n in g.nodes if n.kind == "op"]


def test_ops_are_named_as_in_torch_nn():
    deepdive.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 2))
    x, y = deepdive.randn(3, 1, 4, 4), deepdive.tensor([0, 1, 1])
    ops = _ops(viz.graph(nn.functional.cross_entropy(model(x), y), params=model))
    assert {"Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "CrossEntropyLoss"} <= set(ops)
    assert not {"Convolution", "Relu", "View", "MaxPool", "CrossEntropy"} & set(ops)
    lstm = nn.LSTM(2, 3, batch_first=True)
    out, _ = lstm(deepdive.randn(2, 4, 2))
    assert "LSTM" in _ops(viz.graph(out.sum(), params=lstm)) and "LSTMSequence" not in _ops(viz.graph(out.sum()))
    z = deepdive.randn(2, 6, requires_grad=True).reshape(3, 4)
    assert _ops(viz.graph(z)) == ["Reshape"]


def test_data_input_and_target_are_their_own_nodes_in_a_trace():
    deepdive.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    x, y = deepdive.randn(5, 4), deepdive.tensor([0, 1, 0, 1, 1])
    with viz.trace() as t:
        loss = nn.functional.cross_entropy(model(x), y)
    g = viz.graph(loss, params=model, trace=t, inputs={"x": x, "target": y})
    by_label = {n.label: n for n in g.nodes}
    assert by_label["x"].kind == "input" and by_label["target"].kind == "input"
    assert by_label["0.weight"].kind == "param"
    ids = {n.id: n for n in g.nodes}
    consumers = {ids[dst].label for src, dst in g.edges if src == by_label["x"].id}
    assert consumers == {"Linear"}
    assert {ids[dst].label for src, dst in g.edges if src == by_label["target"].id} == {"CrossEntropyLoss"}
    root = ET.fromstring(g.to_svg())
    kinds = {el.get("data-label"): el.get("class") for el in root.iter("{http://www.w3.org/2000/svg}g")}
    assert kinds["x"] == "node input" and kinds["target"] == "node input"
    assert "class n" in g.to_mermaid() and "input" in g.to_mermaid()


def test_an_input_that_requires_grad_is_not_coloured_as_a_parameter():
    model = nn.Linear(3, 1)
    x = deepdive.randn(2, 3, requires_grad=True)
    g = viz.graph(model(x).sum(), params=model, inputs={"x": x})
    kinds = {n.label: n.kind for n in g.nodes}
    assert kinds["x"] == "input" and kinds["weight"] == "param" and kinds["bias"] == "param"
    unnamed = viz.graph(model(x).sum(), params=model)          # not named: still not a parameter
    assert [n.kind for n in unnamed.nodes if n.label == "leaf"] == ["input"]


def test_inputs_without_a_trace_get_a_clear_error():
    model = nn.Linear(3, 1)
    x = deepdive.randn(2, 3)
    with pytest.raises(ValueError, match=r"\['x'\] were not found.*viz.trace\(\)"):
        viz.graph(model(x).sum(), params=model, inputs={"x": x})
