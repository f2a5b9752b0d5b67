"""Gathers (the embedding lookup; `take` along any axis) and the scatter-adds that are their
gradients; one-hot encoding."""

from __future__ import annotations

import numpy as np

from graphengine.graph.tensor import Shape, format_shape
from graphengine.ops.base import Kernels, Op, RunContext, Spec, normalize_axis


class Gather(Op, serializable=True):
    """out = table[ids] with table (V, D) and integer ids of any shape; out ids.shape + (D,)."""

    name = "gather"

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        table, ids = shapes
        if np.dtype(dtypes[1]).kind not in "iu":
            raise TypeError(f"gather: indices must be integers, got dtype {dtypes[1]}")
        if len(table) != 2:
            raise ValueError(f"gather: table must be 2-D, got shape {format_shape(table)}")
        return [(tuple(ids) + (table[1],), dtypes[0])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        k.gather_forward(ins[0], ins[1], outs[0])


class GatherGrad(Op):
    """dtable from inputs (ids, dy, table; table shape only): zeros plus dy rows added at ids."""

    name = "gather_grad"
    shape_only = (2,)

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[2], dtypes[1])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        k.gather_backward(ins[0], ins[1], outs[0])


class OneHot(Op, serializable=True):
    """out = one-hot encoding of integer ids over `depth` classes (no gradient)."""

    name = "one_hot"

    def __init__(self, depth: int, dtype: str = "float32") -> None:
        self.depth = depth
        self.dtype = dtype

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        if np.dtype(dtypes[0]).kind not in "iu":
            raise TypeError(f"one_hot: ids must be integers, got dtype {dtypes[0]}")
        return [(tuple(shapes[0]) + (self.depth,), self.dtype)]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        k.one_hot(ins[0], outs[0])


def _take_view(shape: tuple[int, ...], axis: int | None) -> tuple[int, int, int]:
    """x as (A, V, B) around the taken axis (the flattened x for None)."""
    if axis is None:
        return (1, int(np.prod(shape, dtype=np.int64)), 1)
    a = int(np.prod(shape[:axis], dtype=np.int64))
    return (a, shape[axis], int(np.prod(shape[axis + 1 :], dtype=np.int64)))


class Take(Op, serializable=True):
    """out = np.take(x, indices, axis): x.shape[:axis] + indices.shape + x.shape[axis + 1:]
    (indices.shape for axis None, which takes from the flattened x); negative indices count
    from the end. The CPU kernel raises on an index outside [-n, n)."""

    name = "take"

    def __init__(self, axis: int | None = None) -> None:
        self.axis = axis

    @property
    def mixes_rows(self) -> bool:  # type: ignore[override]
        """Rows gathered by index (a graph network's nodes by edge) relate rows of x."""
        return self.axis == 0

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        x, ids = shapes
        if np.dtype(dtypes[1]).kind not in "iu":
            raise TypeError(f"take: indices must be integers, got dtype {dtypes[1]}")
        if self.axis is None:
            return [(tuple(ids), dtypes[0])]
        axis = normalize_axis(self.axis, len(x), "take: axis")
        return [(tuple(x[:axis]) + tuple(ids) + tuple(x[axis + 1 :]), dtypes[0])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x, ids = ins
        axis = None if self.axis is None else self.axis % x.ndim
        A, V, B = _take_view(x.shape, axis)
        k.take_forward(x.reshape(A, V, B), ids.reshape(-1), outs[0].reshape(A, ids.size, B))


class TakeGrad(Op):
    """dx from inputs (indices, dy, x; x shape only): zeros plus dy added at the indices."""

    name = "take_grad"
    shape_only = (2,)

    def __init__(self, forward_op: Take) -> None:
        self.axis = forward_op.axis

    @property
    def mixes_rows(self) -> bool:  # type: ignore[override]
        return self.axis == 0

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[2], dtypes[1])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        ids, dy, dx = ins[0], ins[1], outs[0]
        axis = None if self.axis is None else self.axis % dx.ndim
        A, V, B = _take_view(dx.shape, axis)
        k.take_backward(ids.reshape(-1), dy.reshape(A, ids.size, B), dx.reshape(A, V, B))
