"""Recurrent layers: gradcheck of the fused ops, PyTorch parity of RNN/LSTM/GRU and the cells
(outputs, final states and every gradient, in float64 and float32), shapes, init and errors."""
import math

import numpy as np
import pytest

import deepdive
import deepdive.nn as nn
from deepdive.ops.recurrent import RNNSequence, LSTMSequence, GRUSequence
from parity import assert_close, gradcheck, require_torch

rng = np.random.default_rng(0)
T, B, I, H = 4, 3, 5, 6


@pytest.fixture(params=["0", "1"], ids=["numpy", "numba"])
def engine(request, monkeypatch):
    """Both paths of the fused ops: NumPy (DEEPDIVE_NUMBA=0) and the compiled twins where numba is installed."""
    monkeypatch.setenv("DEEPDIVE_NUMBA", request.param)
    return request.param


# ---------------------------------------------------------------- fused ops: gradcheck
def _op_inputs(gates, bias, initial, n_states=1):
    """Tiny float64 inputs for a fused op: x, states, w_ih, w_hh, b_ih, b_hh (None where absent)."""
    x = rng.standard_normal((3, 2, 3))
    states = [rng.standard_normal((2, 2)) if initial else None for _ in range(n_states)]
    w_ih, w_hh = rng.standard_normal((gates * 2, 3)) * 0.7, rng.standard_normal((gates * 2, 2)) * 0.7
    biases = [rng.standard_normal(gates * 2), rng.standard_normal(gates * 2)] if bias else [None, None]
    return [x, *states, w_ih, w_hh, *biases]


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias,initial", [(True, True), (False, False), (True, False)])
@pytest.mark.parametrize("kind", ["rnn_tanh", "rnn_relu", "lstm", "gru"])
def test_fused_op_gradcheck(kind, bias, initial, reverse):
    if kind == "lstm":
        arrays = _op_inputs(4, bias, initial, n_states=2)
        fn = lambda *a: LSTMSequence.apply(*a, reverse)                           # noqa: E731
    elif kind == "gru":
        arrays = _op_inputs(3, bias, initial)
        fn = lambda *a: GRUSequence.apply(*a, reverse)                            # noqa: E731
    else:
        arrays = _op_inputs(1, bias, initial)
        if kind == "rnn_relu":    # keep pre-activations away from relu's kink at 0
            arrays[0] = np.abs(arrays[0]) + 0.5
            arrays[2] = np.abs(arrays[2])
        fn = lambda *a: RNNSequence.apply(*a, kind[4:], reverse)                  # noqa: E731
    gradcheck(fn, *arrays)


def test_fused_lstm_reverse_is_forward_on_flipped_sequence():
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = [deepdive.tensor(a) for a in _op_inputs(4, True, True, n_states=2)]
    out_r, h_r, c_r = LSTMSequence.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, True)
    out_f, h_f, c_f = LSTMSequence.apply(x.flip(0), h0, c0, w_ih, w_hh, b_ih, b_hh, False)
    np.testing.assert_allclose(out_r._data, out_f._data[::-1], rtol=1e-12)
    np.testing.assert_allclose(h_r._data, h_f._data, rtol=1e-12)
    np.testing.assert_allclose(c_r._data, c_f._data, rtol=1e-12)


@pytest.mark.parametrize("reverse", [False, True])
def test_fused_lstm_numba_twin_is_bit_identical(monkeypatch, reverse):
    """The compiled pointwise kernels (ops/_fast_lstm.py) give exactly the NumPy path's outputs and gradients."""
    pytest.importorskip("numba")
    from deepdive.ops import _fast_lstm
    shapes = [(7, 5, 6), (5, 8), (5, 8), (32, 6), (32, 8), (32,), (32,)]
    arrays = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
    weight = rng.standard_normal((7, 5, 8)).astype(np.float32)

    def run(flag):
        monkeypatch.setenv("DEEPDIVE_NUMBA", flag)
        tensors = [deepdive.tensor(a, requires_grad=True) for a in arrays]
        output, h_n, c_n = LSTMSequence.apply(*tensors, reverse)
        ((output * deepdive.tensor(weight)).sum() + (h_n * 3).sum() + (c_n * c_n).sum()).backward()
        return [output._data, h_n._data, c_n._data] + [t.grad._data for t in tensors]

    reference, compiled = run("0"), run("1")
    assert _fast_lstm.forward_kernels.get() is not None and _fast_lstm.backward_step.get() is not None
    for ours, theirs in zip(compiled, reference):
        np.testing.assert_array_equal(ours, theirs)


