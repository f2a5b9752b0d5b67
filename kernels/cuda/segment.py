"""Segment reductions of rows and their backward passes on the device, with the names and arguments
of kernels/cpu/segment.py: data (N, D) reduced into (S, D) by integer segment ids (N,), one thread
per element, rows meeting in a segment through atomics.

Sums (segment_sum, segment_mean, the softmax's denominator and its gradient's dots) add in whatever
order the threads arrive, so float sums may differ in the last bits from run to run, as PyTorch
Geometric's scatter on CUDA; maxima do not depend on the order. The forward ops raise ValueError for
an id outside [0, S), as graphengine_kernels.cpu (a small check kernel and one number copied back,
launch.first_outside); the backward ones read ids their forward op checked.
"""

import math

import numpy as np
from numba import cuda

from graphengine_kernels.cuda.elementwise import fill
from graphengine_kernels.cuda.launch import device, elementwise, first_outside

__all__ = [
    "segment_sum",
    "segment_mean",
    "segment_max",
    "segment_softmax",
    "segment_mean_backward",
    "segment_max_backward",
    "segment_softmax_backward",
]


@cuda.jit(cache=True)
def segment_add_kernel(ids, src, out):
    S, D = out.shape
    for e in range(cuda.grid(1), src.size, cuda.gridsize(1)):
        i, d = e // D, e % D
        s = ids[i]
        if 0 <= s < S:
            cuda.atomic.add(out, (s, d), src[i, d])


@cuda.jit(cache=True)
def segment_count_kernel(ids, count):
    for i in range(cuda.grid(1), ids.size, cuda.gridsize(1)):
        s = ids[i]
        if 0 <= s < count.size:
            cuda.atomic.add(count, s, 1.0)


def check_segment_ids(name, ids, segments):
    """ValueError naming op `name` and the first id outside [0, segments), as
    graphengine_kernels.cpu's."""
    bad = first_outside(ids, 0, segments)
    if bad is not None:
        raise ValueError(
            f"{name}: segment_ids holds {bad[1]}, outside [0, {segments}) for "
            f"num_segments={segments}"
        )


def _add_rows(ids, src, out):
    fill(0, out)
    elementwise(segment_add_kernel, src.size)(ids, src, out)


def segment_sum(data, ids, out):
    """out (S, D) = the sum of the rows of data (N, D) with ids (N,) == s, 0 for none."""
    check_segment_ids("segment_sum", ids, out.shape[0])
    _add_rows(ids, data, out)


