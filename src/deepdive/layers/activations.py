"""Activations by name, as Keras spells them: ``Dense(32, activation='relu')``.

``get(name_or_callable)`` returns a function Tensor -> Tensor. The math lives in
``deepdive.ops`` / ``deepdive.nn.functional``; this module only maps Keras's names
onto it, looked up when first used (so it follows whatever ``nn.functional`` has).

    name                  function
    'linear' / None       identity
    'relu'                max(x, 0)
    'sigmoid'             1 / (1 + exp(-x))
    'tanh'                tanh(x)
    'softmax'             exp(x) / sum(exp(x)) over the last axis (Keras's default axis)
    'log_softmax'         log(softmax(x)) over the last axis
    'gelu'                x * Phi(x)  (exact erf form; PyTorch's default, Keras's approximate=False)
    'elu'                 x if x > 0 else exp(x) - 1
    'selu'                scale * elu(x, alpha) with the self-normalising constants
    'leaky_relu'          x if x > 0 else 0.2 * x   (Keras's default slope 0.2, not PyTorch's 0.01)
    'swish' / 'silu'      x * sigmoid(x)
    'softplus'            log(1 + exp(x))
"""

__all__ = ["get", "serialize", "ACTIVATIONS", "linear"]


def _functional():
    from ..nn import functional
    return functional


def linear(x):
    """The identity (Keras's 'linear' and ``activation=None``)."""
    return x


def _relu(x):
    return x.relu()


def _sigmoid(x):
    return x.sigmoid()


def _tanh(x):
    return x.tanh()


def _softmax(x):
    return _functional().softmax(x, dim=-1)


def _log_softmax(x):
    return _functional().log_softmax(x, dim=-1)


def _gelu(x):
    return _functional().gelu(x)


def _elu(x):
    return _functional().elu(x)


def _selu(x):
    return _functional().selu(x)


def _leaky_relu(x):
    return _functional().leaky_relu(x, 0.2)


def _silu(x):
    return _functional().silu(x)


def _softplus(x):
    return _functional().softplus(x)


ACTIVATIONS = {"linear": linear, "relu": _relu, "sigmoid": _sigmoid, "tanh": _tanh, "softmax": _softmax,
               "log_softmax": _log_softmax, "gelu": _gelu, "elu": _elu, "selu": _selu, "leaky_relu": _leaky_relu,
               "swish": _silu, "silu": _silu, "softplus": _softplus}
_NAMES = {fn: name for name, fn in ACTIVATIONS.items()}


def get(identifier):
    """A callable activation from a name, a callable (returned as is) or None (identity)."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in ACTIVATIONS:
            raise ValueError(f"Unknown activation {identifier!r}. Valid names: {', '.join(sorted(ACTIVATIONS))} "
                             "(or None, or any callable Tensor -> Tensor)")
        return ACTIVATIONS[key]
    if callable(identifier):
        return identifier
    raise TypeError(f"activation must be a name, a callable or None, got {type(identifier).__name__}")


def serialize(activation):
    """The Keras name of an activation (for ``get_config`` and ``summary``), or the callable's name."""
    return _NAMES.get(activation, getattr(activation, "__name__", type(activation).__name__))
