"""``deepdive.func`` (``torch.func``): function transforms over deepdive's autograd.

    grad(f)(x)                 df/dx of a scalar f (``argnums``, ``has_aux``)
    grad_and_value(f)(x)       (df/dx, f(x))
    vjp(f, x)                  (f(x), vjp_fn) with vjp_fn(v) = v^T J
    jvp(f, (x,), (v,))         (f(x), J v)            (by the double-vjp identity)
    jacrev(f)(x), jacfwd(f)(x) the Jacobian, shape f(x).shape + x.shape
    hessian(f)(x)              jacfwd(jacrev(f))(x)
    functional_call(module, params, args)   a Module run with other parameters and buffers
    vmap(f, in_dims, out_dims)(xs)          f mapped over a batch dim

Transforms compose (``vmap(grad(f))``, ``grad(grad(f))``, ``jacrev(jacrev(f))``): each one
differentiates with ``create_graph=True``, so its result stays differentiable by an outer
transform. Unlike torch.func (which has no ``.grad`` side effects either), results at the
outermost level are detached.

NOTE: ``vmap`` here runs ``f`` once per sample and stacks the results (no batched rules), so it
gives exactly what a Python loop gives, at a loop's speed. ``jacfwd`` computes the same Jacobian as
``jacrev`` (in reverse mode, row by row).
"""
from .tensor import Tensor
from .autograd.engine import grad as _autograd_grad
from .autograd.grad_mode import enable_grad
from .ops.joining import stack

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "functional_call", "vmap"]


def _argnums(argnums, n):
    many = isinstance(argnums, (tuple, list))
    nums = tuple(argnums) if many else (argnums,)
    for a in nums:
        if not isinstance(a, int) or not -n <= a < n:
            raise RuntimeError(f"Got argnums={argnums} but only {n} positional inputs")
    return tuple(a % n for a in nums), many


def _leaf(t):
    return t.view_as(t) if t.requires_grad else t.detach().requires_grad_(True)


def _flatten(x, where):
    """The Tensors of a pytree (a Tensor, or tuples / lists / dicts of them) and a function rebuilding it."""
    if isinstance(x, Tensor):
        return [x], lambda leaves: leaves[0]
    if isinstance(x, (tuple, list, dict)):
        keys = list(x) if isinstance(x, dict) else range(len(x))
        parts = [_flatten(x[k], where) for k in keys]
        sizes = [len(p[0]) for p in parts]

        def rebuild(leaves):
            out, i = [], 0
            for (_, build), n in zip(parts, sizes):
                out.append(build(leaves[i:i + n]))
                i += n
            return dict(zip(keys, out)) if isinstance(x, dict) else type(x)(out)
        return [t for p in parts for t in p[0]], rebuild
    raise RuntimeError(f"{where}: expected a Tensor or a tuple/list/dict of Tensors, got {type(x).__name__}")


def _differentiable(args, nums, where="grad"):
    """The arguments at ``nums`` with every Tensor in them made to require grad (kept in the caller's graph if it
    already does). Returns the new arguments and, per argnum, (its Tensors, the function rebuilding it)."""
    args = list(args)
    trees = []
    for a in nums:
        leaves, rebuild = _flatten(args[a], where)
        leaves = [_leaf(t) for t in leaves]
        args[a] = rebuild(leaves)
        trees.append((leaves, rebuild))
    return args, trees


def _nested(originals):
    """Whether an outer transform (or the caller) differentiates through these inputs: only then does the
    gradient need its own graph. Outermost, create_graph stays off: the first-order path, exactly a loop's."""
    return any(isinstance(t, Tensor) and t.requires_grad for t in originals)


def _outer(results, originals):
    """Detach results when nothing outside this transform is being differentiated."""
    if any(isinstance(t, Tensor) and t.requires_grad for t in originals):
        return results
    return tuple(r.detach() if isinstance(r, Tensor) else r for r in results)


