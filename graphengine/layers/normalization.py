"""Normalization layers: BatchNormalization, LayerNormalization, GroupNormalization,
RMSNormalization and UnitNormalization."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from graphengine import initializers, ops, regularizers
from graphengine.graph.tensor import format_shape
from graphengine.layers.base import InputSpec, Layer
from graphengine.ops.base import apply, normalize_axis
from graphengine.ops.normalization import BatchNorm, GroupNorm, LayerNorm
from graphengine.ops.reduce import normalize_axes
from graphengine.ops.shape_ops import Reshape


def _check_number(owner: str, name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{owner}: {name} must be in [{low}, {high}], got {name}={value}")
    return float(value)


def _check_axis(owner: str, axis: Any, lists: bool = True) -> int | list[int]:
    """An int axis, or (with `lists`) a non-empty list of ints; TypeError otherwise."""
    ints = (int, np.integer)
    if (
        lists
        and isinstance(axis, (list, tuple))
        and axis
        and all(isinstance(a, ints) for a in axis)
    ):
        return [int(a) for a in axis]
    if isinstance(axis, ints) and not isinstance(axis, bool):
        return int(axis)
    kinds = "an int or a non-empty list of ints" if lists else "an int"
    raise TypeError(f"{owner}: axis must be {kinds}, got {axis!r}")


def _layer_axes(layer: Layer, axis: Any, input_shape: tuple) -> tuple[int, ...]:
    """`axis` (an int or list) as sorted non-negative axes of `input_shape`, with an error naming
    the layer when one is out of range or repeated."""
    try:
        return normalize_axes(axis, len(input_shape))
    except ValueError as err:
        raise ValueError(
            f"Layer '{layer.name}' ({type(layer).__name__}): axis={axis} does not fit an input of "
            f"shape {format_shape(input_shape)} ({err})"
        ) from None


def _on_trailing_axes(x: Any, axes: tuple[int, ...], fn: Any) -> Any:
    """fn applied to x with `axes` moved last (a transpose, only where they are not already),
    and the result moved back: the normalization primitives normalize trailing axes."""
    ndim = len(x.shape)
    if axes == tuple(range(ndim - len(axes), ndim)):
        return fn(x)
    perm = [a for a in range(ndim) if a not in axes] + list(axes)
    return ops.transpose(fn(ops.transpose(x, perm)), np.argsort(perm).tolist())


def _known_dims(layer: Layer, input_shape: tuple, axes: Sequence[int]) -> tuple[int, ...]:
    """The sizes of `axes` in `input_shape`, which must be known (they shape the weights)."""
    dims = tuple(input_shape[a] for a in axes)
    if None in dims:
        raise ValueError(
            f"Layer '{layer.name}' ({type(layer).__name__}): the normalized axes {list(axes)} "
            f"of the input must have known sizes, received shape {format_shape(input_shape)}"
        )
    return dims


class _Affine(Layer):
    """What both normalizations share: the gamma / beta options and their configs."""

    supports_masking = True

    def __init__(
        self,
        epsilon: float,
        center: bool,
        scale: bool,
        beta_initializer: Any,
        gamma_initializer: Any,
        beta_regularizer: Any,
        gamma_regularizer: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = f"{type(self).__name__} '{self.name}'"
        self.epsilon = _check_number(owner, "epsilon", epsilon, 0.0, float("inf"))
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.gamma = self.beta = None

    def _add_affine(self, shape: tuple[int, ...]) -> None:
        if self.scale:
            self.gamma = self.add_weight(
                shape, self.gamma_initializer, regularizer=self.gamma_regularizer, name="gamma"
            )
        if self.center:
            self.beta = self.add_weight(
                shape, self.beta_initializer, regularizer=self.beta_regularizer, name="beta"
            )

    def _affine(self, shape: tuple[int, ...]) -> tuple[Any, Any]:
        """gamma and beta, or the constants 1 and 0 where scale / center are off."""
        gamma = self.gamma if self.gamma is not None else np.ones(shape, self.dtype)
        beta = self.beta if self.beta is not None else np.zeros(shape, self.dtype)
        return gamma, beta

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
        }


class BatchNormalization(_Affine):
    """Layer that normalizes its inputs.

    Batch normalization applies a transformation that keeps the mean output close to 0 and the
    output standard deviation close to 1: `gamma * (x - mean) / sqrt(var + epsilon) + beta`
    per channel of `axis`.

    **During training** (in `fit`, or called with `training=True`) it uses the mean and
    variance of the current batch (the biased variance, as Keras 3) and updates
    `moving = moving * momentum + batch * (1 - momentum)`. **During inference** (predict,
    evaluate, `model(x)`) it uses the moving statistics. A frozen layer (`trainable=False`)
    always runs in inference mode, as in Keras 3, which is what fine-tuning needs.

    Weights: gamma, beta (with `scale` / `center`), then moving_mean and moving_variance
    (non-trainable), each `(channels,)`.

    Example:

    >>> x = ge.Input(shape=(8, 8, 16))
    >>> bn = ge.layers.BatchNormalization()
    >>> bn(x).shape, [w.shape for w in bn.weights]
    ((None, 8, 8, 16), [(16,), (16,), (16,), (16,)])

    Args:
        axis: Integer, the axis that should be normalized (typically the features axis;
            default -1, the channels of channels-last data).
        momentum: Momentum for the moving average (default 0.99).
        epsilon: Small float added to the variance to avoid dividing by zero (default 1e-3).
        center: If True, add offset of `beta` to normalized tensor. If False, `beta` is
            ignored.
        scale: If True, multiply by `gamma`. If False, `gamma` is not used.
        beta_initializer: Initializer for the beta weight (default `"zeros"`).
        gamma_initializer: Initializer for the gamma weight (default `"ones"`).
        moving_mean_initializer: Initializer for the moving mean (default `"zeros"`).
        moving_variance_initializer: Initializer for the moving variance (default `"ones"`).
        beta_regularizer: Optional regularizer for the beta weight.
        gamma_regularizer: Optional regularizer for the gamma weight.
        **kwargs: Standard layer keyword arguments. `synchronized`, `renorm` and weight
            constraints are not supported.

    Call arguments:
        inputs: Input tensor (of any rank).
        training: Whether to normalize with the batch's statistics (True) or the moving ones
            (False); default: the mode of the running plan (fit trains, predict infers).

    Input shape:
        Arbitrary; the `axis` size must be known.

    Output shape:
        Same shape as input."""

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        moving_mean_initializer: Any = "zeros",
        moving_variance_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            epsilon,
            center,
            scale,
            beta_initializer,
            gamma_initializer,
            beta_regularizer,
            gamma_regularizer,
            **kwargs,
        )
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"BatchNormalization '{self.name}': axis must be an int, got {axis!r}")
        self.axis = int(axis)
        owner = f"BatchNormalization '{self.name}'"
        self.momentum = _check_number(owner, "momentum", momentum, 0.0, 1.0)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)

    def build(self, input_shape: tuple) -> None:
        axis = normalize_axis(self.axis, len(input_shape))
        (channels,) = _known_dims(self, input_shape, [axis])
        self._add_affine((channels,))
        self.moving_mean = self.add_weight(
            (channels,), self.moving_mean_initializer, trainable=False, name="moving_mean"
        )
        self.moving_variance = self.add_weight(
            (channels,),
            self.moving_variance_initializer,
            trainable=False,
            name="moving_variance",
        )
        self.input_spec = InputSpec(ndim=len(input_shape), axes={axis: channels})

    @Layer.trainable.setter
    def trainable(self, value: bool) -> None:
        """Freezing switches the layer to inference mode, in graphs already built too."""
        Layer.trainable.fset(self, value)
        for call in self._calls:
            for node in call.nodes:
                if isinstance(node.op, BatchNorm):
                    node.op.frozen = not self.trainable

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        gamma, beta = self._affine(self.moving_mean.shape)
        op = BatchNorm(
            self.axis, self.momentum, self.epsilon, training=training, frozen=not self.trainable
        )
        y, _, _ = apply(op, inputs, gamma, beta, self.moving_mean, self.moving_variance)
        return y

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
        }


class LayerNormalization(_Affine):
    """Layer normalization layer (Ba et al., 2016).

    Normalizes the activations of the previous layer for each given example in a batch
    independently, rather than across a batch like Batch Normalization:
    `gamma * (x - mean) / sqrt(var + epsilon) + beta`, with the mean and variance of each
    sample over `axis`. It behaves the same in training and inference. The forward pass and
    its gradient are fused kernels.

    Weights: gamma, beta (with `scale` / `center`), shaped like the normalized axes.

    Example:

    >>> x = ge.Input(shape=(10, 64))
    >>> ge.layers.LayerNormalization()(x).shape
    (None, 10, 64)

    Args:
        axis: Integer or list of integers, the axis or axes to normalize across (default -1,
            the features axis).
        epsilon: Small float added to variance to avoid dividing by zero (default 1e-3).
        center: If True, add offset of `beta` to normalized tensor.
        scale: If True, multiply by `gamma`.
        beta_initializer: Initializer for the beta weight (default `"zeros"`).
        gamma_initializer: Initializer for the gamma weight (default `"ones"`).
        beta_regularizer: Optional regularizer for the beta weight.
        gamma_regularizer: Optional regularizer for the gamma weight.
        **kwargs: Standard layer keyword arguments. `rms_scaling` and weight constraints are
            not supported (`ge.layers.RMSNormalization` is the RMS form).

    Input shape:
        Arbitrary; the normalized axes must have known sizes.

    Output shape:
        Same shape as input."""

    def __init__(
        self,
        axis: int | Sequence[int] = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            epsilon,
            center,
            scale,
            beta_initializer,
            gamma_initializer,
            beta_regularizer,
            gamma_regularizer,
            **kwargs,
        )
        self.axis = _check_axis(f"LayerNormalization '{self.name}'", axis)

    def _axes(self, ndim: int) -> tuple[int, ...]:
        return normalize_axes(self.axis, ndim)

    def build(self, input_shape: tuple) -> None:
        axes = self._axes(len(input_shape))
        dims = _known_dims(self, input_shape, axes)
        self._add_affine(dims)
        self.input_spec = InputSpec(ndim=len(input_shape), axes={a: d for a, d in zip(axes, dims)})

    def call(self, inputs: Any) -> Any:
        axes = self._axes(len(inputs.shape))
        gamma, beta = self._affine(tuple(inputs.shape[a] for a in axes))
        op = LayerNorm(len(axes), self.epsilon)
        return _on_trailing_axes(inputs, axes, lambda x: apply(op, x, gamma, beta)[0])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


class GroupNormalization(_Affine):
    """Group normalization (Wu & He 2018): the channels of `axis` split into `groups` groups of
    consecutive channels, each sample's group normalized over its channels and every other
    non-batch axis, then gamma and beta (C,) per channel. groups=-1: one group per channel
    (instance normalization); groups=1: layer normalization over all axes but the batch."""

    def __init__(
        self,
        groups: int = 32,
        axis: int = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            epsilon,
            center,
            scale,
            beta_initializer,
            gamma_initializer,
            beta_regularizer,
            gamma_regularizer,
            **kwargs,
        )
        owner = f"GroupNormalization '{self.name}'"
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)):
            raise TypeError(f"{owner}: groups must be an int, got {groups!r}")
        if groups <= 0 and groups != -1:
            raise ValueError(
                f"{owner}: groups must be a positive int, or -1 for one group per channel "
                f"(instance normalization), got groups={groups}"
            )
        self.groups = int(groups)
        self.axis = _check_axis(owner, axis, lists=False)
        for name, value in (
            ("beta_constraint", beta_constraint),
            ("gamma_constraint", gamma_constraint),
        ):
            if value is not None:
                raise NotImplementedError(
                    f"{owner}: {name}={value!r} is not supported (graphengine has no weight "
                    "constraints)"
                )
        self._groups = self.groups

    def build(self, input_shape: tuple) -> None:
        (axis,) = _layer_axes(self, self.axis, input_shape)
        if axis == 0:
            raise ValueError(
                f"Layer '{self.name}' (GroupNormalization): axis={self.axis} is the batch axis "
                f"of input shape {format_shape(input_shape)}; groups are taken along a channel "
                "axis"
            )
        (channels,) = _known_dims(self, input_shape, [axis])
        groups = channels if self.groups == -1 else self.groups
        if channels % groups:
            raise ValueError(
                f"Layer '{self.name}' (GroupNormalization): groups={groups} must divide the "
                f"{channels} channels of axis {self.axis} (input shape "
                f"{format_shape(input_shape)})"
            )
        self._groups = groups
        self._add_affine((channels,))
        self.input_spec = InputSpec(ndim=len(input_shape), axes={axis: channels})

    def call(self, inputs: Any) -> Any:
        gamma, beta = self._affine((inputs.shape[self.axis],))
        y, _, _ = apply(GroupNorm(self._groups, self.axis, self.epsilon), inputs, gamma, beta)
        return y

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "groups": self.groups,
            "axis": self.axis,
            "beta_constraint": None,
            "gamma_constraint": None,
        }


class RMSNormalization(Layer):
    """y = x / sqrt(mean(x^2) + epsilon) * scale with the mean over `axis` (an int or a list of
    ints) of each sample (Zhang & Sennrich 2019), as Keras 3.15: no centering, no offset, one
    weight `scale` shaped like those axes (initialized to ones)."""

    supports_masking = True

    def __init__(self, axis: int | Sequence[int] = -1, epsilon: float = 1e-6, **kwargs: Any):
        super().__init__(**kwargs)
        owner = f"RMSNormalization '{self.name}'"
        self.axis = _check_axis(owner, axis)
        self.epsilon = _check_number(owner, "epsilon", epsilon, 0.0, float("inf"))

    def build(self, input_shape: tuple) -> None:
        axes = _layer_axes(self, self.axis, input_shape)
        dims = _known_dims(self, input_shape, axes)
        self.scale = self.add_weight(dims, "ones", name="scale")
        self.input_spec = InputSpec(ndim=len(input_shape), axes={a: d for a, d in zip(axes, dims)})

    def call(self, inputs: Any) -> Any:
        axes = _layer_axes(self, self.axis, inputs.shape)
        n = int(np.prod(self.scale.shape))
        op = GroupNorm(1, -1, self.epsilon, centered=False)
        scale, zeros = ops.reshape(self.scale, (n,)), np.zeros(n, self.dtype)

        def rms(x: Any) -> Any:  # rows of the n normalized values: one group each
            y, _, _ = apply(op, ops.reshape(x, (-1, n)), scale, zeros)
            return apply(Reshape(), y, x)

        return _on_trailing_axes(inputs, axes, rms)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}


class UnitNormalization(Layer):
    """x / max(||x||, 1e-12) with the L2 norm over `axis` (an int or a list of ints) of each
    sample, as Keras 3's x * min(rsqrt(sum(x^2)), 1e12). Written as x / sqrt(max(sum(x^2),
    1e-24)) so that an all-zero vector gets the gradient dy * 1e12, not NaN."""

    supports_masking = True
    EPSILON = 1e-12

    def __init__(self, axis: int | Sequence[int] = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = _check_axis(f"UnitNormalization '{self.name}'", axis)

    def build(self, input_shape: tuple) -> None:
        _layer_axes(self, self.axis, input_shape)

    def call(self, inputs: Any) -> Any:
        axes = _layer_axes(self, self.axis, inputs.shape)
        squares = ops.sum(ops.square(inputs), axis=axes, keepdims=True)
        return ops.divide(inputs, ops.sqrt(ops.maximum(squares, self.EPSILON**2)))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}
