"""The overfitting monitor: the rule on constructed loss sequences, and real training runs."""
import numpy as np
import pytest

import deepdive
import deepdive.layers as L
from deepdive.training import Sequential, detect_overfitting, OverfittingMonitor
from deepdive.training.monitor import regularization_in_use


def _overfit_curves(n=40, turn=15):
    """Training loss falling all along; validation loss falling until ``turn``, then rising steadily."""
    t = np.arange(n)
    train = 1.0 * np.exp(-t / 10) + 0.05
    val = np.where(t <= turn, 1.1 * np.exp(-t / 10) + 0.2, 1.1 * np.exp(-turn / 10) + 0.2 + 0.02 * (t - turn))
    return train, val


def test_detects_a_sustained_rise_with_a_real_gap():
    train, val = _overfit_curves()
    v = detect_overfitting(train, val)
    assert v["detected"]
    # epochs are 1-based in the verdict, as in the message and the progress bar
    assert v["best_epoch"] == 16 and v["best_val_loss"] == pytest.approx(val[15])
    assert 16 <= v["start_epoch"] <= 20
    assert f"started to overfit at epoch {v['start_epoch']}" in v["message"]
    for remedy in ("dropout", "weight decay", "EarlyStopping", "more training data"):
        assert remedy in v["message"]
    np.testing.assert_allclose(v["gap"], val - train)


def test_epoch_offset_shifts_the_reported_epochs():
    train, val = _overfit_curves()
    a, b = detect_overfitting(train, val), detect_overfitting(train, val, epoch_offset=10)
    assert b["start_epoch"] == a["start_epoch"] + 10 and b["best_epoch"] == a["best_epoch"] + 10
    assert f"epoch {b['start_epoch']}" in b["message"]


def test_tiny_rises_are_noise_not_overfitting():
    # the moons case: 0.07983 -> 0.08019 late in a long run, validation still below training loss
    rng = np.random.default_rng(0)
    train = 0.09 - 0.01 * np.linspace(0, 1, 150) + 0.002 * rng.standard_normal(150)
    val = 0.08 + 0.002 * rng.standard_normal(150)
    val[-4:] = [0.07983, 0.0799, 0.0800, 0.08019]
    assert not detect_overfitting(train, val)["detected"]
    # the old rule (3 rises in a row while training loss fell) fired on exactly this
    assert detect_overfitting(train, val, patience=1, window=1, min_rise=0, min_gap=-np.inf, noise_factor=0)["detected"]


def test_a_rise_while_validation_stays_below_training_loss_is_no_alarm():
    # the spirals case: dropout keeps training loss above validation loss; val 0.02269 -> 0.02453
    t = np.arange(60)
    train = 0.05 - 0.0002 * t
    val = np.where(t < 40, 0.03 - 0.0002 * t, 0.02269 + 0.0001 * (t - 40))
    assert not detect_overfitting(train, val)["detected"]


def test_a_spike_that_comes_back_is_withdrawn():
    train, val = _overfit_curves(n=60)
    val = np.where(np.arange(60) > 15, val[15], val).copy()
    val[20:30] += 0.3                       # ten bad epochs (a learning-rate spike) ...
    val[30:] = val[15] - 0.05               # ... then better than ever
    assert detect_overfitting(train[:30], val[:30])["detected"]
    assert not detect_overfitting(train, val)["detected"]


@pytest.mark.parametrize("train,val", [
    ([1.0, 0.8, 0.6, 0.5, 0.4, 0.3], [1.1, 0.9, 0.7, 0.6, 0.55, 0.5]),      # both falling: healthy
    ([1.0, 1.1, 1.2, 1.3, 1.4, 1.5] * 3, [1.0, 1.1, 1.2, 1.3, 1.4, 1.5] * 3),   # both rising: not overfitting
    ([1.0, 0.5, float("nan")] * 5, [1.0, 0.9, float("nan")] * 5),           # diverged: fit warns instead
])
def test_quiet_when_not_overfitting(train, val):
    v = detect_overfitting(train, val)
    assert not v["detected"] and v["message"] is None and v["start_epoch"] is None


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="3 validation losses"):
        detect_overfitting([1.0, 0.9, 0.8, 0.7], [1.0, 1.1, 1.2])


