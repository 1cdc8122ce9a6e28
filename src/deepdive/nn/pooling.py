"""Pooling layers: MaxPool, AvgPool, AdaptiveAvgPool, AdaptiveMaxPool and MaxUnpool, 1-D to 3-D
(math in ops/pooling.py and ops/pool3d.py)."""
from ..ops import pooling as P
from .module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
           "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "MaxUnpool1d", "MaxUnpool2d"]


class _MaxPoolNd(Module):
    """Max over sliding windows. Args: kernel_size, stride=None (= kernel_size), padding=0 (-inf),
    dilation=1, return_indices=False, ceil_mode=False."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def extra_repr(self):
        return ("kernel_size={kernel_size}, stride={stride}, padding={padding}, dilation={dilation}, "
                "ceil_mode={ceil_mode}").format(**self.__dict__)


class MaxPool1d(_MaxPoolNd):
    """(N, C, L) -> (N, C, L_out), L_out = floor((L + 2p - d*(k-1) - 1)/s) + 1 (ceil with ceil_mode)."""

    def forward(self, input):
        return P.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MaxPool2d(_MaxPoolNd):
    """y[n, c, i, j] = max over the (kh x kw) window at (i*sh, j*sw). (N, C, H, W) -> (N, C, H_out, W_out).

    Example::

        >>> nn.MaxPool2d(2)(torch.randn(1, 1, 4, 4)).shape
        deepdive.Size([1, 1, 2, 2])
    """

    def forward(self, input):
        return P.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class AvgPool1d(Module):
    """Mean over sliding windows of (N, C, L). Args: kernel_size, stride=None, padding=0, ceil_mode=False,
    count_include_pad=True."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        self.kernel_size = P._tuple(kernel_size, 1, "kernel_size")
        self.stride = P._tuple(stride if stride is not None else kernel_size, 1, "stride")
        self.padding = P._tuple(padding, 1, "padding")
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, input):
        return P.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self):
        return "kernel_size={kernel_size}, stride={stride}, padding={padding}".format(**self.__dict__)


class AvgPool2d(Module):
    """Mean over sliding windows: (N, C, H, W) -> (N, C, H_out, W_out).

    Args: kernel_size, stride=None (= kernel_size), padding=0, ceil_mode=False,
    count_include_pad=True (padding zeros count in the mean), divisor_override=None.
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input):
        return P.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return "kernel_size={kernel_size}, stride={stride}, padding={padding}".format(**self.__dict__)


class _AdaptivePool(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePool):
    """Average over L_out windows that tile the input: (N, C, L) -> (N, C, L_out)."""

    def forward(self, input):
        return P.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveAvgPool2d(_AdaptivePool):
    """Average over windows that tile the input: (N, C, H, W) -> (N, C, *output_size) (None keeps a size)."""

    def forward(self, input):
        return P.adaptive_avg_pool2d(input, self.output_size)


class _AdaptiveMaxPool(_AdaptivePool):
    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices


class AdaptiveMaxPool1d(_AdaptiveMaxPool):
    """Max over L_out windows that tile the input: (N, C, L) -> (N, C, L_out)."""

    def forward(self, input):
        return P.adaptive_max_pool1d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(_AdaptiveMaxPool):
    """Max over windows that tile the input: (N, C, H, W) -> (N, C, *output_size)."""

    def forward(self, input):
        return P.adaptive_max_pool2d(input, self.output_size, self.return_indices)


class _MaxUnpoolNd(Module):
    """The partial inverse of MaxPool: ``forward(input, indices, output_size=None)`` puts each value back
    at the index MaxPool(return_indices=True) gave it, zeros elsewhere."""
    _function = None

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = self._tuple(kernel_size)
        self.stride = self._tuple(stride if stride is not None else kernel_size)
        self.padding = self._tuple(padding)

    def forward(self, input, indices, output_size=None):
        return type(self)._function(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """(N, C, L_in) values + indices -> (N, C, L_out), L_out = (L_in - 1)*stride - 2*padding + kernel_size."""
    _function = staticmethod(P.max_unpool1d)

    @staticmethod
    def _tuple(v):
        return P._tuple(v, 1, "kernel_size")


class MaxUnpool2d(_MaxUnpoolNd):
    """(N, C, H, W) values + indices -> (N, C, H_out, W_out), H_out = (H - 1)*stride - 2*padding + kernel_size."""
    _function = staticmethod(P.max_unpool2d)

    @staticmethod
    def _tuple(v):
        return P._tuple(v, 2, "kernel_size")


# 3-D pooling (ops/pool3d.py)
from ..ops import pool3d as P3  # noqa: E402


class MaxPool3d(_MaxPoolNd):
    """(N, C, D, H, W) -> (N, C, D_out, H_out, W_out), D_out = floor((D + 2p - d*(k-1) - 1)/s) + 1 (ceil with
    ceil_mode), likewise H and W."""

    def forward(self, input):
        return P3.max_pool3d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                             ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class AvgPool3d(AvgPool2d):
    """Mean over sliding (kd, kh, kw) windows: (N, C, D, H, W) -> (N, C, D_out, H_out, W_out).

    Args: kernel_size, stride=None (= kernel_size), padding=0, ceil_mode=False, count_include_pad=True,
    divisor_override=None.
    """

    def forward(self, input):
        return P3.avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                             self.count_include_pad, self.divisor_override)


class AdaptiveAvgPool3d(_AdaptivePool):
    """Average over windows that tile the volume: (N, C, D, H, W) -> (N, C, *output_size) (None keeps a size)."""

    def forward(self, input):
        return P3.adaptive_avg_pool3d(input, self.output_size)


class AdaptiveMaxPool3d(_AdaptiveMaxPool):
    """Max over windows that tile the volume: (N, C, D, H, W) -> (N, C, *output_size) (None keeps a size)."""

    def forward(self, input):
        return P3.adaptive_max_pool3d(input, self.output_size, self.return_indices)


class MaxUnpool3d(_MaxUnpoolNd):
    """(N, C, D, H, W) values + indices -> (N, C, D_out, H_out, W_out), D_out = (D - 1)*stride - 2*padding +
    kernel_size (likewise H, W)."""
    _function = staticmethod(P.max_unpool3d)

    @staticmethod
    def _tuple(v):
        return P._tuple(v, 3, "kernel_size")
