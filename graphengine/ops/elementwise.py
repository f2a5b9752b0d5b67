"""Elementwise primitives: broadcasting binary arithmetic, comparisons and logical connectives
(bool results), the three-way select `where`, and unary functions with their backward ops (one
kernel pair per formula, `<kind>_forward` / `<kind>_backward`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphengine.graph.tensor import Shape
from graphengine.ops.base import (
    Kernels,
    Op,
    RunContext,
    Spec,
    broadcast_shapes,
    float_dtype,
    result_dtype,
)

BINARY = ("add", "subtract", "multiply", "divide", "maximum", "minimum", "power")


class Binary(Op, serializable=True):
    """out = a (op) b with NumPy broadcasting."""

    broadcasts = True

    def __init__(self, kind: str) -> None:
        if kind not in BINARY:
            raise ValueError(f"Unknown binary op {kind!r}; valid: {', '.join(BINARY)}")
        self.name = self.kind = kind

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        dtype = result_dtype(dtypes)
        if self.name == "divide":
            dtype = float_dtype(dtype)
        return [(broadcast_shapes(shapes[0], shapes[1], self.name), dtype)]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        getattr(k, self.name)(ins[0], ins[1], outs[0])


COMPARISONS = (
    "equal",
    "not_equal",
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "logical_and",
    "logical_or",
    "logical_xor",
)


class Compare(Op, serializable=True):
    """out (bool) = `a (kind) b` with broadcasting: a comparison, or a logical connective of the
    operands' truth (nonzero, NaN included). No gradient."""

    broadcasts = True

    def __init__(self, kind: str) -> None:
        if kind not in COMPARISONS:
            raise ValueError(f"Unknown comparison {kind!r}; valid: {', '.join(COMPARISONS)}")
        self.name = self.kind = kind

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(broadcast_shapes(shapes[0], shapes[1], self.name), "bool")]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        getattr(k, self.name)(ins[0], ins[1], outs[0])


class Where(Op, serializable=True):
    """out = a where condition (nonzero) else b, all three broadcast: a selection, never the
    arithmetic cond * a + (1 - cond) * b (0 * inf would be NaN)."""

    name = "where"
    broadcasts = True

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        shape = broadcast_shapes(shapes[0], shapes[1], self.name)
        return [(broadcast_shapes(shape, shapes[2], self.name), result_dtype(dtypes[1:]))]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        k.where(ins[0], ins[1], ins[2], outs[0])


class Cast(Op, serializable=True):
    """out = x converted to `dtype`."""

    name = "cast"

    def __init__(self, dtype: str) -> None:
        self.dtype = np.dtype(dtype).name

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[0], self.dtype)]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        k.cast(ins[0], outs[0])


# kind -> names of its scalar parameters, in kernel argument order
UNARY: dict[str, tuple[str, ...]] = {
    "relu": ("negative_slope", "max_value", "threshold"),
    "sigmoid": (),
    "tanh": (),
    "elu": ("alpha",),
    "selu": (),
    "gelu": (),
    "gelu_tanh": (),
    "softplus": (),
    "softsign": (),
    "swish": (),
    "hard_sigmoid": (),
    "exp": (),
    "log": (),
    "sqrt": (),
    "square": (),
    "abs": (),
    "clip": ("lo", "hi"),
    "sign": (),
    "log1p": (),
    "expm1": (),
    "floor": (),
    "ceil": (),
    "round": (),  # half to even; ge.ops.round scales for its decimals
    # the second wave of activations (kernels/*/activations2.py)
    "relu6": (),
    "step": (),  # straight-through gradient
    "sign_ste": (),  # sign, straight-through gradient
    "hard_silu": (),
    "mish": (),
    "celu": ("alpha",),
    "soft_shrink": ("threshold",),
    "hard_shrink": ("threshold",),
    "squareplus": ("b",),
    "threshold": ("threshold", "default_value"),
    "hard_tanh": (),
    "log_sigmoid": (),
    "sparse_plus": (),
    "sparse_sigmoid": (),
    "tanh_shrink": (),
}


class Unary(Op, serializable=True):
    """out = f(x) elementwise; float in, same dtype out (integers promote to float32)."""

    def __init__(self, kind: str, **params: float) -> None:
        if kind not in UNARY:
            raise ValueError(f"Unknown unary op {kind!r}; valid: {', '.join(UNARY)}")
        missing = set(UNARY[kind]) ^ set(params)
        if missing:
            raise TypeError(f"{kind} takes parameters {UNARY[kind]}, got {tuple(params)}")
        self.name = kind
        self.params = tuple(float(params[p]) for p in UNARY[kind])

    def attrs(self) -> dict[str, Any]:
        return dict(zip(UNARY[self.name], self.params))

    def get_config(self) -> dict[str, Any]:
        return {"kind": self.name, **self.attrs()}

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[0], float_dtype(dtypes[0]))]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        # an integer x is converted inside the kernel, as it writes the float output
        getattr(k, f"{self.name}_forward")(ins[0].reshape(-1), *self.params, outs[0].reshape(-1))


class UnaryGrad(Op):
    """dx = dy * f'(x), from inputs (x, y = f(x), dy)."""

    def __init__(self, forward_op: Unary) -> None:
        self.name = f"{forward_op.name}_grad"
        self.kind = forward_op.name
        self.params = forward_op.params

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[2], dtypes[2])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x, y, dy = (a.reshape(-1) for a in ins)
        getattr(k, f"{self.kind}_backward")(x, y, dy, *self.params, outs[0].reshape(-1))
