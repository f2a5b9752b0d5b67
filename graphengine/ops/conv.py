"""Convolution primitives, channels-last, rank 1 (NWC), 2 (NHWC) or 3 (NDHWC): `Conv` and
`ConvTranspose` with bias and activation fused in (the bias pass and its backward ops are
ops/bias.py's), and the backward ops their gradient rules build.

Every op runs the rank-3 kernels; a rank-2 op views (N, H, W, C) as (N, 1, H, W, C) and a rank-1
op (N, W, C) as (N, 1, 1, W, C). The im2col columns live in a scratch output of each op that
builds them (the forward pass, the input gradient's col2im, the weight gradient), so the plan
owns that memory like any tensor (allocated once per plan, on the plan's device, never per step)
and hands it to the next op once the op is done. The scratch holds a tile of the batch's images
(column_tile): the kernels fill and use it a tile at a time, and the weight gradient builds the
columns again from the input. Keeping the whole batch's columns from the forward pass to the
weight gradient cost KD*KH*KW times the input's size (a CNN step's 8.9 MB of 27 MB of buffers);
building them again costs one more im2col pass, which the parts' cache locality pays back (the
CNN step took the same time, benchmarks/NOTES.md). `as_2d` and `pair` serve the rank-2 kernels
of other families (depthwise_conv.py).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from graphengine.graph.tensor import Shape, format_shape
from graphengine.ops import bias
from graphengine.ops.base import Kernels, Op, RunContext, Spec, result_dtype
from graphengine_kernels.cpu import threads

PADDINGS = ("valid", "same", "causal")
# The im2col scratch's size: a tile of images whose columns take about this many bytes (at most
# the batch, tiles of equal size), and at least one image per thread (threads.SLOTS), as the CPU
# kernels cut it into one part per thread, each part's columns built and multiplied while they
# are in cache: a CNN step took 8.75 ms with 2 MiB tiles, 8.86 with the whole batch's columns,
# 8.92 with 1 MiB (in-process). Large images (224 x 224 x 3, 3x3: 5.4 MB of columns each) take
# one image per thread, so every thread still has its part.
COLUMN_TILE_BYTES = 1 << 21


def column_tile(batch: int | None, cells: Any, taps_per_cell: int, dtype: str) -> int | None:
    """Images per tile of im2col columns, for `cells` (output cells per image, None while a
    spatial size is unknown) of `taps_per_cell` columns each, all groups together."""
    if batch is None or cells is None:
        return batch
    per_image = max(cells * taps_per_cell * np.dtype(dtype).itemsize, 1)
    most = min(batch, max(COLUMN_TILE_BYTES // per_image, threads.SLOTS, 1))
    return -(-batch // -(-batch // most))  # tiles of equal size: 64 images in 15s -> 13s


def _cells(spatial: Any) -> int | None:
    return None if any(s is None for s in spatial) else math.prod(spatial)


@functools.lru_cache(maxsize=1024)
def conv_axis(size: int, kernel: int, stride: int, dilation: int, padding: str) -> tuple[int, int]:
    """(output size, padding before the first cell) of one spatial axis. "same" pads to
    ceil(size / stride) outputs with the odd cell of padding at the end, as TensorFlow; "causal"
    pads only before, by the dilated kernel extent minus one."""
    extent = (kernel - 1) * dilation + 1
    if padding == "valid":
        return (size - extent) // stride + 1, 0
    if padding == "causal":
        return (size - 1) // stride + 1, extent - 1
    out = -(-size // stride)
    return out, max((out - 1) * stride + extent - size, 0) // 2


@functools.lru_cache(maxsize=1024)
def conv_transpose_axis(
    size: int, kernel: int, stride: int, dilation: int, padding: str, output_padding: int | None
) -> tuple[int, int]:
    """(output size, padding before) of one axis of a transposed convolution, as Keras 3 sizes it;
    the padding is the one of the convolution whose adjoint it is (how much of the full
    (size - 1) * stride + extent output is cropped at the start)."""
    extent = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(extent, stride) - extent if output_padding is None else output_padding
        return (size - 1) * stride + extent + extra, 0
    if output_padding is None:
        out, total = size * stride, stride + extent - 2
    else:
        out = (size - 1) * stride + extent % 2 + output_padding
        total = extent + extent % 2 - 2 + output_padding
    before = min(total // 2 + total % 2, extent - 1)  # padding of the transposed view
    return out, extent - 1 - before


SPATIAL = {1: "width", 2: "height, width", 3: "depth, height, width"}


def as_3d(shape: tuple, rank: int, axis: int = 1) -> tuple:
    """A rank-1 or rank-2 shape (N, *spatial, C) or kernel (*k, C, F) with unit axes inserted at
    `axis` up to three spatial axes, for the rank-3 kernels; rank-3 shapes pass through."""
    return shape[:axis] + (1,) * (3 - rank) + shape[axis:]


def triple(values: tuple, rank: int, fill: int) -> tuple:
    """Per-axis values of a rank-1 or rank-2 op as a (d, h, w) triple, `fill` in front."""
    return (fill,) * (3 - rank) + tuple(values)


def as_2d(shape: tuple, rank: int, axis: int = 1) -> tuple:
    """A rank-1 shape (N, W, C) or kernel (K, C, F) with a unit axis inserted, as the rank-2
    kernels (conv2d_*, *_pool2d_*) take it; rank-2 shapes pass through."""
    return shape if rank == 2 else shape[:axis] + (1,) + shape[axis:]


def pair(values: tuple, rank: int, fill: int) -> tuple:
    return tuple(values) if rank == 2 else (fill,) + tuple(values)


def conv_output_spatial(op: Any, x: Shape, w: Shape) -> list[int | None]:
    """The output's spatial sizes (None where the input's is unknown) of a convolution `op` (its
    name, rank, strides, dilation_rate and padding) of input shape `x` by kernel shape `w`; a
    ValueError naming the op and both shapes where the kernel does not fit."""
    out: list[int | None] = []
    for i, size in enumerate(x[1:-1]):
        if size is None:
            out.append(None)
            continue
        o, _ = conv_axis(size, w[i], op.strides[i], op.dilation_rate[i], op.padding)
        if o <= 0:
            extent = tuple((k - 1) * d + 1 for k, d in zip(w[: op.rank], op.dilation_rate))
            raise ValueError(
                f"{op.name}: kernel shape {format_shape(w)} (spatial extent {extent} with "
                f"dilation_rate={op.dilation_rate}) does not fit input shape {format_shape(x)} "
                f"with padding={op.padding!r}: the output size would be {o} on spatial axis {i}"
            )
        out.append(o)
    return out


class ConvBase(Op):
    """Hyperparameters and shape checks shared by Conv and ConvTranspose."""

    transposed = False

    def __init__(
        self,
        rank: int,
        strides: tuple[int, ...],
        padding: str,
        dilation_rate: tuple[int, ...],
        activation: str = "linear",
        use_bias: bool = False,
        groups: int = 1,
    ) -> None:
        if padding not in PADDINGS:
            raise ValueError(
                f"{type(self).__name__}: padding must be one of {PADDINGS}, got {padding!r}"
            )
        bias.check_fused(type(self).__name__, activation)
        self.rank, self.strides, self.padding = rank, tuple(strides), padding
        self.dilation_rate, self.groups = tuple(dilation_rate), groups
        self.activation, self.use_bias = activation, use_bias

    def needs_cols(self, kernel: Shape) -> bool:
        """Whether the kernels need an im2col buffer: not for a 1x1, stride-1, ungrouped
        convolution, whose columns are its input itself. `kernel` is the weight's shape."""
        ones = all(k == 1 for k in kernel[: self.rank]) and all(s == 1 for s in self.strides)
        return not ones or self.groups != 1

    def check_operands(self, shapes: list[Shape], channels_axis: int) -> tuple[Shape, Shape]:
        x, w = shapes[0], shapes[1]
        n = self.rank + 2
        if len(x) != n or len(w) != n:
            raise ValueError(
                f"{self.name}: expected an input of rank {n} (batch, {SPATIAL[self.rank]}, "
                f"channels) and a kernel of rank {n}, got input shape {format_shape(x)} and "
                f"kernel shape {format_shape(w)}"
            )
        need = w[channels_axis] * (self.groups if not self.transposed else 1)
        if x[-1] is not None and x[-1] != need:
            raise ValueError(
                f"{self.name}: input shape {format_shape(x)} has {x[-1]} channels but kernel "
                f"shape {format_shape(w)} expects {need}"
            )
        filters = w[-2] if self.transposed else w[-1]
        if self.use_bias and (len(shapes) < 3 or tuple(shapes[2]) != (filters,)):
            got = format_shape(shapes[2]) if len(shapes) > 2 else "none"
            raise ValueError(f"{self.name}: bias must have shape ({filters},), got {got}")
        return x, w

    def geometry(self, x_shape: tuple, w_shape: tuple) -> tuple[tuple, tuple, tuple, tuple]:
        """Concrete (output spatial shape, and strides, dilation, pads as (d, h, w) triples)."""
        return _geometry(
            type(self).__name__,
            self.rank,
            tuple(x_shape[1:-1]),
            tuple(w_shape[: self.rank]),
            self.strides,
            self.dilation_rate,
            self.padding,
            getattr(self, "output_padding", None),
        )


