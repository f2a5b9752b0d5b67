"""The gradients of the graph layers' own primitives (ops/graph_conv.py): graph_edges has integer
outputs, ids only, and no gradient; propagate's goes back along the reversed edges to x and, one
dot product per edge and head, to its weights. The layers' other gradients come from the ops
they compose."""

from __future__ import annotations

from graphengine.autodiff.rules import no_gradient, rule
from graphengine.graph.node import Node
from graphengine.ops.base import apply
from graphengine.ops.graph_conv import GraphEdges, Propagate, PropagateWeightGrad

no_gradient(GraphEdges, PropagateWeightGrad)


@rule(Propagate)
def _propagate(node: Node, g: list) -> list:
    """dx = propagate(dy) along the reversed edges with the same weights; d weight[e, h] =
    dy[target, h] . x[source, h]; none for the ids and `like`."""
    x, src, tgt = node.inputs[:3]
    weight = node.inputs[4:]
    dx = apply(Propagate(), g[0], tgt, src, x, *weight)
    dw = [apply(PropagateWeightGrad(), x, g[0], src, tgt, weight[0])] if weight else []
    return [dx, None, None, None] + dw
