"""The recorded backward pass: ``create_graph=True``, the road to higher-order gradients.

A gradient is a function of the inputs like any other: d/dx (g * cos x) is a
product rule away. So with ``create_graph=True`` the engine runs every node's
backward on deepdive *Tensors*, with grad mode on: the ops inside backward are
recorded, and the gradients it returns carry their own graph, which
``backward``/``autograd.grad`` can walk again, to any order (Chainer's and
nnabla's design: the backward of each function is itself differentiable).

How a built-in op (``Function``, NumPy inside) takes part, by its class attribute
``graph_backward``:

* ``graph_backward = backward``: the NumPy backward uses only operators and
  Tensor methods, so the very same code runs on Tensors (``grad * y``).
* ``graph_backward`` a staticmethod ``(ctx, *grads) -> grads`` written with
  deepdive ops, for ops whose first-order backward is a NumPy kernel.
* ``None`` (the default, e.g. ops added later): the gradient is computed
  exactly as in first order, and marked so that differentiating it *again*
  raises "X does not support create_graph=True (higher-order gradients) yet";
  never a silently wrong second derivative.

In both differentiable forms ``ctx.saved_tensors`` returns Tensors that are
linked to the graph: a saved input is the input itself (its ``grad_fn``
edge), a saved output points back at this node. The first-order path
(``engine.run_backward``) is untouched: without create_graph none of this runs.
"""
import numpy as np

from .grad_mode import STATE as _GRAD
from . import engine as _engine


UNSUPPORTED = "{} does not support create_graph=True (higher-order gradients) yet"
ONCE_DIFFERENTIABLE = "trying to differentiate twice a function that was marked with @once_differentiable"


class DelayedError:
    """A node whose backward raises: the gradients it stands for exist, their derivatives don't (yet).

    Built like a graph node (``next_functions``, ``_n_outputs``) but never runs a backward.
    """
    next_functions = ()
    _n_outputs = 1
    _pre_hooks = None
    _retained = None
    _out_shape = None
    _freed = False
    _saved = ()
    _saved_versions = None
    _release_state = ()
    _direct_backward = False
    _out_meta = None
    needs_input_grad = ()

    def __init__(self, message, n_outputs=1, error=RuntimeError):
        self.message, self.error = message, error
        self._n_outputs = n_outputs

    @classmethod
    def name(cls):
        return "DelayedErrorBackward0"

    def _run_backward(self, grads):
        raise self.error(self.message)

    _run_backward_graph = _run_backward


def delayed_error(message, results, error=RuntimeError):
    """Wrap gradient arrays (or None) as Tensors whose derivative raises ``error(message)``."""
    node = DelayedError(message, len(results), error)
    arrays = [None if r is None else r._data if r.__class__ in _TENSOR_TYPES else np.asarray(r) for r in results]
    node._out_meta = [((), np.float32) if a is None else (a.shape, a.dtype) for a in arrays]
    return tuple(None if a is None else _wrap(a, True, node, i) for i, a in enumerate(arrays))


def first_order(node, grads):
    """The node's NumPy backward on the arrays of ``grads`` (Tensors), as in first order: a tuple of arrays."""
    linked, node._saved = node._saved, node.__dict__.get("_raw_saved", node._saved)    # the arrays again
    try:
        with _no_grad():
            result = node._run_backward([g._data for g in grads])
    finally:
        node._saved = linked
    return result if result.__class__ is tuple else (result,)


def no_double_backward(node, grads, message, error=RuntimeError):
    """``graph_backward`` for an op whose backward PyTorch 2.13 does not differentiate (ctc_loss, cdist's
    non-mm path, embedding_bag): the gradient of first order, as usual, whose derivative raises PyTorch's
    own error (``message``), as torch's does."""
    return delayed_error(message, first_order(node, grads), error)


class _Depends:
    cls = None


def _depending(result, linked):
    """Results that don't require grad although the formula used saved inputs that do (relu's g * (y > 0),
    sign, masks) are marked as depending on one of them, with a zero derivative: as in PyTorch, such a
    gradient can be differentiated again (giving zeros) instead of raising."""
    result = result if result.__class__ is tuple else (result,)
    dep = next((t for t in linked if t.__class__ in _TENSOR_TYPES and t.requires_grad), None)
    if dep is None or all(r is None or r.__class__ not in _TENSOR_TYPES or r.requires_grad for r in result):
        return result
    if _Depends.cls is None:
        from .function import Function

        class ZeroDerivativeBackward(Function):
            """z = g, depending on x with zero derivative.   Backward: dg = gg,  dx = 0."""

            @staticmethod
            def forward(ctx, g, x):
                ctx.x_meta = (x.shape, x.dtype)
                return g

            @staticmethod
            def backward(ctx, grad):
                return grad, np.zeros(*ctx.x_meta)

            @staticmethod
            def graph_backward(ctx, grad):
                return grad, _wrap(np.zeros(*ctx.x_meta))

        _Depends.cls = ZeroDerivativeBackward
    return tuple(r if r is None or r.__class__ not in _TENSOR_TYPES or r.requires_grad else _Depends.cls.apply(r, dep)
                 for r in result)


