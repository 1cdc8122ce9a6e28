"""scaled_dot_product_attention: gradcheck + PyTorch parity over masks, causality, GQA, edge cases."""
import numpy as np
import pytest

import deepdive
import deepdive.nn.functional as F
from parity import check_parity, gradcheck, require_torch, assert_close

rng = np.random.default_rng(0)


def _qkv(batch=(2, 3), L=4, S=5, E=6, Ev=None, dtype=np.float64):
    Ev = E if Ev is None else Ev
    return (rng.standard_normal(batch + (L, E)).astype(dtype), rng.standard_normal(batch + (S, E)).astype(dtype),
            rng.standard_normal(batch + (S, Ev)).astype(dtype))


def _sdpa(**kwargs):
    def dd(q, k, v, *mask):
        return F.scaled_dot_product_attention(q, k, v, *mask, **kwargs)

    def tt(q, k, v, *mask):
        import torch.nn.functional as TF
        return TF.scaled_dot_product_attention(q, k, v, *mask, **kwargs)
    return dd, tt


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes", [dict(batch=(2, 3)), dict(batch=(), L=3, S=3), dict(batch=(2,), Ev=3),
                                    dict(batch=(1, 2), L=1, S=7)])
def test_sdpa_parity(dtype, shapes):
    dd, tt = _sdpa()
    check_parity(dd, tt, list(_qkv(dtype=dtype, **shapes)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mask_shape", [(4, 5), (2, 1, 4, 5), (3, 4, 5), (1, 5)])
def test_sdpa_bool_mask(dtype, mask_shape):
    q, k, v = _qkv(dtype=dtype)
    mask = rng.random(mask_shape) > 0.4
    mask[..., 0] = True          # every query keeps at least one key
    dd, tt = _sdpa()
    check_parity(dd, tt, [q, k, v, mask])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sdpa_float_mask_gets_gradient(dtype):
    q, k, v = _qkv(dtype=dtype)
    mask = rng.standard_normal((3, 4, 5)).astype(dtype)
    dd, tt = _sdpa()
    check_parity(dd, tt, [q, k, v, mask])


@pytest.mark.parametrize("L,S", [(4, 4), (3, 5), (5, 3)])
def test_sdpa_is_causal(L, S):
    dd, tt = _sdpa(is_causal=True)
    check_parity(dd, tt, list(_qkv(L=L, S=S)))


def test_sdpa_causal_combined_with_mask_and_scale():
    q, k, v = _qkv(L=4, S=4)
    mask = rng.random((4, 4)) > 0.3
    dd, tt = _sdpa(is_causal=True, scale=0.7)
    check_parity(dd, tt, [q, k, v, mask])


def test_sdpa_fully_masked_rows_are_zero_like_torch():
    q, k, v = _qkv()
    mask = np.ones((4, 5), dtype=bool)
    mask[1] = False
    out = check_parity(*_sdpa(), [q, k, v, mask])[0]
    assert np.all(out._data[..., 1, :] == 0)
    fmask = np.zeros((4, 5))
    fmask[2] = -np.inf
    check_parity(*_sdpa(), [q, k, v, (fmask, False)])


def test_sdpa_enable_gqa():
    q = rng.standard_normal((2, 6, 4, 3))
    k, v = rng.standard_normal((2, 2, 5, 3)), rng.standard_normal((2, 2, 5, 3))
    check_parity(*_sdpa(enable_gqa=True), [q, k, v])
    mask = rng.random((6, 4, 5)) > 0.3
    mask[..., 0] = True
    check_parity(*_sdpa(enable_gqa=True), [q, k, v, mask])


def test_sdpa_broadcasts_key_heads_without_gqa():
    q = rng.standard_normal((2, 3, 4, 6))
    k, v = rng.standard_normal((2, 1, 5, 6)), rng.standard_normal((2, 1, 5, 6))
    check_parity(*_sdpa(), [q, k, v])


def test_sdpa_gradcheck():
    q, k, v = _qkv(batch=(2,), L=3, S=4, E=2)
    mask = rng.standard_normal((3, 4))
    gradcheck(lambda a, b, c, m: F.scaled_dot_product_attention(a, b, c, attn_mask=m), q, k, v, mask)
    bmask = rng.random((3, 4)) > 0.5
    bmask[:, 0] = True
    gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=deepdive.tensor(bmask),
                                                            is_causal=True, scale=0.3), q, k, v)


