"""BatchNormalization and LayerNormalization, Keras-style, on ``F.batch_norm`` / ``F.layer_norm``.

    y = gamma * (x - mean) / sqrt(var + epsilon) + beta

BatchNormalization: in training, mean/var are the batch statistics over every
axis but ``axis``, and the moving averages are updated as
``moving = momentum * moving + (1 - momentum) * batch`` (Keras's momentum,
default 0.99; PyTorch's ``momentum`` is ``1 - `` this one). At inference the
moving averages are used. ``axis`` defaults to -1, the channel axis of Keras's
channels-last layout (what ``layers.Conv2D`` outputs by default); pass
``axis=1`` after channels-first convolutions. For (batch, features) input both
are the same axis. The moving variance is updated
with the unbiased batch variance, as PyTorch's BatchNorm does (Keras uses the
biased one; the difference is a factor n / (n - 1)).

LayerNormalization: mean/var over the trailing ``axis`` dims of each sample.
"""
import numpy as np

from ..tensor import _wrap
from . import initializers
from .layer import Layer

__all__ = ["BatchNormalization", "LayerNormalization"]


def _functional():
    from ..nn import functional
    return functional


class BatchNormalization(Layer):
    """Normalise each channel with batch statistics (training) or moving averages (inference).

    Shape: any (N, ..., C) with the channels on ``axis`` (default -1); output has the same shape.

    Args:
        axis: the channel axis (default -1, channels-last as Keras; 1 for channels-first).
        momentum: Keras's momentum for the moving averages (0.99).
        epsilon: added to the variance (1e-3, Keras's default; PyTorch's is 1e-5).
        center / scale: learn ``beta`` / ``gamma``.
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1], got {momentum}")
        self.axis, self.momentum, self.epsilon = int(axis), float(momentum), float(epsilon)
        self.center, self.scale = center, scale
        self._initializers = (beta_initializer, gamma_initializer, moving_mean_initializer,
                              moving_variance_initializer)
        self.beta_regularizer, self.gamma_regularizer = beta_regularizer, gamma_regularizer

    def build(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(f"BatchNormalization '{self.name}': expected input with a batch and a channel axis, "
                             f"got shape {list(input_shape)}")
        channels = input_shape[self.axis]
        beta_init, gamma_init, mean_init, var_init = self._initializers
        self.gamma = self.add_weight("gamma", (channels,), gamma_init, self.gamma_regularizer) if self.scale else None
        self.beta = self.add_weight("beta", (channels,), beta_init, self.beta_regularizer) if self.center else None
        self.register_buffer("moving_mean", _wrap(np.asarray(initializers.get(mean_init)((channels,)), np.float32)))
        self.register_buffer("moving_variance", _wrap(np.asarray(initializers.get(var_init)((channels,)),
                                                                  np.float32)))

    def call(self, inputs, training=None):
        x = inputs
        axis = self.axis % x.ndim
        if axis != 1:
            x = x.movedim(axis, 1)
        outputs = _functional().batch_norm(x, self.moving_mean, self.moving_variance, self.gamma, self.beta,
                                           training=bool(training), momentum=1.0 - self.momentum, eps=self.epsilon)
        if axis != 1:
            outputs = outputs.movedim(1, axis)
        return outputs

    def extra_repr(self):
        return f"axis={self.axis}, momentum={self.momentum}, epsilon={self.epsilon}"


class LayerNormalization(Layer):
    """Normalise each sample over its trailing ``axis`` dims (default the last), then scale and shift.

    Args:
        axis: -1 (default) or a tuple of trailing axes.  epsilon: 1e-3 (Keras's default).
        center / scale: learn ``beta`` / ``gamma`` over the normalised dims.
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.axis = tuple(axis) if isinstance(axis, (list, tuple)) else (int(axis),)
        self.epsilon, self.center, self.scale = float(epsilon), center, scale
        self._initializers = (beta_initializer, gamma_initializer)
        self.beta_regularizer, self.gamma_regularizer = beta_regularizer, gamma_regularizer

    def build(self, input_shape):
        ndim = len(input_shape)
        axes = sorted(a % ndim for a in self.axis)
        if axes != list(range(ndim - len(axes), ndim)):
            raise ValueError(f"LayerNormalization '{self.name}': axis {self.axis} must be the trailing axes of "
                             f"the input (shape {list(input_shape)})")
        self._normalized_shape = tuple(input_shape[a] for a in axes)
        beta_init, gamma_init = self._initializers
        self.gamma = self.add_weight("gamma", self._normalized_shape, gamma_init, self.gamma_regularizer) \
            if self.scale else None
        self.beta = self.add_weight("beta", self._normalized_shape, beta_init, self.beta_regularizer) \
            if self.center else None

    def call(self, inputs):
        return _functional().layer_norm(inputs, self._normalized_shape, self.gamma, self.beta, self.epsilon)

    def extra_repr(self):
        return f"axis={self.axis}, epsilon={self.epsilon}"
