"""Batch, layer and group (also RMS) normalization primitives and their backward ops.

Each saves their statistics as extra outputs (mean, inv_std) for the backward op. BatchNorm is the
one op that writes an input: in training mode it updates the moving statistics in place.
"""

from __future__ import annotations

import copy

import numpy as np

from graphengine.graph.tensor import Shape, format_shape
from graphengine.ops.base import Kernels, Op, RunContext, Spec, float_dtype, normalize_axis


def channel_view(shape: tuple[int, ...], axis: int) -> tuple[int, int, int]:
    """(outer, C, inner): the 3-D view of a C-contiguous array with channels on `axis`."""
    return (int(np.prod(shape[:axis])), shape[axis], int(np.prod(shape[axis + 1 :])))


def _check_vector(shapes: list[Shape], names: tuple[str, ...], want: Shape, opname: str) -> None:
    for i, name in enumerate(names, start=1):
        if tuple(shapes[i]) != tuple(want):
            raise ValueError(
                f"{opname}: {name} (input {i}) must have shape {format_shape(want)} to match "
                f"the input, received {format_shape(shapes[i])}"
            )


class BatchNorm(Op):
    """y = (x - mean) * inv_std * gamma + beta per channel of `axis`. Inputs (x, gamma, beta,
    moving_mean, moving_variance), all but x of shape (C,); outputs (y, mean, inv_std) where
    mean and inv_std = 1 / sqrt(var + epsilon) are the batch statistics in training mode (and
    the moving ones are then updated in place, Keras's rule), the moving statistics otherwise.

    Training mode is `training` when set (an explicit `training=` at the layer call), else the
    running plan's flag; a frozen op (its layer is not trainable) always uses moving statistics.
    """

    name = "batch_norm"
    relu = False  # a plan's fused BatchNormalization -> ReLU (runtime/fusion.py; never saved)

    def __init__(
        self,
        axis: int,
        momentum: float,
        epsilon: float,
        training: bool | None = None,
        frozen: bool = False,
    ) -> None:
        self.axis = axis
        self.momentum = momentum
        self.epsilon = epsilon
        self.training = training
        self.frozen = frozen

    def uses_batch_stats(self, training: bool) -> bool:
        mode = self.training if self.training is not None else training
        return bool(mode) and not self.frozen

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        x = shapes[0]
        axis = normalize_axis(self.axis, len(x))
        _check_vector(
            shapes, ("gamma", "beta", "moving_mean", "moving_variance"), (x[axis],), self.name
        )
        dtype = float_dtype(dtypes[0])
        return [(x, dtype), ((x[axis],), dtype), ((x[axis],), dtype)]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x, gamma, beta, moving_mean, moving_var = ins
        y, mean, inv_std = outs
        view = channel_view(x.shape, self.axis % x.ndim)
        if self.uses_batch_stats(ctx.training):
            k.batchnorm_training_stats(
                x.reshape(view), self.momentum, self.epsilon, moving_mean, moving_var, mean, inv_std
            )
        else:
            k.batchnorm_inference_stats(moving_mean, moving_var, self.epsilon, mean, inv_std)
        k.batchnorm_forward(x.reshape(view), mean, inv_std, gamma, beta, self.relu, y.reshape(view))

    def with_relu(self) -> BatchNorm:
        """This op followed by a plain ReLU, as one pass: y = relu(batch norm of x)."""
        fused = copy.copy(self)
        fused.relu, fused.name = True, "batch_norm_relu"
        return fused


class BatchNormGrad(Op):
    """(dx, dgamma, dbeta) from inputs (x, dy, mean, inv_std, gamma): exact through the batch
    statistics when the forward op used them, the affine map's gradient otherwise. For a forward
    op fused with a ReLU, inputs (x, dy, mean, inv_std, gamma, beta): dy is the cotangent of the
    ReLU's output, counted where the recomputed batch norm is > 0."""

    name = "batch_norm_grad"

    def __init__(self, forward_op: BatchNorm) -> None:
        self.axis = forward_op.axis
        self._forward = forward_op
        self.relu = forward_op.relu
        if self.relu:
            self.name = "batch_norm_relu_grad"

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[0], dtypes[1]), (shapes[4], dtypes[1]), (shapes[4], dtypes[1])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x, dy, mean, inv_std, gamma = ins[:5]
        beta = ins[5] if self.relu else gamma  # read only with a fused ReLU
        dx, dgamma, dbeta = outs
        view = channel_view(x.shape, self.axis % x.ndim)
        batch_stats = self._forward.uses_batch_stats(ctx.training)
        k.batchnorm_backward(
            x.reshape(view),
            dy.reshape(view),
            mean,
            inv_std,
            gamma,
            beta,
            batch_stats,
            self.relu,
            dx.reshape(view),
            dgamma,
            dbeta,
        )


