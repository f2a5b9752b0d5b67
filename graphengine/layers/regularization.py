"""Regularization layers: Dropout, SpatialDropout1D/2D/3D, AlphaDropout, GaussianDropout,
GaussianNoise. Identity at inference; in training a random mask drawn from the layer's own
generator when it has a `seed` (the same seed, the same masks), else from the running plan's."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from graphengine import common
from graphengine.layers.base import InputSpec, Layer
from graphengine.ops import regularization as reg
from graphengine.ops.base import apply, is_symbolic


def seed_generator(layer: Layer, seed: Any) -> tuple[int | None, np.random.Generator | None]:
    """(seed, its generator) of a layer that draws random numbers: a seeded layer draws the same
    sequence every run, an unseeded one (None, None) draws from the running plan's generator."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(
            f"{type(layer).__name__} '{layer.name}': seed must be an int or None, got {seed!r}"
        )
    return (None, None) if seed is None else (int(seed), np.random.default_rng(int(seed)))


class _RandomLayer(Layer):
    """The shared machinery: the seed and its generator, argument checks, and the call."""

    supports_masking = True
    op_class: type[reg.RandomMask] = reg.Dropout
    amount_name = "rate"  # the attribute holding the op's first argument

    def __init__(self, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seed, self._rng = seed_generator(self, seed)

    def _check_rate(self, name: str, value: Any, closed: bool = False) -> float:
        """A float in [0, 1) ([0, 1] if `closed`): rate 1 would drop everything and divide by 0."""
        owner = f"{type(self).__name__} '{self.name}'"
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{owner}: {name} must be a float, got {value!r}")
        if not (0.0 <= value <= 1.0 if closed else 0.0 <= value < 1.0):
            interval = "[0, 1]" if closed else "[0, 1)"
            raise ValueError(f"{owner}: {name} must be in {interval}, got {name}={value}")
        return float(value)

    def _amount(self) -> float:
        """The op's first argument: the drop rate (the stddev for GaussianNoise)."""
        return getattr(self, self.amount_name)

    def _noise_shape(self) -> tuple | None:
        return None

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        rng = self._rng
        if rng is None and not is_symbolic(inputs):
            rng = common.rng()  # eager calls: reproducible under ge.utils.set_random_seed
        op = self.op_class(self._amount(), self._noise_shape(), training, rng)
        y, _ = apply(op, inputs)
        return y

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), self.amount_name: self._amount(), "seed": self.seed}


