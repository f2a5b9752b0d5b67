"""`ge.optimizers`, as keras.optimizers: the optimizers (update rules as Numba kernels), their
learning-rate `schedules`, and `get` / `serialize` / `deserialize`."""

from graphengine import schedules
from graphengine.training.optimizers import (
    SGD,
    Adagrad,
    Adam,
    AdamW,
    Optimizer,
    RMSprop,
    deserialize,
    get,
    serialize,
)

__all__ = [
    "Adagrad",
    "Adam",
    "AdamW",
    "Optimizer",
    "RMSprop",
    "SGD",
    "deserialize",
    "get",
    "schedules",
    "serialize",
]
