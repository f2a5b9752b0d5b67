"""Host threads of the CPU kernels, one count for all of them: NumPy's OpenBLAS threads (set
through ctypes on the loaded library), the batch-row ranges of the recurrent kernels
(recurrent.rnn_row_bounds reads `num_threads()` at each call; their parallel=True loops set
Numba's pool to as many threads for the call), and Numba's pool for a user's own
@njit(parallel=True) kernels (conv and pooling run on the calling thread, see conv.py).

The default is the thread count NumPy's OpenBLAS started with: all the cores this process may
use, unless OPENBLAS_NUM_THREADS / OMP_NUM_THREADS said otherwise.
"""

import os

from kernels.cpu.blas import openblas


def find_blas_threads():
    """(get, set) for the number of threads of the OpenBLAS that NumPy loaded, or None."""
    found = openblas()
    if found is None:
        return None
    lib, prefix, suffix = found
    get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}")
    put = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
    return None if put is None else (get, put)


def _cores():
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


BLAS_THREADS = find_blas_threads()
_DEFAULT = (BLAS_THREADS[0]() if BLAS_THREADS is not None else 0) or _cores()
_count = _DEFAULT


def num_threads():
    """The configured number of threads (see set_num_threads)."""
    return _count


def set_num_threads(n):
    """Every thread count of the CPU kernels = n (a positive int, checked by the caller):
    OpenBLAS's, the recurrent row threads', and Numba's pool's (capped at NUMBA_NUM_THREADS,
    for the calling thread, as Numba's setting is per thread) if that pool is running; it is
    not started here (starting it costs ~30 ms and idle OpenMP workers)."""
    global _count
    _count = n
    if BLAS_THREADS is not None:
        BLAS_THREADS[1](n)
    import numba
    from numba.np.ufunc import parallel

    if parallel._is_initialized:
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
