"""Engine-wide settings: `ge.config.set_num_threads(n)`, one switch for every thread the CPU
kernels use (NumPy's BLAS and the row kernels that share its threads, the recurrent layers'
batch-row threads, Numba's pool; the policy is kernels/cpu/threads.py's), and
`ge.config.set_compile_notice(enabled)`, the line printed while kernels compile
(graphengine/compile_notice.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphengine import compile_notice
from graphengine_kernels.cpu import threads

compile_notice.install()


def set_num_threads(n: Any) -> None:
    """Runs the CPU kernels on `n` threads from now on: NumPy's BLAS products and the kernels
    whose rows run on BLAS's threads (attention, normalization, convolution and pooling passes),
    the recurrent layers' batch rows, and Numba's pool if it is running (its setting is per
    calling thread).
    `n=None` is the default: all the cores this process may use (or OPENBLAS_NUM_THREADS /
    OMP_NUM_THREADS where set), one fewer at the start of a step for each core that other
    processes keep busy (a thread that loses its core holds up every join). A number fixes the
    count; `n=1` is the single-thread mode."""
    if n is not None and (
        isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1
    ):
        raise ValueError(f"set_num_threads: n must be a positive integer or None, got {n!r}")
    threads.set_num_threads(None if n is None else int(n))


def get_num_threads() -> int:
    """The number of threads the CPU kernels use now (see set_num_threads)."""
    return threads.num_threads()


def set_compile_notice(enabled: bool) -> None:
    """Whether graphengine prints one line (on stderr, once a process) when compiling kernels
    takes more than a second: what compiles, and that it is cached on disk for next time. On
    by default."""
    if not isinstance(enabled, (bool, np.bool_)):
        raise ValueError(f"set_compile_notice: enabled must be True or False, got {enabled!r}")
    compile_notice.set_enabled(bool(enabled))


def get_compile_notice() -> bool:
    """Whether the compile notice is on (see set_compile_notice)."""
    return compile_notice.enabled()
