"""Buffer reuse by liveness, planned before anything is allocated: a tensor takes a block of the
pool, gives it back when it dies, and a later tensor of the same dtype takes the smallest free
block that fits it, or else the largest free block, grown to fit. Blocks are allocated once the
plan is scheduled, each at the largest size any of its tensors needs, so the plan's memory stays
near its largest live set."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from graphengine.runtime.devices import Device


class Planned:
    """A buffer before allocation: the first elements of pool block `block` in `shape`, or a
    reshape of another planned buffer (`source`), as a view op makes."""

    __slots__ = ("block", "shape", "source")

    def __init__(self, block: int, shape: tuple, source: Planned | None = None) -> None:
        self.block, self.shape, self.source = block, tuple(shape), source

    def reshape(self, shape: tuple) -> Planned:
        return Planned(self.block, shape, self)


class BufferPool:
    """Blocks per dtype. `take` plans a buffer in a free block (best fit, else the largest one
    grown) or a new block; `give` frees its block; `allocate` makes every block, after which
    `resolve` turns each planned buffer into its array (a C-contiguous view of its block's first
    elements). `allocated_bytes` is then the memory of all blocks, the plan's footprint, and
    `live_peak_bytes` the largest live set while scheduling: the least any reuse could reach."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.sizes: list[int] = []  # elements per block, growing while the plan is scheduled
        self.dtypes: list[str] = []
        self.free: dict[str, list[int]] = defaultdict(list)  # dtype -> free block indices
        self.blocks: list[Any] = []
        self._arrays: dict[int, Any] = {}  # id(planned) -> its array
        self.allocated_bytes = 0
        self.live_bytes = self.live_peak_bytes = 0

    def take(self, shape: tuple, dtype: str) -> Planned:
        size, dtype = int(np.prod(shape, dtype=np.int64)), np.dtype(dtype).name
        free = self.free[dtype]
        if free:
            fits = [b for b in free if self.sizes[b] >= size]
            block = (
                min(fits, key=self.sizes.__getitem__)
                if fits
                else max(free, key=self.sizes.__getitem__)
            )
            free.remove(block)
            self.sizes[block] = max(self.sizes[block], size)
        else:
            block = len(self.sizes)
            self.sizes.append(size)
            self.dtypes.append(dtype)
        self.live_bytes += size * np.dtype(dtype).itemsize
        self.live_peak_bytes = max(self.live_peak_bytes, self.live_bytes)
        return Planned(block, shape)

    def give(self, buffer: Planned) -> None:
        dtype = self.dtypes[buffer.block]
        self.live_bytes -= int(np.prod(buffer.shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        self.free[dtype].append(buffer.block)

    def allocate(self) -> None:
        self.blocks = [self.device.empty((n,), d) for n, d in zip(self.sizes, self.dtypes)]
        self.allocated_bytes = sum(
            n * np.dtype(d).itemsize for n, d in zip(self.sizes, self.dtypes)
        )

    def resolve(self, buffer: Any) -> Any:
        """The array of a planned buffer (the same array object every time); anything else
        (a weight's array, None) as it is."""
        if not isinstance(buffer, Planned):
            return buffer
        array = self._arrays.get(id(buffer))
        if array is None:
            if buffer.source is not None:
                array = self.resolve(buffer.source).reshape(buffer.shape)
            else:
                size = int(np.prod(buffer.shape, dtype=np.int64))
                array = self.blocks[buffer.block][:size].reshape(buffer.shape)
            self._arrays[id(buffer)] = array
        return array
