"""Image resampling primitives, channels-last (N, H, W, C): `Resize` (PyTorch's interpolate, as
Keras's torch backend resizes, optionally of the centred crop of the target's aspect ratio) and
`RandomAffine` (keras.ops.image.affine_transform of a per-image affine map drawn while training:
RandomFlip, RandomRotation, RandomZoom, RandomTranslation, and RandomCrop's random crops), with
the backward ops their gradient rules build. Kernels: kernels/{cpu,cuda}/image.py.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from graphengine.graph.tensor import Shape, format_shape
from graphengine.ops.base import Kernels, Op, RunContext, Spec, float_dtype

RESIZE_INTERPOLATIONS = ("bilinear", "nearest")
AFFINE_INTERPOLATIONS = ("nearest", "bilinear")
FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")
# draws one (n, 6) array of transform rows (a0, a1, a2, b0, b1, b2) for n images of h x w
Draw = Callable[[np.random.Generator, int, int, int], np.ndarray]


def check_images(opname: str, shape: Shape) -> None:
    if len(shape) != 4:
        raise ValueError(
            f"{opname}: expected images of rank 4 (batch, height, width, channels), got shape "
            f"{format_shape(shape)}"
        )


def aspect_crop(height: int, width: int, target_h: int, target_w: int) -> tuple[int, ...]:
    """(top, rows, left, cols): the largest centred window of the target's aspect ratio, as
    Keras's crop_to_aspect_ratio and smart_resize compute it."""
    rows = max(min(height, int(float(width * target_h) / target_w)), 1)
    cols = max(min(width, int(float(height * target_w) / target_h)), 1)
    return int(float(height - rows) / 2), rows, int(float(width - cols) / 2), cols


@functools.lru_cache(maxsize=512)
def resize_taps(
    size: int, out: int, start: int, interpolation: str, dtype: str
) -> tuple[np.ndarray, np.ndarray]:
    """(index (out, K) int64, weight (out, K)) of one axis, as torch.nn.functional.interpolate
    (align_corners=False): "nearest" is its "nearest-exact", src = min(floor((i + 0.5) * scale),
    size - 1) with a float32 scale and floor; "bilinear" reads src = max((i + 0.5) * scale -
    0.5, 0) and its upper neighbour (the edge cell twice at the end), scale = size / out in the
    array's precision. `start` offsets the indices (a crop)."""
    i = np.arange(out)
    if interpolation == "nearest":
        scale = np.float64(np.float32(size) / np.float32(out))
        point = np.float32((i + 0.5) * scale)  # torch's floorf rounds the product to float
        src = np.minimum(np.floor(point).astype(np.int64), size - 1)
        return (src + start)[:, None], np.ones((out, 1), dtype)
    ft = np.dtype(dtype).type
    real = np.maximum(ft(size) / ft(out) * (i.astype(dtype) + ft(0.5)) - ft(0.5), ft(0))
    lower = np.minimum(np.floor(real).astype(np.int64), size - 1)
    frac = np.clip(real - lower.astype(dtype), 0, 1).astype(dtype)
    upper = lower + (lower < size - 1)
    index = np.stack([lower, upper], axis=1) + start
    return np.ascontiguousarray(index), np.stack([1 - frac, frac], axis=1).astype(dtype)


