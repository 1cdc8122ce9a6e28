"""Plain-text explanations with the actual numbers: one neuron, and backpropagation step by step."""
import numpy as np

from ..autograd import engine
from ..tensor import Tensor, _TENSOR_TYPES

__all__ = ["explain_neuron", "explain_backward"]

import math

_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def _num(v):
    return f"{float(v):.4g}"


def _exact(v):
    """The neuron's output, with enough digits to compare against the model's own float32 output."""
    return f"{float(v):.7g}"


def _sigmoid(z):
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))


def _activation_of(name, **config):
    """(label, formula text, y = f(z, all_z)) for one activation. ``all_z`` (every unit's z) is for softmax."""
    if name in (None, "linear", "identity"):
        return "identity", "y = z", lambda z, zs: z
    if name == "relu":
        return "ReLU", "y = max(0, z)", lambda z, zs: max(0.0, z)
    if name == "leaky_relu":
        a = config.get("negative_slope", 0.01)
        return f"LeakyReLU(negative_slope={a:g})", f"y = z if z > 0 else {a:g}·z", lambda z, zs: z if z > 0 else a * z
    if name == "sigmoid":
        return "sigmoid", "y = 1 / (1 + e^-z)", lambda z, zs: _sigmoid(z)
    if name == "tanh":
        return "tanh", "y = (e^z - e^-z) / (e^z + e^-z)", lambda z, zs: math.tanh(z)
    if name == "elu":
        a = config.get("alpha", 1.0)
        return f"ELU(alpha={a:g})", f"y = z if z > 0 else {a:g}·(e^z - 1)", lambda z, zs: z if z > 0 else a * math.expm1(z)
    if name == "selu":
        return ("SELU", f"y = {_SELU_SCALE:.4f}·(z if z > 0 else {_SELU_ALPHA:.4f}·(e^z - 1))",
                lambda z, zs: _SELU_SCALE * (z if z > 0 else _SELU_ALPHA * math.expm1(z)))
    if name == "gelu":
        if config.get("approximate", "none") == "tanh":
            return ("GELU(approximate='tanh')", "y = z/2 · (1 + tanh(√(2/π)·(z + 0.044715·z³)))",
                    lambda z, zs: 0.5 * z * (1 + math.tanh(_SQRT_2_OVER_PI * (z + 0.044715 * z ** 3))))
        return "GELU", "y = z·Φ(z) = z/2 · (1 + erf(z/√2))", lambda z, zs: 0.5 * z * (1 + math.erf(z / math.sqrt(2)))
    if name in ("silu", "swish"):
        return "SiLU", "y = z·σ(z) = z / (1 + e^-z)", lambda z, zs: z * _sigmoid(z)
    if name == "softplus":
        beta, threshold = config.get("beta", 1.0), config.get("threshold", 20.0)
        return (f"Softplus(beta={beta:g})", f"y = log(1 + e^({beta:g}·z)) / {beta:g}  (y = z once {beta:g}·z > {threshold:g})",
                lambda z, zs: z if beta * z > threshold else math.log1p(math.exp(beta * z)) / beta)
    if name == "softmax":
        return ("softmax over the layer's units", "y = e^z / Σⱼ e^zⱼ",
                lambda z, zs: math.exp(z - max(zs)) / sum(math.exp(v - max(zs)) for v in zs))
    raise ValueError(f"explain_neuron: cannot explain the activation {name!r}; it explains "
                     f"{', '.join(_SUPPORTED)} (or None for the identity)")


_SUPPORTED = ("relu", "leaky_relu", "sigmoid", "tanh", "elu", "selu", "gelu", "silu", "softplus", "softmax", "linear")
_MODULE_ACTIVATIONS = {"ReLU": "relu", "LeakyReLU": "leaky_relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "ELU": "elu",
                       "SELU": "selu", "GELU": "gelu", "SiLU": "silu", "Softplus": "softplus", "Softmax": "softmax",
                       "Identity": "linear"}


