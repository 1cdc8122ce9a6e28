"""GELU's compiled float32 forward (ops/_fast_gelu.py) against its NumPy reference path and PyTorch.

Every parity test runs on both paths: the ``engine`` fixture sets DEEPDIVE_NUMBA=0 / 1.
"""

import numpy as np
import pytest

import deepdive
import deepdive.nn.functional as F
from deepdive.ops import activation
from parity import check_parity, check_second_order, gradcheck, require_torch

rng = np.random.default_rng(14)


@pytest.fixture(params=["numpy", "numba"])
def engine(request, monkeypatch):
    """Run the test on the NumPy path, then on the compiled one (skipped when numba is not installed)."""
    if request.param == "numba":
        pytest.importorskip("numba")
        monkeypatch.setenv("DEEPDIVE_NUMBA", "1")
        assert activation._gelu_kernel.get() is not None, "numba is installed but the GELU kernel failed its check"
    else:
        monkeypatch.setenv("DEEPDIVE_NUMBA", "0")
    return request.param


def test_compiled_gelu_is_within_its_documented_tolerance_of_the_numpy_path():
    """|dy| <= 4 * 2^-24 max(|x|, 1) and |d dy/dx| <= 4 * 2^-24 on 10^6 values; special values identical."""
    pytest.importorskip("numba")
    kernel = activation._gelu_kernel.get()
    assert kernel is not None
    x = np.concatenate([np.linspace(-14, 14, 200001), rng.standard_normal(800000) * 3,
                        [0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30, 1e-30, -1e-30]]).astype(np.float32)
    y, d = np.empty_like(x), np.empty_like(x)
    kernel(x, y, d)
    with np.errstate(all="ignore"):
        ry, rd = activation._blockwise(activation._gelu_parts, x)
    finite = np.isfinite(ry) & np.isfinite(rd)
    tol = 4 * 2.0 ** -24
    assert (np.abs(y[finite] - ry[finite]) <= tol * np.maximum(np.abs(x[finite]), 1)).all()
    assert (np.abs(d[finite] - rd[finite]) <= tol).all()
    np.testing.assert_array_equal(y[~finite], ry[~finite])
    np.testing.assert_array_equal(d[~finite], rd[~finite])
    np.testing.assert_array_equal(np.signbit(y), np.signbit(ry))


def test_compiled_gelu_is_off_with_deepdive_numba_0(monkeypatch):
    monkeypatch.setenv("DEEPDIVE_NUMBA", "0")
    assert activation._gelu_kernel.get() is None


@pytest.mark.parametrize("shape", [(), (0, 5), (7,), (33, 65), (2, 3, 4097)])
def test_gelu_parity_with_torch(engine, shape):
    torch = require_torch()
    x = np.asarray(rng.standard_normal(shape) * 3, dtype=np.float32)
    check_parity(F.gelu, torch.nn.functional.gelu, [x])
    check_parity(lambda t: deepdive.nn.GELU()(t), torch.nn.GELU(), [x])


def test_gelu_of_a_non_contiguous_float32_input(engine):
    torch = require_torch()
    x = (rng.standard_normal((64, 300)) * 3).astype(np.float32)[:, ::3].T
    assert not x.flags.c_contiguous
    check_parity(F.gelu, torch.nn.functional.gelu, [x])


# (GELU's float32 accuracy against float64 on [-12, 12] is tests/test_activation.py's, on both engines)


def test_gelu_gradcheck_and_second_order(engine):
    torch = require_torch()
    x = rng.standard_normal((4, 5)) * 2
    gradcheck(F.gelu, x)                                        # float64: the exact path on both engines
    check_second_order(F.gelu, torch.nn.functional.gelu, [x.astype(np.float32)])
