"""Matrix products: NumPy's matmul, which calls BLAS for the heavy lifting."""

import numpy as np


def matmul(a, b, out):
    """out = a @ b with NumPy's batch broadcasting; a (..., M, K), b (..., K, N)."""
    np.matmul(a, b, out=out)


def matmul_at_b(a, b, out):
    """out = a.T @ b for 2-D a (M, K), b (M, N), out (K, N): the weight gradient of a Dense."""
    np.matmul(a.T, b, out=out)
