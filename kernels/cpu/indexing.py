"""Gather (embedding lookup) and its scatter-add backward."""

import numpy as np
from numba import njit


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


def take_forward(x, indices, out):
    """out[a, m, b] = x[a, indices[m], b]; x (A, V, B), indices int (M,), out (A, M, B); a
    negative index counts from the end (as NumPy). Raises ValueError naming the first index
    outside [-V, V)."""
    V = x.shape[1]
    if indices.size and (indices.min() < -V or indices.max() >= V):
        bad = indices[(indices < -V) | (indices >= V)][0]
        raise ValueError(f"take: index {bad} is out of range [-{V}, {V}) for an axis of size {V}")
    np.take(x, indices, axis=1, out=out)


@njit(cache=True)
def _take_scatter_add(indices, dy, dx):
    dx[:] = 0.0
    V = dx.shape[1]
    for a in range(dy.shape[0]):
        for m in range(indices.size):
            v = indices[m]
            if v < 0:
                v += V
            for b in range(dy.shape[2]):
                dx[a, v, b] += dy[a, m, b]


def take_backward(indices, dy, dx):
    """dx = 0, then dx[a, indices[m], b] += dy[a, m, b] (repeated indices add up); indices int
    (M,) in [-V, V), dy (A, M, B), dx (A, V, B)."""
    _take_scatter_add(indices, dy, dx)
