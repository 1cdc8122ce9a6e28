"""``Function``: one differentiable op, forward and backward side by side.

Every op in deepdive is a subclass of ``Function`` with two static methods::

    class Mul(Function):
        '''z = x * y.   Backward: dx = g * y,  dy = g * x   (g = dL/dz).'''
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y
        @staticmethod
        def backward(ctx, grad):
            x, y = ctx.saved_tensors
            return unbroadcast(grad * y, x.shape), unbroadcast(grad * x, y.shape)

The built-in ops work on NumPy arrays: ``forward`` receives the tensors' arrays
and returns an array (or a tuple of arrays); ``backward`` receives the gradient
of each output and returns one gradient (or None) per input. Keeping NumPy
inside the ops is what keeps the per-op cost low.

``Function.apply`` runs the forward and, only when grad mode is on and an
input requires grad, records the call as a node of the graph: the instance is
both the ``ctx`` seen by forward/backward and the ``grad_fn`` of its outputs.

User-defined functions subclass ``deepdive.autograd.Function`` (``TensorFunction``
here), which is the same machinery with PyTorch's convention: forward and
backward receive and return ``Tensor`` objects.
"""
from .grad_mode import STATE as _GRAD

_new = object.__new__


class _Trace:
    """While ``on`` (inside ``deepdive.viz.trace()``), nodes keep their forward output for inspection."""
    on = False


TRACE = _Trace()


class Function:
    """Base of all differentiable ops (NumPy-level forward/backward).

    Attributes set on a recorded node:
        next_functions: per input, ``(node_or_leaf_tensor, output_nr)`` or None
        needs_input_grad: per input, whether a gradient is wanted
    """
    # Set on a recorded node only; class-level defaults keep unrecorded calls cheap.
    next_functions = ()
    needs_input_grad = ()
    _saved = ()
    _saved_versions = None
    _freed = False
    _release_state = ()     # names of attributes (beyond arrays) that backward frees without retain_graph
    _saved_only = False     # True: the op keeps arrays only through save_for_backward (release skips the scan)
    _n_outputs = 1
    _out_meta = None
    _pre_hooks = None       # hooks of non-leaf tensors: fn(grad) -> grad | None
    _retained = None        # non-leaf tensors that called retain_grad()
    _out_shape = None
    _trace_output = None
    _trace_inputs = None    # inside viz.trace(): the call's arguments, so graphs can draw the data inputs
    # create_graph=True: None (an op that can't record its backward yet: differentiating its gradient raises),
    # ``backward`` itself when that code runs on Tensors too, or a Tensor-level backward (see _graph.py).
    graph_backward = None
    # True when ``_run_backward`` is Function's own (arrays in, arrays out): the engine then calls
    # ``backward`` directly, one Python call fewer per node (set for each subclass below).
    _direct_backward = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._direct_backward = cls._run_backward is Function._run_backward

    def save_for_backward(self, *arrays):
        """Keep what backward needs; checked against in-place changes later."""
        self._saved = arrays

    @property
    def saved_tensors(self):
        # NOTE: check_saved's two tests inlined: this runs once per node of every backward
        versions = self._saved_versions
        if versions:
            for counter, version, _, _ in versions:
                if counter[0] != version:
                    self.check_saved()
        elif self._freed:
            self.check_saved()
        return self._saved

    def check_saved(self):
        """Raise PyTorch's errors if what this node saved was freed by a backward, or changed in place."""
        if self._freed:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved tensors after "
                "they have already been freed). Saved intermediate values of the graph are freed when you call "
                ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
                "graph a second time or if you need to access saved tensors after calling backward.")
        if self._saved_versions:
            for counter, version, position, array in self._saved_versions:
                if counter[0] != version:
                    raise RuntimeError(
                        "one of the variables needed for gradient computation has been modified by an inplace "
                        f"operation: [{array.dtype} tensor of shape {list(array.shape)}], which is "
                        f"{' '.join(map(str, position))} of {self.name()}, is at version {counter[0]}; expected "
                        f"version {version} instead. Hint: replace the in-place operation (e.g. x.add_(1)) by "
                        "its out-of-place form (x = x.add(1)).")

    def mark_non_differentiable(self, *args):
        pass  # built-in ops return non-differentiable results from plain NumPy, not through Function

    @classmethod
    def name(cls):
        return cls.__name__ + "Backward0"

    def __repr__(self):
        return f"<{self.name()} object>"

    def register_hook(self, hook):
        """Hook on this node's output gradient(s): ``hook(grad_inputs, grad_outputs)`` is not supported;
        use ``Tensor.register_hook`` instead."""
        raise NotImplementedError("use Tensor.register_hook")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run forward on the inputs' arrays and, if needed, record the node."""
        ctx = _new(cls)
        tensor_types = _TENSOR_TYPES
        raw = []
        record = False
        for a in args:                      # one pass: unwrap arrays, see whether any input wants grad
            if a.__class__ in tensor_types:
                raw.append(a._data)
                if a.requires_grad:
                    record = True
            else:
                raw.append(a)
        record = record and _GRAD.enabled
        try:
            out = cls.forward(ctx, *raw, **kwargs)
        except (ValueError, IndexError, TypeError) as error:     # no raw NumPy error reaches a user
            from ..ops._errors import from_numpy, is_from_numpy
            if not is_from_numpy(error):
                raise
            raise from_numpy(cls.__name__.lower(), error, raw) from None
        if not record:
            if out.__class__ is tuple:
                return tuple(_wrap(o) for o in out)
            return _wrap(out)
        needs, edges = [], []
        saved = ctx._saved
        versions = None
        for i, a in enumerate(args):           # edges to the inputs' nodes, and versions of saved inputs
            if a.__class__ in tensor_types:
                if a.requires_grad:
                    needs.append(True)
                    edges.append((a.grad_fn or a, a._output_nr))
                else:
                    needs.append(False)
                    edges.append(None)
                if saved:
                    data = a._data
                    for array in saved:
                        if array is data:
                            counter = a._version_counter
                            if versions is None:
                                versions = []
                            versions.append((counter, counter[0], ("input", i), data))
                            break
            else:
                needs.append(False)
                edges.append(None)
        ctx.needs_input_grad = tuple(needs)
        ctx.next_functions = tuple(edges)
        if out.__class__ is tuple:
            ctx._n_outputs = len(out)
            ctx._out_meta = [(o.shape, o.dtype) for o in out]
            outs = tuple(_wrap(o, True, ctx, i) for i, o in enumerate(out))
            if TRACE.on:
                ctx._trace_output, ctx._trace_inputs = out, args
            if saved:
                for i, t in enumerate(outs):
                    versions = _track_output(saved, t, i, versions)
            ctx._saved_versions = versions
            return outs
        result = _wrap(out, True, ctx, 0)
        ctx._out_shape = out.shape          # for graph views (deepdive.viz); one attribute store
        if TRACE.on:
            ctx._trace_output, ctx._trace_inputs = out, args
        if saved:
            ctx._saved_versions = _track_output(saved, result, 0, versions)
        return result

    # Called by the engine; TensorFunction overrides it to speak in Tensors.
    def _run_backward(self, grads):
        return self.backward(self, *grads)


