"""Normalization layers: BatchNormalization and LayerNormalization."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from graphengine import initializers, ops, regularizers
from graphengine.graph.tensor import format_shape
from graphengine.layers.base import InputSpec, Layer
from graphengine.ops.base import apply, normalize_axis
from graphengine.ops.normalization import BatchNorm, LayerNorm
from graphengine.ops.reduce import normalize_axes


def _check_number(owner: str, name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{owner}: {name} must be in [{low}, {high}], got {name}={value}")
    return float(value)


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

    def _known_dims(self, input_shape: tuple, axes: Sequence[int]) -> tuple[int, ...]:
        dims = tuple(input_shape[a] for a in axes)
        if None in dims:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}): the normalized axes {list(axes)} "
                f"of the input must have known sizes, received shape {format_shape(input_shape)}"
            )
        return dims

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
    """y = gamma * (x - mean) / sqrt(var + epsilon) + beta per channel of `axis`, with the
    batch's statistics in training (updating moving_mean / moving_variance by
    moving = moving * momentum + batch * (1 - momentum), biased variance, as Keras 3) and the
    moving ones at inference. A frozen layer (trainable False) always runs in inference mode.
    Weights: gamma, beta (if scale / center), moving_mean, moving_variance (non-trainable)."""

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
        (channels,) = self._known_dims(input_shape, [axis])
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
    """y = gamma * (x - mean) / sqrt(var + epsilon) + beta with the statistics of each sample
    over `axis` (an int or a list of ints); gamma and beta are shaped like those axes."""

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
        ints = (int, np.integer)
        if isinstance(axis, (list, tuple)) and axis and all(isinstance(a, ints) for a in axis):
            self.axis: int | list[int] = [int(a) for a in axis]
        elif isinstance(axis, ints) and not isinstance(axis, bool):
            self.axis = int(axis)
        else:
            raise TypeError(
                f"LayerNormalization '{self.name}': axis must be an int or a non-empty list of "
                f"ints, got {axis!r}"
            )

    def _axes(self, ndim: int) -> tuple[int, ...]:
        return normalize_axes(self.axis, ndim)

    def build(self, input_shape: tuple) -> None:
        axes = self._axes(len(input_shape))
        dims = self._known_dims(input_shape, axes)
        self._add_affine(dims)
        self.input_spec = InputSpec(ndim=len(input_shape), axes={a: d for a, d in zip(axes, dims)})

    def call(self, inputs: Any) -> Any:
        ndim = len(inputs.shape)
        axes = self._axes(ndim)
        last = tuple(range(ndim - len(axes), ndim))
        # the primitive normalizes trailing axes: move others' choice there and back
        perm = [a for a in range(ndim) if a not in axes] + list(axes)
        x = inputs if axes == last else ops.transpose(inputs, perm)
        gamma, beta = self._affine(tuple(inputs.shape[a] for a in axes))
        y, _, _ = apply(LayerNorm(len(axes), self.epsilon), x, gamma, beta)
        return y if axes == last else ops.transpose(y, np.argsort(perm).tolist())

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}