def test_sdpa_dropout_statistics_and_gradient():
    deepdive.manual_seed(0)
    q, k, v = (deepdive.tensor(a, requires_grad=True) for a in _qkv(batch=(4,), L=8, S=8, E=4, dtype=np.float32))
    p = 0.5
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
    ref = F.scaled_dot_product_attention(q, k, v)
    assert out.dtype == deepdive.float32
    assert not np.allclose(out._data, ref._data)
    # with v = I the output is the dropped-out weights: entries are 0 or P / (1 - p)
    eye = deepdive.tensor(np.broadcast_to(np.eye(8, dtype=np.float32), (4, 8, 8)).copy())
    weights = F.scaled_dot_product_attention(q, k, eye, dropout_p=p)._data
    probs = F.scaled_dot_product_attention(q, k, eye)._data
    kept = weights != 0
    np.testing.assert_allclose(weights[kept], probs[kept] / (1 - p), rtol=1e-5)
    assert 0.3 < kept.mean() < 0.7
    out.sum().backward()
    assert q.grad is not None and np.isfinite(q.grad._data).all()
    assert np.all(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0)._data == 0)


def test_sdpa_errors():
    q, k, v = (deepdive.tensor(a.astype(np.float32)) for a in _qkv())
    with pytest.raises(RuntimeError, match="same dtype"):
        F.scaled_dot_product_attention(q.double(), k, v)
    with pytest.raises(RuntimeError, match="attn_mask dtype"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=deepdive.ones(4, 5, dtype=deepdive.int64))
    with pytest.raises(RuntimeError, match=r"\[2, 3, 4, 6\] and \[2, 3, 5, 4\]"):
        F.scaled_dot_product_attention(q, k[..., :4], v)
    with pytest.raises(RuntimeError, match="cannot be broadcast"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=deepdive.ones(3, 5, dtype=deepdive.bool))
    with pytest.raises(RuntimeError, match="multiple"):
        F.scaled_dot_product_attention(q, k[:, :2], v[:, :2], enable_gqa=True)


def test_sdpa_float32_default_and_no_graph_without_grad():
    q, k, v = (deepdive.tensor(a.astype(np.float32)) for a in _qkv())
    out = F.scaled_dot_product_attention(q, k, v)
    assert out.dtype == deepdive.float32 and out.grad_fn is None
    torch = require_torch()
    ref = torch.nn.functional.scaled_dot_product_attention(*(torch.tensor(t._data) for t in (q, k, v)))
    assert_close(out, ref)


# ---------------------------------------------------------------- nn.MultiheadAttention
def compare_modules(dd_mod, t_mod, inputs, dtype, call=None, rtol=None, atol=None, seed=1):
    """Copy ``t_mod``'s weights into ``dd_mod``; run both on ``inputs`` (NumPy arrays: float ones require grad,
    others pass as tensors, None passes through) and compare every output and the gradients of every float
    input and every parameter. ``call(module, *inputs)`` returns a tuple of outputs (None entries skipped)."""
    torch = require_torch()
    t_dtype = torch.float64 if dtype == np.float64 else torch.float32
    t_mod = t_mod.to(t_dtype)
    dd_mod = dd_mod.double() if dtype == np.float64 else dd_mod.float()
    t_state = t_mod.state_dict()
    assert list(dd_mod.state_dict().keys()) == list(t_state.keys())
    dd_mod.load_state_dict({k: v.detach().numpy() for k, v in t_state.items()})
    dd_in, t_in = [], []
    for a in inputs:
        if a is None or not isinstance(a, np.ndarray):
            dd_in.append(a)
            t_in.append(a)
            continue
        a = a.astype(dtype) if a.dtype.kind == "f" else a
        rg = a.dtype.kind == "f"
        dd_in.append(deepdive.tensor(a.copy(), requires_grad=rg))
        t_in.append(torch.tensor(a.copy(), requires_grad=rg))
    call = call or (lambda m, *xs: m(*xs))
    dd_out, t_out = call(dd_mod, *dd_in), call(t_mod, *t_in)
    dd_out = dd_out if isinstance(dd_out, tuple) else (dd_out,)
    t_out = t_out if isinstance(t_out, tuple) else (t_out,)
    rng_w = np.random.default_rng(seed)
    dd_loss = t_loss = 0
    for i, (o, r) in enumerate(zip(dd_out, t_out)):
        if r is None:
            assert o is None, f"output {i}: torch returns None, deepdive {type(o)}"
            continue
        assert o.dtype == getattr(deepdive, str(r.dtype).split(".")[-1]), f"output {i} dtype"
        assert_close(o, r, rtol=rtol, atol=atol, what=f"output {i}")
        w = rng_w.standard_normal(tuple(r.shape)).astype(dtype)
        dd_loss = dd_loss + (o * deepdive.tensor(w)).sum()
        t_loss = t_loss + (r * torch.tensor(w)).sum()
    dd_loss.backward()
    t_loss.backward()
    for k, (a, b) in enumerate(zip(dd_in, t_in)):
        if isinstance(b, torch.Tensor) and b.requires_grad:
            assert_close(a.grad, b.grad, rtol=rtol, atol=atol, what=f"grad of input {k}")
    t_params = dict(t_mod.named_parameters())
    for name, p in dd_mod.named_parameters():
        q = t_params[name]
        if q.grad is None:
            assert p.grad is None or not np.any(p.grad._data), f"{name}: torch has no grad"
        else:
            assert_close(p.grad, q.grad, rtol=rtol, atol=atol, what=f"grad of {name}")
    return dd_out


