"""``Module``: the base class of every layer and model.

A module holds three kinds of state, all registered by plain attribute
assignment (``Module.__setattr__``):

    _parameters   Parameters (learnable; what ``parameters()`` yields to an optimizer)
    _buffers      Tensors that are state but not learnt (BatchNorm's running_mean)
    _modules      sub-modules, whose state is included recursively

``state_dict()`` flattens that tree into ``{"layer1.weight": tensor, ...}`` with
PyTorch's key names, so checkpoints translate one-to-one. Calling a module runs
``forward`` between its forward pre-hooks and forward hooks.
"""
from collections import OrderedDict, namedtuple
import itertools

import numpy as np

from .. import _dtype
from ..autograd.function import Function
from ..autograd.grad_mode import no_grad
from ..tensor import Tensor, RemovableHandle, _wrap, _check_device, _TENSOR_TYPES
from .parameter import Parameter, UninitializedParameter

__all__ = ["Module", "register_module_forward_pre_hook", "register_module_forward_hook"]

# Hooks that run for every module (``nn.modules.module.register_module_forward_hook``).
_global_forward_pre_hooks = OrderedDict()
_global_forward_hooks = OrderedDict()


def register_module_forward_pre_hook(hook):
    return RemovableHandle(_global_forward_pre_hooks, hook)


def register_module_forward_hook(hook):
    return RemovableHandle(_global_forward_hooks, hook)


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys it could not match, in both directions."""

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _addindent(text, spaces):
    """Indent every line but the first (how nested module reprs line up)."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _type_name(value):
    if isinstance(value, Tensor):
        return f"deepdive.{value.type().split('.')[-1]}" if hasattr(value, "type") else "Tensor"
    return type(value).__name__


