"""Depthwise and separable convolution layers, channels-last: DepthwiseConv1D, DepthwiseConv2D,
SeparableConv1D, SeparableConv2D, as Keras 3's base_depthwise_conv and base_separable_conv.

Weights (Keras layouts): DepthwiseConv kernel (*kernel_size, C, depth_multiplier) and bias
(C * depth_multiplier,), output channel c * depth_multiplier + m; SeparableConv depthwise_kernel
(*kernel_size, C, depth_multiplier), pointwise_kernel (1[, 1], C * depth_multiplier, filters)
and bias (filters,). The depthwise step is ops/depthwise_conv.py's primitive; the separable
layers' pointwise step is a 1x1 ops/conv.py Conv (a matrix product) carrying bias and activation.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from graphengine import initializers, regularizers
from graphengine.graph.tensor import format_shape
from graphengine.layers.base import InputSpec, Layer
from graphengine.layers.convolutional import check_data_format, normalize_padding, normalize_tuple
from graphengine.ops import activations
from graphengine.ops.base import apply
from graphengine.ops.conv import Conv
from graphengine.ops.depthwise_conv import PADDINGS, DepthwiseConv


class _DepthwiseBase(Layer):
    """The hyperparameters and the depthwise step shared by the depthwise and separable layers.
    Subclasses set `rank`."""

    rank = 2

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        strides: int | Sequence[int] = 1,
        padding: str = "valid",
        depth_multiplier: int = 1,
        data_format: str | None = None,
        dilation_rate: int | Sequence[int] = 1,
        activation: Any = None,
        use_bias: bool = True,
        depthwise_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        depthwise_regularizer: Any = None,
        bias_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        dm = depth_multiplier
        if not isinstance(dm, (int, np.integer)) or isinstance(dm, bool) or dm <= 0:
            raise ValueError(
                f"{self._who}: depth_multiplier must be a positive integer, got "
                f"depth_multiplier={depth_multiplier!r}"
            )
        self.depth_multiplier = int(dm)
        self.kernel_size = normalize_tuple(self, kernel_size, self.rank, "kernel_size")
        self.strides = normalize_tuple(self, strides, self.rank, "strides")
        self.dilation_rate = normalize_tuple(self, dilation_rate, self.rank, "dilation_rate")
        self.padding = normalize_padding(self, padding, PADDINGS)
        self.data_format = check_data_format(self, data_format)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    @property
    def _who(self) -> str:
        return f"{type(self).__name__} '{self.name}'"

    def _channels(self, input_shape: tuple) -> int:
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}): the channel dimension (last "
                f"axis) of the input must be known, received shape {format_shape(input_shape)}"
            )
        return channels

    def depthwise_shape(self, channels: int) -> tuple[int, ...]:
        """The depthwise kernel's shape: (*kernel_size, channels, depth_multiplier)."""
        return self.kernel_size + (channels, self.depth_multiplier)

    def _depthwise_op(self, activation: str, use_bias: bool) -> DepthwiseConv:
        geometry = (self.rank, self.strides, self.padding, self.dilation_rate)
        return DepthwiseConv(*geometry, activation, use_bias)

    def _depthwise_output_shape(self, input_shape: tuple) -> tuple:
        """The depthwise step's output shape; a ValueError naming this layer, the input shape
        and the kernel shape when the kernel does not fit."""
        channels = input_shape[-1] if input_shape[-1] is not None else 1
        shapes = [tuple(input_shape), self.depthwise_shape(channels)]
        try:
            specs = self._depthwise_op("linear", False).infer(shapes, [self.dtype] * 2)
        except ValueError as e:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): {e}") from None
        return specs[0][0]

    def _add_depthwise_kernel(self, channels: int, name: str) -> Any:
        return self.add_weight(
            self.depthwise_shape(channels),
            self.depthwise_initializer,
            regularizer=self.depthwise_regularizer,
            name=name,
        )

    def _add_bias(self, size: int) -> Any:
        if not self.use_bias:
            return None
        return self.add_weight(
            (size,), self.bias_initializer, regularizer=self.bias_regularizer, name="bias"
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "depth_multiplier": self.depth_multiplier,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
        }


