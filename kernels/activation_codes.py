"""The fused activations, in one table: their names, the integer codes every fused kernel (CPU and
CUDA) branches on, and where each one fuses: the bias pass of Dense and the convolutions
(`BIAS`), or the recurrent gates (`RECURRENT`). Plain Python, no Numba: graphengine's ops and
layers read it too (through graphengine.ops.activations).

An activation fuses where its derivative can be taken from its output alone (the backward pass
keeps y = f(x), not x). Adding one is a row here and its value and derivative in each backend's
activations.py (`activate_row` / `derivative_row` on the CPU, `fused_value` / `fused_derivative`
on CUDA); the kernels, ops and layers take it from there.
"""

from __future__ import annotations

BIAS = "bias"  # Dense / Conv / ConvTranspose: act(x @ w + b), one pass over the output
RECURRENT = "recurrent"  # SimpleRNN / LSTM / GRU gates, activation and recurrent_activation
WHERE = (BIAS, RECURRENT)

# the codes the kernels compare with (Numba folds these module constants into the branches)
LINEAR, RELU, SIGMOID, TANH, HARD_SIGMOID, RELU6, STEP = 0, 1, 2, 3, 4, 5, 6

# name -> (code, where it fuses). hard_sigmoid's fused formula multiplies by a rounded 1/6 in the
# gates' float type, so it is not the standalone kernel's bits, which the bias pass promises.
FUSED: dict[str, tuple[int, tuple[str, ...]]] = {
    "linear": (LINEAR, WHERE),
    "relu": (RELU, WHERE),
    "sigmoid": (SIGMOID, WHERE),
    "tanh": (TANH, WHERE),
    "hard_sigmoid": (HARD_SIGMOID, (RECURRENT,)),
    "relu6": (RELU6, (BIAS,)),
    "step": (STEP, (BIAS,)),  # straight-through: f' = 1 (the perceptron's Dense(1, "step"))
}


def _check_where(where: str) -> None:
    if where not in WHERE:
        raise ValueError(f"fused activations: {where=} is not one of {', '.join(WHERE)}")


def names(where: str) -> tuple[str, ...]:
    """The names of the activations fused at `where` (BIAS or RECURRENT), in table order."""
    _check_where(where)
    return tuple(name for name, (_, places) in FUSED.items() if where in places)


def fuses(name: str, where: str) -> bool:
    """Whether the kernels at `where` (BIAS or RECURRENT) fuse the activation called `name`."""
    _check_where(where)
    return name in FUSED and where in FUSED[name][1]


def codes(where: str) -> dict[str, int]:
    """{name: code} of the activations fused at `where` (BIAS or RECURRENT): what a kernel
    launcher turns an activation name into (ops check the name first, see `fuses`)."""
    return {name: FUSED[name][0] for name in names(where)}
