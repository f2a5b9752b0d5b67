"""graphengine: a Keras-style deep-learning graph engine running on Numba kernels."""

from graphengine import config, datasets, distributed, layers, models, ops, utils
from graphengine.graph.tensor import SymbolicTensor, Variable
from graphengine.layers.core import Input
from graphengine.ops import activations
from graphengine.runtime.devices import device
from graphengine.training import (
    callbacks,
    initializers,
    losses,
    metrics,
    optimizers,
    regularizers,
)
from graphengine.training.model import Model, Sequential
from graphengine.viz.plot import plot_model

__version__ = "0.1.0"

__all__ = [
    "Input",
    "Model",
    "Sequential",
    "SymbolicTensor",
    "Variable",
    "activations",
    "callbacks",
    "config",
    "datasets",
    "device",
    "distributed",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "ops",
    "optimizers",
    "plot_model",
    "regularizers",
    "utils",
]
