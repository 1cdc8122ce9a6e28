"""nn.utils: gradient clipping (by total norm of any order, by value) and parameter <-> vector conversion,
against torch.nn.utils on the same gradients."""
import math

import numpy as np
import pytest

import deepdive
import deepdive.nn as nn
from deepdive.nn.utils import clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters
from parity import require_torch, assert_close, check_parity

rng = np.random.default_rng(0)


def _params_with_grads(scale=1.0):
    torch = require_torch()
    shapes = [(3, 4), (4,), (2, 2, 2)]
    values = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [(rng.standard_normal(s) * scale).astype(np.float32) for s in shapes]
    dd = [nn.Parameter(deepdive.tensor(v)) for v in values]
    tt = [torch.nn.Parameter(torch.tensor(v)) for v in values]
    for p, q, g in zip(dd, tt, grads):
        p.grad = deepdive.tensor(g.copy())
        q.grad = torch.tensor(g.copy())
    return dd, tt


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1000.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = require_torch()
    dd, tt = _params_with_grads()
    norm_type = float(norm_type)
    total = clip_grad_norm_(dd, max_norm, norm_type=norm_type)
    ref = torch.nn.utils.clip_grad_norm_(tt, max_norm, norm_type=norm_type)
    assert isinstance(total, deepdive.Tensor) and total.dtype == deepdive.float32 and total.ndim == 0
    assert_close(total, ref)
    for p, q in zip(dd, tt):
        assert_close(p.grad, q.grad)
    if max_norm < 1:
        new_total = clip_grad_norm_(dd, max_norm, norm_type=norm_type)
        assert new_total.item() == pytest.approx(max_norm, rel=1e-4)


def test_clip_grad_norm_single_tensor_skips_missing_grads_and_empty():
    a = nn.Parameter(deepdive.ones(4))
    b = nn.Parameter(deepdive.ones(2))          # no grad: ignored
    a.grad = deepdive.full((4,), 3.0)
    assert clip_grad_norm_([a, b], 1.0).item() == pytest.approx(6.0)
    np.testing.assert_allclose(np.linalg.norm(a.grad._data), 1.0, rtol=1e-5)
    a.grad = deepdive.full((4,), 3.0)
    assert clip_grad_norm_(a, 100.0).item() == pytest.approx(6.0)        # a lone tensor is accepted
    np.testing.assert_allclose(a.grad._data, 3.0)                        # below max_norm: untouched
    assert clip_grad_norm_([b], 1.0).item() == 0.0


def test_clip_grad_norm_nonfinite():
    a = nn.Parameter(deepdive.ones(2))
    a.grad = deepdive.tensor([float("inf"), 1.0])
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from `parameters` is "
                                           "non-finite"):
        clip_grad_norm_([a], 1.0, error_if_nonfinite=True)
    assert math.isinf(clip_grad_norm_([a], 1.0).item())


def test_clip_grad_value_matches_torch():
    torch = require_torch()
    dd, tt = _params_with_grads(scale=3.0)
    clip_grad_value_(dd, 1.5)
    torch.nn.utils.clip_grad_value_(tt, 1.5)
    for p, q in zip(dd, tt):
        assert_close(p.grad, q.grad)
        assert np.abs(p.grad._data).max() <= 1.5


