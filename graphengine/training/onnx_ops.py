"""The ONNX form of each primitive op in inference mode: `convert(builder, node)` records what
every output of `node` becomes (an ONNX value name, or an array folded at export); an op or a
setting without a form raises a ValueError naming the layer and the op. Channels-last values
meet ONNX's channels-first Conv and pooling through transposes, which cancel along a chain."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from graphengine.graph.node import Node
from graphengine.ops.attention import Attention
from graphengine.ops.conv import Conv, conv_axis
from graphengine.ops.elementwise import Binary, Cast, Unary
from graphengine.ops.indexing import Gather
from graphengine.ops.matmul import Dense, Matmul
from graphengine.ops.normalization import BatchNorm, LayerNorm
from graphengine.ops.pooling import Pool
from graphengine.ops.reduce import Reduce, Softmax
from graphengine.ops.regularization import AlphaDropout, Dropout, GaussianDropout, GaussianNoise
from graphengine.ops.shape_ops import Concatenate, GetItem, Reshape, Transpose
from graphengine_kernels.cpu.activations import SELU_ALPHA, SELU_SCALE

Converter = Callable[[Any, Node, str], list]
CONVERTERS: dict[type, Converter] = {}


def converts(*types: type) -> Callable[[Converter], Converter]:
    def register(fn: Converter) -> Converter:
        for t in types:
            CONVERTERS[t] = fn
        return fn

    return register


def unsupported(node: Node, why: str) -> ValueError:
    """The error for what cannot be exported, naming the layer (when there is one) and the op."""
    call = node.layer_call
    where = f"layer '{call.layer.name}' runs op" if call is not None else "op"
    return ValueError(f"ONNX export: {where} '{node.op.name}' ({type(node.op).__name__}), {why}")


def convert(b: Any, node: Node) -> None:
    """Converts one node, recording its outputs in `b.values` (absent: no ONNX value)."""
    fn = CONVERTERS.get(type(node.op))
    if fn is None:
        raise unsupported(node, "which has no ONNX mapping")
    for i, t in enumerate(node.inputs):
        if b.values.get(t) is None:
            raise unsupported(node, f"whose input {i} has no ONNX value (a training-only output)")
    hint = node.layer_call.name if node.layer_call is not None else node.name
    b.set_dtype(node.outputs[0].dtype)
    for t, value in zip(node.outputs, fn(b, node, hint)):
        if value is not None:
            b.values[t] = value


def inputs(b: Any, node: Node, hint: str) -> list[str]:
    return [b.name(t, f"{hint}/w{i}") for i, t in enumerate(node.inputs)]


def in_inference(node: Node) -> None:
    if getattr(node.op, "training", None) is True:
        raise unsupported(node, "called with training=True, which inference cannot export")


# -- activations ---------------------------------------------------------------------------------
def _relu(
    b: Any,
    x: str,
    h: str,
    negative_slope: float = 0.0,
    max_value: float = math.inf,
    threshold: float = 0.0,
) -> str:
    if threshold == 0 and max_value == math.inf:
        if negative_slope == 0:
            return b.add("Relu", [x], h)
        return b.add("LeakyRelu", [x], h, alpha=negative_slope)
    f = b.scalar
    top = x if max_value == math.inf else b.add("Min", [x, f(max_value)], h)
    low = b.add("Mul", [b.add("Sub", [x, f(threshold)], h), f(negative_slope)], h)
    return b.add("Where", [b.add("Greater", [x, f(threshold)], h), top, low], h)


def _step(b: Any, x: str, h: str) -> str:
    """1 above 0, 0 at or below, NaN kept (as the kernels' step)."""
    one = b.add("Cast", [b.add("Greater", [x, b.scalar(0)], h)], h, to=b.elem)
    return b.add("Where", [b.add("IsNaN", [x], h), x, one], h)


def _gelu(b: Any, x: str, h: str) -> str:
    erf = b.add("Erf", [b.add("Mul", [x, b.scalar(1 / math.sqrt(2))], h)], h)
    half = b.add("Mul", [x, b.scalar(0.5)], h)
    return b.add("Mul", [half, b.add("Add", [erf, b.scalar(1)], h)], h)


def _gelu_tanh(b: Any, x: str, h: str) -> str:
    cube = b.add("Mul", [b.add("Mul", [x, x], h), x], h)
    inner = b.add("Add", [x, b.add("Mul", [cube, b.scalar(0.044715)], h)], h)
    t = b.add("Tanh", [b.add("Mul", [inner, b.scalar(math.sqrt(2 / math.pi))], h)], h)
    half = b.add("Mul", [x, b.scalar(0.5)], h)
    return b.add("Mul", [half, b.add("Add", [t, b.scalar(1)], h)], h)


def _times(op_type: str, **attrs: Any) -> Callable[[Any, str, str], str]:
    """x * op(x) (swish, hard_silu)."""
    return lambda b, x, h: b.add("Mul", [x, b.add(op_type, [x], h, **attrs)], h)


SIXTH = {"alpha": 1 / 6, "beta": 0.5}  # Keras 3's hard_sigmoid: clip(x / 6 + 0.5, 0, 1)
UNARY: dict[str, Callable[..., str]] = {
    "relu": _relu,
    "sigmoid": lambda b, x, h: b.add("Sigmoid", [x], h),
    "tanh": lambda b, x, h: b.add("Tanh", [x], h),
    "elu": lambda b, x, h, alpha: b.add("Elu", [x], h, alpha=alpha),
    "selu": lambda b, x, h: b.add("Selu", [x], h, alpha=SELU_ALPHA, gamma=SELU_SCALE),
    "gelu": _gelu,
    "gelu_tanh": _gelu_tanh,
    "softplus": lambda b, x, h: b.add("Softplus", [x], h),
    "softsign": lambda b, x, h: b.add("Softsign", [x], h),
    "swish": _times("Sigmoid"),
    "hard_sigmoid": lambda b, x, h: b.add("HardSigmoid", [x], h, **SIXTH),
    "hard_silu": _times("HardSigmoid", **SIXTH),
    "exp": lambda b, x, h: b.add("Exp", [x], h),
    "log": lambda b, x, h: b.add("Log", [x], h),
    "sqrt": lambda b, x, h: b.add("Sqrt", [x], h),
    "square": lambda b, x, h: b.add("Mul", [x, x], h),
    "abs": lambda b, x, h: b.add("Abs", [x], h),
    "sign": lambda b, x, h: b.add("Sign", [x], h),
    "sign_ste": lambda b, x, h: b.add("Sign", [x], h),
    "floor": lambda b, x, h: b.add("Floor", [x], h),
    "ceil": lambda b, x, h: b.add("Ceil", [x], h),
    "round": lambda b, x, h: b.add("Round", [x], h),
    "clip": lambda b, x, h, lo, hi: b.add("Clip", [x, b.scalar(lo), b.scalar(hi)], h),
    "relu6": lambda b, x, h: b.add("Clip", [x, b.scalar(0), b.scalar(6)], h),
    "hard_tanh": lambda b, x, h: b.add("Clip", [x, b.scalar(-1), b.scalar(1)], h),
    "step": _step,
    "celu": lambda b, x, h, alpha: b.add("Celu", [x], h, alpha=alpha),
    "mish": lambda b, x, h: b.add("Mul", [x, b.add("Tanh", [b.add("Softplus", [x], h)], h)], h),
    "tanh_shrink": lambda b, x, h: b.add("Sub", [x, b.add("Tanh", [x], h)], h),
    "log_sigmoid": lambda b, x, h: b.add("Neg", [b.add("Softplus", [b.add("Neg", [x], h)], h)], h),
    "soft_shrink": lambda b, x, h, threshold: b.add(
        "Shrink", [x], h, bias=threshold, lambd=threshold
    ),
    "hard_shrink": lambda b, x, h, threshold: b.add("Shrink", [x], h, lambd=threshold),
}


def activation(b: Any, node: Node, name: str, x: str, hint: str, **params: float) -> str:
    """act(x) for an activation name (fused in Dense / Conv, or a Unary op)."""
    if name == "linear":
        return x
    if name not in UNARY:
        raise unsupported(node, f"whose activation {name!r} has no ONNX mapping")
    return UNARY[name](b, x, hint, **params)


@converts(Unary)
def _unary(b: Any, node: Node, h: str) -> list:
    if node.op.name not in UNARY:
        raise unsupported(node, "which has no ONNX mapping")
    x = b.add("Cast", [b.name(node.inputs[0], h)], h, to=b.elem) if _is_int(node) else None
    return [activation(b, node, node.op.name, x or b.name(node.inputs[0], h), h, **node.op.attrs())]


def _is_int(node: Node) -> bool:
    return np.dtype(node.inputs[0].dtype).kind in "iub"


# -- arithmetic, shapes, reductions --------------------------------------------------------------
BINARY = {
    "add": "Add",
    "subtract": "Sub",
    "multiply": "Mul",
    "divide": "Div",
    "maximum": "Max",
    "minimum": "Min",
    "power": "Pow",
}


@converts(Binary)
def _binary(b: Any, node: Node, h: str) -> list:
    return [b.add(BINARY[node.op.kind], inputs(b, node, h), h)]


@converts(Cast)
def _cast(b: Any, node: Node, h: str) -> list:
    to = b.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(node.op.dtype))
    return [b.add("Cast", [b.name(node.inputs[0], h)], h, to=to)]


