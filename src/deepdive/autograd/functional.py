"""``deepdive.autograd.functional``: Jacobians, Hessians and their products, for functions of Tensors.

All of them are built on ``autograd.grad`` (reverse mode). The forward-mode products
(``jvp``, ``hvp``) use the double-vjp identity: for g(u) = J^T u, which is linear in u,
d(g(u) . v)/du = J v, so one more backward through the recorded backward gives J v.

Signatures follow ``torch.autograd.functional``; ``vectorize=True`` is accepted and
computes the same values row by row (no batched rules here).

Example (the Hessian of a loss w.r.t. a weight matrix)::

    H = deepdive.autograd.functional.hessian(lambda w: ((x @ w.T - y) ** 2).mean(), w)
"""
from ..tensor import Tensor, _wrap
from .engine import grad as _grad
from .grad_mode import enable_grad

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]


def _as_tuple(x, arg_name, fn_name):
    """``(tuple_of_tensors, was_tuple)``; PyTorch's type error otherwise."""
    is_tuple = isinstance(x, (tuple, list))
    items = tuple(x) if is_tuple else (x,)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            what = f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors"
            raise TypeError(f"{what} but the value at index {i} has type {type(t).__name__}.")
    return items, is_tuple


def _prepare(inputs, create_graph):
    """Fresh differentiable inputs: the same tensors' values, as new leaves (or views that keep the
    caller's graph when create_graph and the input already requires grad)."""
    out = []
    for t in inputs:
        if create_graph and t.requires_grad:
            out.append(t.view_as(t))
        else:
            out.append(t.detach().requires_grad_(True))
    return tuple(out)


def _finish(tensors, create_graph):
    if create_graph:
        return tensors
    return tuple(None if t is None else t.detach() for t in tensors)


