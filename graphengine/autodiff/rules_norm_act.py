"""Gradient rules of the second-wave normalization and activation primitives: group / RMS
normalization (one fused backward op) and RReLU (dy times the slope the forward pass used)."""

from __future__ import annotations

from graphengine.autodiff.rules import no_gradient, rule
from graphengine.graph.node import Node
from graphengine.ops import api
from graphengine.ops.base import apply
from graphengine.ops.normalization import GroupNorm, GroupNormGrad
from graphengine.ops.rrelu import RReLU

no_gradient(GroupNormGrad)


@rule(GroupNorm)
def _group_norm(node: Node, g: list) -> list:
    """Gradients for x, gamma, beta, exact through the per-group statistics."""
    if g[0] is None:
        return [None] * 3
    x, gamma = node.inputs[:2]
    _, mean, inv_std = node.outputs
    return apply(GroupNormGrad(node.op), x, g[0], mean, inv_std, gamma)


@rule(RReLU)
def _rrelu(node: Node, g: list) -> list:
    return [None if g[0] is None else api.multiply(g[0], node.outputs[1])]