class Resize(Op):
    """y = x resized to `size` (OH, OW) by `interpolation` ("bilinear" or "nearest"); with
    `crop_to_aspect_ratio`, of the centred window of size's aspect ratio (aspect_crop)."""

    name = "resize"

    def __init__(
        self, size: tuple[int, int], interpolation: str, crop_to_aspect_ratio: bool = False
    ) -> None:
        if interpolation not in RESIZE_INTERPOLATIONS:
            raise ValueError(
                f"resize: interpolation must be one of {RESIZE_INTERPOLATIONS}, "
                f"got {interpolation!r}"
            )
        self.size, self.interpolation = tuple(size), interpolation
        self.crop_to_aspect_ratio = crop_to_aspect_ratio

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        x = shapes[0]
        check_images(self.name, x)
        return [((x[0], *self.size, x[3]), float_dtype(dtypes[0]))]

    def tables(self, shape: tuple, dtype: Any) -> tuple[np.ndarray, ...]:
        """The row and column tap tables for input `shape` (resize_taps)."""
        h, w = shape[1], shape[2]
        box = aspect_crop(h, w, *self.size) if self.crop_to_aspect_ratio else (0, h, 0, w)
        dt = np.dtype(dtype).name
        rows = resize_taps(box[1], self.size[0], box[0], self.interpolation, dt)
        cols = resize_taps(box[3], self.size[1], box[2], self.interpolation, dt)
        return (*rows, *cols)

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        k.resize_forward(ins[0], *self.tables(ins[0].shape, outs[0].dtype), outs[0])

    def backward(self, k: Kernels, dy: Any, dx: Any) -> None:
        k.resize_backward(dy, *self.tables(dx.shape, dx.dtype), dx)


class ResizeGrad(Op):
    """dx of a Resize from inputs (dy, x), x read for its shape only."""

    name = "resize_grad"
    shape_only = (1,)

    def __init__(self, forward_op: Resize) -> None:
        self._forward = forward_op

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[1], dtypes[0])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        self._forward.backward(k, ins[0], outs[0])


