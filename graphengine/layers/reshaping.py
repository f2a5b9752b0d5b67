"""Reshaping layers: Reshape, Flatten, Permute, RepeatVector."""

from __future__ import annotations

from typing import Any, Sequence

from graphengine import ops
from graphengine.layers.base import InputSpec, Layer
from graphengine.ops.base import apply
from graphengine.ops.shape_ops import Reshape as ReshapeOp


class Reshape(Layer):
    """Layer that reshapes inputs into the given shape.

    Each sample is reshaped to `target_shape` (a view, no copy); the batch axis is kept. One
    entry may be -1: it is inferred from the input's size. A target whose size does not match
    the input's raises a ValueError naming the layer and both shapes.

    Example:

    >>> x = ge.Input(shape=(12,))
    >>> ge.layers.Reshape((3, 4))(x).shape
    (None, 3, 4)
    >>> ge.layers.Reshape((-1, 2, 2))(x).shape
    (None, 3, 2, 2)

    Args:
        target_shape: Target shape. Tuple of integers, does not include the samples
            dimension (batch size).
        **kwargs: Standard layer keyword arguments.

    Input shape:
        Arbitrary, the sizes after the batch axis known.

    Output shape:
        `(batch_size, *target_shape)`."""

    def __init__(self, target_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if self.target_shape.count(-1) > 1 or any(d < -1 for d in self.target_shape):
            raise ValueError(
                f"Reshape '{self.name}': target_shape {self.target_shape} may hold "
                "positive sizes and at most one -1"
            )

    def call(self, inputs: Any) -> Any:
        return apply(ReshapeOp((None,) + self.target_shape), inputs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Flatten(Layer):
    """Flattens the input. Does not affect the batch size.

    `(batch, d1, d2, ...)` becomes `(batch, d1 * d2 * ...)`; data is channels-last, so
    nothing is reordered (a view, no copy). A 1-D input `(batch,)` becomes `(batch, 1)`.

    Example:

    >>> x = ge.Input(shape=(10, 64))
    >>> ge.layers.Flatten()(x).shape
    (None, 640)

    Args:
        data_format: `"channels_last"` or None (the same); `"channels_first"` is not
            supported.
        **kwargs: Standard layer keyword arguments.

    Input shape:
        `(batch_size, ...)`, the sizes after the batch axis known.

    Output shape:
        `(batch_size, product of the other sizes)`."""

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(
                f"Flatten '{self.name}': only data_format='channels_last' is "
                f"supported, got {data_format!r}"
            )
        self.data_format = data_format
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, inputs: Any) -> Any:
        return apply(ReshapeOp((None, -1)), inputs)


class Permute(Layer):
    """Permutes the non-batch axes: `dims` is a permutation of 1..rank-1."""

    def __init__(self, dims: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(
                f"Permute '{self.name}': dims must be a permutation of "
                f"1..{len(self.dims)} (the batch axis is not permuted), got {self.dims}"
            )
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)

    def call(self, inputs: Any) -> Any:
        return ops.transpose(inputs, (0,) + self.dims)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "dims": list(self.dims)}


class RepeatVector(Layer):
    """(N, F) -> (N, n, F), repeating each sample n times."""

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if int(n) <= 0:
            raise ValueError(f"RepeatVector '{self.name}': n must be positive, got {n}")
        self.n = int(n)
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs: Any) -> Any:
        return ops.broadcast_to(ops.expand_dims(inputs, 1), (None, self.n, None))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n": self.n}
