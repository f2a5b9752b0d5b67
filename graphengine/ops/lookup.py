"""The preprocessing layers' ops: `HostLookup`, NumPy code of a layer (vocabulary lookups, text
splitting) run on the host over string or integer arrays, and `CategoryEncode`, integer ids to
one-hot / multi-hot / count rows on the device, which raises on ids out of range."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from graphengine.graph.tensor import Shape, format_shape
from graphengine.ops.base import Kernels, Op, RunContext, Spec


class HostLookup(Op):
    """out = fn(x) computed by the owning layer's NumPy code on the host (on a device: one copy
    out and back); `shape_fn` gives the output shape for an input shape, `dtype` its dtype.
    No gradient: its inputs are strings or ids."""

    name = "host_lookup"
    host_code = True  # fn is a layer's method: a saved graph never names this op

    def __init__(
        self, fn: Callable[[np.ndarray], np.ndarray], shape_fn: Callable, dtype: str, owner: str
    ) -> None:
        self.fn, self.shape_fn, self.dtype, self.owner = fn, shape_fn, dtype, owner

    def attrs(self) -> dict[str, Any]:
        return {"owner": self.owner, "dtype": self.dtype}

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(tuple(self.shape_fn(tuple(shapes[0]))), self.dtype)]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x = ins[0] if isinstance(ins[0], np.ndarray) else k.to_host(ins[0])  # strings: the host
        result = np.asarray(self.fn(x), dtype=self.dtype)
        if result.shape != tuple(outs[0].shape):
            raise ValueError(
                f"Layer '{self.owner}': produced shape {format_shape(result.shape)}, but the "
                f"graph was built for {format_shape(tuple(outs[0].shape))}"
            )
        k.from_host(np.ascontiguousarray(result), outs[0])


class CategoryEncode(Op):
    """out[r, t] = 1 (`binary`) or the count of ids[r, :] == t, weighted by an optional second
    input of ids' shape; ids int (R, L), out (R, num_tokens). A second output holds each row's
    number of ids outside [0, num_tokens) (`strict`: negatives counted too; otherwise a
    negative id is a masked token, skipped), and any makes the run raise ValueError."""

    name = "category_encode"

    def __init__(
        self, num_tokens: int, binary: bool, strict: bool, dtype: str, owner: str = ""
    ) -> None:
        self.num_tokens, self.binary, self.strict = num_tokens, binary, strict
        self.dtype, self.owner = dtype, owner

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        if np.dtype(dtypes[0]).kind not in "iu":
            raise TypeError(f"category_encode: ids must be integers, got dtype {dtypes[0]}")
        if len(shapes[0]) != 2 or (len(shapes) > 1 and tuple(shapes[1]) != tuple(shapes[0])):
            raise ValueError(
                "category_encode: ids must be 2-D with weights of their shape, got "
                + " and ".join(format_shape(s) for s in shapes)
            )
        rows = shapes[0][0]
        dtype = dtypes[1] if len(dtypes) > 1 else self.dtype
        return [((rows, self.num_tokens), dtype), ((rows,), "int64")]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        out, bad = outs
        weights = ins[1] if len(ins) > 1 else np.empty((0, 0), out.dtype)
        k.category_encode(ins[0], weights, out, bad, self.binary, self.strict)
        if k.to_host(bad).any():
            self._raise(k.to_host(ins[0]))

    def _raise(self, ids: np.ndarray) -> None:
        T = self.num_tokens
        wrong = (ids >= T) | (ids < 0) if self.strict else ids >= T
        raise ValueError(
            f"Layer '{self.owner}': input ids must lie in [0, num_tokens={T}), but "
            f"{int(wrong.sum())} do not (e.g. {ids[wrong][0]})"
        )
