"""Weight initialisers by name, with Keras's formulas: ``Dense(8, kernel_initializer='he_normal')``.

An initialiser is called as ``init(shape, dtype)`` and returns a NumPy array
drawn from deepdive's one random source (``deepdive.manual_seed`` makes it
reproducible).

Fans (how many inputs / outputs a unit has) follow the weight's layout:
a 2-D Keras kernel is ``(in, out)``, so ``fan_in = shape[0]``, ``fan_out = shape[1]``;
a higher-rank weight is in PyTorch's layout ``(out, in, *kernel)`` (what
``Conv2D`` stores, so it can call ``F.conv2d`` directly), so
``fan_in = shape[1] * prod(kernel)``, ``fan_out = shape[0] * prod(kernel)``.

    name              distribution
    glorot_uniform    U(-l, l),  l = sqrt(6 / (fan_in + fan_out))         (Glorot & Bengio 2010)
    glorot_normal     truncated N(0, s), s = sqrt(2 / (fan_in + fan_out))
    he_uniform        U(-l, l),  l = sqrt(6 / fan_in)                      (He et al. 2015)
    he_normal         truncated N(0, s), s = sqrt(2 / fan_in)
    lecun_uniform     U(-l, l),  l = sqrt(3 / fan_in)
    lecun_normal      truncated N(0, s), s = sqrt(1 / fan_in)
    random_normal     N(0, 0.05)
    random_uniform    U(-0.05, 0.05)
    truncated_normal  N(0, 0.05) redrawn beyond 2 standard deviations
    orthogonal        Q of a QR decomposition (Saxe et al. 2014), rows or columns orthonormal
    zeros / ones      constants
"""
import numpy as np

from ..random import get_generator

__all__ = ["Initializer", "Constant", "Zeros", "Ones", "RandomNormal", "RandomUniform", "TruncatedNormal",
           "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform",
           "LecunNormal", "Orthogonal", "get", "compute_fans"]

# NOTE: the std of N(0, 1) truncated to [-2, 2] is 0.8796...; Keras divides by it so the
# truncated draw keeps the intended variance.
_TRUNCATED_STD = 0.87962566103423978


def compute_fans(shape):
    """(fan_in, fan_out) of a weight of ``shape`` (see the module docstring for the layouts)."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[2:]))
    return shape[1] * receptive, shape[0] * receptive


def _truncated_normal(shape, std):
    """N(0, std) with draws beyond 2 std redrawn (Keras's truncated normal)."""
    rng = get_generator()
    values = rng.standard_normal(shape)
    bad = np.abs(values) > 2
    while bad.any():
        values[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(values) > 2
    return values * std


class Initializer:
    """Base class: ``__call__(shape, dtype=np.float32) -> np.ndarray``."""

    def __call__(self, shape, dtype=np.float32):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=np.float32):
        return np.full(tuple(shape), self.value, dtype=dtype)


class Zeros(Constant):
    def __init__(self):
        super().__init__(0.0)


class Ones(Constant):
    def __init__(self):
        super().__init__(1.0)


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05):
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=np.float32):
        return get_generator().normal(self.mean, self.stddev, tuple(shape)).astype(dtype)


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05):
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype=np.float32):
        return get_generator().uniform(self.minval, self.maxval, tuple(shape)).astype(dtype)


class TruncatedNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05):
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=np.float32):
        return (self.mean + _truncated_normal(tuple(shape), self.stddev)).astype(dtype)


class VarianceScaling(Initializer):
    """Variance ``scale / n`` with n = fan_in, fan_out or their mean (``mode``); Keras's general form."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal"):
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError("VarianceScaling: distribution must be 'truncated_normal', 'untruncated_normal' or "
                             f"'uniform', got {distribution!r}")
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape, dtype=np.float32):
        shape = tuple(shape)
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = np.sqrt(3.0 * variance)
            values = get_generator().uniform(-limit, limit, shape)
        elif self.distribution == "truncated_normal":
            values = _truncated_normal(shape, np.sqrt(variance) / _TRUNCATED_STD)
        else:
            values = get_generator().normal(0.0, np.sqrt(variance), shape)
        return values.astype(dtype)

    def __repr__(self):
        return f"{type(self).__name__}(scale={self.scale}, mode={self.mode!r}, distribution={self.distribution!r})"


class GlorotUniform(VarianceScaling):
    def __init__(self):
        super().__init__(1.0, "fan_avg", "uniform")


class GlorotNormal(VarianceScaling):
    def __init__(self):
        super().__init__(1.0, "fan_avg", "truncated_normal")


class HeUniform(VarianceScaling):
    def __init__(self):
        super().__init__(2.0, "fan_in", "uniform")


class HeNormal(VarianceScaling):
    def __init__(self):
        super().__init__(2.0, "fan_in", "truncated_normal")


class LecunUniform(VarianceScaling):
    def __init__(self):
        super().__init__(1.0, "fan_in", "uniform")


class LecunNormal(VarianceScaling):
    def __init__(self):
        super().__init__(1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian draw, sign-corrected
    so it is uniformly distributed (Saxe et al. 2014); higher ranks are flattened to (shape[0], rest)."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=np.float32):
        shape = tuple(shape)
        rows, cols = shape[0], int(np.prod(shape[1:])) if len(shape) > 1 else 1
        flat = get_generator().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(flat)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(dtype)


_BY_NAME = {"zeros": Zeros, "ones": Ones, "constant": Constant, "random_normal": RandomNormal,
            "random_uniform": RandomUniform, "uniform": RandomUniform, "normal": RandomNormal,
            "truncated_normal": TruncatedNormal, "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
            "xavier_uniform": GlorotUniform, "xavier_normal": GlorotNormal, "he_uniform": HeUniform,
            "he_normal": HeNormal, "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
            "orthogonal": Orthogonal}


def get(identifier):
    """An initialiser from a name, an ``Initializer`` or any callable ``(shape, dtype) -> array``."""
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _BY_NAME:
            raise ValueError(f"Unknown initializer {identifier!r}. Valid names: {', '.join(sorted(_BY_NAME))}")
        return _BY_NAME[key]()
    if callable(identifier):
        return identifier
    raise TypeError(f"initializer must be a name or a callable, got {type(identifier).__name__}")