def _linked_saved(node):
    """``node._saved`` with every array that is an input's or output's data replaced by a graph-linked Tensor."""
    saved = node.saved_tensors          # raises if freed or modified in place, as in first order
    links = {}
    for counter, version, (kind, index), array in node._saved_versions or ():
        if kind == "input":
            edge = node.next_functions[index]
            if edge is not None:
                child, nr = edge
                links[id(array)] = child if child.__class__ in _TENSOR_TYPES else _wrap(array, True, child, nr)
        else:
            links[id(array)] = _wrap(array, True, node, index)
    return tuple(links.get(id(a), _wrap(a) if a.__class__ is np.ndarray else a) for a in saved)


def linked_output(node, array, index=0):
    """The node's output ``index`` as a graph-linked Tensor, from a saved copy of another shape
    (reductions save their result in keepdims form, then return it squeezed)."""
    shape = node._out_shape if node._n_outputs == 1 else node._out_meta[index][0]
    return _wrap(array.reshape(shape), True, node, index).reshape(array.shape)


def node_backward_graph(node, grads):
    """One node's backward on Tensors (grad mode on), returning Tensors or None per input."""
    if isinstance(node, TensorFunction):
        return node._run_backward_graph(grads)
    cls = node.__class__
    rule = getattr(cls, "graph_backward", None)
    result = NotImplemented
    if rule is not None:
        saved, versions = node._saved, node._saved_versions
        linked = _linked_saved(node)
        node._saved, node._saved_versions = linked, None
        node._raw_saved = saved             # for ops/_util.linear_backward, which reruns the NumPy backward
        try:
            result = rule(node, *grads)      # NotImplemented: a case this op doesn't record (yet)
        finally:
            node._saved, node._saved_versions = saved, versions
            del node._raw_saved
        if result is not NotImplemented:
            return _depending(result, linked)
    if result is NotImplemented:
        with _no_grad():
            result = node._run_backward([g._data for g in grads])
        if result.__class__ is not tuple:
            result = (result,)
        return delayed_error(UNSUPPORTED.format(node.name()), result)
    if result.__class__ is not tuple:
        result = (result,)
    return tuple(r if r is None or r.__class__ in _TENSOR_TYPES else _wrap(np.asarray(r)) for r in result)


class _no_grad:
    def __enter__(self):
        self.prev, _GRAD.enabled = _GRAD.enabled, False

    def __exit__(self, *exc):
        _GRAD.enabled = self.prev


def _zeros_like_meta(shape, dtype):
    return _wrap(np.zeros(shape, dtype))


def _collect(roots, stops):
    """``engine._collect``, not walking past the ``stops`` nodes."""
    if not stops:
        return _engine._collect(roots)
    dependencies, stack, seen = {}, list(roots), set(roots)
    while stack:
        node = stack.pop()
        if node in stops:
            continue
        for edge in node.next_functions:
            if edge is None or edge[0].__class__ in _TENSOR_TYPES:
                continue
            child = edge[0]
            dependencies[child] = dependencies.get(child, 0) + 1
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return dependencies


def composite_backward(node, grads, composite, arrays):
    """create_graph=True for a fused op through a composite of recorded ops (an LSTM step by step).

    ``composite(*tensors)`` recomputes the op's outputs from its inputs with deepdive ops; ``arrays``
    are the inputs' values (None for absent ones). The inputs enter as stand-ins linked to the real
    ones, the composite's vector-Jacobian product is taken with create_graph=True (stopping at the
    stand-ins), so the gradients it returns are differentiable again, to any order.
    """
    stand_ins = [None if a is None else
                 linked_input(node, i, a) if node.next_functions[i] is not None else _wrap(a)
                 for i, a in enumerate(arrays)]
    outputs = composite(*stand_ins)
    wanted = [t for t in stand_ins if t is not None and t.requires_grad]
    pairs = [(o, g) for o, g in zip(outputs, grads) if o.requires_grad]
    found = run_backward_graph([o for o, _ in pairs], [g for _, g in pairs], True, wanted, stop_at_inputs=True)
    by_id = {id(t): g for t, g in zip(wanted, found)}
    result = [None if t is None or not t.requires_grad else by_id[id(t)] for t in stand_ins]
    return tuple(result) + (None,) * (len(node.next_functions) - len(result))


def store_grad_graph(leaf, grad):
    """``leaf.grad`` under create_graph: the gradient Tensor itself (with its graph), summed out of place."""
    if grad._data.dtype != leaf._data.dtype:
        grad = grad.to(leaf.dtype)
    leaf.grad = grad if leaf.grad is None else leaf.grad + grad
    hooks = _engine.POST_ACCUMULATE_HOOKS
    if hooks and id(leaf) in hooks:
        for hook in list(hooks[id(leaf)].values()):
            hook(leaf)


def _run_hooks(hooks, grad):
    for hook in hooks.values():
        result = hook(grad)
        if result is not None:
            result = result if result.__class__ in _TENSOR_TYPES else _wrap(np.asarray(result))
            _engine.check_hook_result(hook, grad._data, result._data)
            grad = result
    return grad


