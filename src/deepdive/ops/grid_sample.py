"""Spatial transformers: affine_grid (sampling grids from affine matrices) and grid_sample (reading an image
at those points, bilinear or nearest, with zeros / border / reflection padding), as in Jaderberg et al. 2015.

Coordinates are normalised to [-1, 1]; with ``align_corners`` -1 and 1 are the centres of the corner pixels,
without it their outer edges:  x_pixel = (x + 1)/2 * (W - 1)   or   ((x + 1) * W - 1) / 2.
"""
import itertools

import numpy as np

from ..autograd.function import Function
from ..autograd._graph import composite_backward, linked_input, _depending
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


class GridSample(Function):
    """out[n, c, *p] = sum over the taps of input[n, c] around the point unnormalize(grid[n, *p]) (x the last
    spatial axis, then y, then z), weighted (bi/tri)linearly, prod_k (1 - f_k or f_k), or the nearest pixel;
    taps outside the image read 0.

    Backward: d input = the same weights scattered back onto the taps; d grid (linear modes) along axis k =
    sum_c g * sum_taps value * (+-1) * prod_{j != k} weight_j, times d(pixel)/d(normalised) (0 for nearest,
    as in PyTorch).
    """

    @staticmethod
    def forward(ctx, input, grid, mode, padding_mode, align_corners):
        N, C = input.shape[:2]
        sizes = input.shape[2:][::-1]                               # (W, H[, D]): the order of grid's last axis
        points = [_source(grid[..., k].reshape(N, -1).astype(np.float64), size, padding_mode, align_corners)
                  for k, size in enumerate(sizes)]
        strides = np.cumprod((1,) + sizes[:-1])                    # flat index = x + W*y + W*H*z
        flat = input.reshape(N, C, -1)
        if mode == "nearest":
            corners = [[(np.rint(pixel).astype(np.int64), np.ones_like(pixel), 0.0)] for pixel, _ in points]
        else:
            corners = []
            for pixel, _ in points:
                low = np.floor(pixel)
                frac = pixel - low
                corners.append([(low.astype(np.int64), 1 - frac, -1.0), (low.astype(np.int64) + 1, frac, 1.0)])
        out = np.zeros((N, C, points[0][0].shape[1]), dtype=input.dtype)
        taps = []
        for combination in itertools.product(*corners):
            inside = np.ones(out.shape[::2], dtype=bool)
            index = np.zeros(out.shape[::2], dtype=np.int64)
            weight = np.ones(out.shape[::2])
            for (position, w, _), size, stride in zip(combination, sizes, strides):
                inside &= (position >= 0) & (position < size)
                index += position * stride
                weight = weight * w
            index = np.where(inside, index, 0)
            values = np.take_along_axis(flat, index[:, None, :], axis=2) * inside[:, None, :]
            out += (values * weight[:, None, :]).astype(input.dtype, copy=False)
            taps.append((combination, index, inside, weight, values))
        ctx.saved = (taps, [slope for _, slope in points])
        ctx.shape, ctx.mode, ctx.grid_shape = input.shape, mode, grid.shape
        ctx.inputs, ctx.options = (input, grid), (padding_mode, align_corners)      # for create_graph
        return out.reshape((N, C) + grid.shape[1:-1])

    @staticmethod
    def backward(ctx, grad):
        taps, slopes = ctx.saved
        shape = ctx.shape
        N, C = shape[:2]
        voxels = int(np.prod(shape[2:]))
        g = grad.reshape(N, C, -1)
        d_input = d_grid = None
        if ctx.needs_input_grad[0]:
            where = np.arange(N * C).reshape(N, C, 1) * voxels
            total = np.zeros(N * C * voxels, dtype=np.float64)
            for _, index, inside, weight, _ in taps:
                contribution = g * (weight * inside)[:, None, :]
                total += np.bincount((where + index[:, None, :]).reshape(-1), weights=contribution.reshape(-1),
                                     minlength=total.size)
            d_input = total.astype(grad.dtype).reshape(shape)
        if ctx.needs_input_grad[1]:
            d_grid = np.zeros(ctx.grid_shape, dtype=grad.dtype)
            if ctx.mode == "bilinear":
                for k, slope in enumerate(slopes):
                    d_coordinate = np.zeros(g.shape[::2])
                    for combination, _, _, _, values in taps:
                        others = np.ones(g.shape[::2])
                        for j, (_, w, _) in enumerate(combination):
                            if j != k:
                                others = others * w
                        d_coordinate += combination[k][2] * (values * g).sum(axis=1) * others
                    d_grid[..., k] = (d_coordinate * slope).reshape(ctx.grid_shape[:-1])
        return d_input, d_grid, None, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        # the sampling recomputed with recorded ops (_recorded_sample), differentiated with create_graph
        sample = lambda input, grid, *_: (_recorded_sample(input, grid, ctx.mode, *ctx.options),)  # noqa: E731
        d_input, d_grid = composite_backward(ctx, (grad,), sample, ctx.inputs + (None,) * 3)[:2]
        if ctx.needs_input_grad[1]:
            if d_grid is None:          # nearest: a zero gradient, as in PyTorch
                d_grid = _wrap(np.zeros(ctx.grid_shape, grad._data.dtype))
            if ctx.mode == "nearest":   # ... which, like the input's, is a function of the grid (derivative 0)
                d_input, d_grid = _depending((d_input, d_grid), (linked_input(ctx, 1, ctx.inputs[1]),))
        return d_input, d_grid, None, None, None


