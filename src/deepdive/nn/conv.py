"""Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d, Unfold, Fold.

The math lives in ``ops/conv.py`` (im2col + one matmul); these classes hold the
configuration and the parameters, with PyTorch's names, shapes and initialisation.
"""
import math

from .. import _dtype
from ..ops.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d, unfold, fold
from ..ops.padding import pad as F_pad
from ..tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "Unfold", "Fold"]


def _ntuple(value, n):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


class _ConvNd(Module):
    """Shared state of every convolution: configuration, ``weight`` and ``bias``.

    weight: (out_channels, in_channels/groups, *kernel_size), or (in_channels, out_channels/groups,
    *kernel_size) when transposed; bias: (out_channels,).
    Init (PyTorch's): weight ~ kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = weight.size(1) * prod(kernel_size).
    """
    _n = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, transposed,
                 output_padding, groups, bias, padding_mode, device=None, dtype=None):
        super().__init__()
        n = self._n
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
            if padding == "same" and any(s != 1 for s in _ntuple(stride, n)):
                raise ValueError("padding='same' is not supported for strided convolutions")
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"padding_mode must be one of ['zeros', 'reflect', 'replicate', 'circular'], "
                             f"but got padding_mode='{padding_mode}'")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _ntuple(kernel_size, n)
        self.stride = _ntuple(stride, n)
        self.padding = padding if isinstance(padding, str) else _ntuple(padding, n)
        self.dilation = _ntuple(dilation, n)
        self.transposed = transposed
        self.output_padding = _ntuple(output_padding, n)
        self.groups = groups
        self.padding_mode = padding_mode
        # F.pad order (last axis first, each side twice) for non-zero padding modes, as PyTorch computes it.
        if padding == "same":
            pads = []
            for d, k in zip(self.dilation, self.kernel_size):
                total = d * (k - 1)
                pads = [total // 2, total - total // 2] + pads
            self._reversed_padding_repeated_twice = pads
        else:
            padding = (0,) * n if padding == "valid" else self.padding
            self._reversed_padding_repeated_twice = [p for p in reversed(padding) for _ in range(2)]
        dtype = dtype or _dtype.get_default_dtype()
        shape = ((in_channels, out_channels // groups) if transposed else (out_channels, in_channels // groups))
        self.weight = Parameter(Tensor(*(shape + self.kernel_size), dtype=dtype))
        if bias:
            self.bias = Parameter(Tensor(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        # NOTE: a=sqrt(5) gives bound 1/sqrt(fan_in) (PyTorch's long-standing default, kept for parity).
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        s = "{in_channels}, {out_channels}, kernel_size={kernel_size}, stride={stride}"
        if self.padding != (0,) * len(self.padding):
            s += ", padding={padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += ", dilation={dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += ", output_padding={output_padding}"
        if self.groups != 1:
            s += ", groups={groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += ", padding_mode={padding_mode}"
        return s.format(**self.__dict__)

    def _conv_forward(self, input, weight, bias, function):
        if self.padding_mode != "zeros":
            input = F_pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return function(input, weight, bias, self.stride, 0, self.dilation, self.groups)
        return function(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)


class Conv1d(_ConvNd):
    """1-D convolution (cross-correlation) over (N, C_in, L) -> (N, C_out, L_out).

    L_out = floor((L + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1.
    Args: in_channels, out_channels, kernel_size, stride=1, padding=0 (int, 'valid', 'same'),
    dilation=1, groups=1, bias=True, padding_mode='zeros' ('reflect', 'replicate', 'circular').
    """
    _n = 1

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, False, 0, groups,
                         bias, padding_mode, device, dtype)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias, conv1d)


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation): (N, C_in, H, W) -> (N, C_out, H_out, W_out).

        out[n, o] = bias[o] + sum_c weight[o, c] * input[n, c]   (* = 2-D cross-correlation)
        H_out = floor((H + 2*padding[0] - dilation[0]*(kernel_size[0] - 1) - 1) / stride[0]) + 1

    Args: in_channels, out_channels, kernel_size (int or pair), stride=1, padding=0 (int, pair,
    'valid', 'same'), dilation=1, groups=1 (groups=in_channels: depthwise), bias=True,
    padding_mode='zeros' ('reflect', 'replicate', 'circular').

    Example::

        >>> conv = nn.Conv2d(1, 8, 3, padding=1)
        >>> conv(torch.randn(4, 1, 28, 28)).shape
        deepdive.Size([4, 8, 28, 28])
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, False, 0, groups,
                         bias, padding_mode, device, dtype)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias, conv2d)


class _ConvTransposeNd(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias,
                 dilation, padding_mode, device, dtype):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {self.__class__.__name__}')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, True, output_padding,
                         groups, bias, padding_mode, device, dtype)

    def _output_padding(self, input, output_size):
        """output_padding that makes the output exactly ``output_size`` (PyTorch's rule)."""
        if output_size is None:
            return self.output_padding
        n = self._n
        output_size = list(output_size)[-n:]
        spatial = input.shape[-n:]
        result = []
        for k in range(n):
            smallest = ((spatial[k] - 1) * self.stride[k] - 2 * self.padding[k]
                        + self.dilation[k] * (self.kernel_size[k] - 1) + 1)
            largest = smallest + self.stride[k] - 1
            if not smallest <= output_size[k] <= largest:
                raise ValueError(f"requested an output size of {output_size}, but valid sizes range from "
                                 f"{smallest} to {largest} (for an input of {list(spatial)})")
            result.append(output_size[k] - smallest)
        return tuple(result)

    def forward(self, input, output_size=None):
        output_padding = self._output_padding(input, output_size)
        return self._function(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                              self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution (the gradient of Conv1d w.r.t. its input): (N, C_in, L) -> (N, C_out, L_out).

    L_out = (L - 1)*stride - 2*padding + dilation*(kernel_size - 1) + output_padding + 1.
    """
    _n = 1
    _function = staticmethod(conv_transpose1d)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias,
                         dilation, padding_mode, device, dtype)


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution ("deconvolution"): (N, C_in, H, W) -> (N, C_out, H_out, W_out).

    H_out = (H - 1)*stride[0] - 2*padding[0] + dilation[0]*(kernel_size[0] - 1) + output_padding[0] + 1.
    weight: (in_channels, out_channels/groups, kh, kw). ``forward(input, output_size=None)``
    picks output_padding so the output has ``output_size``.
    """
    _function = staticmethod(conv_transpose2d)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias,
                         dilation, padding_mode, device, dtype)


