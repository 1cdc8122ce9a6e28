"""Activation checkpointing (``torch.utils.checkpoint``): trade compute for memory.

Normally every op of a forward pass keeps what its backward needs (inputs,
masks, intermediate results) until backward runs, so a deep network holds all
its activations at once. ``checkpoint(fn, *args)`` keeps only ``args``: the
graph of ``fn`` is dropped as soon as its outputs are known, and in backward
``fn`` is run again on the saved inputs to rebuild it, then differentiated.
Gradients are identical to running ``fn`` without checkpointing (the same ops on
the same values, with the random state restored so dropout draws the same mask);
the price is one extra forward of ``fn`` per backward.

How it works here: ``fn`` runs once with grad recording on; the graph it made
is walked back to find the tensors requiring grad that it reads (its inputs and
the parameters it uses), then dropped. One ``CheckpointFunction`` node with an
edge to each of those tensors stands in for the whole segment.

``use_reentrant`` picks between PyTorch's two variants. Both recompute; they
differ as PyTorch's do where that is visible to a program: with
``use_reentrant=True`` (PyTorch's legacy default) keyword arguments are
refused, and when no input requires grad the output requires none either
(with PyTorch's warning), so parameters inside ``fn`` get no gradient;
``use_reentrant=False`` (recommended) gives them their gradients anyway.
Not passing it warns, as in PyTorch, and means True. Both variants here also
work under ``autograd.grad`` (PyTorch's reentrant one refuses it).

NOTE: tensors that ``fn`` reads from outside (closures, module attributes) must
be leaves (parameters, constants); a non-leaf tensor computed before the call
and captured by the closure should be passed as an argument instead (PyTorch's
reentrant variant asks the same).
"""
import warnings

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import STATE as _GRAD
from ..autograd import engine as _engine
from ..tensor import _wrap, _TENSOR_TYPES
from .. import random as _random

__all__ = ["checkpoint", "checkpoint_sequential"]

_REENTRANT_WARNING = ("deepdive.utils.checkpoint: the use_reentrant parameter should be passed explicitly. "
                      "use_reentrant=False is recommended, but if you need to preserve the current default "
                      "behavior, you can pass use_reentrant=True. Refer to docs for more details on the "
                      "differences between the two variants.")


