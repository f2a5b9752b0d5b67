"""Recurrent layers with Keras names and arguments: RNN(cell), SimpleRNN, LSTM, GRU.

A built-in cell whose activations the fused kernels implement runs the whole sequence as one op
(ops/recurrent.py); any other cell (a user's, written with ge.ops) is unrolled over a known
number of time steps. Masks (1.0 = keep) make masked steps carry states and outputs through.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphengine import common, ops
from graphengine.graph.tensor import SymbolicTensor, Variable, format_shape
from graphengine.layers.base import InputSpec, Layer
from graphengine.layers.recurrent_cells import GRUCell, LSTMCell, SimpleRNNCell, _Cell
from graphengine.layers.recurrent_states import make_states, read_states, reset, write_states
from graphengine.layers.serialization import deserialize_layer, serialize_layer
from graphengine.ops import activations
from graphengine.ops.base import apply
from graphengine.ops.recurrent import RecurrentSequence
from graphengine.tree import flatten


def _dtype(x: Any) -> str:
    return x.dtype if isinstance(x, SymbolicTensor) else np.dtype(x.dtype).name


class RNN(Layer):
    """Runs `cell` over the time axis of (N, T, D) inputs. Returns the last output (N, U), or all
    of them (N, T, U) with return_sequences (in processing order, so reversed with
    go_backwards, as Keras), followed by the final states with return_state. Call with
    `initial_state=[...]` (a list of (N, size) tensors) and, eagerly, `mask=` (N, T)."""

    supports_masking = True

    def __init__(
        self,
        cell: Any,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(cell, (list, tuple)):
            raise ValueError(
                f"RNN '{self.name}': a list of cells (StackedRNNCells) is not supported; stack "
                "RNN layers with return_sequences=True instead"
            )
        if not isinstance(cell, Layer) or not hasattr(cell, "state_size"):
            raise ValueError(
                f"RNN '{self.name}': the cell must be a Layer with a `call(inputs, states)` "
                f"method and a `state_size` attribute, received {cell!r}"
            )
        self.cell = cell
        self._layers = [cell]
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.unroll = bool(go_backwards), bool(unroll)
        self.stateful = bool(stateful)
        # stateful: one non-trainable (batch, size) variable per state, made at build; not
        # weights (Keras does not track or save them)
        self.states: list[Variable] | None = None
        self.zero_output_for_mask = bool(zero_output_for_mask)
        size = cell.state_size
        self.state_size = [int(s) for s in size] if isinstance(size, (list, tuple)) else [int(size)]

    # -- calling -------------------------------------------------------------------------------
    def __call__(self, inputs: Any, initial_state: Any = None, **kwargs: Any) -> Any:
        """`initial_state` joins the inputs ([sequences, *states]), so the model graph has its
        edges and a nested model can replay the call."""
        if initial_state is not None:
            states = initial_state if isinstance(initial_state, (list, tuple)) else [initial_state]
            inputs = [inputs, *states]
        return super().__call__(inputs, **kwargs)

    def _split(self, inputs: Any) -> tuple[Any, list]:
        if isinstance(inputs, (list, tuple)):
            return inputs[0], list(inputs[1:])
        return inputs, []

    def _check_inputs(self, flat: list) -> None:
        seq, states = flat[0], flat[1:]
        dim = getattr(self, "_input_dim", None)
        InputSpec(ndim=3, axes={-1: dim} if dim else {}).check(
            self, 0, tuple(seq.shape), _dtype(seq)
        )
        if states and len(states) != len(self.state_size):
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) has {len(self.state_size)} "
                f"state(s) of sizes {self.state_size}, but initial_state has {len(states)}"
            )
        batch = seq.shape[0]
        for i, (s, size) in enumerate(zip(states, self.state_size)):
            shape = tuple(s.shape)
            same_batch = None in (shape[0], batch) if shape else True
            if len(shape) != 2 or shape[1] != size or not (same_batch or shape[0] == batch):
                raise ValueError(
                    f"Layer '{self.name}' ({type(self).__name__}): initial_state {i} must have "
                    f"shape {format_shape((batch, size))}, received {format_shape(shape)}"
                )

    def build(self, input_shape: Any) -> None:
        seq = input_shape[0] if isinstance(input_shape, list) else input_shape
        self._input_dim = seq[-1]
        if not self.cell.built:
            self.cell.build((seq[0],) + tuple(seq[2:]))
            self.cell.built = True
            for w in self.cell.weights:  # Keras's paths: lstm/lstm_cell/kernel
                w.path = f"{self.name}/{w.path}"
        if self.stateful:
            self.states = make_states(self, seq[0], self._state_shapes(seq))
        self.built = True

    def _state_shapes(self, input_shape: tuple) -> list[tuple]:
        """Each state's shape without the batch, for inputs of `input_shape`."""
        return [(s,) for s in self.state_size]

    def call(self, inputs: Any, mask: Any = None, training: bool | None = None) -> Any:
        seq, states = self._split(inputs)
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if mask is not None and _dtype(mask) != _dtype(seq):
            mask = ops.cast(mask, _dtype(seq))
        states = read_states(self, seq, states)
        outputs, finals = self._sequence(seq, states, mask, training)
        outputs, finals = write_states(self, outputs, finals)
        return [outputs, *finals] if self.return_state else outputs

    def _sequence(self, seq: Any, states: list, mask: Any, training: Any) -> tuple:
        """(outputs, final states) of the cell run over `seq` from `states` (none: zeros)."""
        cell = self.cell
        fused = cell.fused_activations() if isinstance(cell, _Cell) else None
        if fused is None:
            return self._unrolled(seq, states, mask, training)
        return self._fused(seq, states, mask, training, fused)

    def reset_state(self) -> None:
        """Zeros the states of a stateful layer (nothing before it is built), as Keras."""
        reset(self)

    def reset_states(self) -> None:
        """Keras's compatibility alias of `reset_state`."""
        reset(self)

    def _fused(self, seq: Any, states: list, mask: Any, training: Any, acts: tuple) -> tuple:
        cell = self.cell
        op = RecurrentSequence(
            cell.kind,
            cell.units,
            *acts,
            use_bias=cell.use_bias,
            return_sequences=self.return_sequences,
            go_backwards=self.go_backwards,
            zero_output_for_mask=self.zero_output_for_mask,
            dropout=cell.dropout,
            recurrent_dropout=cell.recurrent_dropout,
            has_state=bool(states),
            has_mask=mask is not None,
            training=training,
            rng=cell.rng,
            **cell.fused_kwargs(),
        )
        weights = [cell.kernel, cell.recurrent_kernel] + ([cell.bias] if cell.use_bias else [])
        outs = apply(op, seq, *states, *weights, *([mask] if mask is not None else []))
        return outs[0], outs[1 : 1 + op.n_states]

    def _unrolled(self, seq: Any, states: list, mask: Any, training: Any) -> tuple:
        """The cell's own step, once per time step (ge.ops all the way, so differentiable)."""
        cell, steps = self.cell, seq.shape[1]
        if steps is None:
            raise ValueError(
                f"Layer '{self.name}': the cell {type(cell).__name__} has no fused kernel (a "
                f"custom cell, or activations other than {', '.join(_fusable())}), so it is "
                "unrolled over the time steps, whose number must then be known; received "
                f"shape {format_shape(seq.shape)}"
            )
        if getattr(cell, "dropout", 0) or getattr(cell, "recurrent_dropout", 0):
            raise ValueError(
                f"Layer '{self.name}': dropout needs the fused kernel (activations "
                f"{', '.join(_fusable())}); this cell is unrolled step by step"
            )
        if not states:
            zeros = [np.zeros((seq.shape[-1], s), _dtype(seq)) for s in self.state_size]
            states = [ops.matmul(seq[:, 0, :], z) for z in zeros]
        takes_training = "training" in common.parameter_names(cell.call)
        kwargs = {"training": training} if takes_training and training is not None else {}
        outputs: list = []
        prev = None
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        for t in order:
            out, new = cell.call(seq[:, t, :], list(states), **kwargs)
            new = flatten(new)
            if mask is not None:
                step = (mask[:, t : t + 1], prev, self.zero_output_for_mask)
                out, new = masked_step(*step, out, states, new)
            states, prev = new, out
            outputs.append(out)
        return self._gathered(outputs), states

    def _gathered(self, outputs: list) -> Any:
        """The step outputs as the layer returns them: all (N, T, ...) with return_sequences
        (in processing order), else the last."""
        if not self.return_sequences:
            return outputs[-1]
        return ops.concatenate([ops.expand_dims(o, 1) for o in outputs], axis=1)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The input mask for return_sequences outputs (unchanged even with go_backwards, as
        Keras), None for the last output and the states."""
        mask = flatten(mask)[0] if isinstance(mask, (list, tuple)) else mask
        out = mask if self.return_sequences else None
        return [out] + [None] * len(self.state_size) if self.return_state else out

    # -- config --------------------------------------------------------------------------------
    def _rnn_config(self) -> dict[str, Any]:
        return {
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
        }

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "cell": serialize_layer(self.cell), **self._rnn_config()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RNN:
        config = dict(config)
        return cls(deserialize_layer(config.pop("cell")), **config)


def masked_step(m: Any, prev: Any, zero_output: bool, out: Any, old: list, new: list) -> tuple:
    """A step's (output, states) under its mask m (1 = a real step; shaped to broadcast against
    the states): a masked step keeps the old states, and outputs 0 with `zero_output` or at the
    first step, else the previous output."""
    keep_old = ops.subtract(1.0, m)
    states = [ops.add(ops.multiply(m, n), ops.multiply(keep_old, s)) for n, s in zip(new, old)]
    kept = ops.multiply(m, out)
    if prev is None or zero_output:
        return kept, states
    return ops.add(kept, ops.multiply(keep_old, prev)), states


def _fusable() -> tuple[str, ...]:
    return activations.fused_names(activations.RECURRENT)


class _CellLayer(RNN):
    """SimpleRNN, LSTM, GRU: an RNN that builds its own cell from Keras's flat arguments and
    reads them back from it (`layer.units`, `layer.activation`, ...)."""

    cell_class: type = _Cell
    _rnn_args = (
        "return_sequences",
        "return_state",
        "go_backwards",
        "stateful",
        "unroll",
        "zero_output_for_mask",
    )
    _base_args = (
        "name",
        "trainable",
        "dtype",
        "input_shape",
        "input_dim",
        "batch_size",
        "activity_regularizer",
    )

    def __init__(self, units: int, **kwargs: Any) -> None:
        valid = set(common.parameter_names(type(self).__init__)) | set(self._base_args)
        common.check_kwargs(type(self).__name__, kwargs, valid)
        rnn = {k: kwargs.pop(k) for k in self._rnn_args if k in kwargs}
        base = {k: kwargs.pop(k) for k in self._base_args if k in kwargs}
        cell = self.cell_class(
            units,
            name=f"{self.cell_class.kind}_cell",
            dtype=base.get("dtype"),
            trainable=base.get("trainable", True),
            **kwargs,
        )
        super().__init__(cell, **rnn, **base)

    def __getattr__(self, name: str) -> Any:
        cell = self.__dict__.get("cell")
        if cell is not None and not name.startswith("_") and hasattr(cell, name):
            return getattr(cell, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get_config(self) -> dict[str, Any]:
        cell = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell.pop(key, None)
        return {**Layer.get_config(self), **cell, **self._rnn_config()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RNN:
        return cls(**config)


class SimpleRNN(_CellLayer):
    """Fully-connected RNN where the output is to be fed back as the new input.

    At each step `h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)`; the
    whole sequence runs as one fused op (its gradient, backpropagation through time, another).

    Weights: kernel `(input_dim, units)`, recurrent_kernel `(units, units)`, bias `(units,)`.

    Example:

    >>> x = ge.Input(shape=(10, 8))
    >>> ge.layers.SimpleRNN(4)(x).shape
    (None, 4)
    >>> [t.shape for t in ge.layers.SimpleRNN(4, return_sequences=True, return_state=True)(x)]
    [(None, 10, 4), (None, 4)]

    Args:
        units: Positive integer, dimensionality of the output space.
        activation: Activation function to use. Default: hyperbolic tangent (`tanh`). If you
            pass None, no activation is applied (ie. "linear" activation: `a(x) = x`).
        use_bias: Boolean, whether the layer uses a bias vector (default True).
        kernel_initializer: Initializer for the `kernel` weights matrix, used for the linear
            transformation of the inputs (default `"glorot_uniform"`).
        recurrent_initializer: Initializer for the `recurrent_kernel` weights matrix, used for
            the linear transformation of the recurrent state (default `"orthogonal"`).
        bias_initializer: Initializer for the bias vector (default `"zeros"`).
        kernel_regularizer: Regularizer function applied to the `kernel` weights matrix.
        recurrent_regularizer: Regularizer function applied to the `recurrent_kernel` weights
            matrix.
        bias_regularizer: Regularizer function applied to the bias vector.
        dropout: Float between 0 and 1. Fraction of the units to drop for the linear
            transformation of the inputs (in training only).
        recurrent_dropout: Float between 0 and 1. Fraction of the units to drop for the linear
            transformation of the recurrent state.
        seed: Random seed for dropout.
        return_sequences: Boolean. Whether to return the last output in the output sequence,
            or the full sequence (default False).
        return_state: Boolean. Whether to return the last state in addition to the output
            (default False).
        go_backwards: Boolean. If True, process the input sequence backwards and return the
            reversed sequence (default False).
        stateful: Boolean. If True, the last state of each sample at index i in a batch is
            used as the initial state of sample i in the next batch; needs a fixed batch size
            (`ge.Input(batch_shape=...)`). `layer.reset_states()` zeros the states.
        unroll: Accepted for Keras compatibility; the built-in cells always run the whole
            sequence as one fused op, whatever its value.
        zero_output_for_mask: Whether masked steps output zeros (True) or carry the last
            output through (False, the default).
        **kwargs: Standard layer keyword arguments. Weight constraints are not supported.

    Call arguments:
        inputs: A 3D tensor, with shape `(batch, timesteps, feature)`.
        mask: Binary tensor of shape `(batch, timesteps)` indicating whether a given timestep
            should be masked (optional; a mask carried by the input, e.g. from
            `Embedding(mask_zero=True)` or `Masking`, is used automatically). A masked step
            carries the states through unchanged.
        training: Whether the layer runs in training mode (dropout on); default: the mode of
            the running plan (fit trains, predict infers).
        initial_state: List of initial state tensors to be passed to the first call of the
            cell (optional; zeros otherwise).

    Output shape:
        `(batch, units)`, or `(batch, timesteps, units)` with `return_sequences`; with
        `return_state`, a list: the output, then the final states [h], each
        `(batch, units)`.
    """

    cell_class = SimpleRNNCell

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
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
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        **kwargs: Any,
    ) -> None:
        args = {k: v for k, v in locals().items() if k not in ("self", "kwargs", "__class__")}
        super().__init__(**args, **kwargs)


class LSTM(_CellLayer):
    """Long Short-Term Memory layer - Hochreiter 1997.

    At each step the input, forget and output gates and the candidate (Keras's gate order
    i, f, c, o) update the cell state `c` and the output `h`; the whole sequence runs as one
    fused op (its gradient, backpropagation through time, another), with the gate math and the
    recurrent products on the CPU kernels' batch-row threads (or a CUDA kernel). Numbers and
    weight layout are Keras 3's, so Keras weights load as they are.

    Weights: kernel `(input_dim, 4 * units)`, recurrent_kernel `(units, 4 * units)`, bias
    `(4 * units,)`; states `[h, c]`, each `(batch, units)`.

    Example:

    >>> x = ge.Input(shape=(10, 8))
    >>> ge.layers.LSTM(4)(x).shape
    (None, 4)
    >>> whole_seq_output, final_h, final_c = ge.layers.LSTM(
    ...     4, return_sequences=True, return_state=True)(x)
    >>> whole_seq_output.shape, final_h.shape, final_c.shape
    ((None, 10, 4), (None, 4), (None, 4))

    Args:
        units: Positive integer, dimensionality of the output space.
        activation: Activation function to use. Default: hyperbolic tangent (`tanh`). If you
            pass None, no activation is applied (ie. "linear" activation: `a(x) = x`).
        recurrent_activation: Activation function to use for the recurrent step. Default:
            sigmoid (`sigmoid`).
        use_bias: Boolean, whether the layer uses a bias vector (default True).
        kernel_initializer: Initializer for the `kernel` weights matrix, used for the linear
            transformation of the inputs (default `"glorot_uniform"`).
        recurrent_initializer: Initializer for the `recurrent_kernel` weights matrix, used for
            the linear transformation of the recurrent state (default `"orthogonal"`).
        bias_initializer: Initializer for the bias vector (default `"zeros"`).
        unit_forget_bias: Boolean (default True). If True, add 1 to the bias of the forget
            gate at initialization (Jozefowicz et al., 2015).
        kernel_regularizer: Regularizer function applied to the `kernel` weights matrix.
        recurrent_regularizer: Regularizer function applied to the `recurrent_kernel` weights
            matrix.
        bias_regularizer: Regularizer function applied to the bias vector.
        dropout: Float between 0 and 1. Fraction of the units to drop for the linear
            transformation of the inputs (in training only).
        recurrent_dropout: Float between 0 and 1. Fraction of the units to drop for the linear
            transformation of the recurrent state.
        seed: Random seed for dropout.
        return_sequences: Boolean. Whether to return the last output in the output sequence,
            or the full sequence (default False).
        return_state: Boolean. Whether to return the last state in addition to the output
            (default False).
        go_backwards: Boolean. If True, process the input sequence backwards and return the
            reversed sequence (default False).
        stateful: Boolean. If True, the last state of each sample at index i in a batch is
            used as the initial state of sample i in the next batch; needs a fixed batch size
            (`ge.Input(batch_shape=...)`). `layer.reset_states()` zeros the states.
        unroll: Accepted for Keras compatibility; the built-in cells always run the whole
            sequence as one fused op, whatever its value.
        zero_output_for_mask: Whether masked steps output zeros (True) or carry the last
            output through (False, the default).
        **kwargs: Standard layer keyword arguments. Weight constraints are not supported.

    Call arguments:
        inputs: A 3D tensor, with shape `(batch, timesteps, feature)`.
        mask: Binary tensor of shape `(batch, timesteps)` indicating whether a given timestep
            should be masked (optional; a mask carried by the input, e.g. from
            `Embedding(mask_zero=True)` or `Masking`, is used automatically). A masked step
            carries the states through unchanged.
        training: Whether the layer runs in training mode (dropout on); default: the mode of
            the running plan (fit trains, predict infers).
        initial_state: List of initial state tensors to be passed to the first call of the
            cell (optional; zeros otherwise).

    Output shape:
        `(batch, units)`, or `(batch, timesteps, units)` with `return_sequences`; with
        `return_state`, a list: the output, then the final states [h, c], each
        `(batch, units)`.
    """

    cell_class = LSTMCell

    def __init__(
        self,
        units: int,
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
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        **kwargs: Any,
    ) -> None:
        args = {k: v for k, v in locals().items() if k not in ("self", "kwargs", "__class__")}
        super().__init__(**args, **kwargs)


class GRU(_CellLayer):
    """Gated Recurrent Unit - Cho et al. 2014.

    At each step the update gate `z` and reset gate `r` (Keras's gate order z, r, h) mix the
    previous output with a candidate; with `reset_after=True` (the default, Keras 3's and
    cuDNN's form) the reset gate is applied after the recurrent product. The whole sequence
    runs as one fused op. Numbers and weight layout are Keras 3's.

    Weights: kernel `(input_dim, 3 * units)`, recurrent_kernel `(units, 3 * units)`, bias
    `(2, 3 * units)` with `reset_after` (input and recurrent biases), else `(3 * units,)`.

    Example:

    >>> x = ge.Input(shape=(10, 8))
    >>> ge.layers.GRU(4)(x).shape
    (None, 4)

    Args:
        units: Positive integer, dimensionality of the output space.
        activation: Activation function to use. Default: hyperbolic tangent (`tanh`). If you
            pass None, no activation is applied (ie. "linear" activation: `a(x) = x`).
        recurrent_activation: Activation function to use for the recurrent step. Default:
            sigmoid (`sigmoid`).
        use_bias: Boolean, whether the layer uses a bias vector (default True).
        kernel_initializer: Initializer for the `kernel` weights matrix, used for the linear
            transformation of the inputs (default `"glorot_uniform"`).
        recurrent_initializer: Initializer for the `recurrent_kernel` weights matrix, used for
            the linear transformation of the recurrent state (default `"orthogonal"`).
        bias_initializer: Initializer for the bias vector (default `"zeros"`).
        kernel_regularizer: Regularizer function applied to the `kernel` weights matrix.
        recurrent_regularizer: Regularizer function applied to the `recurrent_kernel` weights
            matrix.
        bias_regularizer: Regularizer function applied to the bias vector.
        dropout: Float between 0 and 1. Fraction of the units to drop for the linear
            transformation of the inputs (in training only).
        recurrent_dropout: Float between 0 and 1. Fraction of the units to drop for the linear
            transformation of the recurrent state.
        seed: Random seed for dropout.
        return_sequences: Boolean. Whether to return the last output in the output sequence,
            or the full sequence (default False).
        return_state: Boolean. Whether to return the last state in addition to the output
            (default False).
        go_backwards: Boolean. If True, process the input sequence backwards and return the
            reversed sequence (default False).
        stateful: Boolean. If True, the last state of each sample at index i in a batch is
            used as the initial state of sample i in the next batch; needs a fixed batch size
            (`ge.Input(batch_shape=...)`). `layer.reset_states()` zeros the states.
        unroll: Accepted for Keras compatibility; the built-in cells always run the whole
            sequence as one fused op, whatever its value.
        reset_after: GRU convention (whether to apply reset gate after or before the
            matrix multiplication). True is Keras 3's default.
        zero_output_for_mask: Whether masked steps output zeros (True) or carry the last
            output through (False, the default).
        **kwargs: Standard layer keyword arguments. Weight constraints are not supported.

    Call arguments:
        inputs: A 3D tensor, with shape `(batch, timesteps, feature)`.
        mask: Binary tensor of shape `(batch, timesteps)` indicating whether a given timestep
            should be masked (optional; a mask carried by the input, e.g. from
            `Embedding(mask_zero=True)` or `Masking`, is used automatically). A masked step
            carries the states through unchanged.
        training: Whether the layer runs in training mode (dropout on); default: the mode of
            the running plan (fit trains, predict infers).
        initial_state: List of initial state tensors to be passed to the first call of the
            cell (optional; zeros otherwise).

    Output shape:
        `(batch, units)`, or `(batch, timesteps, units)` with `return_sequences`; with
        `return_state`, a list: the output, then the final states [h], each
        `(batch, units)`.
    """

    cell_class = GRUCell

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
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        reset_after: bool = True,
        zero_output_for_mask: bool = False,
        **kwargs: Any,
    ) -> None:
        args = {k: v for k, v in locals().items() if k not in ("self", "kwargs", "__class__")}
        super().__init__(**args, **kwargs)
