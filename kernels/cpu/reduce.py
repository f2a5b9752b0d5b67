"""Reductions, softmax and their backward kernels.

Axis-generic kernels take a C-contiguous array viewed as (outer, n, inner), reducing over the
middle axis; callers make that view (a reshape, never a copy).
"""

import math

import numpy as np
from numba import njit

from graphengine_kernels.cpu import threads


@njit(cache=True, nogil=True)
def _sum_middle(x, scale, out, o0, o1):
    """out[o, :] = scale * sum over i of x[o, i, :] for x (outer, n, inner), o in o0..o1, rows
    added in float64 (a float32 sum over many rows keeps its accuracy), each row's add
    vectorized over inner."""
    a, n, b = x.shape
    acc = np.empty(b, np.float64)
    for o in range(o0, o1):
        for j in range(b):
            acc[j] = 0.0
        for i in range(n):
            row = x[o, i]
            for j in range(b):
                acc[j] += row[j]
        for j in range(b):
            out[o, j] = acc[j] * scale


def _middle_view(x, axes):
    """x as (outer, n, inner) reducing the middle axis when `axes` are consecutive and leave
    8 to 1024 elements after them (a vector's worth for the row adds, and float64 sums that
    stay in L1); None otherwise: NumPy reduces those (a last-axis sum is its pairwise loop,
    and it adds long rows straight into out faster). A global average pooling's mean of
    (32, 32, 32, 64) float32: 0.83 -> 0.35 ms."""
    if x.dtype.kind != "f" or not axes or axes[-1] - axes[0] != len(axes) - 1:
        return None
    shape = x.shape
    inner = math.prod(shape[axes[-1] + 1 :])
    if not 8 <= inner <= 1024 or not x.flags.c_contiguous:
        return None
    return x.reshape(math.prod(shape[: axes[0]]), -1, inner)


def _sum_middle_pooled(view, scale, out):
    """_sum_middle over every outer row, in ranges on OpenBLAS's threads where there are enough
    (threads.blas_pool_rows): each output row is one range's alone, so the same numbers."""
    out2 = out.reshape(view.shape[0], view.shape[2])
    threads.blas_pool_rows(
        view.shape[0],
        view.size * threads.LIGHT_ELEMENT_WORK,
        lambda o0, o1: _sum_middle(view, scale, out2, o0, o1),
    )


def sum_forward(x, axes, out):
    """out = sum of x over `axes` (tuple), out shaped with the reduced axes kept as size 1."""
    view = _middle_view(x, axes)
    if view is None:
        np.sum(x, axis=axes, keepdims=True, out=out)
    else:
        _sum_middle_pooled(view, 1.0, out)


def mean_forward(x, axes, out):
    """out = mean of x over `axes` (tuple), out shaped with the reduced axes kept as size 1."""
    view = _middle_view(x, axes)
    if view is None or view.shape[1] == 0:  # NumPy's mean of nothing: NaN, with its warning
        np.mean(x, axis=axes, keepdims=True, out=out)
    else:
        _sum_middle_pooled(view, 1.0 / view.shape[1], out)


def max_forward(x, axes, out):
    """out = max of x over `axes` (tuple), out shaped with the reduced axes kept as size 1."""
    np.max(x, axis=axes, keepdims=True, out=out)


def broadcast_scaled(dy, scale, dx):
    """dx = broadcast(dy) * scale; dy has size-1 axes where dx was reduced (sum / mean grad).
    Along dx's first axis in ranges on OpenBLAS's threads where there are enough (NumPy's
    multiply releases the GIL)."""
    if dx.ndim == 0 or dy.ndim != dx.ndim:
        np.multiply(dy, scale, out=dx)
        return
    whole = dy.shape[0] == 1

    def run(n0, n1):
        np.multiply(dy if whole else dy[n0:n1], scale, out=dx[n0:n1])

    threads.blas_pool_rows(dx.shape[0], dx.size * threads.LIGHT_ELEMENT_WORK, run)


def max_backward(x, y, dy, dx):
    """dx = dy * (x == y) / count(x == y): ties share the gradient equally, as TensorFlow does.

    y and dy are x's max and its cotangent broadcastable to x (reduced axes kept as size 1).
    """
    hit = x == y
    count = np.sum(
        hit, axis=tuple(i for i in range(x.ndim) if y.shape[i] == 1 != x.shape[i]), keepdims=True
    )
    np.divide(dy, count, out=dx, casting="unsafe")
    np.multiply(dx, hit, out=dx)


@njit(cache=True)
def softmax_forward(x, out):
    """Softmax over axis 1 of x (outer, n, inner); subtracts the max for stability."""
    a, n, b = x.shape
    for i in range(a):
        for k in range(b):
            m = x[i, 0, k]
            for j in range(1, n):
                m = max(m, x[i, j, k])
            s = 0.0
            for j in range(n):
                e = math.exp(x[i, j, k] - m)
                out[i, j, k] = e
                s += e
            inv = 1.0 / s
            for j in range(n):
                out[i, j, k] *= inv


