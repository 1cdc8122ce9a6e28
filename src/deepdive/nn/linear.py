"""Affine layers: Identity, Linear, LazyLinear, Bilinear."""
import math

from .. import _dtype
from ..ops.linear import linear, bilinear
from ..tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter, UninitializedParameter

__all__ = ["Identity", "Linear", "LazyLinear", "Bilinear"]


def _empty(*shape, dtype=None):
    return Tensor(*shape, dtype=dtype or _dtype.get_default_dtype())


class Identity(Module):
    """y = x (arguments are accepted and ignored, so it can stand in for any layer)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x W^T + b.

    Shape: input (*, in_features) -> output (*, out_features).

    Args:
        in_features, out_features (int): sizes of each input / output sample.
        bias (bool): learn an additive bias (default True).

    Init (PyTorch's): W ~ kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in));
    b ~ U(-1/sqrt(in), 1/sqrt(in)).
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(_empty(out_features, in_features, dtype=dtype))
        if bias:
            self.bias = Parameter(_empty(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        # NOTE: a=sqrt(5) makes the kaiming bound sqrt(6 / ((1 + 5) fan_in)) = 1/sqrt(fan_in): PyTorch's
        # historical default, kept so that the same seed-free statistics match.
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        shape = input._data.shape
        if not shape or shape[-1] != self.in_features:
            raise RuntimeError(f"{type(self).__name__}: expected input with {self.in_features} features "
                               f"(in_features), got {shape[-1] if shape else 'a 0-d tensor'} "
                               f"(input shape {list(shape)})")
        return linear(input, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class LazyLinear(Linear):
    """A Linear whose ``in_features`` is inferred from the first input (then it becomes a ``Linear``).

    Like Keras' ``build(input_shape)``: the weight has no shape until the first forward.
    """
    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        Module.__init__(self)
        self.in_features = 0
        self.out_features = out_features
        self.weight = UninitializedParameter(dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(dtype=dtype)
        else:
            self.register_parameter("bias", None)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def has_uninitialized_params(self):
        return any(isinstance(p, UninitializedParameter) for p in self._parameters.values())

    def initialize_parameters(self, input):
        if self.has_uninitialized_params():
            self.in_features = input.shape[-1]
            self.weight.materialize((self.out_features, self.in_features))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            self.reset_parameters()

    def forward(self, input):
        if self.has_uninitialized_params():
            self.initialize_parameters(input)
        # (parameters may also have been materialised by load_state_dict)
        self.in_features = self.weight._data.shape[1]
        self.__class__ = self.cls_to_become
        return Linear.forward(self, input)


class Bilinear(Module):
    """y = x1^T A x2 + b.

    Shape: input1 (*, in1_features), input2 (*, in2_features) -> (*, out_features);
    weight (out_features, in1_features, in2_features).
    Init: weight and bias ~ U(-1/sqrt(in1_features), 1/sqrt(in1_features)).
    """

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = Parameter(_empty(out_features, in1_features, in2_features, dtype=dtype))
        if bias:
            self.bias = Parameter(_empty(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
