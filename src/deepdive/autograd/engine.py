"""Backpropagation: the chain rule applied over the recorded graph.

For a loss L and a node z = f(x, y), the engine receives dL/dz, asks the node
for its vector-Jacobian products dL/dx = dL/dz . dz/dx (``Function.backward``),
and passes each one on to the node that produced x (or, for a leaf, adds it to
``x.grad``). A node runs only when the gradients from all its consumers have
been summed, so nodes are visited in a topological order, found iteratively
(no recursion limit on deep graphs).
"""
import sys
import weakref

import numpy as np

_ndarray = np.ndarray
# CPython's reference counts tell when a gradient array is held by no one else (see _exclusive_refcount);
# elsewhere every first gradient is copied.
_getrefcount = sys.getrefcount if sys.implementation.name == "cpython" else (lambda a: sys.maxsize)

from .grad_mode import STATE as _GRAD


# id(leaf) -> {handle id: hook}; kept apart so the common case costs one truth test.
# (Keyed by id, cleaned by a weakref finalizer: Tensor.__eq__ is elementwise, so tensors can't be dict keys.)
POST_ACCUMULATE_HOOKS = {}
# Callables observe(node, grad_outputs, grad_inputs) run after each node's backward (used by deepdive.viz).
OBSERVERS = []
# Callables queued during a backward pass, run once when it ends (torch's Engine.queue_callback; used by
# DistributedDataParallel to wait for its gradient all-reduces).
QUEUED_CALLBACKS = []


def queue_callback(callback):
    """Run ``callback()`` once, when the backward pass now running has finished."""
    QUEUED_CALLBACKS.append(callback)


def _run_queued_callbacks():
    while QUEUED_CALLBACKS:
        QUEUED_CALLBACKS.pop(0)()


def _collect(roots):
    """Count, for every node reachable from ``roots``, how many edges point to it."""
    dependencies = {}
    tensor_types = _TENSOR_TYPES
    stack = list(roots)
    seen = set(roots)
    while stack:
        for edge in stack.pop().next_functions:
            if edge is None:
                continue
            child = edge[0]
            if child.__class__ in tensor_types:      # a leaf: its gradient is accumulated, not propagated
                continue
            if child in dependencies:
                dependencies[child] += 1
            else:
                dependencies[child] = 1
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
    return dependencies


def _release(edges, dependencies, ready):
    for edge in edges:
        if edge is not None and edge[0].__class__ not in _TENSOR_TYPES:
            dependencies[edge[0]] -= 1
            if dependencies[edge[0]] == 0:
                ready.append(edge[0])


def _accumulate_leaf(leaf, grad, captured):
    if leaf._hooks:
        grad = _run_hooks(leaf._hooks, grad)
    if captured is not None:
        key = ("leaf", id(leaf))
        if key in captured:
            prev = captured[key]
            captured[key] = grad if prev is None else prev + grad
        return
    _store_grad(leaf, grad)


def _store_grad(leaf, grad, owned=False):
    """Add ``grad`` into ``leaf.grad`` (created on first use), then run post-accumulate hooks.

    ``owned``: nothing else refers to ``grad`` (see ``_exclusive_refcount``), so a first gradient is
    kept as it is instead of copied.
    """
    if grad.dtype != leaf._data.dtype:
        grad = grad.astype(leaf._data.dtype)
    if leaf._grad is None:
        # NOTE: copy, because one array can flow to several leaves (a + b hands
        # the same gradient to both) and users modify .grad in place.
        leaf._grad = _wrap(grad if owned else np.array(grad, copy=True))
    else:
        leaf._grad._data += grad
    if POST_ACCUMULATE_HOOKS and id(leaf) in POST_ACCUMULATE_HOOKS:
        for hook in list(POST_ACCUMULATE_HOOKS[id(leaf)].values()):
            hook(leaf)


def _exclusive_refcount():
    """What ``sys.getrefcount`` shows, in run_backward's loop over a node's input gradients, for an
    array that only that loop holds (its tuple, zip's last item, the loop name, the call's argument).

    NOTE: a fresh gradient (dW = g^T x of a Linear) that no one else holds can become ``leaf.grad``
    without the defensive copy: one pass over every parameter fewer per step (1 MB for the 784-256-256-10
    MLP). Measured here with the same loop shape, so the count is right for this interpreter; any other
    holder (a second slot of the tuple, the node's incoming gradients, a saved array, a view's base)
    raises it, and the copy is made as before.
    """
    input_grads = (np.empty(1),)
    for edge, grad in zip((None,), input_grads):
        return _getrefcount(grad)