def test_advice_leaves_out_what_the_model_already_uses():
    train, val = _overfit_curves()
    msg = detect_overfitting(train, val, uses={"dropout", "early_stopping"})["message"]
    assert "already uses dropout and EarlyStopping" in msg and "weight decay" in msg
    assert "layers.Dropout" not in msg and "EarlyStopping(restore" not in msg
    msg = detect_overfitting(train, val, uses={"dropout", "weight_decay", "early_stopping"})["message"]
    assert "already uses dropout, weight decay / L2 and EarlyStopping" in msg and "smaller model" in msg


def test_regularization_in_use_reads_model_optimizer_and_callbacks():
    from deepdive.layers import regularizers
    from deepdive.training import EarlyStopping
    plain = Sequential([L.Dense(4, activation="relu"), L.Dense(1)])
    assert regularization_in_use(plain) == set()
    model = Sequential([L.Dense(4, activation="relu", kernel_regularizer=regularizers.L2(1e-3)), L.Dropout(0.2),
                        L.Dense(1)])
    assert regularization_in_use(model) == {"dropout", "weight_decay"}
    net = deepdive.nn.Sequential(deepdive.nn.Linear(2, 2), deepdive.nn.Dropout(0.5))
    opt = deepdive.optim.AdamW(net.parameters())
    assert regularization_in_use(net, opt, [EarlyStopping()]) == {"dropout", "weight_decay", "early_stopping"}


def test_monitor_callback_prints_once_at_the_end_and_records(capsys):
    class H:
        overfitting = None
    history = H()
    mon = OverfittingMonitor(history)
    mon.on_train_begin()
    train, val = _overfit_curves()
    for epoch, (loss, v) in enumerate(zip(train, val)):
        mon.on_epoch_end(epoch, {"loss": loss, "val_loss": v})
    assert capsys.readouterr().out == ""
    mon.on_train_end()
    assert capsys.readouterr().out.count("started to overfit") == 1
    assert history.overfitting["detected"] and history.overfitting["best_epoch"] == 16
    assert len(history.overfitting["gap"]) == 40 and mon.gaps[-1] == pytest.approx(val[-1] - train[-1])


def _mlp(hidden, in_dim, out_dim=1):
    return Sequential([L.Dense(hidden, activation="relu"), L.Dense(hidden, activation="relu"), L.Dense(out_dim)])


def test_real_overfitting_run_is_detected(capsys):
    deepdive.manual_seed(0)
    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 1))
    # tiny and very noisy, for a wide model: it memorises the noise within ~30 epochs, whatever the seed
    # (0..5 checked), and validation loss then climbs by 30-70%
    x = rng.standard_normal((12, 8)).astype(np.float32)
    y = (x @ w + 2.0 * rng.standard_normal((12, 1))).astype(np.float32)
    xv = rng.standard_normal((64, 8)).astype(np.float32)
    yv = (xv @ w + 1.0 * rng.standard_normal((64, 1))).astype(np.float32)
    model = _mlp(128, 8)
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, y, epochs=100, batch_size=16, validation_data=(xv, yv), verbose=0)
    v = history.overfitting
    assert v is not None and v["detected"], (history.history["loss"][-5:], history.history["val_loss"])
    val = history.history["val_loss"]
    loss = history.history["loss"]
    start = v["start_epoch"] - 1                                   # 1-based in the verdict
    assert min(val[start:]) >= v["best_val_loss"] and val[-1] > 1.05 * v["best_val_loss"]
    assert loss[-1] < loss[start - 1] and val[-1] > 1.1 * loss[-1]
    assert v["best_val_loss"] == pytest.approx(min(val))
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


# ------------------------------------------------ many seeds: regularised runs are quiet, noisy data is caught
# Scaled-down versions of the runs (moons 3,000 samples / 150 epochs; spirals with L2, Dropout and
# EarlyStopping). The old rule (3 rises in a row) flagged 3 of these 12 runs.
SEEDS = range(6)


