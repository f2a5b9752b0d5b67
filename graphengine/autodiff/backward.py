"""The backward pass: walk the forward graph in reverse order and build gradient nodes.

This is the one place where fan-out gradients are accumulated and broadcast gradients are
summed back to their input's shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

# each family's rules module (rules_<family>.py) registers its rules in RULES on import
from graphengine.autodiff import (  # noqa: F401
    rules_attention,
    rules_depthwise,
    rules_graph_conv,
    rules_image,
    rules_norm_act,
    rules_preprocessing,
    rules_segment,
    rules_sequences,
)
from graphengine.autodiff.rules import RULES, NotDifferentiableError
from graphengine.graph.node import grad_scope
from graphengine.graph.tensor import SymbolicTensor, graph_mode
from graphengine.graph.topo import collect_nodes, node_digraph, topological_order
from graphengine.ops import api
from graphengine.ops.base import apply
from graphengine.ops.shape_ops import SumTo

if TYPE_CHECKING:
    import networkx as nx


def is_differentiable(t: SymbolicTensor) -> bool:
    return np.dtype(t.dtype).kind == "f"


def gradients(
    outputs: Sequence[SymbolicTensor],
    cotangents: Sequence[SymbolicTensor],
    wrt: Sequence[SymbolicTensor],
) -> list[SymbolicTensor | None]:
    """Symbolic vector-Jacobian products: d(sum_i <outputs[i], cotangents[i]>) / d(wrt[j]),
    None where wrt[j] does not reach any output (or is not a float tensor)."""
    order = topological_order(node_digraph(collect_nodes(outputs)))
    depends = {t for t in wrt if is_differentiable(t)}
    for node in order:
        if any(t in depends for t in node.inputs):
            depends.update(t for t in node.outputs if is_differentiable(t))

    grads: dict[SymbolicTensor, SymbolicTensor] = {}

    def accumulate(t: SymbolicTensor, g: SymbolicTensor) -> None:
        grads[t] = api.add(grads[t], g) if t in grads else g

    with graph_mode():
        for out, cot in zip(outputs, cotangents):
            if out in depends:
                accumulate(out, cot)
        for node in reversed(order):
            out_grads = [grads.get(t) for t in node.outputs]
            if all(g is None for g in out_grads) or not any(t in depends for t in node.inputs):
                continue
            rule = RULES.get(type(node.op))
            if rule is None:
                raise NotDifferentiableError(
                    f"no gradient rule for op '{node.op.name}' ({node.name})"
                )
            with grad_scope(node):
                in_grads = rule(node, out_grads)
                for t, g in zip(node.inputs, in_grads):
                    if g is None or t not in depends:
                        continue
                    if g.shape != t.shape or (node.op.broadcasts and None in t.shape[1:]):
                        # unknown non-batch dims may still have been broadcast: SumTo then
                        # decides with concrete shapes (a free view when they are equal)
                        g = apply(SumTo(), g, t)
                    accumulate(t, g)
    return [grads.get(t) for t in wrt]


def backward_digraph(grads: Sequence[SymbolicTensor | None]) -> nx.DiGraph:
    """The graph of the gradient nodes that produce `grads` (forward nodes left out)."""
    nodes = [n for n in collect_nodes([g for g in grads if g is not None]) if n.grad_of is not None]
    return node_digraph(nodes)