@functools.lru_cache(maxsize=1024)
def _geometry(
    kind: str,
    rank: int,
    spatial: tuple,
    kernel: tuple,
    strides: tuple,
    dilation: tuple,
    padding: str,
    output_padding: tuple | None,
) -> tuple[tuple, tuple, tuple, tuple]:
    axes = []
    for i in range(rank):
        if kind == "ConvTranspose":
            op = None if output_padding is None else output_padding[i]
            axes.append(
                conv_transpose_axis(spatial[i], kernel[i], strides[i], dilation[i], padding, op)
            )
        else:
            axes.append(conv_axis(spatial[i], kernel[i], strides[i], dilation[i], padding))
    out = tuple(a[0] for a in axes)
    pads = triple(tuple(a[1] for a in axes), rank, 0)
    return out, triple(strides, rank, 1), triple(dilation, rank, 1), pads


class Conv(ConvBase):
    """y = act(conv(x, w) + b): x (N, *spatial, C), w (*kernel, C / groups, F), b (F,) when
    use_bias. Outputs y (N, *out_spatial, F) and, when the kernels need them (`needs_cols`), the
    im2col scratch (groups, T, *out_spatial, prod(kernel) * C / groups) for T images a tile."""

    def __init__(self, rank: int, *args: Any, **kwargs: Any) -> None:
        super().__init__(rank, *args, **kwargs)
        self.name = f"conv{rank}d"

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        x, w = self.check_operands(shapes, channels_axis=-2)
        out = conv_output_spatial(self, x, w)
        dtype = result_dtype(dtypes[:2])
        specs = [((x[0], *out, w[-1]), dtype)]
        if self.needs_cols(w):
            taps = math.prod(w[: self.rank]) * w[-2]
            tile = column_tile(x[0], _cells(out), self.groups * taps, dtype)
            specs.append(((self.groups, tile, *out, taps), dtype))
        return specs

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x, w = ins[0], ins[1]
        _, strides, dilation, pads = self.geometry(x.shape, w.shape)
        y = outs[0]
        cols = outs[1].reshape(self.groups, -1, outs[1].shape[-1]) if len(outs) > 1 else None
        k.conv3d_forward(
            x.reshape(as_3d(x.shape, self.rank)),
            w.reshape(as_3d(w.shape, self.rank, 0)),
            ins[2] if self.use_bias else None,
            self.activation,
            strides,
            dilation,
            pads,
            cols,
            y.reshape(as_3d(y.shape, self.rank)),
        )