def _moons_run(seed):
    from deepdive.datasets import make_moons
    deepdive.manual_seed(seed)
    x, y = make_moons(1500, noise=0.2, seed=seed)
    model = Sequential([L.Dense(32, activation="relu"), L.Dense(32, activation="relu"),
                        L.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model.fit(x, y, epochs=100, batch_size=64, validation_split=0.2, verbose=0)


def _spirals_run(seed):
    from deepdive.datasets import make_spirals
    from deepdive.layers import regularizers
    from deepdive.training import EarlyStopping
    deepdive.manual_seed(seed)
    x, y = make_spirals(900, seed=seed)
    model = Sequential([L.Dense(64, activation="relu", kernel_regularizer=regularizers.L2(1e-3)), L.Dropout(0.2),
                        L.Dense(64, activation="relu", kernel_regularizer=regularizers.L2(1e-3)), L.Dropout(0.2),
                        L.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model.fit(x, y, epochs=120, batch_size=32, validation_split=0.2, verbose=0,
                     callbacks=[EarlyStopping(patience=15, restore_best_weights=True)])


@pytest.mark.parametrize("run", [_moons_run, _spirals_run], ids=["moons", "spirals-l2-dropout-earlystopping"])
def test_well_regularised_long_runs_raise_no_alarm_over_many_seeds(run):
    alarms = {seed: run(seed).overfitting["message"] for seed in SEEDS}
    assert not any(alarms.values()), alarms


def test_the_demos_noisy_data_set_is_caught_over_many_seeds():
    # the MLP demo's task: 10 features, 15% of labels flipped; the post's SimpleNN and SGD(lr=0.1)
    from deepdive.datasets import make_classification
    from deepdive.demos.mlp import SimpleNN
    from deepdive.training import fit
    from deepdive.utils.data import DataLoader, TensorDataset
    caught = {}
    for seed in range(8):
        deepdive.manual_seed(seed)
        x, y = make_classification(n_samples=300, n_features=10, flip_y=0.15, seed=seed)
        train = DataLoader(TensorDataset(x[90:], y[90:]), batch_size=16, shuffle=True)
        model = SimpleNN(10, 20, 2)
        history = fit(model, train, deepdive.nn.CrossEntropyLoss(), deepdive.optim.SGD(model.parameters(), lr=0.1),
                      epochs=60, val_loader=[(x[:90], y[:90])], verbose=0)
        caught[seed] = history.overfitting["start_epoch"]
        if history.overfitting["detected"]:
            assert "Try: dropout" in history.overfitting["message"]
    assert all(caught.values()), caught


def test_epochs_are_numbered_from_1_in_messages_history_json_and_csv_files(tmp_path, capsys):
    import csv
    import json
    from deepdive.demos.run_folder import write_history
    from deepdive.training import CSVLogger, History, ProgressBar
    from deepdive.training.callbacks import CallbackList
    train, val = _overfit_curves()
    history = History()
    csv_logger = str(tmp_path / "log.csv")
    # the callbacks as the MLP demo drives them from its hand-written loop
    callbacks = CallbackList([history, ProgressBar(verbose=2), OverfittingMonitor(history), CSVLogger(csv_logger)],
                             model=_mlp(4, 1), params={"epochs": 40, "steps": 1})
    callbacks.on_train_begin()
    for epoch, (loss, v) in enumerate(zip(train, val)):
        callbacks.on_epoch_begin(epoch)
        callbacks.on_epoch_end(epoch, {"loss": float(loss), "val_loss": float(v)})
    callbacks.on_train_end()
    printed = capsys.readouterr().out
    v = history.overfitting
    assert v["detected"] and f"started to overfit at epoch {v['start_epoch']}" in printed
    assert "Epoch 1/40" in printed and "Epoch 40/40" in printed
    json_path, csv_path = write_history(str(tmp_path), history.history, v)
    saved = json.load(open(json_path))["overfitting"]
    for path in (csv_path, csv_logger):
        rows = list(csv.DictReader(open(path)))
        best_row = min(rows, key=lambda r: float(r["val_loss"]))
        assert int(rows[0]["epoch"]) == 1 and int(best_row["epoch"]) == saved["best_epoch"] == v["best_epoch"]