def grad_and_value(func, argnums=0, has_aux=False):
    """``(df/dx, f(x))`` (``(grads, (value, aux))`` with ``has_aux``); f must return a one-element Tensor."""
    def wrapper(*args, **kwargs):
        nums, many = _argnums(argnums, len(args))
        inputs, trees = _differentiable(args, nums)
        with enable_grad():
            out = func(*inputs, **kwargs)
            aux = None
            if has_aux:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise RuntimeError("grad_and_value(f)(*args): output of function f should be a tuple: (output, "
                                       "aux) if has_aux is True")
                out, aux = out
            if not isinstance(out, Tensor) or out._data.size != 1:
                raise RuntimeError("grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got "
                                   f"{type(out).__name__}" + (f" of shape {list(out.shape)}" if
                                                              isinstance(out, Tensor) else ""))
            targets = [t for leaves, _ in trees for t in leaves]
            originals = [t for a in nums for t in _flatten(args[a], "grad")[0]]
            if out.requires_grad:
                grads = _autograd_grad(out, targets, create_graph=_nested(originals), allow_unused=True,
                                       materialize_grads=True)
            else:
                grads = tuple(t.detach() * 0 for t in targets)
        grads = _outer(grads, originals)
        value = _outer((out,), originals)[0]
        per_arg, i = [], 0
        for leaves, rebuild in trees:
            per_arg.append(rebuild(list(grads[i:i + len(leaves)])))
            i += len(leaves)
        g = tuple(per_arg) if many else per_arg[0]
        return (g, (value, aux)) if has_aux else (g, value)
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """df/dx for a scalar-valued ``func`` (w.r.t. the positional argument(s) ``argnums``)."""
    both = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        g, value = both(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapper


def _tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _run_on_primals(func, primals, has_aux, where):
    """vjp/jvp's start: ``func`` on differentiable stand-ins for ``primals``; ``(inputs, out, aux, outs)``."""
    inputs, _ = _differentiable(primals, range(len(primals)), where)
    with enable_grad():
        out = func(*inputs)
    aux = None
    if has_aux:
        out, aux = out
    return inputs, out, aux, _tuple(out)


def vjp(func, *primals, has_aux=False):
    """``(func(*primals), vjp_fn)``; ``vjp_fn(cotangents)`` returns one gradient per primal (a tuple)."""
    inputs, out, aux, outs = _run_on_primals(func, primals, has_aux, "vjp")

    def vjp_fn(*cotangents):
        cots = cotangents[0] if len(cotangents) == 1 and isinstance(out, (tuple, list)) else cotangents
        cots = _tuple(cots)
        if len(cots) != len(outs):
            raise RuntimeError(f"Expected {len(outs)} cotangents, got {len(cots)}")
        pairs = [(o, c) for o, c in zip(outs, cots) if o.requires_grad]
        with enable_grad():
            grads = _autograd_grad([o for o, _ in pairs], inputs, [c for _, c in pairs], retain_graph=True,
                                   create_graph=True, allow_unused=True, materialize_grads=True)
        return _outer(grads, tuple(primals) + tuple(cots))

    result = _outer(outs, primals)
    result = result if isinstance(out, (tuple, list)) else result[0]
    return (result, vjp_fn, aux) if has_aux else (result, vjp_fn)


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """``(func(*primals), J tangents)`` by the double-vjp identity (u -> J^T u is linear; differentiate it in u)."""
    primals, tangents = _tuple(primals), _tuple(tangents)
    if len(primals) != len(tangents):
        raise RuntimeError("jvp: Expected primals and tangents to have the same length")
    inputs, out, aux, outs = _run_on_primals(func, primals, has_aux, "jvp")
    with enable_grad():
        u = [o.detach() * 0 for o in outs]
        for t in u:
            t.requires_grad_(True)
        pairs = [(o, c) for o, c in zip(outs, u) if o.requires_grad]
        g = _autograd_grad([o for o, _ in pairs], inputs, [c for _, c in pairs], create_graph=True,
                           allow_unused=True, materialize_grads=True)
        g_v = [(gi, ti) for gi, ti in zip(g, tangents) if gi.requires_grad]
        if g_v:
            result = _autograd_grad([a for a, _ in g_v], u, [b for _, b in g_v], create_graph=True,
                                    allow_unused=True, materialize_grads=True)
        else:
            result = tuple(o.detach() * 0 for o in outs)
    result = _outer(result, tuple(primals) + tuple(tangents))
    value = _outer(outs, primals)
    if not isinstance(out, (tuple, list)):
        value, result = value[0], result[0]
    return (value, result, aux) if has_aux else (value, result)


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None):
    """The Jacobian of ``func`` w.r.t. ``argnums``, shape ``output.shape + input.shape``, one vjp per output element."""
    def wrapper(*args, **kwargs):
        nums, many = _argnums(argnums, len(args))
        for a in nums:
            if not isinstance(args[a], Tensor):
                raise RuntimeError(f"jacrev: expected argument {a} to be a Tensor, got {type(args[a]).__name__}")
        inputs, _ = _differentiable(args, nums, "jacrev")
        with enable_grad():
            out = func(*inputs, **kwargs)
            aux = None
            if has_aux:
                out, aux = out
            outs = _tuple(out)
            targets = [inputs[a] for a in nums]
            jac = []
            for o in outs:
                flat = o.reshape(-1)
                rows = [[] for _ in targets]
                for k in range(flat.shape[0]):
                    if flat.requires_grad:
                        g = _autograd_grad(flat[k], targets, retain_graph=True,
                                           create_graph=_nested([args[a] for a in nums]), allow_unused=True,
                                           materialize_grads=True)
                    else:
                        g = tuple(t.detach() * 0 for t in targets)
                    for j, gj in enumerate(g):
                        rows[j].append(gj)
                blocks = tuple(
                    stack(r).reshape(tuple(o.shape) + tuple(t.shape)) if r else
                    (t.detach().reshape(-1)[:0] * 0).reshape(tuple(o.shape) + tuple(t.shape))
                    for r, t in zip(rows, targets))
                blocks = _outer(blocks, [args[a] for a in nums])
                jac.append(blocks if many else blocks[0])
        result = tuple(jac) if isinstance(out, (tuple, list)) else jac[0]
        return (result, aux) if has_aux else result
    return wrapper


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """The Jacobian, as ``jacrev`` computes it (same values; see the module's NOTE)."""
    return jacrev(func, argnums, has_aux=has_aux)


