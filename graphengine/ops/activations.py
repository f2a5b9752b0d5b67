"""Activation functions by name (`activation="relu"`), each built from ge.ops primitives, and
the one question layers ask about fusing them: `fused_name(activation, where)`, answered by the
kernels' table (kernels/activation_codes.py)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from graphengine import common
from graphengine.graph.tensor import format_shape
from graphengine.ops import api
from graphengine.ops.base import apply, normalize_axis
from graphengine.ops.elementwise import Unary
from graphengine.ops.reduce import Sort
from graphengine_kernels import activation_codes

# where the kernels fuse an activation (see fused_name)
BIAS, RECURRENT = activation_codes.BIAS, activation_codes.RECURRENT


def linear(x: Any) -> Any:
    """x unchanged (the identity; `activation=None` means it)."""
    return x


def relu(
    x: Any, negative_slope: float = 0.0, max_value: float | None = None, threshold: float = 0.0
) -> Any:
    """max(x, 0) by default: `x` where `x >= threshold` (capped at `max_value` when given),
    else `negative_slope * (x - threshold)`; fused in Dense, the convolutions and the gates."""
    return api.relu(x, negative_slope, max_value, threshold)


def relu6(x: Any) -> Any:
    """min(max(x, 0), 6); fused in Dense and the convolutions."""
    return apply(Unary("relu6"), x)


def leaky_relu(x: Any, negative_slope: float = 0.2) -> Any:
    """x for x >= 0, `negative_slope * x` below."""
    return api.relu(x, negative_slope=negative_slope)


def sigmoid(x: Any) -> Any:
    """1 / (1 + exp(-x)); fused in Dense, the convolutions and the recurrent gates."""
    return api.sigmoid(x)


def tanh(x: Any) -> Any:
    """The hyperbolic tangent; fused in Dense, the convolutions and the recurrent gates."""
    return api.tanh(x)


def softmax(x: Any, axis: int = -1) -> Any:
    """exp(x) / sum(exp(x)) along `axis`, computed stably."""
    return api.softmax(x, axis=axis)


def log_softmax(x: Any, axis: int = -1) -> Any:
    """log(softmax(x)) along `axis`, computed stably."""
    return api.log_softmax(x, axis=axis)


def elu(x: Any, alpha: float = 1.0) -> Any:
    """x for x > 0, alpha * (exp(x) - 1) otherwise (Clevert et al., 2016)."""
    return apply(Unary("elu", alpha=alpha), x)


def selu(x: Any) -> Any:
    """scale * elu(x, alpha) with Klambauer et al.'s constants (alpha 1.6733, scale 1.0507)."""
    return apply(Unary("selu"), x)


def gelu(x: Any, approximate: bool = False) -> Any:
    """x * Phi(x), Phi the standard normal CDF (erf); the tanh approximation with
    `approximate=True`."""
    return apply(Unary("gelu_tanh" if approximate else "gelu"), x)


def softplus(x: Any) -> Any:
    """log(exp(x) + 1), computed stably for large x."""
    return apply(Unary("softplus"), x)


def softsign(x: Any) -> Any:
    """x / (|x| + 1)."""
    return apply(Unary("softsign"), x)


def swish(x: Any) -> Any:
    """x * sigmoid(x) (also `silu`)."""
    return apply(Unary("swish"), x)


silu = swish


