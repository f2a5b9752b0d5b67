"""Buffer reuse by liveness: a buffer whose tensor is dead goes back to a pool, and the next
tensor of the same dtype and size takes it instead of a fresh allocation."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from graphengine.runtime.devices import Device


class BufferPool:
    """Free buffers keyed by (dtype, element count); `take` reshapes a free one or allocates."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.free: dict[tuple[str, int], list[Any]] = defaultdict(list)
        self.allocated_bytes = 0

    def take(self, shape: tuple, dtype: str) -> Any:
        size = int(np.prod(shape, dtype=np.int64))
        free = self.free[(dtype, size)]
        if free:
            return free.pop().reshape(shape)
        self.allocated_bytes += size * np.dtype(dtype).itemsize
        return self.device.empty(shape, dtype)

    def give(self, buffer: Any) -> None:
        self.free[(buffer.dtype.name, buffer.size)].append(buffer)