def test_parameters_vector_roundtrip():
    torch = require_torch()
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vec = parameters_to_vector(model.parameters())
    assert vec.shape == (3 * 2 + 2 + 2 + 1,)
    ref = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))
    ref.load_state_dict({k: torch.tensor(v._data) for k, v in model.state_dict().items()})
    assert_close(vec.detach(), torch.nn.utils.parameters_to_vector(ref.parameters()).detach())
    vector_to_parameters(deepdive.arange(11, dtype=deepdive.float32), model.parameters())
    np.testing.assert_array_equal(model[0].weight._data, np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(model[1].bias._data, [10])
    with pytest.raises(TypeError, match="expected deepdive.Tensor"):
        vector_to_parameters(np.zeros(11), model.parameters())


def test_parameters_to_vector_is_differentiable():
    torch = require_torch()
    check_parity(lambda a, b: parameters_to_vector([a, b]), lambda a, b: torch.nn.utils.parameters_to_vector([a, b]),
                 [rng.standard_normal((2, 3)), rng.standard_normal(4)])


# ------------------------------------------------------------------ utils.rnn
from deepdive.nn.utils import rnn as dd_rnn       # noqa: E402


def _sequences(lengths, dtype=np.float64):
    return [rng.standard_normal((n, 3)).astype(dtype) for n in lengths]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_parity(batch_first, padding_side):
    torch = require_torch()
    seqs = _sequences([4, 1, 3])
    check_parity(lambda *s: dd_rnn.pad_sequence(list(s), batch_first, -1.0, padding_side),
                 lambda *s: torch.nn.utils.rnn.pad_sequence(list(s), batch_first, -1.0, padding_side), seqs)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted,lengths", [(True, [4, 3, 1]), (False, [1, 4, 3, 4])])
def test_pack_and_pad_packed_roundtrip_parity(batch_first, enforce_sorted, lengths):
    torch = require_torch()
    seqs = _sequences(lengths)

    def run(lib, rnn_mod):
        def fn(*s):
            padded = rnn_mod.pad_sequence(list(s), batch_first=batch_first)
            packed = rnn_mod.pack_padded_sequence(padded, lib.tensor(lengths), batch_first, enforce_sorted)
            unpacked, out_lengths = rnn_mod.pad_packed_sequence(packed, batch_first, padding_value=7.0,
                                                                total_length=6)
            return packed.data, packed.batch_sizes, unpacked, out_lengths
        return fn
    out = check_parity(run(deepdive, dd_rnn), run(torch, torch.nn.utils.rnn), seqs)
    assert out[1]._data.tolist() == [int((np.array(lengths) > t).sum()) for t in range(max(lengths))]


def test_pack_sequence_unpack_and_errors():
    seqs = [deepdive.tensor(s) for s in _sequences([2, 5, 3])]
    packed = dd_rnn.pack_sequence(seqs, enforce_sorted=False)
    back = dd_rnn.unpack_sequence(packed)
    for a, b in zip(back, seqs):
        np.testing.assert_array_equal(a._data, b._data)
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        dd_rnn.pack_sequence(seqs)
    with pytest.raises(RuntimeError, match="trailing shape"):
        dd_rnn.pad_sequence([deepdive.zeros(2, 3), deepdive.zeros(2, 4)])


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_matches_torch(dim):
    torch = require_torch()
    dd = nn.utils.weight_norm(nn.Linear(4, 3), dim=dim)
    tt = torch.nn.utils.weight_norm(torch.nn.Linear(4, 3), dim=dim)
    assert [n for n, _ in dd.named_parameters()] == [n for n, _ in tt.named_parameters()]
    tt.load_state_dict({k: torch.tensor(v._data) for k, v in dd.state_dict().items()})
    x = rng.standard_normal((5, 4)).astype(np.float32)
    out, ref = dd(deepdive.tensor(x)), tt(torch.tensor(x))
    assert_close(out, ref)
    out.sum().backward()
    ref.sum().backward()
    for (name, p), (_, q) in zip(dd.named_parameters(), tt.named_parameters()):
        assert_close(p.grad, q.grad, what=name)
    nn.utils.remove_weight_norm(dd)
    assert [n for n, _ in dd.named_parameters()] == ["bias", "weight"]
    assert_close(dd(deepdive.tensor(x)), ref)
    with pytest.raises(ValueError, match="not found"):
        nn.utils.remove_weight_norm(dd)


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("iterations", [1, 3])
def test_spectral_norm_matches_torch(iterations):
    torch = require_torch()
    dd = nn.utils.spectral_norm(nn.Linear(5, 4), n_power_iterations=iterations)
    tt = torch.nn.utils.spectral_norm(torch.nn.Linear(5, 4), n_power_iterations=iterations)
    assert list(dd.state_dict()) == [k for k in tt.state_dict()]
    tt.load_state_dict({k: torch.tensor(v._data) for k, v in dd.state_dict().items()})
    x = rng.standard_normal((3, 5)).astype(np.float32)
    for train in (True, True, False):
        dd.train(train)
        tt.train(train)
        out, ref = dd(deepdive.tensor(x)), tt(torch.tensor(x))
        assert_close(out, ref, rtol=1e-4, atol=1e-5)
        out.sum().backward()
        ref.sum().backward()
        assert_close(dd.weight_orig.grad, tt.weight_orig.grad, rtol=1e-4, atol=1e-5)
        assert_close(dd.weight_u, tt.weight_u, rtol=1e-4, atol=1e-5)
    # after many iterations the weight's largest singular value is 1
    dd.train()
    for _ in range(30):
        dd(deepdive.tensor(x))
    assert np.linalg.svd(dd.weight._data.astype(np.float64), compute_uv=False)[0] == pytest.approx(1.0, rel=1e-3)
    nn.utils.remove_spectral_norm(dd)
    assert [n for n, _ in dd.named_parameters()] == ["bias", "weight"] and list(dd.buffers()) == []


def test_clip_grad_norm_accepts_a_generator_of_parameters():
    """The usual call, clip_grad_norm_(model.parameters(), ...), passes a generator: it must still clip."""
    torch = require_torch()
    m = deepdive.nn.Linear(3, 1)
    (m(deepdive.ones(1, 3)) * 10).sum().backward()
    total = deepdive.nn.utils.clip_grad_norm_(m.parameters(), 0.5)
    tm = torch.nn.Linear(3, 1)
    (tm(torch.ones(1, 3)) * 10).sum().backward()
    expected = torch.nn.utils.clip_grad_norm_(tm.parameters(), 0.5)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)
    np.testing.assert_allclose(m.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-5)
