"""Normalisation layers against their torch twins (values, all gradients, running buffers) in float32/float64,
train and eval; gradcheck of the fused functional ops; bad input."""
import numpy as np
import pytest

import deepdive
import deepdive.nn as nn
import deepdive.nn.functional as F
from parity import gradcheck, require_torch, assert_close
from test_layers import module_parity

rng = np.random.default_rng(0)
DTYPES = [np.float32, np.float64]


def _randomise(module):
    """Non-trivial affine parameters and running statistics, so the test can tell them apart."""
    for p in module.parameters():
        p._data[...] = rng.standard_normal(p._data.shape)
    if getattr(module, "running_var", None) is not None:
        module.running_mean._data[...] = rng.standard_normal(module.running_mean._data.shape)
        module.running_var._data[...] = rng.uniform(0.5, 2, module.running_var._data.shape)
    return module


BATCHNORM_CASES = [("BatchNorm1d", (8, 3)), ("BatchNorm1d", (4, 3, 5)), ("BatchNorm2d", (4, 3, 5, 2)),
                   ("BatchNorm3d", (2, 3, 2, 3, 2))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("name,shape", BATCHNORM_CASES)
def test_batchnorm_parity(name, shape, train, dtype):
    torch = require_torch()
    dd = _randomise(getattr(nn, name)(3))
    tt = getattr(torch.nn, name)(3)
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    module_parity(dd, tt, [x], dtype, train=train)
    module_parity(dd, tt, [x], dtype, train=train)        # a second step: running statistics keep matching


@pytest.mark.parametrize("kwargs", [{"momentum": None}, {"affine": False}, {"track_running_stats": False},
                                    {"momentum": 0.3, "eps": 1e-3}, {"bias": False},
                                    {"affine": False, "track_running_stats": False}])
@pytest.mark.parametrize("train", [True, False])
def test_batchnorm_options(kwargs, train):
    torch = require_torch()
    dd = _randomise(nn.BatchNorm2d(3, **kwargs))
    tt = torch.nn.BatchNorm2d(3, **kwargs)
    assert repr(dd) == repr(tt)
    assert list(dd.state_dict()) == list(tt.state_dict())
    for step in range(3):
        x = rng.standard_normal((4, 3, 2, 2)) + step
        module_parity(dd, tt, [x], np.float64, train=train)


def test_batchnorm_num_batches_tracked_and_eval_uses_running_stats():
    bn = nn.BatchNorm1d(2)
    for _ in range(3):
        bn(deepdive.randn(5, 2))
    assert bn.num_batches_tracked.item() == 3 and bn.num_batches_tracked.dtype == deepdive.int64
    bn.eval()
    x = deepdive.randn(4, 2)
    expected = (x._data - bn.running_mean._data) / np.sqrt(bn.running_var._data + bn.eps)
    np.testing.assert_allclose(bn(x)._data, expected, rtol=1e-5, atol=1e-6)
    assert bn.num_batches_tracked.item() == 3          # eval leaves the statistics alone
    bn.load_state_dict({k: v for k, v in bn.state_dict().items() if k != "num_batches_tracked"})  # old checkpoints


def test_batchnorm_errors():
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.BatchNorm1d(3)(deepdive.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        nn.BatchNorm2d(3)(deepdive.randn(2, 3, 4))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(3)(deepdive.randn(1, 3))
    with pytest.raises(RuntimeError, match="expected input with 3 channels"):
        nn.BatchNorm2d(3)(deepdive.randn(2, 4, 2, 2))
    nn.BatchNorm1d(3).eval()(deepdive.randn(1, 3))       # fine in eval


def test_batch_norm_functional_gradcheck():
    x, w, b = rng.standard_normal((4, 3, 2)), rng.standard_normal(3), rng.standard_normal(3)
    gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), x, w, b)
    rm, rv = deepdive.zeros(3, dtype=deepdive.float64), deepdive.ones(3, dtype=deepdive.float64)
    gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=False), x, w, b)
    gradcheck(lambda x: F.batch_norm(x, None, None, training=True), x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,normalized", [((4, 5), 5), ((2, 3, 4), (3, 4)), ((2, 3, 4), [4]), ((6,), 6)])
@pytest.mark.parametrize("kwargs", [{}, {"elementwise_affine": False}, {"bias": False}, {"eps": 1e-3}])
def test_layernorm_parity(shape, normalized, kwargs, dtype):
    torch = require_torch()
    dd = _randomise(nn.LayerNorm(normalized, **kwargs))
    tt = torch.nn.LayerNorm(normalized, **kwargs)
    assert repr(dd) == repr(tt)
    module_parity(dd, tt, [(rng.standard_normal(shape) * 3 + 2).astype(dtype)], dtype)


def test_layernorm_gradcheck_and_errors():
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    gradcheck(lambda x, w, b: F.layer_norm(x, (3, 4), w, b), x, w, b)
    gradcheck(lambda x: F.layer_norm(x, (4,)), x)
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[5\], expected input with shape \[\*, 5\], "
                                           r"but got input of size \[2, 3, 4\]"):
        nn.LayerNorm(5)(deepdive.randn(2, 3, 4))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("groups,channels,shape", [(2, 4, (3, 4, 5)), (1, 3, (2, 3, 2, 2)), (3, 3, (2, 3)),
                                                   (2, 6, (2, 6, 2, 2, 2))])
