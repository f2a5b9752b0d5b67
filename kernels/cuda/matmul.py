"""Matrix products: a tiled shared-memory GEMM (TILE x TILE blocks, each thread one output
element, grid-stride over output tiles), with either operand read transposed. It serves Dense,
the im2col convolutions and every recurrent step."""

import numpy as np
from numba import cuda, float32, float64

from graphengine_kernels.cuda.bias import bias_activation
from graphengine_kernels.cuda.launch import TILE, tiles

__all__ = ["dense_forward", "matmul", "matmul_a_bt", "matmul_at_b"]


def _make_gemm(dtype):
    @cuda.jit
    def gemm_kernel(a, b, ta, tb, out):
        """out (M, N) = op(a) @ op(b), op a transpose where ta / tb; operands of any strides."""
        sa = cuda.shared.array((TILE, TILE), dtype)
        sb = cuda.shared.array((TILE, TILE), dtype)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        M, N = out.shape
        K = a.shape[0] if ta else a.shape[1]
        for bi in range(cuda.blockIdx.y, (M + TILE - 1) // TILE, cuda.gridDim.y):
            for bj in range(cuda.blockIdx.x, (N + TILE - 1) // TILE, cuda.gridDim.x):
                row, col = bi * TILE + ty, bj * TILE + tx
                acc = dtype(0)  # sums in the operands' precision, as BLAS: 0.0 would be float64
                for k0 in range(0, K, TILE):
                    ka, kb = k0 + tx, k0 + ty
                    if row < M and ka < K:
                        sa[ty, tx] = a[ka, row] if ta else a[row, ka]
                    else:
                        sa[ty, tx] = 0
                    if kb < K and col < N:
                        sb[ty, tx] = b[col, kb] if tb else b[kb, col]
                    else:
                        sb[ty, tx] = 0
                    cuda.syncthreads()
                    for kk in range(TILE):
                        acc += sa[ty, kk] * sb[kk, tx]
                    cuda.syncthreads()
                if row < M and col < N:
                    out[row, col] = acc

    return gemm_kernel


_GEMM = {np.dtype(np.float32): _make_gemm(float32), np.dtype(np.float64): _make_gemm(float64)}


def gemm(a, b, out, ta=False, tb=False):
    """out (M, N) = op(a) @ op(b) for 2-D device arrays (any strides: slices of buffers)."""
    both32 = a.dtype == np.float32 and b.dtype == np.float32
    kernel = _GEMM[np.dtype(np.float32 if both32 else np.float64)]
    tiles(kernel, out.shape[0], out.shape[1])(a, b, ta, tb, out)


def matmul(a, b, out):
    """out = a @ b with NumPy's batch broadcasting; a (..., M, K), b (..., K, N)."""
    if a.ndim == 2 and b.ndim == 2:
        gemm(a, b, out)
        return
    batch = out.shape[:-2]
    pa = (1,) * (len(batch) - (a.ndim - 2)) + tuple(a.shape[:-2])
    pb = (1,) * (len(batch) - (b.ndim - 2)) + tuple(b.shape[:-2])
    a3 = a.reshape((int(np.prod(a.shape[:-2], dtype=np.int64)),) + tuple(a.shape[-2:]))
    b3 = b.reshape((int(np.prod(b.shape[:-2], dtype=np.int64)),) + tuple(b.shape[-2:]))
    o3 = out.reshape((int(np.prod(batch, dtype=np.int64)),) + tuple(out.shape[-2:]))
    for i, idx in enumerate(np.ndindex(*batch)):
        ia = int(np.ravel_multi_index([j if n > 1 else 0 for j, n in zip(idx, pa)], pa))
        ib = int(np.ravel_multi_index([j if n > 1 else 0 for j, n in zip(idx, pb)], pb))
        gemm(a3[ia], b3[ib], o3[i])


def matmul_a_bt(a, b, out):
    """out = a @ b.T for 2-D a (M, N), b (K, N), out (M, K): the input gradient of a Dense."""
    gemm(a, b, out, tb=True)


def matmul_at_b(a, b, out):
    """out = a.T @ b for 2-D a (M, K), b (M, N), out (K, N): the weight gradient of a Dense."""
    gemm(a, b, out, ta=True)


def dense_forward(x, w, bias, activation, out):
    """out (M, N) = activation(x (M, K) @ w (K, N) + bias (N,)); bias None for none: the GEMM,
    then the fused bias/activation pass."""
    gemm(x, w, out)
    bias_activation(out, bias, activation)
