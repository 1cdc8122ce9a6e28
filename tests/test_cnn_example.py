"""End to end: the digits CNN example learns real handwritten digits on a small budget."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))


def test_cnn_digits_learns():
    pytest.importorskip("sklearn", reason="scikit-learn is not installed (it bundles the digits): pip install -e \".[data]\"")
    import cnn_digits
    accuracy = cnn_digits.main(epochs=4, verbose=False)
    assert accuracy > 0.8, f"test accuracy {accuracy:.2%} after 4 epochs (chance is 10%; ~90% expected)"


def test_cnn_shapes():
    import deepdive
    import cnn_digits
    model = cnn_digits.DigitsCNN()
    assert tuple(model(deepdive.randn(5, 1, 8, 8)).shape) == (5, 10)
    assert sum(p.numel() for p in model.parameters()) == 16 * 9 + 16 + 32 * 16 * 9 + 32 + 128 * 64 + 64 + 64 * 10 + 10