@njit(cache=True)
def softmax_backward(y, dy, dx):
    """dx = y * (dy - sum_j(dy * y)) over axis 1 of (outer, n, inner) arrays."""
    a, n, b = y.shape
    for i in range(a):
        for k in range(b):
            s = 0.0
            for j in range(n):
                s += dy[i, j, k] * y[i, j, k]
            for j in range(n):
                dx[i, j, k] = y[i, j, k] * (dy[i, j, k] - s)


@njit(cache=True)
def log_softmax_forward(x, out):
    """out = x - max - log(sum(exp(x - max))) over axis 1 of x (outer, n, inner): finite for
    any finite logits."""
    a, n, b = x.shape
    for i in range(a):
        for k in range(b):
            m = x[i, 0, k]
            for j in range(1, n):
                m = max(m, x[i, j, k])
            s = 0.0
            for j in range(n):
                s += math.exp(x[i, j, k] - m)
            shift = m + math.log(s)
            for j in range(n):
                out[i, j, k] = x[i, j, k] - shift


@njit(cache=True)
def log_softmax_backward(y, dy, dx):
    """dx = dy - exp(y) * sum_j(dy) over axis 1 of (outer, n, inner) arrays (y = log_softmax)."""
    a, n, b = y.shape
    for i in range(a):
        for k in range(b):
            s = 0.0
            for j in range(n):
                s += dy[i, j, k]
            for j in range(n):
                dx[i, j, k] = dy[i, j, k] - math.exp(y[i, j, k]) * s


def min_forward(x, axes, out):
    """out = min of x over `axes` (tuple), out shaped with the reduced axes kept as size 1."""
    np.min(x, axis=axes, keepdims=True, out=out)


def prod_forward(x, axes, out):
    """out = product of x over `axes` (tuple), out shaped with the reduced axes kept as size 1."""
    np.prod(x, axis=axes, keepdims=True, out=out)


def prod_backward(x, dy, axes, dx):
    """dx[i] = dy * prod_{j != i} x[j] over each reduced group: the product of the prefix before
    i and the suffix after it, never y / x[i], which is NaN where x[i] is 0. dy is broadcastable
    to x (the reduced axes kept as size 1)."""
    if x.size == 0:
        return
    rest = tuple(a for a in range(x.ndim) if a not in axes)
    perm = rest + tuple(axes)
    groups = x.transpose(perm).reshape(-1, int(np.prod([x.shape[a] for a in axes], dtype=np.int64)))
    ones = np.ones((groups.shape[0], 1), groups.dtype)
    before = np.cumprod(np.concatenate([ones, groups[:, :-1]], axis=1), axis=1)
    after = np.cumprod(np.concatenate([ones, groups[:, :0:-1]], axis=1), axis=1)[:, ::-1]
    others = (before * after).reshape([x.shape[p] for p in perm]).transpose(np.argsort(perm))
    np.multiply(others, dy, out=dx)


@njit(cache=True)
def _arg_best(x, smallest, out):
    """out[i, k] = index along axis 1 of x (outer, n, inner) of the max (or min): the first one,
    the first NaN if any (as NumPy); -0 and +0 are equal (as NumPy and PyTorch)."""
    a, n, b = x.shape
    for i in range(a):
        for k in range(b):
            best, at = x[i, 0, k], 0
            if best == best:
                for j in range(1, n):
                    v = x[i, j, k]
                    if v != v:
                        at = j
                        break
                    if (v < best) if smallest else (v > best):
                        best, at = v, j
            out[i, k] = at


def argmax_forward(x, out):
    """out (outer, inner) int = argmax over axis 1 of x (outer, n, inner), n >= 1."""
    _arg_best(x, False, out)


def argmin_forward(x, out):
    """out (outer, inner) int = argmin over axis 1 of x (outer, n, inner), n >= 1."""
    _arg_best(x, True, out)


def cumsum_forward(x, reverse, out):
    """out = cumulative sum over axis 1 of x (outer, n, inner), from the end when `reverse` (the
    gradient of a forward cumsum). An integer x sums in out's dtype."""
    if reverse:
        np.cumsum(x[:, ::-1], axis=1, out=out[:, ::-1], dtype=out.dtype)
    else:
        np.cumsum(x, axis=1, out=out, dtype=out.dtype)


def sort_forward(x, descending, values, indices):
    """values, indices (rows, k) = the first k of each row of x (rows, n) in ascending order, or
    descending; stable (equal elements keep their order, -0 equals +0), NaN above every number.
    Descending is a stable ascending sort of the reversed row, read backwards: NaN first and
    ties in their order."""
    n, k = x.shape[1], values.shape[1]
    if descending:
        order = (n - 1) - np.argsort(x[:, ::-1], axis=1, kind="stable")[:, ::-1]
    else:
        order = np.argsort(x, axis=1, kind="stable")
    indices[...] = order[:, :k]
    values[...] = np.take_along_axis(x, order[:, :k], axis=1)


def sort_backward(dy, indices, dx):
    """dx (rows, n) = dy (rows, k) put back at `indices` (distinct within a row), zeros elsewhere:
    the gradient of sorted values."""
    dx.fill(0)
    np.put_along_axis(dx, indices.astype(np.intp), dy, axis=1)
