"""Image preprocessing layers, channels-last (N, H, W, C): Resizing, CenterCrop, Rescaling, and
the augmentations RandomFlip, RandomRotation, RandomZoom, RandomTranslation and RandomCrop.

The augmentations act in training only (`training=True`, fit) and pass images through
otherwise (RandomCrop: the centred crop of its aspect ratio, resized); each draws from its own
generator when given a `seed`, else from the running plan's (reproducible under
ge.utils.set_random_seed), one transform per image (RandomCrop: one window per batch), as Keras
3 draws them. Differentiable in the images, so they may follow trainable layers.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from graphengine import common, ops
from graphengine.graph.tensor import format_shape
from graphengine.layers.base import InputSpec, Layer
from graphengine.layers.convolutional import check_data_format, normalize_tuple
from graphengine.layers.regularization import seed_generator
from graphengine.ops import image
from graphengine.ops.base import apply, is_symbolic

AUGMENT_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
AUGMENT_INTERPOLATIONS = ("nearest", "bilinear")


def _as_float_images(layer: Layer, x: Any) -> Any:
    """Integer images (uint8 pixels) in the layer's float dtype, as Keras casts them."""
    return x if np.dtype(x.dtype).kind == "f" else ops.cast(x, layer.dtype)


def _choice(layer: Layer, arg: str, value: Any, valid: Sequence[str]) -> str:
    if value not in valid:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': {arg} must be one of "
            f"{', '.join(repr(v) for v in valid)}, got {arg}={value!r}"
        )
    return value


def _known_size(layer: Layer, x: Any) -> tuple[int, int]:
    h, w = x.shape[1], x.shape[2]
    if h is None or w is None:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': the input's height and width must be known, "
            f"got input shape {format_shape(x.shape)}"
        )
    return h, w


class _Sized(Layer):
    """A target (height, width), channels-last only, images of rank 4."""

    def __init__(self, height: int, width: int, data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.height, self.width = normalize_tuple(self, (height, width), 2, "(height, width)")
        self.data_format = check_data_format(self, data_format)
        self.input_spec = InputSpec(ndim=4)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "height": self.height,
            "width": self.width,
            "data_format": self.data_format,
        }


class Resizing(_Sized):
    """Resizes images to (height, width) as Keras's torch backend does (PyTorch's interpolate,
    half-pixel centres): `crop_to_aspect_ratio` first takes the largest centred window of the
    target's aspect ratio, `pad_to_aspect_ratio` first pads both sides with `fill_value`."""

    def __init__(
        self,
        height: int,
        width: int,
        interpolation: str = "bilinear",
        crop_to_aspect_ratio: bool = False,
        pad_to_aspect_ratio: bool = False,
        fill_mode: str = "constant",
        fill_value: float = 0.0,
        antialias: bool = False,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(height, width, data_format, **kwargs)
        self.interpolation = _choice(
            self, "interpolation", interpolation, image.RESIZE_INTERPOLATIONS
        )
        self.fill_mode = _choice(self, "fill_mode", fill_mode, ("constant",))
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError(
                f"Resizing '{self.name}': only one of crop_to_aspect_ratio and "
                "pad_to_aspect_ratio can be True"
            )
        if antialias:
            raise ValueError(
                f"Resizing '{self.name}': antialias=True is not supported (got "
                f"antialias={antialias!r}); resize without it"
            )
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_value, self.antialias = float(fill_value), False

    def call(self, inputs: Any) -> Any:
        x = _as_float_images(self, inputs)
        if self.pad_to_aspect_ratio:
            h, w = _known_size(self, x)
            rows = int(float(max(h, int(float(w * self.height) / self.width)) - h) / 2)
            cols = int(float(max(w, int(float(h * self.width) / self.height)) - w) / 2)
            x = ops.pad(
                x, ((0, 0), (rows, rows), (cols, cols), (0, 0)), "constant", self.fill_value
            )
        size = (self.height, self.width)
        return apply(image.Resize(size, self.interpolation, self.crop_to_aspect_ratio), x)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "interpolation": self.interpolation,
            "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
            "pad_to_aspect_ratio": self.pad_to_aspect_ratio,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
            "antialias": self.antialias,
        }


class CenterCrop(_Sized):
    """The centred (height, width) window of each image; an image smaller than that on an axis
    is instead resized (bilinear) from its largest centred window of the target's aspect
    ratio, as Keras's smart_resize."""

    def call(self, inputs: Any) -> Any:
        x = _as_float_images(self, inputs)
        h, w = _known_size(self, x)
        if h >= self.height and w >= self.width:
            top, left = (h - self.height) // 2, (w - self.width) // 2
            return x[:, top : top + self.height, left : left + self.width, :]
        size = (self.height, self.width)
        return apply(image.Resize(size, "bilinear", crop_to_aspect_ratio=True), x)


