"""Gather (embedding lookup) and its scatter-add backward; take along an axis, whose axis-0 form
(a graph network's rows gathered by edge) copies rows in ranges on OpenBLAS's threads when large
(threads.blas_pool_rows), and whose gradient adds rows back in order on one thread
(deterministic)."""

import numpy as np
from numba import njit

from graphengine_kernels.cpu import threads
from graphengine_kernels.cpu.segment import scatter_add_rows as _scatter_add_rows


def gather_forward(table, ids, out):
    """out[..., :] = table[ids[...], :]; table (V, D), ids int (any shape), out ids.shape + (D,).
    Raises ValueError naming the first id outside [0, V)."""
    if ids.size and (ids.min() < 0 or ids.max() >= table.shape[0]):
        bad = ids[(ids < 0) | (ids >= table.shape[0])].flat[0]
        raise ValueError(f"gather: index {bad} is out of range [0, {table.shape[0]})")
    np.take(table, ids, axis=0, out=out)


@njit(cache=True)
def _scatter_add(ids, dy, dtable):
    dtable[:] = 0.0
    for i in range(ids.size):
        row = ids[i]
        for d in range(dy.shape[1]):
            dtable[row, d] += dy[i, d]


def gather_backward(ids, dy, dtable):
    """dtable = 0, then dtable[ids[i]] += dy[i]; ids (M,) flattened, dy (M, D), dtable (V, D)."""
    _scatter_add(ids.reshape(-1), dy.reshape(ids.size, dtable.shape[1]), dtable)


@njit(cache=True)
def _one_hot(ids, out):
    out[:] = 0.0
    depth = out.shape[1]
    for i in range(ids.size):
        if 0 <= ids[i] < depth:
            out[i, ids[i]] = 1.0


def one_hot(ids, out):
    """out[..., c] = 1.0 where ids[...] == c else 0.0; ids int (any shape), out ids.shape + (C,).
    Ids outside [0, C) give an all-zero row."""
    _one_hot(ids.reshape(-1), out.reshape(ids.size, out.shape[-1]))


@njit(cache=True, nogil=True)
def _gather_rows(x, indices, out, lo, hi):
    V = x.shape[0]
    for m in range(lo, hi):
        v = indices[m]
        if v < 0:
            v += V
        for b in range(x.shape[1]):
            out[m, b] = x[v, b]


def _take_rows(x, indices, out):
    """out[m] = x[indices[m]] for x (V, B), out (M, B). Right after a product, float32 rows
    gathered: (110_000, 16) 0.76 -> 0.48 ms and (100_000, 64) 2.25 -> 1.22 ms on the pool;
    (10_556, 16) 0.07 ms here against 0.12 there (Numba's pool, used before: 0.41, 1.41 and
    3.01 ms, its threads fighting BLAS's spinning worker)."""
    threads.blas_pool_rows(
        out.shape[0],
        out.size * threads.LIGHT_ELEMENT_WORK,
        lambda lo, hi: _gather_rows(x, indices, out, lo, hi),
        min_rows=64,
    )


def take_forward(x, indices, out):
    """out[a, m, b] = x[a, indices[m], b]; x (A, V, B), indices int (M,), out (A, M, B); a
    negative index counts from the end (as NumPy). Raises ValueError naming the first index
    outside [-V, V)."""
    V = x.shape[1]
    if indices.size and (indices.min() < -V or indices.max() >= V):
        bad = indices[(indices < -V) | (indices >= V)][0]
        raise ValueError(f"take: index {bad} is out of range [-{V}, {V}) for an axis of size {V}")
    if x.shape[0] == 1 and x.dtype.kind in "biuf":
        _take_rows(x[0], indices, out[0])
    else:  # "wrap" (the range is checked) writes out directly; "raise" buffers a copy
        np.take(x, indices, axis=1, out=out, mode="wrap")


@njit(cache=True)
def _take_scatter_add(indices, dy, dx):
    V = dx.shape[1]
    for a in range(dy.shape[0]):
        for m in range(indices.size):
            v = indices[m]
            if v < 0:
                v += V
            for b in range(dy.shape[2]):
                dx[a, v, b] += dy[a, m, b]


def take_backward(indices, dy, dx):
    """dx = 0, then dx[a, indices[m], b] += dy[a, m, b] (repeated indices add up, in order);
    indices int (M,) in [-V, V), dy (A, M, B), dx (A, V, B)."""
    dx[:] = 0
    if dx.shape[0] == 1:
        _scatter_add_rows(indices, dy[0], dx[0])
    else:
        _take_scatter_add(indices, dy, dx)
