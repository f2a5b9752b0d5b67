"""Merge layers: Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum, Dot, and their
function forms (`ge.layers.add(inputs)`, ...), as in keras.layers."""

from __future__ import annotations

from functools import reduce
from typing import Any, Sequence

import numpy as np

from graphengine import ops
from graphengine.graph.tensor import format_shape
from graphengine.layers.base import Layer
from graphengine.ops.base import broadcast_shapes
from graphengine.tree import flatten, shape_of


class Merge(Layer):
    """Elementwise merge of a list of inputs of compatible (broadcastable) shapes."""

    n_inputs: int | None = None  # exact count, when the merge needs one

    def build(self, input_shape: Any) -> None:
        self._check_count(input_shape)
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

    def _check_count(self, input_shape: Any) -> None:
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

    supports_masking = True

    def call(self, inputs: list) -> Any:
        """Folds `merge` over the list of inputs, left to right."""
        return reduce(self.merge, inputs)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """A step is kept when every masked input keeps it (Keras's logical and)."""
        masks = [m for m in flatten(mask or []) if m is not None]
        return reduce(ops.multiply, masks) if masks else None

    def merge(self, a: Any, b: Any) -> Any:
        """The elementwise merge of two tensors; each subclass says which."""
        raise NotImplementedError


class Add(Merge):
    """Adds a list of inputs elementwise.

    It takes a list of at least two tensors of the same shape (or shapes that broadcast,
    batch axis aside) and returns one tensor of that shape, their sum. Masks are combined
    with a logical and.

    Example:

    >>> x1 = ge.Input(shape=(16,))
    >>> x2 = ge.Input(shape=(16,))
    >>> ge.layers.Add()([x1, x2]).shape
    (None, 16)

    Args:
        **kwargs: Standard layer keyword arguments (`name`, `dtype`, `trainable`).

    Call arguments:
        inputs: A list of at least 2 tensors.

    Output shape:
        The inputs' broadcast shape.
    """

    def merge(self, a: Any, b: Any) -> Any:
        return ops.add(a, b)


class Subtract(Merge):
    """Subtracts two inputs elementwise: `inputs[0] - inputs[1]`, of the same (or broadcastable)
    shapes."""

    n_inputs = 2

    def merge(self, a: Any, b: Any) -> Any:
        return ops.subtract(a, b)


class Multiply(Merge):
    """Multiplies a list of inputs elementwise (same or broadcastable shapes)."""

    def merge(self, a: Any, b: Any) -> Any:
        return ops.multiply(a, b)


class Maximum(Merge):
    """The elementwise maximum of a list of inputs (same or broadcastable shapes); NaN
    propagates."""

    def merge(self, a: Any, b: Any) -> Any:
        return ops.maximum(a, b)


class Minimum(Merge):
    """The elementwise minimum of a list of inputs (same or broadcastable shapes); NaN
    propagates."""

    def merge(self, a: Any, b: Any) -> Any:
        return ops.minimum(a, b)


class Average(Merge):
    """The elementwise mean of a list of inputs (same or broadcastable shapes)."""

    def call(self, inputs: list) -> Any:
        """The sum of the inputs divided by their count."""
        return ops.multiply(reduce(ops.add, inputs), 1.0 / len(inputs))


class Concatenate(Layer):
    """Concatenates a list of inputs along `axis`.

    It takes a list of at least two tensors whose shapes are all the same except along the
    concatenation axis, and returns a single tensor, the concatenation of all inputs. An
    impossible concatenation (unequal sizes off the axis) raises a ValueError naming the layer
    and the shapes when the layer is called.

    Example:

    >>> x1 = ge.Input(shape=(4, 8))
    >>> x2 = ge.Input(shape=(4, 3))
    >>> ge.layers.Concatenate(axis=-1)([x1, x2]).shape
    (None, 4, 11)

    Args:
        axis: Axis along which to concatenate (default -1, the last one).
        **kwargs: Standard layer keyword arguments (`name`, `dtype`, `trainable`).

    Call arguments:
        inputs: A list of at least 2 tensors.

    Output shape:
        The inputs' shape, with the sizes along `axis` summed.
    """

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
        """The inputs joined along `axis`."""
        return ops.concatenate(inputs, axis=self.axis)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


