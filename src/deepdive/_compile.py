"""``deepdive.compile``: PyTorch 2's ``torch.compile`` with the contract of its ``backend="eager"``.

``torch.compile(model)`` traces a model into a graph and hands it to a
backend; with ``backend="eager"`` the graph runs the same ops as before, so
the results equal eager mode's. deepdive has no compiler: whatever ``backend``
or ``mode`` is asked for, the compiled object runs the original Python code,
op by op, and is exactly as fast as the uncompiled one. What it keeps of
PyTorch is the shape of the API: a Module comes back wrapped in an
``OptimizedModule`` whose ``_orig_mod`` is the original (so its state-dict
keys carry the ``_orig_mod.`` prefix, as PyTorch's do), a function comes back
as a function, and ``@deepdive.compile`` / ``@deepdive.compile(mode=...)``
work as decorators.
"""
import functools

from .nn.module import Module

__all__ = ["compile", "OptimizedModule"]


class OptimizedModule(Module):
    """What ``compile(module)`` returns: calls the original module (``self._orig_mod``)."""

    def __init__(self, mod):
        super().__init__()
        self._orig_mod = mod

    def forward(self, *args, **kwargs):
        return self._orig_mod(*args, **kwargs)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["_orig_mod"], name)


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None,
            disable=False):
    """Return ``model`` ready to call, computing exactly what it computes eagerly (no speed-up: see above).

    Args:
        model: a Module or a function; None returns a decorator.
        fullgraph, dynamic, backend, mode, options: accepted for compatibility; they change nothing.
        disable (bool): return ``model`` itself.
    """
    if model is None:
        return lambda m: compile(m, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                                 options=options, disable=disable)
    if not callable(model):
        raise RuntimeError(f"compile: expected a Module or a function, got {type(model).__name__}")
    if disable:
        return model
    if isinstance(model, Module):
        return OptimizedModule(model)

    @functools.wraps(model)
    def compiled(*args, **kwargs):
        return model(*args, **kwargs)
    compiled._torchdynamo_orig_callable = model
    return compiled