def _number_or_list(layer: Layer, arg: str, value: Any) -> float | list:
    """A float, or a list of floats (per channel, broadcast against the last axis)."""
    array = np.asarray(value, dtype=object if isinstance(value, str) else None)
    if array.dtype.kind not in "iuf" or array.ndim > 1 or array.size == 0:
        raise ValueError(
            f"Rescaling '{layer.name}': {arg} must be a number or a list of numbers (one per "
            f"channel), got {arg}={value!r}"
        )
    return float(array) if array.ndim == 0 else [float(v) for v in array]


class Rescaling(Layer):
    """y = x * scale + offset (e.g. scale=1/255 maps pixels to [0, 1]); scale and offset may
    be per-channel lists."""

    supports_masking = True

    def __init__(self, scale: Any, offset: Any = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = _number_or_list(self, "scale", scale)
        self.offset = _number_or_list(self, "offset", offset)

    def call(self, inputs: Any) -> Any:
        x = _as_float_images(self, inputs)
        scale = np.asarray(self.scale, dtype=x.dtype)
        return ops.add(ops.multiply(x, scale), np.asarray(self.offset, dtype=x.dtype))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


# -- augmentations ---------------------------------------------------------------------------------
class _RandomImageLayer(Layer):
    """The seed and its generator, and the call: one RandomAffine op per call site."""

    def __init__(self, seed: int | None = None, data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.seed, self._rng = seed_generator(self, seed)
        self.data_format = check_data_format(self, data_format)
        self.input_spec = InputSpec(ndim=4)

    def _augmentation(self, fill_mode: str, interpolation: str, fill_value: float) -> None:
        """Checks and stores the sampling arguments of rotation, zoom and translation."""
        self.fill_mode = _choice(self, "fill_mode", fill_mode, AUGMENT_FILL_MODES)
        self.interpolation = _choice(self, "interpolation", interpolation, AUGMENT_INTERPOLATIONS)
        self.fill_value = float(fill_value)

    def draw(self, rng: np.random.Generator, n: int, h: int, w: int) -> np.ndarray:
        """(n, 6) transform rows for n images of h x w."""
        raise NotImplementedError

    def _op(self, training: bool | None, rng: np.random.Generator | None) -> image.RandomAffine:
        return image.RandomAffine(
            self.draw, self.interpolation, self.fill_mode, self.fill_value, training, rng
        )

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        rng = self._rng
        if not is_symbolic(inputs):  # a bare eager call augments, as Keras's (training=True)
            training = True if training is None else training
            rng = common.rng() if rng is None else rng  # reproducible under set_random_seed
        y, _ = apply(self._op(training, rng), _as_float_images(self, inputs))
        return y

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "seed": self.seed, "data_format": self.data_format}

    def _sampling_config(self) -> dict[str, Any]:
        return {
            "fill_mode": self.fill_mode,
            "interpolation": self.interpolation,
            "fill_value": self.fill_value,
        }


def _factor_pair(layer: Layer, arg: str, value: Any, low: float, closed: bool) -> tuple:
    """(lower, upper) from a number f (-|f|, |f|) or a pair (sorted), each in [low, 1] ((low, 1]
    unless `closed`), as Keras checks height_factor / width_factor."""
    bounds = f"{'[' if closed else '('}{low}, 1.0]"
    pair = value if isinstance(value, (list, tuple)) else None
    numbers = pair if pair is not None else [value]
    ok = (pair is None or len(pair) == 2) and all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
        for v in numbers
    )
    if ok:
        ok = all((low <= v if closed else low < v) and v <= 1.0 for v in numbers)
    if not ok:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': {arg} must be a number or a pair of "
            f"numbers in {bounds}, got {arg}={value!r}"
        )
    if pair is None:
        return -abs(float(value)), abs(float(value))
    return tuple(sorted(float(v) for v in pair))