@cuda.jit(cache=True)
def mean_divide_kernel(out, count):
    D = out.shape[1]
    for e in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[e // D, e % D] /= max(count[e // D], 1)


@cuda.jit(cache=True)
def clamp_count_kernel(count):
    for s in range(cuda.grid(1), count.size, cuda.gridsize(1)):
        count[s] = max(count[s], 1)


def segment_mean(data, ids, out, count):
    """out (S, D) = the mean of the rows with ids == s, 0 for none; count (S,) gets each
    segment's row count, at least 1."""
    check_segment_ids("segment_mean", ids, out.shape[0])
    _add_rows(ids, data, out)
    fill(0, count)
    elementwise(segment_count_kernel, ids.size)(ids, count)
    elementwise(mean_divide_kernel, out.size)(out, count)
    elementwise(clamp_count_kernel, count.size)(count)


@cuda.jit(cache=True)
def segment_peak_kernel(data, ids, peak, counting, count):
    """peak[s, d] = max over the non-NaN data of segment s (peak starts at -inf); count[s] +=
    1 per row where `counting` (else count is a stand-in)."""
    S, D = peak.shape
    for e in range(cuda.grid(1), data.size, cuda.gridsize(1)):
        i, d = e // D, e % D
        s = ids[i]
        if 0 <= s < S:
            v = data[i, d]
            if v == v:
                cuda.atomic.max(peak, (s, d), v)
            if d == 0 and counting:
                cuda.atomic.add(count, s, 1.0)


@cuda.jit(cache=True)
def segment_nan_kernel(data, ids, peak):
    """A NaN in a segment's column makes its peak NaN (after the atomic maxima: every writer
    stores the same NaN, so the order does not matter)."""
    S, D = peak.shape
    for e in range(cuda.grid(1), data.size, cuda.gridsize(1)):
        i, d = e // D, e % D
        s = ids[i]
        if 0 <= s < S and data[i, d] != data[i, d]:
            peak[s, d] = data[i, d]


def _peaks(data, ids, peak, count):
    """peak = the segments' maxima, NaN-propagating (-inf for none); count (S,) the rows per
    segment, unless None."""
    fill(-math.inf, peak)
    counting = count is not None
    count = count if counting else device(np.zeros(1, peak.dtype))
    elementwise(segment_peak_kernel, data.size)(data, ids, peak, counting, count)
    elementwise(segment_nan_kernel, data.size)(data, ids, peak)


@cuda.jit(cache=True)
def empty_to_zero_kernel(out, count):
    D = out.shape[1]
    for e in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        if count[e // D] == 0:
            out[e // D, e % D] = 0


def segment_max(data, ids, out, count):
    """out (S, D) = the largest of the rows with ids == s, NaN if any is NaN, 0 for none;
    count (S,) is scratch."""
    check_segment_ids("segment_max", ids, out.shape[0])
    fill(0, count)
    _peaks(data, ids, out, count)
    elementwise(empty_to_zero_kernel, out.size)(out, count)


@cuda.jit(cache=True)
def softmax_exp_kernel(data, ids, peak, out, total):
    S, D = peak.shape
    for e in range(cuda.grid(1), data.size, cuda.gridsize(1)):
        i, d = e // D, e % D
        s = ids[i]
        if 0 <= s < S:
            v = math.exp(data[i, d] - peak[s, d])
            out[i, d] = v
            cuda.atomic.add(total, (s, d), v)


@cuda.jit(cache=True)
def softmax_divide_kernel(ids, total, eps, out):
    S, D = total.shape
    for e in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        i, d = e // D, e % D
        s = ids[i]
        if 0 <= s < S:
            out[i, d] = out[i, d] / (total[s, d] + eps)


def segment_softmax(data, ids, out, peak, total):
    """out (N, D) = exp(data - peak[ids]) / (total[ids] + 1e-16), the softmax within each
    segment; peak and total (S, D) are scratch."""
    check_segment_ids("segment_softmax", ids, peak.shape[0])
    _peaks(data, ids, peak, None)
    fill(0, total)
    elementwise(softmax_exp_kernel, data.size)(data, ids, peak, out, total)
    eps = data.dtype.type(1e-16)
    elementwise(softmax_divide_kernel, out.size)(ids, total, eps, out)


@cuda.jit(cache=True)
def mean_backward_kernel(ids, dy, count, dx):
    S, D = dy.shape
    for e in range(cuda.grid(1), dx.size, cuda.gridsize(1)):
        i, d = e // D, e % D
        s = ids[i]
        dx[i, d] = dy[s, d] / count[s] if 0 <= s < S else 0


def segment_mean_backward(ids, dy, count, dx):
    """dx (N, D) = dy[ids] / count[ids]."""
    elementwise(mean_backward_kernel, dx.size)(ids, dy, count, dx)


@cuda.jit(cache=True)
def max_ties_kernel(data, ids, out, ties):
    S, D = out.shape
    for e in range(cuda.grid(1), data.size, cuda.gridsize(1)):
        i, d = e // D, e % D
        s = ids[i]
        if 0 <= s < S and data[i, d] == out[s, d]:
            cuda.atomic.add(ties, (s, d), 1.0)


@cuda.jit(cache=True)
def max_backward_kernel(data, ids, out, dy, ties, dx):
    S, D = out.shape
    for e in range(cuda.grid(1), dx.size, cuda.gridsize(1)):
        i, d = e // D, e % D
        s = ids[i]
        if not 0 <= s < S:
            dx[i, d] = 0
        elif ties[s, d] == 0:  # a NaN maximum: torch's 0 * (dy / 0)
            dx[i, d] = math.nan
        else:
            hit = 1 if data[i, d] == out[s, d] else 0
            dx[i, d] = hit * (dy[s, d] / ties[s, d])


def segment_max_backward(data, ids, out, dy, dx, ties):
    """dx (N, D) = dy[ids] / ties[ids] where data equals its segment's maximum, else 0; NaN over
    a segment whose maximum is NaN; ties (S, D) is scratch."""
    fill(0, ties)
    elementwise(max_ties_kernel, data.size)(data, ids, out, ties)
    elementwise(max_backward_kernel, dx.size)(data, ids, out, dy, ties, dx)


@cuda.jit(cache=True)
def softmax_dots_kernel(ids, y, dy, dots):
    S, D = dots.shape
    for e in range(cuda.grid(1), y.size, cuda.gridsize(1)):
        i, d = e // D, e % D
        s = ids[i]
        if 0 <= s < S:
            cuda.atomic.add(dots, (s, d), y[i, d] * dy[i, d])


@cuda.jit(cache=True)
def softmax_backward_kernel(ids, y, dy, dots, dx):
    S, D = dots.shape
    for e in range(cuda.grid(1), dx.size, cuda.gridsize(1)):
        i, d = e // D, e % D
        s = ids[i]
        dx[i, d] = y[i, d] * (dy[i, d] - dots[s, d]) if 0 <= s < S else 0


def segment_softmax_backward(ids, y, dy, dx, dots):
    """dx (N, D) = y * (dy - dots[ids]), dots (S, D) the per-segment sums of y * dy
    (scratch)."""
    fill(0, dots)
    elementwise(softmax_dots_kernel, y.size)(ids, y, dy, dots)
    elementwise(softmax_backward_kernel, dx.size)(ids, y, dy, dots, dx)
