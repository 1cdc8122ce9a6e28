"""Core Keras-style layers: Dense, Activation, Flatten, Dropout, Reshape, Permute, Lambda.

Each stores its configuration in ``__init__``, creates weights in ``build``
and does its math in ``call`` (delegating to ``deepdive`` ops /
``deepdive.nn.functional``). Shapes have the batch dimension first.
"""
from ..autograd.function import Function
from .layer import Layer
from . import activations

__all__ = ["Dense", "Activation", "Flatten", "Dropout", "Reshape", "Permute", "Lambda", "Identity"]


def _functional():
    from ..nn import functional
    return functional


class DenseFunction(Function):
    """y = x @ K + b   (x: (*, in), K: (in, units), b: (units,) or None).

    Backward: dx = g K^T,  dK = x^T g,  db = sum(g)   (x and g flattened to 2-D over the batch dims).

    NOTE: fused (one node instead of matmul + add) because Dense is the hot path of Keras-style
    ``fit``; it is ``F.linear`` with Keras's kernel layout (in, units) instead of PyTorch's (out, in).
    """

    @staticmethod
    def forward(ctx, x, kernel, bias):
        ctx.save_for_backward(x, kernel)
        y = x @ kernel
        if bias is not None:
            y += bias
        return y

    @staticmethod
    def backward(ctx, grad):
        x, kernel = ctx.saved_tensors
        need_x, need_k, need_b = ctx.needs_input_grad
        dx = grad @ kernel.T if need_x else None
        dk = db = None
        if need_k or need_b:
            g2 = grad.reshape(-1, grad.shape[-1]) if grad.ndim != 2 else grad
            if need_k:
                dk = (x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x).T @ g2
            if need_b:
                db = g2.sum(axis=0)
        return dx, dk, db

    graph_backward = backward     # operators and Tensor methods only: runs on Tensors too (create_graph)


class Dense(Layer):
    """y = activation(x @ kernel + bias)   (Keras's layout: ``kernel`` is (in_features, units)).

    Shape: (batch, ..., in_features) -> (batch, ..., units).

    Args:
        units: size of the output's last dimension.
        activation: a name from ``deepdive.layers.activations`` ('relu', 'softmax' ...), a callable or None.
        use_bias: add a learned ``bias`` of shape (units,).
        kernel_initializer / bias_initializer: names or callables (``deepdive.layers.initializers``);
            Keras's defaults 'glorot_uniform' / 'zeros' (PyTorch's ``nn.Linear`` uses kaiming-uniform).
        kernel_regularizer / bias_regularizer: e.g. ``L2(1e-4)``; ``fit`` adds the penalty to the loss.

    The same computation as ``nn.Linear`` with ``weight = kernel.T``.
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if int(units) <= 0:
            raise ValueError(f"Dense: units must be a positive integer, got {units}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer

    def build(self, input_shape):
        in_features = input_shape[-1]
        self.kernel = self.add_weight("kernel", (in_features, self.units), self.kernel_initializer,
                                      self.kernel_regularizer)
        self.bias = self.add_weight("bias", (self.units,), self.bias_initializer, self.bias_regularizer) \
            if self.use_bias else None

    def call(self, inputs):
        if inputs.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"Dense '{self.name}': expected inputs with last dimension {self.kernel.shape[0]} "
                             f"(the size it was built for), got shape {list(inputs.shape)}")
        return self.activation(DenseFunction.apply(inputs, self.kernel, self.bias))

    def extra_repr(self):
        return f"units={self.units}, activation={activations.serialize(self.activation)}, use_bias={self.use_bias}"


class Activation(Layer):
    """y = activation(x), the activation given by name or callable."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def extra_repr(self):
        return f"activation={activations.serialize(self.activation)}"


class Flatten(Layer):
    """(batch, d1, d2, ...) -> (batch, d1 * d2 * ...).

    ``data_format='channels_first'`` (Keras's argument) moves the channel axis last before flattening, so
    the features come in the same order as from a channels-last model; the default keeps the input's order.
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(f"Flatten: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
        self.data_format = data_format

    def call(self, inputs):
        if self.data_format == "channels_first" and inputs.ndim > 2:
            inputs = inputs.movedim(1, -1)
        return inputs.reshape(inputs.shape[0], -1)


class Dropout(Layer):
    """Inverted dropout: in training, zero each element with probability ``rate`` and scale the rest by
    1 / (1 - rate); identity at inference. (``rate`` is PyTorch's ``p``.)"""

    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate}")
        self.rate = float(rate)

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        return _functional().dropout(inputs, p=self.rate, training=True)

    def extra_repr(self):
        return f"rate={self.rate}"


class Reshape(Layer):
    """(batch, ...) -> (batch, *target_shape); one entry of target_shape may be -1."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(s) for s in target_shape)

    def call(self, inputs):
        return inputs.reshape((inputs.shape[0],) + self.target_shape)

    def extra_repr(self):
        return f"target_shape={self.target_shape}"


class Permute(Layer):
    """Permute the non-batch dims; ``dims`` are 1-based as in Keras: Permute((2, 1)) swaps dims 1 and 2."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        dims = tuple(int(d) for d in dims)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Permute: dims must be a permutation of 1..{len(dims)}, got {dims}")
        self.dims = dims

    def call(self, inputs):
        return inputs.permute(0, *self.dims)

    def extra_repr(self):
        return f"dims={self.dims}"


class Lambda(Layer):
    """Wrap any function Tensor -> Tensor as a layer (no weights)."""

    def __init__(self, function, **kwargs):
        super().__init__(**kwargs)
        self.function = function

    def call(self, inputs):
        return self.function(inputs)


class Identity(Layer):
    def call(self, inputs):
        return inputs
