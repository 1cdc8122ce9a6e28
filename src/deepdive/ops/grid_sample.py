"""Spatial transformers: affine_grid (sampling grids from affine matrices) and grid_sample (reading an image
at those points, bilinear or nearest, with zeros / border / reflection padding), as in Jaderberg et al. 2015.

Coordinates are normalised to [-1, 1]; with ``align_corners`` -1 and 1 are the centres of the corner pixels,
without it their outer edges:  x_pixel = (x + 1)/2 * (W - 1)   or   ((x + 1) * W - 1) / 2.
"""
import numpy as np

from ..autograd.function import Function
from ..tensor import _wrap
from .linalg import matmul

__all__ = ["affine_grid", "grid_sample"]


def _base_coordinates(n, align_corners, dtype):
    if align_corners:
        return np.linspace(-1, 1, n, dtype=np.float64).astype(dtype) if n > 1 else np.zeros(1, dtype)
    return ((np.arange(n, dtype=np.float64) * 2 + 1) / n - 1).astype(dtype)


def affine_grid(theta, size, align_corners=None):
    """grid[n, h, w] = theta[n] @ (x_w, y_h, 1): a (N, H, W, 2) sampling grid from (N, 2, 3) affine matrices
    (or (N, D, H, W, 3) from (N, 3, 4) for a 5-D ``size``). Differentiable w.r.t. theta."""
    align_corners = bool(align_corners)
    size = tuple(int(s) for s in size)
    spatial = len(size) - 2
    if spatial not in (2, 3):
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {list(size)}.")
    if theta._data.dtype.kind != "f":
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    expected = (size[0], spatial, spatial + 1)
    if tuple(theta.shape) != expected:
        raise ValueError(f"Expected a batch of {spatial}D affine matrices of shape Nx{spatial}x{spatial + 1} for size "
                         f"{list(size)}. Got {list(theta.shape)}.")
    dt = theta._data.dtype
    axes = [_base_coordinates(n, align_corners, dt) for n in reversed(size[2:])]     # x (W), y (H), z (D)
    mesh = list(np.meshgrid(*axes[::-1], indexing="ij"))[::-1]                           # x varies fastest
    base = np.stack(mesh + [np.ones_like(mesh[0])], axis=-1).reshape(-1, spatial + 1)
    grid = matmul(_wrap(base), theta.transpose(1, 2))                                # (N, P, spatial)
    return grid.reshape(size[0], *size[2:], spatial)


def _unnormalize(coordinate, size, align_corners):
    """Pixel coordinate and its derivative w.r.t. the normalised one."""
    if align_corners:
        return (coordinate + 1) / 2 * (size - 1), (size - 1) / 2
    return ((coordinate + 1) * size - 1) / 2, size / 2


def _reflect(coordinate, twice_low, twice_high):
    """PyTorch's reflect_coordinates, with its derivative (+-1)."""
    if twice_low == twice_high:
        return np.zeros_like(coordinate), np.zeros_like(coordinate)
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    shifted = coordinate - low
    sign = np.where(shifted < 0, -1.0, 1.0)
    distance = np.abs(shifted)
    extra, flips = np.fmod(distance, span), np.floor(distance / span)
    even = flips % 2 == 0
    return np.where(even, extra + low, span - extra + low), np.where(even, sign, -sign)


def _source(coordinate, size, padding_mode, align_corners):
    """The pixel coordinate to read, and d(pixel)/d(normalised), after the padding mode's clipping/reflection."""
    pixel, scale = _unnormalize(coordinate, size, align_corners)
    slope = np.full_like(pixel, scale)
    if padding_mode == "reflection":
        pixel, sign = _reflect(pixel, 0, 2 * (size - 1)) if align_corners else _reflect(pixel, -1, 2 * size - 1)
        slope = slope * sign
    if padding_mode in ("border", "reflection"):
        inside = (pixel > 0) & (pixel < size - 1)
        pixel = np.clip(pixel, 0, size - 1)
        slope = np.where(inside, slope, 0)
    return pixel, slope


