"""Recurrent layers: RNN, LSTM, GRU over whole sequences, and RNNCell, LSTMCell, GRUCell for one step.

The sequence layers stack ``num_layers`` layers (optionally in both directions);
each layer-direction is one fused op from ``deepdive.ops.recurrent`` (forward
loop over time, backpropagation through time written out). The cells are the
same equations for a single step, built from ordinary ops, for hand-written loops.

All initialise every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)),
as PyTorch does, and use PyTorch's parameter names and gate order, so state dicts
load both ways.
"""
import math
import numbers
import warnings

import numpy as np

from .. import _dtype
from ..ops.elementwise import relu, sigmoid, tanh
from ..ops.joining import cat, stack
from ..ops.linear import linear
from ..ops.recurrent import RNNSequence, LSTMSequence, GRUSequence
from ..tensor import Tensor, _wrap
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter
from .utils.rnn import PackedSequence, _packed_rows, _padded_index, _gather_rows

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
_WEIGHT_KINDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")


def _empty(*shape, dtype=None):
    return Tensor(*shape, dtype=dtype or _dtype.get_default_dtype())


def _reset_uniform(module):
    """Every parameter ~ U(-k, k), k = 1/sqrt(hidden_size) (PyTorch's RNN initialisation)."""
    stdv = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0
    for weight in module.parameters():
        init.uniform_(weight, -stdv, stdv)


