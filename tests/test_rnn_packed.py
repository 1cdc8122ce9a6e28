"""Recurrent layers over PackedSequences, and LSTM(proj_size=...), against PyTorch.

A packed batch runs through the fused ops with every sequence held past its end, so outputs, final
states (each sequence's last valid step, in the caller's batch order) and all gradients must equal
torch's, for every layer kind, batch_first or not, bidirectional, multi-layer, sorted or not.
"""
import numpy as np
import pytest

import deepdive
import deepdive.nn as nn
from deepdive.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pack_sequence
from deepdive.ops.recurrent import RNNSequence, LSTMSequence, GRUSequence
from parity import assert_close, gradcheck, require_torch

rng = np.random.default_rng(0)
I, H = 4, 5


def _twins(kind, **kwargs):
    torch = require_torch()
    if kind.startswith("RNN_"):
        kwargs["nonlinearity"] = kind[4:].lower()
        kind = "RNN"
    theirs = getattr(torch.nn, kind)(**kwargs).double()
    ours = getattr(nn, kind)(**kwargs, dtype=deepdive.float64)
    ours.load_state_dict({k: deepdive.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def _states(kind, ours, batch, with_states):
    if not with_states:
        return []
    layers = ours.num_layers * (2 if ours.bidirectional else 1)
    shapes = [(layers, batch, ours.proj_size or H)] + ([(layers, batch, H)] if kind == "LSTM" else [])
    return [rng.standard_normal(s) for s in shapes]


def _run(module, packed, states, lstm):
    if not states:
        return module(packed)
    return module(packed, tuple(states) if lstm else states[0])


def _compare_packed(kind, ours, theirs, x, lengths, batch_first, enforce_sorted, with_states):
    """Pack the same padded batch on both sides, run, compare packed outputs, final states, the re-padded
    output and the gradients of the input, the initial states and every parameter."""
    torch = require_torch()
    lstm = kind == "LSTM"
    states = _states(kind, ours, len(lengths), with_states)
    dd_x, t_x = deepdive.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    dd_s = [deepdive.tensor(s, requires_grad=True) for s in states]
    t_s = [torch.tensor(s, requires_grad=True) for s in states]
    dd_packed = pack_padded_sequence(dd_x, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    t_packed = torch.nn.utils.rnn.pack_padded_sequence(t_x, torch.tensor(lengths), batch_first=batch_first,
                                                       enforce_sorted=enforce_sorted)
    dd_out, dd_final = _run(ours, dd_packed, dd_s, lstm)
    t_out, t_final = _run(theirs, t_packed, t_s, lstm)
    assert isinstance(dd_out, nn.utils.rnn.PackedSequence)
    assert dd_out.batch_sizes.tolist() == t_out.batch_sizes.tolist()
    dd_final = list(dd_final) if lstm else [dd_final]
    t_final = list(t_final) if lstm else [t_final]
    dd_pad, dd_len = pad_packed_sequence(dd_out, batch_first=batch_first)
    t_pad, t_len = torch.nn.utils.rnn.pad_packed_sequence(t_out, batch_first=batch_first)
    assert dd_len.tolist() == t_len.tolist()
    dd_loss, t_loss = 0, 0
    for k, (a, b) in enumerate(zip([dd_out.data, dd_pad] + dd_final, [t_out.data, t_pad] + t_final)):
        assert_close(a, b, what=f"output {k}")
        w = rng.standard_normal(tuple(b.shape))
        dd_loss = dd_loss + (a * deepdive.tensor(w)).sum()
        t_loss = t_loss + (b * torch.tensor(w)).sum()
    dd_loss.backward()
    t_loss.backward()
    assert_close(dd_x.grad, t_x.grad, what="grad of input")
    for k, (a, b) in enumerate(zip(dd_s, t_s)):
        assert_close(a.grad, b.grad, what=f"grad of initial state {k}")
    theirs_params = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(theirs_params)
    for name, p in ours.named_parameters():
        assert_close(p.grad, theirs_params[name].grad, what=f"grad of {name}")


KINDS = ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]
# (num_layers, bidirectional, batch_first, enforce_sorted, initial states)
CONFIGS = [(1, False, False, True, False), (1, False, True, False, True), (2, False, False, False, True),
           (1, True, True, True, True), (2, True, False, False, False), (2, True, True, False, True)]


@pytest.mark.parametrize("num_layers,bidirectional,batch_first,enforce_sorted,initial", CONFIGS)
@pytest.mark.parametrize("kind", KINDS)
def test_packed_layer_parity(kind, num_layers, bidirectional, batch_first, enforce_sorted, initial):
    ours, theirs = _twins(kind, input_size=I, hidden_size=H, num_layers=num_layers, batch_first=batch_first,
                          bidirectional=bidirectional)
    lengths = [6, 4, 4, 1] if enforce_sorted else [3, 6, 1, 4, 6]
    x = rng.standard_normal((len(lengths), 6, I) if batch_first else (6, len(lengths), I))
    _compare_packed(kind, ours, theirs, x, lengths, batch_first, enforce_sorted, initial)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_packed_lstm_with_projection(bidirectional, enforce_sorted):
    ours, theirs = _twins("LSTM", input_size=I, hidden_size=H, num_layers=2, proj_size=3,
                          bidirectional=bidirectional)
    lengths = [5, 3, 2] if enforce_sorted else [2, 5, 3]
    _compare_packed("LSTM", ours, theirs, rng.standard_normal((5, 3, I)), lengths, False, enforce_sorted, True)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_pack_sequence_into_layer(kind):
    """pack_sequence (list of tensors) -> layer -> unpack equals running each sequence alone."""
    torch = require_torch()
    ours, theirs = _twins(kind, input_size=I, hidden_size=H)
    seqs = [rng.standard_normal((n, I)) for n in (2, 5, 3)]
    dd_out, _ = ours(pack_sequence([deepdive.tensor(s) for s in seqs], enforce_sorted=False))
    t_out, _ = theirs(torch.nn.utils.rnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False))
    assert_close(dd_out.data, t_out.data)
    for k, s in enumerate(seqs):        # the packed run equals a run over sequence k alone
        alone, _ = ours(deepdive.tensor(s))
        padded, lengths = pad_packed_sequence(dd_out)
        assert_close(padded[:lengths[k].item(), k], alone, what=f"sequence {k}")


@pytest.mark.parametrize("num_layers,bidirectional,batch_first,bias", [(1, False, False, True), (2, True, True, True),
                                                                        (2, False, True, False)])
def test_lstm_proj_size_parity(num_layers, bidirectional, batch_first, bias):
    torch = require_torch()
    ours, theirs = _twins("LSTM", input_size=I, hidden_size=H, num_layers=num_layers, proj_size=2, bias=bias,
                          batch_first=batch_first, bidirectional=bidirectional)
    assert repr(ours) == repr(theirs)
    x = rng.standard_normal((3, 4, I))
    layers = num_layers * (1 + bidirectional)
    batch = 3 if batch_first else 4
    h0, c0 = rng.standard_normal((layers, batch, 2)), rng.standard_normal((layers, batch, H))
    tensors = [(deepdive.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)) for a in (x, h0, c0)]
    dd_out, (dd_h, dd_c) = ours(tensors[0][0], (tensors[1][0], tensors[2][0]))
    t_out, (t_h, t_c) = theirs(tensors[0][1], (tensors[1][1], tensors[2][1]))
    dd_loss, t_loss = 0, 0
    for a, b in zip((dd_out, dd_h, dd_c), (t_out, t_h, t_c)):
        assert_close(a, b)
        w = rng.standard_normal(tuple(b.shape))
        dd_loss, t_loss = dd_loss + (a * deepdive.tensor(w)).sum(), t_loss + (b * torch.tensor(w)).sum()
    dd_loss.backward()
    t_loss.backward()
    for k, (a, b) in enumerate(tensors):
        assert_close(a.grad, b.grad, what=f"grad of input {k}")
    theirs_params = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(theirs_params)
    for name, p in ours.named_parameters():
        assert_close(p.grad, theirs_params[name].grad, what=f"grad of {name}")
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(.*, 5\), got"):
        ours(tensors[0][0], (tensors[1][0], tensors[1][0]))


