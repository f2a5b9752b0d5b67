"""Segment reductions of rows and their backward passes: data (N, D) reduced into (S, D) by
integer segment ids (N,) (sum, mean, max), or normalized within each segment (softmax, as PyTorch
Geometric's `softmax`). float32 or float64; the ops flatten every trailing axis into D.

Deterministic: one thread visits the rows in order, so every sum accumulates in the same order on
every run. Empty segments give 0 (PyTorch Geometric's scatter). An id outside [0, S) raises
ValueError before any row is read. The scratch arguments (count, peak, total, ties, dots) come
from the caller (the plan allocates them once).
"""

import numpy as np
from numba import njit

__all__ = [
    "segment_sum",
    "segment_mean",
    "segment_max",
    "segment_softmax",
    "segment_mean_backward",
    "segment_max_backward",
    "segment_softmax_backward",
]

# x / 0 gives inf or NaN as in NumPy (a segment_max gradient of a NaN maximum), never an error
_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}


def check_segment_ids(name, ids, segments):
    """ValueError naming op `name` and the first id outside [0, segments)."""
    if ids.size and (ids.min() < 0 or ids.max() >= segments):
        bad = ids[(ids < 0) | (ids >= segments)][0]
        raise ValueError(
            f"{name}: segment_ids holds {bad}, outside [0, {segments}) for num_segments={segments}"
        )


@njit(**_JIT)
def scatter_add_rows(ids, src, out):
    """out[ids[i], :] += src[i, :] in the order of i; an id < 0 counts from the end of out's
    rows (take's convention; segment ids are checked non-negative first)."""
    S = out.shape[0]
    for i in range(ids.size):
        s = ids[i]
        if s < 0:
            s += S
        for d in range(src.shape[1]):
            out[s, d] += src[i, d]


@njit(**_JIT)
def _count_rows(ids, count):
    count[:] = 0
    for i in range(ids.size):
        count[ids[i]] += 1


def segment_sum(data, ids, out):
    """out (S, D) = the sum of the rows of data (N, D) with ids (N,) == s, 0 for none."""
    check_segment_ids("segment_sum", ids, out.shape[0])
    out[:] = 0
    scatter_add_rows(ids, data, out)


@njit(**_JIT)
def _segment_mean(data, ids, out, count):
    out[:] = 0
    scatter_add_rows(ids, data, out)
    _count_rows(ids, count)
    for s in range(out.shape[0]):
        if count[s] == 0:
            count[s] = 1
        for d in range(out.shape[1]):
            out[s, d] /= count[s]


def segment_mean(data, ids, out, count):
    """out (S, D) = the mean of the rows of data (N, D) with ids (N,) == s (the sum divided by
    the count, as PyTorch Geometric), 0 for none; count (S,) gets each segment's row count,
    at least 1 (what the backward pass divides by)."""
    check_segment_ids("segment_mean", ids, out.shape[0])
    _segment_mean(data, ids, out, count)


@njit(**_JIT)
def _segment_max(data, ids, out, count):
    count[:] = 0
    for i in range(ids.size):
        s = ids[i]
        if count[s] == 0:
            out[s, :] = data[i, :]
        else:
            for d in range(data.shape[1]):
                v = data[i, d]
                if v > out[s, d] or v != v:  # NaN wins and stays
                    out[s, d] = v
        count[s] += 1
    for s in range(out.shape[0]):
        if count[s] == 0:
            out[s, :] = 0


def segment_max(data, ids, out, count):
    """out (S, D) = the largest of the rows of data (N, D) with ids (N,) == s, NaN if any is
    NaN, 0 for none (PyTorch Geometric's convention; JAX and TensorFlow give -inf or the dtype's
    lowest); count (S,) is scratch (the rows seen per segment)."""
    check_segment_ids("segment_max", ids, out.shape[0])
    _segment_max(data, ids, out, count)


@njit(**_JIT)
def _segment_softmax(data, ids, out, peak, total):
    peak[:] = -np.inf
    total[:] = 0
    for i in range(ids.size):
        s = ids[i]
        for d in range(data.shape[1]):
            v = data[i, d]
            if v > peak[s, d] or v != v:
                peak[s, d] = v
    for i in range(ids.size):
        s = ids[i]
        for d in range(data.shape[1]):
            e = np.exp(data[i, d] - peak[s, d])
            out[i, d] = e
            total[s, d] += e
    eps = out.dtype.type(1e-16)
    for i in range(ids.size):
        s = ids[i]
        for d in range(data.shape[1]):
            out[i, d] /= total[s, d] + eps


def segment_softmax(data, ids, out, peak, total):
    """out (N, D) = exp(data - peak[ids]) / (total[ids] + 1e-16): a softmax over the rows of each
    segment, column by column, shifted by the segment's maximum peak (S, D) and summed into
    total (S, D) (both scratch), as PyTorch Geometric's `softmax`."""
    check_segment_ids("segment_softmax", ids, peak.shape[0])
    _segment_softmax(data, ids, out, peak, total)


@njit(**_JIT)
def _segment_mean_backward(ids, dy, count, dx):
    for i in range(ids.size):
        s = ids[i]
        for d in range(dx.shape[1]):
            dx[i, d] = dy[s, d] / count[s]


def segment_mean_backward(ids, dy, count, dx):
    """dx (N, D) = dy[ids] / count[ids] for dy (S, D) and segment_mean's count (S,)."""
    _segment_mean_backward(ids, dy, count, dx)


@njit(**_JIT)
def _segment_max_backward(data, ids, out, dy, dx, ties):
    ties[:] = 0
    for i in range(ids.size):
        s = ids[i]
        for d in range(data.shape[1]):
            if data[i, d] == out[s, d]:
                ties[s, d] += 1
    for i in range(ids.size):
        s = ids[i]
        for d in range(data.shape[1]):
            hit = dx.dtype.type(1) if data[i, d] == out[s, d] else dx.dtype.type(0)
            dx[i, d] = hit * (dy[s, d] / ties[s, d])


def segment_max_backward(data, ids, out, dy, dx, ties):
    """dx (N, D) = dy[ids] / ties[ids] where data equals its segment's maximum out (S, D), else
    0: torch's scatter_reduce "amax" gradient, shared evenly among ties, and NaN over a segment
    whose maximum is NaN (no element equals it: 0 * (dy / 0)). ties (S, D) is scratch."""
    _segment_max_backward(data, ids, out, dy, dx, ties)


@njit(**_JIT)
def _segment_softmax_backward(ids, y, dy, dx, dots):
    dots[:] = 0
    for i in range(ids.size):
        s = ids[i]
        for d in range(y.shape[1]):
            dots[s, d] += y[i, d] * dy[i, d]
    for i in range(ids.size):
        s = ids[i]
        for d in range(y.shape[1]):
            dx[i, d] = y[i, d] * (dy[i, d] - dots[s, d])


def segment_softmax_backward(ids, y, dy, dx, dots):
    """dx (N, D) = y * (dy - dots[ids]) with dots (S, D) = the per-segment sums of y * dy
    (scratch): the softmax Jacobian of each segment, the maximum's shift held constant (as
    PyTorch Geometric detaches it)."""
    _segment_softmax_backward(ids, y, dy, dx, dots)