def test_fused_output_modified_in_place_before_backward_raises():
    x, h0, w_ih, w_hh, b_ih, b_hh = [deepdive.tensor(a, requires_grad=True) for a in _op_inputs(3, True, True)]
    output, h_n = GRUSequence.apply(x, h0, w_ih, w_hh, b_ih, b_hh, False)
    with deepdive.no_grad():
        output.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        output.sum().backward()


# ---------------------------------------------------------------- modules vs torch
def _twins(kind, dtype, **kwargs):
    """A deepdive layer and its torch twin with the same (torch-initialised) weights."""
    torch = require_torch()
    if kind.startswith("RNN_"):
        kwargs["nonlinearity"] = kind[4:].lower()
        kind = "RNN"
    ours = getattr(nn, kind)(**kwargs, dtype=getattr(deepdive, np.dtype(dtype).name))
    theirs = getattr(torch.nn, kind)(**kwargs).to(getattr(torch, np.dtype(dtype).name))
    ours.load_state_dict({k: deepdive.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def _compare_run(ours, theirs, x, states, dtype, rtol=None, atol=None):
    """Forward both, compare outputs and final states, backward a random weighting of all of them,
    and compare the gradients of the input, the initial states and every parameter."""
    torch = require_torch()
    dd_x = deepdive.tensor(x, requires_grad=True)
    t_x = torch.tensor(x, requires_grad=True)
    dd_s = [deepdive.tensor(s, requires_grad=True) for s in states]
    t_s = [torch.tensor(s, requires_grad=True) for s in states]
    lstm = isinstance(ours, nn.LSTM)
    if not states:
        dd_out, t_out = ours(dd_x), theirs(t_x)
    elif lstm:
        dd_out, t_out = ours(dd_x, tuple(dd_s)), theirs(t_x, tuple(t_s))
    else:
        dd_out, t_out = ours(dd_x, dd_s[0]), theirs(t_x, t_s[0])
    flat_dd = [dd_out[0], *(dd_out[1] if lstm else [dd_out[1]])]
    flat_t = [t_out[0], *(t_out[1] if lstm else [t_out[1]])]
    dd_loss, t_loss = 0, 0
    for k, (a, b) in enumerate(zip(flat_dd, flat_t)):
        assert a.dtype == getattr(deepdive, np.dtype(dtype).name)
        assert_close(a, b, rtol=rtol, atol=atol, what=f"output {k}")
        w = rng.standard_normal(tuple(b.shape)).astype(dtype)
        dd_loss = dd_loss + (a * deepdive.tensor(w)).sum()
        t_loss = t_loss + (b * torch.tensor(w)).sum()
    dd_loss.backward()
    t_loss.backward()
    assert_close(dd_x.grad, t_x.grad, rtol=rtol, atol=atol, what="grad of input")
    for k, (a, b) in enumerate(zip(dd_s, t_s)):
        assert_close(a.grad, b.grad, rtol=rtol, atol=atol, what=f"grad of initial state {k}")
    theirs_params = dict(theirs.named_parameters())
    names = [n for n, _ in ours.named_parameters()]
    assert names == list(theirs_params)
    for name, p in ours.named_parameters():
        assert p.grad is not None, f"no gradient for {name}"
        assert_close(p.grad, theirs_params[name].grad, rtol=rtol, atol=atol, what=f"grad of {name}")


KINDS = ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]
# (num_layers, bidirectional, batch_first, bias, initial states): every option on and off, in mixed company.
CONFIGS = [(1, False, False, True, False), (1, False, True, True, True), (2, False, False, False, True),
           (1, True, True, False, False), (2, True, False, True, True), (2, True, True, True, False)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("num_layers,bidirectional,batch_first,bias,initial", CONFIGS)
@pytest.mark.parametrize("kind", KINDS)
def test_layer_parity(kind, num_layers, bidirectional, batch_first, bias, initial, dtype, engine):
    ours, theirs = _twins(kind, dtype, input_size=I, hidden_size=H, num_layers=num_layers, bias=bias,
                          batch_first=batch_first, bidirectional=bidirectional)
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I)).astype(dtype)
    n_states = 2 if kind == "LSTM" else 1
    states = [rng.standard_normal((num_layers * (1 + bidirectional), B, H)).astype(dtype)
              for _ in range(n_states)] if initial else []
    _compare_run(ours, theirs, x, states, dtype)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_saturated_gates_stay_finite_and_match_torch(kind, engine):
    """Pre-activations far beyond +-88 (where exp overflows in float32) must give exact 0/1 gates, no warning."""
    import warnings
    ours, theirs = _twins(kind, np.float32, input_size=I, hidden_size=H, bidirectional=True)
    x = (rng.standard_normal((T, B, I)) * 500).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # (weight gradients sum x ~ 500 over all steps: float32 rounding alone reaches ~1e-4)
        _compare_run(ours, theirs, x, [], np.float32, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("batch_first,initial", [(False, False), (True, True)])
def test_layer_unbatched_input(kind, batch_first, initial):
    ours, theirs = _twins(kind, np.float64, input_size=I, hidden_size=H, num_layers=2, bidirectional=True,
                          batch_first=batch_first)
    x = rng.standard_normal((T, I))
    states = [rng.standard_normal((4, H)) for _ in range(2 if kind == "LSTM" else 1)] if initial else []
    _compare_run(ours, theirs, x, states, np.float64)


def test_lstm_positional_args_and_one_step_sequence(engine):
    ours, theirs = _twins("LSTM", np.float32, input_size=I, hidden_size=H)
    _compare_run(ours, theirs, rng.standard_normal((1, B, I)).astype(np.float32), [], np.float32)
    assert nn.LSTM(3, 4, 2, False, True).batch_first is True
    assert nn.RNN(3, 4, 1, "relu").nonlinearity == "relu"


def test_dropout_between_layers_only_in_training():
    torch = require_torch()
    ours, theirs = _twins("GRU", np.float32, input_size=I, hidden_size=H, num_layers=3, dropout=0.5)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    assert_close(ours(deepdive.tensor(x))[0], theirs(torch.tensor(x))[0])
    ours.train()
    deepdive.manual_seed(0)
    a = ours(deepdive.tensor(x))[0]._data
    deepdive.manual_seed(0)
    b = ours(deepdive.tensor(x))[0]._data
    c = ours(deepdive.tensor(x))[0]._data
    np.testing.assert_array_equal(a, b)                  # seeded: reproducible
    assert not np.allclose(a, c)                         # a fresh mask per call
    assert not np.allclose(a, ours.eval()(deepdive.tensor(x))[0]._data)


def test_dropout_with_one_layer_warns():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.3)