class RandomAffine(Op):
    """In training, y = x sampled (kernels' affine_transform) through transforms drawn by
    `draw` from the op's own generator (a seeded layer) or the plan's; otherwise y = x (a view).
    Outputs (y, transforms (N, 6)); the backward op reads the transforms. `training` None
    follows the plan, True or False (a layer call's `training=`) overrides it."""

    name = "random_affine"

    def __init__(
        self,
        draw: Draw,
        interpolation: str = "bilinear",
        fill_mode: str = "reflect",
        fill_value: float = 0.0,
        training: bool | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.draw, self.interpolation = draw, interpolation
        self.fill_mode, self.fill_value = fill_mode, float(fill_value)
        self.training, self._rng = training, rng

    def active(self, training: bool) -> bool:
        """Whether transforms are drawn when the plan's flag is `training`."""
        return bool(self.training if self.training is not None else training)

    def samples(self, shape: tuple, training: bool) -> bool:
        """Whether the affine sampling runs (else the op's inactive path) for input `shape`."""
        return self.active(training)

    def is_view(self, in_shapes: list[tuple], out_shape: tuple, training: bool = False) -> bool:
        return not self.samples(tuple(in_shapes[0]), training)

    def out_size(self, x: Shape) -> tuple:
        return tuple(x[1:3])

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        x = shapes[0]
        check_images(self.name, x)
        dtype = float_dtype(dtypes[0])
        return [((x[0], *self.out_size(x), x[3]), dtype), ((x[0], 6), dtype)]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x, (y, t) = ins[0], outs
        if not self.samples(x.shape, ctx.training):
            self.inactive(k, x, y)
            return
        n, h, w = x.shape[:3]
        rng = self._rng if self._rng is not None else ctx.rng
        k.from_host(np.ascontiguousarray(self.draw(rng, n, h, w), dtype=t.dtype), t)
        k.affine_transform(x, t, self.interpolation, self.fill_mode, self.fill_value, y)

    def inactive(self, k: Kernels, x: Any, y: Any) -> None:
        k.copy(x, y)  # an eager call; a plan makes this a view instead

    def backward(self, k: Kernels, dy: Any, t: Any, dx: Any, training: bool) -> None:
        if self.samples(dx.shape, training):
            k.affine_transform_backward(dy, t, self.interpolation, self.fill_mode, dx)
        else:
            self.inactive_backward(k, dy, dx)

    def inactive_backward(self, k: Kernels, dy: Any, dx: Any) -> None:
        k.copy(dy, dx)


class RandomCrop(RandomAffine):
    """Keras's RandomCrop: in training, when the input is larger than (height, width) on both
    axes, one random window per batch (a translation, nearest: an exact copy); otherwise the
    centred window of the target's aspect ratio resized bilinearly to (height, width)."""

    name = "random_crop"

    def __init__(
        self,
        height: int,
        width: int,
        training: bool | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__(self._draw, "nearest", "constant", 0.0, training, rng)
        self.height, self.width = height, width
        self._resize = Resize((height, width), "bilinear", crop_to_aspect_ratio=True)

    def samples(self, shape: tuple, training: bool) -> bool:
        return self.active(training) and shape[1] > self.height and shape[2] > self.width

    def is_view(self, in_shapes: list[tuple], out_shape: tuple, training: bool = False) -> bool:
        return False

    def out_size(self, x: Shape) -> tuple:
        return (self.height, self.width)

    def _draw(self, rng: np.random.Generator, n: int, h: int, w: int) -> np.ndarray:
        top = int(rng.uniform(0.0, float(h - self.height + 1)))
        left = int(rng.uniform(0.0, float(w - self.width + 1)))
        return np.tile([1.0, 0.0, float(left), 0.0, 1.0, float(top)], (n, 1))

    def inactive(self, k: Kernels, x: Any, y: Any) -> None:
        k.resize_forward(x, *self._resize.tables(x.shape, y.dtype), y)

    def inactive_backward(self, k: Kernels, dy: Any, dx: Any) -> None:
        self._resize.backward(k, dy, dx)


class AffineGrad(Op):
    """dx of a RandomAffine from inputs (dy, transforms, x), x read for its shape only; dy
    itself (a view) when the forward op passed x through."""

    name = "random_affine_grad"
    shape_only = (2,)

    def __init__(self, forward_op: RandomAffine) -> None:
        self._forward = forward_op

    def is_view(self, in_shapes: list[tuple], out_shape: tuple, training: bool = False) -> bool:
        return self._forward.is_view([out_shape], out_shape, training)

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[2], dtypes[0])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        self._forward.backward(k, ins[0], ins[1], outs[0], ctx.training)


# -- the transforms of the random layers: rows (a0, a1, a2, b0, b1, b2), output -> input point ---
def rotation_transforms(angles: np.ndarray, h: int, w: int) -> np.ndarray:
    """Rotations by `angles` (radians, one per image) about the image centre, as Keras's
    _compute_affine_matrix with centre (0.5, 0.5) and no shear, scale or translation."""
    cx, cy = 0.5 * (w - 1), 0.5 * (h - 1)
    cos, sin = np.cos(angles), np.sin(angles)
    return np.stack(
        [cos, -sin, cx - cx * cos + cy * sin, sin, cos, cy - cx * sin - cy * cos], axis=1
    )


def zoom_transforms(zx: np.ndarray, zy: np.ndarray, h: int, w: int) -> np.ndarray:
    """Zooms about the centre: a factor above 1 reads a larger window (zooms out)."""
    zero = np.zeros_like(zx)
    return np.stack([zx, zero, (w - 1) / 2.0 * (1 - zx), zero, zy, (h - 1) / 2.0 * (1 - zy)], 1)


def translation_transforms(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Shifts of the content by (dx, dy) pixels (right, down)."""
    one, zero = np.ones_like(dx), np.zeros_like(dx)
    return np.stack([one, zero, -dx, zero, one, -dy], axis=1)


def flip_transforms(flips: np.ndarray, horizontal: bool, vertical: bool, h: int, w: int):
    """Mirror images where `flips` (bool, one per image): left-right and / or upside down."""
    sx = np.where(flips & horizontal, -1.0, 1.0)
    sy = np.where(flips & vertical, -1.0, 1.0)
    zero = np.zeros_like(sx)
    return np.stack([sx, zero, (sx < 0) * (w - 1.0), zero, sy, (sy < 0) * (h - 1.0)], axis=1)
