"""The gradient rule of the fused attention primitive: one backward op for every input."""

from __future__ import annotations

from graphengine.autodiff.rules import no_gradient, rule
from graphengine.graph.node import Node
from graphengine.ops import api
from graphengine.ops.attention import Attention, AttentionGrad
from graphengine.ops.base import apply

no_gradient(AttentionGrad)


@rule(Attention)
def _attention(node: Node, g: list) -> list:
    """dq, dk, dv (or dscores, dv) from the cotangents of the output, the probabilities and the
    dropped-out probabilities (the latter two where the layer returned them); none for the
    mask."""
    op, outs = node.op, node.outputs
    dout = g[0] if g[0] is not None else api.zeros_like(outs[0])
    extra = [c for c in g[1:] if c is not None]
    grad_op = AttentionGrad(op, g[1] is not None, len(g) > 2 and g[2] is not None)
    saved = [] if op.scores_given else list(node.inputs[:2])
    v = node.inputs[1 if op.scores_given else 2]
    grads = apply(grad_op, dout, *extra, *saved, v, outs[1], *outs[2:])
    if op.scores_given:
        result = [grads[0], grads[-1]]
    else:
        result = grads[1:]
    return result + [None] * op.has_mask
