"""Recurrent cells with Keras names, arguments and weight layouts: SimpleRNNCell, LSTMCell (gates
i, f, c, o) and GRUCell (gates z, r, h). A cell owns the weights and one step written with ge.ops;
RNN layers run built-in cells over whole sequences through one fused op (ops/recurrent.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphengine import initializers, ops, regularizers
from graphengine.layers.base import Layer
from graphengine.ops import activations


def check_units(layer: str, units: Any) -> int:
    if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
        raise ValueError(f"{layer}: units must be a positive integer, got {units!r}")
    return int(units)


def lstm_bias_init(base: Any, units: int, unit_forget_bias: bool) -> Any:
    """An LSTM's bias initializer (blocks i, f, c, o of `units`): `base`, except that with
    unit_forget_bias the forget block starts at 1 (Jozefowicz et al. 2015)."""
    if not unit_forget_bias:
        return base

    def init(shape: tuple, dtype: Any = "float32") -> np.ndarray:
        ones = np.ones((units,), dtype)
        return np.concatenate([base((units,), dtype), ones, base((2 * units,), dtype)])

    return init


def _clip_rate(rate: float) -> float:
    return min(1.0, max(0.0, float(rate)))  # as Keras


class _Cell(Layer):
    """Shared by the built-in cells: hyperparameters, weights, config. Subclasses set `kind`
    (the fused op's cell), `gates` and `_step`."""

    kind = ""
    gates = 1

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.units = check_units(type(self).__name__, units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.dropout, self.recurrent_dropout = _clip_rate(dropout), _clip_rate(recurrent_dropout)
        self.seed = seed
        # a seeded cell draws its dropout masks from its own generator, as Keras's SeedGenerator
        self.rng = np.random.default_rng(seed) if seed is not None else None
        self.state_size: int | list[int] = self.units
        self.output_size = self.units

    def build(self, input_shape: tuple) -> None:
        dim = input_shape[-1]
        if dim is None:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}): the last dimension of the input "
                "must be known"
            )
        width = self.gates * self.units
        self.kernel = self.add_weight(
            (dim, width),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            name="kernel",
        )
        self.recurrent_kernel = self.add_weight(
            (self.units, width),
            self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            name="recurrent_kernel",
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                self._bias_shape(),
                self._bias_init(),
                regularizer=self.bias_regularizer,
                name="bias",
            )

    def _bias_shape(self) -> tuple:
        return (self.gates * self.units,)

    def _bias_init(self) -> Any:
        return self.bias_initializer

    def fused_activations(self) -> tuple[str, str] | None:
        """Names of (activation, recurrent_activation) if the fused kernels have both."""
        act, ract = (
            activations.fused_name(fn, activations.RECURRENT)
            for fn in (self.activation, self.recurrent_activation)
        )
        return None if act is None or ract is None else (act, ract)

    def fused_kwargs(self) -> dict[str, Any]:
        """Arguments of the fused op beyond those the RNN layer decides."""
        return {"reset_after": True}

    def call(self, inputs: Any, states: Any, training: bool | None = None) -> tuple[Any, list]:
        """One step: (output, new_states) for inputs (N, D) and a list of (N, U) states."""
        if training and (self.dropout or self.recurrent_dropout):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': dropout is applied by the RNN layer over "
                "whole sequences (one mask per sequence); a single step called in training "
                "cannot apply it"
            )
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        return self._step(inputs, states)

    def _step(self, x: Any, states: list) -> tuple[Any, list]:
        raise NotImplementedError

    def _projections(self, x: Any, h: Any) -> tuple[Any, Any]:
        return ops.matmul(x, self.kernel), ops.matmul(h, self.recurrent_kernel)

    def _block(self, t: Any, i: int) -> Any:
        u = self.units
        return t[..., i * u : (i + 1) * u]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


