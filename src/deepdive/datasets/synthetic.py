"""Synthetic data sets, generated from a seed so every run and every machine sees the same data.

Each returns ``(X, y)`` tensors: X float32 of shape (n_samples, n_features),
y int64 class labels (float32 targets for regression).
"""
import numpy as np

from ..tensor import _wrap


def _rng(seed):
    return np.random.default_rng(seed)


def _finish(X, y, rng, shuffle=True):
    if shuffle:
        order = rng.permutation(len(X))
        X, y = X[order], y[order]
    return _wrap(np.ascontiguousarray(X, dtype=np.float32)), _wrap(np.ascontiguousarray(y))


def make_classification(n_samples=1000, n_features=10, n_informative=4, n_classes=2, flip_y=0.05, seed=0):
    """The post's task: ``n_features`` inputs, ``n_classes`` classes, a non-linear rule hidden in
    ``n_informative`` of the features, and a fraction ``flip_y`` of labels flipped at random
    (the noise a large network can memorise: this is what overfitting looks like).

    The class is the argmax of a small random tanh "teacher" network on the informative features.
    """
    if not 1 <= n_informative <= n_features:
        raise ValueError(f"make_classification: need 1 <= n_informative <= n_features, got {n_informative} and {n_features}")
    if n_classes < 2:
        raise ValueError(f"make_classification: n_classes must be at least 2, got {n_classes}")
    rng = _rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    w1 = rng.standard_normal((n_informative, 16)) * 1.5
    w2 = rng.standard_normal((16, n_classes))
    scores = np.tanh(X[:, :n_informative] @ w1) @ w2
    y = scores.argmax(1)
    flip = rng.random(n_samples) < flip_y
    y[flip] = rng.integers(0, n_classes, flip.sum())
    return _finish(X, y.astype(np.int64), rng)


def make_moons(n_samples=500, noise=0.1, seed=0):
    """Two interleaving half circles in 2-D (labels 0 and 1)."""
    rng = _rng(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    X = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], 1),
                        np.stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)], 1)])
    y = np.concatenate([np.zeros(n_out, np.int64), np.ones(n_in, np.int64)])
    X += rng.normal(0, noise, X.shape)
    return _finish(X, y, rng)


def make_circles(n_samples=500, noise=0.05, factor=0.5, seed=0):
    """A small circle inside a large one in 2-D."""
    rng = _rng(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    X = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], 1),
                        factor * np.stack([np.cos(t_in), np.sin(t_in)], 1)])
    y = np.concatenate([np.zeros(n_out, np.int64), np.ones(n_in, np.int64)])
    X += rng.normal(0, noise, X.shape)
    return _finish(X, y, rng)


def make_spirals(n_samples=600, n_classes=3, noise=0.2, turns=1.0, seed=0):
    """``n_classes`` interleaved spiral arms in 2-D (the classic non-linear toy problem)."""
    rng = _rng(seed)
    per = n_samples // n_classes
    X, y = [], []
    for c in range(n_classes):
        r = np.linspace(0.05, 1, per)
        theta = np.linspace(0, 2 * np.pi * turns, per) + 2 * np.pi * c / n_classes + rng.normal(0, noise, per) * r
        X.append(np.stack([r * np.cos(theta), r * np.sin(theta)], 1))
        y.append(np.full(per, c, np.int64))
    return _finish(np.concatenate(X), np.concatenate(y), rng)


def make_xor(n_samples=500, noise=0.1, seed=0):
    """XOR in 2-D: points uniform in [-1, 1]², label 1 where x0 and x1 have different signs. ``noise`` is the
    standard deviation of Gaussian jitter added after labelling (so points near the axes can cross them)."""
    rng = _rng(seed)
    X = rng.uniform(-1, 1, (n_samples, 2))
    y = ((X[:, 0] > 0) != (X[:, 1] > 0)).astype(np.int64)
    X += rng.normal(0, noise, X.shape)
    return _finish(X, y, rng)


def make_blobs(n_samples=500, n_features=2, centers=3, cluster_std=1.0, seed=0):
    """Gaussian clusters around random centres."""
    rng = _rng(seed)
    means = rng.uniform(-6, 6, (centers, n_features))
    labels = rng.integers(0, centers, n_samples)
    X = means[labels] + rng.normal(0, cluster_std, (n_samples, n_features))
    return _finish(X, labels.astype(np.int64), rng)


def make_regression(n_samples=500, n_features=1, noise=0.1, seed=0):
    """y = sin(3 x0) + 0.5 x1 + ... + noise: a smooth non-linear target (float32, shape (n, 1))."""
    rng = _rng(seed)
    X = rng.uniform(-1, 1, (n_samples, n_features))
    coef = np.concatenate([[0.0], rng.standard_normal(n_features - 1) * 0.5])
    y = np.sin(3 * X[:, 0]) + X @ coef + rng.normal(0, noise, n_samples)
    X32, y32 = _finish(X, y.astype(np.float32)[:, None], rng)
    return X32, y32