def _not_tensor(module, args, op=None):
    """PyTorch's message: "linear(): argument 'input' (position 1) must be Tensor, not numpy.ndarray"."""
    import inspect
    position = next(i for i, a in enumerate(args) if a.__class__ is np.ndarray)
    try:
        names = [p.name for p in inspect.signature(module.forward).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        names = []
    name = names[position] if position < len(names) else "input"
    error = TypeError(f"{op or type(module).__name__.lower()}(): argument '{name}' (position {position + 1}) must be "
                      f"Tensor, not numpy.ndarray (convert it with torch.from_numpy(x) or torch.tensor(x))")
    error.not_tensor = True             # raised once, at the innermost module; containers pass it on
    return error


class Module:
    """Base class for all neural network modules; subclass it and define ``forward``.

    Example::

        class SimpleNN(nn.Module):
            def __init__(self):
                super().__init__()
                self.layer1 = nn.Linear(10, 20)   # registered as a sub-module
                self.relu = nn.ReLU()
            def forward(self, x):
                return self.relu(self.layer1(x))
    """
    training: bool
    _version = 1
    dump_patches = False
    call_super_init = False

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments: {args} {kwargs}")
        setattr_ = object.__setattr__
        setattr_(self, "training", True)
        setattr_(self, "_parameters", {})
        setattr_(self, "_buffers", {})
        setattr_(self, "_non_persistent_buffers_set", set())
        setattr_(self, "_modules", {})
        setattr_(self, "_forward_pre_hooks", OrderedDict())
        setattr_(self, "_forward_pre_hooks_with_kwargs", set())
        setattr_(self, "_forward_hooks", OrderedDict())
        setattr_(self, "_forward_hooks_with_kwargs", set())
        setattr_(self, "_backward_hooks", OrderedDict())
        setattr_(self, "_backward_pre_hooks", OrderedDict())
        setattr_(self, "_state_dict_hooks", OrderedDict())
        setattr_(self, "_load_state_dict_post_hooks", OrderedDict())

    def forward(self, *input):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    # ------------------------------------------------------------ registration
    def register_parameter(self, name, param):
        """Add ``param`` (a Parameter or None) under ``name``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_name(name, "parameter", allow_existing=name in self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_type_name(param)}' object to parameter '{name}' "
                            "(deepdive.nn.Parameter or None required)")
        if param is not None and param.grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be created "
                             "explicitly. To express '{name}' as a function of another Tensor, compute the value in "
                             "the forward() method.")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Add a non-learnt state tensor (saved in ``state_dict`` unless ``persistent=False``)."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_name(name, "buffer", allow_existing=name in self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_type_name(tensor)}' object to buffer '{name}' "
                            "(deepdive Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        """Add a sub-module (or None) under ``name``; it appears in ``state_dict`` keys as ``name.``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_type_name(module)} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError(f'module name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError('module name can\'t be empty string ""')
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    def _check_name(self, name, kind, allow_existing):
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain "."')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        taken = ((not allow_existing and name in self.__dict__) or name in self._modules
                 or (kind == "parameter" and name in self._buffers) or (kind == "buffer" and name in self._parameters))
        if taken:
            raise KeyError(f"attribute '{name}' already exists")

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._remove_from(name, d, self._buffers, self._modules, self._non_persistent_buffers_set)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_type_name(value)}' as parameter '{name}' "
                                "(deepdive.nn.Parameter or None expected)")
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            modules = d.get("_modules")
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._remove_from(name, d, params, self._buffers, self._non_persistent_buffers_set)
            modules[name] = value
        elif (modules := d.get("_modules")) is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{_type_name(value)}' as child module '{name}' "
                                "(deepdive.nn.Module or None expected)")
            modules[name] = value
        elif (buffers := d.get("_buffers")) is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{_type_name(value)}' as buffer '{name}' "
                                "(deepdive.Tensor or None expected)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    @staticmethod
    def _remove_from(name, *containers):
        for c in containers:
            if name in c:
                if isinstance(c, set):
                    c.discard(name)
                else:
                    del c[name]

    def __getattr__(self, name):
        # Only reached when normal lookup fails: parameters, buffers and sub-modules live in their dicts.
        d = self.__dict__
        if "_parameters" in d:
            if name in d["_parameters"]:
                return d["_parameters"][name]
            if name in d["_buffers"]:
                return d["_buffers"][name]
            if name in d["_modules"]:
                return d["_modules"][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for key in ("_parameters", "_buffers", "_modules"):
            container = self.__dict__.get(key)
            if container is not None and name in container:
                del container[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(object.__dir__(self)) | set(self._parameters) | set(self._buffers) | set(self._modules))

    def __setstate__(self, state):
        self.__dict__.update(state)

    # --------------------------------------------------------------- traversal
    def _named_members(self, get_members, prefix="", recurse=True, remove_duplicate=True):
        memo = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in get_members(module):
                if value is None or (remove_duplicate and id(value) in memo):
                    continue
                if remove_duplicate:
                    memo.add(id(value))
                yield (module_prefix + ("." if module_prefix else "") + name, value)

    def parameters(self, recurse=True):
        """Every Parameter of this module (and its sub-modules), each once."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members(lambda m: m._parameters.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def children(self):
        for _, module in self.named_children():
            yield module

    def named_children(self):
        memo = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in memo:
                memo.add(id(module))
                yield name, module

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """This module and every sub-module, depth first, with dotted names ('' for self)."""
        if memo is None:
            memo = set()
        if id(self) in memo:
            return
        if remove_duplicate:
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub_prefix = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, sub_prefix, remove_duplicate)

    def get_submodule(self, target):
        if target == "":
            return self
        module = self
        for item in target.split("."):
            if not hasattr(module, item):
                raise AttributeError(f"{module._get_name()} has no attribute `{item}`")
            module = getattr(module, item)
            if not isinstance(module, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return module

    def get_parameter(self, target):
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if name not in module._parameters:
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return module._parameters[name]

    def get_buffer(self, target):
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if name not in module._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return module._buffers[name]

    # ------------------------------------------------------------------ modes
    def train(self, mode=True):
        """Set training mode (Dropout drops, BatchNorm uses batch statistics) here and below."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all parameters (to None by default, like PyTorch 2)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad._data[...] = 0
                p.grad.grad_fn = None

    def apply(self, fn):
        """Call ``fn(module)`` on every sub-module (children first), then on self; e.g. custom init."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # -------------------------------------------------------- dtype / device
    def _apply(self, fn):
        """Replace every parameter's, gradient's and buffer's array by ``fn(array)``, keeping the objects."""
        for module in self.modules():
            for param in module._parameters.values():
                if param is None:
                    continue
                param._data = fn(param._data)
                if param.grad is not None:
                    param.grad._data = fn(param.grad._data)
            for name, buf in module._buffers.items():
                if buf is not None:
                    buf._data = fn(buf._data)
        return self

    def to(self, *args, **kwargs):
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(tensor)``: converts floating state only."""
        dtype = kwargs.get("dtype")
        for a in list(args) + [kwargs.get("device")]:
            if a is None:
                continue
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, _dtype.dtype):
                dtype = a
            else:
                _check_device(a)
        if dtype is None:
            return self
        dtype = _dtype.to_dtype(dtype)
        if dtype.np.kind != "f":
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got desired dtype={dtype}")
        target = dtype.np
        return self._apply(lambda a: a.astype(target) if a.dtype.kind == "f" and a.dtype != target else a)

    def type(self, dst_type):
        return self.to(dst_type)

    def float(self):
        return self.to(_dtype.float32)

    def double(self):
        return self.to(_dtype.float64)

    def half(self):
        return self.to(_dtype.float16)

    def cpu(self):
        return self

    def cuda(self, device=None):
        _check_device("cuda" if device is None else device)
        return self

    def share_memory(self):
        return self

    def compile(self, *args, **kwargs):
        """PyTorch 2's ``module.compile()``: a no-op here (deepdive runs eagerly; there is no compiler)."""
        return None

    # ------------------------------------------------------------ state dict
    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars else buf.detach()
        if type(self).get_extra_state is not Module.get_extra_state:
            destination[prefix + "_extra_state"] = self.get_extra_state()

    def get_extra_state(self):
        """Override (with ``set_extra_state``) to save non-tensor state under ``'<prefix>_extra_state'``."""
        raise RuntimeError("Reached a code path in Module.get_extra_state() that should never be called.")

    def set_extra_state(self, state):
        raise RuntimeError("Reached a code path in Module.set_extra_state() that should never be called.")

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """An ordered dict of every parameter and persistent buffer, keyed ``'sub.module.name'`` (PyTorch's keys).

        The values share memory with the module (detached unless ``keep_vars=True``).
        """
        if args:        # the deprecated positional form state_dict(destination, prefix, keep_vars)
            destination = args[0]
            if len(args) > 1:
                prefix = args[1]
            if len(args) > 2:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        for hook in self._state_dict_hooks.values():
            result = hook(self, destination, prefix, {})
            if result is not None:
                destination = result
        return destination

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        """Copy this module's own entries from ``state_dict`` (sub-modules do their own)."""
        persistent_buffers = {k: v for k, v in self._buffers.items() if k not in self._non_persistent_buffers_set}
        local_state = {k: v for k, v in itertools.chain(self._parameters.items(), persistent_buffers.items())
                       if v is not None}
        for name, target in local_state.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            if local_metadata.get("assign_to_params_buffers"):
                self._assign_from_state_dict(name, target, key, state_dict[key], error_msgs)
                continue
            value = _as_array(state_dict[key])
            if isinstance(target, UninitializedParameter):
                target.materialize(value.shape, dtype=_dtype.from_numpy_dtype(value.dtype))
            if value.shape != target._data.shape:
                error_msgs.append(f"size mismatch for {key}: copying a param with shape deepdive.Size("
                                  f"{list(value.shape)}) from checkpoint, the shape in current model is "
                                  f"deepdive.Size({list(target._data.shape)}).")
                continue
            # NOTE: copy into the existing array (not rebind) so optimizers holding the Parameter see the values.
            np.copyto(target._data, value, casting="unsafe")
            target._version_counter[0] += 1
        extra_key = prefix + "_extra_state"
        if type(self).set_extra_state is not Module.set_extra_state:
            if extra_key in state_dict:
                self.set_extra_state(state_dict[extra_key])
            elif strict:
                missing_keys.append(extra_key)
            local_state = dict(local_state, _extra_state=None)
        if strict:
            for key in state_dict.keys():
                if key.startswith(prefix):
                    input_name = key[len(prefix):].split(".", 1)
                    if input_name[0] not in self._modules and input_name[0] not in local_state:
                        unexpected_keys.append(key)
                    elif len(input_name) > 1 and input_name[0] in local_state:
                        unexpected_keys.append(key)

    def _assign_from_state_dict(self, name, target, key, value, error_msgs):
        """``load_state_dict(assign=True)``: the checkpoint's tensor becomes the parameter/buffer itself."""
        value = value if value.__class__ in _TENSOR_TYPES else _wrap(_as_array(value))
        if tuple(value._data.shape) != tuple(target._data.shape) and not isinstance(target, UninitializedParameter):
            error_msgs.append(f"size mismatch for {key}: copying a param with shape deepdive.Size("
                              f"{list(value._data.shape)}) from checkpoint, the shape in current model is "
                              f"deepdive.Size({list(target._data.shape)}).")
        elif name in self._parameters:
            self._parameters[name] = Parameter(value, requires_grad=target.requires_grad)
        else:
            self._buffers[name] = value

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy parameters and buffers from ``state_dict`` (deepdive Tensors, NumPy arrays or anything array-like).

        With ``strict=True`` the keys must match exactly; the error lists the missing and unexpected keys.
        Returns ``(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing_keys, unexpected_keys, error_msgs = [], [], []

        def load(module, prefix):
            module._load_from_state_dict(state_dict, prefix, {"assign_to_params_buffers": assign}, True,
                                         missing_keys, unexpected_keys, error_msgs)
            for name, child in module._modules.items():
                if child is not None:
                    load(child, prefix + name + ".")

        with no_grad():
            load(self, "")
        if strict:
            if unexpected_keys:
                error_msgs.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected_keys)))
            if missing_keys:
                error_msgs.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing_keys)))
        if error_msgs:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                type(self).__name__, "\n\t".join(error_msgs)))
        result = _IncompatibleKeys(missing_keys, unexpected_keys)
        for hook in self._load_state_dict_post_hooks.values():
            hook(self, result)
        return result

    def register_state_dict_hook(self, hook):
        return RemovableHandle(self._state_dict_hooks, hook)

    def register_load_state_dict_post_hook(self, hook):
        return RemovableHandle(self._load_state_dict_post_hooks, hook)

    def _repr_html_(self):              # Jupyter: the printed tree and a parameter table
        from ..viz.jupyter import module_html
        return module_html(self)

    # ------------------------------------------------------------------ call
    def __call__(self, *args, **kwargs):
        if not self._modules:
            for arg in args:                    # a leaf op given NumPy data: PyTorch's TypeError, not ours
                if arg.__class__ is np.ndarray:
                    raise _not_tensor(self, args)
        try:
            if not (self._forward_hooks or self._forward_pre_hooks or self._backward_hooks or self._backward_pre_hooks
                    or _global_forward_hooks or _global_forward_pre_hooks):
                return self.forward(*args, **kwargs)
            return self._call_with_hooks(args, kwargs)
        except (AttributeError, TypeError) as error:
            # a container's forward tripped over a NumPy input before any leaf saw it (x.size(0) ...)
            if getattr(error, "not_tensor", False) or not any(a.__class__ is np.ndarray for a in args):
                raise
            raise _not_tensor(self, args, f"{type(self).__name__}.forward") from error

    def _call_with_hooks(self, args, kwargs):
        for hook_id, hook in itertools.chain(_global_forward_pre_hooks.items(), self._forward_pre_hooks.items()):
            if hook_id in self._forward_pre_hooks_with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        bw_state = None
        if self._backward_hooks or self._backward_pre_hooks:
            bw_state = _BackwardHookState(self)
            args = bw_state.wrap_inputs(args)
        output = self.forward(*args, **kwargs)
        for hook_id, hook in itertools.chain(_global_forward_hooks.items(), self._forward_hooks.items()):
            if hook_id in self._forward_hooks_with_kwargs:
                result = hook(self, args, kwargs, output)
            else:
                result = hook(self, args, output)
            if result is not None:
                output = result
        if bw_state is not None:
            output = bw_state.wrap_outputs(output)
        return output

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """``hook(module, args) -> None or new args`` runs before ``forward``."""
        handle = RemovableHandle(self._forward_pre_hooks, hook)
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs.add(handle.id)
        if prepend:
            self._forward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        """``hook(module, args, output) -> None or new output`` runs after ``forward``."""
        handle = RemovableHandle(self._forward_hooks, hook)
        if with_kwargs:
            self._forward_hooks_with_kwargs.add(handle.id)
        if prepend:
            self._forward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_full_backward_hook(self, hook, prepend=False):
        """``hook(module, grad_input, grad_output) -> None or new grad_input`` runs when the gradients
        with respect to the module's inputs have been computed (tuples of Tensors, None where not needed)."""
        handle = RemovableHandle(self._backward_hooks, hook)
        if prepend:
            self._backward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """``hook(module, grad_output) -> None or new grad_output`` runs before the module's gradients."""
        handle = RemovableHandle(self._backward_pre_hooks, hook)
        if prepend:
            self._backward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_backward_hook(self, hook):
        return self.register_full_backward_hook(hook)

    # ------------------------------------------------------------------ repr
    def extra_repr(self):
        """The configuration shown inside ``Name(...)``; layers override it."""
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _addindent(repr(module), 2) for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        text = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                text += extra_lines[0]
            else:
                text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"