def _run_hooks(hooks, grad):
    for hook in hooks.values():
        result = hook(_wrap(grad))
        if result is not None:
            result = result._data if result.__class__ in _TENSOR_TYPES else np.asarray(result)
            check_hook_result(hook, grad, result)
            grad = result
    return grad


def check_hook_result(hook, old, new):
    """A hook may replace a gradient, never change its shape or dtype (PyTorch's rule and messages):
    a (3,) leaf must not end up with a (4,) ``.grad``."""
    name = getattr(hook, "__name__", type(hook).__name__)
    if new.shape != old.shape:
        raise RuntimeError(f"hook '{name}' has changed the size of value (was {list(old.shape)}, "
                           f"got {list(new.shape)})")
    if new.dtype != old.dtype:
        from ..tensor import _TYPE_NAMES
        was, got = (_TYPE_NAMES.get(d.name, d.name) for d in (old.dtype, new.dtype))
        raise RuntimeError(f"hook '{name}' has changed the type of value (was deepdive.{was} got deepdive.{got})")


def release_saved(node):
    """After a node's backward without ``retain_graph``: drop what it saved, as PyTorch frees saved
    variables. Arrays kept as attributes (masks, indices, inputs) go too, not only ``save_for_backward``'s,
    so a large graph's memory is returned at backward; shapes, dims and 0-d constants stay, so nodes that
    need no saved values can run again (as in PyTorch, where e.g. ``AddBackward0`` saves nothing)."""
    # NOTE: runs once per node of every backward (the training hot path): one pass over the node's few
    # attributes; a dropped array's attribute is set to None rather than deleted, because deleting from
    # an instance's key-sharing dict rebuilds it (measured: most of this function's cost). A node freed
    # this way raises PyTorch's "backward through the graph a second time" before anything reads them.
    if node._saved_only:                # Linear, ReLU: nothing beyond _saved to look for (the scan is
        if node._saved:                 # ~4 us of the SimpleNN step's ~100)
            node._saved = ()
            node._freed = True
            if node._saved_versions is not None:
                node._saved_versions = None
        return
    state = node.__dict__
    stripped = False
    if node._saved:
        node._saved = ()
        stripped = True
    for key, value in state.items():
        if value.__class__ is _ndarray and value.ndim and not key.startswith("_trace"):
            state[key] = None           # same keys: the dict is not resized while iterating
            stripped = True
    if node._release_state:             # state a Function names itself (utils.checkpoint's inputs)
        for key in node._release_state:
            if state.pop(key, None) is not None:
                stripped = True
    if stripped:
        node._freed = True
        if node._saved_versions is not None:
            node._saved_versions = None


def _start(tensors, grad_tensors, inputs, accumulate_leaf):
    """The start of a backward pass (both loops): ``captured`` for ``inputs``, roots' buffers.

    Returns ``(captured, buffers, roots)``: ``captured`` maps each input's key to None (or is None
    without ``inputs``), ``buffers`` maps each root node to its summed output gradients.
    Gradients seeded straight at leaves go to ``accumulate_leaf``.
    """
    captured = None
    if inputs is not None:
        captured = {}
        for t in inputs:
            key = ("leaf", id(t)) if t.grad_fn is None else (id(t.grad_fn), t._output_nr)
            captured[key] = None
    buffers = {}          # node -> list of summed output gradients
    roots = []
    for t, g in zip(tensors, grad_tensors):
        if not t.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        if t.grad_fn is None:
            accumulate_leaf(t, g, captured)
            continue
        node = t.grad_fn
        slot = buffers.get(node)
        if slot is None:
            slot = buffers[node] = [None] * node._n_outputs
            roots.append(node)
        nr = t._output_nr
        slot[nr] = g if slot[nr] is None else slot[nr] + g
    return captured, buffers, roots


def _capture(node, grads, captured):
    """autograd.grad: keep the gradients reaching ``node``'s outputs that were asked for."""
    for nr in range(node._n_outputs):
        key = (id(node), nr)
        if key in captured and grads[nr] is not None:
            captured[key] = grads[nr]


