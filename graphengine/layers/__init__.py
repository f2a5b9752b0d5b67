"""Keras-named layers."""

from graphengine.layers.activations import ELU, LeakyReLU, PReLU, ReLU, Softmax
from graphengine.layers.base import InputSpec, Layer
from graphengine.layers.core import Activation, Dense, Embedding, Input, InputLayer, Lambda
from graphengine.layers.merging import (
    Add,
    Average,
    Concatenate,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
)
from graphengine.layers.reshaping import Flatten, Permute, RepeatVector, Reshape

__all__ = [
    "ELU",
    "Activation",
    "Add",
    "Average",
    "Concatenate",
    "Dense",
    "Embedding",
    "Flatten",
    "Input",
    "InputLayer",
    "InputSpec",
    "Lambda",
    "Layer",
    "LeakyReLU",
    "Maximum",
    "Minimum",
    "Multiply",
    "PReLU",
    "Permute",
    "ReLU",
    "RepeatVector",
    "Reshape",
    "Softmax",
    "Subtract",
]
