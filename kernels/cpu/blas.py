"""NumPy's BLAS, found by threadpoolctl: its controller (through which threads.py sets its
thread count) and, where it is OpenBLAS, its gemm, which Numba kernels call directly to run a
whole recurrent sequence without coming back to Python between steps (recurrent_sequences.py).

The gemm is handed to the kernels as an argument, a ctypes function (Numba's external function
pointer type), rather than read from a global: a kernel holding a global function pointer
cannot be cached, and the address is only known in the running process.
"""

import ctypes
import functools
from pathlib import Path

import numpy as np
from threadpoolctl import ThreadpoolController

# OpenBLAS's symbol names in NumPy's and SciPy's wheels (scipy_ prefix, 64_ suffix on the
# 64-bit-integer build), then plain builds
_NAMES = (("scipy_", "64_"), ("scipy_", ""), ("", "64_"), ("", ""))
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112


def _numpy_blas():
    """threadpoolctl's controller of the BLAS that NumPy loaded, or None: of the BLAS libraries
    in the process (SciPy or PyTorch may bring their own), the one in NumPy's own folders (its
    wheel's numpy.libs), else the first one loaded."""
    found = ThreadpoolController().select(user_api="blas").lib_controllers
    home = Path(np.__file__).resolve().parent
    folders = (home, home.with_name(home.name + ".libs"))
    ours = [c for c in found if any(Path(c.filepath).resolve().is_relative_to(f) for f in folders)]
    return (ours or found or [None])[0]


CONTROLLER = _numpy_blas()


@functools.cache
def _openblas():
    """(library, prefix, suffix) of NumPy's BLAS where it is OpenBLAS, or None."""
    if CONTROLLER is None or CONTROLLER.internal_api != "openblas":
        return None
    lib = ctypes.CDLL(CONTROLLER.filepath)
    for prefix, suffix in _NAMES:
        if hasattr(lib, f"{prefix}cblas_sgemm{suffix}"):
            return lib, prefix, suffix
    return None


def openblas_threads():
    """OpenBLAS's own (get, set) of its thread count, ctypes functions, where NumPy's BLAS is
    OpenBLAS on its own threads (pthreads, one pool for the process); else None."""
    found = _openblas()
    if found is None or getattr(CONTROLLER, "threading_layer", None) != "pthreads":
        return None
    lib, prefix, suffix = found
    get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
    put = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
    return None if get is None or put is None else (get, put)


def openblas_pthread():
    """OpenBLAS's gotoblas_pthread(count, routine, args, stride), a ctypes function, where
    openblas_threads is (OpenBLAS on its own pthreads pool); else None. It runs routine(args +
    i * stride) for i < count at once, the first on the calling thread and the others on the
    pool's idle workers (waiting for one to be free), and returns when all have."""
    found = _openblas() if openblas_threads() is not None else None
    fn = getattr(found[0], "gotoblas_pthread", None) if found is not None else None
    if fn is not None:
        fn.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        fn.restype = ctypes.c_int
    return fn


def _gemms():
    """{dtype: cblas_?gemm as a ctypes function} for float32 and float64, checked on a small
    product against NumPy's; {} without OpenBLAS."""
    found = _openblas()
    if found is None:
        return {}
    lib, prefix, suffix = found
    size = ctypes.c_int64 if "64" in suffix else ctypes.c_int
    gemms = {}
    for code, dtype, scalar in (
        ("s", np.float32, ctypes.c_float),
        ("d", np.float64, ctypes.c_double),
    ):
        fn = getattr(lib, f"{prefix}cblas_{code}gemm{suffix}", None)
        if fn is None:
            continue
        # order, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc (pointers as ints)
        ptr = ctypes.c_size_t
        proto = ctypes.CFUNCTYPE(
            None, ctypes.c_int, ctypes.c_int, ctypes.c_int, size, size, size,
            scalar, ptr, size, ptr, size, scalar, ptr, size,
        )  # fmt: skip
        gemm = proto(ctypes.cast(fn, ctypes.c_void_p).value)
        a = np.arange(6, dtype=dtype).reshape(2, 3)
        b = np.arange(12, dtype=dtype).reshape(3, 4)
        c = np.zeros((2, 4), dtype)
        gemm(ROW_MAJOR, NO_TRANS, NO_TRANS, 2, 4, 3, 1.0, a.ctypes.data, 3, b.ctypes.data, 4,
             0.0, c.ctypes.data, 4)  # fmt: skip
        if np.array_equal(c, a @ b):
            gemms[np.dtype(dtype)] = gemm
    return gemms


# OpenBLAS's AVX-512 cores run a product of at most 10^6 multiply-adds in a small-matrix kernel
# that packs nothing (its gemm_small_kernel_permit); a larger one first packs both operands.
# The recurrent steps' products are just above that (32 rows x 128 x 512 is 2.1M), so splitting
# their rows into 8-row calls pays: 60.5 -> 51.6 us for (32, 512) @ (512, 128), 59.6 -> 53.8 us
# for (32, 128) @ (128, 512) and 91 -> 71 us for (64, 512) @ (512, 128), measured on a SkylakeX
# core; 16-row calls, just over the limit, took 75 us instead of 60.
_SMALL_MATRIX_CORES = {"skylakex", "cooperlake", "sapphirerapids"}
_SMALL_MATRIX_LIMIT = 10**6


def small_matrix_limit():
    """The largest product (multiply-adds) that OpenBLAS runs without packing, 0 if none (the
    core OpenBLAS chose is threadpoolctl's `architecture`)."""
    if _openblas() is None:
        return 0
    core = (getattr(CONTROLLER, "architecture", None) or "").lower()
    return _SMALL_MATRIX_LIMIT if core in _SMALL_MATRIX_CORES else 0


GEMMS = _gemms()
SMALL_MATRIX = small_matrix_limit()