class ConvTranspose(ConvBase):
    """y = act(conv_transpose(x, w) + b): the adjoint of a convolution, sized as Keras 3 sizes it;
    x (N, *spatial, C), w (*kernel, F, C) (Keras's layout), b (F,). Outputs y (N, *out, F) and,
    when `needs_cols`, the scratch columns (1, T, *spatial, prod(kernel) * F), T images a tile."""

    transposed = True

    def __init__(
        self, rank: int, *args: Any, output_padding: tuple | None = None, **kwargs: Any
    ) -> None:
        super().__init__(rank, *args, **kwargs)
        self.output_padding = None if output_padding is None else tuple(output_padding)
        self.name = f"conv{rank}d_transpose"

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        x, w = self.check_operands(shapes, channels_axis=-1)
        out = []
        for i, size in enumerate(x[1:-1]):
            if size is None:
                out.append(None)
                continue
            op = None if self.output_padding is None else self.output_padding[i]
            o, _ = conv_transpose_axis(
                size, w[i], self.strides[i], self.dilation_rate[i], self.padding, op
            )
            if o <= 0:
                raise ValueError(
                    f"{self.name}: input shape {format_shape(x)} with kernel shape "
                    f"{format_shape(w)} and padding={self.padding!r} gives output size {o} on "
                    f"spatial axis {i}"
                )
            out.append(o)
        dtype = result_dtype(dtypes[:2])
        specs = [((x[0], *out, w[-2]), dtype)]
        if self.needs_cols(w):
            specs.append(_transpose_scratch(x, w, self.rank, dtype))
        return specs

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x, w, y = ins[0], ins[1], outs[0]
        _, strides, dilation, pads = self.geometry(x.shape, w.shape)
        cols = outs[1].reshape(1, -1, outs[1].shape[-1]) if len(outs) > 1 else None
        k.conv3d_backward_input(
            x.reshape(as_3d(x.shape, self.rank)),
            w.reshape(as_3d(w.shape, self.rank, 0)),
            ins[2] if self.use_bias else None,
            self.activation,
            strides,
            dilation,
            pads,
            cols,
            y.reshape(as_3d(y.shape, self.rank)),
        )


