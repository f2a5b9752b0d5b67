"""This machine's fp32 peak, measured: a Numba loop of independent FMAs on every core, and NumPy's
sgemm on a 1024^3 product (its BLAS at 2 threads), for benchmarks/scale.py's GFLOP/s columns.

Numba's LLVM prefers 256-bit vectors on AVX-512 cores, which halves the FMA rate there, so the
loop is compiled in a child process told `-prefer-256-bit` (the graphengine kernels' cache, keyed
by the CPU features, is never touched): `python -m benchmarks.peak` prints the child's numbers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
from numba import njit

ROUNDS, SIZE = 20000, 1024


@njit(nogil=True, fastmath={"contract"})
def _fma_loop(a: np.ndarray, rounds: int) -> None:
    """Four independent chains of 8 FMAs per vector: FMA-throughput bound, in L1."""
    b, c = np.float32(0.999999), np.float32(1e-7)
    q = a.size // 4
    for _ in range(rounds):
        for j in range(q):
            x, y, z, w = a[j], a[j + q], a[j + 2 * q], a[j + 3 * q]
            for _k in range(8):
                x = x * b + c
                y = y * b + c
                z = z * b + c
                w = w * b + c
            a[j], a[j + q], a[j + 2 * q], a[j + 3 * q] = x, y, z, w


def fma_gflops(threads: int) -> float:
    """GFLOP/s of the FMA loop on `threads` Python threads (nogil), best of 3."""
    arrays = [np.ones(SIZE, np.float32) for _ in range(threads)]
    _fma_loop(arrays[0], 1)
    best = 0.0
    for _ in range(3):
        workers = [threading.Thread(target=_fma_loop, args=(a, ROUNDS)) for a in arrays]
        t = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        best = max(best, threads * ROUNDS * SIZE * 16 / (time.perf_counter() - t) / 1e9)
    return best


def gemm_gflops(n: int = 1024, threads: int = 2) -> float:
    """GFLOP/s of NumPy's sgemm on n^3 at `threads` BLAS threads, best of 5."""
    from threadpoolctl import threadpool_limits

    a, b = np.ones((n, n), np.float32), np.ones((n, n), np.float32)
    out = np.empty((n, n), np.float32)
    with threadpool_limits(threads, user_api="blas"):
        np.matmul(a, b, out=out)
        times = []
        for _ in range(5):
            t = time.perf_counter()
            np.matmul(a, b, out=out)
            times.append(time.perf_counter() - t)
    return 2 * n**3 / min(times) / 1e9


def measure() -> dict[str, float]:
    """{"fma1", "fma2": the FMA loop on 1 and 2 threads, "gemm": NumPy's 1024^3 sgemm}."""
    import llvmlite.binding as ll

    env = dict(
        os.environ,
        NUMBA_CPU_NAME=ll.get_host_cpu_name(),
        NUMBA_CPU_FEATURES=ll.get_host_cpu_features().flatten() + ",-prefer-256-bit",
    )
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.peak"],
        cwd=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."),
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "gemm": gemm_gflops()}


if __name__ == "__main__":
    print(json.dumps({"fma1": fma_gflops(1), "fma2": fma_gflops(2)}))
