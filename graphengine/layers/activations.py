"""Activation layers: ReLU, LeakyReLU, PReLU, ELU, Softmax, RReLU."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from graphengine import common, initializers, ops, regularizers
from graphengine.layers.base import Layer
from graphengine.layers.regularization import _RandomLayer
from graphengine.ops import activations
from graphengine.ops.base import apply, is_symbolic
from graphengine.ops.rrelu import RReLU as RReLUOp


class ReLU(Layer):
    """max_value if x >= max_value; x if threshold <= x < max_value; else
    negative_slope * (x - threshold)."""

    supports_masking = True

    def __init__(
        self,
        max_value: float | None = None,
        negative_slope: float = 0.0,
        threshold: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for arg, value in (
            ("max_value", max_value),
            ("negative_slope", negative_slope),
            ("threshold", threshold),
        ):
            if value is not None and value < 0:
                raise ValueError(f"ReLU '{self.name}': {arg} must be >= 0, got {value}")
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def call(self, inputs: Any) -> Any:
        return ops.relu(inputs, self.negative_slope, self.max_value, self.threshold)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "max_value": self.max_value,
            "negative_slope": self.negative_slope,
            "threshold": self.threshold,
        }


class LeakyReLU(Layer):
    """x for x >= 0, negative_slope * x otherwise (Keras 3 layer default 0.3; `alpha` is the
    legacy name)."""

    supports_masking = True

    def __init__(
        self, negative_slope: float = 0.3, alpha: float | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.negative_slope = float(alpha if alpha is not None else negative_slope)
        if self.negative_slope < 0:
            raise ValueError(
                f"LeakyReLU '{self.name}': negative_slope must be >= 0, got {self.negative_slope}"
            )

    def call(self, inputs: Any) -> Any:
        return activations.leaky_relu(inputs, self.negative_slope)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "negative_slope": self.negative_slope}


class PReLU(Layer):
    """relu(x) - alpha * relu(-x) with a learned alpha shaped like the input without the batch
    axis, size 1 on `shared_axes` (counted from 1, as Keras)."""

    supports_masking = True

    def __init__(
        self,
        alpha_initializer: Any = "zeros",
        alpha_regularizer: Any = None,
        shared_axes: Sequence[int] | int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        if shared_axes is None:
            self.shared_axes = None
        else:
            self.shared_axes = [int(shared_axes)] if np.isscalar(shared_axes) else list(shared_axes)

    def build(self, input_shape: tuple) -> None:
        shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            if not 1 <= axis <= len(shape):
                raise ValueError(
                    f"PReLU '{self.name}': shared axis {axis} is out of range for "
                    f"input shape {tuple(input_shape)} (axes count from 1)"
                )
            shape[axis - 1] = 1
        if any(d is None for d in shape):
            raise ValueError(
                f"PReLU '{self.name}': alpha needs every non-shared input dimension "
                f"known, received shape {tuple(input_shape)}"
            )
        self.alpha = self.add_weight(
            tuple(shape), self.alpha_initializer, regularizer=self.alpha_regularizer, name="alpha"
        )

    def call(self, inputs: Any) -> Any:
        negative = ops.multiply(ops.negative(self.alpha), ops.relu(ops.negative(inputs)))
        return ops.add(ops.relu(inputs), negative)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "alpha_initializer": initializers.serialize(self.alpha_initializer),
            "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
            "shared_axes": self.shared_axes,
        }


class ELU(Layer):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""

    supports_masking = True

    def __init__(self, alpha: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def call(self, inputs: Any) -> Any:
        return activations.elu(inputs, self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(Layer):
    """Softmax along `axis`."""

    supports_masking = True

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs: Any) -> Any:
        return ops.softmax(inputs, axis=self.axis)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


class RReLU(_RandomLayer):
    """Randomized leaky ReLU (Xu et al. 2015), as torch.nn.RReLU: x for x > 0, else a * x with
    a drawn uniformly from [lower, upper) for each element in training (from the layer's own
    generator when it has a `seed`, as the dropouts), and the fixed a = (lower + upper) / 2 at
    inference. The gradient is the slope used. Keras has no RReLU; the defaults are PyTorch's."""

    amount_name = "lower"

    def __init__(
        self,
        lower: float = 1.0 / 8.0,
        upper: float = 1.0 / 3.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(seed, **kwargs)
        self.lower = self._check_rate("lower", lower, closed=True)
        self.upper = self._check_rate("upper", upper, closed=True)
        if self.lower > self.upper:
            raise ValueError(
                f"RReLU '{self.name}': lower must not exceed upper, got lower={self.lower}, "
                f"upper={self.upper}"
            )

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        rng = self._rng
        if rng is None and not is_symbolic(inputs):
            rng = common.rng()  # eager calls: reproducible under ge.utils.set_random_seed
        y, _ = apply(RReLUOp(self.lower, self.upper, training, rng), inputs)
        return y

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "upper": self.upper}