# Keras's backend.epsilon(): the smallest norm `Dot(normalize=True)` divides by.
NORM_EPSILON = 1e-7


class Dot(Merge):
    """Dot products of two inputs, sample by sample, along axis `axes[0]` of the first and
    `axes[1]` of the second (Keras's batch_dot). The output holds the first input's other axes,
    then the second's without its batch axis; two 2-D inputs give (batch, 1). With `normalize`,
    each input is first L2-normalized along its dot axis (the output is the cosine similarity).
    """

    n_inputs = 2

    def __init__(self, axes: int | Sequence[int], normalize: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axes = _check_dot_axes(axes, f"Dot '{self.name}'")
        self.normalize = bool(normalize)

    def build(self, input_shape: Any) -> None:
        self._check_count(input_shape)
        self._dot_axes(input_shape)

    def _dot_axes(self, shapes: list) -> tuple[int, int]:
        """The two dot axes, non-negative, after checking ranks, batch sizes and axis sizes."""
        pair = (self.axes, self.axes) if isinstance(self.axes, int) else self.axes
        where = f"Layer '{self.name}' (Dot)"
        for i, (shape, axis) in enumerate(zip(shapes, pair)):
            if len(shape) < 2:
                raise ValueError(
                    f"{where}: input {i} must have rank >= 2 (batch and dot axis), received "
                    f"shape {format_shape(shape)}"
                )
            if not -len(shape) <= axis < len(shape) or axis % len(shape) == 0:
                raise ValueError(
                    f"{where}: axes={self.axes} must name a non-batch axis of input {i} "
                    f"(1 to {len(shape) - 1}, or negative), received shape {format_shape(shape)}"
                )
        (s1, s2), (a1, a2) = shapes, (pair[0] % len(shapes[0]), pair[1] % len(shapes[1]))
        if None not in (s1[0], s2[0]) and s1[0] != s2[0]:
            raise ValueError(
                f"{where}: inputs have different batch sizes: input 0 has shape "
                f"{format_shape(s1)}, input 1 has shape {format_shape(s2)}"
            )
        if None not in (s1[a1], s2[a2]) and s1[a1] != s2[a2]:
            raise ValueError(
                f"{where}: incompatible input shapes: axis {a1} of input 0 has size {s1[a1]}, "
                f"axis {a2} of input 1 has size {s2[a2]} (axes={self.axes}); input 0 has shape "
                f"{format_shape(s1)}, input 1 has shape {format_shape(s2)}"
            )
        return a1, a2

    def call(self, inputs: list) -> Any:
        """The sample-wise dot product of the two inputs (their cosine with `normalize`)."""
        self._check_count(shape_of(inputs))
        x, y = inputs
        ax, ay = self._dot_axes([tuple(x.shape), tuple(y.shape)])
        if self.normalize:
            x, y = _l2_normalize(x, ax), _l2_normalize(y, ay)
        return batch_dot(x, y, ax, ay)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return None  # Keras drops masks at a Dot: its output has no step axis of either input

    def get_config(self) -> dict[str, Any]:
        axes = self.axes if isinstance(self.axes, int) else list(self.axes)
        return {**super().get_config(), "axes": axes, "normalize": self.normalize}


def _check_dot_axes(axes: Any, owner: str) -> int | tuple[int, int]:
    """An int, or a pair of ints (Keras: TypeError for other types, ValueError for the pair)."""
    if isinstance(axes, (int, np.integer)) and not isinstance(axes, (bool, np.bool_)):
        return int(axes)
    if not isinstance(axes, (list, tuple)):
        raise TypeError(f"{owner}: axes must be an int or a pair of ints, received {axes=}")
    if len(axes) != 2:
        raise ValueError(f"{owner}: axes must hold two elements, received {axes=}")
    if any(isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)) for a in axes):
        raise ValueError(f"{owner}: axes must hold integers, received {axes=}")
    return int(axes[0]), int(axes[1])


