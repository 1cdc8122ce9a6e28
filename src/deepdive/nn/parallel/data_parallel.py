"""DataParallel on a machine without GPUs: the wrapped module runs as it is, as in PyTorch's CPU build."""
from ..module import Module


class DataParallel(Module):
    """``DataParallel(module)``: forward is ``module(*inputs, **kwargs)``.

    PyTorch splits the batch over GPUs; with none available (always, here) it keeps
    ``device_ids == []`` and calls the module directly, which is what this does.
    The module is registered as ``self.module``, so state-dict keys carry the
    ``module.`` prefix exactly as PyTorch's do (checkpoints saved from a
    ``DataParallel`` load into one, and ``dp.module.state_dict()`` drops the prefix).

    Args:
        module: the module to wrap.
        device_ids, output_device, dim: accepted for compatibility; with no GPUs they change nothing.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.device_ids = []

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """Functional form: ``module(*inputs, **module_kwargs)`` (no GPUs to scatter to)."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    return module(*inputs, **(module_kwargs or {}))
