"""`ge.activations`, as keras.activations: activation functions (written with ge.ops, so
they differentiate), and `get` / `serialize`."""

from graphengine.ops.activations import (
    elu,
    exponential,
    gelu,
    get,
    hard_sigmoid,
    leaky_relu,
    linear,
    relu,
    relu6,
    selu,
    serialize,
    sigmoid,
    softmax,
    softplus,
    softsign,
    swish,
    tanh,
)

__all__ = [
    "elu",
    "exponential",
    "gelu",
    "get",
    "hard_sigmoid",
    "leaky_relu",
    "linear",
    "relu",
    "relu6",
    "selu",
    "serialize",
    "sigmoid",
    "softmax",
    "softplus",
    "softsign",
    "swish",
    "tanh",
]
