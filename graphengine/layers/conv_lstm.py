"""ConvLSTM2D (Shi et al. 2015) with Keras 3's names, arguments and weight layout, composed of
existing primitives: the input convolution of every step at once (one Conv2D over the N * T
frames, bias fused), then per step the recurrent convolution ("same", stride 1, as Keras) and
the LSTM gate math, unrolled over the time steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphengine import common, initializers, ops, regularizers
from graphengine.layers.base import InputSpec, Layer
from graphengine.layers.convolutional import (
    check_data_format,
    normalize_padding,
    normalize_tuple,
)
from graphengine.layers.recurrent import RNN, _dtype, masked_step
from graphengine.layers.recurrent_cells import _clip_rate, lstm_bias_init
from graphengine.ops import activations
from graphengine.ops.base import apply
from graphengine.ops.conv import Conv, conv_axis
from graphengine.ops.recurrent import dropout_on
from graphengine.ops.regularization import Dropout

_CELL_ARGS = (
    "kernel_size",
    "strides",
    "padding",
    "data_format",
    "dilation_rate",
    "activation",
    "recurrent_activation",
    "use_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "unit_forget_bias",
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "dropout",
    "recurrent_dropout",
    "seed",
)
_CELL_WEIGHTS = ("filters", "kernel", "recurrent_kernel", "bias")  # read through the layer


class ConvLSTMCell(Layer):
    """The hyperparameters and weights of a ConvLSTM2D: kernel (kh, kw, C, 4F), recurrent_kernel
    (kh, kw, F, 4F), bias (4F,), gate blocks i, f, c, o along the last axis."""

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: Any = 1,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        unit_forget_bias: bool = True,
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        owner: Layer | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        who = owner or self  # the layer that argument errors name
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters < 1:
            raise ValueError(
                f"{type(who).__name__} '{who.name}': filters must be a positive integer, "
                f"got {filters!r}"
            )
        self.filters = int(filters)
        self.kernel_size = normalize_tuple(who, kernel_size, 2, "kernel_size")
        self.strides = normalize_tuple(who, strides, 2, "strides")
        self.padding = normalize_padding(who, padding, ("valid", "same"))
        self.data_format = check_data_format(who, data_format)
        self.dilation_rate = normalize_tuple(who, dilation_rate, 2, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{type(who).__name__} '{who.name}': strides > 1 is not compatible with "
                f"dilation_rate > 1; received strides={self.strides}, "
                f"dilation_rate={self.dilation_rate}"
            )
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias, self.unit_forget_bias = bool(use_bias), bool(unit_forget_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.dropout, self.recurrent_dropout = _clip_rate(dropout), _clip_rate(recurrent_dropout)
        self.seed = seed
        self.rng = np.random.default_rng(seed) if seed is not None else None
        self.state_size = [self.filters, self.filters]  # channels; H', W' come with the input

    def build(self, input_shape: tuple) -> None:
        """`input_shape`: one step's (N, H, W, C), each of H, W, C known."""
        if any(d is None for d in input_shape[1:]):
            raise ValueError(
                f"ConvLSTM2D '{self.name}': the height, width and channels of the input must be "
                f"known, received a step of shape {input_shape}"
            )
        kh, kw, F = *self.kernel_size, self.filters
        self.kernel = self.add_weight(
            (kh, kw, input_shape[-1], 4 * F),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            name="kernel",
        )
        self.recurrent_kernel = self.add_weight(
            (kh, kw, F, 4 * F),
            self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            name="recurrent_kernel",
        )
        self.bias = None
        if self.use_bias:
            init = lstm_bias_init(self.bias_initializer, F, self.unit_forget_bias)
            self.bias = self.add_weight(
                (4 * F,), init, regularizer=self.bias_regularizer, name="bias"
            )

    def output_spatial(self, height: int, width: int) -> tuple[int, int]:
        """The states' (H', W') for frames of (height, width)."""
        axes = zip((height, width), self.kernel_size, self.strides, self.dilation_rate)
        return tuple(conv_axis(n, k, s, d, self.padding)[0] for n, k, s, d in axes)

    def get_config(self) -> dict[str, Any]:
        return {
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "unit_forget_bias": self.unit_forget_bias,
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


class ConvLSTM2D(RNN):
    """An LSTM whose products are 2-D convolutions, over (N, T, H, W, C) inputs: i, f, o =
    recurrent_activation(conv(x_t, K) + conv_same(h, R) + b), c = f c + i activation(...),
    h = o activation(c); outputs h (N, H', W', F), or all steps (N, T, H', W', F) with
    return_sequences, then the states [h, c] with return_state. A (N, T) mask holds states and
    outputs through masked steps, as RNN. Weights: kernel (kh, kw, C, 4F), recurrent_kernel
    (kh, kw, F, 4F), bias (4F,)."""

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: Any = 1,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        unit_forget_bias: bool = True,
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        **kwargs: Any,
    ) -> None:
        args = {k: v for k, v in locals().items() if k in _CELL_ARGS}
        # named now (Layer.__init__ keeps it), so the cell's argument errors name this layer
        self.name = kwargs["name"] = kwargs.get("name") or common.unique_name("conv_lstm2d")
        cell = ConvLSTMCell(
            filters, **args, owner=self, name="conv_lstm_cell", dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
        )  # fmt: skip
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            **kwargs,
        )

    def __getattr__(self, name: str) -> Any:
        cell = self.__dict__.get("cell")
        if cell is not None and name in _CELL_ARGS + _CELL_WEIGHTS:
            return getattr(cell, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _check_inputs(self, flat: list) -> None:
        seq = flat[0]
        dim = getattr(self, "_input_dim", None)
        shape = tuple(seq.shape)
        InputSpec(ndim=5, axes={-1: dim} if dim else {}).check(self, 0, shape, _dtype(seq))
        n = len(flat) - 1
        if n and n != 2:
            raise ValueError(
                f"Layer '{self.name}' (ConvLSTM2D) has 2 states [h, c], but initial_state has {n}"
            )

    def _state_shapes(self, input_shape: tuple) -> list[tuple]:
        if any(d is None for d in input_shape[2:4]):
            return []  # the cell's build names the unknown size
        spatial = self.cell.output_spatial(*input_shape[2:4])
        return [(*spatial, self.cell.filters)] * 2

    # -- the sequence --------------------------------------------------------------------------
    def _sequence(self, seq: Any, states: list, mask: Any, training: Any) -> tuple:
        F, T = self.cell.filters, seq.shape[1]
        if T is None:
            raise ValueError(
                f"Layer '{self.name}' (ConvLSTM2D): the number of time steps must be known (the "
                f"steps are unrolled); received shape {tuple(seq.shape)}"
            )
        xz = self._input_products(seq, training)  # (N, T, H', W', 4F), bias included
        if states:
            h, c = states
        else:
            h = c = ops.zeros_like(xz[:, 0, :, :, :F])
        rmasks = self._recurrent_masks(h, training)
        outputs: list = []
        prev = None
        for t in range(T - 1, -1, -1) if self.go_backwards else range(T):
            out, new = self._step(xz[:, t], h, c, rmasks)
            if mask is not None:
                m = ops.reshape(mask[:, t], (-1, 1, 1, 1))
                out, new = masked_step(m, prev, self.zero_output_for_mask, out, [h, c], new)
            (h, c), prev = new, out
            outputs.append(out)
        return self._gathered(outputs), [h, c]

    def _conv(self, x: Any, w: Any, bias: Any = None, recurrent: bool = False) -> Any:
        cell = self.cell
        if recurrent:  # Keras: "same", stride 1, no dilation, no bias
            op = Conv(2, (1, 1), "same", (1, 1), "linear", False)
        else:
            geometry = (cell.strides, cell.padding, cell.dilation_rate)
            op = Conv(2, *geometry, "linear", bias is not None)
        out = apply(op, x, w, *([bias] if bias is not None else []))
        return out[0] if isinstance(out, list) else out

    def _input_products(self, seq: Any, training: Any) -> Any:
        """conv(x_t, K) + b of every step, as one convolution over the N * T frames (four, one
        per gate, when input dropout gives each gate its own mask)."""
        cell, F = self.cell, self.cell.filters
        T, (H, W, C) = seq.shape[1], seq.shape[2:]
        if not dropout_on(cell.dropout):
            frames = ops.reshape(seq, (-1, H, W, C))
            y = self._conv(frames, cell.kernel, cell.bias)
            return ops.reshape(y, (-1, T, *y.shape[1:]))
        gates = []
        for g in range(4):  # one mask per gate and sequence, the same at every step (Keras)
            drop = Dropout(cell.dropout, (None, 1, None, None, None), training, cell.rng)
            x = ops.reshape(apply(drop, seq)[0], (-1, H, W, C))
            bias = cell.bias[g * F : (g + 1) * F] if cell.bias is not None else None
            gates.append(self._conv(x, cell.kernel[..., g * F : (g + 1) * F], bias))
        y = ops.concatenate(gates, axis=-1)
        return ops.reshape(y, (-1, T, *y.shape[1:]))

    def _recurrent_masks(self, h: Any, training: Any) -> list | None:
        """Recurrent dropout: one mask per gate over h, drawn once per sequence."""
        cell = self.cell
        if not dropout_on(cell.recurrent_dropout):
            return None
        ones = ops.ones_like(h)
        rate = cell.recurrent_dropout
        return [apply(Dropout(rate, None, training, cell.rng), ones)[0] for _ in range(4)]

    def _step(self, xz: Any, h: Any, c: Any, rmasks: list | None) -> tuple[Any, list]:
        cell, F = self.cell, self.cell.filters
        R = cell.recurrent_kernel
        if rmasks is None:
            z = ops.add(xz, self._conv(h, R, recurrent=True))
        else:
            hz = [
                self._conv(ops.multiply(h, m), R[..., g * F : (g + 1) * F], recurrent=True)
                for g, m in enumerate(rmasks)
            ]
            z = ops.add(xz, ops.concatenate(hz, axis=-1))
        ract, act = cell.recurrent_activation, cell.activation
        i, f = ract(z[..., :F]), ract(z[..., F : 2 * F])
        o = ract(z[..., 3 * F :])
        c = ops.add(ops.multiply(f, c), ops.multiply(i, act(z[..., 2 * F : 3 * F])))
        h = ops.multiply(o, act(c))
        return h, [h, c]

    # -- config --------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {**Layer.get_config(self), **self.cell.get_config(), **self._rnn_config()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ConvLSTM2D:
        return cls(**config)
