"""Recurrent layers, Keras-style: LSTM, GRU, SimpleRNN over (batch, time, features).

Each wraps the fused ``deepdive.nn`` recurrent module (``nn.LSTM`` / ``nn.GRU`` /
``nn.RNN`` with ``batch_first=True``), created in ``build`` once the feature
size is known, and re-initialised with Keras's defaults: input kernel
glorot-uniform, recurrent kernel orthogonal, biases zero with the LSTM's
forget-gate bias 1 (``unit_forget_bias``, Jozefowicz et al. 2015). The weights
keep PyTorch's names and gate order (``rnn.weight_ih_l0`` ...). Keras's GRU
default ``reset_after=True`` is PyTorch's formulation
(n = tanh(W_in x + b_in + r * (W_hn h + b_hn))).

Shapes: (batch, time, features) -> (batch, units), or (batch, time, units) with
``return_sequences=True``; ``return_state=True`` returns ``[output, h]`` (GRU,
SimpleRNN) or ``[output, h, c]`` (LSTM), states of shape (batch, units).
"""
from .layer import Layer
from . import initializers

__all__ = ["LSTM", "GRU", "SimpleRNN"]


class _Recurrent(Layer):
    module_name = "LSTM"
    n_gates = 4
    n_states = 1

    def __init__(self, units, return_sequences=False, return_state=False, use_bias=True, go_backwards=False,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 activation="tanh", **kwargs):
        super().__init__(**kwargs)
        if int(units) <= 0:
            raise ValueError(f"{type(self).__name__}: units must be a positive integer, got {units}")
        self.units = int(units)
        self.return_sequences, self.return_state = return_sequences, return_state
        self.use_bias, self.go_backwards = use_bias, go_backwards
        self.kernel_initializer, self.recurrent_initializer = kernel_initializer, recurrent_initializer
        self.bias_initializer = bias_initializer
        self._check_activation(activation)

    def _check_activation(self, activation):
        allowed = ("tanh", "relu") if self.module_name == "RNN" else ("tanh",)
        if activation not in allowed:
            raise ValueError(f"{type(self).__name__}: the fused recurrent op supports activation "
                             f"{' or '.join(map(repr, allowed))}, got {activation!r}")
        self.activation = activation

    def _make_module(self, input_size):
        from .. import nn
        cls = getattr(nn, self.module_name)
        kwargs = {"nonlinearity": self.activation} if self.module_name == "RNN" else {}
        return cls(input_size, self.units, bias=self.use_bias, batch_first=True, **kwargs)

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{type(self).__name__} '{self.name}': expected input of shape (batch, time, features), "
                             f"got {list(input_shape)}")
        self.rnn = self._make_module(input_shape[-1])
        self._keras_init()

    def _keras_init(self):
        kernel_init = initializers.get(self.kernel_initializer)
        recurrent_init = initializers.get(self.recurrent_initializer)
        bias_init = initializers.get(self.bias_initializer)
        H, G = self.units, self.n_gates
        rnn = self.rnn
        # NOTE: the initialisers see Keras's kernel layout (in, G*H) and the result is transposed into
        # PyTorch's (G*H, in), so fans and orthogonality are those of the Keras kernel.
        rnn.weight_ih_l0._data[...] = kernel_init((rnn.weight_ih_l0.shape[1], G * H)).T
        rnn.weight_hh_l0._data[...] = recurrent_init((H, G * H)).T
        if self.use_bias:
            rnn.bias_ih_l0._data[...] = bias_init((G * H,))
            rnn.bias_hh_l0._data[...] = 0.0
            if self.module_name == "LSTM":
                rnn.bias_ih_l0._data[H:2 * H] = 1.0      # forget gate (PyTorch order i, f, g, o)

    def _initial_state(self, initial_state):
        if initial_state is None:
            return None
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        if len(states) != self.n_states:
            raise ValueError(f"{type(self).__name__}: initial_state must be {self.n_states} tensor(s) of shape "
                             f"(batch, {self.units}), got {len(states)}")
        states = [s.unsqueeze(0) for s in states]
        return tuple(states) if self.n_states > 1 else states[0]

    def call(self, inputs, initial_state=None):
        x = inputs.flip(1) if self.go_backwards else inputs
        output, state = self.rnn(x, self._initial_state(initial_state))
        states = list(state) if isinstance(state, tuple) else [state]
        states = [s[0] for s in states]             # (1, batch, units) -> (batch, units)
        if not self.return_sequences:
            output = states[0]
        return [output] + states if self.return_state else output

    def extra_repr(self):
        return f"units={self.units}, return_sequences={self.return_sequences}, return_state={self.return_state}"


class LSTM(_Recurrent):
    """Long short-term memory (Hochreiter & Schmidhuber 1997) over (batch, time, features).

        i, f, o = sigmoid(W_i x + U_i h + b_i), ...;  g = tanh(W_g x + U_g h + b_g)
        c' = f * c + i * g;  h' = o * tanh(c')
    """
    module_name, n_gates, n_states = "LSTM", 4, 2


class GRU(_Recurrent):
    """Gated recurrent unit (Cho et al. 2014), Keras's reset_after=True form (= PyTorch's).

        r, z = sigmoid(W x + U h + b);  n = tanh(W_n x + b_in + r * (U_n h + b_hn));  h' = (1 - z) * n + z * h
    """
    module_name, n_gates, n_states = "GRU", 3, 1


class SimpleRNN(_Recurrent):
    """Elman RNN: h' = tanh(W x + U h + b) (or relu with activation='relu')."""
    module_name, n_gates, n_states = "RNN", 1, 1
