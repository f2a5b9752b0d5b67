"""An op that runs an arbitrary Python function on arrays: forward only, no gradient."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from graphengine.graph.tensor import Shape, format_shape
from graphengine.ops.base import Kernels, Op, RunContext, Spec


class PyFunc(Op):
    """out = fn(*inputs) computed by NumPy code; its shape comes from `output_shape` (without the
    batch axis) or, when absent, from running fn once on zeros of the input shapes."""

    name = "py_func"
    host_code = True

    def __init__(self, fn: Callable, output_shape: tuple | None, owner: str) -> None:
        self.fn = fn
        self.output_shape = output_shape
        self.owner = owner

    def attrs(self) -> dict[str, Any]:
        return {"fn": getattr(self.fn, "__name__", repr(self.fn))}

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        probe = [
            np.zeros([1 if d is None else d for d in s], dtype=t) for s, t in zip(shapes, dtypes)
        ]
        out = np.asarray(self.fn(*probe))
        if self.output_shape is not None:
            return [((shapes[0][0],) + tuple(self.output_shape), out.dtype.name)]
        # dims that follow the probe's 1s are the unknown (batch) dims
        unknown = {i for i, d in enumerate(shapes[0]) if d is None}
        shape = tuple(
            None if i in unknown and out.ndim == len(shapes[0]) and n == 1 else n
            for i, n in enumerate(out.shape)
        )
        return [(shape, out.dtype.name)]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        # NumPy code runs on the host: on a device, a copy out and back (the one round trip)
        result = np.asarray(self.fn(*[k.to_host(a) for a in ins]))
        if result.shape != outs[0].shape:
            raise ValueError(
                f"Lambda '{self.owner}': function returned shape "
                f"{format_shape(result.shape)}, expected {format_shape(outs[0].shape)}"
            )
        k.from_host(result, outs[0])
