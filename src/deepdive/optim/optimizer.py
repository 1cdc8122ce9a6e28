"""``Optimizer``: parameter groups, per-parameter state, ``step``/``zero_grad`` and state dicts.

An optimizer holds ``param_groups``, a list of dicts each with ``'params'`` (a
list of leaf Tensors) and that group's options (``lr``, ``momentum``...; the
constructor's values fill in what a group leaves out), and ``state``, a dict
from parameter to that parameter's buffers (momentum, running averages...).

Subclasses implement ``step``: for each parameter with a gradient they update
``p._data`` in place with NumPy (no graph is recorded; the update is not
differentiable) and bump the parameter's version counter, so a graph that saved
the old values notices the change.

``state_dict()`` has PyTorch's layout: ``{'state': {index: {...}}, 'param_groups':
[{..., 'params': [index, ...]}]}`` with parameters numbered in group order, so
a checkpoint can be loaded into a fresh optimizer over the same model.
"""
import copy
import functools
from collections import OrderedDict, defaultdict

import numpy as np

from ..autograd.grad_mode import enable_grad
from ..tensor import Tensor, _wrap, RemovableHandle

__all__ = ["Optimizer", "required"]


class _Required:
    """Marks an option a group must give when the constructor has no default (``lr`` of SGD in old PyTorch)."""

    def __repr__(self):
        return "<required parameter>"


required = _Required()

