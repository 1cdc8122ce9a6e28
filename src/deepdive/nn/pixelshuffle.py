"""PixelShuffle, PixelUnshuffle and ChannelShuffle layers (the math is in ``deepdive.ops.pixel_shuffle``)."""
from ..ops.pixel_shuffle import pixel_shuffle, pixel_unshuffle, channel_shuffle
from .module import Module

__all__ = ["PixelShuffle", "PixelUnshuffle", "ChannelShuffle"]


class PixelShuffle(Module):
    """(*, C r^2, H, W) -> (*, C, H r, W r): sub-pixel upsampling after a convolution (Shi et al., 2016).

    Args: upscale_factor (r).
    Example: ``nn.Sequential(nn.Conv2d(64, 3 * 4, 3, padding=1), nn.PixelShuffle(2))`` doubles H and W.
    """

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        return pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H r, W r) -> (*, C r^2, H, W), the inverse of PixelShuffle.   Args: downscale_factor (r)."""

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):
        return pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    """Interleave the channels of ``groups`` groups: (N, C, *) -> (N, C, *) (ShuffleNet)."""

    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, input):
        return channel_shuffle(input, self.groups)

    def extra_repr(self):
        return f"groups={self.groups}"
