"""Resampling layers, channels-last: UpSampling1D/2D (repeats, or bilinear through ops/image.py's
Resize), ZeroPadding1D/2D (ops.pad) and Cropping1D/2D (slicing), with Keras 3's arguments in
every form Keras takes them."""

from __future__ import annotations

from typing import Any

from graphengine import ops
from graphengine.graph.tensor import format_shape
from graphengine.layers.base import InputSpec, Layer
from graphengine.layers.convolutional import check_data_format, normalize_tuple
from graphengine.ops.base import apply
from graphengine.ops.image import Resize
from graphengine.ops.shape_ops import Reshape


def repeat(x: Any, repeats: int, axis: int) -> Any:
    """Each entry of x repeated `repeats` times along `axis` (>= 1), as keras.ops.repeat: a
    broadcast between reshapes, whose gradient sums the copies."""
    shape = tuple(x.shape)
    spread = ops.broadcast_to(
        ops.expand_dims(x, axis + 1),
        tuple(repeats if i == axis + 1 else None for i in range(len(shape) + 1)),
    )
    size = -1 if shape[axis] is None else shape[axis] * repeats
    copy = tuple(i if i < axis else i + 1 for i in range(len(shape)))
    target = tuple(size if i == axis else None for i in range(len(shape)))
    return apply(Reshape(target, copy), spread)


def pairs(layer: Layer, value: Any, arg: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """Keras's 2-D padding / cropping forms: n, (rows, cols) or ((top, bottom), (left, right))."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': {arg} must be an int, a tuple of 2 ints or "
            f"a tuple of 2 tuples of 2 ints ((top, bottom), (left, right)), got {arg}={value!r}"
        )
    rows = normalize_tuple(layer, value[0], 2, f"{arg}[0]", allow_zero=True)
    cols = normalize_tuple(layer, value[1], 2, f"{arg}[1]", allow_zero=True)
    return rows, cols


class UpSampling1D(Layer):
    """(N, T, C) -> (N, T * size, C): each step repeated `size` times."""

    def __init__(self, size: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = normalize_tuple(self, size, 1, "size")[0]
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs: Any) -> Any:
        return repeat(inputs, self.size, 1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "size": self.size}


class UpSampling2D(Layer):
    """(N, H, W, C) -> (N, H * size[0], W * size[1], C): rows and columns repeated
    ("nearest") or interpolated ("bilinear", PyTorch's half-pixel sampling, as Keras's torch
    backend)."""

    def __init__(
        self,
        size: int | tuple[int, int] = (2, 2),
        data_format: str | None = None,
        interpolation: str = "nearest",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.size = normalize_tuple(self, size, 2, "size")
        self.data_format = check_data_format(self, data_format)
        method = interpolation.lower() if isinstance(interpolation, str) else interpolation
        if method not in ("nearest", "bilinear"):
            raise ValueError(
                f"UpSampling2D '{self.name}': interpolation must be 'nearest' or 'bilinear' "
                f"(bicubic and lanczos are not supported), got interpolation={interpolation!r}"
            )
        self.interpolation = method
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs: Any) -> Any:
        if self.interpolation == "nearest":
            return repeat(repeat(inputs, self.size[0], 1), self.size[1], 2)
        h, w = inputs.shape[1], inputs.shape[2]
        if h is None or w is None:
            raise ValueError(
                f"UpSampling2D '{self.name}': bilinear upsampling needs a known height and "
                f"width, got input shape {format_shape(inputs.shape)}"
            )
        return apply(Resize((h * self.size[0], w * self.size[1]), "bilinear"), inputs)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "size": list(self.size),
            "data_format": self.data_format,
            "interpolation": self.interpolation,
        }


class ZeroPadding1D(Layer):
    """(N, T, C) -> (N, left + T + right, C), zeros added; padding n or (left, right)."""

    def __init__(
        self, padding: int | tuple[int, int] = 1, data_format: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.padding = normalize_tuple(self, padding, 2, "padding", allow_zero=True)
        self.data_format = check_data_format(self, data_format)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs: Any) -> Any:
        return ops.pad(inputs, ((0, 0), self.padding, (0, 0)))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "padding": list(self.padding),
            "data_format": self.data_format,
        }


class ZeroPadding2D(Layer):
    """(N, H, W, C) -> (N, top + H + bottom, left + W + right, C), zeros added; padding n,
    (rows, cols) or ((top, bottom), (left, right))."""

    def __init__(self, padding: Any = (1, 1), data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.padding = pairs(self, padding, "padding")
        self.data_format = check_data_format(self, data_format)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs: Any) -> Any:
        return ops.pad(inputs, ((0, 0), *self.padding, (0, 0)))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "padding": [list(p) for p in self.padding],
            "data_format": self.data_format,
        }


def crop(layer: Layer, x: Any, cropping: tuple[tuple[int, int], ...]) -> Any:
    """x with cropping[i] = (before, after) cells cut from spatial axis i + 1; a ValueError
    naming the layer where nothing would be left."""
    key = [slice(None)]
    for axis, (before, after) in enumerate(cropping, 1):
        size = x.shape[axis]
        if size is not None and before + after >= size:
            raise ValueError(
                f"{type(layer).__name__} '{layer.name}': cropping={layer.get_config()['cropping']}"
                f" leaves nothing of axis {axis} (size {size}) of input shape "
                f"{format_shape(x.shape)}; it must be smaller than each spatial dimension"
            )
        key.append(slice(before, -after if after else None))
    return x[tuple(key)]


class Cropping1D(Layer):
    """(N, T, C) -> (N, T - start - end, C); cropping n or (start, end)."""

    def __init__(self, cropping: int | tuple[int, int] = (1, 1), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cropping = normalize_tuple(self, cropping, 2, "cropping", allow_zero=True)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs: Any) -> Any:
        return crop(self, inputs, (self.cropping,))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "cropping": list(self.cropping)}


class Cropping2D(Layer):
    """(N, H, W, C) -> (N, H - top - bottom, W - left - right, C); cropping n, (rows, cols) or
    ((top, bottom), (left, right))."""

    def __init__(
        self, cropping: Any = ((0, 0), (0, 0)), data_format: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.cropping = pairs(self, cropping, "cropping")
        self.data_format = check_data_format(self, data_format)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs: Any) -> Any:
        return crop(self, inputs, self.cropping)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "cropping": [list(c) for c in self.cropping],
            "data_format": self.data_format,
        }