# ---------------------------------------------------------------- structure and initialisation
def test_parameter_names_shapes_and_state_dict_match_torch():
    torch = require_torch()
    for kind, gates in (("LSTM", 4), ("GRU", 3), ("RNN", 1)):
        ours = getattr(nn, kind)(7, 5, num_layers=2, bidirectional=True)
        theirs = getattr(torch.nn, kind)(7, 5, num_layers=2, bidirectional=True)
        assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
        assert ours.weight_ih_l1_reverse.shape == (gates * 5, 10)
        assert [[tuple(w.shape) for w in ws] for ws in ours.all_weights] == \
            [[tuple(w.shape) for w in ws] for ws in theirs.all_weights]
        theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    assert [n for n, _ in nn.GRU(3, 4, bias=False).named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]
    ours = nn.LSTM(3, 4)
    ours.flatten_parameters()          # a no-op, accepted for compatibility
    assert ours.weight_ih_l0.dtype == deepdive.float32


def test_init_is_uniform_in_plus_minus_one_over_sqrt_hidden():
    deepdive.manual_seed(0)
    lstm = nn.LSTM(50, 64)
    bound = 1 / math.sqrt(64)
    values = np.concatenate([p._data.ravel() for p in lstm.parameters()])
    assert values.min() >= -bound and values.max() <= bound
    assert abs(values.std() - bound / math.sqrt(3)) < 0.05 * bound      # U(-k, k) has std k/sqrt(3)
    assert abs(values.mean()) < 0.05 * bound
    cell = nn.GRUCell(10, 16)
    assert np.abs(cell.weight_hh._data).max() <= 0.25


