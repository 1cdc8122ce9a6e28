"""Callbacks: hook order, EarlyStopping (restores the best weights, by value), ModelCheckpoint (only
improvements), ReduceLROnPlateau, LearningRateScheduler, CSVLogger, TerminateOnNaN, LambdaCallback."""
import csv
import functools
import math
import os

import numpy as np
import pytest

import deepdive
import deepdive.layers as L
from deepdive import nn, optim
from deepdive.training import (Sequential, Callback, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau,
                               LearningRateScheduler, CSVLogger, TerminateOnNaN, LambdaCallback, History)
from deepdive.training import fit as engine_fit
from deepdive.training import callbacks as callbacks_module


def _diverging_problem(seed=0):
    """Training targets y = x w; validation targets of the opposite sign, so validation loss soon rises."""
    r = np.random.default_rng(seed)
    w = r.standard_normal((3, 1))
    x = r.standard_normal((32, 3)).astype(np.float32)
    xv = r.standard_normal((16, 3)).astype(np.float32)
    return x, (x @ w).astype(np.float32), xv, (-0.3 * (xv @ w)).astype(np.float32)


def _model(seed=0):
    deepdive.manual_seed(seed)
    model = Sequential([L.Dense(1, input_shape=(3,))])
    model.compile(optimizer=lambda p: optim.SGD(p, lr=0.05), loss="mse")
    return model


def _weights(model):
    return {k: v._data.copy() for k, v in model.state_dict().items()}


def test_hooks_are_called_in_order():
    events = []
    names = ["on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_train_batch_end", "on_epoch_end",
             "on_train_end"]
    cb = LambdaCallback(**{n: (lambda n: lambda *a, **k: events.append(n))(n) for n in names})
    x, y, _, _ = _diverging_problem()
    _model().fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[cb])
    batch = ["on_train_batch_begin", "on_train_batch_end"] * 2
    epoch = ["on_epoch_begin"] + batch + ["on_epoch_end"]
    assert events == ["on_train_begin"] + epoch * 2 + ["on_train_end"]
    with pytest.raises(ValueError, match="unknown hook"):
        LambdaCallback(on_epoch_finish=print)


def test_callbacks_see_model_params_optimizer_and_logs():
    seen = {}

    class Spy(Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.setdefault("batch_logs", []).append(dict(logs))

        def on_epoch_end(self, epoch, logs=None):
            seen.update(model=self.model, params=self.params, lr=self.optimizer.param_groups[0]["lr"],
                        logs=dict(logs))
    x, y, xv, yv = _diverging_problem()
    model = _model()
    model.fit(x, y, epochs=1, batch_size=8, validation_data=(xv, yv), verbose=0, callbacks=[Spy()])
    assert seen["model"] is model and seen["params"] == {"epochs": 1, "steps": 4, "verbose": 0}
    assert seen["lr"] == 0.05 and set(seen["logs"]) == {"loss", "val_loss", "lr"}
    assert len(seen["batch_logs"]) == 4 and seen["batch_logs"][-1]["loss"] == pytest.approx(seen["logs"]["loss"])


def test_stop_training_from_a_callback():
    class StopAtTwo(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True
    x, y, _, _ = _diverging_problem()
    history = _model().fit(x, y, epochs=10, verbose=0, callbacks=[StopAtTwo()])
    assert history.epoch == [0, 1]


def test_early_stopping_restores_the_best_weights_by_value():
    x, y, xv, yv = _diverging_problem()
    model = _model()
    snapshots = []
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(_weights(model)))
    stopper = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = model.fit(x, y, epochs=50, batch_size=8, validation_data=(xv, yv), verbose=0,
                        callbacks=[record, stopper])
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    assert stopper.best_epoch == best and stopper.best == pytest.approx(val[best])
    assert stopper.stopped_epoch == len(val) - 1 == best + 2 and stopper.wait == 2
    assert len(val) < 50
    final = _weights(model)
    for k in final:
        np.testing.assert_array_equal(final[k], snapshots[best][k])
        assert not np.array_equal(final[k], snapshots[-1][k])
    np.testing.assert_array_equal(stopper.best_weights["0.kernel"], snapshots[best]["0.kernel"])


def test_early_stopping_rules_on_constructed_logs():
    class Dummy(nn.Module):
        pass
    es = EarlyStopping(monitor="val_accuracy", patience=1, min_delta=0.05)
    assert es.mode == "max"
    es.set_model(Dummy())
    es.model.stop_training = False
    es.on_train_begin()
    for epoch, acc in enumerate([0.5, 0.6, 0.62]):           # 0.62 is not an improvement of more than 0.05
        es.on_epoch_end(epoch, {"val_accuracy": acc})
    assert es.best == 0.6 and es.best_epoch == 1 and es.stopped_epoch == 2 and es.model.stop_training
    with pytest.raises(KeyError, match="'val_loss' is not in the logs"):
        EarlyStopping().on_epoch_end(0, {"loss": 1.0})
    with pytest.raises(ValueError, match="mode must be"):
        EarlyStopping(mode="minimum")


def test_model_checkpoint_saves_only_improvements(tmp_path):
    x, y, xv, yv = _diverging_problem()
    model = _model()
    snapshots = []
    path = os.path.join(tmp_path, "ckpt-{epoch:02d}-{val_loss:.3f}.safetensors")
    ckpt = ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(_weights(model)))
    history = model.fit(x, y, epochs=8, batch_size=8, validation_data=(xv, yv), verbose=0, callbacks=[record, ckpt])
    val = history.history["val_loss"]
    improving = [e for e in range(len(val)) if val[e] < min(val[:e], default=math.inf)]
    assert [e for e, _ in ckpt.saved] == improving and len(improving) < len(val)
    files = sorted(os.listdir(tmp_path))
    assert files == sorted(os.path.basename(p) for _, p in ckpt.saved)
    assert files[0] == f"ckpt-01-{val[0]:.3f}.safetensors"
    best_epoch, best_path = ckpt.saved[-1]
    fresh = _model(seed=5)
    fresh.load_state_dict(deepdive.load(best_path))
    for k, v in _weights(fresh).items():
        np.testing.assert_array_equal(v, snapshots[best_epoch][k])


