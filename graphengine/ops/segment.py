"""Segment reductions of rows: `ge.ops.segment_sum / segment_mean / segment_max /
segment_softmax`, their backward ops, and the form graph layers call, sized by another tensor.

Row i of `data` (N, ...) belongs to segment `segment_ids[i]` (1-D integers, N of them); the
result has one row per segment (segment_softmax: data's shape). The number of segments S is
- `num_segments`, an int;
- None: max(segment_ids) + 1 (0 for no ids), read from the ids' values, as Keras (the op's
  `extent_input`; such ids must be a model input, a constant or an array);
- for layers, another tensor's first axis: `segment_sum_like(data, segment_ids, like)`, and
  `segment_mean_like`, `segment_max_like`, `segment_softmax_like` likewise. `like` is read for
  its shape only, so messages gathered along edges are aggregated at the nodes by
  `segment_sum_like(messages, targets, like=nodes)` whatever the ids hold.
Ids outside [0, S) raise ValueError on the CPU (never dropped or clipped; on CUDA they are
skipped, as take's). Empty segments give 0 for sum, mean and max (PyTorch Geometric's scatter;
JAX and TensorFlow give -inf or the dtype's lowest for max).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphengine.common import check_int
from graphengine.graph.tensor import Shape, SymbolicTensor, format_shape
from graphengine.ops.base import Kernels, Op, RunContext, Spec, apply
from graphengine.ops.elementwise import Cast

__all__ = ["segment_sum", "segment_mean", "segment_max", "segment_softmax"]

FLOATS = ("float32", "float64")


def _rows(a: Any) -> Any:
    """a (N, ...) as (N, D): the trailing axes flattened (D = 1 for 1-D a)."""
    return a.reshape(a.shape[0], int(np.prod(a.shape[1:], dtype=np.int64)))


def _check_operands(name: str, shapes: list[Shape], dtypes: list[str]) -> None:
    data, ids = shapes[0], shapes[1]
    if np.dtype(dtypes[1]).kind not in "iu":
        raise TypeError(f"{name}: segment_ids must be integers, received dtype {dtypes[1]}")
    if len(ids) != 1:
        raise ValueError(f"{name}: segment_ids must be 1-D, received shape {format_shape(ids)}")
    if not data:
        raise ValueError(f"{name}: data must have rank >= 1 (one row per id), received a scalar")
    if dtypes[0] not in FLOATS:
        raise TypeError(f"{name}: data must be float32 or float64, received dtype {dtypes[0]}")
    if None not in (ids[0], data[0]) and ids[0] != data[0]:
        raise ValueError(
            f"{name}: segment_ids must hold one id per row of data, received segment_ids of "
            f"shape {format_shape(ids)} for data of shape {format_shape(data)}"
        )


class SegmentOp(Op):
    """The shared shapes of the forward segment ops: inputs (data, segment_ids), plus a tensor
    read for its shape only (its axis 0 is S) when `like`; S is `num_segments` otherwise (None:
    from the ids' values, `extent_input`)."""

    mixes_rows = True

    def __init__(self, num_segments: int | None = None, like: bool = False) -> None:
        self.num_segments = num_segments
        self.like = like

    @property
    def shape_only(self) -> tuple[int, ...]:  # type: ignore[override]
        return (2,) if self.like else ()

    @property
    def extent_input(self) -> int | None:  # type: ignore[override]
        return 1 if self.num_segments is None and not self.like else None

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        _check_operands(self.name, shapes, dtypes)
        if self.like and not shapes[2]:
            raise ValueError(f"{self.name}: like must have rank >= 1 (its axis 0 is the count)")
        count = shapes[2][0] if self.like else self.num_segments
        return self.specs(tuple(shapes[0]), (count,) + tuple(shapes[0][1:]), dtypes[0])

    def specs(self, data: Shape, segments: Shape, dtype: str) -> list[Spec]:
        """The outputs: one row per segment."""
        return [(segments, dtype)]


class SegmentSum(SegmentOp, serializable=True):
    """out[s] = the sum of the rows of data whose id is s."""

    name = "segment_sum"

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        k.segment_sum(_rows(ins[0]), ins[1], _rows(outs[0]))


class SegmentMean(SegmentOp, serializable=True):
    """out[s] = the mean of the rows of data whose id is s; output 1: the counts, at least 1
    (for the gradient)."""

    name = "segment_mean"

    def specs(self, data: Shape, segments: Shape, dtype: str) -> list[Spec]:
        return [(segments, dtype), (segments[:1], dtype)]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        k.segment_mean(_rows(ins[0]), ins[1], _rows(outs[0]), outs[1])


class SegmentMax(SegmentOp, serializable=True):
    """out[s] = the largest of the rows of data whose id is s (NaN propagates); output 1:
    scratch."""

    name = "segment_max"

    def specs(self, data: Shape, segments: Shape, dtype: str) -> list[Spec]:
        return [(segments, dtype), (segments[:1], dtype)]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        k.segment_max(_rows(ins[0]), ins[1], _rows(outs[0]), outs[1])


class SegmentSoftmax(SegmentOp, serializable=True):
    """out = the softmax of data within each segment, per column, shifted by the segment's
    maximum (PyTorch Geometric's `softmax`); outputs 1 and 2: the maxima and the sums."""

    name = "segment_softmax"

    def specs(self, data: Shape, segments: Shape, dtype: str) -> list[Spec]:
        return [(data, dtype), (segments, dtype), (segments, dtype)]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        peak, total = _rows(outs[1]), _rows(outs[2])
        k.segment_softmax(_rows(ins[0]), ins[1], _rows(outs[0]), peak, total)


class SegmentMeanGrad(Op):
    """dx from inputs (segment_ids, dy, counts): dy[ids] / counts[ids]."""

    name = "segment_mean_grad"
    mixes_rows = True

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [((shapes[0][0],) + tuple(shapes[1][1:]), dtypes[1])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        k.segment_mean_backward(ins[0], _rows(ins[1]), ins[2], _rows(outs[0]))


class SegmentMaxGrad(Op):
    """dx from inputs (data, segment_ids, out, dy): dy shared evenly among the rows equal to
    their segment's maximum (torch's "amax" rule); output 1: scratch."""

    name = "segment_max_grad"
    mixes_rows = True

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[0], dtypes[3]), (shapes[2], dtypes[3])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        data, ids, out, dy = ins
        k.segment_max_backward(
            _rows(data), ids, _rows(out), _rows(dy), _rows(outs[0]), _rows(outs[1])
        )


class SegmentSoftmaxGrad(Op):
    """dx from inputs (segment_ids, y, dy, maxima; maxima shape only): y * (dy - the segment's
    sum of y * dy); output 1: scratch."""

    name = "segment_softmax_grad"
    shape_only = (3,)
    mixes_rows = True

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[1], dtypes[2]), (shapes[3], dtypes[2])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        ids, y, dy = ins[:3]
        k.segment_softmax_backward(ids, _rows(y), _rows(dy), _rows(outs[0]), _rows(outs[1]))


