"""Primitive ops (shape inference and kernels) and the public `ge.ops` functions: api.py (the
core), logic.py (predicates) and arrays.py (making, converting and measuring tensors)."""

from graphengine.ops import api as _api
from graphengine.ops import arrays as _arrays
from graphengine.ops import logic as _logic
from graphengine.ops.api import *  # noqa: F403
from graphengine.ops.arrays import *  # noqa: F403
from graphengine.ops.logic import *  # noqa: F403

__all__ = _api.__all__ + _logic.__all__ + _arrays.__all__
