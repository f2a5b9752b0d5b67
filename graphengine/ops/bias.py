"""The bias family of Dense and the convolutions (ops/matmul.py, ops/conv.py): the check that an
op's activation is one the bias pass fuses, and the backward ops of that pass, the activation's
gradient with the bias gradient (`BiasActivationGrad`) and the bias gradient alone (`BiasGrad`).
"""

from __future__ import annotations

from graphengine.graph.tensor import Shape
from graphengine.ops.base import Kernels, Op, RunContext, Spec
from graphengine_kernels.activation_codes import BIAS, fuses, names


def check_fused(op: str, activation: str) -> None:
    """A ValueError naming `op` unless the bias pass fuses `activation` (a name)."""
    if not fuses(activation, BIAS):
        raise ValueError(
            f"{op}: activation {activation!r} cannot be fused; valid: {', '.join(names(BIAS))}"
        )


class BiasActivationGrad(Op):
    """dz = dy * act'(.) from inputs (y, dy), y the fused op's output; outputs [dz] plus db (F,),
    the sum of dz over all axes but the last, when `use_bias`. dz may take dy's or y's buffer
    (elementwise): a CNN's first convolution's ReLU gradient then needs no 5.5 MB of its own."""

    in_place = ((0, 1), (0, 0))

    def __init__(self, activation: str, use_bias: bool) -> None:
        self.activation, self.use_bias = activation, use_bias
        self.name = f"{activation}_bias_grad" if use_bias else f"{activation}_grad"

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        specs = [(shapes[0], dtypes[1])]
        return specs + [((shapes[0][-1],), dtypes[1])] if self.use_bias else specs

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        db = outs[1] if self.use_bias else None
        k.bias_activation_backward(ins[0], ins[1], self.activation, outs[0], db)


class BiasGrad(Op):
    """db (F,) = dy summed over every axis but the last."""

    name = "bias_grad"

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [((shapes[0][-1],), dtypes[0])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        k.bias_backward(ins[0], outs[0])
