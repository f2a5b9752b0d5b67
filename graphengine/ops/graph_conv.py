"""The graph layers' one primitive of their own, `graph_edges`: an edge list (E, 2) of (source,
target) rows split into source and target ids, each checked against the node count when it runs,
plus the ids 0..N-1 of the self loops a layer adds. Its shape inference is where an edge list or
an edge-weight vector that does not fit is caught, at the layer call and again for each concrete
batch. The layers (layers/graph_conv.py) compose everything else from ge.ops and the segment ops.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphengine.graph.tensor import Shape, format_shape
from graphengine.ops.base import Kernels, Op, RunContext, Spec, apply


class GraphEdges(Op):
    """Inputs (edges int (E, 2), nodes (N, ...)[, edge_weight (E,)]): outputs source ids (E,),
    target ids (E,) of edges' dtype and, with `self_loops`, the loop ids 0..N-1 (N,). Nodes are
    read for their row count; edge_weight for its shape only (checked against E)."""

    name = "graph_edges"
    shape_only = (2,)
    mixes_rows = True  # relates edge rows to node rows: the data cannot be cut into batches

    def __init__(self, self_loops: bool = False) -> None:
        self.self_loops = bool(self_loops)

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        edges, nodes = shapes[0], shapes[1]
        if np.dtype(dtypes[0]).kind not in "iu":
            raise TypeError(f"edges must hold integer node ids, received dtype {dtypes[0]}")
        if len(edges) != 2 or edges[1] not in (None, 2):
            raise ValueError(
                "edges must have shape (E, 2), one (source, target) row per edge; received "
                f"shape {format_shape(edges)}"
            )
        if len(nodes) < 1:
            raise ValueError(f"nodes must have one row per node; received a scalar {nodes}")
        if len(shapes) > 2:
            _check_weight(shapes[2], dtypes[2], edges)
        ids = ((edges[0],), dtypes[0])
        return [ids, ids, ((nodes[0],), dtypes[0])] if self.self_loops else [ids, ids]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        loops = outs[2] if self.self_loops else None
        k.graph_edges(ins[0], ins[1].shape[0], outs[0], outs[1], loops)


def _check_weight(weight: Shape, dtype: str, edges: Shape) -> None:
    if np.dtype(dtype).kind != "f":
        raise TypeError(f"edge_weight must be floating point, received dtype {dtype}")
    if len(weight) != 1 or None not in (weight[0], edges[0]) and weight[0] != edges[0]:
        raise ValueError(
            f"edge_weight must have shape (E,), one weight per edge; received shape "
            f"{format_shape(weight)} for edges of shape {format_shape(edges)}"
        )


def graph_edges(edges: Any, nodes: Any, edge_weight: Any = None, self_loops: bool = False) -> list:
    """[sources, targets] (or [sources, targets, loops] with `self_loops`) of an edge list, its
    node ids checked against the rows of `nodes` (and edge_weight's shape against the edges)."""
    args = (edges, nodes) + (() if edge_weight is None else (edge_weight,))
    return apply(GraphEdges(self_loops), *args)
