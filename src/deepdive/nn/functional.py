"""deepdive.nn.functional: the functional form of every layer and loss (mirrors torch.nn.functional).

The math lives in ``deepdive.ops``; this module only gathers it under PyTorch's names.
"""
from ..ops.elementwise import relu, sigmoid, tanh  # noqa: F401
# Each op family adds one import line below.