class RandomFlip(_RandomImageLayer):
    """Mirrors each image with probability 1/2, in training: mode "horizontal" (left-right),
    "vertical" (upside down) or "horizontal_and_vertical" (both at once, one draw per image,
    as Keras)."""

    MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(
        self,
        mode: str = "horizontal_and_vertical",
        seed: int | None = None,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(seed, data_format, **kwargs)
        self.mode = _choice(self, "mode", mode, self.MODES)
        self.fill_mode, self.interpolation, self.fill_value = "constant", "nearest", 0.0

    def draw(self, rng: np.random.Generator, n: int, h: int, w: int) -> np.ndarray:
        flips = rng.uniform(size=n) <= 0.5
        horizontal, vertical = self.mode != "vertical", self.mode != "horizontal"
        return image.flip_transforms(flips, horizontal, vertical, h, w)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mode": self.mode}


class RandomRotation(_RandomImageLayer):
    """Rotates each image about its centre by an angle drawn from factor * 360 degrees
    (factor f: [-f, f]; a pair: [lower, upper]), in training."""

    def __init__(
        self,
        factor: float | tuple[float, float],
        fill_mode: str = "reflect",
        interpolation: str = "bilinear",
        seed: int | None = None,
        fill_value: float = 0.0,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(seed, data_format, **kwargs)
        self.factor = self._set_factor(factor)
        self._augmentation(fill_mode, interpolation, fill_value)

    def _set_factor(self, factor: Any) -> tuple[float, float]:
        """Keras's base check: a number in [-1, 1], or a pair whose first entry is at most 1
        and second at least -1."""
        ok = isinstance(factor, (int, float, np.integer, np.floating)) and -1 <= factor <= 1
        pair = isinstance(factor, (list, tuple)) and len(factor) == 2
        if pair and all(isinstance(v, (int, float, np.integer, np.floating)) for v in factor):
            ok = factor[0] <= 1 and factor[1] >= -1
        if not ok or isinstance(factor, bool):
            raise ValueError(
                f"RandomRotation '{self.name}': factor must be a number or a pair of numbers in "
                f"[-1, 1] (fractions of a full turn), got factor={factor!r}"
            )
        if pair:
            lower, upper = sorted(float(v) for v in factor)
            return lower, upper
        return max(-abs(float(factor)), -1.0), abs(float(factor))

    def draw(self, rng: np.random.Generator, n: int, h: int, w: int) -> np.ndarray:
        degrees = rng.uniform(self.factor[0] * 360.0, self.factor[1] * 360.0, size=n)
        return image.rotation_transforms(degrees * (math.pi / 180.0), h, w)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "factor": list(self.factor), **self._sampling_config()}


class _HeightWidthFactors(_RandomImageLayer):
    """RandomZoom and RandomTranslation: a height and a width factor each."""

    low, closed, width_optional = -1.0, True, False

    def __init__(
        self,
        height_factor: Any,
        width_factor: Any,
        fill_mode: str,
        interpolation: str,
        seed: int | None,
        fill_value: float,
        data_format: str | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(seed, data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_range = _factor_pair(
            self, "height_factor", height_factor, self.low, self.closed
        )
        self.width_range = (
            None
            if width_factor is None and self.width_optional
            else _factor_pair(self, "width_factor", width_factor, self.low, self.closed)
        )
        self._augmentation(fill_mode, interpolation, fill_value)

    def get_config(self) -> dict[str, Any]:
        plain = lambda f: list(f) if isinstance(f, (list, tuple)) else f  # noqa: E731
        return {
            **super().get_config(),
            "height_factor": plain(self.height_factor),
            "width_factor": plain(self.width_factor),
            **self._sampling_config(),
        }


class RandomZoom(_HeightWidthFactors):
    """Zooms each image about its centre, in training: the height is scaled by 1 + a draw
    from height_factor (in (-1, 1]; positive zooms out), the width likewise from width_factor,
    or by the height's draw when width_factor is None (aspect ratio kept)."""

    low, closed, width_optional = -1.0, False, True

    def __init__(
        self,
        height_factor: float | tuple[float, float],
        width_factor: float | tuple[float, float] | None = None,
        fill_mode: str = "reflect",
        interpolation: str = "bilinear",
        seed: int | None = None,
        fill_value: float = 0.0,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            height_factor,
            width_factor,
            fill_mode,
            interpolation,
            seed,
            fill_value,
            data_format,
            **kwargs,
        )

    def draw(self, rng: np.random.Generator, n: int, h: int, w: int) -> np.ndarray:
        zy = rng.uniform(1.0 + self.height_range[0], 1.0 + self.height_range[1], size=n)
        zx = zy
        if self.width_range is not None:
            zx = rng.uniform(1.0 + self.width_range[0], 1.0 + self.width_range[1], size=n)
        return image.zoom_transforms(zx, zy, h, w)


class RandomTranslation(_HeightWidthFactors):
    """Shifts each image, in training, by a draw from height_factor times its height (down
    when positive) and from width_factor times its width (right); factors in [-1, 1]."""

    def __init__(
        self,
        height_factor: float | tuple[float, float],
        width_factor: float | tuple[float, float],
        fill_mode: str = "reflect",
        interpolation: str = "bilinear",
        seed: int | None = None,
        fill_value: float = 0.0,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            height_factor,
            width_factor,
            fill_mode,
            interpolation,
            seed,
            fill_value,
            data_format,
            **kwargs,
        )

    def draw(self, rng: np.random.Generator, n: int, h: int, w: int) -> np.ndarray:
        dy = rng.uniform(*self.height_range, size=n) * h
        dx = rng.uniform(*self.width_range, size=n) * w
        return image.translation_transforms(dx, dy)


class RandomCrop(_RandomImageLayer):
    """Crops a random (height, width) window, one per batch, in training; at inference, and in
    training for an image not larger than the target on both axes, resizes (bilinear) the
    largest centred window of the target's aspect ratio instead, as Keras documents."""

    def __init__(
        self,
        height: int,
        width: int,
        seed: int | None = None,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(seed, data_format, **kwargs)
        self.height, self.width = normalize_tuple(self, (height, width), 2, "(height, width)")

    def _op(self, training: bool | None, rng: np.random.Generator | None) -> image.RandomAffine:
        return image.RandomCrop(self.height, self.width, training, rng)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "height": self.height, "width": self.width}
