"""Activation layers: each stores its configuration and calls the functional form."""
from .. import ops  # noqa: F401
from ..ops.elementwise import relu as _relu
from .module import Module

__all__ = ["ReLU"]


class ReLU(Module):
    """y = max(0, x) elementwise.  Shape: any."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return input.relu_() if self.inplace else _relu(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""