@pytest.mark.parametrize("affine", [True, False])
def test_groupnorm_parity(groups, channels, shape, affine, dtype):
    torch = require_torch()
    dd = _randomise(nn.GroupNorm(groups, channels, affine=affine))
    tt = torch.nn.GroupNorm(groups, channels, affine=affine)
    assert repr(dd) == repr(tt)
    module_parity(dd, tt, [(rng.standard_normal(shape) * 2 - 1).astype(dtype)], dtype)


def test_groupnorm_gradcheck_and_errors():
    gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), rng.standard_normal((2, 4, 3)), rng.standard_normal(4),
              rng.standard_normal(4))
    with pytest.raises(ValueError, match="num_channels must be divisible by num_groups"):
        nn.GroupNorm(3, 4)
    with pytest.raises(RuntimeError, match="expected input with 4 channels"):
        nn.GroupNorm(2, 4)(deepdive.randn(2, 6, 3))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("normalized,kwargs", [(5, {}), ((3, 5), {}), (5, {"eps": 1e-3}),
                                               (5, {"elementwise_affine": False})])
def test_rmsnorm_parity(normalized, kwargs, dtype):
    torch = require_torch()
    dd = _randomise(nn.RMSNorm(normalized, **kwargs))
    tt = torch.nn.RMSNorm(normalized, **kwargs)
    assert repr(dd) == repr(tt)
    module_parity(dd, tt, [rng.standard_normal((2, 3, 5)).astype(dtype)], dtype)


def test_rmsnorm_gradcheck_and_default_eps():
    gradcheck(lambda x, w: F.rms_norm(x, (4,), w), rng.standard_normal((3, 4)), rng.standard_normal(4))
    x = deepdive.zeros(2, 4)                 # eps=None -> finfo(float32).eps keeps 0/0 away
    assert np.isfinite(nn.RMSNorm(4)(x)._data).all()


@pytest.mark.parametrize("name,shape", [("InstanceNorm1d", (2, 3, 5)), ("InstanceNorm2d", (2, 3, 4, 4)),
                                        ("InstanceNorm1d", (3, 5))])
@pytest.mark.parametrize("kwargs", [{}, {"affine": True}, {"track_running_stats": True}])
def test_instancenorm_parity(name, shape, kwargs):
    torch = require_torch()
    dd = _randomise(getattr(nn, name)(3, **kwargs))
    tt = getattr(torch.nn, name)(3, **kwargs)
    assert repr(dd) == repr(tt)
    module_parity(dd, tt, [rng.standard_normal(shape)], np.float64)
    if kwargs.get("track_running_stats"):
        module_parity(dd, tt, [rng.standard_normal(shape)], np.float64, train=False)


def test_state_dict_roundtrip_from_torch():
    torch = require_torch()
    tt = torch.nn.BatchNorm1d(4)
    for _ in range(3):
        tt(torch.randn(6, 4) * 3 + 1)
    dd = nn.BatchNorm1d(4)
    dd.load_state_dict({k: v.numpy() for k, v in tt.state_dict().items()})
    tt.eval()
    dd.eval()
    x = rng.standard_normal((5, 4)).astype(np.float32)
    assert_close(dd(deepdive.tensor(x)), tt(torch.tensor(x)))
    assert dd.num_batches_tracked.item() == 3


@pytest.mark.parametrize("size", [1, 2, 3, 5])
@pytest.mark.parametrize("shape", [(2, 6, 4), (2, 5, 3, 3)])
def test_local_response_norm_parity(size, shape):
    torch = require_torch()
    dd, tt = nn.LocalResponseNorm(size, alpha=0.5, beta=0.75, k=2.0), torch.nn.LocalResponseNorm(size, 0.5, 0.75, 2.0)
    assert repr(dd) == repr(tt)
    for dtype in DTYPES:
        module_parity(dd, tt, [(rng.standard_normal(shape) * 2).astype(dtype)], dtype)
    gradcheck(lambda x: F.local_response_norm(x, size, 0.5, 0.75, 2.0), rng.standard_normal((2, 4, 3)))
    with pytest.raises(ValueError, match="Expected 3D or higher dimensionality input"):
        F.local_response_norm(deepdive.randn(2, 3), 2)
