"""Devices: which kernel module runs the ops, and how arrays are made and moved.

`ge.device("cuda")` as a context manager selects the device used by compile and eager model calls.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from types import ModuleType
from typing import Any, Iterator

import numpy as np

DEVICES = ("cpu", "cuda")


class Device:
    """A device: its kernel module plus allocation and host transfers."""

    def __init__(self, name: str, kernels: ModuleType) -> None:
        self.name = name
        self.kernels = kernels

    def empty(self, shape: tuple, dtype: Any) -> Any:
        return np.empty(shape, dtype)

    def to_device(self, array: np.ndarray) -> Any:
        return array

    def to_host(self, array: Any) -> np.ndarray:
        return np.array(array)

    def copy_in(self, buffer: Any, value: np.ndarray) -> None:
        """Writes a host array into a device buffer of the same shape (casting the dtype)."""
        np.copyto(buffer, value, casting="unsafe")

    def __repr__(self) -> str:
        return f"Device({self.name!r})"


_stack: list[str] = []
_cache: dict[str, Device] = {}


def _cuda_available() -> bool:
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return True
    try:
        from numba import cuda
    except ImportError:
        return False
    return bool(cuda.is_available())


def get_device(name: str | None = None) -> Device:
    """The named device, or the one selected by the innermost `ge.device(...)` (default cpu)."""
    name = (name or (_stack[-1] if _stack else "cpu")).lower()
    if name not in DEVICES:
        raise ValueError(f"Unknown device {name!r}; valid devices: {', '.join(DEVICES)}")
    if name not in _cache:
        if name == "cuda":
            _cache[name] = _cuda_device()
        else:
            import kernels.cpu

            _cache[name] = Device("cpu", kernels.cpu)
    return _cache[name]


def _cuda_device() -> Device:
    if not _cuda_available():
        raise RuntimeError(
            "device='cuda' needs an NVIDIA GPU with a working driver and the numba-cuda package "
            "(pip install -e .[cuda]); without a GPU, set NUMBA_ENABLE_CUDASIM=1 to run the CUDA "
            "kernels in Numba's simulator"
        )
    raise RuntimeError(
        "device='cuda': this build has no CUDA kernel module (kernels.cuda) yet; use device='cpu'"
    )


@contextmanager
def device(name: str) -> Iterator[Device]:
    """`with ge.device("cuda"):` builds and runs models on that device."""
    dev = get_device(name)
    _stack.append(dev.name)
    try:
        yield dev
    finally:
        _stack.pop()