class LayerNorm(Op):
    """y = (x - mean) * inv_std * gamma + beta with statistics over the last `n_axes` axes of x.
    Inputs (x, gamma, beta), gamma and beta shaped like those axes; outputs (y, mean, inv_std),
    the statistics shaped x.shape[:-n_axes]. (The layer moves other axis choices last.)"""

    name = "layer_norm"

    def __init__(self, n_axes: int, epsilon: float) -> None:
        self.n_axes = n_axes
        self.epsilon = epsilon

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        x = shapes[0]
        if not 1 <= self.n_axes <= len(x):
            raise ValueError(
                f"{self.name}: cannot normalize the last {self.n_axes} axes of a tensor of "
                f"shape {format_shape(x)}"
            )
        _check_vector(shapes, ("gamma", "beta"), x[len(x) - self.n_axes :], self.name)
        dtype = float_dtype(dtypes[0])
        stats = x[: len(x) - self.n_axes]
        return [(x, dtype), (stats, dtype), (stats, dtype)]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x, gamma, beta = ins
        y, mean, inv_std = outs
        rows = (mean.size, x.size // max(mean.size, 1))
        k.layernorm_forward(
            x.reshape(rows),
            gamma.reshape(-1),
            beta.reshape(-1),
            self.epsilon,
            y.reshape(rows),
            mean.reshape(-1),
            inv_std.reshape(-1),
        )


class LayerNormGrad(Op):
    """(dx, dgamma, dbeta) from inputs (x, dy, mean, inv_std, gamma), exact through the per-row
    statistics."""

    name = "layer_norm_grad"

    def __init__(self, forward_op: LayerNorm) -> None:
        self.n_axes = forward_op.n_axes

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[0], dtypes[1]), (shapes[4], dtypes[1]), (shapes[4], dtypes[1])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x, dy, mean, inv_std, gamma = ins
        dx, dgamma, dbeta = outs
        rows = (mean.size, x.size // max(mean.size, 1))
        k.layernorm_backward(
            x.reshape(rows),
            dy.reshape(rows),
            mean.reshape(-1),
            inv_std.reshape(-1),
            gamma.reshape(-1),
            dx.reshape(rows),
            dgamma.reshape(-1),
            dbeta.reshape(-1),
        )


def group_view(shape: tuple[int, ...], axis: int) -> tuple[int, int, int, int]:
    """(N, P, C, Q): the 4-D view of a C-contiguous array with samples on axis 0 and channels
    on `axis` (>= 1)."""
    return (shape[0], int(np.prod(shape[1:axis])), shape[axis], int(np.prod(shape[axis + 1 :])))


class GroupNorm(Op):
    """y = (x - mean) * inv_std * gamma + beta with statistics per sample (axis 0) and group of
    `groups` consecutive channels of `axis`, over every other axis; gamma and beta (C,) per
    channel. Outputs (y, mean, inv_std), the statistics (N, groups). Not `centered`: RMS
    normalization, mean 0 and inv_std = 1 / sqrt(mean(x^2) + epsilon)."""

    name = "group_norm"

    def __init__(self, groups: int, axis: int, epsilon: float, centered: bool = True) -> None:
        self.groups = groups
        self.axis = axis
        self.epsilon = epsilon
        self.centered = centered

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        x = shapes[0]
        axis = normalize_axis(self.axis, len(x))
        channels = x[axis]
        if axis == 0 or channels is None or channels % self.groups:
            raise ValueError(
                f"{self.name}: cannot split axis {self.axis} of a tensor of shape "
                f"{format_shape(x)} into {self.groups} groups of channels (axis 0 is the batch)"
            )
        _check_vector(shapes, ("gamma", "beta"), (channels,), self.name)
        dtype = float_dtype(dtypes[0])
        stats = (x[0], self.groups)
        return [(x, dtype), (stats, dtype), (stats, dtype)]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x, gamma, beta = ins
        y, mean, inv_std = outs
        view = group_view(x.shape, self.axis % x.ndim)
        k.groupnorm_forward(
            x.reshape(view),
            gamma,
            beta,
            self.epsilon,
            self.centered,
            y.reshape(view),
            mean,
            inv_std,
        )


class GroupNormGrad(Op):
    """(dx, dgamma, dbeta) from inputs (x, dy, mean, inv_std, gamma), exact through the
    per-group statistics."""

    name = "group_norm_grad"

    def __init__(self, forward_op: GroupNorm) -> None:
        self.axis = forward_op.axis
        self.centered = forward_op.centered

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[0], dtypes[1]), (shapes[4], dtypes[1]), (shapes[4], dtypes[1])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x, dy, mean, inv_std, gamma = ins
        dx, dgamma, dbeta = outs
        view = group_view(x.shape, self.axis % x.ndim)
        k.groupnorm_backward(
            x.reshape(view),
            dy.reshape(view),
            mean,
            inv_std,
            gamma,
            self.centered,
            dx.reshape(view),
            dgamma,
            dbeta,
        )