@converts(Reshape)
def _reshape(b: Any, node: Node, h: str) -> list:
    if node.op.shape is None:
        raise unsupported(node, "shaped by a second input, which export does not follow")
    out = node.outputs[0].shape
    known = b.array(node.inputs[0])
    if known is not None and None not in out:
        return [known.reshape(out)]  # a weight reshaped (MultiHeadAttention's): folded
    if list(out).count(None) > 1:
        raise unsupported(node, f"whose output shape {out} has more than one unknown axis")
    target = np.array([-1 if d is None else d for d in out], dtype=np.int64)
    return [b.add("Reshape", [b.name(node.inputs[0], h), target], h)]


@converts(Transpose)
def _transpose(b: Any, node: Node, h: str) -> list:
    known = b.array(node.inputs[0])
    if known is not None:
        return [known.transpose(node.op.perm)]
    return [b.add("Transpose", inputs(b, node, h), h, perm=list(node.op.perm))]


BIG = np.iinfo(np.int64)


def _full_key(key: Any, rank: int) -> tuple:
    """A basic-indexing key with its Ellipsis expanded and trailing full slices added."""
    key = key if isinstance(key, tuple) else (key,)
    n = sum(k is not None and k is not Ellipsis for k in key)
    if Ellipsis in key:
        i = key.index(Ellipsis)
        key = key[:i] + (slice(None),) * (rank - n) + key[i + 1 :]
    return key + (slice(None),) * (rank - sum(k is not None for k in key))


