"""RReLU, the randomized leaky ReLU (Xu et al. 2015, as torch.nn.RReLU): a random slope per
element for x <= 0 in training, drawn as the dropouts draw their masks (the op's own Generator
for a seeded layer, else the running plan's), and the fixed mean slope at inference. Output 1
is the slope used, which is also dy/dx."""

from __future__ import annotations

import numpy as np

from graphengine.graph.tensor import Shape
from graphengine.ops.base import Kernels, Op, RunContext, Spec, float_dtype


class RReLU(Op):
    """y = x for x > 0, else slope * x: slope uniform in [lower, upper) per element in training,
    (lower + upper) / 2 otherwise. Outputs (y, slope). `training` None follows the plan."""

    name = "rrelu"

    def __init__(
        self,
        lower: float,
        upper: float,
        training: bool | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.lower, self.upper = lower, upper
        self.training = training
        self._rng = rng

    def active(self, training: bool) -> bool:
        """Whether slopes are drawn when the plan's flag is `training`."""
        return bool(self.training if self.training is not None else training)

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        dtype = float_dtype(dtypes[0])
        return [(shapes[0], dtype), (shapes[0], dtype)]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        (x,), (y, slope) = ins, outs
        if self.active(ctx.training):
            rng = self._rng if self._rng is not None else ctx.rng
            k.rrelu_forward(x, self.lower, self.upper, rng, slope, y)
        else:
            k.rrelu_inference(x, (self.lower + self.upper) / 2, slope, y)