def _grads(outputs, inputs, grad_outputs, create_graph, strict, fn_name, retain_graph=True):
    """d(outputs . grad_outputs)/d(inputs), zeros for unused inputs (an error with ``strict``)."""
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not pairs:
        grads = (None,) * len(inputs)
    else:
        grads = _grad([o for o, _ in pairs], list(inputs), [g for _, g in pairs], retain_graph=retain_graph,
                      create_graph=True, allow_unused=True)
    result = []
    for i, (g, t) in enumerate(zip(grads, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(f"The output of the user-provided function is independent of input {i}. This "
                                   f"is not allowed in strict mode ({fn_name}).")
            g = _wrap(t._data * 0)
        result.append(g)
    return tuple(result)


def _call(func, inputs, fn_name):
    with enable_grad():
        outputs = func(*inputs)
    items, is_tuple = _as_tuple(outputs, "outputs of the user-provided function", fn_name)
    return items, is_tuple


def _check_v(v, outputs, what, fn_name):
    if v is None:
        if len(outputs) != 1 or outputs[0]._data.size != 1:
            raise RuntimeError(f"The vector v can only be None if the {what} is a single Tensor with a single "
                               f"element ({fn_name}).")
        return (_wrap(outputs[0]._data * 0 + 1),)
    items, _ = _as_tuple(v, "v", fn_name)
    if len(items) != len(outputs):
        raise RuntimeError(f"v has {len(items)} entries but the {what} has {len(outputs)} ({fn_name}).")
    for i, (a, b) in enumerate(zip(items, outputs)):
        if tuple(a.shape) != tuple(b.shape):
            raise RuntimeError(f"Entry {i} in v has invalid size: should be {list(b.shape)} but got "
                               f"{list(a.shape)} ({fn_name}).")
    return items


def _unpack(items, is_tuple):
    return items if is_tuple else items[0]


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``: the vector-Jacobian product of ``func`` at ``inputs``."""
    inputs, in_tuple = _as_tuple(inputs, "inputs", "vjp")
    inputs = _prepare(inputs, create_graph)
    outputs, out_tuple = _call(func, inputs, "vjp")
    v = _check_v(v, outputs, "output of the user-provided function", "vjp")
    result = _grads(outputs, inputs, v, create_graph, strict, "vjp")
    return _unpack(_finish(outputs, create_graph), out_tuple), _unpack(_finish(result, create_graph), in_tuple)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)``: the Jacobian-vector product, by the double-vjp identity."""
    inputs, in_tuple = _as_tuple(inputs, "inputs", "jvp")
    inputs = _prepare(inputs, create_graph)
    v = _check_v(v, inputs, "input", "jvp")
    outputs, out_tuple = _call(func, inputs, "jvp")
    # u: a dummy cotangent; g(u) = J^T u is linear in u, and d(g(u) . v)/du = J v
    u = tuple(_wrap(o._data * 0, True) for o in outputs)
    g = _grads(outputs, inputs, u, True, strict, "jvp")
    result = _grads(g, u, v, create_graph, strict, "jvp")
    return _unpack(_finish(outputs, create_graph), out_tuple), _unpack(_finish(result, create_graph), out_tuple)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """d func(inputs) / d inputs, of shape ``output.shape + input.shape``.

    Tuples of inputs and/or outputs give tuples (of tuples: ``J[i][j]`` for output i, input j).
    Computed row by row in reverse mode whatever ``vectorize`` / ``strategy`` say (same values).
    """
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode".')
    inputs, in_tuple = _as_tuple(inputs, "inputs", "jacobian")
    inputs = _prepare(inputs, create_graph)
    outputs, out_tuple = _call(func, inputs, "jacobian")
    from ..ops.joining import stack
    jac = []
    for o in outputs:
        n = o._data.size
        flat = o.reshape(-1)
        rows = [[] for _ in inputs]
        for k in range(n):
            seed = _wrap(_zeros((n,), o))
            seed._data[k] = 1
            row = _grads((flat,), inputs, (seed,), create_graph, strict, "jacobian")
            for j, r in enumerate(row):
                rows[j].append(r)
        per_input = []
        for j, t in enumerate(inputs):
            shape = tuple(o.shape) + tuple(t.shape)
            per_input.append(stack(rows[j]).reshape(shape) if n else _wrap(_zeros(shape, t)))
        jac.append(_unpack(_finish(tuple(per_input), create_graph), in_tuple))
    return _unpack(tuple(jac), out_tuple)


def _zeros(shape, like):
    import numpy as np
    return np.zeros(shape, like._data.dtype)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """d^2 func(inputs) / d inputs^2 for a scalar ``func``; tuples of inputs give ``H[i][j]`` blocks."""
    inputs_t, in_tuple = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*xs):
        outputs, _ = _call(func, xs, "hessian")
        if len(outputs) != 1 or outputs[0]._data.size != 1:
            raise RuntimeError("The function given to hessian should return a single Tensor with a single element")
        grads = _grads((outputs[0].reshape(()),), xs, (_wrap(outputs[0]._data.reshape(()) * 0 + 1),), True,
                       strict, "hessian")
        return grads if in_tuple else grads[0]

    return jacobian(gradient, inputs if in_tuple else inputs_t[0], create_graph=create_graph, strict=strict)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T H)`` for a scalar ``func``: one backward through the recorded gradient."""
    inputs, in_tuple = _as_tuple(inputs, "inputs", "vhp")
    inputs = _prepare(inputs, create_graph)
    outputs, _ = _call(func, inputs, "vhp")
    if len(outputs) != 1 or outputs[0]._data.size != 1:
        raise RuntimeError("The function given to vhp should return a single Tensor with a single element")
    v = _check_v(v, inputs, "input", "vhp")
    out = outputs[0]
    g = _grads((out,), inputs, (_wrap(out._data * 0 + 1),), True, strict, "vhp")
    result = _grads(g, inputs, v, create_graph, strict, "vhp")
    return _finish((out,), create_graph)[0], _unpack(_finish(result, create_graph), in_tuple)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H v)`` for a scalar ``func``.

    NOTE: computed as (v^T H)^T, which is H v because the Hessian of a twice continuously
    differentiable function is symmetric (PyTorch's hvp uses the double-vjp trick for the same value).
    """
    out, result = vhp(func, inputs, v, create_graph=create_graph, strict=strict)
    return out, result
