"""Reductions (sum, mean, max, min, prod; argmax, argmin), sorting along the last axis (sort,
argsort, top_k), cumulative sums, softmax, and the backward ops that undo their shapes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphengine.graph.tensor import Shape, format_shape
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


REDUCTIONS = ("sum", "mean", "max", "min", "prod")


def _check_nonempty(opname: str, shape: Shape, axes: tuple[int, ...]) -> None:
    """A max, min or arg-reduction over zero elements has no value (NumPy raises too)."""
    empty = [a for a in axes if shape[a] == 0]
    if empty:
        raise ValueError(
            f"{opname}: cannot reduce axis {empty[0]} of size 0 in shape {format_shape(shape)}"
        )


def accumulator_dtype(dtype: str) -> str:
    """Keras's sum and prod (JAX's rule): bool and small integers add and multiply in 32 bits,
    so a sum of bools counts them."""
    if dtype in ("bool", "int8", "int16"):
        return "int32"
    return "uint32" if dtype in ("uint8", "uint16") else dtype


class Reduce(Op, serializable=True):
    """out = sum / mean / max / min / prod of x over `axes`: a mean in x's float dtype (float32
    for integers and bool), a sum or product of bool or small integers in 32 bits (as Keras and
    JAX), max and min in x's dtype."""

    def __init__(self, kind: str, axes: tuple[int, ...], keepdims: bool) -> None:
        if kind not in REDUCTIONS:
            raise ValueError(f"Unknown reduction {kind!r}; valid: {', '.join(REDUCTIONS)}")
        self.name = self.kind = kind
        self.axes = axes
        self.keepdims = keepdims

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        dtype = float_dtype(dtypes[0]) if self.name == "mean" else dtypes[0]
        if self.name in ("max", "min"):
            _check_nonempty(self.name, shapes[0], self.axes)
        elif self.name in ("sum", "prod"):
            dtype = accumulator_dtype(dtype)
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
        count = math.prod(dx.shape[a] for a in self.axes) if self.mean else 1
        k.broadcast_scaled(ins[0].reshape(kept_shape(dx.shape, self.axes)), 1.0 / count, dx)


class MaxGrad(Op):
    """dx for a max (or min) reduction, from inputs (x, y = max(x), dy); ties share the
    gradient."""

    name = "max_grad"

    def __init__(self, forward_op: Reduce) -> None:
        self.name = f"{forward_op.name}_grad"
        self.axes = forward_op.axes

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[0], dtypes[2])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x, y, dy = ins
        kept = kept_shape(x.shape, self.axes)
        k.max_backward(x, y.reshape(kept), dy.reshape(kept), outs[0])


class ProdGrad(Op):
    """dx for a product reduction, from inputs (x, dy): dy times the product of the other
    elements of each group (prefix times suffix: exact where x holds zeros)."""

    name = "prod_grad"

    def __init__(self, forward_op: Reduce) -> None:
        self.axes = forward_op.axes

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[0], dtypes[1])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x, dy = ins
        k.prod_backward(x, dy.reshape(kept_shape(x.shape, self.axes)), self.axes, outs[0])


def _three_d(shape: tuple[int, ...], axis: int) -> tuple[int, int, int]:
    return (math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :]))


def _line_view(shape: tuple[int, ...], axis: int | None) -> tuple[int, int, int]:
    """(outer, n, inner) for work along `axis`, or along the flattened array for None."""
    return (1, int(np.prod(shape)), 1) if axis is None else _three_d(shape, axis)


class ArgReduce(Op, serializable=True):
    """out (int32) = index of the max ("argmax") or min ("argmin") of x along `axis` (None: of
    the flattened x); the first one on ties (-0 ties +0), the first NaN if any."""

    def __init__(self, kind: str, axis: int | None, keepdims: bool) -> None:
        if kind not in ("argmax", "argmin"):
            raise ValueError(f"Unknown arg-reduction {kind!r}; valid: argmax, argmin")
        self.name = self.kind = kind
        self.axis = axis
        self.keepdims = keepdims

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        shape = shapes[0]
        if self.axis is None:
            axes = tuple(range(len(shape)))
        else:
            axes = (normalize_axis(self.axis, len(shape)),)
        _check_nonempty(self.name, shape, axes)
        return [(reduced_shape(shape, axes, self.keepdims), "int32")]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x = ins[0]
        view = _line_view(x.shape, None if self.axis is None else self.axis % x.ndim)
        getattr(k, f"{self.name}_forward")(x.reshape(view), outs[0].reshape(view[0], view[2]))


class Sort(Op, serializable=True):
    """(values, indices) of x's last axis in ascending order, or with `descending` its `k`
    largest (None: all) first; indices are int32. Stable: equal elements keep their order
    (-0 equals +0); NaN sorts above every number (last ascending, first descending), as PyTorch's
    sort and topk."""

    def __init__(self, k: int | None = None, descending: bool = False) -> None:
        self.k = k
        self.descending = descending
        self.name = "sort" if k is None else "top_k"

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        shape = shapes[0]
        if not shape:
            raise ValueError(f"{self.name}: x must have rank >= 1, received a scalar")
        n = shape[-1]
        if self.k is not None and n is not None and self.k > n:
            raise ValueError(
                f"{self.name}: k={self.k} is larger than the last axis of x (shape "
                f"{format_shape(shape)})"
            )
        out = tuple(shape[:-1]) + (n if self.k is None else self.k,)
        return [(out, dtypes[0]), (out, "int32")]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x, (values, indices) = ins[0], outs
        rows = math.prod(x.shape[:-1])
        k.sort_forward(
            x.reshape(rows, x.shape[-1]),
            self.descending,
            values.reshape(rows, values.shape[-1]),
            indices.reshape(rows, values.shape[-1]),
        )


class SortGrad(Op):
    """dx for sorted values, from inputs (dy, indices, x) with x read for its shape only: dy
    written back where each value came from (indices differ within a row), zeros elsewhere."""

    name = "sort_grad"
    shape_only = (2,)

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[2], dtypes[0])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        dy, indices, dx = ins[0], ins[1], outs[0]
        rows, n = math.prod(dx.shape[:-1]), dx.shape[-1]
        kk = dy.shape[-1]
        k.sort_backward(dy.reshape(rows, kk), indices.reshape(rows, kk), dx.reshape(rows, n))


class Cumsum(Op, serializable=True):
    """out = cumulative sum of x along `axis` (None: of the flattened x, out 1-D), from the end
    when `reverse` (which is also the gradient: a reverse cumsum of dy)."""

    name = "cumsum"

    def __init__(self, axis: int | None, reverse: bool = False) -> None:
        self.axis = axis
        self.reverse = reverse

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        shape = shapes[0]
        if self.axis is not None:
            normalize_axis(self.axis, len(shape))
            return [(shape, dtypes[0])]
        return [((None if None in shape else int(np.prod(shape, dtype=np.int64)),), dtypes[0])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x = ins[0]
        view = _line_view(x.shape, None if self.axis is None else self.axis % x.ndim)
        k.cumsum_forward(x.reshape(view), self.reverse, outs[0].reshape(view))


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
