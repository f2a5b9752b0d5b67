"""The states of stateful recurrent layers (RNN and its subclasses, ConvLSTM2D): made at build
for the layer's fixed batch size, read at the start of every call, written back at its end
(ops/stateful.py), zeroed by `reset_state()`. Each layer owns its own variables, so two models
share states only where they share the layer, as in Keras."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from graphengine.graph.tensor import Variable
from graphengine.ops.base import apply, is_symbolic
from graphengine.ops.stateful import ReadState, WriteState


def _owner(layer: Any) -> str:
    return f"Layer '{layer.name}' ({type(layer).__name__})"


def make_states(layer: Any, batch: int | None, shapes: Sequence[tuple]) -> list[Variable]:
    """One zero variable (batch, *shape) per state; ValueError when the batch size is unknown."""
    if batch is None:
        raise ValueError(
            f"{_owner(layer)}: stateful=True needs a fixed batch size, but the input's batch "
            "size is unknown (None); give the model's Input batch_shape=(batch, ...) or "
            "batch_size=..., or the first layer batch_size=..."
        )
    return [
        Variable(
            np.zeros((batch, *shape), layer.dtype),
            name=f"state_{i}",
            trainable=False,
            path=f"{layer.name}/state_{i}",
        )
        for i, shape in enumerate(shapes)
    ]


def read_states(layer: Any, seq: Any, given: list) -> list:
    """The states a call starts from: those given (initial_state), else a stateful layer's
    variables (copied; ValueError for a batch of another size), else none (zeros)."""
    if given or not layer.stateful:
        return given
    return [apply(ReadState(_owner(layer)), v, seq) for v in layer.states]


def write_states(layer: Any, outputs: Any, finals: list) -> tuple[Any, list]:
    """A stateful layer's outputs and final states, after the final states are written into its
    variables (on arrays now; in a graph by the op every output goes through)."""
    if not layer.stateful:
        return outputs, finals
    outs = apply(WriteState(len(finals)), outputs, *finals, *layer.states)
    if not is_symbolic(outputs):
        for v in layer.states:
            v.push()  # written on the host: device mirrors take the new values
    return outs[0], list(outs[1:])


def reset(layer: Any) -> None:
    """Zeros a stateful layer's state variables, if it has any yet."""
    for v in layer.states or []:
        v.assign(np.zeros(v.shape, v.dtype))
