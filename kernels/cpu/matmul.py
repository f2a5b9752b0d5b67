"""Matrix products: NumPy's matmul, which calls BLAS for the heavy lifting."""

import numpy as np


def matmul(a, b, out):
    """out = a @ b with NumPy's batch broadcasting; a (..., M, K), b (..., K, N)."""
    np.matmul(a, b, out=out)


def matmul_a_bt(a, b, out):
    """out = a @ b.T for 2-D a (M, N), b (K, N), out (M, K): the input gradient of a Dense,
    reading the weight transposed in place (BLAS takes the strides, no copy)."""
    np.matmul(a, b.T, out=out)


def matmul_at_b(a, b, out):
    """out = a.T @ b for 2-D a (M, K), b (M, N), out (K, N): the weight gradient of a Dense."""
    np.matmul(a.T, b, out=out)