def _recorded_sample(input, grid, mode, padding_mode, align_corners):
    """GridSample's forward on Tensors, differentiable to any order (for create_graph).

    The padding modes make each pixel coordinate a piecewise-affine function of the grid coordinate,
    pixel = slope * coordinate + offset, with slope and offset (and the taps' integer positions) read off
    the NumPy values by ``_source``; the bilinear weights (1 - f or f, f = pixel - floor(pixel)) and the
    gathered values are then recorded ops.
    """
    N, C = input.shape[:2]
    dtype = input._data.dtype
    sizes = tuple(input.shape[2:])[::-1]
    strides = np.cumprod((1,) + sizes[:-1])
    flat = input.reshape(N, C, -1)
    axes = []
    for k, size in enumerate(sizes):
        coordinate = grid._data[..., k].reshape(N, -1).astype(np.float64)
        pixel, slope = _source(coordinate, size, padding_mode, align_corners)
        if mode == "nearest":
            axes.append([(np.rint(pixel).astype(np.int64), None)])
            continue
        low = np.floor(pixel)
        offset = (pixel - slope * coordinate - low).astype(dtype)
        frac = grid[..., k].reshape(N, -1) * _wrap(slope.astype(dtype)) + _wrap(offset)
        axes.append([(low.astype(np.int64), 1 - frac), (low.astype(np.int64) + 1, frac)])
    out = None
    for combination in itertools.product(*axes):
        inside = np.ones(coordinate.shape, dtype=bool)
        index = np.zeros(coordinate.shape, dtype=np.int64)
        weight = _wrap(np.ones(coordinate.shape, dtype))
        for (position, w), size, stride in zip(combination, sizes, strides):
            inside &= (position >= 0) & (position < size)
            index += position * stride
            weight = weight if w is None else weight * w
        index = np.broadcast_to(np.where(inside, index, 0)[:, None, :], (N, C, index.shape[1]))
        values = flat.gather(2, _wrap(np.ascontiguousarray(index)))
        term = values * (weight * _wrap(inside.astype(dtype))).unsqueeze(1)
        out = term if out is None else out + term
    return out.reshape((N, C) + tuple(grid.shape[1:-1]))


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample ``input`` (N, C, H, W) at ``grid`` (N, H_out, W_out, 2) normalised (x, y) points -> (N, C, H_out, W_out);
    volumes (N, C, D, H, W) at (N, D_out, H_out, W_out, 3) (x, y, z) points ('bilinear' is then trilinear).

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
    if input.ndim not in (4, 5):
        raise RuntimeError(f"grid_sampler(): expected 4D or 5D input and grid with same number of dimensions, but "
                           f"got input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    spatial = input.ndim - 2
    if grid.ndim != input.ndim or grid.shape[-1] != spatial or grid.shape[0] != input.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {spatial} in last dimension and the same "
                           f"batch size as input, but got input with sizes {list(input.shape)} and grid with sizes "
                           f"{list(grid.shape)}")
    if input._data.dtype != grid._data.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have same dtype, but input has "
                           f"{input.dtype} and grid has {grid.dtype}")
    return GridSample.apply(input, grid, mode, padding_mode, bool(align_corners))
