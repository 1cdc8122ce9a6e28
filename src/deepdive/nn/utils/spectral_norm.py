"""Spectral normalisation (Miyato et al. 2018): w = W / sigma(W), sigma the largest singular value.

sigma is estimated by power iteration on persistent vectors u, v (buffers ``weight_u``, ``weight_v``),
refined by ``n_power_iterations`` steps before each training forward and frozen in eval. As in
PyTorch, u and v are constants for the gradient: dL/dW flows through W / (u^T W v) only.
"""
import numpy as np

from ...autograd.grad_mode import no_grad
from ...random import get_generator
from ...tensor import _wrap
from ..parameter import Parameter

__all__ = ["spectral_norm", "remove_spectral_norm"]


def _normalize(x, eps):
    return x / max(float(np.linalg.norm(x)), eps)


class SpectralNorm:
    """The forward pre-hook that rebuilds ``name`` from ``name_orig`` and the power-iteration vectors."""

    def __init__(self, name="weight", n_power_iterations=1, dim=0, eps=1e-12):
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def _matrix(self, weight):
        """W as (size(dim), -1): the rows are the output units."""
        if self.dim != 0:
            weight = weight.movedim(self.dim, 0)
        return weight.reshape(weight.shape[0], -1)

    def compute_weight(self, module, do_power_iteration):
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        matrix = self._matrix(weight)
        if do_power_iteration:
            w = matrix._data
            for _ in range(self.n_power_iterations):
                v._data[...] = _normalize(w.T @ u._data, self.eps)
                u._data[...] = _normalize(w @ v._data, self.eps)
            u._version_counter[0] += 1
            v._version_counter[0] += 1
        u_const, v_const = _wrap(u._data.copy()), _wrap(v._data.copy())
        sigma = (u_const * (matrix @ v_const)).sum()
        return weight / sigma

    @staticmethod
    def apply(module, name, n_power_iterations, dim, eps):
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, SpectralNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
        fn = SpectralNorm(name, n_power_iterations, dim, eps)
        weight = module._parameters[name]
        rows, cols = fn._matrix(weight).shape
        rng = get_generator()
        dtype = weight._data.dtype
        u = _normalize(rng.normal(0.0, 1.0, rows, dtype), eps).astype(dtype)     # PyTorch's normal_ draws
        v = _normalize(rng.normal(0.0, 1.0, cols, dtype), eps).astype(dtype)
        del module._parameters[name]
        module.register_parameter(name + "_orig", weight)
        object.__setattr__(module, name, weight.detach())
        module.register_buffer(name + "_u", _wrap(u))
        module.register_buffer(name + "_v", _wrap(v))
        fn.handle = module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module):
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        delattr(module, self.name)
        del module._parameters[self.name + "_orig"]
        del module._buffers[self.name + "_u"]
        del module._buffers[self.name + "_v"]
        self.handle.remove()
        module.register_parameter(self.name, Parameter(_wrap(weight._data.copy())))

    def __call__(self, module, inputs):
        object.__setattr__(module, self.name, self.compute_weight(module, do_power_iteration=module.training))


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divide ``module.<name>`` by its spectral norm before every forward (``dim`` default: 0, or 1 for
    transposed convolutions, whose output units are dim 1)."""
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    SpectralNorm.apply(module, name, n_power_iterations, dim, eps)
    return module


def remove_spectral_norm(module, name="weight"):
    """Fold the normalisation back into one ordinary Parameter ``<name>``."""
    for hook in list(module._forward_pre_hooks.values()):
        if isinstance(hook, SpectralNorm) and hook.name == name:
            hook.remove(module)
            return module
    raise ValueError(f"spectral_norm of '{name}' not found in {module}")