@converts(GetItem)
def _getitem(b: Any, node: Node, h: str) -> list:
    """x[key]: one Slice over the sliced and indexed axes, then Squeeze the indexed ones and
    Unsqueeze the new (None) ones."""
    key = _full_key(node.op.key, len(node.inputs[0].shape))
    starts, ends, axes, steps, squeeze, new = [], [], [], [], [], []
    axis = out = 0
    for k in key:
        if k is None:
            new.append(out)
            out += 1
            continue
        if isinstance(k, slice):
            step = 1 if k.step is None else k.step
            first, last = (0, BIG.max) if step > 0 else (BIG.max, BIG.min)
            start, stop = (first if k.start is None else k.start), (k.stop, last)[k.stop is None]
            out += 1
        else:
            start, stop, step = int(k), int(k) + 1 or BIG.max, 1
            squeeze.append(axis)
        if (start, stop, step) != (0, BIG.max, 1):
            starts, ends, axes, steps = (
                starts + [start],
                ends + [stop],
                axes + [axis],
                steps + [step],
            )
        axis += 1
    y = b.name(node.inputs[0], h)
    if axes:
        y = b.add("Slice", [y] + [np.array(v, np.int64) for v in (starts, ends, axes, steps)], h)
    if squeeze:
        y = b.add("Squeeze", [y, np.array(squeeze, np.int64)], h)
    if new:
        y = b.add("Unsqueeze", [y, np.array(new, np.int64)], h)
    return [y]


