"""One gradient rule per primitive: given the forward node and its output cotangents, return
one gradient tensor (or None) per input, built from ops so the backward pass yields a graph.

Summing a broadcast gradient back to its input's shape and accumulating fan-out happen once,
in backward.py, not here.

The primitives of the newer layer families keep their rules beside this table, one module per
family (rules_<family>.py, registering with `rule` and `no_gradient` from here); backward.py
imports them.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from graphengine.graph.node import Node
from graphengine.ops import api
from graphengine.ops.base import apply
from graphengine.ops.bias import BiasActivationGrad, BiasGrad
from graphengine.ops.conv import (
    Conv,
    ConvBackwardInput,
    ConvBackwardWeight,
    ConvTranspose,
    ConvTransposeBackwardInput,
    ConvTransposeBackwardWeight,
)
from graphengine.ops.elementwise import Binary, Cast, Compare, Unary, UnaryGrad, Where
from graphengine.ops.indexing import Gather, GatherGrad, OneHot, Take, TakeGrad
from graphengine.ops.matmul import Dense, DenseBackwardInput, Matmul, MatmulAtB
from graphengine.ops.normalization import BatchNorm, BatchNormGrad, LayerNorm, LayerNormGrad
from graphengine.ops.pooling import AvgPoolGrad, MaxPoolGrad, Pool
from graphengine.ops.pyfunc import PyFunc
from graphengine.ops.recurrent import (
    RecurrentInputGrad,
    RecurrentSequence,
    RecurrentSequenceGrad,
    RecurrentWeightGrad,
)
from graphengine.ops.reduce import (
    ArgReduce,
    Cumsum,
    MaxGrad,
    ProdGrad,
    Reduce,
    ReduceGrad,
    Softmax,
    SoftmaxGrad,
    Sort,
    SortGrad,
)
from graphengine.ops.regularization import (
    AlphaDropout,
    Dropout,
    GaussianDropout,
    GaussianNoise,
    MaskGrad,
)
from graphengine.ops.shape_ops import (
    BroadcastTo,
    Concatenate,
    FullLike,
    GetItem,
    GetItemGrad,
    Pad,
    PadGrad,
    Reshape,
    Split,
    SplitSections,
    StopGradient,
    SumTo,
    Transpose,
)

Rule = Callable[[Node, list], list]
# op type -> its rule, or None for an op no gradient flows back through (see `no_gradient`)
RULES: dict[type, Rule | None] = {}


class NotDifferentiableError(ValueError):
    """Raised when a gradient is asked through an op that has none."""


def rule(op_type: type) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        RULES[op_type] = fn
        return fn

    return register


def no_gradient(*op_types: type) -> None:
    """Marks ops that have no gradient rule on purpose: asking for a gradient through one raises
    NotDifferentiableError naming it (the backward pass finds None), never a silent zero."""
    for op_type in op_types:
        RULES[op_type] = None


# Backward ops: gradients of gradients are not built.
no_gradient(
    UnaryGrad,
    ReduceGrad,
    MaxGrad,
    ProdGrad,
    SortGrad,
    SoftmaxGrad,
    MatmulAtB,
    DenseBackwardInput,
    BiasActivationGrad,
    BiasGrad,
    SumTo,
    GetItemGrad,
    Split,
    GatherGrad,
    TakeGrad,
    PadGrad,
    MaskGrad,
    BatchNormGrad,
    LayerNormGrad,
    ConvBackwardInput,
    ConvBackwardWeight,
    ConvTransposeBackwardInput,
    ConvTransposeBackwardWeight,
    MaxPoolGrad,
    AvgPoolGrad,
    RecurrentSequenceGrad,
    RecurrentInputGrad,
    RecurrentWeightGrad,
)


def _quotient(ga: Any, y: Any) -> list:
    """[da, db] of y = a / b from da = dy / b: db = -da * y (= -dy * a / b^2)."""
    return [ga, api.negative(api.multiply(ga, y))]


def _routed(gy: Any, mask: Any) -> list:
    """[da, db] where dy goes to a where `mask` (a won) and to b elsewhere."""
    ga = api.multiply(gy, mask)
    return [ga, api.subtract(gy, ga)]


def _power(gy: Any, a: Any, b: Any, y: Any) -> list:
    """[da, db] of y = a ** b as PyTorch (Keras's torch backend): da = dy * b * a ** (b - 1), 0
    where b == 0 (even at a == 0, where the formula is 0 * inf); db = dy * y * log(a), 0 where
    a == 0 and b >= 0 (the limit; log(0) = -inf would give NaN), NaN for a < 0."""
    zero = np.zeros((), gy.dtype)
    da = api.where(api.equal(b, 0), zero, gy * b * api.power(a, b - 1))
    db = api.where(
        api.logical_and(api.equal(a, 0), api.greater_equal(b, 0)), zero, gy * y * api.log(a)
    )
    return [da, db]


# kind -> (dy, a, b, y) -> [da, db]; maximum and minimum give ties to a, as TensorFlow
BINARY_GRADS: dict[str, Callable[[Any, Any, Any, Any], list]] = {
    "add": lambda gy, a, b, y: [gy, gy],
    "subtract": lambda gy, a, b, y: [gy, api.negative(gy)],
    "multiply": lambda gy, a, b, y: [api.multiply(gy, b), api.multiply(gy, a)],
    "divide": lambda gy, a, b, y: _quotient(api.divide(gy, b), y),
    "maximum": lambda gy, a, b, y: _routed(gy, api.greater_equal(a, b)),
    "minimum": lambda gy, a, b, y: _routed(gy, api.greater_equal(b, a)),
    "power": _power,
}


@rule(Binary)
def _binary(node: Node, g: list) -> list:
    (a, b), (y,) = node.inputs, node.outputs
    return BINARY_GRADS[node.op.name](g[0], a, b, y)


@rule(Compare)
def _compare(node: Node, g: list) -> list:
    return [None, None]


@rule(Cast)
def _cast(node: Node, g: list) -> list:
    return [api.cast(g[0], node.inputs[0].dtype)]


@rule(Unary)
def _unary(node: Node, g: list) -> list:
    return [apply(UnaryGrad(node.op), node.inputs[0], node.outputs[0], g[0])]


@rule(Where)
def _where(node: Node, g: list) -> list:
    """dy goes to a where the condition holds and to b elsewhere: selected, never multiplied
    by a mask (0 * inf would be NaN)."""
    cond, zero = node.inputs[0], np.zeros((), g[0].dtype)
    return [None, api.where(cond, g[0], zero), api.where(cond, zero, g[0])]


@rule(Reduce)
def _reduce(node: Node, g: list) -> list:
    (x,), (y,) = node.inputs, node.outputs
    if node.op.name in ("max", "min"):
        return [apply(MaxGrad(node.op), x, y, g[0])]
    if node.op.name == "prod":
        return [apply(ProdGrad(node.op), x, g[0])]
    return [apply(ReduceGrad(node.op), g[0], x)]


@rule(Sort)
def _sort(node: Node, g: list) -> list:
    """The values' cotangent goes back to where each value came from; the indices have none."""
    return [apply(SortGrad(), g[0], node.outputs[1], node.inputs[0])]


@rule(Cumsum)
def _cumsum(node: Node, g: list) -> list:
    """A reverse cumulative sum of dy (along the flattened x, reshaped back, for axis None)."""
    op, x = node.op, node.inputs[0]
    gx = apply(Cumsum(0 if op.axis is None else op.axis, not op.reverse), g[0])
    return [apply(Reshape(), gx, x) if op.axis is None else gx]


@rule(ArgReduce)
@rule(FullLike)
@rule(StopGradient)
def _no_flow(node: Node, g: list) -> list:
    """Integer indices, constants and stop_gradient: a zero gradient, as Keras."""
    return [None] * len(node.inputs)


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


def _bias_activation_grads(node: Node, gy: Any) -> tuple[Any, Any]:
    """(dz, db): the cotangent before the fused bias + activation, taken from the saved output,
    and the bias gradient (None without a bias)."""
    op, y = node.op, node.outputs[0]
    if op.activation != "linear":
        out = apply(BiasActivationGrad(op.activation, op.use_bias), y, gy)
        return (out[0], out[1]) if op.use_bias else (out, None)
    return gy, apply(BiasGrad(), gy) if op.use_bias else None


def _with_bias(dx: Any, dw: Any, db: Any) -> list:
    """The gradients of a bias-family op's inputs (x, kernel[, bias]): db is None without one."""
    return [dx, dw] if db is None else [dx, dw, db]


@rule(Dense)
def _dense(node: Node, g: list) -> list:
    x, w = node.inputs[:2]
    dz, db = _bias_activation_grads(node, g[0])
    return _with_bias(apply(DenseBackwardInput(), dz, w, x), apply(MatmulAtB(), x, dz), db)


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


@rule(Take)
def _take(node: Node, g: list) -> list:
    x, ids = node.inputs
    return [apply(TakeGrad(node.op), ids, g[0], x), None]


@rule(Pad)
def _pad(node: Node, g: list) -> list:
    return [apply(PadGrad(node.op), g[0], node.inputs[0])]


@rule(SplitSections)
def _split_sections(node: Node, g: list) -> list:
    """The pieces' gradients concatenated back (zeros for a piece that got none)."""
    parts = [api.zeros_like(t) if gt is None else gt for t, gt in zip(node.outputs, g)]
    return [api.concatenate(parts, axis=node.op.axis)]


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


# -- normalization and regularization ---------------------------------------------------------
@rule(BatchNorm)
def _batch_norm(node: Node, g: list) -> list:
    """Gradients for x, gamma, beta; none for the moving statistics (not trainable)."""
    if g[0] is None:
        return [None] * 5
    x, gamma = node.inputs[:2]
    _, mean, inv_std = node.outputs
    dx, dgamma, dbeta = apply(BatchNormGrad(node.op), x, g[0], mean, inv_std, gamma)
    return [dx, dgamma, dbeta, None, None]


@rule(LayerNorm)
def _layer_norm(node: Node, g: list) -> list:
    if g[0] is None:
        return [None] * 3
    x, gamma = node.inputs[:2]
    _, mean, inv_std = node.outputs
    return apply(LayerNormGrad(node.op), x, g[0], mean, inv_std, gamma)


@rule(Dropout)
@rule(AlphaDropout)
@rule(GaussianDropout)
def _masked(node: Node, g: list) -> list:
    """dy times the mask the forward pass drew (its output 1)."""
    return [None if g[0] is None else apply(MaskGrad(node.op), g[0], node.outputs[1])]


@rule(GaussianNoise)
def _gaussian_noise(node: Node, g: list) -> list:
    return [g[0]]


# -- convolution and pooling ------------------------------------------------------------------
def _first(out: Any) -> Any:
    return out[0] if isinstance(out, list) else out


@rule(Conv)
def _conv(node: Node, g: list) -> list:
    if g[0] is None:
        return [None] * len(node.inputs)
    x, w = node.inputs[:2]
    dz, db = _bias_activation_grads(node, g[0])
    dw = _first(apply(ConvBackwardWeight(node.op), x, dz, w))
    return _with_bias(_first(apply(ConvBackwardInput(node.op), dz, w, x)), dw, db)


@rule(ConvTranspose)
def _conv_transpose(node: Node, g: list) -> list:
    if g[0] is None:
        return [None] * len(node.inputs)
    x, w = node.inputs[:2]
    dz, db = _bias_activation_grads(node, g[0])
    dx = _first(apply(ConvTransposeBackwardInput(node.op), dz, w, x))
    return _with_bias(dx, _first(apply(ConvTransposeBackwardWeight(node.op), dz, x, w)), db)


@rule(Pool)
def _pool(node: Node, g: list) -> list:
    if g[0] is None:
        return [None]
    x = node.inputs[0]
    if node.op.mode == "max":
        return [apply(MaxPoolGrad(node.op), g[0], node.outputs[1], x)]
    return [apply(AvgPoolGrad(node.op), g[0], x)]


# -- recurrent --------------------------------------------------------------------------------
@rule(RecurrentSequence)
def _recurrent_sequence(node: Node, g: list) -> list:
    """BPTT (one op) yields every step's pre-activation gradients dz (T, N, G*U); the input
    and weight gradients are then products over all steps at once. Outputs past the states are
    saved tensors and scratch: they never receive cotangents."""
    op = node.op
    ins, saved = dict(zip(op.in_names, node.inputs)), dict(zip(op.out_names, node.outputs))
    cots = g[: 1 + op.n_states] + [None] * (2 - op.n_states)
    grad_op = RecurrentSequenceGrad(op, *(c is not None for c in cots))
    outs = apply(
        grad_op,
        *[c for c in cots if c is not None],
        ins["recurrent_kernel"],
        *[saved[name] for name in grad_op.saved_names],
        *([ins["mask"]] if op.has_mask else []),
    )
    o = dict(zip(grad_op.out_names, outs))
    dmask = [saved["dmask"]] if op.drop else []
    weight_op = RecurrentWeightGrad(op)
    h_in = saved["hd"] if op.rdrop else saved["hs"]  # the recurrent product's left operand
    args = {"xt": saved["xt"], "hin": h_in, "aux": saved.get("aux"), "dz": o["dz"]}
    args["dzh"] = o.get("dzh")
    weights = apply(weight_op, *[args[name] for name in weight_op.in_names])
    grads = dict(zip(["kernel", "recurrent_kernel", "bias"], weights))
    grads["x"] = apply(RecurrentInputGrad(op), o["dz"], ins["kernel"], ins["x"], *dmask)[0]
    grads.update({"h0": o.get("dh0"), "c0": o.get("dc0")})
    return [grads.get(name) for name in op.in_names]
