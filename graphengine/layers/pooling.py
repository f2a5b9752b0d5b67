"""Pooling layers, channels-last: MaxPooling1D/2D/3D, AveragePooling1D/2D/3D,
GlobalMaxPooling1D/2D/3D, GlobalAveragePooling1D/2D/3D, and Keras's aliases (MaxPool2D, AvgPool3D,
GlobalAvgPool2D, ...).

One base class per family does the work; each layer only says its rank and mode.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from graphengine import ops
from graphengine.layers.base import InputSpec, Layer
from graphengine.layers.convolutional import (
    check_data_format,
    normalize_padding,
    normalize_tuple,
)
from graphengine.ops.base import apply
from graphengine.ops.pooling import Pool


class BasePooling(Layer):
    """Max or average over pool_size windows moved by `strides` (default: pool_size); with
    padding="same" the padding is never pooled (averages count the real cells only)."""

    rank = 2
    mode = "max"

    def __init__(
        self,
        pool_size: int | Sequence[int] = 2,
        strides: int | Sequence[int] | None = None,
        padding: str = "valid",
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pool_size = normalize_tuple(self, pool_size, self.rank, "pool_size")
        self.strides = (
            self.pool_size
            if strides is None
            else normalize_tuple(self, strides, self.rank, "strides")
        )
        self.padding = normalize_padding(self, padding, ("valid", "same"))
        self.data_format = check_data_format(self, data_format)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def _op(self) -> Pool:
        return Pool(self.mode, self.rank, self.pool_size, self.strides, self.padding)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """The output shape; a ValueError naming this layer, the input shape and pool_size when
        a window does not fit."""
        try:
            return self._op().infer([tuple(input_shape)], [self.dtype])[0][0]
        except ValueError as e:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): {e}") from None

    def call(self, inputs: Any) -> Any:
        """The pooled windows of `inputs` (channels-last)."""
        self.compute_output_shape(tuple(inputs.shape))  # named errors on eager calls too
        out = apply(self._op(), inputs)
        return out[0] if isinstance(out, list) else out

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
        }


class MaxPooling1D(BasePooling):
    """Max over windows of the steps axis of (batch, steps, channels)."""

    rank, mode = 1, "max"


class MaxPooling2D(BasePooling):
    """Max pooling for 2-D spatial data.

    Downsamples the input along its spatial axes (height and width) by taking the maximum over
    a window of size `pool_size` for each channel; the window moves by `strides` along each axis.
    With `padding="valid"` an output axis has `floor((input - pool_size) / strides) + 1` cells
    (when `input >= pool_size`; a window that cannot fit raises a ValueError naming the layer);
    with `"same"`, `floor((input - 1) / strides) + 1`, the padding never winning a maximum. The
    gradient goes to the first maximum of each window, in row-major order.

    Example:

    >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> ge.layers.MaxPooling2D(pool_size=(2, 2))(x)[0, :, :, 0]
    array([[ 5.,  7.],
           [13., 15.]], dtype=float32)

    Args:
        pool_size: int or tuple of 2 ints, the window (height, width); one int is used for
            both. Default 2.
        strides: int, tuple of 2 ints, or None (the default: `pool_size`).
        padding: `"valid"` (no padding, the default) or `"same"` (pads evenly so that, with
            stride 1, the output has the input's height and width); case-insensitive.
        data_format: `"channels_last"` or None (the same). `"channels_first"` is not
            supported and raises a ValueError.
        **kwargs: Standard layer keyword arguments (`name`, `dtype`, `input_shape`, ...).

    Input shape:
        4-D tensor `(batch_size, height, width, channels)`.

    Output shape:
        4-D tensor `(batch_size, pooled_height, pooled_width, channels)`.
    """

    rank, mode = 2, "max"


class MaxPooling3D(BasePooling):
    """Max over windows of (batch, depth, height, width, channels)."""

    rank, mode = 3, "max"


class AveragePooling1D(BasePooling):
    """Mean over windows of the steps axis of (batch, steps, channels)."""

    rank, mode = 1, "average"


class AveragePooling2D(BasePooling):
    """Mean over windows of (batch, height, width, channels)."""

    rank, mode = 2, "average"


class AveragePooling3D(BasePooling):
    """Mean over windows of (batch, depth, height, width, channels)."""

    rank, mode = 3, "average"


class BaseGlobalPooling(Layer):
    """Max or mean over every spatial axis: (N, *spatial, C) -> (N, C), or (N, 1, ..., 1, C) with
    keepdims. A plain reduction (ge.ops max / mean), as in Keras."""

    rank = 2
    mode = "max"

    def __init__(
        self,
        data_format: str | None = None,
        keepdims: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data_format = check_data_format(self, data_format)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs: Any) -> Any:
        """The max or mean of `inputs` over every spatial axis."""
        reduce = ops.max if self.mode == "max" else ops.mean
        return reduce(inputs, axis=tuple(range(1, self.rank + 1)), keepdims=self.keepdims)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalMaxPooling1D(BaseGlobalPooling):
    """Global max pooling: the maximum over the steps axis of (batch, steps, channels), giving
    (batch, channels), or keeping the pooled axes as size 1 with `keepdims=True`. A mask is ignored,
    as in Keras."""

    rank, mode = 1, "max"


class GlobalMaxPooling2D(BaseGlobalPooling):
    """Global max pooling: the maximum over the spatial axes of (batch, height, width, channels),
    giving (batch, channels), or keeping the pooled axes as size 1 with `keepdims=True`. A mask is
    ignored, as in Keras."""

    rank, mode = 2, "max"


class GlobalMaxPooling3D(BaseGlobalPooling):
    """Global max pooling: the maximum over the spatial axes of (batch, depth, height, width,
    channels), giving (batch, channels), or keeping the pooled axes as size 1 with `keepdims=True`.
    A mask is ignored, as in Keras."""

    rank, mode = 3, "max"


class GlobalAveragePooling1D(BaseGlobalPooling):
    """Mean over the steps axis; with a mask (1.0 = keep, e.g. from Embedding(mask_zero=True))
    the mean of the kept steps only, as Keras. The mask stops here."""

    rank, mode = 1, "average"

    def call(self, inputs: Any, mask: Any = None) -> Any:
        if mask is None:
            return super().call(inputs)
        keep = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)  # (N, T, 1)
        # a selection, as Keras: a NaN or infinity in a masked step never reaches the mean
        kept = ops.where(keep, inputs, np.zeros((), np.dtype(inputs.dtype)))
        total = ops.sum(kept, axis=1, keepdims=self.keepdims)
        return ops.divide(total, ops.sum(keep, axis=1, keepdims=self.keepdims))


class GlobalAveragePooling2D(BaseGlobalPooling):
    """Global average pooling for 2-D spatial data.

    Takes the mean over height and width of each channel: `(batch, height, width, channels)`
    becomes `(batch, channels)`, or `(batch, 1, 1, channels)` with `keepdims=True`. It is a plain
    reduction (`ge.ops.mean`), so NaN and infinities propagate as NumPy's mean would.

    Example:

    >>> x = ge.Input(shape=(8, 8, 16))
    >>> ge.layers.GlobalAveragePooling2D()(x).shape
    (None, 16)
    >>> ge.layers.GlobalAveragePooling2D(keepdims=True)(x).shape
    (None, 1, 1, 16)

    Args:
        data_format: `"channels_last"` or None (the same). `"channels_first"` is not supported
            and raises a ValueError.
        keepdims: Whether to keep the pooled axes, with size 1 (Keras's default: False).
        **kwargs: Standard layer keyword arguments (`name`, `dtype`, `input_shape`, ...).

    Input shape:
        4-D tensor `(batch_size, height, width, channels)`.

    Output shape:
        2-D tensor `(batch_size, channels)`, or `(batch_size, 1, 1, channels)` with `keepdims`.
    """

    rank, mode = 2, "average"


class GlobalAveragePooling3D(BaseGlobalPooling):
    """Global average pooling: the mean over the spatial axes of (batch, depth, height, width,
    channels), giving (batch, channels), or keeping the pooled axes as size 1 with
    `keepdims=True`."""

    rank, mode = 3, "average"


MaxPool1D = MaxPooling1D
MaxPool2D = MaxPooling2D
MaxPool3D = MaxPooling3D
AvgPool1D = AveragePooling1D
AvgPool2D = AveragePooling2D
AvgPool3D = AveragePooling3D
GlobalMaxPool1D = GlobalMaxPooling1D
GlobalMaxPool2D = GlobalMaxPooling2D
GlobalMaxPool3D = GlobalMaxPooling3D
GlobalAvgPool1D = GlobalAveragePooling1D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalAvgPool3D = GlobalAveragePooling3D