def _mha_pair(*args, **kwargs):
    torch = require_torch()
    torch.manual_seed(0)
    return deepdive.nn.MultiheadAttention(*args, **kwargs), torch.nn.MultiheadAttention(*args, **kwargs)


def _call_mha(**kwargs):
    def call(m, q, k, v, kpm=None, am=None):
        return m(q, k, v, key_padding_mask=kpm, attn_mask=am, **kwargs)
    return call


E, H, N, L, S = 8, 2, 3, 4, 5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
def test_mha_self_attention_parity(dtype, batch_first, need_weights, average):
    x = rng.standard_normal((N, L, E) if batch_first else (L, N, E))
    dd, tt = _mha_pair(E, H, batch_first=batch_first)

    def call(m, x):
        return m(x, x, x, need_weights=need_weights, average_attn_weights=average)
    compare_modules(dd, tt, [x], dtype, call)


@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["bool2d", "float2d", "bool3d", "float3d", "kpm_bool", "kpm_float", "both",
                                  "both_mixed"])
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_masks_parity(dtype, kind, need_weights):
    q, k = rng.standard_normal((N, L, E)), rng.standard_normal((N, S, E))
    v = rng.standard_normal((N, S, E))
    am = kpm = None
    if kind.endswith("2d"):
        am = rng.random((L, S)) > 0.6
    if kind.endswith("3d"):
        am = rng.random((N * H, L, S)) > 0.6
    if am is not None:
        am[..., 1] = False       # every query keeps one key
        am = am if kind.startswith("bool") else np.where(am, -np.inf, rng.standard_normal(am.shape))
    if kind.startswith("kpm") or kind.startswith("both"):
        kpm = rng.random((N, S)) > 0.6
        kpm[:, 1] = False
        if kind == "kpm_float":
            kpm = np.where(kpm, -np.inf, 0.0)
    if kind.startswith("both"):
        am = np.triu(np.ones((L, S), dtype=bool), 2)
        if kind == "both_mixed":
            am = np.where(am, -np.inf, 0.0)
    dd, tt = _mha_pair(E, H, batch_first=True)
    am_c = None if am is None else (am.astype(dtype) if am.dtype.kind == "f" else am)
    kpm_c = None if kpm is None else (kpm.astype(dtype) if kpm.dtype.kind == "f" else kpm)
    torch = require_torch()

    def call(m, q, k, v):
        to = (lambda a: None if a is None else (deepdive.tensor(a) if isinstance(m, deepdive.nn.Module)
                                                else torch.tensor(a)))
        return m(q, k, v, key_padding_mask=to(kpm_c), attn_mask=to(am_c), need_weights=need_weights)
    compare_modules(dd, tt, [q, k, v], dtype, call)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mha_kdim_vdim_and_cross_attention(dtype):
    q, k, v = rng.standard_normal((L, N, E)), rng.standard_normal((S, N, 3)), rng.standard_normal((S, N, 5))
    dd, tt = _mha_pair(E, H, kdim=3, vdim=5)
    assert dd.in_proj_weight is None and dd.q_proj_weight.shape == (E, E) and dd.k_proj_weight.shape == (E, 3)
    compare_modules(dd, tt, [q, k, v], dtype, _call_mha())
    mem = rng.standard_normal((S, N, E))
    dd, tt = _mha_pair(E, H)
    compare_modules(dd, tt, [q, mem], dtype, lambda m, q, mem: m(q, mem, mem))
    dd, tt = _mha_pair(E, H, bias=False)
    compare_modules(dd, tt, [q, mem, rng.standard_normal((S, N, E))], dtype, _call_mha())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias_kv,zero_attn", [(True, False), (False, True), (True, True)])
