"""The computation graph of a tensor, as data, Mermaid, Graphviz DOT or a self-contained SVG.

    loss = criterion(model(x), y)
    g = deepdive.viz.graph(loss, params=model)
    print(g.to_mermaid())         # paste into any Markdown that renders Mermaid (the post uses it)
    g.to_svg("graph.svg")         # no Graphviz binary needed

Data flows from leaves (parameters, named from ``params``) through op nodes
(the ``grad_fn`` of each intermediate result) to the output. Ops are named as
users know them (ReLU, Linear, Conv2d, Flatten, LSTM), not by their internal
``Function`` class. Run the forward (and backward) inside ``deepdive.viz.trace()``
to also see each node's value and gradient, and the data: tensors that do not
require grad (the input batch, the target) are not part of the autograd graph,
so only a trace remembers where they entered; name them with ``inputs=``:

    with deepdive.viz.trace() as t:
        loss = criterion(model(x), y)
    deepdive.viz.graph(loss, params=model, trace=t, inputs={"x": x, "target": y})
"""
import html

import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor, _TENSOR_TYPES

__all__ = ["graph", "Graph", "GraphNode"]


class GraphNode:
    __slots__ = ("id", "kind", "label", "shape", "value", "grad", "ref")

    def __init__(self, id, kind, label, shape, value=None, grad=None, ref=None):
        self.id, self.kind, self.label, self.shape, self.value, self.grad, self.ref = \
            id, kind, label, shape, value, grad, ref

    def __repr__(self):
        return f"GraphNode({self.id}, {self.kind}, {self.label!r}, shape={self.shape})"


def _names(params):
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        return {id(p): name for name, p in params.named_parameters()}
    if isinstance(params, dict):
        return {id(p): name for name, p in params.items()}
    return {id(p): f"param{i}" for i, p in enumerate(params)}


# Internal Function classes -> the names users know from torch.nn (None: computed from the node's shapes).
_OP_NAMES = {"Relu": "ReLU", "LeakyRelu": "LeakyReLU", "Prelu": "PReLU", "Elu": "ELU", "Gelu": "GELU",
             "Silu": "SiLU", "Logsigmoid": "LogSigmoid", "Hardsigmoid": "Hardsigmoid", "Hardswish": "Hardswish",
             "Convolution": None, "ConvolutionTranspose": None, "MaxPool": None, "AvgPool": None, "View": None,
             "AdaptiveMaxPool": "AdaptiveMaxPool", "LSTMSequence": "LSTM", "GRUSequence": "GRU",
             "RNNSequence": "RNN", "CrossEntropy": "CrossEntropyLoss", "NLLLoss": "NLLLoss",
             "BinaryCrossEntropy": "BCELoss", "BinaryCrossEntropyWithLogits": "BCEWithLogitsLoss",
             "KLDiv": "KLDivLoss", "_DifferenceLoss": "Loss", "GetItem": "Index", "PowScalar": "Pow",
             "MatMul": "MatMul", "AddMatMul": "Addmm", "ScaledDotProductAttention": "ScaledDotProductAttention",
             "DropoutMask": "Dropout", "Embedding": "Embedding"}


def _op_label(node):
    cls = type(node).__name__
    name = _OP_NAMES.get(cls, cls)
    if name is not None:
        return name
    out = node._out_shape if node._out_meta is None else node._out_meta[0][0]
    dims = f"{len(out) - 2}d" if out is not None and len(out) >= 3 else ""
    if cls == "View":            # reshape/view/flatten: Flatten when it keeps the batch and merges the rest
        before = getattr(node, "in_shape", None)
        flat = before is not None and out is not None and len(out) == 2 and len(before) > 2 and before[0] == out[0]
        return "Flatten" if flat else "Reshape"
    return {"Convolution": "Conv", "ConvolutionTranspose": "ConvTranspose", "MaxPool": "MaxPool",
            "AvgPool": "AvgPool"}[cls] + dims


def _is_parameter(tensor, names):
    from ..nn.parameter import Parameter
    return id(tensor) in names or isinstance(tensor, Parameter)