def _module_activation(module):
    """(name, config) of the activation a module applies, or None when it is not an activation."""
    if module is None:
        return None
    kind = _MODULE_ACTIVATIONS.get(type(module).__name__)
    if kind is not None:
        if kind == "softmax" and getattr(module, "dim", None) not in (None, -1, 1):
            raise ValueError(f"explain_neuron: {module!r} is not over the layer's units (dim -1)")
        config = {k: getattr(module, k) for k in ("negative_slope", "alpha", "approximate", "beta", "threshold")
                  if hasattr(module, k)}
        return kind, config
    if _is_keras_layer(module) and hasattr(module, "activation") and not hasattr(module, "units"):
        return _keras_activation(module.activation)          # layers.Activation('tanh')
    return None


def _is_keras_layer(module):
    return type(module).__module__.startswith("deepdive.layers")


def _keras_activation(fn):
    from ..layers import activations
    name = activations.serialize(fn)
    return name, {"negative_slope": 0.2}                     # Keras's 'leaky_relu' slope (PyTorch's is 0.01)


def _is_dense(module):
    return (_is_keras_layer(module) and hasattr(module, "units")) or type(module).__name__ == "Linear"


def _resolve(layer, x, activation):
    """(dense layer, its input, (activation name, config), where it came from)."""
    named = list(layer.named_children()) if hasattr(layer, "named_children") and not _is_dense(layer) else []
    children = [module for _, module in named]
    if children:                                  # a model: its first dense layer and the module after it
        position = next((i for i, m in enumerate(children) if _is_dense(m)), None)
        if position is None:
            raise TypeError(f"explain_neuron: {type(layer).__name__} has no nn.Linear or layers.Dense among its "
                            "direct sub-modules; pass the layer itself (and activation=)")
        if position > 0 and type(layer).__name__ != "Sequential":
            raise TypeError(f"explain_neuron: the first dense layer of {type(layer).__name__} is not its first "
                            "sub-module, so its input is unknown; pass that layer and its input instead")
        from ..autograd.grad_mode import no_grad
        with no_grad():
            for module in children[:position]:     # a Sequential's layers before the dense one
                x = module(x)
        dense = children[position]
        following = children[position + 1] if position + 1 < len(children) else None
        found = _module_activation(following) or ("linear", {})
        if _is_keras_layer(dense) and dense.activation is not None and _keras_activation(dense.activation)[0] != "linear":
            found = _keras_activation(dense.activation)
        source = f"{named[position][0]} ({type(dense).__name__}) of {type(layer).__name__}" + (
            f", then {named[position + 1][0]} ({type(following).__name__})" if _module_activation(following) else "")
    elif _is_dense(layer):
        dense, source = layer, repr(layer)
        found = _keras_activation(layer.activation) if _is_keras_layer(layer) else None
    else:
        raise TypeError(f"explain_neuron needs nn.Linear, layers.Dense or a model built from them, got "
                        f"{type(layer).__name__}")
    if activation != "auto":
        asked = (activation, {})
        if found is not None and found[0] != (activation or "linear"):
            raise ValueError(f"explain_neuron: the layer applies {found[0]!r}, not {activation!r}; leave "
                             "activation= out to explain what the layer really computes")
        found = found or asked
    return dense, x, found or ("linear", {}), source