# -- backward ops (the bias pass's are in ops/bias.py) -------------------------------------------


class ConvBackwardInput(Op):
    """dx of a Conv from inputs (dz, w, x), x read for its shape only; outputs [dx] plus the
    scratch columns when the forward op had columns."""

    shape_only = (2,)

    def __init__(self, conv: Conv) -> None:
        self.conv = conv
        self.name = f"{conv.name}_backward_input"

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        dz, w, x = shapes
        return [(x, dtypes[0]), *_conv_scratch(self.conv, dz, w, dtypes[0])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        dz, w = ins[0], ins[1]
        dx, rank = outs[0], self.conv.rank
        _, strides, dilation, pads = self.conv.geometry(dx.shape, w.shape)
        dcols = outs[1].reshape(self.conv.groups, -1, outs[1].shape[-1]) if len(outs) > 1 else None
        k.conv3d_backward_input(
            dz.reshape(as_3d(dz.shape, rank)),
            w.reshape(as_3d(w.shape, rank, 0)),
            None,
            "linear",
            strides,
            dilation,
            pads,
            dcols,
            dx.reshape(as_3d(dx.shape, rank)),
        )


class ConvBackwardWeight(Op):
    """dw = cols(x)^T @ dz per group, from inputs (x, dz, w), w read for its shape only: the
    columns of x built again, a tile at a time; outputs [dw] plus that scratch when the forward
    op had columns (for a 1x1 stride-1 convolution x is its own column matrix)."""

    shape_only = (2,)

    def __init__(self, conv: Conv) -> None:
        self.conv = conv
        self.name = f"{conv.name}_backward_weight"

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        x, dz, w = shapes
        return [(w, dtypes[1]), *_conv_scratch(self.conv, dz, w, dtypes[1])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x, dz = ins[0], ins[1]
        _weight_gradient(k, self.conv, x, dz, x.shape, outs, self.conv.groups)


def _weight_gradient(
    k: Kernels, conv: ConvBase, source: Any, dz: Any, x_shape: tuple, outs: list, groups: int
) -> None:
    """dw = cols(source)^T @ dz through conv3d_backward_weight: `source` is what the columns
    are built from, `x_shape` the shape the geometry is taken from, outs [dw] or [dw, scratch]."""
    dw, rank = outs[0], conv.rank
    _, strides, dilation, pads = conv.geometry(x_shape, dw.shape)
    cols = outs[1].reshape(groups, -1, outs[1].shape[-1]) if len(outs) > 1 else None
    k.conv3d_backward_weight(
        source.reshape(as_3d(source.shape, rank)),
        strides,
        dilation,
        pads,
        cols,
        dz.reshape(as_3d(dz.shape, rank)),
        dw.reshape(as_3d(dw.shape, rank, 0)),
    )


def _conv_scratch(conv: Conv, dz: Shape, w: Shape, dtype: str) -> list[Spec]:
    """The im2col scratch spec of a Conv's backward op (as its forward's), or none."""
    if not conv.needs_cols(w):
        return []
    taps = math.prod(w[: conv.rank]) * w[-2]
    tile = column_tile(dz[0], _cells(dz[1:-1]), conv.groups * taps, dtype)
    return [((conv.groups, tile, *dz[1:-1], taps), dtype)]


def _transpose_scratch(x: Shape, w: Shape, rank: int, dtype: str) -> Spec:
    """The im2col scratch spec of a ConvTranspose and its backward ops: the columns of a
    convolution whose output is x (the transpose's input)."""
    taps = math.prod(w[:rank]) * w[-2]
    return ((1, column_tile(x[0], _cells(x[1:-1]), taps, dtype), *x[1:-1], taps), dtype)


class ConvTransposeBackwardInput(Op):
    """dx of a ConvTranspose from inputs (dz, w, x), x shape only: a plain convolution of dz.
    Outputs [dx] plus the im2col scratch when the op has columns."""

    shape_only = (2,)

    def __init__(self, conv: ConvTranspose) -> None:
        self.conv = conv
        self.name = f"{conv.name}_backward_input"

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        dz, w, x = shapes
        specs = [(x, dtypes[0])]
        if self.conv.needs_cols(w):
            specs.append(_transpose_scratch(x, w, self.conv.rank, dtypes[0]))
        return specs

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        dz, w = ins[0], ins[1]
        dx, rank = outs[0], self.conv.rank
        _, strides, dilation, pads = self.conv.geometry(dx.shape, w.shape)
        cols = outs[1].reshape(1, -1, outs[1].shape[-1]) if len(outs) > 1 else None
        k.conv3d_forward(
            dz.reshape(as_3d(dz.shape, rank)),
            w.reshape(as_3d(w.shape, rank, 0)),
            None,
            "linear",
            strides,
            dilation,
            pads,
            cols,
            dx.reshape(as_3d(dx.shape, rank)),
        )


class ConvTransposeBackwardWeight(Op):
    """dw (*kernel, F, C) = cols(dz)^T @ x from inputs (dz, x, w), w shape only: the weight
    gradient of a convolution of dz whose output is x, the columns of dz built a tile at a time
    (dz itself for a 1x1 stride-1 kernel); outputs [dw] plus that scratch."""

    shape_only = (2,)

    def __init__(self, conv: ConvTranspose) -> None:
        self.conv = conv
        self.name = f"{conv.name}_backward_weight"

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        dz, x, w = shapes
        specs = [(w, dtypes[1])]
        if self.conv.needs_cols(w):
            specs.append(_transpose_scratch(x, w, self.conv.rank, dtypes[1]))
        return specs

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        dz, x = ins[0], ins[1]  # a convolution of dz whose output is x
        _weight_gradient(k, self.conv, dz, x, x.shape, outs, 1)
