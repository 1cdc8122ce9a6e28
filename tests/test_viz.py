"""deepdive.viz: graphs (Mermaid/DOT/SVG), explanations with numbers, monitors and plots (files checked)."""
import struct
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import deepdive
import deepdive.nn as nn
from deepdive import viz


def _png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def _model_and_loss():
    deepdive.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    x, y = deepdive.randn(5, 4), deepdive.tensor([0, 1, 0, 1, 1])
    return model, x, y


def test_graph_names_ops_shapes_and_parameters():
    model, x, y = _model_and_loss()
    loss = nn.functional.cross_entropy(model(x), y)
    g = viz.graph(loss, params=model)
    labels = {n.label: n for n in g.nodes}
    assert {"loss", "0.weight", "0.bias", "2.weight", "2.bias"} <= set(labels)
    assert labels["0.weight"].shape == (3, 4) and labels["loss"].shape == ()
    ops = [n for n in g.nodes if n.kind == "op"]
    assert len(ops) == 4 and all(n.shape is not None for n in ops)
    mermaid = g.to_mermaid()
    assert mermaid.startswith("graph TD") and "0.weight" in mermaid and "-->" in mermaid
    assert mermaid.count("-->") == len(g.edges) == 8
    dot = g.to_dot()
    assert dot.startswith("digraph") and dot.count("->") == 8
    root = ET.fromstring(g.to_svg())                          # well-formed, standalone SVG
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "2.bias" in texts and "loss" in texts
    assert len(list(root.iter("{http://www.w3.org/2000/svg}rect"))) == len(g.nodes)


def test_trace_adds_values_and_gradients():
    model, x, y = _model_and_loss()
    with viz.trace() as t:
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
    g = viz.graph(loss, params=model, trace=t)
    ops = [n for n in g.nodes if n.kind == "op"]
    assert all(n.value is not None and n.grad is not None for n in ops)
    w = next(n for n in g.nodes if n.label == "0.weight")
    np.testing.assert_array_equal(w.grad, model[0].weight.grad.numpy())
    assert "grad" in g.to_mermaid(values=True)
    assert not deepdive.autograd.function.TRACE.on        # the trace switched itself off


def test_explain_neuron_gives_the_actual_numbers():
    layer = nn.Linear(3, 2)
    x = deepdive.tensor([1.0, 0.5, -1.0])
    text = viz.explain_neuron(layer, x, unit=1, activation="sigmoid")
    z = float(layer.weight[1].detach().numpy() @ x.numpy() + layer.bias[1].item())
    y = float(text.rsplit("= ", 1)[1])
    assert f"{z:.4g}" in text and y == pytest.approx(1 / (1 + np.exp(-z)), rel=1e-6) and "σ(Σ wᵢxᵢ + b)" in text
    with pytest.raises(ValueError, match="3"):
        viz.explain_neuron(layer, deepdive.ones(5))


def test_explain_backward_matches_backward_and_leaves_grad_alone():
    a = deepdive.tensor(2.0, requires_grad=True)
    b = deepdive.tensor(-3.0, requires_grad=True)
    c = a * b + b ** 2
    text = viz.explain_backward(c, {"a": a, "b": b})
    assert a.grad is None and b.grad is None
    assert "a []: dL/dw = -3" in text and "b []: dL/dw = -4" in text      # b: a + 2b = 2 - 6
    assert "Mul" in text and "Backward: dx = g * y" in text
    c.backward()                                   # the graph is still usable afterwards
    assert b.grad.item() == -4


def test_gradient_flow_warns_about_vanishing_gradients():
    deepdive.manual_seed(0)
    layers = []
    for _ in range(12):
        layers += [nn.Linear(8, 8), nn.Sigmoid()]
    model = nn.Sequential(*layers)
    flow = viz.GradientFlow(model)
    for p in model.parameters():
        p.data.mul_(0.1)
    model(deepdive.randn(16, 8)).sum().backward()
    flow.record()
    assert len(flow.history) == 24
    assert any("vanishing" in w and w.startswith("gradients of 0.weight") for w in flow.warnings)


