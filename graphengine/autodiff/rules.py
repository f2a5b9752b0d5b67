"""One gradient rule per primitive: given the forward node and its output cotangents, return
one gradient tensor (or None) per input, built from ops so the backward pass yields a graph.

Summing a broadcast gradient back to its input's shape and accumulating fan-out happen once,
in backward.py, not here.
"""

from __future__ import annotations

from typing import Any, Callable

from graphengine.graph.node import Node
from graphengine.ops import api
from graphengine.ops.base import apply
from graphengine.ops.elementwise import Binary, Cast, Compare, Unary, UnaryGrad
from graphengine.ops.indexing import Gather, GatherGrad, OneHot
from graphengine.ops.matmul import Matmul, MatmulAtB
from graphengine.ops.pyfunc import PyFunc
from graphengine.ops.reduce import MaxGrad, Reduce, ReduceGrad, Softmax, SoftmaxGrad
from graphengine.ops.shape import (
    BroadcastTo,
    Concatenate,
    GetItem,
    GetItemGrad,
    Reshape,
    Split,
    SumTo,
    Transpose,
)

Rule = Callable[[Node, list], list]
RULES: dict[type, Rule] = {}


class NotDifferentiableError(ValueError):
    """Raised when a gradient is asked through an op that has none."""


def rule(op_type: type) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        RULES[op_type] = fn
        return fn

    return register


@rule(Binary)
def _binary(node: Node, g: list) -> list:
    (gy,), (a, b), kind = g, node.inputs, node.op.name
    if kind == "add":
        return [gy, gy]
    if kind == "subtract":
        return [gy, api.negative(gy)]
    if kind == "multiply":
        return [api.multiply(gy, b), api.multiply(gy, a)]
    if kind == "divide":
        ga = api.divide(gy, b)
        return [ga, api.negative(api.multiply(ga, node.outputs[0]))]  # d(a/b)/db = -(a/b)/b
    # maximum: a wins ties (a >= b), minimum: a wins ties (a <= b), as TensorFlow
    mask = api.greater_equal(a, b) if kind == "maximum" else api.greater_equal(b, a)
    ga = api.multiply(gy, mask)
    return [ga, api.subtract(gy, ga)]


@rule(Compare)
def _compare(node: Node, g: list) -> list:
    return [None, None]


@rule(Cast)
def _cast(node: Node, g: list) -> list:
    return [api.cast(g[0], node.inputs[0].dtype)]


@rule(Unary)
def _unary(node: Node, g: list) -> list:
    return [apply(UnaryGrad(node.op), node.inputs[0], node.outputs[0], g[0])]


@rule(Reduce)
def _reduce(node: Node, g: list) -> list:
    (x,), (y,) = node.inputs, node.outputs
    if node.op.name == "max":
        return [apply(MaxGrad(node.op), x, y, g[0])]
    return [apply(ReduceGrad(node.op), g[0], x)]


@rule(Softmax)
def _softmax(node: Node, g: list) -> list:
    return [apply(SoftmaxGrad(node.op), node.outputs[0], g[0])]


def _swap_last(x: Any) -> Any:
    perm = list(range(x.ndim))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    return api.transpose(x, perm)


@rule(Matmul)
def _matmul(node: Node, g: list) -> list:
    (gy,), (a, b) = g, node.inputs
    ga = api.matmul(gy, _swap_last(b))
    # a weight matrix: contract every leading axis at once instead of a batched a^T @ g
    gb = apply(MatmulAtB(), a, gy) if b.ndim == 2 else api.matmul(_swap_last(a), gy)
    return [ga, gb]


@rule(Reshape)
def _reshape(node: Node, g: list) -> list:
    return [apply(Reshape(), g[0], node.inputs[0]), None]


@rule(Transpose)
def _transpose(node: Node, g: list) -> list:
    perm = node.op.perm
    return [api.transpose(g[0], sorted(range(len(perm)), key=perm.__getitem__))]


@rule(BroadcastTo)
def _broadcast_to(node: Node, g: list) -> list:
    return [apply(SumTo(), g[0], node.inputs[0])]


@rule(GetItem)
def _getitem(node: Node, g: list) -> list:
    return [apply(GetItemGrad(node.op), g[0], node.inputs[0])]


@rule(Concatenate)
def _concatenate(node: Node, g: list) -> list:
    parts = apply(Split(node.op.axis, len(node.inputs)), g[0], *node.inputs)
    return parts if isinstance(parts, list) else [parts]


@rule(OneHot)
def _one_hot(node: Node, g: list) -> list:
    return [None]


@rule(Gather)
def _gather(node: Node, g: list) -> list:
    table, ids = node.inputs
    return [apply(GatherGrad(), ids, g[0], table), None]


@rule(PyFunc)
def _py_func(node: Node, g: list) -> list:
    raise NotDifferentiableError(
        f"Lambda '{node.op.owner}' runs a Python function that is not built from ge.ops, so no "
        "gradient flows through it. Write its body with ge.ops functions, or make the layers "
        "before it non-trainable."
    )
