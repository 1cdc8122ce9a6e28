"""Rearranging channels into space and back: pixel_shuffle, pixel_unshuffle, channel_shuffle.

Each is one reshape -> permute -> reshape, so its gradient is the inverse rearrangement (the adjoint of a
permutation is its inverse), which the composed ops give for free.
"""
__all__ = ["pixel_shuffle", "pixel_unshuffle", "channel_shuffle"]


def _check(op, input, factor, name):
    if input.ndim < 3:
        raise RuntimeError(f"{op} expects input to have at least 3 dimensions, but got input with {input.ndim} "
                           "dimension(s)")
    if factor <= 0:
        raise RuntimeError(f"{op} expects a positive {name}, but got {factor}")


def pixel_shuffle(input, upscale_factor):
    """(*, C r^2, H, W) -> (*, C, H r, W r):  out[.., c, h r + i, w r + j] = x[.., c r^2 + i r + j, h, w]
    (the sub-pixel convolution's rearrangement, Shi et al. 2016)."""
    r = int(upscale_factor)
    _check("pixel_shuffle", input, r, "upscale_factor")
    *batch, C, H, W = input.shape
    if C % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
                           f"upscale_factor, but input.size(-3)={C} is not divisible by {r * r}")
    b = len(batch)
    x = input.reshape(*batch, C // (r * r), r, r, H, W)
    x = x.permute(*range(b), b, b + 3, b + 1, b + 4, b + 2)             # (*, C, H, r, W, r)
    return x.reshape(*batch, C // (r * r), H * r, W * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H r, W r) -> (*, C r^2, H, W), the inverse of ``pixel_shuffle``."""
    r = int(downscale_factor)
    _check("pixel_unshuffle", input, r, "downscale_factor")
    *batch, C, H, W = input.shape
    for name, size, axis in (("height", H, -2), ("width", W, -1)):
        if size % r:
            raise RuntimeError(f"pixel_unshuffle expects {name} to be divisible by downscale_factor, but "
                               f"input.size({axis})={size} is not divisible by {r}")
    b = len(batch)
    x = input.reshape(*batch, C, H // r, r, W // r, r)
    x = x.permute(*range(b), b, b + 2, b + 4, b + 1, b + 3)             # (*, C, r, r, H/r, W/r)
    return x.reshape(*batch, C * r * r, H // r, W // r)


def channel_shuffle(input, groups):
    """(N, C, *) -> (N, C, *) with the channels of ``groups`` groups interleaved (ShuffleNet, Zhang et al.
    2018): out[:, k * groups + g] = x[:, g * (C / groups) + k]."""
    if input.ndim <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with sizes "
                           f"{list(input.shape)}")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of groups:{groups}")
    N, C, *rest = input.shape
    if C % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {C} channels and {groups} groups.")
    x = input.reshape(N, groups, C // groups, *rest).transpose(1, 2)
    return x.reshape(N, C, *rest)
