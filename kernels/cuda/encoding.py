"""Category encoding on CUDA: one thread per row, so a row's counts need no atomics."""

from numba import cuda

from graphengine_kernels.cuda.launch import device, elementwise

__all__ = ["category_encode"]


@cuda.jit(cache=True)
def category_encode_kernel(ids, weights, out, bad, binary, strict):
    T = out.shape[1]
    weighted = weights.shape[0] > 0
    for r in range(cuda.grid(1), ids.shape[0], cuda.gridsize(1)):
        for t in range(T):
            out[r, t] = 0
        n_bad = 0
        for j in range(ids.shape[1]):
            v = ids[r, j]
            if 0 <= v < T:
                if binary:
                    out[r, v] = 1
                elif weighted:
                    out[r, v] += weights[r, j]
                else:
                    out[r, v] += 1
            elif strict or v >= T:
                n_bad += 1
        bad[r] = n_bad


def category_encode(ids, weights, out, bad, binary, strict):
    """out[r, t] = 1 (binary) or the (weighted) count of ids[r, :] == t; see
    graphengine_kernels.cpu."""
    elementwise(category_encode_kernel, ids.shape[0])(
        ids, device(weights), out, bad, binary, strict
    )