def _operand(x: Any) -> Any:
    return x if isinstance(x, SymbolicTensor) else np.asarray(x)


def _segment(
    cls: type[SegmentOp], data: Any, segment_ids: Any, num_segments: Any, sorted: Any, like: Any
) -> Any:
    """Checks the arguments and applies `cls`; integer and bool data become float32 (as Keras's
    torch backend)."""
    if num_segments is not None:
        num_segments = check_int(num_segments, "num_segments", cls.name)
    if not isinstance(sorted, (bool, np.bool_)):
        raise TypeError(f"{cls.name}: sorted must be a bool, received sorted={sorted!r}")
    data, segment_ids = _operand(data), _operand(segment_ids)
    if np.dtype(data.dtype).kind in "biu":
        data = apply(Cast("float32"), data)
    extra = () if like is None else (_operand(like),)
    out = apply(cls(num_segments, like is not None), data, segment_ids, *extra)
    return out[0] if isinstance(out, list) else out


def segment_sum(
    data: Any, segment_ids: Any, num_segments: int | None = None, sorted: bool = False
) -> Any:
    """out[s] = the sum of the rows data[i] with segment_ids[i] == s, for s < num_segments (None:
    max(segment_ids) + 1); 0 for an empty segment. `sorted` is Keras's hint that the ids are
    sorted: the kernels need no order, so it changes nothing. The gradient gives each row its
    segment's cotangent."""
    return _segment(SegmentSum, data, segment_ids, num_segments, sorted, None)


def segment_mean(
    data: Any, segment_ids: Any, num_segments: int | None = None, sorted: bool = False
) -> Any:
    """out[s] = the mean of the rows with segment_ids[i] == s (the sum over the count, as PyTorch
    Geometric's scatter mean), 0 for an empty segment; arguments as segment_sum."""
    return _segment(SegmentMean, data, segment_ids, num_segments, sorted, None)


def segment_max(
    data: Any, segment_ids: Any, num_segments: int | None = None, sorted: bool = False
) -> Any:
    """out[s] = the largest of the rows with segment_ids[i] == s, per column; NaN if any of them
    is NaN; 0 for an empty segment (PyTorch Geometric's; JAX and TensorFlow give -inf or the
    lowest value). The gradient goes to the rows equal to the maximum, shared evenly among ties
    (as torch's scatter_reduce "amax")."""
    return _segment(SegmentMax, data, segment_ids, num_segments, sorted, None)


def segment_softmax(
    data: Any, segment_ids: Any, num_segments: int | None = None, sorted: bool = False
) -> Any:
    """The softmax of data's rows within each segment, per column, data's shape: exp(x - max) /
    (the segment's sum of exp(x - max) + 1e-16), as `torch_geometric.utils.softmax` (the maximum
    is held constant in the gradient, as there)."""
    return _segment(SegmentSoftmax, data, segment_ids, num_segments, sorted, None)


def segment_sum_like(data: Any, segment_ids: Any, like: Any) -> Any:
    """segment_sum with one segment per row of `like` (read for its shape only)."""
    return _segment(SegmentSum, data, segment_ids, None, False, like)


def segment_mean_like(data: Any, segment_ids: Any, like: Any) -> Any:
    """segment_mean with one segment per row of `like` (read for its shape only)."""
    return _segment(SegmentMean, data, segment_ids, None, False, like)


def segment_max_like(data: Any, segment_ids: Any, like: Any) -> Any:
    """segment_max with one segment per row of `like` (read for its shape only)."""
    return _segment(SegmentMax, data, segment_ids, None, False, like)


def segment_softmax_like(data: Any, segment_ids: Any, like: Any) -> Any:
    """segment_softmax over as many segments as `like` has rows (read for its shape only)."""
    return _segment(SegmentSoftmax, data, segment_ids, None, False, like)
