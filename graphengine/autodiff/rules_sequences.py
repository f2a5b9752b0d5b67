"""Gradient rules of the stateful-RNN ops (ops/stateful.py): the states a batch starts from are
constants of the batch (no gradient reaches the state variables, as Keras); the write passes
the gradients of its outputs straight to the values it copied."""

from __future__ import annotations

from graphengine.autodiff.rules import rule
from graphengine.graph.node import Node
from graphengine.ops.stateful import ReadState, WriteState


@rule(ReadState)
def _read_state(node: Node, g: list) -> list:
    return [None, None]


@rule(WriteState)
def _write_state(node: Node, g: list) -> list:
    return list(g) + [None] * node.op.n_states