def _as_array(value):
    if value.__class__ in _TENSOR_TYPES:
        return value._data
    if hasattr(value, "detach") and hasattr(value, "numpy"):      # a torch tensor, converted by the user or not
        return np.asarray(value.detach().numpy())
    return np.asarray(value)


class _BackwardHookFunction(Function):
    """Identity on several tensors whose backward reports the gradients to a module's backward hooks."""

    @staticmethod
    def forward(ctx, *arrays):
        return arrays if len(arrays) > 1 else arrays[0]

    @staticmethod
    def backward(ctx, *grads):
        grads = ctx.on_backward(grads)
        return grads if len(grads) > 1 else grads[0]

    @staticmethod
    def graph_backward(ctx, *grads):
        """create_graph=True: the hooks see (and may replace) the gradients as Tensors with their graph."""
        grads = ctx.on_backward(grads, True)
        return grads if len(grads) > 1 else grads[0]


class _BackwardHookState:
    """Connects one module call's input and output identity nodes to its full backward (pre-)hooks.

    The output node sees grad_output first; the input node then sees grad_input and calls the hooks.
    If no input requires grad, the hooks run from the output node with grad_input all None (as in PyTorch).
    """

    def __init__(self, module):
        self.module = module
        self.grad_output = None
        self.n_inputs = 0
        self.input_node = None

    @staticmethod
    def _tensor_positions(values):
        return [i for i, v in enumerate(values) if isinstance(v, Tensor)]

    def wrap_inputs(self, args):
        positions = [i for i in self._tensor_positions(args) if args[i].requires_grad]
        self.n_inputs = len(self._tensor_positions(args))
        self.input_positions = self._tensor_positions(args)
        if not positions:
            return args
        wrapped = _BackwardHookFunction.apply(*[args[i] for i in positions])
        wrapped = wrapped if isinstance(wrapped, tuple) else (wrapped,)
        if wrapped[0].grad_fn is None:
            return args
        self.input_node = wrapped[0].grad_fn
        self.input_node.on_backward = self._on_input_grads
        self.grad_positions = [self.input_positions.index(i) for i in positions]
        args = list(args)
        for i, w in zip(positions, wrapped):
            args[i] = w
        return tuple(args)

    def wrap_outputs(self, output):
        single = isinstance(output, Tensor)
        outputs = (output,) if single else output
        if not isinstance(outputs, (tuple, list)):
            return output
        positions = [i for i, o in enumerate(outputs) if isinstance(o, Tensor) and o.requires_grad]
        if not positions:
            return output
        wrapped = _BackwardHookFunction.apply(*[outputs[i] for i in positions])
        wrapped = wrapped if isinstance(wrapped, tuple) else (wrapped,)
        wrapped[0].grad_fn.on_backward = self._on_output_grads
        result = list(outputs)
        for i, w in zip(positions, wrapped):
            result[i] = w
        return result[0] if single else type(outputs)(result)

    def _on_output_grads(self, grads, graph=False):
        grads = tuple(grads) if graph else tuple(_wrap(g) for g in grads)
        for hook in self.module._backward_pre_hooks.values():
            result = hook(self.module, grads)
            if result is not None:
                grads = tuple(result) if isinstance(result, (tuple, list)) else (result,)
        self.grad_output = grads
        if self.input_node is None and self.module._backward_hooks:
            self._call_hooks(tuple(None for _ in range(max(self.n_inputs, 1))))
        if graph:
            return grads
        return tuple(g._data if isinstance(g, Tensor) else g for g in grads)

    def _on_input_grads(self, grads, graph=False):
        grad_input = [None] * self.n_inputs
        for slot, g in zip(self.grad_positions, grads):
            grad_input[slot] = g if graph else _wrap(g)
        result = self._call_hooks(tuple(grad_input))
        if result is not None:
            grads = tuple((result[slot] if graph else result[slot]._data) if isinstance(result[slot], Tensor) else g
                          for slot, g in zip(self.grad_positions, grads))
        return grads

    def _call_hooks(self, grad_input):
        replaced = None
        for hook in self.module._backward_hooks.values():
            result = hook(self.module, grad_input, self.grad_output)
            if result is not None:
                result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
                if len(result) != len(grad_input):
                    raise RuntimeError(f"Backward hook returned an invalid number of grad_input, got "
                                       f"{len(result)}, but expected {len(grad_input)}")
                grad_input = replaced = result
        return replaced