def guard_saved_index(result, *indices):
    """Version-check index tensors that an op keeps for backward: they reach ``forward`` as NumPy arrays
    (``Function.apply`` only sees Tensors), so without this ``i.zero_()`` after ``y = x.gather(0, i)`` would
    silently send the gradient to the wrong place. PyTorch raises its version-counter error; so do we."""
    node = result.grad_fn if result.__class__ in _TENSOR_TYPES else None
    if node is None:
        return result
    versions = node._saved_versions
    for i, t in enumerate(indices):
        if t.__class__ in _TENSOR_TYPES:
            counter = t._version_counter
            versions = (versions or []) + [(counter, counter[0], ("index", i), t._data)]
    if versions is not node._saved_versions:
        node._saved_versions = versions
    return result


def _track_output(saved, tensor, index, versions):
    """Add the version of an output whose array was saved (e.g. exp and sigmoid save their result).

    NOTE: the version counter (a small list) is kept, not the tensor: holding the output here would make
    a reference cycle (output -> grad_fn -> output).
    """
    data = tensor._data
    base = data.base
    for array in saved:
        # NOTE: also when the output is a view of the saved array (max/norm/prod save y, return y squeezed)
        if array is data or (base is not None and (base is array or base is getattr(array, "base", False))):
            counter = tensor._version_counter
            return (versions or []) + [(counter, counter[0], ("output", index), data)]
    return versions


