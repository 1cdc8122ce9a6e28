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