def hessian(func, argnums=0):
    """The Hessian of a scalar ``func``: ``jacfwd(jacrev(func, argnums), argnums)``."""
    return jacfwd(jacrev(func, argnums), argnums)


def functional_call(module, parameter_and_buffer_dicts, args=(), kwargs=None, *, tie_weights=True, strict=False):
    """Call ``module(*args, **kwargs)`` with its parameters and buffers replaced by the given tensors.

    ``parameter_and_buffer_dicts``: a dict ``{"layer.weight": tensor, ...}`` (or a tuple of dicts);
    names not given keep the module's own. The module is left as it was afterwards.
    """
    dicts = parameter_and_buffer_dicts if isinstance(parameter_and_buffer_dicts, (tuple, list)) \
        else (parameter_and_buffer_dicts,)
    replacements = {}
    for d in dicts:
        for name, value in d.items():
            if name in replacements:
                raise ValueError(f"{name} appeared in multiple dictionaries; behavior of functional call is ambiguous")
            replacements[name] = value
    if strict:
        expected = {n for n, _ in module.named_parameters()} | {n for n, _ in module.named_buffers()}
        missing, unexpected = sorted(expected - set(replacements)), sorted(set(replacements) - expected)
        if missing or unexpected:
            raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}: missing keys {missing}, "
                               f"unexpected keys {unexpected}")
    saved = []
    try:
        for name, value in replacements.items():
            owner, _, leaf = name.rpartition(".")
            sub = module.get_submodule(owner) if owner else module
            table = sub._parameters if leaf in sub._parameters else sub._buffers if leaf in sub._buffers else None
            if table is None:
                raise AttributeError(f"{type(module).__name__} has no parameter or buffer named '{name}'")
            saved.append((table, leaf, table[leaf]))
            table[leaf] = value
        args = args if isinstance(args, tuple) else (args,)
        return module(*args, **(kwargs or {}))
    finally:
        for table, leaf, old in reversed(saved):
            table[leaf] = old