def _l2_normalize(x: Any, axis: int) -> Any:
    """x / max(||x||, eps) along `axis`: Keras's normalize (x * min(rsqrt(sum x^2), 1/eps)).
    The floor sits under the square root so a zero vector gets a finite gradient, not NaN."""
    squares = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return ops.divide(x, ops.sqrt(ops.maximum(squares, NORM_EPSILON**2)))


def _move_axis(x: Any, source: int, destination: int) -> Any:
    ndim = len(x.shape)
    perm = [a for a in range(ndim) if a != source % ndim]
    perm.insert(destination % ndim, source % ndim)
    return x if perm == list(range(ndim)) else ops.transpose(x, perm)


def batch_dot(x: Any, y: Any, ax: int, ay: int) -> Any:
    """out[n, *I, *J] = sum_k x[n, *I, k] y[n, k, *J], k on axis `ax` of x and `ay` of y (both
    non-negative, not 0); I are x's other axes, J y's. A 2-D x or y adds an axis of size 1
    there, which is removed again (the first when both are 2-D: the output is then (N, 1))."""
    rx, ry = len(x.shape), len(y.shape)
    x = _move_axis(x, ax, -1)  # (N, *I, K)
    y = _move_axis(y, ay, 1)  # (N, K, *J)
    x = ops.expand_dims(x, 1) if rx == 2 else x
    y = ops.expand_dims(y, 2) if ry == 2 else y
    p, q = len(x.shape) - 2, len(y.shape) - 2  # len(I), len(J), each >= 1 now
    # matmul contracts (.., I[-1], K) @ (.., K, J[-1]) and broadcasts the leading axes: pad
    # I[:-1] and J[:-1] with ones so that each operand's own axes meet size 1 in the other.
    for _ in range(q - 1):
        x = ops.expand_dims(x, p)  # (N, *I[:-1], 1, .., 1, I[-1], K)
    y = _move_axis(y, 1, q)  # (N, *J[:-1], K, J[-1])
    for _ in range(p - 1):
        y = ops.expand_dims(y, 1)  # (N, 1, .., 1, *J[:-1], K, J[-1])
    out = _move_axis(ops.matmul(x, y), -2, p)  # (N, *I[:-1], *J[:-1], I[-1], J[-1]) -> (N, *I, *J)
    if rx == 2:
        return ops.squeeze(out, 1)
    return ops.squeeze(out, -1) if ry == 2 else out


# -- function forms (keras.layers.add(inputs), ...): build the layer, call it on the inputs ------
def concatenate(inputs: list, axis: int = -1, **kwargs: Any) -> Any:
    """The functional form of `Concatenate`: the list `inputs` concatenated along `axis`."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def add(inputs: list, **kwargs: Any) -> Any:
    """The functional form of `Add`: the list `inputs` added elementwise."""
    return Add(**kwargs)(inputs)


def subtract(inputs: list, **kwargs: Any) -> Any:
    """The functional form of `Subtract`: the list `inputs` subtracted: `inputs[0] - inputs[1]`."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs: list, **kwargs: Any) -> Any:
    """The functional form of `Multiply`: the list `inputs` multiplied elementwise."""
    return Multiply(**kwargs)(inputs)


def average(inputs: list, **kwargs: Any) -> Any:
    """The functional form of `Average`: the list `inputs` averaged elementwise."""
    return Average(**kwargs)(inputs)


def maximum(inputs: list, **kwargs: Any) -> Any:
    """The functional form of `Maximum`: the list `inputs` their elementwise maximum."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs: list, **kwargs: Any) -> Any:
    """The functional form of `Minimum`: the list `inputs` their elementwise minimum."""
    return Minimum(**kwargs)(inputs)


def dot(
    inputs: list, axes: int | Sequence[int] = -1, normalize: bool = False, **kwargs: Any
) -> Any:
    """The functional form of `Dot`: the sample-wise dot product of the two `inputs` along
    `axes`."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
