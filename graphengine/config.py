"""Engine-wide settings: `ge.config.set_num_threads(n)`, one switch for every thread the CPU
kernels use (NumPy's BLAS, the recurrent layers' batch-row threads, Numba's pool; the policy is
kernels/cpu/threads.py's)."""

from __future__ import annotations

from typing import Any

import numpy as np

from kernels.cpu import threads


def set_num_threads(n: Any) -> None:
    """Runs the CPU kernels on `n` threads from now on: NumPy's BLAS products, the recurrent
    layers' batch rows, and Numba's pool if it is running (its setting is per calling thread).
    `n=1` is the single-thread mode for a machine that loses a core for a while (a thread that
    loses its core then holds up every join). The default is all the cores this process may use
    (or OPENBLAS_NUM_THREADS / OMP_NUM_THREADS where set)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive integer, got {n!r}")
    threads.set_num_threads(int(n))


def get_num_threads() -> int:
    """The number of threads the CPU kernels use (see set_num_threads)."""
    return threads.num_threads()
