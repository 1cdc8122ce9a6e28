"""``add_graph``: deepdive's own graph of a forward pass, as a TensorBoard ``GraphDef``.

The forward pass is run once; ``deepdive.viz.graph`` walks the autograd graph
it recorded (the same graph backward uses and ``viz`` draws), and each of its
nodes becomes a ``NodeDef``: the model's inputs (op "IO Node"), its parameters
(op "Parameter", named by their state-dict names so TensorBoard groups them by
module: ``fc1/weight``), each op (its autograd node's name) and the output.
Every node carries its output shape as ``_output_shapes``, which TensorBoard
shows on the edges. Inputs that are not floating point (token ids) take no
part in the autograd graph and so do not appear.
"""
from tensorboard.compat.proto.attr_value_pb2 import AttrValue
from tensorboard.compat.proto.graph_pb2 import GraphDef
from tensorboard.compat.proto.node_def_pb2 import NodeDef
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.compat.proto.versions_pb2 import VersionDef


def _shape_attr(shape):
    dims = [TensorShapeProto.Dim(size=int(s)) for s in (shape or ())]
    return {"_output_shapes": AttrValue(list=AttrValue.ListValue(shape=[TensorShapeProto(dim=dims)]))}


def graph_def(model, inputs):
    """Run ``model(*inputs)`` and return the ``GraphDef`` of what it computed."""
    from ...tensor import Tensor
    from ...viz.graph import graph
    inputs = inputs if isinstance(inputs, (tuple, list)) else (inputs,)
    # floating inputs are made leaves that require grad, so the graph reaches back to them
    fed = [x.detach().requires_grad_(True) if isinstance(x, Tensor) and x.is_floating_point() else x
           for x in inputs]
    output = model(*fed)
    if isinstance(output, (tuple, list)):
        output = output[0]
    names = {id(p): name for name, p in model.named_parameters()} if hasattr(model, "named_parameters") else {}
    input_names = {id(x): f"input/input.{i}" for i, x in enumerate(fed) if isinstance(x, Tensor)}
    g = graph(output, params=model if names else None, output_name="output")
    node_names, used = {}, {}
    for n in g.nodes:
        if n.kind in ("param", "input"):          # viz draws a leaf that is no Parameter as an input
            name = input_names.get(id(n.ref)) or names.get(id(n.ref), "leaf").replace(".", "/")
        elif n.kind == "output":
            name = "output/output.1"
        else:
            name = n.label
        used[name] = used.get(name, 0) + 1
        node_names[n.id] = name if used[name] == 1 else f"{name}_{used[name] - 1}"
    sources = {}
    for src, dst in g.edges:
        sources.setdefault(dst, []).append(node_names[src])
    nodes = []
    for n in reversed(g.nodes):          # leaves first, output last: the order data flows
        is_input = n.kind == "input" or (n.kind == "param" and id(n.ref) in input_names)
        op = "IO Node" if is_input or n.kind == "output" else "Parameter" if n.kind == "param" else n.label
        nodes.append(NodeDef(name=node_names[n.id], op=op, input=sources.get(n.id, []),
                             attr=_shape_attr(n.shape)))
    return GraphDef(node=nodes, versions=VersionDef(producer=22))


__all__ = ["graph_def"]