def test_activation_stats_sees_dead_relus():
    lin = nn.Linear(4, 6)
    with deepdive.no_grad():
        lin.bias.fill_(-100.0)
    model = nn.Sequential(lin, nn.ReLU())
    stats = viz.ActivationStats(model)
    model(deepdive.randn(10, 4))
    assert stats.history["1"][0]["dead"] == 1.0
    stats.on_train_end()
    assert any("dead" in w for w in stats.warnings) and stats.handles == []


def test_plots_write_pngs(tmp_path):
    pytest.importorskip("matplotlib")
    history = {"loss": [1.0, 0.6, 0.4, 0.3, 0.2, 0.1], "val_loss": [1.0, 0.7, 0.6, 0.7, 0.8, 0.9],
               "accuracy": [0.5, 0.6, 0.7, 0.8, 0.9, 0.95], "val_accuracy": [0.5, 0.6, 0.6, 0.6, 0.6, 0.6]}
    path = viz.plot_history(history, tmp_path / "h.png")
    w, h = _png_size(path)
    assert w > 800 and h > 300                                 # two panels: loss and accuracy
    model, x, y = _model_and_loss()
    flow, stats, tracker = viz.GradientFlow(model), viz.ActivationStats(model), viz.WeightTracker(model)
    tracker.on_epoch_begin(0)
    opt = deepdive.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        flow.record()
        opt.step()
    tracker.on_epoch_end(0)
    for fn, arg in [(viz.plot_gradient_flow, flow), (viz.plot_activation_stats, stats),
                    (viz.plot_weight_histograms, tracker), (viz.plot_weight_histograms, model)]:
        w, h = _png_size(fn(arg, tmp_path / f"{fn.__name__}.png"))
        assert w > 300 and h > 150
    X, Y = deepdive.datasets.make_moons(100)
    clf = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    w, h = _png_size(viz.plot_decision_boundary(clf, X[:80], Y[:80], X[80:], Y[80:], path=tmp_path / "db.png"))
    assert w > 300 and h > 300


def test_decision_boundary_needs_2d_input():
    model = nn.Linear(10, 2)
    with pytest.raises(ValueError, match=r"needs 2-D inputs.*\[50, 10\]"):
        viz.plot_decision_boundary(model, deepdive.randn(50, 10), deepdive.zeros(50))


def test_missing_matplotlib_says_which_extra(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match=r"install deepdive\[viz\]"):
        viz.plot_history({"loss": [1.0]})


def test_jupyter_rich_display_of_models_histories_and_graphs():
    model, x, y = _model_and_loss()
    page = model._repr_html_()
    assert "<pre>Sequential(" in page and "0.weight" in page and "parameters (" in page
    from deepdive.training.history import History
    history = History()
    history.history = {"loss": [1.0, 0.5, 0.4, 0.3, 0.2], "val_loss": [1.0, 0.8, 0.9, 1.0, 1.1]}
    page = history._repr_html_()
    assert "<table>" in page and "0.5" in page
    if __import__("importlib").util.find_spec("matplotlib"):
        assert "data:image/png;base64," in page
    g = viz.graph(nn.functional.cross_entropy(model(x), y), params=model)
    assert g._repr_svg_().startswith("<svg")
    # offline: no Mermaid markdown for nbconvert to prefer (it needs mermaid.js from the network)
    assert not hasattr(g, "_repr_markdown_") and not hasattr(g, "_repr_html_")


def test_plots_returned_to_a_notebook_are_drawn_once():
    plt = pytest.importorskip("matplotlib.pyplot")
    import io
    plt.close("all")
    fig = viz.plot_history({"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6]})
    # the inline backend draws every figure still open in pyplot, and then the returned one: no open figure left
    assert plt.get_fignums() == []
    buf = io.BytesIO()
    fig.savefig(buf, format="png")                 # the returned figure still renders (Jupyter's display of it)
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
