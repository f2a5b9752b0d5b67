"""Pooling primitives, channels-last, rank 1 (NWC), 2 (NHWC) or 3 (NDHWC): max pooling (values and
the argmax its backward op routes through) and average pooling over the real cells of each window.

Every op runs the rank-3 kernels: rank-2 ops view (N, H, W, C) as (N, 1, H, W, C), rank-1 ops
(N, W, C) as (N, 1, 1, W, C). Global pooling layers are plain ge.ops reductions (max / mean over
the spatial axes) and need no op here.
"""

from __future__ import annotations

from graphengine.graph.tensor import Shape, format_shape
from graphengine.ops.base import Kernels, Op, RunContext, Spec, float_dtype
from graphengine.ops.conv import SPATIAL, as_3d, conv_axis, triple


class Pool(Op):
    """y = max or average of each pool_size window of x (N, *spatial, C), moved by `strides`,
    padding "valid" or "same" (never read: max ignores it, the average divides by the real cells).
    Max pooling has a second output, the int32 argmax (flat (d * H + h) * W + w of each maximum)."""

    def __init__(
        self, mode: str, rank: int, pool_size: tuple, strides: tuple, padding: str
    ) -> None:
        if mode not in ("max", "average"):
            raise ValueError(f"pooling mode must be 'max' or 'average', got {mode!r}")
        if padding not in ("valid", "same"):
            raise ValueError(f"pooling padding must be 'valid' or 'same', got {padding!r}")
        self.mode, self.rank = mode, rank
        self.pool_size, self.strides, self.padding = tuple(pool_size), tuple(strides), padding
        self.name = f"{'max' if mode == 'max' else 'avg'}_pool{rank}d"

    def out_spatial(self, x: Shape) -> tuple:
        if len(x) != self.rank + 2:
            raise ValueError(
                f"{self.name}: expected an input of rank {self.rank + 2} (batch, "
                f"{'steps' if self.rank == 1 else SPATIAL[self.rank]}, channels), got shape "
                f"{format_shape(x)}"
            )
        out = []
        for i, size in enumerate(x[1:-1]):
            if size is None:
                out.append(None)
                continue
            o, _ = conv_axis(size, self.pool_size[i], self.strides[i], 1, self.padding)
            if o <= 0:
                raise ValueError(
                    f"{self.name}: pool_size={self.pool_size} does not fit input shape "
                    f"{format_shape(x)} with padding={self.padding!r}: the output size would "
                    f"be {o} on spatial axis {i}"
                )
            out.append(o)
        return tuple(out)

    def geometry(self, x_shape: tuple) -> tuple[tuple, tuple, tuple]:
        """(pool_size, strides, pads) as (d, h, w) triples for concrete spatial sizes."""
        pads = tuple(
            conv_axis(size, k, s, 1, self.padding)[1]
            for size, k, s in zip(x_shape[1:-1], self.pool_size, self.strides)
        )
        return (
            triple(self.pool_size, self.rank, 1),
            triple(self.strides, self.rank, 1),
            triple(pads, self.rank, 0),
        )

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        x = shapes[0]
        y = (x[0], *self.out_spatial(x), x[-1])
        if self.mode == "max":
            return [(y, dtypes[0]), (y, "int32")]
        return [(y, float_dtype(dtypes[0]))]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x, y = ins[0], outs[0]
        pool, strides, pads = self.geometry(x.shape)
        x5, y5 = x.reshape(as_3d(x.shape, self.rank)), y.reshape(as_3d(y.shape, self.rank))
        if self.mode == "max":
            k.max_pool3d_forward(x5, pool, strides, pads, y5, outs[1].reshape(y5.shape))
        else:
            k.avg_pool3d_forward(x5, pool, strides, pads, y5)


class MaxPoolGrad(Op):
    """dx from inputs (dy, argmax, x), x read for its shape only: each dy goes to the input cell
    its window's maximum came from."""

    shape_only = (2,)

    def __init__(self, pool: Pool) -> None:
        self.rank = pool.rank
        self.name = f"{pool.name}_grad"

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[2], dtypes[0])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        dy, argmax, dx = ins[0], ins[1], outs[0]
        shape = as_3d(dy.shape, self.rank)
        k.max_pool3d_backward(
            dy.reshape(shape), argmax.reshape(shape), dx.reshape(as_3d(dx.shape, self.rank))
        )


class AvgPoolGrad(Op):
    """dx from inputs (dy, x), x read for its shape only: each window's dy shared equally by the
    window's real cells."""

    shape_only = (1,)

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.name = f"{pool.name}_grad"

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[1], dtypes[0])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        dy, dx, rank = ins[0], outs[0], self.pool.rank
        pool, strides, pads = self.pool.geometry(dx.shape)
        k.avg_pool3d_backward(
            dy.reshape(as_3d(dy.shape, rank)),
            pool,
            strides,
            pads,
            dx.reshape(as_3d(dx.shape, rank)),
        )