def explain_neuron(layer, x, unit=0, activation="auto"):
    """Spell out ``y = σ(Σ wᵢxᵢ + b)`` for one unit of a dense layer on one input, with its numbers.

    The activation σ is the one the model really applies: a Keras-style ``Dense(activation=...)``'s own, or,
    for a model (``nn.Sequential`` or a module whose first sub-module is the dense layer), the activation
    module that follows its first ``nn.Linear``. A bare ``nn.Linear`` applies none (σ = identity) unless
    ``activation=`` names the one your forward applies after it. The printed ``y`` is what the model computes.

    Args:
        layer: ``nn.Linear`` (weight (out, in)), ``layers.Dense`` (kernel (in, units)), or a model of them
        x: one input vector (a batch uses its first row)
        unit: which output unit (neuron), 0 <= unit < out_features
        activation: 'auto' (the layer's own), or for a bare nn.Linear one of 'relu', 'leaky_relu', 'sigmoid',
            'tanh', 'elu', 'selu', 'gelu', 'silu', 'softplus', 'softmax', None
    Returns the explanation as a string (also what ``print`` shows).
    """
    xt = x if isinstance(x, Tensor) else None
    if xt is None:
        from ..tensor import _wrap
        xt = _wrap(np.asarray(x, dtype=np.float32))
    dense, xt, (act_name, config), source = _resolve(layer, xt, activation)
    if _is_keras_layer(dense):
        if getattr(dense, "kernel", None) is None:                  # a Keras layer builds its weights on its first call
            from ..autograd.grad_mode import no_grad
            with no_grad():
                dense(xt if xt.ndim == 2 else xt.reshape(1, -1))
        weight = dense.kernel._data.T             # (units, in), as nn.Linear stores it
    else:
        if dense.weight._data.ndim != 2:
            raise ValueError(f"explain_neuron needs a dense layer (2-D weight), got weight of shape {list(dense.weight.shape)}")
        weight = dense.weight._data
    bias_all = None if getattr(dense, "bias", None) is None else dense.bias._data
    n_units = weight.shape[0]
    if isinstance(unit, bool) or not isinstance(unit, (int, np.integer)) or not 0 <= unit < n_units:
        raise ValueError(f"explain_neuron: unit={unit!r} is out of range: the layer has {n_units} units "
                         f"(0 to {n_units - 1})")
    xs = np.asarray(xt._data, dtype=np.float64)
    if xs.ndim == 2:
        xs = xs[0]
    if xs.ndim != 1 or xs.shape[0] != weight.shape[1]:
        raise ValueError(f"explain_neuron: input has {xs.shape[-1] if xs.ndim else 0} features but the layer "
                         f"expects {weight.shape[1]}")
    label, formula, fn = _activation_of(act_name, **config)
    w64 = weight.astype(np.float64)
    all_z = w64 @ xs + (0.0 if bias_all is None else bias_all.astype(np.float64))
    weights, bias = w64[unit], (None if bias_all is None else float(bias_all[unit]))
    terms = [f"({_num(w)})({_num(v)})" for w, v in zip(weights, xs)]
    weighted = float(np.dot(weights, xs))
    z = float(all_z[unit])
    y = float(fn(z, [float(v) for v in all_z]))
    lines = [f"Neuron {unit} of {source}:  y = σ(Σ wᵢxᵢ + b)",
             f"  Σ wᵢxᵢ = {' + '.join(terms)}",
             f"         = {_num(weighted)}",
             f"  z = Σ wᵢxᵢ + b = {_num(weighted)} + ({_num(0 if bias is None else bias)}) = {_num(z)}",
             f"  σ = {label}: {formula}",
             f"  y = σ({_num(z)}) = {_exact(y)}"]
    if act_name == "relu" and z <= 0:
        lines.append("  (z <= 0, so this ReLU outputs 0 for this input and passes no gradient back through it)")
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

    Call it before ``loss.backward()`` (which frees the values it shows), or after
    ``loss.backward(retain_graph=True)``:

        loss = criterion(model(x), y)
        print(deepdive.viz.explain_backward(loss, params=model))
        loss.backward()

    ``params``: a Module (or {name: tensor}) to name the weights.
    """
    from .graph import _names, _op_label
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
    if loss.grad_fn._freed:                  # backward frees every node it runs through, the root included
        raise RuntimeError(
            "explain_backward: loss.backward() has already run on this graph and freed the intermediate values "
            "the explanation shows. Call explain_backward(loss) before loss.backward() (it leaves .grad "
            "untouched), call loss.backward(retain_graph=True), or recompute the loss: "
            "loss = criterion(model(x), y); print(viz.explain_backward(loss, params=model)); loss.backward()")
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
        out.append(f"  {step}. {_op_label(node)}: receives g = {_fmt(g_out[0])}")
        out.append(f"     local rule  {_local_rule(node)}")
        for i, (edge, g) in enumerate(zip(node.next_functions, g_in)):
            if edge is None or g is None:
                continue
            target = edge[0]
            where = names.get(id(target), "a leaf") if target.__class__ in _TENSOR_TYPES else _op_label(target)
            out.append(f"     sends dL/d(input {i}) = {_fmt(g)}  ->  {where}")
    out.append("")
    out.append("Accumulated gradients of the leaves (what backward() would add to .grad):")
    for leaf, g in zip(leaves, grads):
        out.append(f"  {names.get(id(leaf), 'leaf')} {list(leaf.shape)}: dL/dw = {_fmt(g)}")
    return _Text("\n".join(out))