def _slice(x, dim, i):
    if dim is None:
        return x
    if isinstance(x, Tensor):
        return x.select(dim, i)
    if isinstance(x, (tuple, list)):
        return type(x)(_slice(e, dim, i) for e in x)
    if isinstance(x, dict):
        return {k: _slice(v, dim, i) for k, v in x.items()}
    raise ValueError(f"vmap: in_dim {dim} given for an input of type {type(x).__name__} (only Tensors are batched)")


def _batch_size(x, dim):
    if dim is None:
        return None
    if isinstance(x, Tensor):
        if not -x.ndim <= dim < x.ndim:
            raise ValueError(f"vmap: in_dim {dim} is out of range for a Tensor of {x.ndim} dims")
        return x.shape[dim]
    if isinstance(x, (tuple, list)):
        sizes = {_batch_size(e, dim) for e in x} - {None}
        return sizes.pop() if sizes else None
    if isinstance(x, dict):
        sizes = {_batch_size(v, dim) for v in x.values()} - {None}
        return sizes.pop() if sizes else None
    raise ValueError(f"vmap: in_dim {dim} given for an input of type {type(x).__name__} (only Tensors are batched)")


def _stack_results(results, out_dims):
    first = results[0]
    if isinstance(first, Tensor):
        return stack(results, out_dims)
    if isinstance(first, (tuple, list)):
        dims = out_dims if isinstance(out_dims, (tuple, list)) else (out_dims,) * len(first)
        return type(first)(_stack_results([r[k] for r in results], d) for k, d in enumerate(dims))
    if isinstance(first, dict):
        return {k: _stack_results([r[k] for r in results], out_dims) for k in first}
    raise ValueError(f"vmap: the function must return Tensors (or tuples/lists/dicts of them), got "
                     f"{type(first).__name__}")


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """``func`` mapped over dim ``in_dims`` of its inputs, results stacked along ``out_dims``.

    ``in_dims``: an int (every positional argument), None (not batched) or a tuple with one entry per
    argument. NOTE: runs ``func`` once per sample and stacks (no batched rules): exactly a per-sample
    loop's results, at a loop's speed. Nests (``vmap(vmap(f))``) and composes with ``grad``.
    """
    def wrapper(*args, **kwargs):
        dims = in_dims if isinstance(in_dims, (tuple, list)) else (in_dims,) * len(args)
        if len(dims) != len(args):
            raise ValueError(f"vmap: in_dims is not compatible with the structure of inputs: in_dims has "
                             f"{len(dims)} entries but there are {len(args)} positional arguments")
        dims = [None if d is None else d for d in dims]
        sizes = {s for s in (_batch_size(a, d) for a, d in zip(args, dims)) if s is not None}
        if not sizes:
            raise ValueError("vmap: at least one input must be batched (in_dims all None)")
        if len(sizes) > 1:
            raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped dimension, got "
                             f"sizes {sorted(sizes)} for the mapped dimension")
        n = sizes.pop()
        results = [func(*[_slice(a, d, i) for a, d in zip(args, dims)], **kwargs) for i in range(n)]
        return _stack_results(results, out_dims)
    return wrapper
