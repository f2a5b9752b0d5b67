"""Layer wrappers with Keras names and semantics: Bidirectional (an RNN run both ways) and
TimeDistributed (a layer applied to every time step). Each calls its inner layers as real layer
calls, so the model graph shows them."""

from __future__ import annotations

from typing import Any

from graphengine import ops
from graphengine.graph.tensor import format_shape
from graphengine.layers.base import InputSpec, Layer
from graphengine.layers.recurrent import RNN
from graphengine.layers.serialization import deserialize_layer, serialize_layer
from graphengine.tree import flatten

MERGE_MODES = ("sum", "mul", "ave", "concat", None)


def _without_prefix(name: str, prefix: str) -> str:
    return name[len(prefix) :] if name.startswith(prefix) else name


def _clone(layer: Layer, name: str, **overrides: Any) -> Layer:
    config = {**layer.get_config(), "name": name, **overrides}
    return type(layer).from_config(config)


class Bidirectional(Layer):
    """Bidirectional wrapper for RNNs.

    Runs a copy of `layer` forwards and another backwards (a copy with `go_backwards` flipped,
    or `backward_layer`) over the same inputs, and merges their outputs with `merge_mode`.
    Sequences from the backward layer are flipped back to input order before merging, as Keras.

    Weights: the forward layer's, then the backward layer's.

    Example:

    >>> x = ge.Input(shape=(5, 10))
    >>> ge.layers.Bidirectional(ge.layers.LSTM(10, return_sequences=True))(x).shape
    (None, 5, 20)
    >>> ge.layers.Bidirectional(ge.layers.LSTM(4), merge_mode="sum")(x).shape
    (None, 4)

    Args:
        layer: A recurrent layer instance (`LSTM`, `GRU`, `SimpleRNN`, `RNN(cell)`) that will be
            used to generate both the forward and the backward layers.
        merge_mode: Mode by which outputs of the forward and backward RNNs will be combined. One
            of `{"sum", "mul", "concat", "ave", None}`. If None, the outputs will not be combined,
            they will be returned as a list. Defaults to `"concat"`.
        weights: Optional initial weights, as `get_weights()` lists them.
        backward_layer: Optional recurrent layer instance to be used to handle backwards input
            processing. If not provided, `layer` is copied with `go_backwards` flipped. It should
            have the same `return_sequences` and `return_state` as `layer` and the opposite
            `go_backwards`.
        **kwargs: Standard layer keyword arguments.

    Call arguments:
        inputs: A 3D tensor `(batch, timesteps, features)`, or a list `[sequence,
            *initial_states]` (the forward layer's states, then the backward layer's).
        mask: Optional `(batch, timesteps)` mask, passed to both layers.
        training: Passed to both layers (dropout).
        initial_state: Optional list: the forward states, then the backward ones.

    Output shape:
        The merged output (`"concat"` doubles the last axis); with `return_state` a list: the
        output, then the forward states, then the backward ones.
    """

    supports_masking = True

    def __init__(
        self,
        layer: Any,
        merge_mode: str | None = "concat",
        weights: list | None = None,
        backward_layer: Any = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(layer, RNN):
            raise ValueError(
                "Bidirectional needs a recurrent layer (an RNN, LSTM, GRU or SimpleRNN), "
                f"received {layer!r}"
            )
        if backward_layer is not None and not isinstance(backward_layer, RNN):
            raise ValueError(
                f"backward_layer must be a recurrent layer, received {backward_layer!r}"
            )
        if merge_mode not in MERGE_MODES:
            raise ValueError(
                f"Invalid merge mode. Received: {merge_mode!r}. Merge mode should be one of "
                '{"sum", "mul", "ave", "concat", None}'
            )
        super().__init__(**kwargs)
        self.forward_layer = _clone(layer, "forward_" + _without_prefix(layer.name, "forward_"))
        if backward_layer is None:
            backward_layer = _clone(
                layer, "backward_" + _without_prefix(layer.name, "backward_"), go_backwards=True
            )
        self.backward_layer = backward_layer
        self._verify()
        for rnn in (self.forward_layer, self.backward_layer):
            rnn.zero_output_for_mask = rnn.return_sequences  # as Keras: padding outputs are 0
        self._layers = [self.forward_layer, self.backward_layer]
        self.merge_mode = merge_mode
        self.return_sequences = self.forward_layer.return_sequences
        self.return_state = self.forward_layer.return_state
        self._initial_weights = weights

    def _autocast(self, inputs: Any) -> Any:
        return inputs  # the wrapped layers cast for themselves

    def _verify(self) -> None:
        fwd, bwd = self.forward_layer, self.backward_layer
        if fwd.go_backwards == bwd.go_backwards:
            raise ValueError(
                "Forward layer and backward layer should have different `go_backwards` value. "
                f"Received: forward_layer.go_backwards={fwd.go_backwards}, "
                f"backward_layer.go_backwards={bwd.go_backwards}"
            )
        for attr in ("return_sequences", "return_state"):
            if getattr(fwd, attr) != getattr(bwd, attr):
                raise ValueError(
                    f"Forward layer and backward layer are expected to have the same value for "
                    f'attribute "{attr}", got "{getattr(fwd, attr)}" for forward layer and '
                    f'"{getattr(bwd, attr)}" for backward layer'
                )

    def __call__(self, inputs: Any, initial_state: Any = None, **kwargs: Any) -> Any:
        if initial_state is not None:
            states = initial_state if isinstance(initial_state, (list, tuple)) else [initial_state]
            inputs = [inputs, *states]
        outputs = super().__call__(inputs, **kwargs)
        if self._initial_weights is not None:  # Keras's `weights=`: set once the copies exist
            weights, self._initial_weights = self._initial_weights, None
            self.set_weights(weights)
        return outputs

    def call(self, inputs: Any, mask: Any = None, training: bool | None = None) -> Any:
        seq, states = (inputs[0], list(inputs[1:])) if isinstance(inputs, list) else (inputs, [])
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        kwargs: dict[str, Any] = {}
        if mask is not None:
            kwargs["mask"] = mask
        if training is not None:
            kwargs["training"] = training
        if states and len(states) % 2:
            raise ValueError(
                f"Layer '{self.name}': initial_state must hold the forward layer's states then "
                f"the backward layer's, an even number; received {len(states)}"
            )
        half = len(states) // 2
        y = self.forward_layer(seq, initial_state=states[:half] or None, **kwargs)
        y_rev = self.backward_layer(seq, initial_state=states[half:] or None, **kwargs)
        finals: list = []
        if self.return_state:
            finals = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = ops.getitem(y_rev, (slice(None), slice(None, None, -1)))
        merged = self._merge(y, y_rev)
        if self.merge_mode is None:
            return merged + finals if self.return_state else merged
        return [merged, *finals] if self.return_state else merged

    def reset_state(self) -> None:
        """Zeros both directions' states (stateful layers), as Keras's Bidirectional."""
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    def reset_states(self) -> None:
        """Keras's compatibility alias of `reset_state`."""
        self.reset_state()

    def _merge(self, y: Any, y_rev: Any) -> Any:
        mode = self.merge_mode
        if mode == "concat":
            return ops.concatenate([y, y_rev], axis=-1)
        if mode == "sum":
            return ops.add(y, y_rev)
        if mode == "ave":
            return ops.multiply(ops.add(y, y_rev), 0.5)
        if mode == "mul":
            return ops.multiply(y, y_rev)
        return [y, y_rev]

    def build(self, input_shape: Any) -> None:
        self.built = True

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        mask = flatten(mask)[0] if isinstance(mask, (list, tuple)) else mask
        if self.return_sequences:
            out: Any = [mask, mask] if self.merge_mode is None else mask
        else:
            out = [None, None] if self.merge_mode is None else None
        if not self.return_state:
            return out
        states = [None] * (2 * len(self.forward_layer.state_size))
        return (out if isinstance(out, list) else [out]) + states

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "merge_mode": self.merge_mode,
            "layer": serialize_layer(self.forward_layer),
            "backward_layer": serialize_layer(self.backward_layer),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Bidirectional:
        config = dict(config)
        layer = deserialize_layer(config.pop("layer"))
        backward = config.pop("backward_layer", None)
        backward = deserialize_layer(backward) if backward is not None else None
        return cls(layer, backward_layer=backward, **config)


class TimeDistributed(Layer):
    """This wrapper allows to apply a layer to every temporal slice of an input.

    Every input should be at least 3D, and the dimension of index one of the first input will be
    considered to be the temporal dimension (its size must be known). The wrapper reshapes
    `(batch, timesteps, ...)` to `(batch * timesteps, ...)`, calls the layer once (a real call,
    shown in the model graph) and reshapes back to `(batch, timesteps, ...)`, so the same weights
    apply to every timestep.

    Weights: the inner layer's.

    Example:

    >>> x = ge.Input(shape=(10, 128, 128, 3))
    >>> ge.layers.TimeDistributed(ge.layers.Conv2D(64, (3, 3)))(x).shape
    (None, 10, 126, 126, 64)

    Args:
        layer: A `ge.layers.Layer` instance.
        **kwargs: Standard layer keyword arguments.

    Call arguments:
        inputs: Input tensor of shape `(batch, time, ...)`.
        training: Passed to the wrapped layer.
    """

    supports_masking = True

    def __init__(self, layer: Any, **kwargs: Any) -> None:
        if not isinstance(layer, Layer):
            raise ValueError(
                "Please initialize `TimeDistributed` layer with a `Layer` instance. "
                f"Received: {layer!r}"
            )
        super().__init__(**kwargs)
        self.layer = layer
        self._layers = [layer]
        self.input_spec = InputSpec(min_ndim=3)

    def _autocast(self, inputs: Any) -> Any:
        return inputs  # the wrapped layer casts for itself

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        steps = inputs.shape[1]
        if steps is None:
            raise ValueError(
                f"Layer '{self.name}' (TimeDistributed) needs a known number of time steps, "
                f"received shape {format_shape(inputs.shape)}"
            )
        flat = ops.reshape(inputs, (-1,) + tuple(inputs.shape[2:]))
        kwargs = {"training": training} if training is not None else {}
        y = self.layer(flat, **kwargs)
        if isinstance(y, (list, tuple)):
            raise ValueError(
                f"Layer '{self.name}' (TimeDistributed): the inner layer '{self.layer.name}' "
                "returned several outputs; only single-output layers are supported"
            )
        return ops.reshape(y, (-1, steps) + tuple(y.shape[1:]))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "layer": serialize_layer(self.layer)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TimeDistributed:
        config = dict(config)
        return cls(deserialize_layer(config.pop("layer")), **config)
