"""The dead-ReLU rule: a unit is dead when it outputs 0 for every sample seen, not when half its outputs are 0."""
import numpy as np

import deepdive
import deepdive.layers as L
from deepdive import nn, viz
from deepdive.training import Sequential, fit
from deepdive.utils.data import DataLoader, TensorDataset


def test_half_zeros_is_healthy_and_a_unit_dead_for_every_sample_is_named():
    deepdive.manual_seed(0)
    lin = nn.Linear(4, 8)
    with deepdive.no_grad():
        lin.bias[:7] = -100.0                       # units 0-6 can never fire: dead
    model = nn.Sequential(nn.Sequential(lin, nn.ReLU()), nn.Linear(8, 2))
    stats = viz.ActivationStats(model)
    x = deepdive.randn(64, 4)
    model(x)
    row = stats.history["0.1"][0]
    assert row["zeros"] > 0.5                       # many zeros ...
    assert row["dead"] == 7 / 8                     # seven units are 0 for every sample
    assert stats.dead_units == {"0.1": (7, 8)}
    stats.on_train_end()
    assert stats.warnings == [stats.warnings[0]] and stats.warnings[0].startswith("0.1 (ReLU): 7 of its 8 units "
                                                                                   "output 0 for every sample seen")


def test_a_healthy_relu_layer_with_half_zeros_gets_no_warning():
    deepdive.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 64), nn.ReLU())
    with deepdive.no_grad():
        model[0].bias.zero_()
    stats = viz.ActivationStats(model)
    model(deepdive.randn(256, 4))
    assert 0.4 < stats.history["1"][0]["zeros"] < 0.6     # about half the outputs are 0: normal for ReLU
    stats.on_train_end()
    assert stats.warnings == []                           # the old rule said "50% ... (dead ReLUs)"


def test_keras_layers_are_named_with_type_and_activation_and_conv_units_are_channels():
    deepdive.manual_seed(0)
    model = Sequential([L.Conv2D(4, 3, data_format="channels_last", activation="relu", bias_initializer="zeros"),
                        L.Flatten(), L.Dense(2)])
    x = deepdive.randn(16, 6, 6, 1)
    model(x)
    conv = model.layers[0]
    with deepdive.no_grad():
        conv.bias[...] = -100.0
    stats = viz.ActivationStats(model)
    model.train()
    model(x)
    assert stats.dead_units == {"0": (4, 4)}              # 4 channels, not 4 * 4 * 4 positions
    stats.on_train_end()
    assert stats.warnings[0].startswith("0 (Conv2D, activation='relu'): 4 of its 4 units")


def _train(model, x, y, epochs, lr):
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    stats = viz.ActivationStats(model, every=5)
    fit(model, loader, nn.CrossEntropyLoss(), deepdive.optim.Adam(model.parameters(), lr=lr), epochs=epochs,
        callbacks=[stats], verbose=0)
    return stats


def test_no_dead_relu_warning_on_the_demo_models():
    from deepdive.datasets import make_classification
    from deepdive.datasets.vision import load_digits
    from deepdive.demos.cnn import DigitsCNN
    from deepdive.demos.mlp import SimpleNN
    deepdive.manual_seed(0)
    x, y = make_classification(n_samples=300, n_features=10, flip_y=0.15, seed=0)
    stats = _train(SimpleNN(10, 20, 2), x, y, epochs=30, lr=0.01)
    assert stats.warnings == [] and stats.history
    images, labels = load_digits()
    deepdive.manual_seed(0)
    stats = _train(DigitsCNN(), images[:600], labels[:600], epochs=4, lr=3e-3)
    assert set(stats.dead_units) == {"features.1", "features.4", "classifier.2"}
    assert stats.warnings == [], stats.warnings
    # their ReLUs do output many zeros: what the old rule mistook for dead units
    assert max(rows[-1]["zeros"] for rows in stats.history.values()) > 0.3
