"""Primitive ops (shape inference and kernels) and the public `ge.ops` functions."""

from graphengine.ops.api import *  # noqa: F403
from graphengine.ops.api import __all__  # noqa: F401
