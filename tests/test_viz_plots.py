"""The plots stay readable in a narrow window, and the per-model plots show what a model learned."""
import numpy as np
import pytest

import deepdive
import deepdive.nn as nn
from deepdive import viz

plt = pytest.importorskip("matplotlib.pyplot")


def _draw(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    FigureCanvasAgg(fig).draw()           # the returned figure is closed in pyplot: give it a canvas to draw on


def _tick_boxes(fig, ax, axis):
    renderer = fig.canvas.get_renderer()
    get = ax.get_xticklabels if axis == "x" else ax.get_yticklabels
    labels = get() + get(minor=True)
    return [t.get_window_extent(renderer) for t in labels if t.get_text() and t.get_visible()]


def _overlaps(boxes):
    return any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_weight_histograms_fit_a_narrow_page_without_overlapping_ticks_or_tiny_histograms():
    deepdive.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 2))     # 2.bias: two values
    tracker = viz.WeightTracker(model)
    tracker.on_epoch_begin(0)
    with deepdive.no_grad():
        for p in model.parameters():
            p.add_(0.01)
    tracker.on_epoch_end(0)
    fig = viz.plot_weight_histograms(tracker)
    _draw(fig)
    assert fig.get_size_inches()[0] <= 9.5
    titles = [ax.get_title() for ax in fig.axes if ax.axison]
    assert not any(t.startswith("2.bias") for t in titles) and len(titles) == 3 * 2     # 3 tensors, weights and update
    renderer = fig.canvas.get_renderer()
    title_boxes = [ax.title.get_window_extent(renderer) for ax in fig.axes if ax.axison]
    assert not _overlaps(title_boxes)
    assert "2.bias = [" in fig.get_supxlabel() if hasattr(fig, "get_supxlabel") else fig._supxlabel.get_text()
    for ax in fig.axes:
        if ax.axison:
            assert not _overlaps(_tick_boxes(fig, ax, "x")), ax.get_title()
            assert not _overlaps(_tick_boxes(fig, ax, "y")), ax.get_title()


def test_gradient_flow_groups_parameters_by_layer_and_names_every_one():
    deepdive.manual_seed(0)
    layers = []
    for _ in range(10):
        layers += [nn.Linear(4, 4), nn.Tanh()]
    model = nn.Sequential(*layers)                          # 20 parameters in 10 layers
    flow = viz.GradientFlow(model)
    for _ in range(3):
        model.zero_grad()
        model(deepdive.randn(8, 4)).sum().backward()
        flow.record()
    fig = viz.plot_gradient_flow(flow)
    assert len(fig.axes[0].get_lines()) == 10               # one line per layer, weight and bias together
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == [f"{2 * i} (Linear)" for i in range(10)]     # every layer in the legend, none hidden
    expected = np.sqrt(flow.history["0.weight"][0] ** 2 + flow.history["0.bias"][0] ** 2)
    assert fig.axes[0].get_lines()[0].get_ydata()[0] == pytest.approx(expected)
    assert fig.get_size_inches()[0] <= 9.5
    _draw(fig)
    for ax in fig.axes:
        assert not _overlaps(_tick_boxes(fig, ax, "x")) and not _overlaps(_tick_boxes(fig, ax, "y"))


def test_gradient_flow_ticks_stay_apart_when_norms_are_close():
    flow = {"layer1.weight": [0.35, 0.36, 0.355], "layer2.weight": [0.38, 0.385, 0.39]}
    fig = viz.plot_gradient_flow(flow)
    _draw(fig)
    for ax in fig.axes:
        assert not _overlaps(_tick_boxes(fig, ax, "x")), ax.get_xlabel()


def test_decision_boundary_of_a_many_feature_model_on_the_pca_plane(tmp_path):
    X, y = deepdive.datasets.make_classification(n_samples=120, n_features=10, seed=0)
    model = nn.Sequential(nn.Linear(10, 8), nn.ReLU(), nn.Linear(8, 2))
    fig = viz.plot_decision_boundary(model, X[:100], y[:100], X[100:], y[100:], project="pca")
    ax = fig.axes[0]
    assert "principal component" in ax.get_xlabel()
    centred = X[:100].numpy() - X[:100].numpy().mean(0)
    spread = np.linalg.svd(centred, compute_uv=False)[0] / np.sqrt(len(centred))
    xs = ax.collections[-2].get_offsets()[:, 0]             # training points at their projection
    assert np.std(xs) == pytest.approx(spread, rel=1e-4)
    with pytest.raises(ValueError, match="project='pca'"):
        viz.plot_decision_boundary(model, X, y)


def test_image_predictions_filters_and_forecast(tmp_path):
    images = deepdive.rand(6, 1, 8, 8)
    labels, predicted = deepdive.tensor([0, 1, 2, 3, 4, 5]), deepdive.tensor([0, 1, 2, 3, 4, 0])
    fig = viz.plot_image_predictions(images, labels, predicted)
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles[:5] == ["pred 0", "pred 1", "pred 2", "pred 3", "pred 4"] and titles[5] == "pred 0\n(true 5)"
    assert "5/6 right" in fig._suptitle.get_text()
    conv = nn.Conv2d(1, 4, 3)
    fig = viz.plot_filters(conv.weight)
    shown = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(shown) == 4 and np.allclose(shown[2], conv.weight.detach().numpy()[2, 0])
    windows, truth = deepdive.randn(10, 5, 1), deepdive.randn(10, 1)
    fig = viz.plot_forecast(windows, truth, truth + 0.5, n=3)
    assert "MAE 0.5" in fig.axes[-1].get_title()
    with pytest.raises(ValueError, match="plot_forecast needs as many"):
        viz.plot_forecast(windows, truth[:3], truth)
