"""MultiHeadAttention (Keras 3's): EinsumDense projections of query, key and value into heads, the
fused attention op per head (ops/attention.py), and the projection of the heads back."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphengine import initializers, regularizers
from graphengine.graph.tensor import format_shape
from graphengine.layers.attention import _Dropout, _owner, _shape
from graphengine.layers.base import Layer
from graphengine.layers.einsum_dense import EinsumDense
from graphengine.ops import api


def _projection(free: int, bound: int, out: int) -> tuple[str, str]:
    """Keras's projection equation and bias axes: `free` axes kept, `bound` contracted, `out`
    made (e.g. 2, 1, 2: "abc,cde->abde", bias "de")."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    kept, bound_s = letters[:free], letters[free : free + bound]
    made = letters[free + bound : free + bound + out]
    return f"{kept}{bound_s},{bound_s}{made}->{kept}{made}", made


def _check_positive(owner: str, **values: Any) -> None:
    """Every value a positive int (None allowed for value_dim)."""
    for arg, value in values.items():
        if value is None and arg == "value_dim":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"{owner}: {arg} must be a positive integer, got {arg}={value!r}")


def _axes(owner: str, attention_axes: Any) -> tuple | None:
    if isinstance(attention_axes, (int, np.integer)):
        return (int(attention_axes),)
    if attention_axes is not None and not isinstance(attention_axes, (list, tuple)):
        raise ValueError(
            f"{owner}: attention_axes must be an int, list, or tuple. Received: "
            f"attention_axes={attention_axes}"
        )
    return None if attention_axes is None else tuple(attention_axes)


