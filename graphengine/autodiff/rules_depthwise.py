"""The gradient rule of the depthwise convolution (ops/depthwise_conv.py): the fused bias +
activation pass's gradients as Dense's and Conv's, then the input and weight gradients."""

from __future__ import annotations

from graphengine.autodiff.rules import _bias_activation_grads, _with_bias, no_gradient, rule
from graphengine.graph.node import Node
from graphengine.ops.base import apply
from graphengine.ops.depthwise_conv import (
    DepthwiseConv,
    DepthwiseConvBackwardInput,
    DepthwiseConvBackwardWeight,
)

no_gradient(DepthwiseConvBackwardInput, DepthwiseConvBackwardWeight)


@rule(DepthwiseConv)
def _depthwise_conv(node: Node, g: list) -> list:
    if g[0] is None:
        return [None] * len(node.inputs)
    x, w = node.inputs[:2]
    dz, db = _bias_activation_grads(node, g[0])
    dw = apply(DepthwiseConvBackwardWeight(node.op), x, dz, w)
    return _with_bias(apply(DepthwiseConvBackwardInput(node.op), dz, w, x), dw, db)
