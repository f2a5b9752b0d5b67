"""A model's forward graph as a TensorBoard GraphDef (tensorboardX's protos): one node per layer
call or bare op, nested models opened into name scopes ("inner/dense"), which TensorBoard's
graph view shows as groups."""

from __future__ import annotations

from typing import Any

from graphengine.graph.graph import site_inputs
from graphengine.graph.node import LayerCall
from graphengine.graph.tensor import SymbolicTensor, format_shape
from graphengine.viz.summary import count_weights, layer_kind, op_kind
from graphengine.viz.view import is_model


def model_graph_def(model: Any) -> Any:
    """The GraphDef of `model`'s forward graph. Each NodeDef has the layer's class (or the op's
    kind) as `op`, its producers as `input` ("name:k" for output k > 0), and as attributes
    `_output_shapes` (what TensorBoard labels edges with; -1 for the batch), `output_shape`,
    `dtype` and, for layers, `params`."""
    from tensorboardX.proto.graph_pb2 import GraphDef
    from tensorboardX.proto.versions_pb2 import VersionDef

    model._require_graph()
    nodes: list[Any] = []
    _add_model(model, "", {}, nodes)
    return GraphDef(node=nodes, versions=VersionDef(producer=22))


def _add_model(
    model: Any, prefix: str, fed: dict[SymbolicTensor, str], nodes: list[Any]
) -> dict[SymbolicTensor, str]:
    """Adds the nodes of `model`'s call sites under `prefix`; `fed` names what feeds each of the
    model's inputs (none at the top). Returns the node output feeding each tensor made."""
    refs = dict(fed)
    for site in model._sites:
        ins = site_inputs(site)
        if isinstance(site, LayerCall) and is_model(site.layer):
            inner = site.layer
            inner_fed = {t: refs[u] for t, u in zip(inner.inputs, ins) if u in refs}
            inner_refs = _add_model(inner, f"{prefix}{site.name}/", inner_fed, nodes)
            for t, out in zip(site.outputs, inner.outputs):
                if out in inner_refs:
                    refs[t] = inner_refs[out]
            continue
        name = prefix + site.name
        # an input layer of a nested model is fed by the outer tensor given to the model
        inputs = [refs[t] for t in ins if t in refs] or [fed[t] for t in site.outputs if t in fed]
        nodes.append(_node(site, name, inputs))
        for k, t in enumerate(site.outputs):
            refs[t] = name if k == 0 else f"{name}:{k}"
    return refs


def _node(site: Any, name: str, inputs: list[str]) -> Any:
    from tensorboardX.proto.attr_value_pb2 import AttrValue
    from tensorboardX.proto.node_def_pb2 import NodeDef
    from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto

    shapes = [
        TensorShapeProto(dim=[TensorShapeProto.Dim(size=-1 if d is None else d) for d in t.shape])
        for t in site.outputs
    ]
    text = [format_shape(t.shape) for t in site.outputs]
    attr = {
        "_output_shapes": AttrValue(list=AttrValue.ListValue(shape=shapes)),
        "output_shape": AttrValue(s=", ".join(text).encode()),
        "dtype": AttrValue(s=", ".join(t.dtype for t in site.outputs).encode()),
    }
    if isinstance(site, LayerCall):
        attr["params"] = AttrValue(i=count_weights(site.layer.weights)[0])
        op = layer_kind(site.layer)
    else:
        op = op_kind(site)
    return NodeDef(name=name, op=op, input=inputs, attr=attr)
