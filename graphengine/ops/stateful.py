"""The two ops of stateful recurrent layers: `ReadState` copies a layer's state variables at the
start of a run (checking the batch size), `WriteState` writes the final states back into them
once the sequence has run, so the next batch (in fit, evaluate, predict or a call) starts there.

The copy on reading keeps the backward pass of a training plan, which runs after the write,
reading the states the batch started from. Plans that hold a `WriteState` mark the device's
variables changed on every run (runtime/plan.py), as training plans do for weights.
"""

from __future__ import annotations

from typing import Any

from graphengine.graph.tensor import Shape, format_shape
from graphengine.ops.base import Op, RunContext, Spec


class ReadState(Op):
    """Inputs: the state (B, ...) and the layer's input (read for its batch size only); output:
    a copy of the state. A batch of another size than B raises, naming `owner`."""

    name = "read_state"
    shape_only = (1,)

    def __init__(self, owner: str) -> None:
        self.owner = owner

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        state, x = shapes
        if x and x[0] is not None and x[0] != state[0]:
            raise ValueError(
                f"{self.owner} is stateful with batch size {state[0]} (its states have shape "
                f"{format_shape(state)}), but received a batch of {x[0]} samples (input shape "
                f"{format_shape(x)}); feed batches of exactly {state[0]} samples: "
                f"batch_size={state[0]} in fit, evaluate and predict, with a number of samples "
                f"divisible by {state[0]}"
            )
        return [(state, dtypes[0])]

    def forward(self, k: Any, ins: list, outs: list, ctx: RunContext) -> None:
        k.copy(ins[0], outs[0])


class WriteState(Op):
    """Inputs: y, the n final states, then the n state variables; outputs: copies of y and of the
    final states (so whatever reads the layer's outputs runs the write first), after copying
    each final state into its variable."""

    name = "write_state"
    writes_variables = True  # runtime/plan.py: the device's variables change on every run

    def __init__(self, n_states: int) -> None:
        self.n_states = int(n_states)

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        n = self.n_states
        for i, (final, var) in enumerate(zip(shapes[1 : 1 + n], shapes[1 + n :])):
            if len(final) != len(var) or any(a not in (None, b) for a, b in zip(final, var)):
                raise ValueError(
                    f"{self.name}: final state {i} has shape {format_shape(final)}, but the "
                    f"state variable has shape {format_shape(var)}"
                )
        return list(zip(shapes[: 1 + n], dtypes[: 1 + n]))

    def forward(self, k: Any, ins: list, outs: list, ctx: RunContext) -> None:
        n = self.n_states
        for final, var in zip(ins[1 : 1 + n], ins[1 + n :]):
            k.copy(final, var)
        for src, out in zip(ins[: 1 + n], outs):
            k.copy(src, out)
