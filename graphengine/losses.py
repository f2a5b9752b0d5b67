"""`ge.losses`, as keras.losses: loss classes, the functions they wrap, and `get`."""

from graphengine.training.losses import *  # noqa: F403
from graphengine.training.losses import __all__  # noqa: F401
