"""End-to-end: the LSTM example learns its task; the generated sequence data sets are what they say."""
import importlib.util
import os

import numpy as np
import pytest

import deepdive
from deepdive.datasets import sine_waves, adding_problem, CharText

EXAMPLE = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "lstm_sequence.py")


def _load_example():
    spec = importlib.util.spec_from_file_location("lstm_sequence", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_example_loss_falls_well_below_its_start(cell):
    losses = _load_example().main(task="sine", cell=cell, steps=60, hidden_size=16, seq_len=15, batch_size=32,
                                  n_samples=512, verbose=False)
    assert len(losses) == 60 and all(np.isfinite(losses))
    start, end = losses[0], float(np.mean(losses[-10:]))
    assert end < 0.2 * start, f"loss went from {start:.4f} to {end:.4f}"
    assert end < 0.05          # better than repeating the last seen value (MSE ~0.05)


def test_sine_waves_shapes_and_continuation():
    X, y = sine_waves(n_samples=8, seq_len=12, horizon=3, noise=0.0, seed=1)
    assert X.shape == (8, 12, 1) and y.shape == (8, 3) and X.dtype == y.dtype == deepdive.float32
    # A noiseless sine satisfies x_{k+1} = 2 cos(w) x_k - x_{k-1}: recover w from the window, predict y.
    x = X._data[:, :, 0].astype(np.float64)
    two_cos_w = (x[:, 2] + x[:, 0]) / x[:, 1]
    predicted = two_cos_w * x[:, -1] - x[:, -2]
    np.testing.assert_allclose(predicted, y._data[:, 0], atol=1e-4)
    X2, _ = sine_waves(n_samples=8, seq_len=12, horizon=3, noise=0.0, seed=1)
    np.testing.assert_array_equal(X._data, X2._data)          # seeded
    with pytest.raises(ValueError, match="seq_len and horizon must be at least 1"):
        sine_waves(seq_len=0)


def test_adding_problem_targets_are_sums_of_the_two_marked_values():
    X, y = adding_problem(n_samples=50, seq_len=10, seed=3)
    assert X.shape == (50, 10, 2) and y.shape == (50, 1)
    values, markers = X._data[..., 0], X._data[..., 1]
    np.testing.assert_array_equal(markers.sum(1), 2)
    assert (markers[:, :5].sum(1) == 1).all()                 # one marker in each half
    np.testing.assert_allclose((values * markers).sum(1), y._data[:, 0], rtol=1e-6)
    assert abs(float(np.var(y._data)) - 1 / 6) < 0.08         # the "predict the mean" baseline, MSE ~ 1/6


def test_char_text_vocab_windows_and_batches():
    text = "to be or not to be"
    data = CharText(text, seq_len=5)
    assert data.vocab == sorted(set(text)) and data.vocab_size == 7
    assert data.decode(data.encode("not be")) == "not be"
    assert data.encode("be").dtype == deepdive.int64
    assert len(data) == len(text) - 5
    x, y = data[3]
    assert data.decode(x) == text[3:8] and data.decode(y) == text[4:9]
    assert data.decode(data[-1][1]) == text[-5:]
    batches = list(data.batches(batch_size=4, n_batches=3, seed=0))
    assert len(batches) == 3
    for bx, by in batches:
        assert bx.shape == by.shape == (4, 5) and bx.dtype == deepdive.int64
        np.testing.assert_array_equal(bx._data[:, 1:], by._data[:, :-1])     # y is x shifted by one
        for row in bx._data:
            assert data.decode(row) in text
    with pytest.raises(KeyError, match="not in the vocabulary"):
        data.encode("xyz")
    with pytest.raises(IndexError):
        data[len(data)]
    with pytest.raises(ValueError, match="need at least seq_len"):
        CharText("abc", seq_len=5)