def test_proj_size_only_for_lstm():
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
        nn.RNNBase("GRU", 3, 4, proj_size=2)


# ---------------------------------------------------------------- the fused ops, packed and projected
BATCH_SIZES = np.array([3, 2, 2, 1])        # lengths 4, 3, 1 (sorted)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm", "lstm_proj", "gru"])
def test_fused_op_gradcheck_packed(kind, reverse):
    x = rng.standard_normal((4, 3, 2))
    gates = {"rnn_tanh": 1, "gru": 3}.get(kind, 4)
    hidden = 2 if kind == "lstm_proj" else 3
    w_ih, w_hh = rng.standard_normal((gates * 3, 2)) * 0.7, rng.standard_normal((gates * 3, hidden)) * 0.7
    b_ih, b_hh = rng.standard_normal(gates * 3), rng.standard_normal(gates * 3)
    h0 = rng.standard_normal((3, hidden))
    if kind == "rnn_tanh":
        fn = lambda *a: RNNSequence.apply(*a, "tanh", reverse, BATCH_SIZES)                     # noqa: E731
        gradcheck(fn, x, h0, w_ih, w_hh, b_ih, b_hh)
    elif kind == "gru":
        fn = lambda *a: GRUSequence.apply(*a, reverse, BATCH_SIZES)                             # noqa: E731
        gradcheck(fn, x, h0, w_ih, w_hh, b_ih, b_hh)
    else:
        c0 = rng.standard_normal((3, 3))
        w_hr = rng.standard_normal((2, 3)) if kind == "lstm_proj" else None
        fn = lambda x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr=None: LSTMSequence.apply(          # noqa: E731
            x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse, w_hr, BATCH_SIZES)
        gradcheck(fn, x, h0, c0, w_ih, w_hh, b_ih, b_hh, *([w_hr] if w_hr is not None else []))


