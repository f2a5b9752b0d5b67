"""`ge.models`: the model classes and `load_model`."""

from graphengine.training.model import Model, Sequential
from graphengine.training.saving import load_model

__all__ = ["Model", "Sequential", "load_model"]