def test_model_checkpoint_every_epoch(tmp_path):
    x, y, _, _ = _diverging_problem()
    ckpt = ModelCheckpoint(os.path.join(tmp_path, "sub", "m-{epoch}.safetensors"))
    _model().fit(x, y, epochs=3, verbose=0, callbacks=[ckpt])
    assert sorted(os.listdir(os.path.join(tmp_path, "sub"))) == ["m-1.safetensors", "m-2.safetensors",
                                                                  "m-3.safetensors"]


class _FakeOptimizer:
    def __init__(self, lr):
        self.param_groups = [{"lr": lr}, {"lr": lr}]


class _FakeTrainer:
    def __init__(self, lr):
        self.optimizer = _FakeOptimizer(lr)


def test_reduce_lr_on_plateau_with_cooldown_and_min_lr():
    cb = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, cooldown=1, min_lr=0.03)
    cb.set_trainer(_FakeTrainer(0.1))
    cb.on_train_begin()
    lrs = []
    for epoch, v in enumerate([1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.98, 0.99, 1.0, 1.0]):
        cb.on_epoch_end(epoch, {"val_loss": v})
        lrs.append(cb.optimizer.param_groups[0]["lr"])
    # plateau from epoch 2: reduce at epoch 3 (wait 2); epoch 4 ends the cooldown and, as in Keras, already
    # counts as a waiting epoch, so the next reduction is at epoch 5, down to the floor min_lr
    assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.03, 0.03, 0.03, 0.03, 0.03])
    assert cb.optimizer.param_groups[1]["lr"] == 0.03
    with pytest.raises(ValueError, match="factor must be < 1"):
        ReduceLROnPlateau(factor=2)


def test_reduce_lr_on_plateau_in_fit_records_lr():
    x, y, xv, yv = _diverging_problem()
    history = _model().fit(x, y, epochs=8, batch_size=8, validation_data=(xv, yv), verbose=0,
                           callbacks=[ReduceLROnPlateau(factor=0.5, patience=1, min_delta=0)])
    lr = history.history["lr"]
    assert lr[0] == 0.05 and lr[-1] < 0.05 and all(b <= a for a, b in zip(lr, lr[1:]))


def test_learning_rate_scheduler():
    x, y, _, _ = _diverging_problem()
    schedule = lambda epoch, lr: 0.1 * 0.5 ** epoch
    history = _model().fit(x, y, epochs=4, verbose=0, callbacks=[LearningRateScheduler(schedule)])
    assert history.history["lr"] == pytest.approx([0.1, 0.05, 0.025, 0.0125])
    with pytest.raises(ValueError, match="must return a number"):
        _model().fit(x, y, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda e, lr: "fast")])


def test_csv_logger(tmp_path):
    x, y, xv, yv = _diverging_problem()
    path = os.path.join(tmp_path, "log.csv")
    history = _model().fit(x, y, epochs=3, validation_data=(xv, yv), verbose=0, callbacks=[CSVLogger(path)])
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]              # numbered as printed
    assert set(rows[0]) == {"epoch", "loss", "val_loss", "lr"}
    np.testing.assert_allclose([float(r["val_loss"]) for r in rows], history.history["val_loss"], rtol=1e-6)
    _model().fit(x, y, epochs=1, verbose=0, callbacks=[CSVLogger(path, append=True)])
    with open(path) as f:
        assert len(list(csv.DictReader(f))) == 4                 # appended without a second header


