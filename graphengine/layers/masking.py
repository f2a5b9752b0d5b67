"""Masking: marks the time steps whose features all equal `mask_value` as padding, for the
mask-aware layers downstream (recurrent layers, GlobalAveragePooling1D), as Keras 3."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from graphengine import ops
from graphengine.layers.base import Layer


def check_mask_value(owner: str, mask_value: Any) -> float:
    """`mask_value` as a float: a real number (a 0-d numeric array too); TypeError otherwise."""
    value = mask_value
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{owner}: mask_value must be a real number, received {mask_value!r} "
            f"({type(mask_value).__name__})"
        )
    return float(value)


class Masking(Layer):
    """A step (index 1 of (N, T, ..., D)) is kept where any of its last-axis features differs
    from `mask_value`; kept steps pass unchanged, the others become 0, and the mask (N, T, ...)
    (True = keep) goes on to the next layers. A NaN mask_value masks nothing (NaN != NaN)."""

    supports_masking = True

    def __init__(self, mask_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mask_value = check_mask_value(f"Masking '{self.name}'", mask_value)

    def _keep(self, inputs: Any, keepdims: bool) -> Any:
        return ops.any(ops.not_equal(inputs, self.mask_value), axis=-1, keepdims=keepdims)

    def call(self, inputs: Any) -> Any:
        zero = np.zeros((), np.dtype(inputs.dtype))
        return ops.where(self._keep(inputs, True), inputs, zero)  # a selection, as Keras

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return self._keep(inputs, False)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """The input's shape: masking changes no shape."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mask_value": self.mask_value}
