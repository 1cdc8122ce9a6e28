"""make_xor: the XOR toy set (labels from the signs of the two inputs), seeded."""
import numpy as np

from deepdive.datasets import make_xor


def test_xor_labels_follow_the_signs_and_the_seed():
    X, y = make_xor(400, noise=0.0, seed=3)
    assert X.shape == (400, 2) and str(X.dtype) == "deepdive.float32" and str(y.dtype) == "deepdive.int64"
    x = X.numpy()
    np.testing.assert_array_equal(y.numpy(), ((x[:, 0] > 0) != (x[:, 1] > 0)).astype(np.int64))
    assert 0.35 < y.numpy().mean() < 0.65
    np.testing.assert_array_equal(make_xor(50, seed=1)[0].numpy(), make_xor(50, seed=1)[0].numpy())
    assert not np.array_equal(make_xor(50, seed=1)[0].numpy(), make_xor(50, seed=2)[0].numpy())