def graph(tensor, params=None, trace=None, output_name=None, inputs=None):
    """Build the ``Graph`` that produced ``tensor``.

    Args:
        tensor: the result to trace back from (e.g. the loss)
        params: a Module or {name: tensor} used to name leaf tensors (kind 'param')
        trace: a ``deepdive.viz.trace()`` record to show values and gradients of op nodes
        output_name: label of the output node (default 'output', or 'loss' for a scalar)
        inputs: {name: tensor} naming the data (e.g. ``{"x": x, "target": y}``); they are drawn as their own
            nodes (kind 'input'). Tensors that do not require grad are only known to a forward run inside
            ``viz.trace()``; an input with requires_grad=True is drawn as an input, not as a parameter.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"viz.graph expects a Tensor, got {type(tensor).__name__}")
    names = _names(params)
    input_names = {id(t): name for name, t in (inputs or {}).items()}
    input_tensors = {id(t): t for t in (inputs or {}).values()}
    nodes, edges, index = [], [], {}

    def add(obj, kind, label, shape, value=None, grad=None):
        node = GraphNode(f"n{len(nodes)}", kind, label, tuple(shape) if shape is not None else None, value, grad, obj)
        nodes.append(node)
        index[id(obj)] = node
        return node

    label = output_name or ("loss" if tensor.ndim == 0 else "output")
    out = add(tensor, "output", label, tensor.shape, tensor._data, None if tensor._grad is None else tensor._grad._data)
    root = tensor.grad_fn
    if root is None:
        if tensor.requires_grad:
            out.kind, out.label = "param", names.get(id(tensor), label)
        return Graph(nodes, edges)
    stack = [root]
    op = _add_op(root, add, trace)
    edges.append((op.id, out.id))
    while stack:
        fn = stack.pop()
        for edge in fn.next_functions:
            if edge is None:
                continue
            child = edge[0]
            if id(child) not in index:
                if child.__class__ in _TENSOR_TYPES:
                    kind = "input" if id(child) in input_names or not _is_parameter(child, names) else "param"
                    add(child, kind, input_names.get(id(child)) or names.get(id(child), "leaf"), child.shape,
                        child._data, None if child._grad is None else child._grad._data)
                else:
                    _add_op(child, add, trace)
                    stack.append(child)
            edges.append((index[id(child)].id, index[id(fn)].id))
    _add_data_inputs(nodes, edges, index, add, input_names, input_tensors)
    return Graph(nodes, edges)


def _add_data_inputs(nodes, edges, index, add, input_names, tensors):
    """Draw the named tensors that entered an op without requiring grad (known from a trace's record).

    A view of a named tensor (``target.reshape(-1)``, the transpose an LSTM makes of a batch-first input, the
    index array an embedding receives) is not recorded as an op, so an op argument that shares memory with a
    named tensor counts as that tensor.
    """
    if not input_names:
        return
    named = list(tensors.items())
    found = set()
    for node in [n for n in nodes if n.kind == "op"]:
        for arg in getattr(node.ref, "_trace_inputs", None) or ():
            if arg.__class__ in _TENSOR_TYPES:
                if arg.requires_grad:
                    continue
                data = arg._data
            elif isinstance(arg, np.ndarray):          # ops such as Embedding take their indices as an array
                data = arg
            else:
                continue
            key = id(arg) if id(arg) in input_names else next(
                (k for k, t in named if isinstance(t, Tensor) and np.may_share_memory(data, t._data)), None)
            if key is None:
                continue
            if key not in index:
                t = tensors[key]
                add(t, "input", input_names[key], t.shape, t._data)
            edges.append((index[key].id, node.id))
            found.add(key)
    leaves = {id(n.ref) for n in nodes if n.kind == "input"}
    missing = [name for key, name in input_names.items() if key not in found and key not in leaves]
    if missing:
        raise ValueError(f"viz.graph: the inputs {missing} were not found in the graph. Tensors that do not require "
                         "grad are remembered only when the forward ran inside `with deepdive.viz.trace() as t:` "
                         "(then pass trace=t); check also that they were used to compute this result.")


def _add_op(fn, add, trace):
    shape = fn._out_shape if fn._out_meta is None else fn._out_meta[0][0]
    value = fn._trace_output if not isinstance(fn._trace_output, tuple) else fn._trace_output[0]
    grad = None
    if trace is not None and id(fn) in trace.grads:
        grad = trace.grads[id(fn)][0]
    return add(fn, "op", _op_label(fn), shape, value, grad)


def _fmt_shape(shape):
    if shape is None:
        return "?"
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _fmt_values(array, max_elements=4, digits=3):
    """A short text of an array's first values: '[0.12, -0.4, …]' (a number for 0-d)."""
    if array is None:
        return None
    a = np.asarray(array)
    if a.ndim == 0:
        return f"{float(a) + 0.0:.4g}"
    flat = a.reshape(-1)
    items = ", ".join(f"{float(v) + 0.0:.{digits}g}" for v in flat[:max_elements])     # + 0.0: no '-0'.
    return "[" + items + (", …" if flat.size > max_elements else "") + "]"


class Graph:
    """Nodes (``GraphNode``: kind 'param' | 'input' | 'op' | 'output', label, shape, value, grad) and edges
    (src, dst). Parameters are learnable leaves; inputs are the data (the batch, the target)."""

    def __init__(self, nodes, edges):
        self.nodes, self.edges = nodes, edges

    def __repr__(self):
        ops = sum(n.kind == "op" for n in self.nodes)
        params = sum(n.kind == "param" for n in self.nodes)
        inputs = sum(n.kind == "input" for n in self.nodes)
        return f"Graph({ops} ops, {params} parameters, {inputs} inputs, {len(self.edges)} edges)"

    def lines(self, node, values=True):
        """The text lines drawn in a node's box."""
        out = [node.label, _fmt_shape(node.shape)]
        if values and node.value is not None:
            out.append("value " + _fmt_values(node.value))
        if values and node.grad is not None:
            out.append("grad " + _fmt_values(node.grad))
        return out

    # ---------------------------------------------------------------- Mermaid
    def to_mermaid(self, direction="TD", values=False):
        """Mermaid flowchart text (``graph TD``), the diagram language the post itself uses."""
        shapes = {"param": ('(["', '"])'), "input": ('[/"', '"/]'), "op": ('["', '"]'), "output": ('[["', '"]]')}
        lines = [f"graph {direction}"]
        for n in self.nodes:
            text = "<br/>".join(self.lines(n, values)).replace('"', "#quot;")
            left, right = shapes[n.kind]
            lines.append(f"    {n.id}{left}{text}{right}")
        for src, dst in self.edges:
            lines.append(f"    {src} --> {dst}")
        lines.append("    classDef param fill:#dbeafe,stroke:#2563eb")
        lines.append("    classDef input fill:#dcfce7,stroke:#16a34a")
        lines.append("    classDef output fill:#fde68a,stroke:#b45309")
        for kind in ("param", "input", "output"):
            ids = [n.id for n in self.nodes if n.kind == kind]
            if ids:
                lines.append(f"    class {','.join(ids)} {kind}")
        return "\n".join(lines) + "\n"

    # -------------------------------------------------------------------- DOT
    def to_dot(self, values=False):
        """Graphviz DOT text (render with ``dot -Tsvg`` if you have Graphviz; ``to_svg`` needs nothing)."""
        style = {"param": 'shape=box, style="rounded,filled", fillcolor="#dbeafe"',
                 "input": 'shape=parallelogram, style=filled, fillcolor="#dcfce7"',
                 "op": 'shape=box, style=filled, fillcolor="#f3f4f6"',
                 "output": 'shape=box, style=filled, fillcolor="#fde68a"'}
        out = ["digraph deepdive {", "    rankdir=TB;", '    node [fontname="Helvetica", fontsize=10];']
        for n in self.nodes:
            text = "\\n".join(self.lines(n, values)).replace('"', '\\"')
            out.append(f'    {n.id} [label="{text}", {style[n.kind]}];')
        out += [f"    {src} -> {dst};" for src, dst in self.edges]
        out.append("}")
        return "\n".join(out) + "\n"

    # -------------------------------------------------------------------- SVG
    def layout(self):
        """Layered layout: rank = longest path from a leaf; order within a rank by the mean x of inputs."""
        preds = {n.id: [] for n in self.nodes}
        for src, dst in self.edges:
            preds[dst].append(src)
        rank = {}

        def rank_of(nid):
            # iterative longest-path (graphs can be deep)
            stack = [nid]
            while stack:
                cur = stack[-1]
                pending = [p for p in preds[cur] if p not in rank]
                if pending:
                    stack.extend(pending)
                    continue
                stack.pop()
                rank[cur] = 1 + max((rank[p] for p in preds[cur]), default=-1)
            return rank[nid]
        for n in self.nodes:
            rank_of(n.id)
        succs = {n.id: [] for n in self.nodes}
        for src, dst in self.edges:
            succs[src].append(dst)
        for n in self.nodes:              # draw each leaf just above the op that uses it
            if not preds[n.id] and succs[n.id]:
                rank[n.id] = min(rank[s] for s in succs[n.id]) - 1
        layers = {}
        for n in self.nodes:
            layers.setdefault(rank[n.id], []).append(n)
        positions = {}
        for r in sorted(layers):
            row = layers[r]
            row.sort(key=lambda n: np.mean([positions[p][0] for p in preds[n.id]]) if preds[n.id] else 0)
            for i, n in enumerate(row):
                positions[n.id] = (i - (len(row) - 1) / 2, r)
        return positions

    def to_svg(self, path=None, values=True):
        """A standalone SVG drawing (no Graphviz needed). Returns the SVG text, or writes it to ``path``."""
        positions = self.layout()
        box_lines = {n.id: self.lines(n, values) for n in self.nodes}
        widths = {nid: max(60, 7 * max(len(s) for s in lines) + 16) for nid, lines in box_lines.items()}
        heights = {nid: 16 * len(lines) + 10 for nid, lines in box_lines.items()}
        col = max(widths.values()) + 24
        row = max(heights.values()) + 40
        xs = [p[0] for p in positions.values()]
        min_x = min(xs)
        coords = {nid: (20 + (x - min_x) * col + col / 2, 20 + r * row) for nid, (x, r) in positions.items()}
        width = int(20 + (max(xs) - min_x + 1) * col + 20)
        height = int(20 + (max(p[1] for p in positions.values()) + 1) * row)
        fill = {"param": "#dbeafe", "input": "#dcfce7", "op": "#f3f4f6", "output": "#fde68a"}
        stroke = {"param": "#2563eb", "input": "#16a34a", "op": "#6b7280", "output": "#b45309"}
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
                 f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="11">',
                 '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
                 'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#6b7280"/></marker></defs>']
        for src, dst in self.edges:
            (x1, y1), (x2, y2) = coords[src], coords[dst]
            parts.append(f'<line x1="{x1:.1f}" y1="{y1 + heights[src]:.1f}" x2="{x2:.1f}" y2="{y2 - 2:.1f}" '
                         'stroke="#6b7280" stroke-width="1.2" marker-end="url(#arrow)"/>')
        for n in self.nodes:
            x, y = coords[n.id]
            w, h = widths[n.id], heights[n.id]
            rx = 10 if n.kind == "param" else 3
            parts.append(f'<g class="node {n.kind}" data-label="{html.escape(n.label)}"><title>{html.escape(" | ".join(box_lines[n.id]))}</title>'
                         f'<rect x="{x - w / 2:.1f}" y="{y:.1f}" width="{w}" height="{h}" rx="{rx}" '
                         f'fill="{fill[n.kind]}" stroke="{stroke[n.kind]}"/>')
            for i, text in enumerate(box_lines[n.id]):
                weight = ' font-weight="bold"' if i == 0 else ""
                parts.append(f'<text x="{x:.1f}" y="{y + 17 + 16 * i:.1f}" text-anchor="middle"{weight}>'
                             f'{html.escape(text)}</text>')
            parts.append("</g>")
        parts.append("</svg>")
        svg = "\n".join(parts) + "\n"
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(svg)
        return svg

    # NOTE: SVG only. Offering Mermaid markdown too made nbconvert/JupyterLab pick the markdown, which needs
    # mermaid.js from the network, so the cell was blank offline. ``to_mermaid()`` is there for documents.
    def _repr_svg_(self):          # Jupyter shows the drawing
        return self.to_svg()
