"""compile / fit / evaluate / predict / summary, and the one engine serving PyTorch-style code too."""
import functools
import warnings

import numpy as np
import pytest

import deepdive
import deepdive.layers as L
from deepdive import nn, optim
from deepdive.nn import functional as F
from deepdive.training import Sequential, Model, LambdaCallback, TopKAccuracy, losses, metrics
from deepdive.training import fit as engine_fit
from deepdive.utils.data import DataLoader, TensorDataset
from parity import assert_close, require_torch

rng = np.random.default_rng(0)


def _blobs(n=120, classes=3, dim=4, seed=0):
    r = np.random.default_rng(seed)
    centers = r.standard_normal((classes, dim)) * 3
    y = r.integers(0, classes, n)
    x = (centers[y] + r.standard_normal((n, dim))).astype(np.float32)
    return x, y.astype(np.int64)


def _state(model):
    return {k: v._data.copy() for k, v in model.state_dict().items()}


# ------------------------------------------------------------------ the engine vs a hand-written loop
def test_model_fit_matches_hand_written_loop_epoch_by_epoch():
    x, y = _blobs(50)
    deepdive.manual_seed(0)
    model = Sequential([L.Dense(8, activation="tanh"), L.Dense(3)])
    model.build((None, 4))
    twin = Sequential([L.Dense(8, activation="tanh"), L.Dense(3)])
    twin.build((None, 4))
    twin.load_state_dict(model.state_dict())
    snapshots = []
    model.compile(optimizer=functools.partial(optim.SGD, lr=0.1, momentum=0.9), loss=nn.CrossEntropyLoss())
    history = model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0,
                        callbacks=[LambdaCallback(on_epoch_end=lambda e, logs: snapshots.append(_state(model)))])
    opt = optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(3):
        total = 0.0
        for start in range(0, 50, 16):
            xb, yb = deepdive.tensor(x[start:start + 16]), deepdive.tensor(y[start:start + 16])
            opt.zero_grad()
            loss = loss_fn(twin(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
        assert history.history["loss"][epoch] == pytest.approx(total / 50, rel=1e-6)
        for k, v in _state(twin).items():
            np.testing.assert_allclose(snapshots[epoch][k], v, rtol=1e-6, atol=1e-7, err_msg=f"epoch {epoch} {k}")
    assert history.history["lr"] == [0.1] * 3


def test_engine_fit_trains_plain_nn_module_with_dataloaders_like_a_hand_loop():
    x, y = _blobs(40)
    deepdive.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    twin = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    twin.load_state_dict(model.state_dict())
    data = TensorDataset(deepdive.tensor(x), deepdive.tensor(y))

    deepdive.manual_seed(123)
    loader = DataLoader(data, batch_size=8, shuffle=True)
    history = engine_fit(model, loader, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01), epochs=2,
                         val_loader=DataLoader(data, batch_size=16), metrics=["accuracy"], verbose=0)
    deepdive.manual_seed(123)
    loader = DataLoader(data, batch_size=8, shuffle=True)
    opt = optim.Adam(twin.parameters(), lr=0.01)
    losses_seen = []
    for epoch in range(2):
        total = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.cross_entropy(twin(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
        losses_seen.append(total / 40)
        iter(DataLoader(data, batch_size=16))    # fit's validation pass: each iterator draws a base seed, as in PyTorch
    np.testing.assert_allclose(history.history["loss"], losses_seen, rtol=1e-6)
    for (name, a), b in zip(model.state_dict().items(), twin.state_dict().values()):
        np.testing.assert_allclose(a._data, b._data, rtol=1e-6, atol=1e-7, err_msg=name)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert model.training                            # the mode is restored after validation


# ------------------------------------------------------------------ Keras workflow
def test_sequential_learns_and_history_has_keras_keys():
    x, y = _blobs(150)
    deepdive.manual_seed(0)
    model = Sequential([L.Dense(16, activation="relu", input_shape=(4,)), L.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=25, batch_size=16, validation_split=0.2, verbose=0)
    h = history.history
    assert list(h) == ["loss", "accuracy", "val_loss", "val_accuracy", "lr"]
    assert len(h["loss"]) == 25 and history.epoch == list(range(25))
    assert h["loss"][-1] < 0.5 * h["loss"][0] and h["val_accuracy"][-1] > 0.85
    assert model.history is history and history.params["epochs"] == 25
    loss, acc = model.evaluate(x, y)
    assert acc > 0.85 and loss < h["loss"][0]


def test_validation_split_holds_out_the_last_samples():
    x = np.arange(10, dtype=np.float32)[:, None]
    seen = {}

    class Spy(Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(1)

        def call(self, inputs):
            key = "train" if self.training else "val"
            seen.setdefault(key, set()).update(inputs._data[:, 0].tolist())
            return self.dense(inputs)
    model = Spy()
    model.build((None, 1))
    seen.clear()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, x, epochs=1, batch_size=4, validation_split=0.3, verbose=0)
    assert seen["val"] == {7.0, 8.0, 9.0} and seen["train"] == set(range(7))


def test_subclassed_model_with_forward_and_dataset_input():
    x, y = _blobs(64)

    class Net(Model):
        def __init__(self):
            super().__init__()
            self.hidden = nn.Linear(4, 8)                 # nn modules and Keras layers mix
            self.out = L.Dense(3)

        def forward(self, inputs):
            return self.out(self.hidden(inputs).relu())
    deepdive.manual_seed(0)
    model = Net()
    model.compile(optimizer=lambda params: optim.Adam(params, lr=0.05),
                  loss=losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    data = TensorDataset(deepdive.tensor(x), deepdive.tensor(y))
    history = model.fit(data, epochs=15, batch_size=16, validation_data=DataLoader(data, batch_size=32), verbose=0)
    assert history.history["accuracy"][-1] > 0.8
    assert model.evaluate(DataLoader(data, batch_size=32), return_dict=True)["accuracy"] > 0.8


def test_fit_continues_training_and_initial_epoch():
    x, y = _blobs(32)
    model = Sequential([L.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, verbose=0)
    opt = model.optimizer
    history = model.fit(x, y, epochs=5, initial_epoch=3, verbose=0)
    assert history.epoch == [3, 4] and model.optimizer is opt


def test_evaluate_and_predict():
    x, y = _blobs(37)
    model = Sequential([L.Dense(5, activation="relu"), L.Dropout(0.5), L.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy", "top_k_accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    pred = model.predict(x, batch_size=10)
    assert isinstance(pred, deepdive.Tensor) and tuple(pred.shape) == (37, 3) and not pred.requires_grad
    model.eval()
    full = model(deepdive.tensor(x))
    model.train()
    assert_close(pred, full, what="batched predict")
    p = full._data
    expected_loss = -np.log(np.clip(p[np.arange(37), y], 1e-7, 1 - 1e-7)).mean()
    loss, acc, top5 = model.evaluate(x, y, batch_size=8)
    assert loss == pytest.approx(expected_loss, rel=1e-5)
    assert acc == pytest.approx((p.argmax(1) == y).mean()) and top5 == 1.0
    d = model.evaluate(x, y, return_dict=True)
    assert list(d) == ["loss", "accuracy", "top_k_accuracy"]
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert isinstance(model.evaluate(x, y), float)


def test_regularization_penalty_is_added_to_the_loss():
    x = rng.standard_normal((20, 3)).astype(np.float32)
    y = rng.standard_normal((20, 1)).astype(np.float32)
    model = Sequential([L.Dense(1, kernel_regularizer=L.L2(0.5))])
    model.compile(optimizer="sgd", loss="mse")
    model.build((None, 3))
    k, b = model[0].kernel._data, model[0].bias._data
    mse = ((x @ k + b - y) ** 2).mean()
    assert model.evaluate(x, y) == pytest.approx(mse + 0.5 * (k ** 2).sum(), rel=1e-5)
    model.compile(optimizer="sgd", loss="mse", regularization=False)
    assert model.evaluate(x, y) == pytest.approx(mse, rel=1e-5)


# ------------------------------------------------------------------ losses and metrics
@pytest.mark.parametrize("name", ["mse", "mae", "binary_crossentropy", "categorical_crossentropy",
                                  "sparse_categorical_crossentropy"])
@pytest.mark.parametrize("from_logits", [False, True])
def test_named_losses_match_torch(name, from_logits):
    torch = require_torch()
    if from_logits and name in ("mse", "mae"):
        return
    logits = rng.standard_normal((6, 4)).astype(np.float32)
    labels = rng.integers(0, 4, 6)
    tl = torch.tensor(logits, requires_grad=True)
    if name in ("mse", "mae"):
        target = rng.standard_normal((6, 4)).astype(np.float32)
        pred = logits
        expected = getattr(torch.nn.functional, "mse_loss" if name == "mse" else "l1_loss")(tl, torch.tensor(target))
    elif name == "binary_crossentropy":
        target = rng.integers(0, 2, (6, 4)).astype(np.float32)
        pred = logits if from_logits else 1 / (1 + np.exp(-logits))
        expected = torch.nn.functional.binary_cross_entropy_with_logits(tl, torch.tensor(target))
    elif name == "categorical_crossentropy":
        target = np.eye(4, dtype=np.float32)[labels]
        pred = logits if from_logits else np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        expected = torch.nn.functional.cross_entropy(tl, torch.tensor(target))
    else:
        target = labels
        pred = logits if from_logits else np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        expected = torch.nn.functional.cross_entropy(tl, torch.tensor(labels))
    cls = type(losses.get(name))
    loss = cls(from_logits=True) if from_logits else losses.get(name)
    pd = deepdive.tensor(pred.astype(np.float32), requires_grad=True)
    value = loss(deepdive.tensor(target), pd)
    assert value.dtype == deepdive.float32
    assert value.item() == pytest.approx(expected.item(), rel=1e-4, abs=1e-6)
    value.backward()
    assert np.isfinite(pd.grad._data).all()
    if from_logits:
        expected.backward()
        assert_close(pd.grad, tl.grad, what=f"{name} grad")


def test_probability_losses_stay_finite_when_saturated():
    p = deepdive.tensor([[0.0, 1.0]], requires_grad=True)
    value = losses.get("categorical_crossentropy")(deepdive.tensor([[1.0, 0.0]]), p)
    assert np.isfinite(value.item()) and value.item() == pytest.approx(-np.log(1e-7), rel=1e-3)


def test_sparse_loss_on_sequences_and_binary_target_shapes():
    probs = deepdive.tensor(np.full((2, 3, 4), 0.25, np.float32))
    ids = deepdive.tensor(np.zeros((2, 3), np.int64))
    assert losses.get("sparse_categorical_crossentropy")(ids, probs).item() == pytest.approx(np.log(4), rel=1e-5)
    bce = losses.get("binary_crossentropy")(deepdive.tensor([1.0, 0.0]), deepdive.tensor([[0.5], [0.5]]))
    assert bce.item() == pytest.approx(np.log(2), rel=1e-5)


def test_accuracy_kind_is_chosen_from_shapes():
    acc = metrics.get("accuracy")
    assert acc(np.array([1, 0, 1]), np.array([[0.9], [0.2], [0.4]])) == pytest.approx(2 / 3)      # binary
    assert acc(np.array([2, 0]), np.array([[0.1, 0.2, 0.7], [0.5, 0.4, 0.1]])) == 1.0               # sparse
    assert acc(np.eye(3)[[1, 2]], np.array([[0.1, 0.8, 0.1], [0.5, 0.4, 0.1]])) == 0.5              # categorical
    top2 = TopKAccuracy(k=2)
    scores = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])
    top2.update_state(np.array([1, 0, 2]), scores)
    assert top2.result() == pytest.approx(1 / 3)
    mae = metrics.get("mae")
    mae.update_state(np.array([1.0, 2.0]), np.array([[1.5], [1.0]]))
    mae.update_state(np.array([0.0]), np.array([[3.0]]))
    assert mae.result() == pytest.approx((0.5 + 1.0 + 3.0) / 3)


def test_binary_accuracy_threshold_follows_from_logits():
    x = np.array([[2.0], [-2.0], [0.3], [-0.3]], np.float32)
    y = np.array([1, 0, 1, 0], np.float32)
    model = Sequential([L.Lambda(lambda t: t)])
    model.compile(optimizer="sgd", loss=losses.BinaryCrossentropy(from_logits=True), metrics=["accuracy"])
    model.build((None, 1))
    assert model.evaluate(x, y, return_dict=True)["accuracy"] == 1.0     # thresholded at 0 for logits


# ------------------------------------------------------------------ compile options
@pytest.mark.parametrize("name,cls,lr", [("sgd", "SGD", 0.01), ("adam", "Adam", 0.001), ("adamw", "AdamW", 0.001),
                                         ("rmsprop", "RMSprop", 0.001)])
def test_optimizer_names_use_keras_defaults(name, cls, lr):
    model = Sequential([L.Dense(1)])
    model.compile(optimizer=name, loss="mse")
    model.fit(np.ones((4, 2), np.float32), np.ones((4, 1), np.float32), epochs=1, verbose=0)
    assert isinstance(model.optimizer, getattr(optim, cls)) and model.optimizer.param_groups[0]["lr"] == lr


def test_optimizer_object_on_a_built_model():
    model = Sequential([L.Dense(1, input_shape=(2,))])
    opt = optim.SGD(model.parameters(), lr=0.5)
    model.compile(optimizer=opt, loss="mse")
    model.fit(np.ones((4, 2), np.float32), np.ones((4, 1), np.float32), epochs=1, verbose=0)
    assert model.optimizer is opt


def test_keras_style_loss_function_gets_y_true_first():
    calls = []

    def my_loss(y_true, y_pred):
        calls.append((tuple(y_true.shape), tuple(y_pred.shape)))
        return ((y_pred - y_true) ** 2).mean()
    model = Sequential([L.Dense(2)])
    model.compile(optimizer="sgd", loss=my_loss)
    model.fit(np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32), epochs=1, verbose=0, batch_size=4)
    assert calls[0] == ((4, 2), (4, 2))


# ------------------------------------------------------------------ summary
def test_summary_table():
    model = Sequential([L.Conv2D(4, 3, input_shape=(8, 8, 1)), L.BatchNormalization(), L.MaxPooling2D(),
                        L.Flatten(), L.Dense(10, activation="softmax")], name="cnn")
    text = model.summary(print_fn=None)
    lines = text.splitlines()
    assert lines[0] == 'Model: "cnn"'
    conv_params, bn_params, dense_params = 4 * 9 + 4, 4 * 4, 4 * 3 * 3 * 10 + 10
    assert any("(Conv2D)" in l and "(None, 6, 6, 4)" in l and l.rstrip().endswith(str(conv_params)) for l in lines)
    assert any("(BatchNormalization)" in l and l.rstrip().endswith(str(bn_params)) for l in lines)
    assert any("(MaxPooling2D)" in l and "(None, 3, 3, 4)" in l for l in lines)
    assert any("(Flatten)" in l and "(None, 36)" in l for l in lines)
    assert any("(Dense)" in l and "(None, 10)" in l and l.rstrip().endswith(str(dense_params)) for l in lines)
    total = conv_params + bn_params + dense_params
    assert f"Total params: {total:,}" in text and f"Trainable params: {total - 8:,}" in text
    assert "Non-trainable params: 8" in text                       # the moving mean and variance


def test_summary_prints_and_needs_a_built_model(capsys):
    model = Sequential([L.Dense(2)])
    with pytest.raises(ValueError, match="not been built"):
        model.summary()
    model(np.ones((3, 5), np.float32))
    text = model.summary()
    assert capsys.readouterr().out.strip() == text.strip() and "(None, 2)" in text and "12" in text


# ------------------------------------------------------------------ progress output
def test_verbose_levels(capsys):
    x, y = _blobs(16)
    model = Sequential([L.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""
    model.fit(x, y, epochs=2, verbose=1)            # stdout is not a terminal here: one plain line per epoch
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("Epoch 1/2") and "loss:" in lines[0] and "accuracy:" in lines[0]


# ------------------------------------------------------------------ errors
def test_fit_before_compile():
    with pytest.raises(RuntimeError, match="compile"):
        Sequential([L.Dense(1)]).fit(np.ones((2, 2)), np.ones((2, 1)))


def test_x_and_y_of_different_lengths():
    model = Sequential([L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="same number of samples, got 5 inputs and 4 targets"):
        model.fit(np.ones((5, 2)), np.ones((4, 1)), verbose=0)


def test_unknown_names_list_the_valid_ones():
    model = Sequential([L.Dense(1)])
    with pytest.raises(ValueError, match="Unknown loss 'msee'.*mse.*sparse_categorical_crossentropy"):
        model.compile(optimizer="sgd", loss="msee")
    with pytest.raises(ValueError, match="Unknown optimizer 'adamm'.*adam.*sgd"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match="Unknown metric 'acuracy'.*accuracy.*mae"):
        model.compile(optimizer="sgd", loss="mse", metrics=["acuracy"])
    with pytest.raises(ValueError, match="a loss is required"):
        model.compile(optimizer="sgd")


@pytest.mark.parametrize("split", [1.0, 1.5, -0.2])
def test_validation_split_outside_0_1(split):
    model = Sequential([L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="validation_split must be between 0 and 1"):
        model.fit(np.ones((10, 2)), np.ones((10, 1)), validation_split=split, verbose=0)


def test_other_data_errors():
    model = Sequential([L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="y .* is required"):
        model.fit(np.ones((4, 2)), verbose=0)
    with pytest.raises(ValueError, match="validation_split needs array inputs"):
        model.fit(DataLoader(TensorDataset(deepdive.ones(4, 2), deepdive.ones(4, 1))), validation_split=0.5)
    with pytest.raises(TypeError, match="Model\\(inputs, outputs\\)"):
        Model("inputs", "outputs")


class _TTY:
    """A text stream that says it is a terminal."""

    def __init__(self):
        self.parts = []

    def write(self, text):
        self.parts.append(text)

    def flush(self):
        pass

    def isatty(self):
        return True

    def text(self):
        return "".join(self.parts)


def test_progress_bar_on_a_terminal_uses_tqdm():
    pytest.importorskip("tqdm", reason="tqdm is not installed (progress bars): pip install -e \".[viz]\"")
    from deepdive.training import ProgressBar
    x, y = _blobs(40)
    model = Sequential([L.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    stream = _TTY()
    model.fit(x, y, epochs=2, batch_size=10, verbose=0, validation_data=(x, y),
              callbacks=[ProgressBar(verbose=1, stream=stream)])
    out = stream.text()
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "4/4" in out and "val_accuracy:" in out


def test_progress_without_tqdm_prints_lines_and_a_hint_once(monkeypatch):
    from deepdive.training import progress, ProgressBar
    monkeypatch.setattr(progress, "_tqdm", lambda: None)
    monkeypatch.setattr(progress, "_HINT_SHOWN", [False])
    x, y = _blobs(20)
    model = Sequential([L.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    stream = _TTY()
    for _ in range(2):
        model.fit(x, y, epochs=2, verbose=0, callbacks=[ProgressBar(verbose=1, stream=stream)])
    out = stream.text()
    assert out.count("install deepdive[viz]") == 1 and 'pip install -e ".[viz]"' in out and out.count("Epoch 2/2 - ") == 2


def test_sequential_input_add_pop_and_indexing():
    model = Sequential([L.Input(shape=(6,)), L.Dense(4, activation="relu")])
    assert len(model) == 1 and model[0].built and tuple(model[0].kernel.shape) == (6, 4)   # built at once
    model.add(L.Dense(2))
    assert len(model) == 2 and model[1].built and [type(l).__name__ for l in model] == ["Dense", "Dense"]
    assert model.pop() is not None and len(model) == 1 and list(model.state_dict()) == ["0.kernel", "0.bias"]
    assert tuple(Sequential([L.Dense(3, input_dim=5)])[0].kernel.shape) == (5, 3)      # Keras 2's input_dim
    with pytest.raises(ValueError, match="Input can only be the first"):
        model.add(L.Input(shape=(3,)))
    with pytest.raises(TypeError, match="expected a Layer or nn.Module"):
        model.add("dense")


def test_python_lists_are_data_and_bce_with_logits_module_thresholds_at_zero():
    model = Sequential([L.Lambda(lambda t: t)])
    model.compile(optimizer="sgd", loss=nn.BCEWithLogitsLoss(), metrics=["accuracy"])
    model.build((None, 1))
    logs = model.evaluate([[2.0], [-2.0], [0.3], [-0.3]], [[1.0], [0.0], [1.0], [0.0]], return_dict=True)
    assert logs["accuracy"] == 1.0


def test_seeded_shuffle_matches_a_hand_loop_over_the_same_permutations():
    x, y = _blobs(30)
    deepdive.manual_seed(3)
    model = Sequential([L.Dense(3, input_shape=(4,))])
    twin = Sequential([L.Dense(3, input_shape=(4,))])
    twin.load_state_dict(model.state_dict())
    model.compile(optimizer=functools.partial(optim.SGD, lr=0.05), loss=nn.CrossEntropyLoss())
    deepdive.manual_seed(7)
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)           # shuffle=True by default
    deepdive.manual_seed(7)
    opt = optim.SGD(twin.parameters(), lr=0.05)
    for epoch in range(2):
        order = deepdive.random.default_generator.permutation(30)
        total = 0.0
        for start in range(0, 30, 8):
            idx = order[start:start + 8]
            opt.zero_grad()
            loss = F.cross_entropy(twin(deepdive.tensor(x[idx])), deepdive.tensor(y[idx]))
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        assert history.history["loss"][epoch] == pytest.approx(total / 30, rel=1e-6)
    for (k, a), b in zip(model.state_dict().items(), twin.state_dict().values()):
        np.testing.assert_allclose(a._data, b._data, rtol=1e-6, atol=1e-7, err_msg=k)


def test_batches_must_be_input_target_pairs():
    model = nn.Linear(2, 1)
    with pytest.raises(TypeError, match=r"\(inputs, target\) pair"):
        engine_fit(model, [deepdive.ones(2, 2)], nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), verbose=0)


def test_nn_loss_module_is_not_a_layer_of_the_model_and_nn_modules_mix_in_sequential():
    model = Sequential([L.Input(shape=(4,)), nn.Linear(4, 8), nn.ReLU(), L.Dense(2)])
    model.compile(optimizer="sgd", loss=nn.CrossEntropyLoss())
    assert len(list(model.children())) == 3 and "loss" not in dict(model.named_children())
    text = model.summary(print_fn=None)
    assert "0 (Linear)" in text and "(None, 8)" in text and "Total params: 58" in text
    history = model.fit(*_blobs(16, classes=2), epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1


# ------------------------------------------------------------------ probability losses given logits
def _digits_logits_model(activation=None):
    deepdive.manual_seed(0)
    return Sequential([L.Dense(32, activation="relu"), L.Dense(10, activation=activation)])


def test_sparse_categorical_crossentropy_warns_on_outputs_that_are_not_probabilities():
    from deepdive.datasets.vision import load_digits
    images, labels = load_digits()
    x, y = images[:300].reshape(300, -1), labels[:300]
    model = _digits_logits_model()                          # no softmax: raw scores
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.warns(UserWarning, match=r"sparse_categorical_crossentropy: from_logits=False expects "
                                         r"probabilities.*outside \[0, 1\].*from_logits=True"):
        model.fit(x, y, epochs=1, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                      # the right choices are quiet
        model = _digits_logits_model()
        model.compile(optimizer=functools.partial(optim.Adam, lr=0.01),
                      loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        logits = model.fit(x, y, epochs=5, verbose=0).history["accuracy"][-1]
        model = _digits_logits_model("softmax")
        model.compile(optimizer=functools.partial(optim.Adam, lr=0.01), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        probs = model.fit(x, y, epochs=5, verbose=0).history["accuracy"][-1]
    assert logits > 0.7 and probs > 0.7


@pytest.mark.parametrize("name,target", [("categorical_crossentropy", np.eye(3, dtype=np.float32)[[0, 2, 1, 0]]),
                                         ("binary_crossentropy", np.array([[1.], [0.], [1.], [0.]], np.float32))])
def test_other_probability_losses_warn_on_scores(name, target):
    scores = deepdive.tensor(np.random.default_rng(0).standard_normal(target.shape).astype(np.float32) * 3)
    with pytest.warns(UserWarning, match=f"{name}: from_logits=False expects probabilities"):
        losses.get(name)(deepdive.tensor(target), scores)


def test_sparse_categorical_crossentropy_function_from_logits_matches_torch():
    torch = require_torch()
    scores = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    target = np.array([0, 3, 1, 1, 2])
    per_sample = losses.sparse_categorical_crossentropy(deepdive.tensor(target), deepdive.tensor(scores),
                                                        from_logits=True)
    assert tuple(per_sample.shape) == (5,)
    assert_close(per_sample, torch.nn.functional.cross_entropy(torch.tensor(scores), torch.tensor(target),
                                                               reduction="none"))
    probs = torch.softmax(torch.tensor(scores), 1)
    assert_close(losses.sparse_categorical_crossentropy(deepdive.tensor(target), deepdive.tensor(probs.numpy())),
                 -probs[torch.arange(5), torch.tensor(target)].log(), rtol=1e-5, atol=1e-6)
    model = Sequential([L.Dense(4)])                        # compile accepts the function (Keras's order)
    model.compile(optimizer="sgd", loss=lambda yt, yp: losses.sparse_categorical_crossentropy(yt, yp, True))
    assert np.isfinite(model.evaluate(scores, target))
