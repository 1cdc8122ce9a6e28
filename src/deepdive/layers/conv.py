"""Convolution and pooling layers, Keras-style, on ``deepdive.nn.functional``'s conv/pool ops.

NOTE on layout: as in Keras, these layers take channels-last input by default,
``(batch, height, width, channels)`` (``data_format='channels_last'``, or None),
so Keras programs and their image arrays work unchanged; the input is
transposed in and out around the channels-first op. Pass
``data_format='channels_first'`` for PyTorch's ``(batch, channels, height,
width)``, to mix with ``nn.Conv2d`` / ``nn.MaxPool2d`` code and data loaders
without transposes.

The kernel is stored in PyTorch's layout ``(filters, in_channels, kh, kw)``
(``nn.Conv2d.weight``'s), so ``call`` is one ``F.conv2d``.
"""
import numpy as np

from .layer import Layer
from . import activations

__all__ = ["Conv2D", "Conv1D", "MaxPooling2D", "AveragePooling2D", "MaxPooling1D", "GlobalAveragePooling2D",
           "GlobalMaxPooling2D", "Convolution2D", "MaxPool2D", "AvgPool2D"]


def _functional():
    from ..nn import functional
    return functional


def _tuple(value, n, what):
    if isinstance(value, int):
        return (value,) * n
    value = tuple(int(v) for v in value)
    if len(value) != n:
        raise ValueError(f"{what} must be an int or a tuple of {n} ints, got {value}")
    return value


def _check_padding(padding, cls):
    padding = padding.lower() if isinstance(padding, str) else padding
    if padding not in ("valid", "same"):
        raise ValueError(f"{cls}: padding must be 'valid' or 'same', got {padding!r}")
    return padding


def _check_format(data_format, cls):
    if data_format is None:             # Keras: keras.config.image_data_format(), 'channels_last' unless changed
        return "channels_last"
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError(f"{cls}: data_format must be 'channels_last' (N, H, W, C; the default, as Keras) or "
                         f"'channels_first' (N, C, H, W; PyTorch's layout), got {data_format!r}")
    return data_format


def _check_window_fits(layer, input_shape, window, dilation):
    """A 'valid' window larger than the input: say how the input was read, the usual cause being data in the
    other layout (PyTorch's (N, C, H, W) given to a channels_last layer, or the reverse)."""
    spatial = input_shape[1:-1] if layer.data_format == "channels_last" else input_shape[2:]
    extents = [(k - 1) * d + 1 for k, d in zip(window, dilation)]
    if all(size >= extent for size, extent in zip(spatial, extents)):
        return
    read = "(batch, *spatial, channels)" if layer.data_format == "channels_last" else "(batch, channels, *spatial)"
    other = "channels_first" if layer.data_format == "channels_last" else "channels_last"
    raise ValueError(f"{type(layer).__name__} '{layer.name}': input of shape {list(input_shape)} is read as {read} "
                     f"(data_format='{layer.data_format}'), so its spatial size {list(spatial)} is smaller than the "
                     f"window {extents}. If the data is laid out the other way, pass data_format='{other}' "
                     f"(or transpose it: channels last is x.permute(0, 2, 3, 1) for images).")


