"""The graph layers' primitives of their own:
- `graph_edges`: an edge list (E, 2) of (source, target) rows split into source and target ids,
  each checked against the node count when it runs, plus the ids 0..N-1 of the self loops a
  layer adds. Its shape inference is where an edge list or an edge-weight vector that does not
  fit is caught, at the layer call and again for each concrete batch.
- `propagate`: message passing in one op, out[t] = sum over edges s -> t of weight * x[s] (a
  weight per edge, or per edge and head), instead of take, multiply and segment_sum with two
  (E, F) arrays between them; its gradient is propagate along the reversed edges and, for the
  weights, one dot product per edge and head.
The layers (layers/graph_conv.py) compose everything else from ge.ops and the segment ops.
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


class Propagate(Op):
    """Inputs (x (S, ...), sources (E,), targets (E,), like (T, ...; read for its shape only)
    [, weight (E,) or (E, H)]): out (T, ...) with out[t] = the sum over edges e with targets[e]
    == t of weight[e] * x[sources[e]] (weight 1 without one; with (E, H) weights x is (S, H, C)
    and head h of each row is scaled by weight[e, h]). Edges are added in their order on the CPU
    (the same bits every run)."""

    name = "propagate"
    shape_only = (3,)
    mixes_rows = True

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        x, src, tgt, like = shapes[:4]
        for what, ids, dtype in (("sources", src, dtypes[1]), ("targets", tgt, dtypes[2])):
            if np.dtype(dtype).kind not in "iu" or len(ids) != 1:
                raise TypeError(f"{self.name}: {what} must be 1-D integer ids, got {ids} {dtype}")
        if None not in (src[0], tgt[0]) and src[0] != tgt[0]:
            raise ValueError(f"{self.name}: {src[0]} sources but {tgt[0]} targets")
        if not x or not like:
            raise ValueError(f"{self.name}: x and like need a row axis, got {x} and {like}")
        if len(shapes) > 4:
            w = shapes[4]
            heads_ok = len(w) == 1 or (len(w) == 2 and len(x) == 3 and w[1] == x[1])
            if not heads_ok or None not in (w[0], src[0]) and w[0] != src[0]:
                raise ValueError(
                    f"{self.name}: weight must be (E,) or (E, H) for x (S, H, C); got weight "
                    f"{format_shape(w)}, x {format_shape(x)}, {src[0]} edges"
                )
        return [((like[0],) + tuple(x[1:]), dtypes[0])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x, src, tgt = ins[:3]
        weight = ins[4] if len(ins) > 4 else None
        x3, w2 = _heads(x, weight, src.shape[0])
        out = outs[0]
        k.propagate(x3, src, tgt, w2, out.reshape((out.shape[0],) + x3.shape[1:]))


class PropagateWeightGrad(Op):
    """Inputs (x, dy, sources, targets, weight (shape only)): d weight[e, h] = dy[targets[e], h]
    . x[sources[e], h], shaped like the weight."""

    name = "propagate_weight_grad"
    shape_only = (4,)
    mixes_rows = True

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[4], dtypes[1])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x, dy, src, tgt = ins[:4]
        dw = outs[0]
        heads = 1 if dw.ndim == 1 else dw.shape[1]
        x3, _ = _heads(x, None, src.shape[0], heads)
        dy3 = dy.reshape((dy.shape[0],) + x3.shape[1:])
        k.propagate_weight_grad(x3, dy3, src, tgt, dw.reshape(dw.shape[0], heads))


_NO_WEIGHT: dict[np.dtype, np.ndarray] = {}  # dtype -> (1, 0): weight 1, made once


def _heads(x: Any, weight: Any, edges: int, heads: int | None = None) -> tuple:
    """x as (S, H, C) and the weight as (E, H) (an empty (1, 0) without one: weight 1), H the
    weight's heads (1 for (E,) weights)."""
    if heads is None:
        heads = 1 if weight is None or weight.ndim == 1 else weight.shape[1]
    cols = int(np.prod(x.shape[1:], dtype=np.int64)) // heads
    x3 = x.reshape(x.shape[0], heads, cols)
    if weight is None:
        dtype = np.dtype(x.dtype)
        if dtype not in _NO_WEIGHT:
            _NO_WEIGHT[dtype] = np.empty((1, 0), dtype)
        return x3, _NO_WEIGHT[dtype]
    return x3, weight.reshape(edges, heads)


def propagate(x: Any, sources: Any, targets: Any, like: Any, weight: Any = None) -> Any:
    """out[t] = the sum over edges e with targets[e] == t of weight[e] * x[sources[e]], one row
    per row of `like` (read for its shape only); see Propagate."""
    args = (x, sources, targets, like) + (() if weight is None else (weight,))
    return apply(Propagate(), *args)