def test_mha_bias_kv_and_zero_attn(dtype, bias_kv, zero_attn):
    q, k, v = rng.standard_normal((L, N, E)), rng.standard_normal((S, N, E)), rng.standard_normal((S, N, E))
    kpm = rng.random((N, S)) > 0.5
    am = rng.standard_normal((L, S)).astype(dtype)
    dd, tt = _mha_pair(E, H, add_bias_kv=bias_kv, add_zero_attn=zero_attn)
    torch = require_torch()

    def call(m, q, k, v):
        wrap = deepdive.tensor if isinstance(m, deepdive.nn.Module) else torch.tensor
        return m(q, k, v, key_padding_mask=wrap(kpm), attn_mask=wrap(am), average_attn_weights=False)
    compare_modules(dd, tt, [q, k, v], dtype, call)


@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_unbatched(batch_first):
    x, mem = rng.standard_normal((L, E)), rng.standard_normal((S, E))
    kpm = np.array([False, True, False, False, True])
    am = rng.random((H, L, S)) > 0.7
    am[..., 0] = False
    dd, tt = _mha_pair(E, H, batch_first=batch_first)
    torch = require_torch()

    def call(m, x, mem):
        wrap = deepdive.tensor if isinstance(m, deepdive.nn.Module) else torch.tensor
        return m(x, mem, mem, key_padding_mask=wrap(kpm), attn_mask=wrap(am))
    out = compare_modules(dd, tt, [x, mem], np.float64, call)
    assert out[0].shape == (L, E) and out[1].shape == (L, S)


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_is_causal_and_fully_masked_rows(need_weights):
    torch = require_torch()
    x = rng.standard_normal((N, L, E))
    causal = np.triu(np.full((L, L), -np.inf), 1)
    dd, tt = _mha_pair(E, H, batch_first=True)

    def call(m, x):
        wrap = deepdive.tensor if isinstance(m, deepdive.nn.Module) else torch.tensor
        return m(x, x, x, attn_mask=wrap(causal), is_causal=True, need_weights=need_weights)
    compare_modules(dd, tt, [x], np.float64, call)
    # a sequence whose keys are all padded: torch gives NaN when it returns weights, 0 when it does not
    kpm = np.zeros((N, L), dtype=bool)
    kpm[1] = True
    dd, tt = _mha_pair(E, H, batch_first=True)
    dd.load_state_dict(tt.state_dict())
    out, _ = dd(*(deepdive.tensor(x.astype(np.float32)),) * 3, key_padding_mask=deepdive.tensor(kpm),
                need_weights=need_weights)
    ref, _ = tt(*(torch.tensor(x.astype(np.float32)),) * 3, key_padding_mask=torch.tensor(kpm),
                need_weights=need_weights)
    np.testing.assert_array_equal(np.isnan(out._data), np.isnan(ref.detach().numpy()))
    assert_close(np.nan_to_num(out._data), np.nan_to_num(ref.detach().numpy()))


def test_mha_init_and_names_match_torch():
    deepdive.manual_seed(0)
    m = deepdive.nn.MultiheadAttention(16, 4, add_bias_kv=True)
    names = [n for n, _ in m.named_parameters()]
    _, tt = _mha_pair(16, 4, add_bias_kv=True)
    assert names == [n for n, _ in tt.named_parameters()]
    assert m.in_proj_weight.dtype == deepdive.float32
    bound = np.sqrt(6 / (16 + 48))          # xavier_uniform on the (3E, E) packed weight
    w = m.in_proj_weight._data
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert not np.any(m.in_proj_bias._data) and not np.any(m.out_proj.bias._data)
    assert m.out_proj.__class__.__name__ == "NonDynamicallyQuantizableLinear"
    assert isinstance(m.out_proj, deepdive.nn.Linear)
    assert m.head_dim == 4 and m.batch_first is False and m._qkv_same_embed_dim


def test_mha_dropout_train_vs_eval():
    deepdive.manual_seed(0)
    m = deepdive.nn.MultiheadAttention(8, 2, dropout=0.5, batch_first=True)
    x = deepdive.randn(2, 6, 8)
    a, wa = m(x, x, x)
    b, wb = m(x, x, x)
    assert not np.allclose(a._data, b._data)
    assert np.any(wa._data == 0)
    m.eval()
    c, _ = m(x, x, x)
    d, _ = m(x, x, x)
    np.testing.assert_array_equal(c._data, d._data)


