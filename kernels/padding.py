"""Where each element of a padded array comes from: one index map per axis, shared by the CPU and
CUDA pad kernels (kernels/cpu/shape.py, kernels/cuda/shape.py). NumPy's np.pad semantics."""

import numpy as np

MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def source_indices(n, before, after, mode):
    """int64 array of length before + n + after: the input index each output position along an
    axis of size n reads, or -1 for a constant. Pads wider than the axis repeat the pattern, as
    np.pad does: reflect has period 2(n - 1) (the edge not repeated), symmetric 2n (repeated),
    wrap n."""
    i = np.arange(-before, n + after, dtype=np.int64)
    if mode == "constant":
        return np.where((i >= 0) & (i < n), i, -1)
    if mode == "edge":
        return np.clip(i, 0, n - 1)
    if mode == "wrap":
        return i % n
    if mode == "reflect":
        if n == 1:
            return np.zeros_like(i)
        m = i % (2 * (n - 1))
        return np.where(m < n, m, 2 * (n - 1) - m)
    m = i % (2 * n)  # symmetric
    return np.where(m < n, m, 2 * n - 1 - m)