def _accumulate_leaf(leaf, grad, captured):
    if leaf._hooks:
        grad = _run_hooks(leaf._hooks, grad)
    if captured is not None:
        key = ("leaf", id(leaf))
        if key in captured:
            prev = captured[key]
            captured[key] = grad if prev is None else prev + grad
        return
    store_grad_graph(leaf, grad)


def run_backward_graph(tensors, grad_tensors, retain_graph, inputs, stop_at_inputs=False):
    """``engine.run_backward`` with create_graph=True: same traversal, Tensors instead of arrays.

    Kept apart from the first-order loop so that loop pays nothing for this one. ``stop_at_inputs``
    (for ``composite_backward``, whose inputs are stand-ins that no other path crosses) ends the
    walk at the inputs' nodes instead of continuing into the graph behind them.
    """
    stops = {t.grad_fn for t in inputs if t.grad_fn is not None} if stop_at_inputs else ()
    captured, buffers, roots = _engine._start(tensors, grad_tensors, inputs, _accumulate_leaf)
    dependencies = _collect(roots, stops)
    ready = [n for n in roots if n not in dependencies]
    prev_mode = _GRAD.enabled
    _GRAD.enabled = True         # the ops of backward are recorded: that is the point
    try:
        while ready:
            node = ready.pop()
            grads = buffers.pop(node, None)
            if grads is None:
                _engine._release(node.next_functions, dependencies, ready)
                continue
            if node._pre_hooks:
                for nr, hooks in node._pre_hooks.items():
                    if grads[nr] is not None:
                        grads[nr] = _run_hooks(hooks, grads[nr])
            if node._retained and captured is None:
                for nr, tensor in node._retained.items():
                    if grads[nr] is not None:
                        tensor.grad = grads[nr] if tensor.grad is None else tensor.grad + grads[nr]
            if captured is not None:
                _engine._capture(node, grads, captured)
            if node in stops:
                continue
            if node._n_outputs > 1:
                grads = [_zeros_like_meta(*meta) if g is None else g for g, meta in zip(grads, node._out_meta)]
            if node._saved_versions is not None or node._freed:
                node.check_saved()
            input_grads = node_backward_graph(node, grads)
            if len(input_grads) != len(node.next_functions):
                raise RuntimeError(f"function {node.name()} returned an incorrect number of gradients "
                                   f"(expected {len(node.next_functions)}, got {len(input_grads)})")
            if _engine.OBSERVERS:
                arrays_in = [None if g is None else g._data for g in grads]
                arrays_out = tuple(None if g is None else g._data for g in input_grads)
                for observe in _engine.OBSERVERS:
                    observe(node, arrays_in, arrays_out)
            if not retain_graph:
                _engine.release_saved(node)
            for edge, grad in zip(node.next_functions, input_grads):
                if edge is None:
                    continue
                child, nr = edge
                if child.__class__ in _TENSOR_TYPES:
                    if grad is not None:
                        _accumulate_leaf(child, grad, captured)
                    continue
                if grad is None:
                    _engine._release((edge,), dependencies, ready)
                    continue
                slot = buffers.get(child)
                if slot is None:
                    slot = buffers[child] = [None] * child._n_outputs
                slot[nr] = grad if slot[nr] is None else slot[nr] + grad
                dependencies[child] -= 1
                if dependencies[child] == 0:
                    ready.append(child)
    finally:
        _GRAD.enabled = prev_mode
    if captured is not None:
        return [captured[("leaf", id(t)) if t.grad_fn is None else (id(t.grad_fn), t._output_nr)]
                for t in inputs]
    return None


from ..tensor import _wrap, _TENSOR_TYPES  # noqa: E402
from .function import TensorFunction  # noqa: E402


class _Alias:
    cls = None


def linked_input(node, index, data, shape=None):
    """A Tensor holding ``data`` whose gradient flows into the node's input ``index`` (identity Jacobian,
    summed over broadcast axes). For fused ops that saved a value derived from the input (d = x - y,
    log-softmax rows): the recorded backward rebuilds that value on Tensors, linked to the real input.
    ``shape``: the input's shape, when ``data`` is broadcast beyond it."""
    edge = node.next_functions[index]
    if edge is None:
        return _wrap(data)
    child, nr = edge
    handle = child if child.__class__ in _TENSOR_TYPES else \
        _wrap(data if shape is None or tuple(shape) == data.shape else np.empty(shape, data.dtype), True, child, nr)
    if _Alias.cls is None:
        from .function import Function
        from ..ops._util import unbroadcast

        class AliasBackward(Function):
            """z = a stand-in value for x (same derivative as x).   Backward: dx = g (summed to x's shape)."""

            @staticmethod
            def forward(ctx, x, value):
                ctx.shape = x.shape
                return value

            @staticmethod
            def backward(ctx, grad):
                return unbroadcast(grad, ctx.shape), None

            graph_backward = backward

        _Alias.cls = AliasBackward
    return _Alias.cls.apply(handle, data)