def test_mha_errors():
    m = deepdive.nn.MultiheadAttention(8, 2)
    x = deepdive.randn(4, 3, 8)
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is deepdive.Size\(\[5, 4\]\), but "
                                           r"should be \(4, 4\)."):
        m(x, x, x, attn_mask=deepdive.zeros(5, 4))
    with pytest.raises(RuntimeError, match=r"3D attn_mask .* should be \(6, 4, 4\)"):
        m(x, x, x, attn_mask=deepdive.zeros(2, 4, 4))
    with pytest.raises(AssertionError, match=r"expecting key_padding_mask shape of \(3, 4\)"):
        m(x, x, x, key_padding_mask=deepdive.zeros(4, 3, dtype=deepdive.bool))
    with pytest.raises(AssertionError, match="expecting embedding dimension of 8, but got 6"):
        y = deepdive.randn(4, 3, 6)
        m(y, y, y)
    with pytest.raises(AssertionError, match="expected `key` and `value` to be 3-D"):
        m(x, x[0], x[0])
    with pytest.raises(AssertionError, match="only bool and floating types of attn_mask"):
        m(x, x, x, attn_mask=deepdive.zeros(4, 4, dtype=deepdive.int64))
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        m(x, x, x, is_causal=True)
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        deepdive.nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="must be greater than 0"):
        deepdive.nn.MultiheadAttention(0, 2)


def test_mha_gradcheck():
    deepdive.manual_seed(0)
    m = deepdive.nn.MultiheadAttention(4, 2, batch_first=True).double()
    q, k, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 4))
    kpm = deepdive.tensor(np.array([[False] * 4 + [True], [False] * 5]))
    am = deepdive.tensor(rng.standard_normal((3, 5)))
    gradcheck(lambda a, b, c: m(a, b, c, key_padding_mask=kpm, attn_mask=am, average_attn_weights=False), q, k, v)


def test_functional_multi_head_attention_forward_matches_torch():
    torch = require_torch()
    _, tt = _mha_pair(E, H)
    w = {k: v.detach().numpy().astype(np.float64) for k, v in tt.state_dict().items()}
    q, k = rng.standard_normal((L, N, E)), rng.standard_normal((S, N, E))
    kpm = rng.random((N, S)) > 0.7
    kpm[:, 0] = False

    def run(lib, F):
        args = [lib.tensor(w[name], requires_grad=True) for name in ("in_proj_weight", "in_proj_bias",
                                                                     "out_proj.weight", "out_proj.bias")]
        x, mem = lib.tensor(q, requires_grad=True), lib.tensor(k, requires_grad=True)
        out, weights = F.multi_head_attention_forward(x, mem, mem, E, H, args[0], args[1], None, None, False, 0.5,
                                                      args[2], args[3], training=False,
                                                      key_padding_mask=lib.tensor(kpm))
        (out.sum() + (weights * weights).sum()).backward()
        return [out, weights, x.grad, mem.grad] + [a.grad for a in args]
    for i, (a, b) in enumerate(zip(run(deepdive, deepdive.nn.functional), run(torch, torch.nn.functional))):
        assert_close(a, b, what=f"result {i}")


def test_mha_float_attn_mask_receives_gradient():
    torch = require_torch()
    dd, tt = _mha_pair(E, H, batch_first=True)
    dd.load_state_dict(tt.state_dict())
    x = rng.standard_normal((N, L, E))
    am = rng.standard_normal((N * H, L, L))
    grads = []
    for lib, m in ((deepdive, dd.double()), (torch, tt.double())):
        xs, mask = lib.tensor(x), lib.tensor(am, requires_grad=True)
        out, w = m(xs, xs, xs, attn_mask=mask)
        (out.sum() + w.sum()).backward()
        grads.append(mask.grad)
    assert_close(grads[0], grads[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sdpa_rows_far_below_their_slice_max_match_torch(dtype):
    """The softmax shifts each row by its (L, S) slice's max; a row far below it (here an additive mask
    puts row 1 ~300 lower, row 2 of the second head ~60 lower) must still match torch, gradients included."""
    torch = require_torch()
    r = np.random.default_rng(3)
    q, k, v = (r.standard_normal((2, 2, 5, 4)).astype(dtype) for _ in range(3))
    mask = np.zeros((2, 2, 5, 6), dtype)[..., :5]
    mask[:, :, 1] = -300.0
    mask[:, 1, 2] = -60.0
    mask[0, 0, 3, 1:] = -np.inf                     # one key left in that row
    check_parity(lambda a, b, c, m: F.scaled_dot_product_attention(a, b, c, attn_mask=m),
                 lambda a, b, c, m: torch.nn.functional.scaled_dot_product_attention(a, b, c, attn_mask=m),
                 [q, k, v, np.ascontiguousarray(mask)])
