"""Convolution layers, channels-last: Conv1D, Conv2D, Conv3D, Conv1DTranspose, Conv2DTranspose,
Conv3DTranspose.

As Keras's base_conv, one base class does the work and each layer only says its rank. Weights
(Keras layouts): Conv kernel (*kernel_size, in / groups, filters), Conv*Transpose kernel
(*kernel_size, filters, in), bias (filters,).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from graphengine import initializers, regularizers
from graphengine.graph.tensor import format_shape
from graphengine.layers.base import InputSpec, Layer
from graphengine.ops import activations
from graphengine.ops.base import apply
from graphengine.ops.conv import Conv, ConvTranspose


def normalize_tuple(
    layer: Layer, value: Any, rank: int, arg: str, allow_zero: bool = False
) -> tuple[int, ...]:
    """An int or a sequence of `rank` ints, as a tuple of `rank` positive (or, with `allow_zero`,
    non-negative) ints."""
    values = (value,) * rank if isinstance(value, (int, np.integer)) else value
    ok = (
        isinstance(values, (list, tuple))
        and len(values) == rank
        and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 - allow_zero
            for v in values
        )
    )
    if not ok:
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': {arg} must be a {kind} int or a tuple of "
            f"{rank} {kind} ints, got {value!r}"
        )
    return tuple(int(v) for v in values)


def normalize_padding(layer: Layer, padding: Any, valid: Sequence[str]) -> str:
    """The padding keyword, case-insensitive ("SAME" as in TensorFlow code)."""
    if isinstance(padding, str) and padding.lower() in valid:
        return padding.lower()
    raise ValueError(
        f"{type(layer).__name__} '{layer.name}': padding must be one of "
        f"{', '.join(repr(v) for v in valid)} (any case), got {padding!r}"
    )


def check_data_format(layer: Layer, data_format: Any) -> str:
    if data_format not in (None, "channels_last"):
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': only data_format='channels_last' "
            f"(NWC, NHWC, NDHWC) is supported, got {data_format!r}"
        )
    return "channels_last"


class BaseConv(Layer):
    """y = activation(conv(x, kernel) + bias) over `rank` spatial axes of channels-last x.
    Subclasses set `rank` (and `transposed`)."""

    rank = 2
    transposed = False

    def __init__(
        self,
        filters: int,
        kernel_size: int | Sequence[int],
        strides: int | Sequence[int] = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: int | Sequence[int] = 1,
        groups: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(filters, (int, np.integer)) or filters <= 0:
            raise ValueError(f"{self._who}: filters must be a positive integer, got {filters!r}")
        if not isinstance(groups, (int, np.integer)) or groups <= 0 or filters % groups:
            raise ValueError(
                f"{self._who}: groups must be a positive integer dividing filters={filters}, "
                f"got groups={groups!r}"
            )
        self.filters, self.groups = int(filters), int(groups)
        self.kernel_size = normalize_tuple(self, kernel_size, self.rank, "kernel_size")
        self.strides = normalize_tuple(self, strides, self.rank, "strides")
        self.dilation_rate = normalize_tuple(self, dilation_rate, self.rank, "dilation_rate")
        paddings = (
            ("valid", "same", "causal")
            if self.rank == 1 and not self.transposed
            else (
                "valid",
                "same",
            )
        )
        self.padding = normalize_padding(self, padding, paddings)
        self.data_format = check_data_format(self, data_format)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{self._who}: strides > 1 cannot be combined with dilation_rate > 1 (as in "
                f"Keras), got strides={self.strides} and dilation_rate={self.dilation_rate}"
            )
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    @property
    def _who(self) -> str:
        return f"{type(self).__name__} '{self.name}'"

    def kernel_shape(self, channels: int) -> tuple[int, ...]:
        """The kernel's shape for `channels` input channels: (*kernel_size, in / groups,
        filters)."""
        return self.kernel_size + (channels // self.groups, self.filters)

    def build(self, input_shape: tuple) -> None:
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}): the channel dimension (last "
                f"axis) of the input must be known, received shape {format_shape(input_shape)}"
            )
        if channels % self.groups:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}): the input has {channels} "
                f"channels, which groups={self.groups} does not divide (input shape "
                f"{format_shape(input_shape)})"
            )
        self.compute_output_shape(input_shape)
        self.kernel = self.add_weight(
            self.kernel_shape(channels),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            name="kernel",
        )
        self.bias = (
            self.add_weight(
                (self.filters,),
                self.bias_initializer,
                regularizer=self.bias_regularizer,
                name="bias",
            )
            if self.use_bias
            else None
        )
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={-1: channels})

    def _op(self, activation: str) -> Conv | ConvTranspose:
        geometry = (self.rank, self.strides, self.padding, self.dilation_rate)
        return Conv(*geometry, activation, self.use_bias, self.groups)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """The output shape; a ValueError naming this layer, the input shape and the kernel
        shape when the convolution cannot produce an output."""
        channels = input_shape[-1] if input_shape[-1] is not None else self.groups
        shapes = [tuple(input_shape), self.kernel_shape(channels)]
        if self.use_bias:
            shapes.append((self.filters,))
        try:
            specs = self._op("linear").infer(shapes, [self.dtype] * len(shapes))
        except ValueError as e:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): {e}") from None
        return specs[0][0]

    def call(self, inputs: Any) -> Any:
        self.compute_output_shape(tuple(inputs.shape))  # named errors on eager calls too
        fused = activations.fused_name(self.activation, activations.BIAS)
        operands = [inputs, self.kernel] + ([self.bias] if self.use_bias else [])
        out = apply(self._op(fused or "linear"), *operands)
        y = out[0] if isinstance(out, list) else out
        return y if fused else self.activation(y)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "groups": self.groups,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
        }


class Conv1D(BaseConv):
    """1D convolution layer (e.g. temporal convolution).

    This layer creates a convolution kernel that is convolved with the layer input over a single
    spatial (or temporal) dimension to produce a tensor of outputs. If `use_bias` is True, a bias
    vector is created and added to the outputs. Finally, if `activation` is not None, it is applied
    to the outputs too (a relu, sigmoid, tanh, relu6 or step activation fused with the bias). The
    work is im2col and one matrix product (BLAS on the CPU, a tiled kernel on CUDA).

    Weights: kernel `(kernel_size, channels / groups, filters)`, bias `(filters,)`.

    Example:

    >>> x = ge.Input(shape=(100, 8))
    >>> ge.layers.Conv1D(32, 3, activation="relu")(x).shape
    (None, 98, 32)

    Args:
        filters: int, the dimension of the output space (the number of filters in the
            convolution).
        kernel_size: int or tuple/list of a single integer, the size of the convolution window.
        strides: int or tuple/list of a single integer, the stride length of the convolution.
            `strides > 1` is incompatible with `dilation_rate > 1` (a ValueError, as in Keras).
        padding: string, `"valid"` (no padding) or `"same"` (pads evenly so that, with
            stride 1, the output has the input's size), or `"causal"` (dilated causal convolution:
            `output[t]` does not depend on `input[t + 1:]`; the input is left-padded);
            case-insensitive.
        data_format: `"channels_last"` or None (the same). `"channels_first"` is not supported
            and raises a ValueError.
        dilation_rate: int or tuple/list of a single integer, the dilation rate to use for dilated
            convolution.
        groups: A positive int specifying the number of groups in which the input is split
            along the channel axis. Each group is convolved separately with `filters // groups`
            filters, and the outputs are concatenated. `filters` and the input's channels must
            both be divisible by `groups`.
        activation: Activation function. If None, no activation is applied.
        use_bias: bool, if True, bias will be added to the output.
        kernel_initializer: Initializer for the convolution kernel (default
            `"glorot_uniform"`).
        bias_initializer: Initializer for the bias vector (default `"zeros"`).
        kernel_regularizer: Optional regularizer for the convolution kernel.
        bias_regularizer: Optional regularizer for the bias vector.
        **kwargs: Standard layer keyword arguments. Weight constraints are not supported.

    Input shape:
        3D tensor with shape `(batch_size, steps, channels)`; the channels must be known.

    Output shape:
        3D tensor with shape `(batch_size, new_steps, filters)`.
    """

    rank = 1


class Conv2D(BaseConv):
    """2D convolution layer (e.g. spatial convolution over images).

    This layer creates a convolution kernel that is convolved with the layer input over the height
    and width to produce a tensor of outputs. If `use_bias` is True, a bias vector is created and
    added to the outputs. Finally, if `activation` is not None, it is applied to the outputs too (a
    relu, sigmoid, tanh, relu6 or step activation fused with the bias). The work is im2col and
    one matrix product (BLAS on the CPU, a tiled kernel on CUDA).

    Weights: kernel `(kh, kw, channels / groups, filters)`, bias `(filters,)`.

    Example:

    >>> x = ge.Input(shape=(28, 28, 1))
    >>> ge.layers.Conv2D(32, 3, activation="relu")(x).shape
    (None, 26, 26, 32)

    Args:
        filters: int, the dimension of the output space (the number of filters in the
            convolution).
        kernel_size: int or tuple/list of 2 integers, the size of the convolution window.
        strides: int or tuple/list of 2 integers, the stride length of the convolution. `strides >
            1` is incompatible with `dilation_rate > 1` (a ValueError, as in Keras).
        padding: string, `"valid"` (no padding) or `"same"` (pads evenly so that, with
            stride 1, the output has the input's size); case-insensitive.
        data_format: `"channels_last"` or None (the same). `"channels_first"` is not supported
            and raises a ValueError.
        dilation_rate: int or tuple/list of 2 integers, the dilation rate to use for dilated
            convolution.
        groups: A positive int specifying the number of groups in which the input is split
            along the channel axis. Each group is convolved separately with `filters // groups`
            filters, and the outputs are concatenated. `filters` and the input's channels must
            both be divisible by `groups`.
        activation: Activation function. If None, no activation is applied.
        use_bias: bool, if True, bias will be added to the output.
        kernel_initializer: Initializer for the convolution kernel (default
            `"glorot_uniform"`).
        bias_initializer: Initializer for the bias vector (default `"zeros"`).
        kernel_regularizer: Optional regularizer for the convolution kernel.
        bias_regularizer: Optional regularizer for the bias vector.
        **kwargs: Standard layer keyword arguments. Weight constraints are not supported.

    Input shape:
        4D tensor with shape `(batch_size, height, width, channels)`; the channels must be known.

    Output shape:
        4D tensor with shape `(batch_size, new_height, new_width, filters)`.
    """

    rank = 2


class Conv3D(BaseConv):
    """3D convolution layer (e.g. spatial convolution over volumes).

    This layer creates a convolution kernel that is convolved with the layer input over the depth,
    height and width to produce a tensor of outputs. If `use_bias` is True, a bias vector is created
    and added to the outputs. Finally, if `activation` is not None, it is applied to the outputs too
    (a relu, sigmoid, tanh, relu6 or step activation fused with the bias). The work is im2col and
    one matrix product (BLAS on the CPU, a tiled kernel on CUDA).

    Weights: kernel `(kd, kh, kw, channels / groups, filters)`, bias `(filters,)`.

    Example:

    >>> x = ge.Input(shape=(8, 16, 16, 3))
    >>> ge.layers.Conv3D(32, 3, activation="relu")(x).shape
    (None, 6, 14, 14, 32)

    Args:
        filters: int, the dimension of the output space (the number of filters in the
            convolution).
        kernel_size: int or tuple/list of 3 integers, the size of the convolution window.
        strides: int or tuple/list of 3 integers, the stride length of the convolution. `strides >
            1` is incompatible with `dilation_rate > 1` (a ValueError, as in Keras).
        padding: string, `"valid"` (no padding) or `"same"` (pads evenly so that, with
            stride 1, the output has the input's size); case-insensitive.
        data_format: `"channels_last"` or None (the same). `"channels_first"` is not supported
            and raises a ValueError.
        dilation_rate: int or tuple/list of 3 integers, the dilation rate to use for dilated
            convolution.
        groups: A positive int specifying the number of groups in which the input is split
            along the channel axis. Each group is convolved separately with `filters // groups`
            filters, and the outputs are concatenated. `filters` and the input's channels must
            both be divisible by `groups`.
        activation: Activation function. If None, no activation is applied.
        use_bias: bool, if True, bias will be added to the output.
        kernel_initializer: Initializer for the convolution kernel (default
            `"glorot_uniform"`).
        bias_initializer: Initializer for the bias vector (default `"zeros"`).
        kernel_regularizer: Optional regularizer for the convolution kernel.
        bias_regularizer: Optional regularizer for the bias vector.
        **kwargs: Standard layer keyword arguments. Weight constraints are not supported.

    Input shape:
        5D tensor with shape `(batch_size, depth, height, width, channels)`; the channels must be
        known.

    Output shape:
        5D tensor with shape `(batch_size, new_depth, new_height, new_width, filters)`.
    """

    rank = 3


class BaseConvTranspose(BaseConv):
    """Transposed convolution (the adjoint of a convolution, "deconvolution"), sized as Keras:
    "same" gives input * strides, "valid" (input - 1) * strides + max(extent, strides), and
    `output_padding` (< strides) sets the extra cells at the end explicitly."""

    transposed = True

    def __init__(
        self,
        filters: int,
        kernel_size: int | Sequence[int],
        strides: int | Sequence[int] = 1,
        padding: str = "valid",
        output_padding: int | Sequence[int] | None = None,
        data_format: str | None = None,
        dilation_rate: int | Sequence[int] = 1,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        if "groups" in kwargs:
            raise TypeError(
                f"{type(self).__name__} got an unexpected keyword argument 'groups' "
                "(transposed convolutions are not grouped)"
            )
        super().__init__(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            **kwargs,
        )
        self.output_padding = (
            None
            if output_padding is None
            else normalize_tuple(self, output_padding, self.rank, "output_padding", True)
        )
        if self.output_padding is not None and any(
            p >= s for p, s in zip(self.output_padding, self.strides)
        ):
            raise ValueError(
                f"{self._who}: output_padding must be smaller than strides on every axis, got "
                f"output_padding={self.output_padding} and strides={self.strides}"
            )

    def kernel_shape(self, channels: int) -> tuple[int, ...]:
        """The transposed kernel's shape: (*kernel_size, filters, in), as Keras."""
        return self.kernel_size + (self.filters, channels)

    def _op(self, activation: str) -> Conv | ConvTranspose:
        geometry = (self.rank, self.strides, self.padding, self.dilation_rate)
        return ConvTranspose(
            *geometry, activation, self.use_bias, output_padding=self.output_padding
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["groups"]
        config["output_padding"] = (
            None if self.output_padding is None else list(self.output_padding)
        )
        return config


class Conv1DTranspose(BaseConvTranspose):
    """1-D transposed convolution over (batch, steps, channels)."""

    rank = 1


class Conv2DTranspose(BaseConvTranspose):
    """2-D transposed convolution over (batch, height, width, channels)."""

    rank = 2


class Conv3DTranspose(BaseConvTranspose):
    """3-D transposed convolution over (batch, depth, height, width, channels)."""

    rank = 3

    def __init__(
        self,
        filters: int,
        kernel_size: int | Sequence[int],
        strides: int | Sequence[int] = 1,
        padding: str = "valid",
        data_format: str | None = None,
        output_padding: int | Sequence[int] | None = None,
        **kwargs: Any,
    ) -> None:
        # Keras's Conv3DTranspose alone takes data_format before output_padding
        super().__init__(
            filters,
            kernel_size,
            strides,
            padding,
            output_padding=output_padding,
            data_format=data_format,
            **kwargs,
        )


Convolution1D = Conv1D
Convolution2D = Conv2D
Convolution3D = Conv3D
Convolution1DTranspose = Conv1DTranspose
Convolution2DTranspose = Conv2DTranspose
Convolution3DTranspose = Conv3DTranspose
