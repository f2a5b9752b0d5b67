"""graphengine: a Keras-style deep-learning graph engine running on Numba kernels."""

from graphengine import (
    activations,
    callbacks,
    config,
    datasets,
    distributed,
    initializers,
    layers,
    losses,
    metrics,
    models,
    ops,
    optimizers,
    preprocessing,
    regularizers,
    saving,
    utils,
)
from graphengine.graph.tensor import SymbolicTensor, Variable
from graphengine.layers.core import Input
from graphengine.runtime.devices import device
from graphengine.training.model import Model, Sequential
from graphengine.training.transforms import value_and_grad
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
    "preprocessing",
    "regularizers",
    "saving",
    "utils",
    "value_and_grad",
]
