"""Padding layers (math in ops/padding.py): Zero/Constant/Reflection/Replication/Circular Pad 1d and 2d.

``padding`` is an int (all sides) or (left, right[, top, bottom]) as in ``F.pad``.
"""
from ..ops.padding import pad
from .module import Module

__all__ = ["ZeroPad1d", "ZeroPad2d", "ConstantPad1d", "ConstantPad2d", "ReflectionPad1d", "ReflectionPad2d",
           "ReplicationPad1d", "ReplicationPad2d", "CircularPad1d", "CircularPad2d"]


class _PadNd(Module):
    mode = "constant"
    _n = 2

    def __init__(self, padding, value=None):
        super().__init__()
        self.padding = tuple(padding) if isinstance(padding, (tuple, list)) else (int(padding),) * (2 * self._n)
        if len(self.padding) != 2 * self._n:
            raise ValueError(f"{type(self).__name__}: padding must be an int or {2 * self._n} ints, got {padding}")
        if value is not None:
            self.value = value

    def forward(self, input):
        if self.mode == "constant":
            return pad(input, self.padding, "constant", self.value)
        return pad(input, self.padding, self.mode)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}" if self.mode == "constant" else f"{self.padding}"


class ConstantPad1d(_PadNd):
    """Pad the last axis with ``value``: (N, C, L) -> (N, C, L + left + right)."""
    _n = 1

    def __init__(self, padding, value):
        super().__init__(padding, value)


class ConstantPad2d(_PadNd):
    """Pad the last two axes with ``value``: (N, C, H, W) -> (N, C, H + top + bottom, W + left + right)."""

    def __init__(self, padding, value):
        super().__init__(padding, value)


class ZeroPad1d(ConstantPad1d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    """Mirror the input at its edges (edge not repeated): [1, 2, 3] padded by 2 -> [3, 2, 1, 2, 3, 2, 1]."""
    mode, _n = "reflect", 1


class ReflectionPad2d(_PadNd):
    mode = "reflect"


class ReplicationPad1d(_PadNd):
    """Repeat the edge value: [1, 2, 3] padded by 2 -> [1, 1, 1, 2, 3, 3, 3]."""
    mode, _n = "replicate", 1


class ReplicationPad2d(_PadNd):
    mode = "replicate"


class CircularPad1d(_PadNd):
    """Wrap around: [1, 2, 3] padded by 2 -> [2, 3, 1, 2, 3, 1, 2]."""
    mode, _n = "circular", 1


class CircularPad2d(_PadNd):
    mode = "circular"