# ---------------------------------------------------------------- sequence layers
class RNNBase(Module):
    """What RNN, LSTM and GRU share: the parameters of every layer and direction,
    the input / state checks, and the loop over layers.

    Parameters of layer k (``_reverse`` appended for the backward direction):
        weight_ih_lk (G*hidden_size, input_size or D*H_out), weight_hh_lk (G*hidden_size, H_out),
        bias_ih_lk, bias_hh_lk (G*hidden_size,), and for an LSTM with proj_size > 0 weight_hr_lk (proj_size,
        hidden_size); G gates (1 RNN, 4 LSTM, 3 GRU), D = 2 if bidirectional, H_out = proj_size or hidden_size.

    Every layer takes a padded tensor or a ``PackedSequence`` (and then returns one).
    """

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={num_layers}", stacklevel=3)
        for name, value in (("bias", bias), ("batch_first", batch_first)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} should be of type bool, got: {type(value).__name__}")
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
            if value <= 0:
                raise ValueError(f"{name} must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if not isinstance(proj_size, int) or isinstance(proj_size, bool) or proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        gate_size = _GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        real_hidden_size = proj_size or hidden_size
        self._flat_weights_names, self._all_weights = [], []
        for layer in range(num_layers):
            layer_input_size = input_size if layer == 0 else real_hidden_size * directions
            for direction in range(directions):
                suffix = "_reverse" if direction == 1 else ""
                shapes = {f"weight_ih_l{layer}{suffix}": (gate_size, layer_input_size),
                          f"weight_hh_l{layer}{suffix}": (gate_size, real_hidden_size)}
                if bias:
                    shapes[f"bias_ih_l{layer}{suffix}"] = (gate_size,)
                    shapes[f"bias_hh_l{layer}{suffix}"] = (gate_size,)
                if proj_size:
                    shapes[f"weight_hr_l{layer}{suffix}"] = (proj_size, hidden_size)
                for name, shape in shapes.items():
                    setattr(self, name, Parameter(_empty(*shape, dtype=dtype)))
                self._flat_weights_names.extend(shapes)
                self._all_weights.append(list(shapes))
        self.reset_parameters()

    def reset_parameters(self):
        _reset_uniform(self)

    def flatten_parameters(self):
        """A no-op: PyTorch packs the weights for cuDNN here; NumPy needs no packing."""

    @property
    def _flat_weights(self):
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # ------------------------------------------------------------ checks
    def check_input(self, input):
        weight = self.weight_ih_l0
        if input.dtype != weight.dtype:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype ({weight.dtype}). "
                             f"Convert input: input.to({weight.dtype}), or convert model: model.to({input.dtype})")
        if input.size(-1) != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {input.size(-1)}")

    def get_expected_hidden_size(self, input, batch_sizes=None):
        """(num_layers * num_directions, batch, H_out) for a batched 3-D ``input`` (or a packed one's data)."""
        if batch_sizes is not None:
            mini_batch = int(batch_sizes[0])
        else:
            mini_batch = input.size(0) if self.batch_first else input.size(1)
        return (self.num_layers * (2 if self.bidirectional else 1), mini_batch, self.proj_size or self.hidden_size)

    def _expected_state_sizes(self, input, batch_sizes=None):
        """The expected size of each state: h (proj_size if any), and for an LSTM c (hidden_size)."""
        hidden = self.get_expected_hidden_size(input, batch_sizes)
        return [hidden] if self.mode != "LSTM" else [hidden, hidden[:2] + (self.hidden_size,)]

    def check_hidden_size(self, hx, expected_hidden_size, msg="Expected hidden size {}, got {}"):
        if tuple(hx.shape) != expected_hidden_size:
            raise RuntimeError(msg.format(expected_hidden_size, list(hx.shape)))

    def _forward(self, input, states, state_names):
        """The shared forward: padded (batched or not) or packed input; returns (output, final states)."""
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, states, state_names)
        x, states, is_batched = self._prepare(input, states, state_names)
        output, finals = self._run_layers(x, states)
        return self._finish(output, finals, is_batched)

    def _forward_packed(self, packed, states, state_names):
        """A PackedSequence in, one out: the layers run over the padded, length-sorted batch, each
        sequence's rows held past its end (see ``ops.recurrent``), so the final states are those of
        every sequence's last valid step; states go in and come out in the caller's batch order."""
        data, batch_sizes = packed.data, packed.batch_sizes._data
        self.check_input(data)
        for state, label, expected in zip(states, state_names, self._expected_state_sizes(data, batch_sizes)):
            if state is not None:
                if state.dim() != 3:
                    raise RuntimeError(f"For packed input, {label} should be 3-D but got {state.dim()}-D tensor")
                self.check_hidden_size(state, expected, "Expected " + label + " size {}, got {}")
                if state.dtype != data.dtype:
                    raise RuntimeError(f"Input and hidden tensors are not the same dtype, found input tensor with "
                                       f"{data.dtype} and {label} tensor with {state.dtype}")
        if packed.sorted_indices is not None:
            states = [None if s is None else s[:, packed.sorted_indices] for s in states]
        x = _gather_rows([data], _padded_index(batch_sizes, batch_sizes.size), 0.0)    # (T, B, I), sorted
        output, finals = self._run_layers(x, states, batch_sizes)
        steps, rows = _packed_rows(batch_sizes)
        output = PackedSequence(output[_wrap(steps), _wrap(rows)], packed.batch_sizes, packed.sorted_indices,
                                packed.unsorted_indices)
        if packed.unsorted_indices is not None:
            finals = tuple(f[:, packed.unsorted_indices] for f in finals)
        return output, finals

    def _prepare(self, input, states, state_names):
        """Check ``input`` and the initial ``states`` (each a tensor or None); return them time-major and batched.

        Returns (x of shape (T, B, input_size), states each (L*D, B, H) or None, is_batched).
        """
        name = type(self).__name__
        if input.dim() not in (2, 3):
            tensor_word = " tensor" if self.mode.startswith("RNN") else ""
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D{tensor_word} instead")
        is_batched = input.dim() == 3
        given = [s for s in states if s is not None]
        if given:
            dims = tuple(s.dim() for s in states)
            want = 3 if is_batched else 2
            if any(d != want for d in dims):
                kind = "batched 3-D" if is_batched else "unbatched 2-D"
                if len(states) == 1:
                    raise RuntimeError(f"For {kind} input, hx should also be {want}-D but got {dims[0]}-D tensor")
                raise RuntimeError(f"For {kind} input, hx and cx should also be {want}-D but got "
                                   f"({dims[0]}-D, {dims[1]}-D) tensors")
        if not is_batched:
            input = input.unsqueeze(0 if self.batch_first else 1)
            states = [None if s is None else s.unsqueeze(1) for s in states]
        self.check_input(input)
        for state, label, expected in zip(states, state_names, self._expected_state_sizes(input)):
            if state is not None:
                self.check_hidden_size(state, expected, "Expected " + label + " size {}, got {}")
                if state.dtype != input.dtype:
                    raise RuntimeError(f"Input and hidden tensors are not the same dtype, found input tensor with "
                                       f"{input.dtype} and {label} tensor with {state.dtype}")
        x = input.transpose(0, 1) if self.batch_first else input
        return x, states, is_batched

    def _finish(self, output, finals, is_batched):
        """Back to the caller's layout: batch-first and/or unbatched as the input was."""
        if self.batch_first:
            output = output.transpose(0, 1)
        if not is_batched:
            output = output.squeeze(0 if self.batch_first else 1)
            finals = tuple(f.squeeze(1) for f in finals)
        return output, finals

    # ------------------------------------------------------------ the layers
    def _run_layers(self, x, states, batch_sizes=None):
        """Run every layer and direction over the time-major ``x`` (T, B, I).

        ``states``: the initial states, each (L*D, B, H) or None for zeros; ``batch_sizes``: for a packed
        batch (sorted, padded to T), the number of sequences running at each step.
        Returns output (T, B, D*H) and the final states, each stacked to (L*D, B, H).
        """
        directions = 2 if self.bidirectional else 1
        initial = [None if s is None else s.unbind(0) for s in states]
        finals = [[] for _ in states]
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                index = layer * directions + direction
                by_kind = {name[:name.rindex("_l")]: getattr(self, name) for name in self._all_weights[index]}
                weights = [by_kind.get(kind) for kind in _WEIGHT_KINDS]      # None: no bias / no projection
                s0 = [None if s is None else s[index] for s in initial]
                output, *last = self._sequence(x, s0, weights, direction == 1, batch_sizes)
                outputs.append(output)
                for collected, state in zip(finals, last):
                    collected.append(state)
            x = outputs[0] if directions == 1 else cat(outputs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        return x, tuple(stack(f, 0) for f in finals)

    def _sequence(self, x, initial_states, weights, reverse, batch_sizes):
        """One layer-direction over the sequence: returns (output, *final_states).

        ``weights``: [weight_ih, weight_hh, bias_ih, bias_hh, weight_hr], None where absent."""
        raise NotImplementedError


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) (or relu), layer after layer.

    Shape: input (L, N, H_in), or (N, L, H_in) with batch_first, or unbatched (L, H_in);
    h_0 (D*num_layers, N, H_out) or (D*num_layers, H_out), zeros if omitted.
    Returns output (L, N, D*H_out) (batch_first: (N, L, D*H_out)) and h_n (D*num_layers, N, H_out).

    Args:
        input_size, hidden_size (int); num_layers (int, default 1); nonlinearity ('tanh' | 'relu');
        bias (bool, True); batch_first (bool, False); dropout (float, 0: on the outputs of
        every layer but the last, in training); bidirectional (bool, False).

    Example::

        >>> rnn = nn.RNN(10, 20, 2)
        >>> output, hn = rnn(torch.randn(5, 3, 10), torch.randn(2, 3, 20))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, device=device, dtype=dtype)

    def _sequence(self, x, initial_states, weights, reverse, batch_sizes):
        return RNNSequence.apply(x, initial_states[0], *weights[:4], self.nonlinearity, reverse, batch_sizes)

    def forward(self, input, hx=None):
        output, (h_n,) = self._forward(input, [hx], ["hidden"])
        return output, h_n