def test_terminate_on_nan(capsys):
    x, y, _, _ = _diverging_problem()
    y = y.copy()
    y[0] = np.nan
    with pytest.warns(RuntimeWarning, match="batch's targets contain NaN"):
        history = _model().fit(x, y, epochs=5, batch_size=8, verbose=0, callbacks=[TerminateOnNaN()])
    assert len(history.epoch) == 1 and math.isnan(history.history["loss"][0])
    assert "invalid loss" in capsys.readouterr().out


def test_same_callbacks_drive_a_plain_pytorch_style_loop():
    x, y, xv, yv = _diverging_problem()
    deepdive.manual_seed(0)
    model = nn.Linear(3, 1)
    train = [(deepdive.tensor(x[i:i + 8]), deepdive.tensor(y[i:i + 8])) for i in range(0, 32, 8)]
    val = [(deepdive.tensor(xv), deepdive.tensor(yv))]
    stopper = EarlyStopping(patience=1, restore_best_weights=True)
    history = engine_fit(model, train, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05), epochs=40,
                         val_loader=val, callbacks=[stopper], verbose=0)
    assert isinstance(history, History) and len(history.epoch) < 40
    assert stopper.best_epoch == int(np.argmin(history.history["val_loss"]))
    np.testing.assert_array_equal(model.weight._data, stopper.best_weights["weight"])


def test_history_is_available_from_callbacks_module():
    assert callbacks_module.History is History


def test_one_argument_schedule_and_checkpoint_key_errors(tmp_path):
    x, y, _, _ = _diverging_problem()
    schedule = LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))
    history = _model().fit(x, y, epochs=2, verbose=0, callbacks=[schedule])
    assert history.history["lr"] == pytest.approx([0.01, 0.02])
    ckpt = ModelCheckpoint(os.path.join(tmp_path, "m-{val_loss:.2f}.safetensors"))
    with pytest.raises(KeyError, match="uses 'val_loss', which is not in the logs"):
        _model().fit(x, y, epochs=1, verbose=0, callbacks=[ckpt])


# ------------------------------------------------ non-finite losses: a warning by default, TerminateOnNaN in time
def _params_finite(model):
    return all(np.isfinite(p._data).all() for p in model.parameters())


@pytest.mark.parametrize("where", ["inputs", "targets"])
def test_fit_warns_at_the_first_nonfinite_loss_naming_epoch_batch_and_data(where):
    x, y, _, _ = _diverging_problem()
    x, y = x.copy(), y.copy()
    (x if where == "inputs" else y)[20] = np.nan            # sample 20: the third batch of 8
    with pytest.warns(RuntimeWarning) as record:
        _model().fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    messages = [str(w.message) for w in record if "loss is nan" in str(w.message)]
    assert len(messages) == 1, messages                     # once, at the first one
    assert "at epoch 1, batch 3 of" in messages[0] and f"batch's {where} contain NaN" in messages[0]
    assert "TerminateOnNaN" in messages[0]


def test_fit_warns_when_the_model_itself_diverges():
    x, y, _, _ = _diverging_problem()
    model = _model()
    model.compile(optimizer=functools.partial(deepdive.optim.SGD, lr=1e6), loss="mse")
    with pytest.warns(RuntimeWarning, match="inputs and targets are finite, so the model diverged: lower the "
                                            "learning rate"):
        model.fit(x, y * 1e3, epochs=3, batch_size=8, verbose=0)


def test_terminate_on_nan_stops_before_the_update_that_would_corrupt_the_weights(capsys):
    x, y, _, _ = _diverging_problem()
    x = x.copy()
    x[20] = np.nan
    model = _model()
    with pytest.warns(RuntimeWarning, match="epoch 1, batch 3"):
        history = model.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0, callbacks=[TerminateOnNaN()])
    assert len(history.epoch) == 1 and _params_finite(model)
    assert "invalid loss" in capsys.readouterr().out


def test_terminate_on_nan_keeps_weights_finite_when_the_learning_rate_blows_up(capsys):
    x, y, _, _ = _diverging_problem()
    model = _model()
    model.compile(optimizer=functools.partial(deepdive.optim.SGD, lr=1e6), loss="mse")
    with pytest.warns(RuntimeWarning):
        model.fit(x, y * 1e3, epochs=20, batch_size=8, verbose=0, callbacks=[TerminateOnNaN()])
    assert _params_finite(model)
    assert "terminating training" in capsys.readouterr().out
