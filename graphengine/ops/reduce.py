"""Reductions (sum, mean, max), softmax, and the backward ops that undo their shapes."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphengine.graph.tensor import Shape
from graphengine.ops.base import Kernels, Op, RunContext, Spec, float_dtype, normalize_axis


def normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (int(axis),) if isinstance(axis, (int, np.integer)) else tuple(int(a) for a in axis)
    out = tuple(sorted({normalize_axis(a, ndim) for a in axes}))
    if len(out) != len(axes):
        raise ValueError(f"repeated axis in {axis}")
    return out


def kept_shape(shape: Shape, axes: tuple[int, ...]) -> Shape:
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


def reduced_shape(shape: Shape, axes: tuple[int, ...], keepdims: bool) -> Shape:
    if keepdims:
        return kept_shape(shape, axes)
    return tuple(d for i, d in enumerate(shape) if i not in axes)


class Reduce(Op, serializable=True):
    """out = sum / mean / max of x over `axes`."""

    def __init__(self, kind: str, axes: tuple[int, ...], keepdims: bool) -> None:
        self.name = self.kind = kind
        self.axes = axes
        self.keepdims = keepdims

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        dtype = float_dtype(dtypes[0]) if self.name == "mean" else dtypes[0]
        return [(reduced_shape(shapes[0], self.axes, self.keepdims), dtype)]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x = ins[0]
        getattr(k, f"{self.name}_forward")(
            x, self.axes, outs[0].reshape(kept_shape(x.shape, self.axes))
        )


class ReduceGrad(Op):
    """dx = dy broadcast back over the reduced axes (divided by their size for a mean);
    inputs (dy, x) with x read for its shape only."""

    shape_only = (1,)

    def __init__(self, forward_op: Reduce) -> None:
        self.name = f"{forward_op.name}_grad"
        self.mean = forward_op.name == "mean"
        self.axes = forward_op.axes

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[1], dtypes[0])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        dx = outs[0]
        count = int(np.prod([dx.shape[a] for a in self.axes])) if self.mean else 1
        k.broadcast_scaled(ins[0].reshape(kept_shape(dx.shape, self.axes)), 1.0 / count, dx)


class MaxGrad(Op):
    """dx for a max reduction, from inputs (x, y = max(x), dy); ties share the gradient."""

    name = "max_grad"

    def __init__(self, forward_op: Reduce) -> None:
        self.axes = forward_op.axes

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[0], dtypes[2])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x, y, dy = ins
        kept = kept_shape(x.shape, self.axes)
        k.max_backward(x, y.reshape(kept), dy.reshape(kept), outs[0])


def _three_d(shape: tuple[int, ...], axis: int) -> tuple[int, int, int]:
    return (int(np.prod(shape[:axis])), shape[axis], int(np.prod(shape[axis + 1 :])))


class Softmax(Op, serializable=True):
    """out = exp(x) / sum(exp(x)) along `axis` (or its logarithm, computed stably, when `log`)."""

    def __init__(self, axis: int, log: bool = False) -> None:
        self.axis = axis
        self.log = log
        self.name = "log_softmax" if log else "softmax"

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        if not shapes[0]:
            raise ValueError(f"{self.name} needs a tensor of rank >= 1, got a scalar")
        normalize_axis(self.axis, len(shapes[0]))
        return [(shapes[0], float_dtype(dtypes[0]))]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x = ins[0]
        view = _three_d(x.shape, self.axis % x.ndim)
        kernel = k.log_softmax_forward if self.log else k.softmax_forward
        kernel(x.reshape(view), outs[0].reshape(view))  # an integer x is converted in the kernel


class SoftmaxGrad(Op):
    """dx from inputs (y, dy) along `axis`: y * (dy - sum(dy * y)) for softmax,
    dy - exp(y) * sum(dy) for log_softmax."""

    def __init__(self, forward_op: Softmax) -> None:
        self.axis = forward_op.axis
        self.log = forward_op.log
        self.name = f"{forward_op.name}_grad"

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[0], dtypes[0])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        y, dy = ins
        view = _three_d(y.shape, self.axis % y.ndim)
        kernel = k.log_softmax_backward if self.log else k.softmax_backward
        kernel(y.reshape(view), dy.reshape(view), outs[0].reshape(view))