class SimpleRNNCell(_Cell):
    """h = activation(x @ kernel + h_{t-1} @ recurrent_kernel + bias).
    Weights: kernel (in, U), recurrent_kernel (U, U), bias (U,)."""

    kind, gates = "simple_rnn", 1

    def __init__(self, units: int, activation: Any = "tanh", **kwargs: Any) -> None:
        super().__init__(units, activation=activation, **kwargs)

    def fused_activations(self) -> tuple[str, str] | None:
        names = super().fused_activations()
        return None if names is None else (names[0], "sigmoid")  # no recurrent activation

    def _step(self, x: Any, states: list) -> tuple[Any, list]:
        xk, hr = self._projections(x, states[0])
        z = ops.add(xk, hr)
        h = self.activation(ops.add(z, self.bias) if self.bias is not None else z)
        return h, [h]

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["recurrent_activation"]
        return config


class LSTMCell(_Cell):
    """Hochreiter & Schmidhuber 1997, with Keras's gate order i, f, c, o: c = f c_{t-1} + i g,
    h = o activation(c). Weights: kernel (in, 4U), recurrent_kernel (U, 4U), bias (4U,); with
    unit_forget_bias the forget block of the bias starts at 1 (Jozefowicz et al. 2015)."""

    kind, gates = "lstm", 4

    def __init__(self, units: int, unit_forget_bias: bool = True, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.units]

    def _bias_init(self) -> Any:
        return lstm_bias_init(self.bias_initializer, self.units, self.unit_forget_bias)

    def _step(self, x: Any, states: list) -> tuple[Any, list]:
        h, c = states
        xk, hr = self._projections(x, h)
        z = ops.add(xk, hr)
        z = ops.add(z, self.bias) if self.bias is not None else z
        ract = self.recurrent_activation
        i, f, o = ract(self._block(z, 0)), ract(self._block(z, 1)), ract(self._block(z, 3))
        c = ops.add(ops.multiply(f, c), ops.multiply(i, self.activation(self._block(z, 2))))
        h = ops.multiply(o, self.activation(c))
        return h, [h, c]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRUCell(_Cell):
    """Cho et al. 2014 with Keras's gate order z, r, h: h = z h_{t-1} + (1 - z) hh. With
    reset_after (default, cuDNN-compatible) the reset gate multiplies h_{t-1} @ R_h + b_hh and
    bias is (2, 3U) (input side, recurrent side); otherwise it multiplies h_{t-1} before the
    product and bias is (3U,). Weights: kernel (in, 3U), recurrent_kernel (U, 3U), bias."""

    kind, gates = "gru", 3

    def __init__(self, units: int, reset_after: bool = True, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self) -> tuple:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def fused_kwargs(self) -> dict[str, Any]:
        return {"reset_after": self.reset_after}

    def _step(self, x: Any, states: list) -> tuple[Any, list]:
        h = states[0]
        u, ract = self.units, self.recurrent_activation
        bias = self.bias
        mx = ops.matmul(x, self.kernel)
        if bias is not None:
            mx = ops.add(mx, bias[0] if self.reset_after else bias)
        if self.reset_after:
            mh = ops.matmul(h, self.recurrent_kernel)
            mh = ops.add(mh, bias[1]) if bias is not None else mh
            z = ract(ops.add(self._block(mx, 0), self._block(mh, 0)))
            r = ract(ops.add(self._block(mx, 1), self._block(mh, 1)))
            candidate = ops.multiply(r, self._block(mh, 2))
        else:
            mh = ops.matmul(h, self.recurrent_kernel[:, : 2 * u])
            z = ract(ops.add(self._block(mx, 0), self._block(mh, 0)))
            r = ract(ops.add(self._block(mx, 1), self._block(mh, 1)))
            candidate = ops.matmul(ops.multiply(r, h), self.recurrent_kernel[:, 2 * u :])
        hh = self.activation(ops.add(self._block(mx, 2), candidate))
        h = ops.add(ops.multiply(z, h), ops.multiply(ops.subtract(1.0, z), hh))
        return h, [h]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "reset_after": self.reset_after}
