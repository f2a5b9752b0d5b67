"""Matrix products: NumPy's matmul, which calls BLAS for the heavy lifting, and the fused Dense
forward, which runs tiny products as one Numba loop instead."""

import numpy as np
from numba import njit

from graphengine_kernels.cpu import threads
from graphengine_kernels.cpu.bias import CODES, bias_activation, bias_activation_row, bias_or_empty

__all__ = ["dense_forward", "matmul", "matmul_a_bt", "matmul_at_b"]

# Products of at most this many multiply-adds skip BLAS: one Numba call beats BLAS's call plus
# the separate bias/activation pass below it (measured: benchmarks/NOTES.md).
SMALL_DENSE = 8192
_ZERO = {np.dtype(np.float32): np.float32(0), np.dtype(np.float64): np.float64(0)}


def matmul(a, b, out):
    """out = a @ b with NumPy's batch broadcasting; a (..., M, K), b (..., K, N)."""
    np.matmul(a, b, out=out)


def matmul_a_bt(a, b, out):
    """out = a @ b.T for 2-D a (M, N), b (K, N), out (M, K): the input gradient of a Dense,
    reading the weight transposed in place (BLAS takes the strides, no copy)."""
    np.matmul(a, b.T, out=out)


# A weight gradient with a small output over many rows (a 1x1 convolution's: 32 x 64 summed over
# 32,768 cells) leaves BLAS's threads little to share, so its rows are cut into blocks of
# AT_B_BLOCK rows or more, each block's product on one thread, the blocks over OpenBLAS's threads
# (threads.blas_pool_rows), their products added in order: the same numbers on any thread count.
# (32768, 32)^T @ (32768, 64): 1.68 -> 0.95 ms; (2048, 128)^T @ (2048, 128): 0.41 -> 0.31 ms;
# at 128 x 512 outputs and up, or 288 x 64, BLAS alone was as fast (benchmarks/NOTES.md).
AT_B_BLOCK = 1024
AT_B_BLOCKS = 16  # at most, larger blocks beyond (a call costs ~5 us)
AT_B_OUTPUT = 128 * 128  # the largest output split so


def matmul_at_b(a, b, out):
    """out = a.T @ b for 2-D a (M, K), b (M, N), out (K, N): the weight gradient of a Dense."""
    rows = a.shape[0]
    if out.size > AT_B_OUTPUT or rows < 2 * AT_B_BLOCK:
        np.matmul(a.T, b, out=out)
        return
    size = max(AT_B_BLOCK, -(-rows // AT_B_BLOCKS))  # a function of the rows alone
    blocks = -(-rows // size)
    parts = np.empty((blocks,) + out.shape, out.dtype)

    def run(b0, b1):
        for i in range(b0, b1):
            rows_i = slice(i * size, (i + 1) * size)
            np.matmul(a[rows_i].T, b[rows_i], out=parts[i])

    threads.blas_pool_rows(blocks, rows * out.size, run)
    out[...] = parts[0]
    for part in parts[1:]:
        np.add(out, part, out=out)


@njit(cache=True, error_model="numpy")
def _dense_small(x, w, bias, act, zero, y):
    """y (M, N) = act(x (M, K) @ w (K, N) + bias) row by row: a tiny Dense in one call, the same
    bias/activation pass as bias_activation after each row's product (BLAS's rounding order)."""
    M, K = x.shape
    N = w.shape[1]
    for m in range(M):
        xm, ym = x[m], y[m]
        for n in range(N):
            ym[n] = zero
        for k in range(K):
            xv, wk = xm[k], w[k]
            for n in range(N):
                ym[n] += xv * wk[n]
        bias_activation_row(ym, bias, act)


def dense_forward(x, w, bias, activation, out):
    """out (M, N) = activation(x (M, K) @ w (K, N) + bias (N,)); bias None for none; activation
    one of bias_activation's. float32 or float64; tiny products of one dtype (the same dtype
    object: native byte order) take the single-loop path."""
    dtype = out.dtype
    if x.size * w.shape[1] <= SMALL_DENSE and x.dtype is dtype and w.dtype is dtype:
        # a plain int code: one kernel for every activation, as a Fused code's typing costs
        # 0.25 us a call, a sixth of a batch-1 Dense (benchmarks/NOTES.md)
        code = int(CODES[activation])
        _dense_small(x, w, bias_or_empty(bias, dtype), code, _ZERO[dtype], out)
        return
    np.matmul(x, w, out=out)
    bias_activation(out, bias, activation)
