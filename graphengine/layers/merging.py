"""Merge layers: Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum."""

from __future__ import annotations

from functools import reduce
from typing import Any

from graphengine import ops
from graphengine.graph.tensor import format_shape
from graphengine.layers.base import Layer
from graphengine.ops.base import broadcast_shapes
from graphengine.tree import flatten


class Merge(Layer):
    """Elementwise merge of a list of inputs of compatible (broadcastable) shapes."""

    n_inputs: int | None = None  # exact count, when the merge needs one

    def build(self, input_shape: Any) -> None:
        if not isinstance(input_shape, list) or len(input_shape) < 2:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) must be called on a list "
                f"of at least 2 inputs, received {input_shape}"
            )
        if self.n_inputs is not None and len(input_shape) != self.n_inputs:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) must be called on exactly "
                f"{self.n_inputs} inputs, received {len(input_shape)}"
            )
        for i, shape in enumerate(input_shape[1:], 1):
            try:
                broadcast_shapes(input_shape[0][1:], shape[1:], type(self).__name__)
            except ValueError:
                raise ValueError(
                    f"Layer '{self.name}' ({type(self).__name__}): inputs have incompatible "
                    "shapes: "
                    f"input 0 has shape {format_shape(input_shape[0])}, input {i} has shape "
                    f"{format_shape(shape)}"
                ) from None

    supports_masking = True

    def call(self, inputs: list) -> Any:
        return reduce(self.merge, inputs)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """A step is kept when every masked input keeps it (Keras's logical and)."""
        masks = [m for m in flatten(mask or []) if m is not None]
        return reduce(ops.multiply, masks) if masks else None

    def merge(self, a: Any, b: Any) -> Any:
        raise NotImplementedError


class Add(Merge):
    def merge(self, a: Any, b: Any) -> Any:
        return ops.add(a, b)


class Subtract(Merge):
    n_inputs = 2

    def merge(self, a: Any, b: Any) -> Any:
        return ops.subtract(a, b)


class Multiply(Merge):
    def merge(self, a: Any, b: Any) -> Any:
        return ops.multiply(a, b)


class Maximum(Merge):
    def merge(self, a: Any, b: Any) -> Any:
        return ops.maximum(a, b)


class Minimum(Merge):
    def merge(self, a: Any, b: Any) -> Any:
        return ops.minimum(a, b)


class Average(Merge):
    def call(self, inputs: list) -> Any:
        return ops.multiply(reduce(ops.add, inputs), 1.0 / len(inputs))


class Concatenate(Layer):
    """Joins inputs along `axis`; every other dimension must match."""

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis

    def build(self, input_shape: Any) -> None:
        if not isinstance(input_shape, list) or len(input_shape) < 2:
            raise ValueError(
                f"Layer '{self.name}' (Concatenate) must be called on a list of at "
                f"least 2 inputs, received {input_shape}"
            )

    def call(self, inputs: list) -> Any:
        return ops.concatenate(inputs, axis=self.axis)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}