# ---------------------------------------------------------------- a packed-sequence captioner, step by step
def captioner_program(torch, state=None, steps=5):
    """An image-captioning decoder as the tutorials write it (features -> embedding -> pack -> LSTM ->
    pad -> linear -> cross-entropy that ignores the padding token), trained with Adam.
    Runs unchanged with ``torch`` = PyTorch or deepdive; returns the losses and the final state dict."""
    import numpy as np
    nn = torch.nn
    pack_padded_sequence, pad_packed_sequence = torch.nn.utils.rnn.pack_padded_sequence, \
        torch.nn.utils.rnn.pad_packed_sequence        # (the tutorial's from-import, for either library)
    PAD, vocab_size, embed_size, hidden_size = 0, 11, 6, 8

    class Captioner(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Linear(10, embed_size)            # image features -> the first "word"
            self.embed = nn.Embedding(vocab_size, embed_size, padding_idx=PAD)
            self.lstm = nn.LSTM(embed_size, hidden_size, num_layers=2, batch_first=True)
            self.linear = nn.Linear(hidden_size, vocab_size)

        def forward(self, images, captions, lengths):
            features = torch.relu(self.encoder(images))
            embeddings = torch.cat((features.unsqueeze(1), self.embed(captions[:, :-1])), 1)
            packed = pack_padded_sequence(embeddings, lengths, batch_first=True, enforce_sorted=False)
            hiddens, (h_n, c_n) = self.lstm(packed)
            padded, _ = pad_packed_sequence(hiddens, batch_first=True, total_length=captions.size(1))
            return self.linear(padded)

    model = Captioner()
    if state is not None:
        model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    rng = np.random.default_rng(7)
    images = torch.tensor(rng.standard_normal((5, 10)).astype(np.float32))
    lengths = [4, 7, 2, 5, 7]
    captions = np.zeros((5, 7), dtype=np.int64)
    for b, n in enumerate(lengths):
        captions[b, :n] = rng.integers(1, vocab_size, n)
    captions = torch.tensor(captions)
    criterion = nn.CrossEntropyLoss(ignore_index=PAD)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        logits = model(images, captions, torch.tensor(lengths))
        loss = criterion(logits.reshape(-1, vocab_size), captions.reshape(-1))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, {k: v.detach().numpy() if hasattr(v, "detach") else v for k, v in model.state_dict().items()}


def test_packed_captioner_trains_as_torch_step_by_step():
    torch = require_torch()
    torch.manual_seed(0)
    _, start = captioner_program(torch, steps=0)            # torch's initial weights, copied to both
    start = {k: v.copy() for k, v in start.items()}
    t_losses, t_state = captioner_program(torch, start)
    d_losses, d_state = captioner_program(deepdive, start)
    np.testing.assert_allclose(d_losses, t_losses, rtol=2e-5)
    assert d_losses[-1] < d_losses[0]
    assert list(d_state) == list(t_state)
    for name, value in t_state.items():
        np.testing.assert_allclose(d_state[name], value, rtol=1e-4, atol=1e-5, err_msg=name)


def test_packed_input_errors_name_the_state():
    lstm = nn.LSTM(I, H)
    packed = pack_sequence([deepdive.randn(3, I), deepdive.randn(2, I)])
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(1, 2, 5\), got \[1, 3, 5\]"):
        lstm(packed, (deepdive.zeros(1, 3, H), deepdive.zeros(1, 2, H)))
    with pytest.raises(RuntimeError, match="For packed input, hidden\\[0\\] should be 3-D"):
        lstm(packed, (deepdive.zeros(2, H), deepdive.zeros(1, 2, H)))
    with pytest.raises(RuntimeError, match="not the same dtype"):
        lstm(packed, (deepdive.zeros(1, 2, H, dtype=deepdive.float64), deepdive.zeros(1, 2, H)))
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size"):
        nn.GRU(I + 1, H)(packed)