def run_backward(tensors, grad_tensors, retain_graph=False, inputs=None, create_graph=False):
    """Backpropagate from ``tensors`` seeded with ``grad_tensors`` (NumPy arrays).

    With ``inputs`` (a list of Tensors) the gradients are returned instead of
    accumulated into ``.grad`` (this is ``autograd.grad``). With ``create_graph``
    the pass runs on Tensors and records its own graph (see ``_graph.py``).
    """
    if create_graph:
        result = run_backward_graph(tensors, grad_tensors, retain_graph, inputs)
        if inputs is None:
            _run_queued_callbacks()     # e.g. DistributedDataParallel's gradient averaging
        return result
    captured, buffers, roots = _start(tensors, grad_tensors, inputs, _accumulate_leaf)
    dependencies = _collect(roots)
    ready = [n for n in roots if n not in dependencies]
    tensor_types = _TENSOR_TYPES
    exclusive = _EXCLUSIVE_REFS
    # NOTE: the loop below runs once per node of every training step: the checks that are nearly always
    # false (hooks, retained grads, autograd.grad's capture, viz observers) are one attribute test each,
    # the version check is inlined, and a leaf without hooks gets its gradient without two extra calls.
    prev_mode = _GRAD.enabled
    _GRAD.enabled = False     # backward itself records nothing (no double backward)
    try:
        while ready:
            node = ready.pop()
            grads = buffers.pop(node, None)
            if grads is None:          # no gradient reached this node: only release its inputs
                _release(node.next_functions, dependencies, ready)
                continue
            if node._pre_hooks:
                for nr, hooks in node._pre_hooks.items():
                    if grads[nr] is not None:
                        grads[nr] = _run_hooks(hooks, grads[nr])
            if node._retained:
                for nr, tensor in node._retained.items():
                    if grads[nr] is not None and captured is None:
                        tensor.grad = _wrap(np.array(grads[nr], copy=True)) if tensor._grad is None \
                            else _wrap(tensor._grad._data + grads[nr])
            if captured is not None:
                _capture(node, grads, captured)
            if node._n_outputs > 1:
                grads = [np.zeros(shape, dtype) if g is None else g
                         for g, (shape, dtype) in zip(grads, node._out_meta)]
            versions = node._saved_versions
            if versions is not None:
                for counter, version, _, _ in versions:
                    if counter[0] != version:
                        node.check_saved()      # an in-place change of what it saved: PyTorch's error
            if node._freed:
                node.check_saved()              # freed by an earlier backward: PyTorch's error
            if node._direct_backward:           # arrays in, arrays out: skip the _run_backward call
                input_grads = node.backward(node, *grads)
            else:
                input_grads = node._run_backward(grads)
            edges = node.next_functions
            if input_grads.__class__ is not tuple:
                input_grads = (input_grads,)
            if len(input_grads) != len(edges):
                raise RuntimeError(f"function {node.name()} returned an incorrect number of gradients "
                                   f"(expected {len(edges)}, got {len(input_grads)})")
            if OBSERVERS:               # deepdive.viz watching the chain rule at work
                for observe in OBSERVERS:
                    observe(node, grads, input_grads)
            if not retain_graph:
                release_saved(node)
            for edge, grad in zip(edges, input_grads):
                if edge is None:
                    continue
                child, nr = edge
                if child.__class__ in tensor_types:
                    if grad is not None:
                        if captured is None and not child._hooks:
                            # (the test comes first: as a call's argument, grad would already be on the stack)
                            owned = grad.__class__ is _ndarray and grad.base is None \
                                and _getrefcount(grad) <= exclusive and grad.flags.writeable
                            _store_grad(child, grad, owned)
                        else:
                            _accumulate_leaf(child, grad, captured)
                    continue
                if grad is None:
                    _release((edge,), dependencies, ready)
                    continue
                slot = buffers.get(child)
                if slot is None:
                    slot = buffers[child] = [None] * child._n_outputs
                slot[nr] = grad if slot[nr] is None else slot[nr] + grad
                left = dependencies[child] - 1
                dependencies[child] = left
                if not left:
                    ready.append(child)
    except BaseException:
        QUEUED_CALLBACKS.clear()       # a failed backward leaves nothing to finish
        raise
    finally:
        _GRAD.enabled = prev_mode
    if captured is None:
        if QUEUED_CALLBACKS:            # tested here: nearly always empty, a call saved per backward
            _run_queued_callbacks()
    else:
        return [captured[("leaf", id(t)) if t.grad_fn is None else (id(t.grad_fn), t._output_nr)]
                for t in inputs]
    return None


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """``deepdive.autograd.backward``: accumulate d(sum of tensors)/d(leaf) into leaves' ``.grad``."""
    if retain_graph is None:
        retain_graph = create_graph         # as in PyTorch
    tensors = [tensors] if tensors.__class__ in _TENSOR_TYPES else list(tensors)
    if grad_tensors is None or grad_tensors.__class__ in _TENSOR_TYPES:
        grad_tensors = [grad_tensors] * len(tensors) if grad_tensors is None else [grad_tensors]
    seeds = [_seed(t, g, create_graph) for t, g in zip(tensors, grad_tensors)]
    if inputs is None:
        run_backward(tensors, seeds, retain_graph=bool(retain_graph), create_graph=create_graph)
        return
    # backward(inputs=[...]): only these tensors (leaves or not) get .grad accumulated
    inputs = [inputs] if inputs.__class__ in _TENSOR_TYPES else list(inputs)
    if not inputs:
        raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    for t, g in zip(inputs, run_backward(tensors, seeds, retain_graph=bool(retain_graph), inputs=inputs,
                                         create_graph=create_graph)):
        if g is not None:
            (store_grad_graph if create_graph else _store_grad)(t, g)
    _run_queued_callbacks()


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, materialize_grads=False):
    """``deepdive.autograd.grad``: d(outputs)/d(inputs) returned as a tuple, ``.grad`` untouched.

    ``only_inputs`` is the legacy argument (WGAN-GP code passes ``only_inputs=True``): ignored, and
    ``False`` gives PyTorch's FutureWarning.
    """
    if not only_inputs:
        import warnings
        warnings.warn("only_inputs argument is deprecated and is ignored now (defaults to True). To accumulate "
                      "gradient for other parts of the graph, please use torch.autograd.backward.",
                      FutureWarning, stacklevel=2)
    if retain_graph is None:
        retain_graph = create_graph
    outputs = [outputs] if outputs.__class__ in _TENSOR_TYPES else list(outputs)
    single = inputs.__class__ in _TENSOR_TYPES
    inputs = [inputs] if single else list(inputs)
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"One of the differentiated Tensors (input {i}) does not require grad")
    if grad_outputs is None or grad_outputs.__class__ in _TENSOR_TYPES:
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    seeds = [_seed(t, g, create_graph) for t, g in zip(outputs, grad_outputs)]
    results = run_backward(outputs, seeds, retain_graph=bool(retain_graph), inputs=inputs, create_graph=create_graph)
    out = []
    for i, (t, g) in enumerate(zip(inputs, results)):
        if g is None:
            if materialize_grads:
                g = np.zeros_like(t._data)
            elif not allow_unused:
                raise RuntimeError(f"One of the differentiated Tensors (input {i}) appears to not have been used "
                                   "in the graph. Set allow_unused=True if this is the desired behavior.")
        if g is None:
            out.append(None)
        elif g.__class__ in _TENSOR_TYPES:      # create_graph: the gradient keeps its own graph
            out.append(g if g._data.dtype == t._data.dtype else g.to(t.dtype))
        else:
            out.append(_wrap(g.astype(t._data.dtype, copy=False)))
    return tuple(out)


def _seed(t, g, create_graph=False):
    if g is None:
        if t._data.size != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs "
                               f"(got a tensor of shape {tuple(t.shape)}; pass gradient=...)")
        g = np.ones(t._data.shape, t._data.dtype)
        return _wrap(g) if create_graph else g
    if create_graph and g.__class__ in _TENSOR_TYPES:
        array = g._data                     # a grad_output that requires grad is differentiated through
    else:
        array = g = g._data if g.__class__ in _TENSOR_TYPES else np.asarray(g, dtype=t._data.dtype)
    if array.shape != t._data.shape:
        raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of {tuple(array.shape)} and output[0] "
                           f"has a shape of {tuple(t._data.shape)}.")
    return _wrap(g) if create_graph and g.__class__ not in _TENSOR_TYPES else g


_EXCLUSIVE_REFS = _exclusive_refcount()

from ..tensor import _wrap, _TENSOR_TYPES  # noqa: E402
from ._graph import run_backward_graph, store_grad_graph  # noqa: E402
