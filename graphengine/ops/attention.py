"""The fused attention primitive: scores -> (scale, mask) -> softmax -> dropout -> weighted values
as one op (`Attention`), and its backward op (`AttentionGrad`: the scores', queries', keys' and
values' gradients in one pass). Kernels: kernels/{cpu,cuda}/attention.py.

Layouts are the projections' (channels-last, heads next to channels, so nothing is transposed):
q (B, Tq, N, Dk), k (B, Tv, N, Dk), v (B, Tv, N, Dv) -> out (B, Tq, N, Dv); the probabilities
(B, N, Tq, Tv) are an output (the layers return them as attention scores, the backward op reads
them instead of recomputing). With dropout a third output holds the dropped-out probabilities
the values were summed with (= the probabilities at inference).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphengine.graph.tensor import Shape, format_shape
from graphengine.ops.base import Kernels, Op, RunContext, Spec

MASK_MODES = ("subtract", "replace", "fill")  # the kernels' mode codes 0, 1, 2


def _fits(a: int | None, b: int | None) -> bool:
    return a is None or b is None or a == b


class Attention(Op):
    """Inputs q, k, v (or `scores_given`: scores (B, N, Tq, Tv), v), then the mask when
    `has_mask`: (Bm, Nm, Tqm, Tvm), each axis 1 or full, nonzero = attend. Scores are
    `scale * q . k`; a masked one (or, `causal`, key j > query i) is lowered by 1e9 ("subtract",
    Keras's Attention: a fully masked row is uniform), replaced by -1e9 with its probability
    zeroed after ("replace", Keras's MultiHeadAttention's masked softmax: a fully masked row is
    0) or swamped by adding -0.7 * 3.39e38 ("fill", the fused dot_product_attention Keras's
    MultiHeadAttention runs otherwise: a fully masked row is uniform). Dropout of
    the probabilities at `rate` in training (`training` None follows the plan), drawn from `rng`
    (a seeded layer's) or the plan's generator."""

    name = "attention"

    def __init__(
        self,
        scale: float = 1.0,
        causal: bool = False,
        mask_mode: str = "subtract",
        has_mask: bool = False,
        scores_given: bool = False,
        rate: float = 0.0,
        training: bool | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        if mask_mode not in MASK_MODES:
            raise ValueError(f"attention: mask_mode must be one of {MASK_MODES}, got {mask_mode!r}")
        self.scale, self.causal, self.mask_mode = float(scale), bool(causal), mask_mode
        self.has_mask, self.scores_given, self.rate = has_mask, scores_given, float(rate)
        self.training, self._rng = training, rng

    def active(self, training: bool) -> bool:
        """Whether dropout draws a mask when the plan's flag is `training`."""
        mode = self.training if self.training is not None else training
        return bool(mode) and self.rate > 0

    def operands(self, ins: list) -> tuple[Any, Any, Any, Any, Any]:
        """(q, k, v, scores, mask) from the inputs, None for the absent ones."""
        q, k, scores = (None, None, ins[0]) if self.scores_given else (ins[0], ins[1], None)
        n = 2 if self.scores_given else 3
        return q, k, ins[n - 1], scores, ins[n] if self.has_mask else None

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        q, k, v, scores, mask = self.operands(list(shapes))
        floats = dtypes[: 2 if self.scores_given else 3]
        if len(set(floats)) != 1 or np.dtype(floats[0]).kind != "f":
            raise TypeError(f"attention: operands must share one float dtype, got {floats}")
        if self.scores_given:
            B, N, Tq, Tv = self._check_scores(scores, v)
        else:
            B, N, Tq, Tv = self._check_qkv(q, k, v)
        if mask is not None:
            self._check_mask(mask, (B, N, Tq, Tv))
        probs = ((B, N, Tq, Tv), floats[0])
        specs = [((B, Tq, N, v[3]), floats[0]), probs]
        return specs + ([probs] if self.rate > 0 else [])

    def _check_qkv(self, q: Shape, k: Shape, v: Shape) -> tuple:
        if len(q) != 4 or len(k) != 4 or len(v) != 4:
            raise ValueError(
                "attention: query, key and value must have rank 4 (batch, time, heads, "
                f"channels), got {format_shape(q)}, {format_shape(k)}, {format_shape(v)}"
            )
        if not (_fits(k[1], v[1]) and _fits(k[0], v[0]) and _fits(k[2], v[2])):
            raise ValueError(
                f"attention: key shape {format_shape(k)} and value shape {format_shape(v)} "
                "must agree on batch, time and heads"
            )
        if not (_fits(q[0], k[0]) and _fits(q[2], k[2]) and _fits(q[3], k[3])):
            raise ValueError(
                f"attention: query shape {format_shape(q)} and key shape {format_shape(k)} "
                "must agree on batch, heads and channels"
            )
        return q[0], q[2], q[1], k[1]

    def _check_scores(self, s: Shape, v: Shape) -> tuple:
        if len(s) != 4 or len(v) != 4 or not (_fits(s[0], v[0]) and _fits(s[1], v[2])):
            raise ValueError(
                f"attention: scores {format_shape(s)} (batch, heads, Tq, Tv) do not fit value "
                f"shape {format_shape(v)} (batch, Tv, heads, channels)"
            )
        if not _fits(s[3], v[1]):
            raise ValueError(
                f"attention: scores shape {format_shape(s)} has {s[3]} keys but value shape "
                f"{format_shape(v)} has {v[1]} steps"
            )
        return tuple(s)

    def _check_mask(self, mask: Shape, full: tuple) -> None:
        if len(mask) != 4 or any(
            m not in (1, None) and not _fits(m, f) for m, f in zip(mask, full)
        ):
            raise ValueError(
                f"attention: mask shape {format_shape(mask)} does not broadcast to the scores' "
                f"shape {format_shape(full)} (batch, heads, Tq, Tv)"
            )

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        q, key, v, scores, mask = self.operands(ins)
        dropped = outs[2] if len(outs) > 2 else None
        rng = None
        if dropped is not None and self.active(ctx.training):
            rng = self._rng if self._rng is not None else ctx.rng
        k.attention_forward(
            q, key, v, scores, mask, self.scale, self.causal, MASK_MODES.index(self.mask_mode),
            self.rate, rng, outs[1], dropped, outs[0],
        )  # fmt: skip


class AttentionGrad(Op):
    """Inputs: dout, then dprobs and ddropped where they have cotangents, then q and k (unless
    the scores were given), v, probs and dropped (with dropout). Outputs: dscores (B, N, Tq, Tv;
    scratch when q and k were given), then dq and dk (q and k given), dv."""

    name = "attention_grad"

    def __init__(self, forward_op: Attention, has_dprobs: bool, has_ddropped: bool) -> None:
        self.scale, self.given = forward_op.scale, forward_op.scores_given
        self.dropout = forward_op.rate > 0
        self.has_dprobs, self.has_ddropped = has_dprobs, has_ddropped

    def _split(self, ins: list) -> dict[str, Any]:
        names = ["dout"] + ["dprobs"] * self.has_dprobs + ["ddropped"] * self.has_ddropped
        names += ([] if self.given else ["q", "k"]) + ["v", "probs"] + ["dropped"] * self.dropout
        return dict(zip(names, ins))

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        s, dtype = self._split(list(shapes)), dtypes[0]
        out = [(s["probs"], dtype)]
        if not self.given:
            out += [(s["q"], dtype), (s["k"], dtype)]
        return out + [(s["v"], dtype)]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        s = self._split(ins)
        dq, dk = (None, None) if self.given else (outs[1], outs[2])
        k.attention_backward(
            s["dout"], s.get("dprobs"), s.get("ddropped"), s.get("q"), s.get("k"), s["v"],
            s["probs"], s.get("dropped"), self.scale, outs[0], dq, dk, outs[-1],
        )  # fmt: skip