# Below this many elements a fresh NumPy temporary is cheaper than fetching a scratch buffer.
SMALL = 4096


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of Tensors, of ``(name, Tensor)`` pairs (``model.named_parameters()``; the
            names are saved as ``param_names``), or of dicts defining parameter groups
            (``{'params': [...], 'lr': 0.1}``).
        defaults (dict): the default value of every option, used by groups that do not set it.
    """

    # Hooks around step(); None until one is registered, so that a plain step pays one check.
    _step_pre_hooks = None
    _step_post_hooks = None
    _inside_hooked_step = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            cls.step = _with_step_hooks(cls.__dict__["step"])

    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        self._scratch = {}
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {params.type()}")
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ---------------------------------------------------------------- groups
    def add_param_group(self, param_group):
        """Add a group of parameters (a dict with ``'params'``) with its own options, e.g. a new layer
        being unfrozen during fine-tuning."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering of "
                            "tensors in sets will change between runs. Please use a list instead.")
        else:
            params = list(params)
        if params and all(isinstance(p, tuple) and len(p) == 2 for p in params):    # named_parameters()
            names, params = [name for name, _ in params], [p for _, p in params]
            param_group = dict(param_group, param_names=names)
        elif any(isinstance(p, tuple) for p in params):
            raise ValueError("all optimizer params should be with/without names. Some param names are missing")
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor (it is the result of an operation on other "
                                 "tensors; optimize the leaf it came from, or detach() it and set requires_grad)")
        group = dict(param_group, params=params)
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            group.setdefault(name, default)
        if len({id(p) for p in params}) != len(params):
            import warnings
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will "
                          "cause an error", stacklevel=3)
        if self.param_groups and ("param_names" in group) != ("param_names" in self.param_groups[0]):
            raise ValueError("all optimizer param groups should be with/without names. cannot add param group "
                             f"{'with' if 'param_names' in group else 'without'} names to the optimizer")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    # ------------------------------------------------------------- stepping
    def zero_grad(self, set_to_none=True):
        """Reset every parameter's gradient: to None (default, frees the memory) or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                grad = p._grad          # not p.grad: the property's non-leaf check costs a call per parameter
                if grad is None:
                    continue
                if set_to_none:
                    p._grad = None
                else:
                    grad.grad_fn = None
                    grad.requires_grad = False
                    grad._data[...] = 0

    def step(self, closure=None):
        """Update the parameters once. ``closure`` (optional) re-evaluates the model and returns the loss."""
        raise NotImplementedError(f"{type(self).__name__} does not implement step()")

    def register_step_pre_hook(self, hook):
        """``hook(optimizer, args, kwargs) -> None or (args, kwargs)`` runs before each ``step``."""
        if self._step_pre_hooks is None:
            self._step_pre_hooks = OrderedDict()
        return RemovableHandle(self._step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        """``hook(optimizer, args, kwargs)`` runs after each ``step``."""
        if self._step_post_hooks is None:
            self._step_post_hooks = OrderedDict()
        return RemovableHandle(self._step_post_hooks, hook)

    @staticmethod
    def _evaluate(closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _buffer(self, p, slot=0):
        """A scratch array shaped like ``p`` (reused across steps, never part of the state dict),
        so that an update writes its temporaries with ``out=`` instead of allocating each step."""
        key = (id(p), slot)
        buf = self._scratch.get(key)
        if buf is None or buf.shape != p._data.shape or buf.dtype != p._data.dtype:
            buf = self._scratch[key] = np.empty_like(p._data)
        return buf

    def _regularized_grad(self, p, weight_decay, maximize):
        """The gradient the update uses: -grad when maximizing, plus weight_decay * p (L2, coupled)."""
        grad = p.grad._data
        if not weight_decay and not maximize:
            return grad
        out = self._buffer(p)
        if weight_decay:
            np.multiply(p._data, weight_decay, out=out)
            if maximize:
                out -= grad
            else:
                out += grad
        else:
            np.negative(grad, out=out)
        return out

    def _state_tensor(self, state, name, p, fill=0.0):
        """The state buffer ``name`` of ``p`` (created filled with ``fill`` on first use), as an array."""
        t = state.get(name)
        if t is None:
            t = state[name] = _wrap(np.full_like(p._data, fill))
        return t._data

    def _adam_moments(self, p, state, grad, beta1, beta2):
        """The Adam family's running moments, updated in place; returns (exp_avg, exp_avg_sq, scratch).

            m <- m + (1 - beta1) (g - m)      (PyTorch's lerp form)
            v <- beta2 v + (1 - beta2) g^2
        """
        exp_avg = self._state_tensor(state, "exp_avg", p)
        exp_avg_sq = self._state_tensor(state, "exp_avg_sq", p)
        tmp = self._buffer(p, 1)
        np.subtract(grad, exp_avg, out=tmp)
        tmp *= 1 - beta1
        exp_avg += tmp
        exp_avg_sq *= beta2
        np.multiply(grad, grad, out=tmp)
        tmp *= 1 - beta2
        exp_avg_sq += tmp
        return exp_avg, exp_avg_sq, tmp

    @staticmethod
    def _next_step(state):
        """Increment and return the step count, kept as a 0-d float32 tensor as PyTorch does."""
        step = state.get("step")
        if step is None:
            step = state["step"] = _wrap(np.zeros((), np.float32))
        step._data += 1
        return float(step._data)

    # ----------------------------------------------------------- state dict
    def state_dict(self):
        """``{'state': {index: per-parameter state}, 'param_groups': [options + 'params': indices]}``."""
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: s for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Load a ``state_dict()`` (copied) onto this optimizer's parameters, matched by position."""
        state_dict = copy.deepcopy(state_dict)
        groups, saved_groups = self.param_groups, state_dict["param_groups"]
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups "
                             f"({len(saved_groups)} vs {len(groups)})")
        for g, s in zip(groups, saved_groups):
            if len(g["params"]) != len(s["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                                 f"optimizer's group ({len(s['params'])} vs {len(g['params'])} parameters)")
        id_map = {saved: p for g, s in zip(groups, saved_groups) for saved, p in zip(s["params"], g["params"])}
        state = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in id_map:
                p = id_map[key]
                state[p] = {name: self._cast_state(p, name, v) for name, v in value.items()}
            else:
                state[key] = value
        self.state = state
        self.param_groups = [dict(s, params=g["params"]) for g, s in zip(groups, saved_groups)]
        self._scratch = {}

    @staticmethod
    def _cast_state(p, name, value):
        # Buffers follow the parameter's dtype; 'step' stays as saved (PyTorch keeps it float32).
        if isinstance(value, Tensor) and name != "step" and value._data.dtype.kind == "f":
            return _wrap(value._data.astype(p._data.dtype, copy=False))
        return value

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._scratch = {}

    def __repr__(self):
        lines = [self.__class__.__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def _with_step_hooks(step):
    """Run the registered step hooks around a subclass's ``step`` (once, even when it calls super().step())."""
    @functools.wraps(step)
    def step_with_hooks(self, *args, **kwargs):
        if (self._step_pre_hooks is None and self._step_post_hooks is None) or self._inside_hooked_step:
            return step(self, *args, **kwargs)
        self._inside_hooked_step = True
        try:
            for hook in list((self._step_pre_hooks or {}).values()):
                result = hook(self, args, kwargs)
                if result is not None:
                    args, kwargs = result
            out = step(self, *args, **kwargs)
            for hook in list((self._step_post_hooks or {}).values()):
                hook(self, args, kwargs)
            return out
        finally:
            self._inside_hooked_step = False
    return step_with_hooks


def _check(condition, message):
    if not condition:
        raise ValueError(message)
