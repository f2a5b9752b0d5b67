"""Activation functions by name (`activation="relu"`), each built from ge.ops primitives, and
the one question layers ask about fusing them: `fused_name(activation, where)`, answered by the
kernels' table (kernels/activation_codes.py)."""

from __future__ import annotations

from typing import Any, Callable

from graphengine import common
from graphengine.ops import api
from graphengine.ops.base import apply
from graphengine.ops.elementwise import Unary
from kernels import activation_codes

# where the kernels fuse an activation (see fused_name)
BIAS, RECURRENT = activation_codes.BIAS, activation_codes.RECURRENT


def linear(x: Any) -> Any:
    return x


def relu(x: Any) -> Any:
    return api.relu(x)


def relu6(x: Any) -> Any:
    return api.relu(x, max_value=6.0)


def leaky_relu(x: Any, negative_slope: float = 0.2) -> Any:
    return api.relu(x, negative_slope=negative_slope)


def sigmoid(x: Any) -> Any:
    return api.sigmoid(x)


def tanh(x: Any) -> Any:
    return api.tanh(x)


def softmax(x: Any, axis: int = -1) -> Any:
    return api.softmax(x, axis=axis)


def elu(x: Any, alpha: float = 1.0) -> Any:
    return apply(Unary("elu", alpha=alpha), x)


def selu(x: Any) -> Any:
    return apply(Unary("selu"), x)


def gelu(x: Any, approximate: bool = False) -> Any:
    return apply(Unary("gelu_tanh" if approximate else "gelu"), x)


def softplus(x: Any) -> Any:
    return apply(Unary("softplus"), x)


def softsign(x: Any) -> Any:
    return apply(Unary("softsign"), x)


def swish(x: Any) -> Any:
    return apply(Unary("swish"), x)


def hard_sigmoid(x: Any) -> Any:
    return apply(Unary("hard_sigmoid"), x)


def exponential(x: Any) -> Any:
    return api.exp(x)


ACTIVATIONS: dict[str, Callable] = {
    "linear": linear,
    "relu": relu,
    "relu6": relu6,
    "leaky_relu": leaky_relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "softmax": softmax,
    "elu": elu,
    "selu": selu,
    "gelu": gelu,
    "softplus": softplus,
    "softsign": softsign,
    "swish": swish,
    "silu": swish,
    "hard_sigmoid": hard_sigmoid,
    "exponential": exponential,
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