class Unfold(Module):
    """Extract sliding local blocks (im2col): (N, C, H, W) -> (N, C*prod(kernel_size), L)."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input):
        return unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return "kernel_size={kernel_size}, dilation={dilation}, padding={padding}, stride={stride}".format(
            **self.__dict__)


class Fold(Module):
    """Combine sliding local blocks into an image (col2im, overlaps summed): (N, C*prod(k), L) -> (N, C, H, W)."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input):
        return fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return ("output_size={output_size}, kernel_size={kernel_size}, dilation={dilation}, padding={padding}, "
                "stride={stride}").format(**self.__dict__)


# 3-D convolutions (ops/conv3d.py)
from ..ops.conv3d import conv3d, conv_transpose3d  # noqa: E402


class Conv3d(_ConvNd):
    """3-D convolution (cross-correlation): (N, C_in, D, H, W) -> (N, C_out, D_out, H_out, W_out).

    D_out = floor((D + 2*padding[0] - dilation[0]*(kernel_size[0] - 1) - 1) / stride[0]) + 1 (likewise H, W).
    Args: as Conv2d, with ints or triples.
    """
    _n = 3

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, False, 0, groups,
                         bias, padding_mode, device, dtype)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias, conv3d)


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution: (N, C_in, D, H, W) -> (N, C_out, D_out, H_out, W_out),
    D_out = (D - 1)*stride[0] - 2*padding[0] + dilation[0]*(kernel_size[0] - 1) + output_padding[0] + 1."""
    _n = 3
    _function = staticmethod(conv_transpose3d)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias,
                         dilation, padding_mode, device, dtype)