class CheckpointFunction(Function):
    """outputs = fn(*inputs), with fn's graph rebuilt in backward.

    Backward: re-run fn (same random state) on detached copies of the inputs, then
    d(outputs)/d(edge tensors) . grad_outputs by the ordinary engine, for the
    inputs and for the parameters fn used.
    """

    _release_state = ("_args", "_kwargs")   # what backward frees without retain_graph (engine.release_saved)

    def _run_backward(self, grads):
        if self._freed:
            raise RuntimeError("Trying to backward through the graph a second time (checkpointed segment): "
                               "specify retain_graph=True if you need to backward through the graph again.")
        fn, args, kwargs, rng_state, targets = self._fn, self._args, self._kwargs, self._rng_state, self._targets
        current_rng = _random.get_rng_state() if rng_state is not None else None
        prev = _GRAD.enabled
        _GRAD.enabled = True
        try:
            if rng_state is not None:
                _random.set_rng_state(rng_state)
            detached, _ = _detach_inputs(args)
            outputs = fn(*detached, **kwargs)
        finally:
            _GRAD.enabled = prev
            if current_rng is not None:
                _random.set_rng_state(current_rng)
        outputs = _as_tuple(outputs)
        pairs = [(o, g) for o, g in zip(outputs, grads)
                 if o.__class__ in _TENSOR_TYPES and o.requires_grad and g is not None]
        # the recomputed graph ends at the fresh detached inputs; everything else it reads is a leaf target
        recomputed = [detached[i] if kind == "input" else t for kind, i, t in targets]
        if not pairs:
            return tuple(None for _ in targets)
        # NOTE: the parameters' own hooks run when the outer backward accumulates these gradients;
        # switched off here so that they run once, not twice
        leaves = [t for kind, _, t in targets if kind == "leaf" and t._hooks]
        saved_hooks = [t._hooks for t in leaves]
        for t in leaves:
            t._hooks = None
        try:
            results = _engine.run_backward([o for o, _ in pairs], [g for _, g in pairs], inputs=recomputed)
        finally:
            for t, hooks in zip(leaves, saved_hooks):
                t._hooks = hooks
        return tuple(results)

    @staticmethod
    def graph_backward(node, *grads):
        """create_graph=True: fn re-run on stand-ins linked to the real inputs (and on the real leaves it
        reads), its graph kept, and differentiated with create_graph: the gradients are differentiable again
        (PyTorch's non-reentrant checkpoint supports double backward; both variants do here)."""
        from ..autograd._graph import linked_input, run_backward_graph
        if node._freed:
            node._run_backward(grads)           # raises the first-order message
        fn, args, kwargs, rng_state, targets = node._fn, node._args, node._kwargs, node._rng_state, node._targets
        stand_ins = list(args)
        for j, (kind, i, _) in enumerate(targets):
            if kind == "input":
                stand_ins[i] = linked_input(node, j, args[i]._data)
        current_rng = _random.get_rng_state() if rng_state is not None else None
        try:
            if rng_state is not None:
                _random.set_rng_state(rng_state)
            outputs = _as_tuple(fn(*stand_ins, **kwargs))
        finally:
            if current_rng is not None:
                _random.set_rng_state(current_rng)
        pairs = [(o, g) for o, g in zip(outputs, grads)
                 if o.__class__ in _TENSOR_TYPES and o.requires_grad and g is not None]
        if not pairs:
            return tuple(None for _ in targets)
        wanted = [stand_ins[i] if kind == "input" else t for kind, i, t in targets]
        leaves = [t for kind, _, t in targets if kind == "leaf" and t._hooks]     # their hooks: once, outside
        saved_hooks = [t._hooks for t in leaves]
        for t in leaves:
            t._hooks = None
        try:
            results = run_backward_graph([o for o, _ in pairs], [g for _, g in pairs], True, wanted,
                                         stop_at_inputs=True)
        finally:
            for t, hooks in zip(leaves, saved_hooks):
                t._hooks = hooks
        return tuple(results)


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check="default", debug=False,
               preserve_rng_state=True, **kwargs):
    """``function(*args, **kwargs)`` without keeping its activations: they are recomputed in backward.

    Args:
        function: the segment to run (a Module, or any callable of tensors).
        *args: its inputs; only these (and the parameters it uses) are kept for backward.
        use_reentrant (bool): PyTorch's variant switch (see the module docstring); None warns and means True.
        preserve_rng_state (bool, default True): restore the random state before recomputing, so dropout
            and other random ops draw the same values as in the forward pass.
        context_fn, determinism_check, debug: accepted for compatibility; they change nothing here.
    Returns:
        what ``function`` returns (a Tensor or a tuple).

    Example::

        h = checkpoint(block, x, use_reentrant=False)   # block's activations are not stored
    """
    if use_reentrant is None:
        warnings.warn(_REENTRANT_WARNING, stacklevel=2)
        use_reentrant = True
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    rng_state = _random.get_rng_state() if preserve_rng_state else None
    if not _GRAD.enabled:
        return function(*args, **kwargs)
    any_input_requires_grad = any(a.__class__ in _TENSOR_TYPES and a.requires_grad for a in args)
    if use_reentrant and not any_input_requires_grad:
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", stacklevel=2)
        _GRAD.enabled = False
        try:
            return function(*args, **kwargs)
        finally:
            _GRAD.enabled = True
    detached, input_of = _detach_inputs(args)
    outputs = function(*detached, **kwargs)
    single = not isinstance(outputs, tuple)
    outputs = _as_tuple(outputs)
    targets = _boundary(outputs, input_of)
    if not targets:          # nothing to differentiate: plain values
        return outputs[0] if single else outputs
    node = CheckpointFunction.__new__(CheckpointFunction)
    node._fn, node._args, node._kwargs, node._rng_state = function, args, kwargs, rng_state
    node._targets = targets
    edge_tensors = [args[i] if kind == "input" else t for kind, i, t in targets]
    node.next_functions = tuple((t.grad_fn or t, t._output_nr) for t in edge_tensors)
    node.needs_input_grad = tuple(True for _ in edge_tensors)
    node._n_outputs = len(outputs)
    node._out_meta = [(o._data.shape, o._data.dtype) if o.__class__ in _TENSOR_TYPES else ((), np.float32)
                      for o in outputs]
    # the outputs keep their values but forget fn's graph: that is the memory saved
    wrapped = tuple(_wrap(o._data, True, node, i) if o.__class__ in _TENSOR_TYPES and o.requires_grad else o
                    for i, o in enumerate(outputs))
    return wrapped[0] if single else wrapped


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run a Sequential (or a list of modules) in ``segments`` chunks, checkpointing all but the last.

    As PyTorch: the chunks hold ``len(functions) // segments`` modules each and the last chunk, which
    runs normally, takes the rest. Only the chunk boundaries' activations are stored.
    """
    if use_reentrant is None:
        warnings.warn(_REENTRANT_WARNING.replace("checkpoint:", "checkpoint.checkpoint_sequential:"), stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    from ..nn.container import Sequential
    if isinstance(functions, Sequential):
        functions = list(functions.children())

    def run_function(start, end):
        def forward(x):
            for j in range(start, end + 1):
                x = functions[j](x)
            return x
        return forward

    segment_size = len(functions) // segments
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(run_function(start, end), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run_function(end + 1, len(functions) - 1)(input)


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _detach_inputs(args):
    """Fresh leaves over the inputs' values (same requires_grad), and id(leaf) -> argument position."""
    detached, input_of = [], {}
    for i, a in enumerate(args):
        if a.__class__ in _TENSOR_TYPES:
            d = _wrap(a._data)
            d._version_counter = a._version_counter
            d.requires_grad = a.requires_grad
            input_of[id(d)] = i
            detached.append(d)
        else:
            detached.append(a)
    return detached, input_of


def _boundary(outputs, input_of):
    """The tensors requiring grad that the segment's graph reads: ``(kind, index, tensor)`` each,
    kind "input" (an argument, by position) or "leaf" (a parameter or other leaf fn captured)."""
    found, seen_nodes, seen_leaves = [], set(), set()
    stack = [o.grad_fn for o in outputs if o.__class__ in _TENSOR_TYPES and o.grad_fn is not None]
    for o in outputs:            # an output that is an input (or a leaf) passed straight through
        if o.__class__ in _TENSOR_TYPES and o.requires_grad and o.grad_fn is None and id(o) not in seen_leaves:
            seen_leaves.add(id(o))
            found.append(_target(o, input_of))
    while stack:
        node = stack.pop()
        if node in seen_nodes:
            continue
        seen_nodes.add(node)
        for edge in node.next_functions:
            if edge is None:
                continue
            child = edge[0]
            if child.__class__ in _TENSOR_TYPES:
                if id(child) not in seen_leaves:
                    seen_leaves.add(id(child))
                    found.append(_target(child, input_of))
            else:
                stack.append(child)
    found.sort(key=lambda t: (t[0] != "input", t[1]))
    return found


def _target(leaf, input_of):
    i = input_of.get(id(leaf))
    return ("input", i, None) if i is not None else ("leaf", -1, leaf)
