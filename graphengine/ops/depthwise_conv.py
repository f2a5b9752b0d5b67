"""The depthwise convolution primitive, channels-last, rank 1 (NWC) or 2 (NHWC): `DepthwiseConv`
(each input channel convolved with its own depth_multiplier kernels, bias and activation fused
in as ops/bias.py's family) and the backward ops its gradient rule builds. The geometry is
ops/conv.py's (conv_axis); a rank-1 op views (N, W, C) as (N, 1, W, C) for the rank-2 kernels.
"""

from __future__ import annotations

from typing import Any

from graphengine.graph.tensor import Shape, format_shape
from graphengine.ops import bias
from graphengine.ops.base import Kernels, Op, RunContext, Spec, result_dtype
from graphengine.ops.conv import as_2d, conv_axis, conv_output_spatial, pair

PADDINGS = ("valid", "same")


class DepthwiseConv(Op):
    """y = act(depthwise_conv(x, w) + b): x (N, *spatial, C), w (*kernel, C, M), b (C*M,) when
    use_bias; y (N, *out_spatial, C*M), output channel c*M + m from input channel c (Keras)."""

    def __init__(
        self,
        rank: int,
        strides: tuple[int, ...],
        padding: str,
        dilation_rate: tuple[int, ...],
        activation: str = "linear",
        use_bias: bool = False,
    ) -> None:
        if padding not in PADDINGS:
            raise ValueError(
                f"{type(self).__name__}: padding must be one of {PADDINGS}, got {padding!r}"
            )
        bias.check_fused(type(self).__name__, activation)
        self.rank, self.strides, self.padding = rank, tuple(strides), padding
        self.dilation_rate = tuple(dilation_rate)
        self.activation, self.use_bias = activation, use_bias
        self.name = f"depthwise_conv{rank}d"

    def check_operands(self, shapes: list[Shape]) -> tuple[Shape, Shape]:
        x, w = shapes[0], shapes[1]
        n = self.rank + 2
        if len(x) != n or len(w) != n:
            raise ValueError(
                f"{self.name}: expected an input of rank {n} (batch, "
                f"{'width' if self.rank == 1 else 'height, width'}, channels) and a depthwise "
                f"kernel of rank {n}, got input shape {format_shape(x)} and kernel shape "
                f"{format_shape(w)}"
            )
        if x[-1] is not None and x[-1] != w[-2]:
            raise ValueError(
                f"{self.name}: input shape {format_shape(x)} has {x[-1]} channels but kernel "
                f"shape {format_shape(w)} expects {w[-2]}"
            )
        filters = w[-2] * w[-1]
        if self.use_bias and (len(shapes) < 3 or tuple(shapes[2]) != (filters,)):
            got = format_shape(shapes[2]) if len(shapes) > 2 else "none"
            raise ValueError(f"{self.name}: bias must have shape ({filters},), got {got}")
        return x, w

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        x, w = self.check_operands(shapes)
        out = conv_output_spatial(self, x, w)
        return [((x[0], *out, w[-2] * w[-1]), result_dtype(dtypes[:2]))]

    def geometry(self, x_shape: tuple, w_shape: tuple) -> tuple[tuple, tuple, tuple]:
        """Concrete strides, dilation and pads as rank-2 pairs."""
        axes = [
            conv_axis(n, k, s, d, self.padding)
            for n, k, s, d in zip(x_shape[1:-1], w_shape, self.strides, self.dilation_rate)
        ]
        pads = pair(tuple(a[1] for a in axes), self.rank, 0)
        return pair(self.strides, self.rank, 1), pair(self.dilation_rate, self.rank, 1), pads

    def views(self, x: Any, w: Any, y: Any) -> tuple[Any, Any, Any]:
        """x (or dx), w (or dw) and y (or dz) as the rank-2 kernels take them."""
        r = self.rank
        return (
            x.reshape(as_2d(x.shape, r)),
            w.reshape(as_2d(w.shape, r, 0)),
            y.reshape(as_2d(y.shape, r)),
        )

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x, w = ins[0], ins[1]
        geo = self.geometry(x.shape, w.shape)
        x, w, y = self.views(x, w, outs[0])
        k.depthwise_conv2d_forward(
            x, w, ins[2] if self.use_bias else None, self.activation, *geo, y
        )


# -- backward ops (the bias pass's are in ops/bias.py) -------------------------------------------


class DepthwiseConvBackwardInput(Op):
    """dx of a DepthwiseConv from inputs (dz, w, x), x read for its shape only."""

    shape_only = (2,)

    def __init__(self, conv: DepthwiseConv) -> None:
        self.conv = conv
        self.name = f"{conv.name}_backward_input"

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[2], dtypes[0])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        dz, w, dx = ins[0], ins[1], outs[0]
        geo = self.conv.geometry(dx.shape, w.shape)
        dx, w, dz = self.conv.views(dx, w, dz)
        k.depthwise_conv2d_backward_input(dz, w, *geo, dx)


class DepthwiseConvBackwardWeight(Op):
    """dw of a DepthwiseConv from inputs (x, dz, w), w read for its shape only."""

    shape_only = (2,)

    def __init__(self, conv: DepthwiseConv) -> None:
        self.conv = conv
        self.name = f"{conv.name}_backward_weight"

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[2], dtypes[1])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x, dz, dw = ins[0], ins[1], outs[0]
        geo = self.conv.geometry(x.shape, dw.shape)
        x, dw, dz = self.conv.views(x, dw, dz)
        k.depthwise_conv2d_backward_weight(x, dz, *geo, dw)
