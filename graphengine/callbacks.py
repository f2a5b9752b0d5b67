"""`ge.callbacks`, as keras.callbacks: the hooks fit, evaluate and predict call, and the
built-in callbacks (they live in graphengine.training.callbacks, which lists them)."""

from graphengine.training.callbacks import *  # noqa: F403
from graphengine.training.callbacks import __all__  # noqa: F401
