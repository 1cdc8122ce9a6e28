"""The overfitting monitor: the rule on constructed loss sequences, and real training runs."""
import numpy as np
import pytest

import deepdive
import deepdive.layers as L
from deepdive.training import Sequential, detect_overfitting, OverfittingMonitor


def test_detects_rising_validation_loss_while_training_loss_falls():
    train = [1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2]
    val = [1.1, 0.9, 0.7, 0.75, 0.8, 0.9, 1.0]
    v = detect_overfitting(train, val)
    assert v["detected"] and v["start_epoch"] == 3 and v["best_epoch"] == 2 and v["best_val_loss"] == 0.7
    assert "started to overfit at epoch 4" in v["message"] and "Epoch 3 was best" in v["message"]
    for advice in ("dropout", "weight decay", "EarlyStopping", "more training data"):
        assert advice in v["message"]
    np.testing.assert_allclose(v["gap"], np.array(val) - np.array(train))


def test_reports_the_first_stretch_only_once_patience_is_reached():
    train = [1.0, 0.8, 0.6, 0.5, 0.4, 0.3]
    val = [1.0, 0.9, 0.8, 0.85, 0.9, 0.7]           # two rises only, then a fall: not yet overfitting
    assert not detect_overfitting(train, val)["detected"]
    assert detect_overfitting(train, val, patience=2)["detected"]
    assert detect_overfitting(train, val, patience=2)["start_epoch"] == 3


@pytest.mark.parametrize("train,val", [
    ([1.0, 0.8, 0.6, 0.5, 0.4, 0.3], [1.1, 0.9, 0.7, 0.6, 0.55, 0.5]),      # both falling: healthy
    ([1.0, 1.1, 1.2, 1.3, 1.4, 1.5], [1.0, 1.1, 1.2, 1.3, 1.4, 1.5]),      # both rising: divergence, not overfitting
    ([1.0, 0.9, 0.8, 0.7], [1.0, 1.1, 1.2]),                                 # too short? (mismatched: error)
])
def test_quiet_when_not_overfitting(train, val):
    if len(train) != len(val):
        with pytest.raises(ValueError, match="3 validation losses"):
            detect_overfitting(train, val)
        return
    v = detect_overfitting(train, val)
    assert not v["detected"] and v["message"] is None and v["start_epoch"] is None


def test_min_delta_ignores_tiny_rises_and_epoch_offset_shifts_numbers():
    train = [1.0, 0.9, 0.8, 0.7, 0.6]
    val = [0.5, 0.5001, 0.5002, 0.5003, 0.5004]
    assert detect_overfitting(train, val)["detected"]
    assert not detect_overfitting(train, val, min_delta=1e-3)["detected"]
    v = detect_overfitting(train, val, epoch_offset=10)
    assert v["start_epoch"] == 11 and v["best_epoch"] == 10 and "at epoch 12" in v["message"]


def test_monitor_callback_prints_once_and_records(capsys):
    class H:
        overfitting = None
    history = H()
    mon = OverfittingMonitor(history, patience=2)
    mon.on_train_begin()
    for epoch, (loss, val) in enumerate(zip([1, .8, .6, .5, .4, .3], [1, .9, 1., 1.1, 1.2, 1.3])):
        mon.on_epoch_end(epoch, {"loss": loss, "val_loss": val})
    out = capsys.readouterr().out
    assert out.count("started to overfit") == 1
    assert history.overfitting["detected"] and history.overfitting["start_epoch"] == 2
    assert len(history.overfitting["gap"]) == 6 and mon.gaps[-1] == pytest.approx(1.0)


def _mlp(hidden, in_dim, out_dim=1):
    return Sequential([L.Dense(hidden, activation="relu"), L.Dense(hidden, activation="relu"), L.Dense(out_dim)])


def test_real_overfitting_run_is_detected(capsys):
    deepdive.manual_seed(0)
    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 1))
    x = rng.standard_normal((16, 8)).astype(np.float32)
    y = (x @ w + 1.0 * rng.standard_normal((16, 1))).astype(np.float32)       # tiny, noisy: easy to memorise
    xv = rng.standard_normal((64, 8)).astype(np.float32)
    yv = (xv @ w + 1.0 * rng.standard_normal((64, 1))).astype(np.float32)
    model = _mlp(64, 8)
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, y, epochs=100, batch_size=16, validation_data=(xv, yv), verbose=0)
    v = history.overfitting
    assert v is not None and v["detected"], (history.history["loss"][-5:], history.history["val_loss"])
    val = history.history["val_loss"]
    loss = history.history["loss"]
    start = v["start_epoch"]
    assert all(val[t] > val[t - 1] for t in range(start, start + 3))
    assert loss[start + 2] < loss[start - 1]
    assert v["best_val_loss"] == pytest.approx(min(val[:start + 3]))
    assert capsys.readouterr().out == ""                           # verbose=0 keeps it silent
    assert len(v["gap"]) == len(val)


def test_real_healthy_run_stays_quiet(capsys):
    deepdive.manual_seed(0)
    rng = np.random.default_rng(1)
    w = rng.standard_normal((4, 1))
    x = rng.standard_normal((256, 4)).astype(np.float32)
    y = (x @ w).astype(np.float32)
    model = Sequential([L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(x, y, epochs=8, batch_size=32, validation_split=0.25, verbose=2)
    assert not history.overfitting["detected"]
    out = capsys.readouterr().out
    assert "overfit" not in out and out.count("Epoch ") == 8
    assert history.history["val_loss"][-1] < history.history["val_loss"][0]


def test_monitor_off_without_validation_or_when_disabled():
    x = np.ones((8, 2), np.float32)
    model = Sequential([L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    assert model.fit(x, x[:, :1], epochs=1, verbose=0).overfitting is None
    h = model.fit(x, x[:, :1], epochs=1, verbose=0, validation_data=(x, x[:, :1]), monitor_overfitting=False)
    assert h.overfitting is None
