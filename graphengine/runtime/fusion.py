"""Fusion at plan time: a BatchNormalization whose output only a plain ReLU reads (MobileNet's
and ResNet's BatchNormalization -> ReLU) runs as one pass, and in a training plan the ReLU's
gradient joins the batch norm's backward pass, which recomputes the batch norm to know where
the ReLU let the gradient through. The passes over memory a pair costs go from 5 forward and 8
backward to 3 and 5 (a MobileNet block's training step, two such pairs on 4 and 8 MB
activations: see benchmarks/NOTES.md).

Only the plan changes: the graph (model.graph, the backward graph, saved files) keeps its
BatchNorm and ReLU nodes. The numbers are the same bits: the fused kernels evaluate the batch
norm with the same expression, and relu'(y) is 1 exactly where relu(y) > 0.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

from graphengine.graph.tensor import SymbolicTensor
from graphengine.ops.elementwise import Unary, UnaryGrad
from graphengine.ops.normalization import BatchNorm, BatchNormGrad


class PlanNode:
    """A node of a plan that is not a node of the graph: an op over existing tensors, named and
    attributed (layer call, gradient source) after the graph node it stands in for."""

    def __init__(self, op: Any, inputs: Sequence, outputs: Sequence, source: Any) -> None:
        self.op, self.inputs, self.outputs = op, list(inputs), list(outputs)
        self.id, self.name = source.id, f"{op.name}_{source.id}"
        self.layer_call, self.grad_of = source.layer_call, source.grad_of

    def __repr__(self) -> str:
        return f"<PlanNode {self.name}>"


def _plain_relu(node: Any) -> bool:
    """relu(x) = max(x, 0): no slope, cap or threshold."""
    op = node.op
    return isinstance(op, Unary) and op.name == "relu" and op.params == (0.0, float("inf"), 0.0)


def fuse(order: Sequence[Any], keep: set[SymbolicTensor]) -> list:
    """`order` (a topological order of nodes) with each batch_norm -> relu pair fused, and its
    relu_grad -> batch_norm_grad pair too where the plan trains; `keep`: the tensors that must
    stay (feeds, targets)."""
    users: dict[SymbolicTensor, list] = defaultdict(list)
    for node in order:
        for t in node.inputs:
            users[t].append(node)
    replaced: dict[int, Any] = {}  # node id -> its stand-in, or None for a node that goes
    for relu in order:
        if not _plain_relu(relu):
            continue
        y, out = relu.inputs[0], relu.outputs[0]
        norm = y.node
        if (
            norm is None
            or type(norm.op) is not BatchNorm
            or y is not norm.outputs[0]
            or y in keep
            or norm.id in replaced
        ):
            continue
        grads = [u for u in users[y] if u is not relu]
        if len(grads) > 1 or any(not _relu_grad_of(g, y, out) for g in grads):
            continue  # y is read by something else: it must be written
        back = _backward_pair(grads[0], norm, users, keep) if grads else None
        if grads and back is None:
            continue
        fused = norm.op.with_relu()
        replaced[norm.id] = PlanNode(fused, norm.inputs, [out] + norm.outputs[1:], norm)
        replaced[relu.id] = None
        if back is not None:  # the ReLU's gradient joins the batch norm's backward op
            x, _, mean, inv_std, gamma = back.inputs
            inputs = [x, grads[0].inputs[2], mean, inv_std, gamma, norm.inputs[2]]
            replaced[grads[0].id] = None
            replaced[back.id] = PlanNode(BatchNormGrad(fused), inputs, back.outputs, back)
    return [replaced.get(n.id, n) for n in order if replaced.get(n.id, n) is not None]


def _relu_grad_of(node: Any, y: SymbolicTensor, out: SymbolicTensor) -> bool:
    return isinstance(node.op, UnaryGrad) and node.inputs[0] is y and node.inputs[1] is out


def _backward_pair(grad: Any, norm: Any, users: dict, keep: set) -> Any:
    """The batch norm's backward node when it alone reads the ReLU gradient's output (so the
    two can be one op), else None."""
    dz = grad.outputs[0]
    readers = users[dz]
    back = readers[0] if len(readers) == 1 else None
    if (
        dz in keep
        or back is None
        or not isinstance(back.op, BatchNormGrad)
        or back.op._forward is not norm.op
        or back.inputs[1] is not dz
    ):
        return None
    return back
