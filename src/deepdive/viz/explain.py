"""Plain-text explanations with the actual numbers: one neuron, and backpropagation step by step."""
import numpy as np

from ..autograd import engine
from ..tensor import Tensor, _TENSOR_TYPES

__all__ = ["explain_neuron", "explain_backward"]

_ACTIVATIONS = {
    None: ("identity", lambda z: z, "y = z"),
    "linear": ("identity", lambda z: z, "y = z"),
    "relu": ("ReLU", lambda z: max(0.0, z), "y = max(0, z)"),
    "sigmoid": ("sigmoid", lambda z: 1 / (1 + np.exp(-z)), "y = 1 / (1 + e^-z)"),
    "tanh": ("tanh", np.tanh, "y = (e^z - e^-z) / (e^z + e^-z)"),
}


def _num(v):
    return f"{float(v):.4g}"


def explain_neuron(layer, x, unit=0, activation="relu"):
    """Spell out ``y = σ(Σ wᵢxᵢ + b)`` for one unit of a dense layer on one input, with its numbers.

    Args:
        layer: ``nn.Linear`` (weight of shape (out, in)) or ``layers.Dense`` (kernel of shape (in, units))
        x: one input vector (a batch uses its first row)
        unit: which output unit (neuron)
        activation: 'relu' | 'sigmoid' | 'tanh' | None
    Returns the explanation as a string (also what ``print`` shows).
    """
    if hasattr(layer, "kernel") and layer.kernel is not None:
        weights = layer.kernel._data[:, unit]
        bias = None if getattr(layer, "bias", None) is None else layer.bias._data[unit]
    elif hasattr(layer, "weight"):
        if layer.weight._data.ndim != 2:
            raise ValueError(f"explain_neuron needs a dense layer (2-D weight), got weight of shape {list(layer.weight.shape)}")
        weights = layer.weight._data[unit]
        bias = None if getattr(layer, "bias", None) is None else layer.bias._data[unit]
    else:
        raise TypeError(f"explain_neuron needs nn.Linear or layers.Dense, got {type(layer).__name__}")
    xs = np.asarray(x._data if isinstance(x, Tensor) else x, dtype=np.float64)
    if xs.ndim == 2:
        xs = xs[0]
    if xs.shape != weights.shape:
        raise ValueError(f"explain_neuron: input has {xs.shape[-1]} features but the layer expects {weights.shape[0]}")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"explain_neuron: activation must be one of {sorted(k for k in _ACTIVATIONS if k)} or None")
    name, fn, formula = _ACTIVATIONS[activation]
    terms = [f"({_num(w)})({_num(v)})" for w, v in zip(weights, xs)]
    weighted = float(np.dot(weights.astype(np.float64), xs))
    z = weighted + (0.0 if bias is None else float(bias))
    y = float(fn(z))
    lines = [f"Neuron {unit} of {layer!r}:  y = σ(Σ wᵢxᵢ + b)",
             f"  Σ wᵢxᵢ = {' + '.join(terms)}",
             f"         = {_num(weighted)}",
             f"  z = Σ wᵢxᵢ + b = {_num(weighted)} + ({_num(0 if bias is None else bias)}) = {_num(z)}",
             f"  σ = {name}: {formula} = {_num(y)}"]
    return _Text("\n".join(lines))


class _Text(str):
    """A string that also renders as preformatted text in Jupyter."""

    def _repr_html_(self):
        import html
        return "<pre>" + html.escape(self) + "</pre>"


def _local_rule(node):
    doc = (type(node).__doc__ or "").strip()
    for line in doc.splitlines():
        if "Backward:" in line:
            return line.strip()
    return doc.splitlines()[0] if doc else type(node).__name__


def _fmt(g, n=6):
    from .graph import _fmt_values
    a = np.asarray(g)
    text = _fmt_values(a, n, digits=4)
    return text if a.ndim == 0 else f"{text} (shape {list(a.shape)})"


def explain_backward(loss, params=None):
    """The chain-rule walk from ``loss`` back to each weight, printing every local derivative and the
    gradient passed on, then each leaf's accumulated gradient. ``.grad`` fields are left untouched.

    ``params``: a Module (or {name: tensor}) to name the weights.
    """
    from .graph import _names
    if not isinstance(loss, Tensor) or loss.grad_fn is None:
        raise ValueError("explain_backward needs a result computed from tensors that require grad (it has no grad_fn)")
    names = _names(params)
    leaves, stack, seen = [], [loss.grad_fn], {id(loss.grad_fn)}
    while stack:                       # find the leaves, to ask backward for their gradients
        fn = stack.pop()
        for edge in fn.next_functions:
            if edge is None:
                continue
            child = edge[0]
            if child.__class__ in _TENSOR_TYPES:
                if all(child is not l for l in leaves):
                    leaves.append(child)
            elif id(child) not in seen:
                seen.add(id(child))
                stack.append(child)
    events = []

    def observe(node, grad_outputs, grad_inputs):
        events.append((node, [None if g is None else np.array(g) for g in grad_outputs],
                       [None if g is None else np.array(g) for g in grad_inputs]))
    engine.OBSERVERS.append(observe)
    try:
        seed = np.ones(loss._data.shape, loss._data.dtype)
        grads = engine.run_backward([loss], [seed], retain_graph=True, inputs=leaves)
    finally:
        engine.OBSERVERS.remove(observe)
    out = [f"Backward pass of {'the loss' if loss.ndim == 0 else 'the output'} = {_fmt(loss._data)}, by the chain rule:",
           "  dL/dL = 1. Each step multiplies the gradient arriving at an op (g = dL/d output) by the op's",
           "  local derivative, and passes dL/d input on to whatever produced that input.", ""]
    for step, (node, g_out, g_in) in enumerate(events, 1):
        out.append(f"  {step}. {type(node).__name__}: receives g = {_fmt(g_out[0])}")
        out.append(f"     local rule  {_local_rule(node)}")
        for i, (edge, g) in enumerate(zip(node.next_functions, g_in)):
            if edge is None or g is None:
                continue
            target = edge[0]
            where = names.get(id(target), "a leaf") if target.__class__ in _TENSOR_TYPES else type(target).__name__
            out.append(f"     sends dL/d(input {i}) = {_fmt(g)}  ->  {where}")
    out.append("")
    out.append("Accumulated gradients of the leaves (what backward() would add to .grad):")
    for leaf, g in zip(leaves, grads):
        out.append(f"  {names.get(id(leaf), 'leaf')} {list(leaf.shape)}: dL/dw = {_fmt(g)}")
    return _Text("\n".join(out))
