"""interpolate / Upsample: nearest, nearest-exact, (bi)linear with and without align_corners, area;
size and scale_factor; against PyTorch (values, gradients, dtype) + gradcheck."""
import numpy as np
import pytest

import deepdive
import deepdive.nn as nn
import deepdive.nn.functional as F
from parity import check_parity, gradcheck, require_torch

rng = np.random.default_rng(2)

SIZES = [dict(size=(5, 13)), dict(scale_factor=2), dict(scale_factor=1.7), dict(size=(3, 4)),
         dict(scale_factor=(0.5, 3)), dict(size=9)]
MODES_2D = [("nearest", None), ("nearest-exact", None), ("bilinear", False), ("bilinear", True), ("area", None)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode,align_corners", MODES_2D)
@pytest.mark.parametrize("how", SIZES, ids=str)
def test_interpolate_2d_parity(how, mode, align_corners, dtype):
    x = rng.standard_normal((2, 3, 7, 6)).astype(dtype)
    check_parity(lambda a: F.interpolate(a, mode=mode, align_corners=align_corners, **how),
                 lambda a: require_torch().nn.functional.interpolate(a, mode=mode, align_corners=align_corners, **how),
                 [x])


@pytest.mark.parametrize("mode,align_corners", [("nearest", None), ("linear", False), ("linear", True), ("area", None)])
@pytest.mark.parametrize("how", [dict(size=13), dict(scale_factor=2), dict(scale_factor=0.6)], ids=str)
def test_interpolate_1d_parity(how, mode, align_corners):
    x = rng.standard_normal((2, 3, 7)).astype(np.float32)
    check_parity(lambda a: F.interpolate(a, mode=mode, align_corners=align_corners, **how),
                 lambda a: require_torch().nn.functional.interpolate(a, mode=mode, align_corners=align_corners, **how),
                 [x])


def test_recompute_scale_factor():
    x = rng.standard_normal((1, 2, 5, 5))
    for rsf in (True, False):
        check_parity(lambda a: F.interpolate(a, scale_factor=1.5, mode="bilinear", recompute_scale_factor=rsf),
                     lambda a: require_torch().nn.functional.interpolate(a, scale_factor=1.5, mode="bilinear",
                                                                         recompute_scale_factor=rsf), [x])


@pytest.mark.parametrize("mode,align_corners", [("nearest", None), ("bilinear", False), ("bilinear", True)])
def test_interpolate_gradcheck(mode, align_corners):
    gradcheck(lambda a: F.interpolate(a, size=(5, 3), mode=mode, align_corners=align_corners),
              rng.standard_normal((1, 2, 3, 4)))


@pytest.mark.parametrize("cls,kwargs", [("Upsample", dict(scale_factor=2)),
                                        ("Upsample", dict(size=(4, 10), mode="bilinear")),
                                        ("Upsample", dict(scale_factor=2, mode="bilinear", align_corners=True)),
                                        ("UpsamplingNearest2d", dict(scale_factor=3)),
                                        ("UpsamplingBilinear2d", dict(size=(6, 6)))], ids=str)
def test_upsample_layers(cls, kwargs):
    t = require_torch()
    ours, theirs = getattr(nn, cls)(**kwargs), getattr(t.nn, cls)(**kwargs)
    assert repr(ours) == repr(theirs)
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    out = check_parity(ours, theirs, [x])
    assert out[0].dtype == deepdive.float32


def test_interpolate_errors():
    x = deepdive.randn(1, 2, 4, 4)
    with pytest.raises(ValueError, match="align_corners option can only be set with the interpolating modes"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match="only one of size or scale_factor should be defined"):
        F.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ValueError, match="either size or scale_factor should be defined"):
        F.interpolate(x)
    with pytest.raises(NotImplementedError, match="bilinear mode needs 4D input"):
        F.interpolate(deepdive.randn(1, 2, 4), size=3, mode="bilinear")
