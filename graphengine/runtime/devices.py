"""Devices: which kernel module runs the ops, and how arrays are made and moved.

`ge.device("cuda")` as a context manager selects the device used by compile and eager model calls.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from types import ModuleType
from typing import Any, Callable, Iterator

import numpy as np

DEVICES = ("cpu", "cuda")


class _SameThreads:
    """A plan's thread policy on a device whose host threads do not change: nothing to do."""

    def begin(self) -> None:
        pass

    def end(self) -> None:
        pass


class Device:
    """A device: its kernel module plus allocation and host transfers. The CPU is the host:
    its arrays are NumPy arrays and a Variable's buffer is its own `.value`."""

    resident = False  # whether weights live in device mirrors apart from the host copy

    def __init__(
        self, name: str, kernels: ModuleType, step_threads: Callable[[], Any] = _SameThreads
    ) -> None:
        self.name = name
        self.kernels = kernels
        # makes each plan's thread policy, whose begin() and end() frame every run of it: on
        # the CPU, the count that suits the cores other processes leave free (threads.py)
        self.step_threads = step_threads
        # bumped by every training-plan run: device mirrors of Variables synced at an older
        # version may be newer than their host copies (one counter, no per-weight work per step)
        self.version = 0

    def empty(self, shape: tuple, dtype: Any) -> Any:
        return np.empty(shape, dtype)

    def to_device(self, array: np.ndarray) -> Any:
        return array

    def to_host(self, array: Any) -> np.ndarray:
        return np.array(array)

    def copy_in(self, buffer: Any, value: np.ndarray) -> None:
        """Writes a host array into a device buffer of the same shape (casting the dtype)."""
        np.copyto(buffer, value, casting="unsafe")

    def full(self, shape: tuple, value: float, dtype: Any) -> Any:
        return np.full(shape, value, dtype)

    def take_rows(self, buffer: Any, array: np.ndarray, idx: np.ndarray) -> None:
        """buffer = array[idx] (rows of a host dataset, a batch's feed). `idx` comes from the
        trainer, always in range: mode="clip" writes straight into `buffer`, where the default
        mode buffers the whole batch first (an extra copy and allocation, 3x slower measured)."""
        np.take(array, idx, axis=0, out=buffer, mode="clip")

    def __repr__(self) -> str:
        return f"Device({self.name!r})"


class CudaDevice(Device):
    """An NVIDIA GPU through Numba (or Numba's simulator): buffers are device arrays that stay
    on the device for the plan's life; data crosses only in copy_in / to_host."""

    resident = True

    def __init__(self) -> None:
        from numba import cuda

        import graphengine_kernels.cuda

        super().__init__("cuda", graphengine_kernels.cuda)
        self._cuda = cuda

    def empty(self, shape: tuple, dtype: Any) -> Any:
        return self._cuda.device_array(tuple(shape), np.dtype(dtype))

    def to_device(self, array: np.ndarray) -> Any:
        return self._cuda.to_device(np.ascontiguousarray(array))

    def to_host(self, array: Any) -> np.ndarray:
        return array.copy_to_host() if hasattr(array, "copy_to_host") else np.array(array)

    def copy_in(self, buffer: Any, value: np.ndarray) -> None:
        if isinstance(buffer, np.ndarray):  # a feed kept on the host (strings)
            np.copyto(buffer, value, casting="unsafe")
            return
        value = np.ascontiguousarray(np.asarray(value), dtype=buffer.dtype)
        buffer.copy_to_device(value.reshape(buffer.shape))

    def full(self, shape: tuple, value: float, dtype: Any) -> Any:
        return self.to_device(np.full(shape, value, dtype))

    def take_rows(self, buffer: Any, array: np.ndarray, idx: np.ndarray) -> None:
        self.copy_in(buffer, np.take(array, idx, axis=0))


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
            import graphengine_kernels.cpu
            from graphengine_kernels.cpu import threads

            _cache[name] = Device("cpu", graphengine_kernels.cpu, threads.StepThreads)
    return _cache[name]


def _cuda_device() -> Device:
    if not _cuda_available():
        raise RuntimeError(
            "device='cuda' needs an NVIDIA GPU with a working driver and the numba-cuda package "
            "(pip install -e .[cuda]); without a GPU, set NUMBA_ENABLE_CUDASIM=1 to run the CUDA "
            "kernels in Numba's simulator"
        )
    return CudaDevice()


@contextmanager
def device(name: str) -> Iterator[Device]:
    """`with ge.device("cuda"):` builds and runs models on that device."""
    dev = get_device(name)
    _stack.append(dev.name)
    try:
        yield dev
    finally:
        _stack.pop()
