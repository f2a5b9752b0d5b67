"""Row gathers (the embedding lookup) and the scatter-add that is their gradient."""

from __future__ import annotations

import numpy as np

from graphengine.graph.tensor import Shape, format_shape
from graphengine.ops.base import Kernels, Op, RunContext, Spec


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
