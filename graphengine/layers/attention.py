"""Attention layers: Attention (Luong, dot or concat scores) and AdditiveAttention (Bahdanau),
Keras 3's arguments, weights and masks, and the dropout both share with MultiHeadAttention
(multi_head_attention.py). Every one ends in the fused attention op (ops/attention.py: masked
softmax, dropout and the weighted values in one kernel); dot-product scores are part of it,
additive and concat scores are computed before it."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphengine import common
from graphengine.graph.tensor import SymbolicTensor, format_shape
from graphengine.layers.base import Layer
from graphengine.layers.regularization import seed_generator
from graphengine.ops import api
from graphengine.ops.attention import Attention as AttentionOp
from graphengine.ops.base import apply, is_symbolic
from graphengine.ops.shape_ops import Reshape
from graphengine.tree import flatten


def _shape(x: Any) -> tuple:
    return tuple(x.shape)


def _owner(layer: Layer) -> str:
    return f"{type(layer).__name__} '{layer.name}'"


class _Dropout:
    """The attention dropout of a layer: its rate, seed and generator (a seeded layer draws the
    same masks every run, as the dropout layers)."""

    def _init_dropout(self, dropout: Any, seed: Any) -> None:
        owner = _owner(self)  # type: ignore[arg-type]
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float, np.number)):
            raise TypeError(f"{owner}: dropout must be a float, got {dropout!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{owner}: dropout must be in [0, 1), got dropout={dropout}")
        self.dropout = float(dropout)
        self.seed, self._rng = seed_generator(self, seed)  # type: ignore[arg-type]

    def _attend(self, operands: list, mask: Any, training: Any, **op_args: Any) -> list:
        """(out, probs, dropped or probs) of the fused op on q, k, v (or scores, v)."""
        rng = self._rng
        if rng is None and not any(is_symbolic(x) for x in operands):
            rng = common.rng()  # eager calls: reproducible under ge.utils.set_random_seed
        op = AttentionOp(
            has_mask=mask is not None, rate=self.dropout, training=training, rng=rng, **op_args
        )
        outs = apply(op, *operands, *([mask] if mask is not None else []))
        return outs if len(outs) == 3 else [*outs, outs[1]]


def _view1(x: Any) -> Any:
    """x (B, T, D) as (B, T, 1, D): one head, a view."""
    return apply(Reshape((None, None, 1, None), (0, 1, 0, 2)), x)


class Attention(_Dropout, Layer):
    """Dot-product attention layer, a.k.a. Luong-style attention.

    Inputs are a list with 2 or 3 elements: a `query` tensor of shape `(batch_size, Tq, dim)`,
    a `value` tensor of shape `(batch_size, Tv, dim)`, and an optional `key` tensor of shape
    `(batch_size, Tv, dim)` (`value` when not given). The calculation follows the steps:

    1. Calculate attention scores using `query` and `key` with shape `(batch_size, Tq, Tv)`:
       a dot product (`score_mode="dot"`, times the `scale` weight with `use_scale`) or
       `concat_score_weight * sum(tanh(scale * (query + key)))` (`score_mode="concat"`).
    2. Use scores to calculate a softmax distribution with shape `(batch_size, Tq, Tv)`;
       masked values are left out (their scores lowered by 1e9, as Keras).
    3. Use the softmax distribution to create a linear combination of `value` with shape
       `(batch_size, Tq, dim)`; masked query steps give zeros.

    Weights: `scale` (with `use_scale`), `concat_score_weight` (with `score_mode="concat"`).

    Example:

    >>> query = ge.Input(shape=(8, 16))
    >>> value = ge.Input(shape=(4, 16))
    >>> ge.layers.Attention()([query, value]).shape
    (None, 8, 16)

    Args:
        use_scale: If True, will create a scalar variable to scale the attention scores.
        score_mode: Function to use to compute attention scores, one of `{"dot", "concat"}`.
            `"dot"` refers to the dot product between the query and key vectors. `"concat"`
            refers to the hyperbolic tangent of the concatenation of the query and key vectors.
        dropout: Float between 0 and 1. Fraction of the units to drop for the attention scores.
        seed: A Python integer to use as random seed in case of `dropout`.
        **kwargs: Standard layer keyword arguments.

    Call arguments:
        inputs: List of the following tensors: `query`, `value`, and optionally `key`.
        mask: List of the following tensors: `query_mask` `(batch_size, Tq)` and `value_mask`
            `(batch_size, Tv)`; masks carried by the inputs are used when not given.
        return_attention_scores: bool, if True, returns the attention scores (after masking and
            softmax) as an additional output argument.
        training: Whether dropout is on; default: the mode of the running plan.
        use_causal_mask: Boolean. Set to True for decoder self-attention: position i cannot
            attend to positions j > i, preventing information flow from the future.

    Output:
        Attention outputs of shape `(batch_size, Tq, dim)`; [optional] attention scores after
        masking and softmax with shape `(batch_size, Tq, Tv)`.
    """

    score_modes = ("dot", "concat")

    def __init__(
        self,
        use_scale: bool = False,
        score_mode: str = "dot",
        dropout: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if score_mode not in self.score_modes:
            raise ValueError(
                "Invalid value for argument score_mode. Expected one of {'dot', 'concat'}. "
                f"Received: score_mode={score_mode}"
            )
        self.use_scale, self.score_mode = bool(use_scale), score_mode
        self._init_dropout(dropout, seed)

    def _validate(self, inputs: Any, mask: Any = None) -> None:
        name = type(self).__name__
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"{name} layer must be called on a list of inputs, namely [query, value] or "
                f"[query, value, key]. Received: inputs={inputs}."
            )
        if not 2 <= len(inputs) <= 3:
            raise ValueError(
                f"{name} layer accepts inputs list of length 2 or 3, namely [query, value] or "
                f"[query, value, key]. Received length: {len(inputs)}."
            )
        if mask is not None and (not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3):
            raise ValueError(
                f"{name} layer mask must be a list of length 2 or 3, namely [query_mask, "
                f"value_mask]. Received: mask={mask}."
            )

    def _check_shapes(self, q: tuple, v: tuple, k: tuple) -> None:
        owner = _owner(self)
        if len(q) != 3 or len(v) != 3 or len(k) != 3:
            raise ValueError(
                f"{owner}: query, value and key must have rank 3 (batch, time, features), "
                f"received shapes {format_shape(q)}, {format_shape(v)}, {format_shape(k)}"
            )
        if None not in (k[1], v[1]) and k[1] != v[1]:
            raise ValueError(
                f"{owner}: key and value must have the same number of steps, received key "
                f"shape {format_shape(k)} and value shape {format_shape(v)}"
            )
        if None not in (q[-1], k[-1]) and q[-1] != k[-1]:
            raise ValueError(
                f"{owner}: query and key must have the same last dimension, received query "
                f"shape {format_shape(q)} and key shape {format_shape(k)}"
            )

    def build(self, input_shape: Any) -> None:
        self._validate(input_shape)
        self.scale = self.concat_score_weight = None
        if self.use_scale:
            self.scale = self.add_weight((), "ones", name="scale")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight((), "ones", name="concat_score_weight")

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        outputs = super().__call__(inputs, *args, **kwargs)
        mask = kwargs.get("mask")
        if mask is not None and mask[0] is not None:  # an explicit mask: the query's goes on
            for t in flatten(outputs)[:1]:
                if isinstance(t, SymbolicTensor) and isinstance(mask[0], SymbolicTensor):
                    t.mask = mask[0]
        return outputs

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return None if mask is None else mask[0]

    def _scores(self, q: Any, k: Any) -> Any:
        """Concat scores (B, Tq, Tv); None for dot scores (the fused op's)."""
        if self.score_mode == "dot":
            return None
        total = api.add(api.expand_dims(q, -2), api.expand_dims(k, -3))
        if self.scale is not None:
            total = api.multiply(self.scale, total)
        return api.multiply(self.concat_score_weight, api.sum(api.tanh(total), axis=-1))

    def call(
        self,
        inputs: Any,
        mask: Any = None,
        training: bool | None = None,
        return_attention_scores: bool = False,
        use_causal_mask: bool = False,
    ) -> Any:
        self._validate(inputs, mask)
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        self._check_shapes(_shape(q), _shape(v), _shape(k))
        q_mask, v_mask = (mask[0], mask[1]) if mask is not None else (None, None)
        scores = self._scores(q, k)
        if scores is None and self.scale is not None:
            q = api.multiply(q, self.scale)
        score_mask = None if v_mask is None else self._value_mask(v_mask, _shape(v))
        operands = [_view1(q), _view1(k)] if scores is None else [_scores4(scores)]
        out, _, weights = self._attend(
            operands + [_view1(v)],
            score_mask,
            training,
            causal=use_causal_mask,
            scores_given=scores is not None,
        )
        out = api.squeeze(out, axis=2)
        if q_mask is not None:
            keep = api.expand_dims(api.cast(q_mask, "bool"), -1)
            out = api.where(keep, out, np.zeros((), out.dtype))
        if return_attention_scores:
            return out, api.squeeze(weights, axis=1)
        return out

    def _value_mask(self, v_mask: Any, v_shape: tuple) -> Any:
        m_shape = _shape(v_mask)
        if len(m_shape) != 2 or not all(
            a in (None, b) or b is None for a, b in zip(m_shape, v_shape)
        ):
            raise ValueError(
                f"{_owner(self)}: value_mask must have shape (batch, Tv) = "
                f"{format_shape(v_shape[:2])}, received shape {format_shape(m_shape)}"
            )
        return api.expand_dims(api.expand_dims(v_mask, 1), 1)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "use_scale": self.use_scale,
            "score_mode": self.score_mode,
            "dropout": self.dropout,
            "seed": self.seed,
        }


def _scores4(scores: Any) -> Any:
    return api.expand_dims(scores, 1)


class AdditiveAttention(Attention):
    """Additive (Bahdanau) attention: scores = sum(scale * tanh(query + key)), `scale` a weight
    of the query's size (with use_scale); otherwise as Attention."""

    def __init__(self, use_scale: bool = True, dropout: float = 0.0, **kwargs: Any) -> None:
        kwargs.pop("score_mode", None)  # Keras's config of Attention has it; this layer has none
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape: Any) -> None:
        self._validate(input_shape)
        dim = input_shape[0][-1]
        if dim is None:
            raise ValueError(
                f"{_owner(self)}: the query's last dimension must be known, received shape "
                f"{format_shape(input_shape[0])}"
            )
        self.scale = self.concat_score_weight = None
        if self.use_scale:
            self.scale = self.add_weight((dim,), "glorot_uniform", name="scale")

    def _scores(self, q: Any, k: Any) -> Any:
        t = api.tanh(api.add(api.expand_dims(q, -2), api.expand_dims(k, -3)))
        return api.sum(api.multiply(self.scale, t) if self.scale is not None else t, axis=-1)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["score_mode"]
        return config