def test_repr_matches_torch():
    torch = require_torch()
    for args, kwargs in [((3, 4), {}), ((3, 4, 2), dict(batch_first=True, dropout=0.5, bidirectional=True)),
                         ((3, 4), dict(bias=False))]:
        for kind in ("LSTM", "GRU", "RNN"):
            assert repr(getattr(nn, kind)(*args, **kwargs)) == repr(getattr(torch.nn, kind)(*args, **kwargs))
    assert repr(nn.RNNCell(3, 4, bias=False, nonlinearity="relu")) == \
        repr(torch.nn.RNNCell(3, 4, bias=False, nonlinearity="relu"))
    assert repr(nn.LSTMCell(3, 4)) == repr(torch.nn.LSTMCell(3, 4))


def test_double_module_runs_in_float64():
    lstm = nn.LSTM(3, 4).double()
    out, (h, c) = lstm(deepdive.randn(2, 1, 3, dtype=deepdive.float64))
    assert out.dtype == h.dtype == c.dtype == deepdive.float64


# ---------------------------------------------------------------- errors
def test_errors_name_expected_and_actual():
    lstm = nn.LSTM(10, 20)
    with pytest.raises(RuntimeError, match=r"input.size\(-1\) must be equal to input_size. Expected 10, got 7"):
        lstm(deepdive.randn(5, 3, 7))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(1, 3, 20\), got \[1, 4, 20\]"):
        lstm(deepdive.randn(5, 3, 10), (deepdive.randn(1, 4, 20), deepdive.randn(1, 3, 20)))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(1, 3, 20\), got \[1, 3, 21\]"):
        lstm(deepdive.randn(5, 3, 10), (deepdive.randn(1, 3, 20), deepdive.randn(1, 3, 21)))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 3, 20\), got \[1, 4, 20\]"):
        nn.GRU(10, 20)(deepdive.randn(5, 3, 10), deepdive.randn(1, 4, 20))
    with pytest.raises(RuntimeError, match="For batched 3-D input, hx should also be 3-D but got 2-D tensor"):
        nn.RNN(10, 20)(deepdive.randn(5, 3, 10), deepdive.randn(3, 20))
    with pytest.raises(RuntimeError, match=r"For unbatched 2-D input, hx and cx should also be 2-D but got "
                                           r"\(3-D, 3-D\) tensors"):
        lstm(deepdive.randn(5, 10), (deepdive.randn(1, 1, 20), deepdive.randn(1, 1, 20)))
    with pytest.raises(ValueError, match="LSTM: Expected input to be 2D or 3D, got 4D instead"):
        lstm(deepdive.randn(2, 5, 3, 10))
    with pytest.raises(ValueError, match=r"RNN input dtype \(deepdive.float64\) does not match weight dtype"):
        lstm(deepdive.randn(5, 3, 10, dtype=deepdive.float64))
    with pytest.raises(RuntimeError, match="Input and hidden tensors are not the same dtype"):
        lstm(deepdive.randn(5, 3, 10), (deepdive.randn(1, 3, 20, dtype=deepdive.float64), deepdive.randn(1, 3, 20)))
    with pytest.raises(ValueError, match="Unknown nonlinearity 'gelu'. Select from 'tanh' or 'relu'."):
        nn.RNN(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.GRU(3, 4, 2, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        nn.LSTM(3, 0)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="proj_size should be a positive integer or zero"):
        nn.LSTM(3, 4, proj_size=-1)


def test_cell_errors():
    cell = nn.LSTMCell(10, 20)
    with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 7 expected 10"):
        cell(deepdive.randn(3, 7))
    with pytest.raises(RuntimeError, match="Input batch size 3 doesn't match hidden0 batch size 4"):
        cell(deepdive.randn(3, 10), (deepdive.randn(4, 20), deepdive.randn(3, 20)))
    with pytest.raises(RuntimeError, match="hidden1 has inconsistent hidden_size: got 21, expected 20"):
        cell(deepdive.randn(3, 10), (deepdive.randn(3, 20), deepdive.randn(3, 21)))
    with pytest.raises(ValueError, match="GRUCell: Expected input to be 1D or 2D, got 3D instead"):
        nn.GRUCell(10, 20)(deepdive.randn(1, 3, 10))
    with pytest.raises(ValueError, match="RNNCell: Expected hidden to be 1D or 2D, got 3D instead"):
        nn.RNNCell(10, 20)(deepdive.randn(3, 10), deepdive.randn(1, 3, 20))


# ---------------------------------------------------------------- cells
def _cell_twins(kind, dtype, **kwargs):
    torch = require_torch()
    ours = getattr(nn, kind)(I, H, **kwargs, dtype=getattr(deepdive, np.dtype(dtype).name))
    theirs = getattr(torch.nn, kind)(I, H, **kwargs).to(getattr(torch, np.dtype(dtype).name))
    ours.load_state_dict({k: deepdive.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


CELLS = [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("LSTMCell", {}), ("GRUCell", {})]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias,initial,batched", [(True, True, True), (False, True, True), (True, False, True),
                                                  (True, True, False)])
@pytest.mark.parametrize("kind,kwargs", CELLS)
def test_cell_parity(kind, kwargs, bias, initial, batched, dtype):
    torch = require_torch()
    ours, theirs = _cell_twins(kind, dtype, bias=bias, **kwargs)
    lead = (B,) if batched else ()
    x = rng.standard_normal(lead + (I,)).astype(dtype)
    states = [rng.standard_normal(lead + (H,)).astype(dtype) for _ in range(2 if kind == "LSTMCell" else 1)]
    dd_x, t_x = deepdive.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    dd_s = [deepdive.tensor(s, requires_grad=True) for s in states]
    t_s = [torch.tensor(s, requires_grad=True) for s in states]
    if not initial:
        dd_out, t_out = ours(dd_x), theirs(t_x)
    elif kind == "LSTMCell":
        dd_out, t_out = ours(dd_x, tuple(dd_s)), theirs(t_x, tuple(t_s))
    else:
        dd_out, t_out = ours(dd_x, dd_s[0]), theirs(t_x, t_s[0])
    dd_out = dd_out if isinstance(dd_out, tuple) else (dd_out,)
    t_out = t_out if isinstance(t_out, tuple) else (t_out,)
    dd_loss, t_loss = 0, 0
    for a, b in zip(dd_out, t_out):
        assert a.dtype == getattr(deepdive, np.dtype(dtype).name)
        assert_close(a, b)
        w = rng.standard_normal(tuple(b.shape)).astype(dtype)
        dd_loss, t_loss = dd_loss + (a * deepdive.tensor(w)).sum(), t_loss + (b * torch.tensor(w)).sum()
    dd_loss.backward()
    t_loss.backward()
    assert_close(dd_x.grad, t_x.grad, what="grad of input")
    if initial:
        for a, b in zip(dd_s, t_s):
            assert_close(a.grad, b.grad, what="grad of state")
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, theirs_params[name].grad, what=f"grad of {name}")


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_gradcheck(kind):
    """Central differences w.r.t. the input, the state(s) and every parameter (perturbed in place)."""
    cell = getattr(nn, kind)(3, 2).double()
    x = deepdive.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    states = [deepdive.tensor(rng.standard_normal((2, 2)), requires_grad=True)
              for _ in range(2 if kind == "LSTMCell" else 1)]
    hx = tuple(states) if kind == "LSTMCell" else states[0]
    assert deepdive.autograd.gradcheck(lambda *inputs: cell(x, hx), [x, *states, *cell.parameters()])