class TensorFunction(Function):
    """Custom autograd functions written the PyTorch way (public as ``deepdive.autograd.Function``).

    ``forward(ctx, *args)`` receives Tensors (with grad recording off) and returns
    a Tensor or a tuple of Tensors; ``backward(ctx, *grad_outputs)`` receives and
    returns Tensors (or None for inputs that need no gradient)::

        class Exp(deepdive.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x.exp()
                ctx.save_for_backward(y)
                return y
            @staticmethod
            def backward(ctx, grad_output):
                (y,) = ctx.saved_tensors
                return grad_output * y
    """

    setup_context = None        # PyTorch 2's split form: forward(*args) then setup_context(ctx, inputs, output)
    _non_differentiable = ()

    def save_for_backward(self, *tensors):
        self._saved = tensors
        self._saved_versions = [(t._version_counter, t._version_counter[0], ("saved tensor", i), t._data)
                                for i, t in enumerate(tensors) if t is not None]

    def mark_non_differentiable(self, *tensors):
        """These outputs (integer indices, masks ...) get no ``grad_fn``; their gradients arrive as zeros."""
        self._non_differentiable = tensors

    def mark_dirty(self, *tensors):
        pass        # in-place custom functions: the engine needs nothing more here

    def set_materialize_grads(self, value):
        pass        # gradients of unused outputs always arrive as zeros, never None

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = cls.__new__(cls)
        record = _GRAD.enabled and any(isinstance(a, Tensor) and a.requires_grad for a in args)
        # set before forward, which may read it (as in PyTorch)
        ctx.needs_input_grad = tuple(record and isinstance(a, Tensor) and a.requires_grad for a in args)
        prev = _GRAD.enabled
        _GRAD.enabled = False
        try:
            if cls.setup_context is not None:
                out = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args, **kwargs)
        finally:
            _GRAD.enabled = prev
        multi = isinstance(out, tuple)
        outs = out if multi else (out,)
        if not record:
            return out
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx.next_functions = tuple(
            (a.grad_fn or a, a._output_nr) if isinstance(a, Tensor) and a.requires_grad else None for a in args)
        ctx._n_outputs = len(outs)
        ctx._out_meta = [(o._data.shape, o._data.dtype) for o in outs]
        saved = ctx._saved
        if saved:       # saved outputs: create_graph links them back to this node (see _run_backward_graph)
            ctx._saved_outputs = [(p, i) for p, s in enumerate(saved) for i, o in enumerate(outs) if s is o]
        wrapped = []
        for i, o in enumerate(outs):
            if isinstance(o, Tensor) and any(o is t for t in ctx._non_differentiable):
                o = _wrap(o._data)
            elif isinstance(o, Tensor):
                counter = o._version_counter
                o = _wrap(o._data, True, ctx, i)   # a fresh Tensor that carries the node
                o._version_counter = counter       # same values: an in-place change must reach ctx's saved copy
            wrapped.append(o)
        return tuple(wrapped) if multi else wrapped[0]

    def _run_backward(self, grads):
        result = self.backward(self, *[None if g is None else _wrap(g) for g in grads])
        if not isinstance(result, tuple):
            result = (result,)
        return tuple(r._data if isinstance(r, Tensor) else r for r in result)

    def _run_backward_graph(self, grads):
        """create_graph=True: backward sees Tensors linked to the graph (a saved output points at this node)."""
        saved = self._saved
        if getattr(self, "_saved_outputs", None):
            linked = list(saved)
            for position, index in self._saved_outputs:
                linked[position] = _wrap(saved[position]._data, True, self, index)
            self._saved = tuple(linked)
        try:
            result = self.backward(self, *grads)
        finally:
            self._saved = saved
        return result if isinstance(result, tuple) else (result,)


def once_differentiable(fn):
    """Mark a custom backward as not differentiable: its gradients raise if differentiated again.

    The backward runs with grad recording off. Under create_graph=True, when a gradient or a saved
    tensor requires grad, the results get a node that raises PyTorch's error when reached.
    """
    import functools

    @functools.wraps(fn)
    def wrapper(ctx, *grads):
        prev = _GRAD.enabled
        _GRAD.enabled = False
        try:
            outputs = fn(ctx, *grads)
        finally:
            _GRAD.enabled = prev
        if not prev:
            return outputs
        if not any(isinstance(t, Tensor) and t.requires_grad for t in tuple(grads) + tuple(ctx._saved or ())):
            return outputs
        from ._graph import delayed_error, ONCE_DIFFERENTIABLE
        multi = isinstance(outputs, tuple)
        wrapped = delayed_error(ONCE_DIFFERENTIABLE, outputs if multi else (outputs,))
        return wrapped if multi else wrapped[0]
    return wrapper


from ..tensor import Tensor, _wrap, _TENSOR_TYPES  # noqa: E402  (tensor.py imports this module first)