class GridSample2d(Function):
    """out[n, c, h, w] = sum of the taps of input[n, c] around (x, y) = unnormalize(grid[n, h, w]), weighted
    bilinearly ((1 - dx)(1 - dy), dx(1 - dy), ...) or the nearest pixel; taps outside the image read 0.

    Backward: d input = the same weights scattered back onto the taps; d grid (bilinear) =
    sum_c g * (d out / d x, d out / d y) * d(pixel)/d(normalised) (0 for nearest, as in PyTorch).
    """

    @staticmethod
    def forward(ctx, input, grid, mode, padding_mode, align_corners):
        N, C, H, W = input.shape
        x, slope_x = _source(grid[..., 0].reshape(N, -1).astype(np.float64), W, padding_mode, align_corners)
        y, slope_y = _source(grid[..., 1].reshape(N, -1).astype(np.float64), H, padding_mode, align_corners)
        flat = input.reshape(N, C, H * W)
        taps = []                                                  # (flat index, in-bounds mask, weight)
        if mode == "nearest":
            xi, yi = np.rint(x).astype(np.int64), np.rint(y).astype(np.int64)
            taps.append((xi, yi, np.ones_like(x)))
        else:
            x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
            fx, fy = x - x0, y - y0
            taps += [(x0, y0, (1 - fx) * (1 - fy)), (x0 + 1, y0, fx * (1 - fy)),
                     (x0, y0 + 1, (1 - fx) * fy), (x0 + 1, y0 + 1, fx * fy)]
        out = np.zeros((N, C, x.shape[1]), dtype=input.dtype)
        gathered = []
        for xi, yi, weight in taps:
            inside = (xi >= 0) & (xi < W) & (yi >= 0) & (yi < H)
            index = np.where(inside, yi * W + xi, 0)
            values = np.take_along_axis(flat, index[:, None, :], axis=2) * inside[:, None, :]
            out += (values * weight[:, None, :]).astype(input.dtype, copy=False)
            gathered.append((index, inside, weight, values))
        ctx.saved = (gathered, x, y, slope_x, slope_y)
        ctx.shapes, ctx.mode, ctx.grid_shape = (N, C, H, W), mode, grid.shape
        return out.reshape((N, C) + grid.shape[1:3])

    @staticmethod
    def backward(ctx, grad):
        gathered, x, y, slope_x, slope_y = ctx.saved
        N, C, H, W = ctx.shapes
        g = grad.reshape(N, C, -1)
        d_input = d_grid = None
        if ctx.needs_input_grad[0]:
            where = (np.arange(N * C).reshape(N, C, 1) * (H * W))
            total = np.zeros(N * C * H * W, dtype=np.float64)
            for index, inside, weight, _ in gathered:
                contribution = g * (weight * inside)[:, None, :]
                total += np.bincount((where + index[:, None, :]).reshape(-1), weights=contribution.reshape(-1),
                                     minlength=total.size)
            d_input = total.astype(grad.dtype).reshape(N, C, H, W)
        if ctx.needs_input_grad[1]:
            d_grid = np.zeros(ctx.grid_shape, dtype=grad.dtype)
            if ctx.mode == "bilinear":
                (_, _, _, v00), (_, _, _, v10), (_, _, _, v01), (_, _, _, v11) = gathered
                fx, fy = x - np.floor(x), y - np.floor(y)
                d_x = ((v10 - v00) * (1 - fy)[:, None] + (v11 - v01) * fy[:, None]) * g
                d_y = ((v01 - v00) * (1 - fx)[:, None] + (v11 - v10) * fx[:, None]) * g
                d_grid[..., 0] = (d_x.sum(axis=1) * slope_x).reshape(ctx.grid_shape[:3])
                d_grid[..., 1] = (d_y.sum(axis=1) * slope_y).reshape(ctx.grid_shape[:3])
        return d_input, d_grid, None, None, None


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample ``input`` (N, C, H, W) at ``grid`` (N, H_out, W_out, 2) normalised (x, y) points -> (N, C, H_out, W_out).

    Args: mode 'bilinear' | 'nearest'; padding_mode 'zeros' | 'border' | 'reflection'; align_corners
    (default False).
    """
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', but "
                         f"got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    if mode == "bicubic":
        raise NotImplementedError("grid_sample: mode='bicubic' is not supported by deepdive (use 'bilinear' or "
                                  "'nearest')")
    if input.ndim != 4:
        raise NotImplementedError(f"grid_sample: only 4-D input (N, C, H, W) is supported, got {input.ndim}-D "
                                  "(5-D volumes are not)")
    if grid.ndim != 4 or grid.shape[-1] != 2 or grid.shape[0] != input.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid to have size 2 in last dimension and the same batch size "
                           f"as input, but got input with sizes {list(input.shape)} and grid with sizes "
                           f"{list(grid.shape)}")
    if input._data.dtype != grid._data.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have same dtype, but input has "
                           f"{input.dtype} and grid has {grid.dtype}")
    return GridSample2d.apply(input, grid, mode, padding_mode, bool(align_corners))