@converts(Concatenate)
def _concatenate(b: Any, node: Node, h: str) -> list:
    return [b.add("Concat", inputs(b, node, h), h, axis=node.op.axis)]


@converts(Gather)
def _gather(b: Any, node: Node, h: str) -> list:
    return [b.add("Gather", inputs(b, node, h), h, axis=0)]


REDUCE = {"sum": "ReduceSum", "mean": "ReduceMean", "max": "ReduceMax", "min": "ReduceMin"}
REDUCE["prod"] = "ReduceProd"


@converts(Reduce)
def _reduce(b: Any, node: Node, h: str) -> list:
    op, x = node.op, b.name(node.inputs[0], h)
    keep = int(op.keepdims)
    if op.kind == "sum":  # opset 13 on: ReduceSum takes its axes as an input
        return [b.add("ReduceSum", [x, np.array(op.axes, np.int64)], h, keepdims=keep)]
    return [b.add(REDUCE[op.kind], [x], h, axes=list(op.axes), keepdims=keep)]


@converts(Softmax)
def _softmax(b: Any, node: Node, h: str) -> list:
    kind = "LogSoftmax" if node.op.log else "Softmax"
    return [b.add(kind, [b.name(node.inputs[0], h)], h, axis=node.op.axis)]


@converts(
    Dropout,
    AlphaDropout,
    GaussianDropout,
    GaussianNoise,
)
def _identity(b: Any, node: Node, h: str) -> list:
    in_inference(node)
    return [b.values[node.inputs[0]], None]


# -- layers' primitives --------------------------------------------------------------------------
@converts(Dense)
def _dense(b: Any, node: Node, h: str) -> list:
    names = inputs(b, node, h)
    y = b.add("MatMul", names[:2], h)
    if node.op.use_bias:
        y = b.add("Add", [y, names[2]], h)
    return [activation(b, node, node.op.activation, y, h)]


@converts(Matmul)
def _matmul(b: Any, node: Node, h: str) -> list:
    return [b.add("MatMul", inputs(b, node, h), h)]


@converts(BatchNorm)
def _batch_norm(b: Any, node: Node, h: str) -> list:
    """(x - mean) * (inv_std * gamma) + beta, the kernels' order, on the moving statistics."""
    in_inference(node)
    op, x = node.op, node.inputs[0]
    gamma, beta, mean, var = (b.array(t) for t in node.inputs[1:])
    if gamma is None or beta is None or mean is None or var is None:
        raise unsupported(node, "whose statistics are not weights known at export")
    axis = op.axis % len(x.shape)
    shape = (-1,) + (1,) * (len(x.shape) - axis - 1)
    dtype = mean.dtype
    inv_std = (1.0 / np.sqrt(var + dtype.type(op.epsilon))).astype(dtype)
    y = b.add("Sub", [b.name(x, h), mean.reshape(shape)], h)
    y = b.add("Mul", [y, (inv_std * gamma).reshape(shape)], h)
    y = b.add("Add", [y, beta.reshape(shape)], h)
    if getattr(op, "relu", False):  # a plan's fused BatchNormalization -> ReLU
        y = b.add("Relu", [y], h)
    return [y, None, None]


@converts(LayerNorm)
def _layer_norm(b: Any, node: Node, h: str) -> list:
    axis = -node.op.n_axes
    y = b.add("LayerNormalization", inputs(b, node, h), h, axis=axis, epsilon=node.op.epsilon)
    return [y, None, None]


def channels_first(b: Any, x: str, rank: int, h: str) -> str:
    """The (N, C, *spatial) twin of channels-last x: the value a transpose back came from."""
    if x in b.nchw:
        return b.nchw[x]
    return b.add("Transpose", [x], h, perm=[0, rank + 1, *range(1, rank + 1)])