class Dropout(_RandomLayer):
    """Applies dropout to the input.

    The Dropout layer randomly sets input units to 0 with a frequency of `rate` at each step
    during training time, which helps prevent overfitting. Inputs not set to 0 are scaled up
    by `1 / (1 - rate)` such that the sum over all inputs is unchanged in expectation.

    Note that the Dropout layer only applies when `training` is True: in `fit`, or when called
    with `training=True`. `predict`, `evaluate` and `model(x)` pass values through unchanged.

    Example:

    >>> ge.layers.Dropout(0.5)(np.ones((2, 3), "float32"))
    array([[1., 1., 1.],
           [1., 1., 1.]], dtype=float32)

    Args:
        rate: Float between 0 and 1 (1 excluded). Fraction of the input units to drop.
        noise_shape: 1D integer tuple representing the shape of the binary dropout mask that
            will be multiplied with the input (None entries take the input's size). For
            instance, if your inputs have shape `(batch_size, timesteps, features)` and you
            want the dropout mask to be the same for all timesteps, you can use
            `noise_shape=(batch_size, 1, features)`.
        seed: A Python integer to use as random seed: the layer then draws from its own
            generator (on the CPU and on CUDA alike); otherwise from the running plan's,
            seeded by `ge.utils.set_random_seed`.
        **kwargs: Standard layer keyword arguments.

    Call arguments:
        inputs: Input tensor (of any rank).
        training: Whether to drop (True) or pass through (False); default: the mode of the
            running plan (fit trains, predict infers)."""

    def __init__(
        self,
        rate: float,
        noise_shape: Sequence[int | None] | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(seed, **kwargs)
        self.rate = self._check_rate("rate", rate)
        self.noise_shape = self._check_noise_shape(noise_shape)

    def _check_noise_shape(self, noise_shape: Any) -> tuple | None:
        if noise_shape is None:
            return None
        owner = f"{type(self).__name__} '{self.name}'"
        if isinstance(noise_shape, str) or not isinstance(noise_shape, (list, tuple)):
            raise ValueError(
                f"{owner}: noise_shape must be a tuple of ints or None, got {noise_shape!r}"
            )
        for i, d in enumerate(noise_shape):
            if d is not None and (
                isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d <= 0
            ):
                raise ValueError(
                    f"{owner}: noise_shape entries must be positive ints or None, got "
                    f"{d!r} at index {i} of noise_shape={tuple(noise_shape)}"
                )
        return tuple(None if d is None else int(d) for d in noise_shape)

    def _noise_shape(self) -> tuple | None:
        return self.noise_shape

    def get_config(self) -> dict[str, Any]:
        shape = None if self.noise_shape is None else list(self.noise_shape)
        return {**super().get_config(), "noise_shape": shape}


class SpatialDropout1D(_RandomLayer):
    """Dropout of whole channels of (N, T, C) inputs: one draw per sample and channel."""

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        # Keras spells the default name "spatial_dropout1d" (not snake_case's "..1_d")
        kwargs["name"] = kwargs.get("name") or common.unique_name("spatial_dropout1d")
        super().__init__(seed, **kwargs)
        self.rate = self._check_rate("rate", rate)
        self.input_spec = InputSpec(ndim=3)

    def _noise_shape(self) -> tuple | None:
        return (None, 1, None)


class _SpatialDropout(_RandomLayer):
    """Dropout of whole feature maps of (N, *spatial, C) inputs (channels_first: (N, C,
    *spatial)): one draw per sample and channel. Subclasses set `rank`, the spatial axes."""

    rank = 2

    def __init__(
        self,
        rate: float,
        data_format: str | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        # Keras spells the default names "spatial_dropout2d" / "..3d" (not snake_case's "..2_d")
        kwargs["name"] = kwargs.get("name") or common.unique_name(f"spatial_dropout{self.rank}d")
        super().__init__(seed, **kwargs)
        self.rate = self._check_rate("rate", rate)
        fmt = "channels_last" if data_format is None else str(data_format).lower()
        if fmt not in ("channels_last", "channels_first"):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': data_format must be 'channels_last' or "
                f"'channels_first', got {data_format!r}"
            )
        self.data_format = fmt
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def _noise_shape(self) -> tuple | None:
        ones = (1,) * self.rank
        if self.data_format == "channels_last":
            return (None, *ones, None)
        return (None, None, *ones)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format}


class SpatialDropout2D(_SpatialDropout):
    """Dropout of whole feature maps of (N, H, W, C) inputs (channels_first: (N, C, H, W))."""

    rank = 2


class SpatialDropout3D(_SpatialDropout):
    """Dropout of whole feature volumes of (N, D, H, W, C) inputs (channels_first:
    (N, C, D, H, W))."""

    rank = 3


class AlphaDropout(Dropout):
    """Dropout that keeps SELU's self-normalizing mean and variance: dropped units take SELU's
    negative saturation value, then an affine map restores mean 0 and variance 1."""

    op_class = reg.AlphaDropout


class GaussianDropout(_RandomLayer):
    """Multiplies inputs by noise ~ N(1, rate / (1 - rate)), in training only."""

    op_class = reg.GaussianDropout

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(seed, **kwargs)
        self.rate = self._check_rate("rate", rate)


class GaussianNoise(_RandomLayer):
    """Adds noise ~ N(0, stddev^2), in training only (stddev in [0, 1], as Keras)."""

    op_class = reg.GaussianNoise
    amount_name = "stddev"

    def __init__(self, stddev: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(seed, **kwargs)
        self.stddev = self._check_rate("stddev", stddev, closed=True)
