"""Graph nodes: `Node` is one application of a primitive op; `LayerCall` is one call of a layer.

A layer call records the primitive nodes it created, so the same graph can be shown at the
level users wrote (layer call sites) and run at the level kernels see (primitives).
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from graphengine.graph.tensor import SymbolicTensor

_ids = itertools.count()
_call_stack: list[LayerCall] = []
_recorders: list[list[LayerCall]] = []  # each open `recording_calls()` block's calls
_grad_source: list[Node | None] = [None]


class Node:
    """One primitive op applied to input tensors, producing `len(specs)` output tensors."""

    def __init__(
        self, op: Any, inputs: Sequence[SymbolicTensor], specs: Sequence[tuple[tuple, str]]
    ) -> None:
        self.id = next(_ids)
        self.op = op
        self.inputs = list(inputs)
        self.name = f"{op.name}_{self.id}"
        self.outputs = [
            SymbolicTensor(shape, dtype, node=self, index=i)
            for i, (shape, dtype) in enumerate(specs)
        ]
        self.layer_call = _call_stack[-1] if _call_stack else None
        self.grad_of = _grad_source[-1]  # the forward node whose gradient rule made this node
        if self.layer_call is not None:
            self.layer_call.nodes.append(self)

    def __repr__(self) -> str:
        return f"<Node {self.name}>"


class LayerCall:
    """One call of a layer on symbolic inputs: a node of `model.graph`."""

    def __init__(
        self,
        layer: Any,
        args: list[SymbolicTensor],
        input_struct: Any,
        kwargs: dict[str, Any],
        kwarg_inputs: Sequence[SymbolicTensor] = (),
    ) -> None:
        self.id = next(_ids)
        self.layer = layer
        # the flat positional inputs (nested as input_struct), then tensors given as keywords
        self.inputs = list(args) + list(kwarg_inputs)
        self.n_args = len(args)
        self.input_struct = input_struct
        self.kwargs = kwargs
        self.outputs: list[SymbolicTensor] = []
        self.output_struct: Any = None
        self.nodes: list[Node] = []
        self.children: list[LayerCall] = []
        # scalar terms of the training loss: activity regularization, layer.add_loss(...)
        self.losses: list[SymbolicTensor] = []
        self.parent = _call_stack[-1] if _call_stack else None
        layer._calls.append(self)
        if self.parent is not None:
            self.parent.children.append(self)
        for recorded in _recorders:
            recorded.append(self)

    @property
    def index(self) -> int:
        """Which call of its layer this is (a shared layer has several)."""
        return self.layer._calls.index(self)

    @property
    def name(self) -> str:
        return self.layer.name if self.index == 0 else f"{self.layer.name}#{self.index}"

    def __repr__(self) -> str:
        return f"<LayerCall {self.name}>"


@contextmanager
def recording_calls() -> Iterator[list[LayerCall]]:
    """Inside, every layer call made (nested ones too) is appended to the list yielded: what a
    traced function's loss adds of the calls' `losses` (add_loss, activity regularization)."""
    recorded: list[LayerCall] = []
    _recorders.append(recorded)
    try:
        yield recorded
    finally:
        _recorders.remove(recorded)


def recorded_calls() -> list[LayerCall] | None:
    """The calls of the innermost open `recording_calls()` block, or None outside any."""
    return _recorders[-1] if _recorders else None


def current_call() -> LayerCall | None:
    """The layer call being recorded now (the innermost), or None outside any."""
    return _call_stack[-1] if _call_stack else None


@contextmanager
def layer_call_scope(call: LayerCall) -> Iterator[LayerCall]:
    _call_stack.append(call)
    try:
        yield call
    finally:
        _call_stack.pop()


@contextmanager
def grad_scope(forward_node: Node | None) -> Iterator[None]:
    """Nodes made inside are tagged as part of `forward_node`'s gradient."""
    _grad_source.append(forward_node)
    try:
        yield
    finally:
        _grad_source.pop()
