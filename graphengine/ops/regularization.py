"""Dropout-family primitives: random masks in training, an exact identity at inference.

Each op has outputs (y, mask) and draws its mask in the kernel from a NumPy Generator: its own
when the layer was given a seed, else the running plan's (`ctx.rng`). The backward op multiplies
by the saved mask. At inference output 0 is input 0 unchanged, and the op says so through
`is_view`, so a plan hands out a view and runs nothing.
"""

from __future__ import annotations

import abc
import math
from typing import Any

import numpy as np

from graphengine.graph.tensor import Shape, format_shape
from graphengine.ops.base import Kernels, Op, RunContext, Spec, float_dtype

# Klambauer et al. 2017, "Self-Normalizing Neural Networks": SELU's alpha and scale
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def noise_shape_for(noise_shape: tuple | None, shape: Shape, opname: str) -> Shape:
    """The mask's shape: `noise_shape` with None entries taken from the input `shape`; every
    entry must be 1 or the input's size there, so the mask broadcasts to the input."""
    if noise_shape is None:
        return tuple(shape)
    if len(noise_shape) != len(shape):
        raise ValueError(
            f"{opname}: noise_shape={tuple(noise_shape)} has {len(noise_shape)} entries but the "
            f"input has rank {len(shape)} (shape {format_shape(shape)})"
        )
    out = tuple(d if n is None else n for n, d in zip(noise_shape, shape))
    for n, d in zip(out, shape):
        if n not in (1, d) and d is not None:
            raise ValueError(
                f"{opname}: noise_shape={tuple(noise_shape)} does not broadcast to the input "
                f"shape {format_shape(shape)}: each entry must be None, 1 or the input's size"
            )
    return out


class RandomMask(Op):
    """Shared by the dropout family: y = f(x, mask) in training with a freshly drawn mask,
    y = x otherwise. `training` None follows the plan; True or False (an explicit `training=`
    at the layer call) overrides it. `rng` is the op's own Generator (a seeded layer) or None."""

    name = "random_mask"

    def __init__(
        self,
        rate: float,
        noise_shape: tuple | None = None,
        training: bool | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.rate = rate
        self.noise_shape = noise_shape
        self.training = training
        self._rng = rng

    def active(self, training: bool) -> bool:
        """Whether a mask is drawn when the plan's flag is `training`."""
        mode = self.training if self.training is not None else training
        return bool(mode) and self.rate > 0

    def is_view(self, in_shapes: list[tuple], out_shape: tuple, training: bool = False) -> bool:
        return not self.active(training)

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        dtype = float_dtype(dtypes[0])
        return [
            (shapes[0], dtype),
            (noise_shape_for(self.noise_shape, shapes[0], self.name), dtype),
        ]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x, (y, mask) = ins[0], outs
        if not self.active(ctx.training):
            k.copy(x, y)  # an eager call; a plan makes this a view instead
            return
        self.draw(k, x, self._rng if self._rng is not None else ctx.rng, mask, y)

    @abc.abstractmethod
    def draw(self, k: Kernels, x: Any, rng: np.random.Generator, mask: Any, y: Any) -> None:
        """Draws `mask` from `rng` and writes y from x and the mask (training mode)."""


class Dropout(RandomMask):
    """Inverted dropout: mask = 1 / (1 - rate) with probability 1 - rate, else 0; y = x * mask."""

    name = "dropout"

    def draw(self, k: Kernels, x: Any, rng: np.random.Generator, mask: Any, y: Any) -> None:
        if mask.shape == x.shape:
            k.dropout_forward(x, self.rate, rng, mask, y)
        else:
            k.dropout_mask(self.rate, rng, mask)
            k.dropout_apply(x, mask, y)


class AlphaDropout(RandomMask):
    """Keeps SELU's fixed point (mean 0, variance 1): dropped units are set to SELU's negative
    saturation alpha' = -alpha * scale, then y = a * x' + b restores mean and variance
    (Klambauer et al. 2017, eq. 10 and sec. 4). mask = a where kept, else 0 (= dy/dx)."""

    name = "alpha_dropout"

    def constants(self) -> tuple[float, float, float]:
        """(alpha', a, b) for this rate."""
        alpha_p = -SELU_ALPHA * SELU_SCALE
        a = ((1.0 - self.rate) * (1.0 + self.rate * alpha_p**2)) ** -0.5
        return alpha_p, a, -a * alpha_p * self.rate

    def draw(self, k: Kernels, x: Any, rng: np.random.Generator, mask: Any, y: Any) -> None:
        alpha_p, a, b = self.constants()
        if mask.shape == x.shape:
            k.alpha_dropout_forward(x, self.rate, alpha_p, a, b, rng, mask, y)
        else:
            k.alpha_dropout_mask(self.rate, a, rng, mask)
            k.alpha_dropout_apply(x, mask, alpha_p, a * alpha_p + b, y)


class GaussianDropout(RandomMask):
    """y = x * mask with mask ~ N(1, rate / (1 - rate)) elementwise."""

    name = "gaussian_dropout"

    def draw(self, k: Kernels, x: Any, rng: np.random.Generator, mask: Any, y: Any) -> None:
        k.gaussian_dropout_forward(x, math.sqrt(self.rate / (1.0 - self.rate)), rng, mask, y)


class GaussianNoise(RandomMask):
    """y = x + noise with noise ~ N(0, stddev^2) elementwise (output 1 is the noise; the
    gradient is the identity). `rate` is the stddev."""

    name = "gaussian_noise"

    def draw(self, k: Kernels, x: Any, rng: np.random.Generator, mask: Any, y: Any) -> None:
        k.gaussian_noise_forward(x, self.rate, rng, mask, y)


class MaskGrad(Op):
    """dx = dy * mask from inputs (dy, mask), the mask broadcasting to dy; dy itself (a view)
    when the forward op drew no mask."""

    name = "mask_grad"

    def __init__(self, forward_op: RandomMask) -> None:
        self._forward = forward_op

    def is_view(self, in_shapes: list[tuple], out_shape: tuple, training: bool = False) -> bool:
        return not self._forward.active(training)

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[0], dtypes[0])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        if self._forward.active(ctx.training):
            k.dropout_backward(ins[0], ins[1], outs[0])
        else:
            k.copy(ins[0], outs[0])
