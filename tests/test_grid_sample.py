"""F.affine_grid and F.grid_sample (bilinear / nearest, zeros / border / reflection, align_corners): PyTorch
parity of values and gradients (input and grid), gradcheck, and a spatial-transformer snippet."""
import numpy as np
import pytest

import deepdive
from parity import check_parity, gradcheck, require_torch

rng = np.random.default_rng(0)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 1, 3, 4, 2)])
def test_affine_grid(align_corners, size):
    torch = require_torch()
    theta = rng.standard_normal((2, len(size) - 2, len(size) - 1))
    check_parity(lambda t: deepdive.nn.functional.affine_grid(t, size, align_corners=align_corners),
                 lambda t: torch.nn.functional.affine_grid(t, size, align_corners=align_corners), [theta])
    check_parity(lambda t: deepdive.nn.functional.affine_grid(t, size, align_corners=align_corners),
                 lambda t: torch.nn.functional.affine_grid(t, size, align_corners=align_corners),
                 [theta.astype(np.float32)])


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grid_sample_parity(mode, padding_mode, align_corners, dtype):
    torch = require_torch()
    image = rng.standard_normal((2, 3, 5, 6)).astype(dtype)
    grid = rng.uniform(-1.6, 1.6, (2, 4, 7, 2)).astype(dtype)          # points inside and outside the image
    kwargs = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
    check_parity(lambda a, g: deepdive.nn.functional.grid_sample(a, g, **kwargs),
                 lambda a, g: torch.nn.functional.grid_sample(a, g, **kwargs), [image, grid])


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_3d_parity(mode, padding_mode, align_corners):
    torch = require_torch()
    volume = rng.standard_normal((2, 2, 3, 4, 5)).astype(np.float32)
    grid = rng.uniform(-1.5, 1.5, (2, 2, 3, 4, 3)).astype(np.float32)
    kwargs = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
    check_parity(lambda a, g: deepdive.nn.functional.grid_sample(a, g, **kwargs),
                 lambda a, g: torch.nn.functional.grid_sample(a, g, **kwargs), [volume, grid])


def test_grid_sample_3d_gradcheck():
    gradcheck(lambda a, g: deepdive.nn.functional.grid_sample(a, g, padding_mode="border", align_corners=True),
              rng.standard_normal((1, 2, 3, 3, 4)), rng.uniform(-1.3, 1.3, (1, 2, 2, 2, 3)))


@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_grid_sample_gradcheck(padding_mode):
    image = rng.standard_normal((1, 2, 4, 5))
    grid = rng.uniform(-1.4, 1.4, (1, 3, 3, 2))
    for align_corners in (False, True):
        gradcheck(lambda a, g: deepdive.nn.functional.grid_sample(a, g, padding_mode=padding_mode,
                                                                  align_corners=align_corners), image, grid)


def spatial_transformer(torch, x, theta):
    """The spatial-transformer step of PyTorch's STN tutorial: warp the input by the predicted affine theta."""
    F = torch.nn.functional
    grid = F.affine_grid(theta, x.size(), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False)


def test_spatial_transformer_snippet_matches_torch():
    torch = require_torch()
    x = rng.standard_normal((3, 1, 8, 8)).astype(np.float32)
    theta = (np.array([[1, 0, 0], [0, 1, 0]]) + 0.2 * rng.standard_normal((3, 2, 3))).astype(np.float32)
    check_parity(lambda a, t: spatial_transformer(deepdive, a, t), lambda a, t: spatial_transformer(torch, a, t),
                 [x, theta])


def test_errors():
    with pytest.raises(ValueError, match="expected padding_mode to be 'zeros', 'border', or 'reflection'"):
        deepdive.nn.functional.grid_sample(deepdive.ones(1, 1, 2, 2), deepdive.zeros(1, 1, 1, 2), padding_mode="wrap")
    with pytest.raises(ValueError, match="Expected a batch of 2D affine matrices of shape Nx2x3"):
        deepdive.nn.functional.affine_grid(deepdive.zeros(1, 3, 3), (1, 1, 2, 2), align_corners=False)