def _same_padding(sizes, kernel, strides, dilation):
    """Keras's 'same' padding per spatial dim: output = ceil(size / stride); the odd extra pixel
    goes after (bottom/right), as TensorFlow and PyTorch's padding='same' do."""
    pads = []
    for size, k, s, d in zip(sizes, kernel, strides, dilation):
        out = -(-size // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def _pad_input(x, pads, value=0.0):
    """Pad the trailing spatial dims; symmetric pads go to the op itself, so this is only for odd totals."""
    flat = []
    for before, after in reversed(pads):
        flat += [before, after]
    return _functional().pad(x, tuple(flat), value=value)


class Conv2D(Layer):
    """2-D convolution: y = activation(conv2d(x, kernel) + bias).

    Shape: (N, H, W, C_in) -> (N, H_out, W_out, filters) (channels_last, the default);
    (N, C_in, H, W) -> (N, filters, H_out, W_out) with channels_first. Here
    H_out = floor((H + pad - dilation * (kh - 1) - 1) / stride) + 1 ('valid': pad = 0;
    'same': H_out = ceil(H / stride)).

    Args:
        filters: output channels.  kernel_size, strides, dilation_rate: int or pair.
        padding: 'valid' (none) or 'same'.  groups: grouped convolution (depthwise when = C_in).
        data_format: 'channels_last' (default, Keras's NHWC; None means the same) or 'channels_first' (NCHW).
        activation, use_bias, kernel_initializer ('glorot_uniform'), bias_initializer ('zeros'),
        kernel_regularizer, bias_regularizer: as ``Dense``.
    """
    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.filters = int(filters)
        self.kernel_size = _tuple(kernel_size, self.rank, f"{cls}: kernel_size")
        self.strides = _tuple(strides, self.rank, f"{cls}: strides")
        self.dilation_rate = _tuple(dilation_rate, self.rank, f"{cls}: dilation_rate")
        self.padding = _check_padding(padding, cls)
        self.data_format = _check_format(data_format, cls)
        self.groups = int(groups)
        if self.filters % self.groups:
            raise ValueError(f"{cls}: filters ({self.filters}) must be divisible by groups ({self.groups})")
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer

    def _channels_axis(self):
        return 1 if self.data_format == "channels_first" else -1

    def build(self, input_shape):
        if len(input_shape) != self.rank + 2:
            layout = "(batch, channels, *spatial)" if self.data_format == "channels_first" else \
                "(batch, *spatial, channels)"
            raise ValueError(f"{type(self).__name__} '{self.name}': expected {self.rank + 2}-D input {layout} "
                             f"(data_format='{self.data_format}'), got shape {list(input_shape)}")
        in_channels = input_shape[self._channels_axis()]
        if in_channels % self.groups:
            raise ValueError(f"{type(self).__name__}: input channels ({in_channels}) must be divisible by "
                             f"groups ({self.groups})")
        self.kernel = self.add_weight("kernel", (self.filters, in_channels // self.groups) + self.kernel_size,
                                      self.kernel_initializer, self.kernel_regularizer)
        self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer, self.bias_regularizer) \
            if self.use_bias else None

    def _conv(self, x, padding):
        F = _functional()
        conv = F.conv2d if self.rank == 2 else F.conv1d
        return conv(x, self.kernel, self.bias, stride=self.strides, padding=padding,
                    dilation=self.dilation_rate, groups=self.groups)

    def call(self, inputs):
        x = inputs
        if self.padding == "valid":
            _check_window_fits(self, tuple(x.shape), self.kernel_size, self.dilation_rate)
        if self.data_format == "channels_last":
            x = x.permute(0, self.rank + 1, *range(1, self.rank + 1))
        padding = 0
        if self.padding == "same":
            pads = _same_padding(x.shape[2:], self.kernel_size, self.strides, self.dilation_rate)
            if all(before == after for before, after in pads):
                padding = tuple(before for before, _ in pads)
            else:
                x = _pad_input(x, pads)
        outputs = self.activation(self._conv(x, padding))
        if self.data_format == "channels_last":
            outputs = outputs.permute(0, *range(2, self.rank + 2), 1)
        return outputs

    def extra_repr(self):
        return (f"filters={self.filters}, kernel_size={self.kernel_size}, strides={self.strides}, "
                f"padding={self.padding!r}, activation={activations.serialize(self.activation)}")


class Conv1D(Conv2D):
    """1-D convolution over (N, L, C_in) (channels_last, default) or (N, C_in, L) (channels_first)."""
    rank = 1


Convolution2D = Conv2D


class _Pooling(Layer):
    rank = 2
    op = "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.pool_size = _tuple(pool_size, self.rank, f"{cls}: pool_size")
        self.strides = _tuple(strides if strides is not None else pool_size, self.rank, f"{cls}: strides")
        self.padding = _check_padding(padding, cls)
        self.data_format = _check_format(data_format, cls)

    def call(self, inputs):
        F = _functional()
        x = inputs
        if self.padding == "valid":
            _check_window_fits(self, tuple(x.shape), self.pool_size, (1,) * self.rank)
        if self.data_format == "channels_last":
            x = x.permute(0, self.rank + 1, *range(1, self.rank + 1))
        if self.padding == "same":
            pads = _same_padding(x.shape[2:], self.pool_size, self.strides, (1,) * self.rank)
            # NOTE: max pooling pads with -inf so padding never wins; average pooling pads with 0 and
            # (unlike Keras, which averages over the valid pixels only) counts the padded zeros.
            x = _pad_input(x, pads, value=-np.inf if self.op == "max" else 0.0)
        name = f"{self.op}_pool{self.rank}d"
        outputs = getattr(F, name)(x, self.pool_size, self.strides)
        if self.data_format == "channels_last":
            outputs = outputs.permute(0, *range(2, self.rank + 2), 1)
        return outputs

    def extra_repr(self):
        return f"pool_size={self.pool_size}, strides={self.strides}, padding={self.padding!r}"


class MaxPooling2D(_Pooling):
    """Max over pool_size windows (default 2x2, stride = pool_size): (N, H, W, C) -> (N, H', W', C)
    (channels_first: (N, C, H, W) -> (N, C, H', W'))."""


class AveragePooling2D(_Pooling):
    """Mean over pool_size windows (default 2x2, stride = pool_size)."""
    op = "avg"


class MaxPooling1D(_Pooling):
    """Max over windows of a (N, L, C) input ((N, C, L) with channels_first)."""
    rank = 1


MaxPool2D, AvgPool2D = MaxPooling2D, AveragePooling2D


class GlobalAveragePooling2D(Layer):
    """Mean over the spatial dims: (N, H, W, C) -> (N, C) (channels_last, default) or (N, C, H, W) -> (N, C)."""

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _check_format(data_format, type(self).__name__)
        self.keepdims = keepdims

    def _dims(self):
        return (2, 3) if self.data_format == "channels_first" else (1, 2)

    def call(self, inputs):
        return inputs.mean(dim=self._dims(), keepdim=self.keepdims)


class GlobalMaxPooling2D(GlobalAveragePooling2D):
    """Max over the spatial dims: (N, H, W, C) -> (N, C) (channels_first: (N, C, H, W) -> (N, C))."""

    def call(self, inputs):
        return inputs.amax(dim=self._dims(), keepdim=self.keepdims)
