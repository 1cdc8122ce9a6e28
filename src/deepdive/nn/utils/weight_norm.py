"""Weight normalisation (Salimans & Kingma 2016): w = g * v / ||v||, learning the direction v and the length g.

``weight_norm(module)`` replaces ``module.weight`` by two parameters ``weight_g`` (the norm, one per output
unit along ``dim``) and ``weight_v`` (the direction), and recomputes ``weight`` from them before every
forward (a forward pre-hook), so the gradient reaches g and v through the ordinary ops.
"""
from ...tensor import Tensor
from ..parameter import Parameter

__all__ = ["weight_norm", "remove_weight_norm"]


def _norm_except_dim(v, dim):
    """||v|| over every dim but ``dim`` (kept as size-1 dims, so it broadcasts against v); all dims if None."""
    if dim is None:
        return (v * v).sum().sqrt()
    dim = dim % v.ndim
    others = tuple(d for d in range(v.ndim) if d != dim)
    return (v * v).sum(dim=others, keepdim=True).sqrt() if others else v.abs()


class WeightNorm:
    """The forward pre-hook that rebuilds ``name`` from ``name_g`` and ``name_v``."""

    def __init__(self, name, dim):
        self.name = name
        self.dim = dim

    def compute_weight(self, module):
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return v * (g / _norm_except_dim(v, self.dim))

    @staticmethod
    def apply(module, name, dim):
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter {name}")
        # NOTE: as in PyTorch, dim=None and dim=-1 both mean one norm over the whole tensor.
        fn = WeightNorm(name, None if dim is None or dim == -1 else dim)
        weight = getattr(module, name)
        if not isinstance(weight, Parameter):
            raise TypeError(f"weight_norm: module.{name} must be a Parameter")
        del module._parameters[name]
        module.register_parameter(name + "_g", Parameter(_norm_except_dim(weight, fn.dim).detach()))
        module.register_parameter(name + "_v", Parameter(weight.detach()))
        object.__setattr__(module, name, fn.compute_weight(module))
        fn.handle = module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module):
        weight = self.compute_weight(module).detach()
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        self.handle.remove()
        module.register_parameter(self.name, Parameter(Tensor(weight._data.copy())))

    def __call__(self, module, inputs):
        object.__setattr__(module, self.name, self.compute_weight(module))


def weight_norm(module, name="weight", dim=0):
    """Reparametrise ``module.<name>`` as g * v / ||v|| (norm over every dim but ``dim``; ``dim=None``: whole
    tensor). Returns the module, now with parameters ``<name>_g`` and ``<name>_v``."""
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module, name="weight"):
    """Fold g and v back into one ordinary Parameter ``<name>``."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, WeightNorm) and hook.name == name:
            hook.remove(module)
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")
