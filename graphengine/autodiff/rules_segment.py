"""The gradient rules of the segment ops (graphengine/ops/segment.py): sum takes the cotangent's
rows back to the data's rows, mean divides them by the counts, max shares them among the rows
equal to the maximum, softmax applies each segment's softmax Jacobian."""

from __future__ import annotations

from graphengine.autodiff.rules import no_gradient, rule
from graphengine.graph.node import Node
from graphengine.ops import api
from graphengine.ops.base import apply
from graphengine.ops.segment import (
    SegmentMax,
    SegmentMaxGrad,
    SegmentMean,
    SegmentMeanGrad,
    SegmentSoftmax,
    SegmentSoftmaxGrad,
    SegmentSum,
)

no_gradient(SegmentMeanGrad, SegmentMaxGrad, SegmentSoftmaxGrad)


def _no_more(node: Node) -> list:
    """No gradient for the ids (integers) nor for `like` (its shape only)."""
    return [None] * (len(node.inputs) - 1)


@rule(SegmentSum)
def _segment_sum(node: Node, g: list) -> list:
    """Each row gets its segment's cotangent: dy taken at the ids."""
    return [api.take(g[0], node.inputs[1], axis=0)] + _no_more(node)


@rule(SegmentMean)
def _segment_mean(node: Node, g: list) -> list:
    """dy[ids] / counts[ids] (the counts are output 1, at least 1)."""
    return [apply(SegmentMeanGrad(), node.inputs[1], g[0], node.outputs[1])] + _no_more(node)


@rule(SegmentMax)
def _segment_max(node: Node, g: list) -> list:
    """dy shared evenly among the rows equal to their segment's maximum (torch's "amax")."""
    data, ids = node.inputs[:2]
    dx = apply(SegmentMaxGrad(), data, ids, node.outputs[0], g[0])[0]
    return [dx] + _no_more(node)


@rule(SegmentSoftmax)
def _segment_softmax(node: Node, g: list) -> list:
    """dx = y * (dy - the segment's sum of y * dy), the maxima (output 1) giving the count."""
    ids, (y, peak) = node.inputs[1], node.outputs[:2]
    return [apply(SegmentSoftmaxGrad(), ids, y, g[0], peak)[0]] + _no_more(node)