class BaseDepthwiseConv(_DepthwiseBase):
    """y = activation(depthwise_conv(x, kernel) + bias): each input channel convolved with its
    own depth_multiplier kernels, over `rank` spatial axes of channels-last x."""

    def build(self, input_shape: tuple) -> None:
        channels = self._channels(input_shape)
        self.compute_output_shape(input_shape)
        self.kernel = self._add_depthwise_kernel(channels, "kernel")
        self.bias = self._add_bias(channels * self.depth_multiplier)
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={-1: channels})

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """The output shape: the convolved spatial sizes, channels * depth_multiplier."""
        return self._depthwise_output_shape(input_shape)

    def call(self, inputs: Any) -> Any:
        self.compute_output_shape(tuple(inputs.shape))  # named errors on eager calls too
        fused = activations.fused_name(self.activation, activations.BIAS)
        operands = [inputs, self.kernel] + ([self.bias] if self.use_bias else [])
        y = apply(self._depthwise_op(fused or "linear", self.use_bias), *operands)
        return y if fused else self.activation(y)


class DepthwiseConv1D(BaseDepthwiseConv):
    """1-D depthwise convolution over (batch, steps, channels)."""

    rank = 1


class DepthwiseConv2D(BaseDepthwiseConv):
    """2-D depthwise convolution over (batch, height, width, channels)."""

    rank = 2


class BaseSeparableConv(_DepthwiseBase):
    """y = activation(pointwise(depthwise_conv(x, depthwise_kernel)) + bias): the depthwise
    step without bias, then a 1x1 convolution to `filters` channels."""

    def __init__(
        self,
        filters: int,
        kernel_size: int | Sequence[int],
        strides: int | Sequence[int] = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: int | Sequence[int] = 1,
        depth_multiplier: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        depthwise_initializer: Any = "glorot_uniform",
        pointwise_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        depthwise_regularizer: Any = None,
        pointwise_regularizer: Any = None,
        bias_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            kernel_size,
            strides=strides,
            padding=padding,
            depth_multiplier=depth_multiplier,
            data_format=data_format,
            dilation_rate=dilation_rate,
            activation=activation,
            use_bias=use_bias,
            depthwise_initializer=depthwise_initializer,
            bias_initializer=bias_initializer,
            depthwise_regularizer=depthwise_regularizer,
            bias_regularizer=bias_regularizer,
            **kwargs,
        )
        if not isinstance(filters, (int, np.integer)) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(f"{self._who}: filters must be a positive integer, got {filters!r}")
        self.filters = int(filters)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)

    def build(self, input_shape: tuple) -> None:
        channels = self._channels(input_shape)
        self.compute_output_shape(input_shape)
        self.depthwise_kernel = self._add_depthwise_kernel(channels, "depthwise_kernel")
        self.pointwise_kernel = self.add_weight(
            (1,) * self.rank + (channels * self.depth_multiplier, self.filters),
            self.pointwise_initializer,
            regularizer=self.pointwise_regularizer,
            name="pointwise_kernel",
        )
        self.bias = self._add_bias(self.filters)
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={-1: channels})

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """The output shape: the convolved spatial sizes, then `filters`."""
        return self._depthwise_output_shape(input_shape)[:-1] + (self.filters,)

    def call(self, inputs: Any) -> Any:
        self.compute_output_shape(tuple(inputs.shape))  # named errors on eager calls too
        fused = activations.fused_name(self.activation, activations.BIAS)
        h = apply(self._depthwise_op("linear", False), inputs, self.depthwise_kernel)
        ones = (1,) * self.rank
        pointwise = Conv(self.rank, ones, "valid", ones, fused or "linear", self.use_bias)
        operands = [h, self.pointwise_kernel] + ([self.bias] if self.use_bias else [])
        out = apply(pointwise, *operands)
        y = out[0] if isinstance(out, list) else out  # a Conv with columns returns them too
        return y if fused else self.activation(y)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        return {
            **config,
            "filters": self.filters,
            "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
            "pointwise_regularizer": regularizers.serialize(self.pointwise_regularizer),
        }


class SeparableConv1D(BaseSeparableConv):
    """1-D depthwise separable convolution over (batch, steps, channels)."""

    rank = 1


class SeparableConv2D(BaseSeparableConv):
    """2-D depthwise separable convolution over (batch, height, width, channels)."""

    rank = 2


SeparableConvolution1D = SeparableConv1D
SeparableConvolution2D = SeparableConv2D
