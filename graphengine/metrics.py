"""`ge.metrics`, as keras.metrics: the Metric base class, the metric classes, the per-sample
metric functions, and `get`."""

from graphengine.training.metrics import *  # noqa: F403
from graphengine.training.metrics import __all__  # noqa: F401