def test_fused_layer_equals_cell_loop():
    """nn.LSTM (fused) and an LSTMCell loop with the same weights give the same outputs and gradients."""
    lstm, cell = nn.LSTM(I, H).double(), nn.LSTMCell(I, H).double()
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(cell, name)._data[...] = getattr(lstm, name + "_l0")._data
    x = deepdive.tensor(rng.standard_normal((T, B, I)))
    out, (h_n, c_n) = lstm(x)
    h = c = deepdive.zeros(B, H, dtype=deepdive.float64)
    steps = []
    for t in range(T):
        h, c = cell(x[t], (h, c))
        steps.append(h)
    np.testing.assert_allclose(out._data, deepdive.stack(steps)._data, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c_n._data[0], c._data, rtol=1e-12, atol=1e-14)
    (out.sum() + c_n.sum()).backward()
    (deepdive.stack(steps).sum() + c.sum()).backward()
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        np.testing.assert_allclose(getattr(lstm, name + "_l0").grad._data, getattr(cell, name).grad._data,
                                   rtol=1e-10, atol=1e-12)


def test_no_graph_under_no_grad():
    lstm = nn.LSTM(3, 4)
    with deepdive.no_grad():
        out, (h, c) = lstm(deepdive.randn(2, 1, 3))
    assert out.grad_fn is None and not out.requires_grad
    assert tuple(out.shape) == (2, 1, 4) and tuple(h.shape) == tuple(c.shape) == (1, 1, 4)
