"""NumPy's OpenBLAS, reached through ctypes: the library (for its thread count, threads.py) and
its gemm, which Numba kernels call directly to run a whole recurrent sequence without coming
back to Python between steps (recurrent_sequences.py).

The gemm is handed to the kernels as an argument, a ctypes function (Numba's external function
pointer type), rather than read from a global: a kernel holding a global function pointer
cannot be cached, and the address is only known in the running process.
"""

import ctypes
import functools

import numpy as np

# OpenBLAS's symbol names in NumPy's and SciPy's wheels (scipy_ prefix, 64_ suffix on the
# 64-bit-integer build), then plain builds
_NAMES = (("scipy_", "64_"), ("scipy_", ""), ("", "64_"), ("", ""))
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112


@functools.cache
def openblas():
    """(library, prefix, suffix) of the OpenBLAS that NumPy loaded, or None."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return None
    for path in sorted(p for p in paths if ".so" in p):
        lib = ctypes.CDLL(path)
        for prefix, suffix in _NAMES:
            if hasattr(lib, f"{prefix}openblas_get_num_threads{suffix}"):
                return lib, prefix, suffix
    return None


def _gemms():
    """{dtype: cblas_?gemm as a ctypes function} for float32 and float64, checked on a small
    product against NumPy's; {} without OpenBLAS."""
    found = openblas()
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
    """The largest product (multiply-adds) that OpenBLAS runs without packing, 0 if none."""
    found = openblas()
    if found is None:
        return 0
    lib, prefix, suffix = found
    corename = getattr(lib, f"{prefix}openblas_get_corename{suffix}", None)
    if corename is None:
        return 0
    corename.restype = ctypes.c_char_p
    name = (corename() or b"").decode(errors="replace").lower()
    return _SMALL_MATRIX_LIMIT if name in _SMALL_MATRIX_CORES else 0


GEMMS = _gemms()
SMALL_MATRIX = small_matrix_limit()