class LSTM(RNNBase):
    """Long short-term memory (Hochreiter & Schmidhuber, 1997), PyTorch's gate order i, f, g, o:

        i = sigma(W_ii x + b_ii + W_hi h + b_hi)      f = sigma(W_if x + b_if + W_hf h + b_hf)
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)       o = sigma(W_io x + b_io + W_ho h + b_ho)
        c' = f * c + i * g                            h' = o * tanh(c')

    With ``proj_size`` P > 0 (Sak et al. 2014) the hidden state is projected, h' = W_hr (o * tanh(c')),
    weight_hr_lk of shape (P, hidden_size), and H_out = P (the cell state keeps hidden_size).

    Shape: input (L, N, H_in) / batch_first (N, L, H_in) / unbatched (L, H_in) / a PackedSequence;
    h_0 (D*num_layers, N, H_out), c_0 (D*num_layers, N, hidden_size), zeros if omitted.
    Returns output (L, N, D*H_out) (or a PackedSequence) and (h_n, c_n) shaped as (h_0, c_0).

    Args: as ``RNN`` without ``nonlinearity``, and proj_size (int, default 0: no projection).

    Example::

        >>> lstm = nn.LSTM(10, 20, 2, batch_first=True)
        >>> output, (hn, cn) = lstm(torch.randn(3, 5, 10))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device=device, dtype=dtype)

    def _sequence(self, x, initial_states, weights, reverse, batch_sizes):
        return LSTMSequence.apply(x, initial_states[0], initial_states[1], *weights[:4], reverse, weights[4],
                                  batch_sizes)

    def forward(self, input, hx=None):
        states = [None, None] if hx is None else list(hx)
        output, (h_n, c_n) = self._forward(input, states, ["hidden[0]", "hidden[1]"])
        return output, (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit (Cho et al., 2014), PyTorch's gate order r, z, n:

        r = sigma(W_ir x + b_ir + W_hr h + b_hr)      z = sigma(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h

    Shapes and arguments as ``RNN`` (without ``nonlinearity``).

    Example::

        >>> gru = nn.GRU(10, 20, bidirectional=True)
        >>> output, hn = gru(torch.randn(5, 3, 10))      # output (5, 3, 40), hn (2, 3, 20)
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def _sequence(self, x, initial_states, weights, reverse, batch_sizes):
        return GRUSequence.apply(x, initial_states[0], *weights[:4], reverse, batch_sizes)

    forward = RNN.forward


# ---------------------------------------------------------------- cells (one step, ordinary ops)
class RNNCellBase(Module):
    """Parameters shared by the cells: weight_ih (G*hidden, input), weight_hh (G*hidden, hidden),
    bias_ih, bias_hh (G*hidden,) or None."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = Parameter(_empty(num_chunks * hidden_size, input_size, dtype=dtype))
        self.weight_hh = Parameter(_empty(num_chunks * hidden_size, hidden_size, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(_empty(num_chunks * hidden_size, dtype=dtype))
            self.bias_hh = Parameter(_empty(num_chunks * hidden_size, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_uniform(self)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _prepare(self, input, states):
        """Check shapes; return (input, states) as 2-D batches (zeros for missing states) and is_batched."""
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        for k, state in enumerate(states):
            if state is not None and state.dim() not in (1, 2):
                what = "hidden" if len(states) == 1 else f"hx[{k}]"
                raise ValueError(f"{name}: Expected {what} to be 1D or 2D, got {state.dim()}D instead")
        is_batched = input.dim() == 2
        if not is_batched:
            input = input.unsqueeze(0)
            states = [None if s is None else s.unsqueeze(0) for s in states]
        if input.size(1) != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.size(1)} expected {self.input_size}")
        batch = input.size(0)
        prepared = []
        for k, state in enumerate(states):
            if state is None:
                prepared.append(_wrap(np.zeros((batch, self.hidden_size), dtype=input._data.dtype)))
                continue
            if state.size(0) != batch:
                raise RuntimeError(f"Input batch size {batch} doesn't match hidden{k} batch size {state.size(0)}")
            if state.size(1) != self.hidden_size:
                raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got {state.size(1)}, "
                                   f"expected {self.hidden_size}")
            prepared.append(state)
        return input, prepared, is_batched


class RNNCell(RNNCellBase):
    """One Elman step: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu).

    Shape: input (N, H_in) or (H_in); hidden (N, H_out) or (H_out), zeros if omitted -> h' like hidden.
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        input, (h,), is_batched = self._prepare(input, [hx])
        pre = linear(input, self.weight_ih, self.bias_ih) + linear(h, self.weight_hh, self.bias_hh)
        if self.nonlinearity == "tanh":
            h = tanh(pre)
        elif self.nonlinearity == "relu":
            h = relu(pre)
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return h if is_batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step (equations as ``LSTM``): (h', c') from input and (h, c).

    Shape: input (N, H_in) or (H_in); (h, c) each (N, H_out) or (H_out), zeros if omitted.
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        states = [None, None] if hx is None else list(hx)
        input, (h, c), is_batched = self._prepare(input, states)
        gates = linear(input, self.weight_ih, self.bias_ih) + linear(h, self.weight_hh, self.bias_hh)
        i, f, g, o = gates.chunk(4, 1)
        c = sigmoid(f) * c + sigmoid(i) * tanh(g)
        h = sigmoid(o) * tanh(c)
        return (h, c) if is_batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step (equations as ``GRU``): h' from input and h.

    Shape: input (N, H_in) or (H_in); hidden (N, H_out) or (H_out), zeros if omitted.
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        input, (h,), is_batched = self._prepare(input, [hx])
        input_r, input_z, input_n = linear(input, self.weight_ih, self.bias_ih).chunk(3, 1)
        hidden_r, hidden_z, hidden_n = linear(h, self.weight_hh, self.bias_hh).chunk(3, 1)
        r = sigmoid(input_r + hidden_r)
        z = sigmoid(input_z + hidden_z)
        n = tanh(input_n + r * hidden_n)
        h = n + z * (h - n)            # = (1 - z) * n + z * h
        return h if is_batched else h.squeeze(0)
