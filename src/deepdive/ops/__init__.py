"""The differentiable ops, one small ``Function`` per op, grouped by family.

Each module lists in ``METHODS`` the functions that are also ``Tensor``
methods (``x.exp()`` is ``deepdive.exp(x)``); ``install_methods`` attaches them.
"""
import importlib

# Modules whose functions become Tensor methods; a new op family adds its name here.
FAMILIES = ["..creation", "dtype_ops", "elementwise", "comparison", "reduction", "shape", "indexing", "linalg", "inplace", "joining", "softmax", "sorting", "activation"]
# torch.linalg's old names (x.inverse(), x.det() ...), bincount/histc, diff/logcumsumexp/kron
FAMILIES += ["linalg_legacy", "bucketing", "scan"]
# lgamma, digamma, polygamma, erfinv, mvlgamma (for deepdive.distributions)
FAMILIES += ["special"]


def install_methods(tensor_cls):
    for name in FAMILIES:
        module = importlib.import_module(name if name.startswith(".") else "." + name, __name__)
        for method in getattr(module, "METHODS", ()):
            setattr(tensor_cls, method, getattr(module, method))
        for method, target in getattr(module, "ALIASES", {}).items():
            setattr(tensor_cls, method, getattr(module, target))