def channels_last(b: Any, y: str, rank: int, h: str) -> str:
    out = b.add("Transpose", [y], h, perm=[0, *range(2, rank + 2), 1])
    b.nchw[out] = y
    return out


def explicit_pads(node: Node, kernel: tuple, dilation: tuple) -> list[int]:
    """ONNX pads (all begins, then all ends) of our padding on the known spatial sizes."""
    op, spatial = node.op, node.inputs[0].shape[1:-1]
    if None in spatial and op.padding != "valid":
        raise unsupported(node, f"whose padding {op.padding!r} needs known spatial sizes")
    begins, ends = [], []
    for i in range(op.rank):
        extent = (kernel[i] - 1) * dilation[i] + 1
        if op.padding == "valid":
            total, begin = 0, 0
        elif op.padding == "causal":
            total = begin = extent - 1
        else:
            out = -(-spatial[i] // op.strides[i])
            total = max((out - 1) * op.strides[i] + extent - spatial[i], 0)
            begin = conv_axis(spatial[i], kernel[i], op.strides[i], dilation[i], "same")[1]
        begins.append(begin)
        ends.append(total - begin)
    return begins + ends


@converts(Conv)
def _conv(b: Any, node: Node, h: str) -> list:
    op, rank = node.op, node.op.rank
    w = b.array(node.inputs[1])
    if w is None:
        raise unsupported(node, "whose kernel is not a weight known at export")
    kernel = w.shape[:rank]
    x = channels_first(b, b.name(node.inputs[0], h), rank, h)
    operands = [x, np.ascontiguousarray(w.transpose(rank + 1, rank, *range(rank)))]
    if op.use_bias:
        operands.append(b.name(node.inputs[2], h))
    y = b.add(
        "Conv",
        operands,
        h,
        kernel_shape=list(kernel),
        strides=list(op.strides),
        dilations=list(op.dilation_rate),
        pads=explicit_pads(node, kernel, op.dilation_rate),
        group=op.groups,
    )
    y = activation(b, node, op.activation, y, h)
    return [channels_last(b, y, rank, h), None]


@converts(Pool)
def _pool(b: Any, node: Node, h: str) -> list:
    op, rank = node.op, node.op.rank
    x = channels_first(b, b.name(node.inputs[0], h), rank, h)
    attrs = dict(
        kernel_shape=list(op.pool_size),
        strides=list(op.strides),
        pads=explicit_pads(node, op.pool_size, (1,) * rank),
    )
    if op.mode == "max":
        y = b.add("MaxPool", [x], h, **attrs)
    else:  # the average of the real cells only, as ours
        y = b.add("AveragePool", [x], h, count_include_pad=0, **attrs)
    return [channels_last(b, y, rank, h), None]


@converts(Attention)
def _attention(b: Any, node: Node, h: str) -> list:
    """softmax(scale * q k^T [+ causal mask]) v per (batch, head): MatMul / Softmax."""
    op = node.op
    in_inference(node)
    if op.has_mask or op.scores_given:
        raise unsupported(node, "with an attention mask or given scores, which export lacks")
    q, k, v = inputs(b, node, h)
    q = b.add("Transpose", [q], h, perm=[0, 2, 1, 3])
    k = b.add("Transpose", [k], h, perm=[0, 2, 3, 1])
    scores = b.add("Mul", [b.add("MatMul", [q, k], h), b.scalar(op.scale)], h)
    if op.causal:
        tq, tv = node.inputs[0].shape[1], node.inputs[1].shape[1]
        if tq is None or tv is None:
            raise unsupported(node, "causal with unknown sequence lengths")
        blocked = np.triu(np.ones((tq, tv), bool), 1)
        scores = b.add("Add", [scores, np.where(blocked, -1e9, 0).astype(b.dtype)], h)
    probs = b.add("Softmax", [scores], h, axis=-1)
    out = b.add("MatMul", [probs, b.add("Transpose", [v], h, perm=[0, 2, 1, 3])], h)
    return [b.add("Transpose", [out], h, perm=[0, 2, 1, 3]), probs, None]