def hard_sigmoid(x: Any) -> Any:
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, linear between (Keras 3's)."""
    return apply(Unary("hard_sigmoid"), x)


def hard_silu(x: Any) -> Any:
    """x * relu6(x + 3) / 6 (hard_swish)."""
    return apply(Unary("hard_silu"), x)


hard_swish = hard_silu


def exponential(x: Any) -> Any:
    """exp(x)."""
    return api.exp(x)


def _unary(kind: str) -> Callable:
    def fn(x: Any) -> Any:
        return apply(Unary(kind), x)

    fn.__name__ = fn.__qualname__ = kind
    return fn


mish = _unary("mish")
mish.__doc__ = "x * tanh(softplus(x))."
hard_tanh = _unary("hard_tanh")
hard_tanh.__doc__ = "clip(x, -1, 1)."
log_sigmoid = _unary("log_sigmoid")
log_sigmoid.__doc__ = "log(sigmoid(x)), stable at both ends."
sparse_plus = _unary("sparse_plus")
sparse_plus.__doc__ = "0 up to -1, (x + 1)^2 / 4 on (-1, 1), x from 1 up."
sparse_sigmoid = _unary("sparse_sigmoid")
sparse_sigmoid.__doc__ = "0 up to -1, (x + 1) / 2 on (-1, 1), 1 from 1 up."
tanh_shrink = _unary("tanh_shrink")
tanh_shrink.__doc__ = "x - tanh(x)."


def celu(x: Any, alpha: float = 1.0) -> Any:
    """x for x > 0, alpha * (exp(x / alpha) - 1) otherwise."""
    if alpha == 0:
        raise ValueError(f"celu: alpha must be nonzero (it divides x), received {alpha=}")
    return apply(Unary("celu", alpha=alpha), x)


def soft_shrink(x: Any, threshold: float = 0.5) -> Any:
    """x - threshold above threshold, x + threshold below -threshold, 0 between."""
    return apply(Unary("soft_shrink", threshold=threshold), x)


def hard_shrink(x: Any, threshold: float = 0.5) -> Any:
    """x where |x| > threshold, else 0."""
    return apply(Unary("hard_shrink", threshold=threshold), x)


def squareplus(x: Any, b: float = 4) -> Any:
    """(x + sqrt(x^2 + b)) / 2, b >= 0."""
    if b < 0:
        raise ValueError(f"squareplus: b must be >= 0 (the root of x^2 + b), received {b=}")
    return apply(Unary("squareplus", b=b), x)


def threshold(x: Any, threshold: float, default_value: float) -> Any:
    """x where x > threshold, else default_value (no activation= string: it needs both)."""
    return apply(Unary("threshold", threshold=threshold, default_value=default_value), x)


def step(x: Any) -> Any:
    """The perceptron's Heaviside step: 1 where x > 0, 0 where x <= 0 (at 0 too, as relu's
    x > 0 mask, so outputs are class labels), NaN for NaN. Its gradient is the identity
    straight-through estimator, dx = dy (the true derivative is 0 almost everywhere): through a
    Dense layer and a squared error this is Rosenblatt's perceptron rule. Fused in Dense."""
    return apply(Unary("step"), x)


def sign(x: Any) -> Any:
    """-1, 0 or 1 by the sign of x (0 at 0, NaN for NaN), with step's identity straight-through
    gradient dx = dy. (ge.ops.sign keeps Keras's zero gradient.)"""
    return apply(Unary("sign_ste"), x)


def _axis_size(opname: str, x: Any, axis: int) -> tuple[int, int]:
    shape = tuple(x.shape)
    ax = normalize_axis(axis, len(shape), f"{opname}: axis")
    if shape[ax] is None:
        raise ValueError(f"{opname}: axis {axis} of shape {format_shape(shape)} must be known")
    return ax, shape[ax]


def glu(x: Any, axis: int = -1) -> Any:
    """Gated linear unit (Dauphin et al. 2017): a * sigmoid(b), a and b the two halves of x
    along `axis`, which must be even."""
    x = x if hasattr(x, "shape") else np.asarray(x)
    ax, n = _axis_size("glu", x, axis)
    if n % 2:
        raise ValueError(
            f"glu: the size of axis {axis} must be even to split in halves, received shape "
            f"{format_shape(tuple(x.shape))}"
        )
    a, b = api.split(x, 2, axis=ax)
    return api.multiply(a, api.sigmoid(b))


def sparsemax(x: Any, axis: int = -1) -> Any:
    """The Euclidean projection of x onto the simplex along `axis` (Martins & Astudillo 2016):
    max(x - tau, 0), with tau = (sum of the k largest - 1) / k for the largest k such that the
    k-th largest z_(k) > (sum of the k largest - 1) / k. Sums to 1. Keras 3.15's backends sum
    the cumulative sums instead of taking the k-th, which is not a projection (its outputs need
    not sum to 1); this is the paper's, differentiable through the sort."""
    x = x if hasattr(x, "shape") else np.asarray(x)
    ax, n = _axis_size("sparsemax", x, axis)
    ndim = len(x.shape)
    perm = [a for a in range(ndim) if a != ax] + [ax]
    z = x if ax == ndim - 1 else api.transpose(x, perm)
    zs = apply(Sort(None, True), z)[0]  # descending
    dtype = zs.dtype if isinstance(zs.dtype, str) else zs.dtype.name
    ranks = np.arange(1, n + 1, dtype=dtype)
    support = api.greater(zs - (api.cumsum(zs, axis=-1) - 1) / ranks, 0)
    k = api.sum(api.cast(support, dtype), axis=-1, keepdims=True)
    total = api.sum(api.where(support, zs, np.zeros((), dtype)), axis=-1, keepdims=True)
    y = api.relu(z - (total - 1) / k)
    return y if ax == ndim - 1 else api.transpose(y, np.argsort(perm).tolist())


ACTIVATIONS: dict[str, Callable] = {
    "linear": linear,
    "relu": relu,
    "relu6": relu6,
    "leaky_relu": leaky_relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "elu": elu,
    "selu": selu,
    "celu": celu,
    "gelu": gelu,
    "glu": glu,
    "softplus": softplus,
    "softsign": softsign,
    "squareplus": squareplus,
    "swish": swish,
    "silu": swish,
    "mish": mish,
    "hard_sigmoid": hard_sigmoid,
    "hard_silu": hard_silu,
    "hard_swish": hard_silu,
    "hard_tanh": hard_tanh,
    "hard_shrink": hard_shrink,
    "soft_shrink": soft_shrink,
    "tanh_shrink": tanh_shrink,
    "log_sigmoid": log_sigmoid,
    "sparse_plus": sparse_plus,
    "sparse_sigmoid": sparse_sigmoid,
    "sparsemax": sparsemax,
    "exponential": exponential,
    "step": step,
    "sign": sign,
}


def fused_name(activation: Callable | str, where: str) -> str | None:
    """The name of `activation` (a built-in activation function or its name) when the kernels at
    `where` fuse it (BIAS: the output pass of Dense and the convolutions; RECURRENT: the gates
    of SimpleRNN, LSTM and GRU), else None: a layer then applies it as ops of its own."""
    if isinstance(activation, str):
        name: str | None = activation
    else:
        name = next((n for n, f in ACTIVATIONS.items() if f is activation), None)
    return name if name is not None and activation_codes.fuses(name, where) else None


def fused_names(where: str) -> tuple[str, ...]:
    """The names of the activations the kernels at `where` (BIAS or RECURRENT) fuse."""
    return activation_codes.names(where)


def get(identifier: Any) -> Callable:
    """An activation from a name, None (linear) or a callable; unknown names list the valid ones."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in ACTIVATIONS:
        return ACTIVATIONS[identifier.lower()]
    if isinstance(identifier, dict) and "registered" in identifier:
        return common.registered(identifier["registered"])
    raise ValueError(
        f"Unknown activation {identifier!r}; valid names: {', '.join(sorted(ACTIVATIONS))}"
    )


def serialize(fn: Callable) -> str | dict:
    """A name for the built-ins, `{"registered": name}` for registered functions."""
    for name, f in ACTIVATIONS.items():
        if f is fn:
            return name
    name = common.registered_name(fn)
    if name is None:
        raise ValueError(
            f"activation {fn!r} is not a named activation and cannot be serialized; "
            "register it with @ge.utils.register_serializable()"
        )
    return {"registered": name}