class MultiHeadAttention(_Dropout, Layer):
    """MultiHeadAttention layer, as described in "Attention Is All You Need" (Vaswani et al.,
    2017).

    If `query`, `key` and `value` are the same, this is self-attention. Each timestep in `query`
    attends to the corresponding sequence in `key`, and returns a fixed-width vector. The layer
    first projects `query`, `key` and `value` to `num_heads` heads (EinsumDense kernels
    `(dim, num_heads, key_dim)` and biases `(num_heads, key_dim)`); then, per head, the
    query-key dot products are scaled by `1 / sqrt(key_dim)`, masked, softmaxed into
    probabilities (dropout applied to them) and used to weigh the values; the heads are then
    projected back to the query's last size (or `output_shape`). Scores, mask, softmax, dropout
    and the weighted sum run as one fused op. Weights and numbers are Keras 3's.

    Weights (`get_weights()` order): the query, key, (gate,) value and `attention_output`
    projections' kernels and biases.

    Example:

    >>> query = ge.Input(shape=(8, 16))
    >>> value = ge.Input(shape=(4, 16))
    >>> layer = ge.layers.MultiHeadAttention(num_heads=2, key_dim=2)
    >>> output, scores = layer(query, value, return_attention_scores=True)
    >>> output.shape, scores.shape
    ((None, 8, 16), (None, 2, 8, 4))

    Args:
        num_heads: Number of attention heads.
        key_dim: Size of each attention head for query and key.
        value_dim: Size of each attention head for value (default: `key_dim`).
        dropout: Dropout probability of the attention probabilities.
        use_bias: Boolean, whether the dense layers use bias vectors/matrices.
        output_shape: The expected shape of an output tensor, besides the batch and sequence
            dims. If not specified, projects back to the query feature dim.
        attention_axes: Axes over which the attention is applied. Only the default (None: every
            axis between the batch and the features, at once) is supported; others raise
            NotImplementedError.
        kernel_initializer: Initializer for dense layer kernels (default `"glorot_uniform"`).
        bias_initializer: Initializer for dense layer biases (default `"zeros"`).
        kernel_regularizer: Regularizer for dense layer kernels.
        bias_regularizer: Regularizer for dense layer biases.
        activity_regularizer: Regularizer for the output.
        kernel_constraint: Must be None (weight constraints are not supported).
        bias_constraint: Must be None.
        use_gate: Boolean, whether to apply a gated attention (a sigmoid gate on the values).
        sliding_window: Must be None (NotImplementedError otherwise).
        flash_attention: Must be None or False (NotImplementedError otherwise).
        seed: Optional integer to seed the dropout layer.
        **kwargs: Standard layer keyword arguments.

    Call arguments:
        query: Query tensor of shape `(B, T, dim)`, where `B` is the batch size, `T` is the
            target sequence length, and dim is the feature dimension.
        value: Value tensor of shape `(B, S, dim)`, where `B` is the batch size, `S` is the
            source sequence length, and dim is the feature dimension.
        key: Optional key tensor of shape `(B, S, dim)`. If not given, `value` is used for both
            `key` and `value`, which is the most common case.
        query_mask, value_mask, key_mask: Optional boolean masks `(B, T)` / `(B, S)`; masks
            carried by the tensors (e.g. `Embedding(mask_zero=True)`) are used when not given.
        attention_mask: A boolean mask of shape `(B, T, S)`, that prevents attention to certain
            positions. 1 indicates attention and 0 indicates no attention. Broadcasting can
            happen for the missing batch dimensions and the head dimension.
        return_attention_scores: A boolean to indicate whether the output should be
            `(attention_output, attention_scores)` if True, or `attention_output` if False.
        training: Whether dropout is on; default: the mode of the running plan.
        use_causal_mask: A boolean to indicate whether to apply a causal mask to prevent tokens
            from attending to future tokens (e.g., used in a decoder Transformer).

    Returns:
        attention_output: The result of the computation, of shape `(B, T, E)`, where `T` is for
            target sequence shapes and `E` is the query input last dimension if `output_shape`
            is None. Otherwise, the multi-head outputs are projected to the shape specified by
            `output_shape`.
        attention_scores: (Optional) multi-head attention coefficients over attention axes,
            `(B, num_heads, T, S)`.
    """

    supports_masking = True  # the output carries the query's mask

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        value_dim: int | None = None,
        dropout: float = 0.0,
        use_bias: bool = True,
        output_shape: Any = None,
        attention_axes: Any = None,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        use_gate: bool = False,
        sliding_window: int | None = None,
        flash_attention: bool | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = _owner(self)
        _check_positive(owner, num_heads=num_heads, key_dim=key_dim, value_dim=value_dim)
        unsupported = {
            "kernel_constraint": kernel_constraint,
            "bias_constraint": bias_constraint,
            "sliding_window": sliding_window,
            "flash_attention": flash_attention or None,
        }
        for arg, value in unsupported.items():
            if value is not None:
                raise NotImplementedError(f"{owner}: {arg}={value!r} is not supported")
        self.num_heads, self.key_dim = int(num_heads), int(key_dim)
        self.value_dim = int(value_dim) if value_dim else self.key_dim
        self.use_bias, self.use_gate = bool(use_bias), bool(use_gate)
        if isinstance(output_shape, (int, np.integer)):
            output_shape = (int(output_shape),)
        self.output_shape = tuple(output_shape) if output_shape else None
        self.attention_axes = _axes(owner, attention_axes)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.sub_activity_regularizer = regularizers.get(activity_regularizer)
        self._init_dropout(dropout, seed)
        self._carried_query_mask = None
        self.gate_dense = None

    # -- building ------------------------------------------------------------------------------
    def _dense(self, name: str, rank: int, bound: int, out: list, activation: Any = None) -> Any:
        equation, bias_axes = _projection(rank - 1, bound, len(out))
        return EinsumDense(
            equation,
            [None] * (rank - 2) + list(out),
            activation=activation,
            bias_axes=bias_axes if self.use_bias else None,
            kernel_initializer=initializers.get(initializers.serialize(self.kernel_initializer)),
            bias_initializer=initializers.get(initializers.serialize(self.bias_initializer)),
            kernel_regularizer=self.kernel_regularizer,
            bias_regularizer=self.bias_regularizer,
            activity_regularizer=self.sub_activity_regularizer,
            name=name,
            dtype=self.dtype,
        )

    def build_from_shapes(self, query: tuple, value: tuple, key: tuple | None = None) -> None:
        """Keras's build(query_shape, value_shape, key_shape): the projections' weights."""
        key = value if key is None else key
        owner = _owner(self)
        if tuple(value[1:-1]) != tuple(key[1:-1]):
            raise ValueError(
                f"{owner}: All dimensions of `value` and `key`, except the last one, must be "
                f"equal. Received: value_shape={format_shape(value)} and "
                f"key_shape={format_shape(key)}"
            )
        if len(query) < 3 or len(query) != len(value):
            raise ValueError(
                f"{owner}: query and value must have one rank, at least 3 (batch, steps..., "
                f"features); received query shape {format_shape(query)} and value shape "
                f"{format_shape(value)}"
            )
        self._check_axes(len(query) + 1)
        heads_k, heads_v = [self.num_heads, self.key_dim], [self.num_heads, self.value_dim]
        layers = [("query", query, heads_k), ("key", key, heads_k)]
        if self.use_gate:
            layers.append(("gate", query, heads_v))
        layers.append(("value", value, heads_v))
        self._layers = []
        for name, shape, out in layers:
            sub = self._dense(name, len(shape), 1, out, "sigmoid" if name == "gate" else None)
            self._adopt(sub, shape)
        out = list(self.output_shape or [query[-1]])
        dense = self._dense("attention_output", len(query), 2, out)
        self._adopt(dense, (*query[:-1], self.num_heads, self.value_dim))
        named = {sub.name: sub for sub in self._layers}
        self.query_dense, self.key_dense = named["query"], named["key"]
        self.value_dense, self.output_dense = named["value"], named["attention_output"]
        self.gate_dense = named.get("gate")
        self.built = True

    def _adopt(self, sub: EinsumDense, shape: tuple) -> None:
        sub.build(shape)
        sub.built = True
        for w in sub._weights:
            w.path = f"{self.name}/{sub.name}/{w.name}"
        self._layers.append(sub)

    def _check_axes(self, rank: int) -> None:
        default = tuple(range(1, rank - 2))
        if self.attention_axes is None:
            return
        given = tuple(a if a >= 0 else rank - 1 + a for a in self.attention_axes)
        if given != default:
            raise NotImplementedError(
                f"{_owner(self)}: attention_axes={self.attention_axes} is not supported; "
                f"attention runs over every step axis ({default} for these inputs)"
            )

    # -- calling -------------------------------------------------------------------------------
    def __call__(self, query: Any, value: Any = None, key: Any = None, **kwargs: Any) -> Any:
        if value is None:
            raise TypeError(f"{_owner(self)}: call() is missing the `value` argument")
        kwargs["value"] = value
        if key is not None:
            kwargs["key"] = key
        if not self.built:
            self.build_from_shapes(
                _shape(query), _shape(value), None if key is None else _shape(key)
            )
        # Keras reads the query's mask from the tensor (a keyword mask is given for value/key)
        self._carried_query_mask = getattr(query, "mask", None)
        try:
            return super().__call__(query, **kwargs)
        finally:
            self._carried_query_mask = None

    def build(self, input_shape: Any) -> None:
        """Built by the first call, which knows the value's and key's shapes too."""

    def call(
        self,
        query: Any,
        value: Any,
        key: Any = None,
        query_mask: Any = None,
        value_mask: Any = None,
        key_mask: Any = None,
        attention_mask: Any = None,
        return_attention_scores: bool = False,
        training: bool | None = None,
        use_causal_mask: bool = False,
    ) -> Any:
        if key is None:
            key = value
        elif key_mask is None:
            key_mask = getattr(key, "mask", None)
        query_mask = query_mask if query_mask is not None else self._carried_query_mask
        value_mask = value_mask if value_mask is not None else getattr(value, "mask", None)
        q_shape, v_shape = _shape(query), _shape(value)
        mask = self._mask(q_shape, v_shape, query_mask, value_mask, key_mask, attention_mask)
        if use_causal_mask and len(q_shape) > 3:
            raise NotImplementedError(
                f"{_owner(self)}: use_causal_mask needs inputs with one step axis (batch, "
                f"steps, features), received query shape {format_shape(q_shape)}"
            )
        fused = self.dropout == 0 and not return_attention_scores
        gate = self.gate_dense(query) if self.gate_dense is not None else None
        q, k, v = self.query_dense(query), self.key_dense(key), self.value_dense(value)
        out, probs, _ = self._attend(
            [_steps(q), _steps(k), _steps(v)],
            mask,
            training,
            scale=1.0 / math.sqrt(float(self.key_dim)),
            causal=use_causal_mask,
            # Keras's two paths: its fused dot_product_attention where it can (one step axis,
            # no dropout, no scores returned), else its masked softmax; they part on fully
            # masked rows only (uniform there, zero here)
            mask_mode="fill" if fused and len(q_shape) == 3 else "replace",
        )
        q_steps, v_steps = q_shape[1:-1], v_shape[1:-1]
        if len(q_steps) > 1:
            out = api.reshape(out, (-1, *q_steps, self.num_heads, self.value_dim))
            probs = api.reshape(probs, (-1, self.num_heads, *q_steps, *v_steps))
        if gate is not None:
            out = api.multiply(out, gate)
        y = self.output_dense(out)
        return (y, probs) if return_attention_scores else y

    def _mask(self, q: tuple, v: tuple, query_mask: Any, value_mask: Any, key_mask: Any,
              attention_mask: Any) -> Any:  # fmt: skip
        """Keras's combination (a logical and) of the masks, as (B or 1, 1, Tq, Tv) for the
        fused op: query_mask (B, Tq) on rows, value_mask and key_mask (B, Tv) on columns,
        attention_mask (B, Tq, Tv); None without any."""
        parts = []
        for name, m, want, axis in (
            ("query_mask", query_mask, (q[0], *q[1:-1]), -1),
            ("value_mask", value_mask, (v[0], *v[1:-1]), -2),
            ("key_mask", key_mask, (v[0], *v[1:-1]), -2),
        ):
            if m is None:
                continue
            self._check_mask(name, m, want)
            if len(want) > 2:
                raise NotImplementedError(
                    f"{_owner(self)}: {name} needs inputs with one step axis, received query "
                    f"shape {format_shape(q)}"
                )
            parts.append(api.expand_dims(api.expand_dims(api.cast(m, "bool"), axis), 1))
        if attention_mask is not None:
            want = (q[0], *q[1:-1], *v[1:-1])
            self._check_mask("attention_mask", attention_mask, want, broadcast=True)
            m = api.cast(attention_mask, "bool")
            if len(want) > 3:
                m = api.reshape(m, (-1, math.prod(q[1:-1]), math.prod(v[1:-1])))
            parts.append(api.expand_dims(m, 1))
        if not parts:
            return None
        mask = parts[0]
        for m in parts[1:]:
            mask = api.logical_and(mask, m)
        return mask

    def _check_mask(self, name: str, m: Any, want: tuple, broadcast: bool = False) -> None:
        got = _shape(m)
        ok = len(got) == len(want) and all(
            a is None or b is None or a == b or (broadcast and a == 1) for a, b in zip(got, want)
        )
        if not ok:
            raise ValueError(
                f"{_owner(self)}: {name} must have shape {format_shape(want)}, received shape "
                f"{format_shape(got)}"
            )

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return mask

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        return {
            **config,
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "use_gate": self.use_gate,
            "output_shape": None if self.output_shape is None else list(self.output_shape),
            "attention_axes": None if self.attention_axes is None else list(self.attention_axes),
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.sub_activity_regularizer),
            "kernel_constraint": None,
            "bias_constraint": None,
            "seed": self.seed,
        }


def _steps(x: Any) -> Any:
    """A projection (B, *steps, heads, channels) with its step axes merged (a view)."""
    shape = _shape(x)
    if len(shape) == 4:
        return x
    return api.reshape(x, (-1, math.prod(shape[1:-2]), *shape[-2:]))
