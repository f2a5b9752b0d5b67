"""Whole recurrent sequences: one call runs every step of a sequence, its batch rows split into
ranges run at once on Numba's thread pool (parallel=True; threads.parallel_rows), each range
stepping through time with its recurrent products on BLAS and its fused step kernels (recurrent.py,
recurrent_backward.py), without coming back to Python between steps. The products call NumPy's
OpenBLAS gemm from Numba (blas.py), which beats a per-step Python loop (benchmarks/NOTES.md). Where
these loops cannot run (no OpenBLAS gemm, an operand whose rows are not contiguous, a forked child
that may not use Numba's pool) the steps run from the host loops of graphengine_kernels.sequences,
on the calling thread.

A step is the input projection of its rows, then one or more stages (src, r, dst, kernel, args), as
in graphengine_kernels.sequences: the product dst[n0:n1] = src[t, n0:n1] @ r and the step kernel
kernel(t, n0, n1, args). The weight gradients' row blocks (rnn_weight_grad) and the input gradient's
product (rnn_matmul) run on the same pool.

The loops below compile the step kernels (and the activation formulas of activations.py they inline)
into their own machine code; kernels/cache.py keys its cache by those files too.
"""

import numpy as np
from numba import njit, prange

from graphengine_kernels.cpu import threads
from graphengine_kernels.cpu.activations import Fused
from graphengine_kernels.cpu.bias import ordered_sum
from graphengine_kernels.cpu.blas import GEMMS, NO_TRANS, ROW_MAJOR, SMALL_MATRIX, TRANS
from graphengine_kernels.cpu.elementwise import fill
from graphengine_kernels.cpu.matmul import matmul, matmul_at_b
from graphengine_kernels.cpu.recurrent import (
    _JIT,
    gru_forward_candidate,
    gru_forward_gates,
    gru_forward_step,
    lstm_forward_step,
    simple_rnn_forward_step,
)
from graphengine_kernels.cpu.recurrent_backward import (
    gru_backward_candidate,
    gru_backward_gates,
    gru_backward_step,
    lstm_backward_step,
    simple_rnn_backward_step,
)
from graphengine_kernels.cpu.reduce import sum_forward
from graphengine_kernels.cpu.shape import copy
from graphengine_kernels.sequences import (
    WeightGradKernels,
    backward_sequence,
    forward_sequence,
    weight_grad_block,
)

_PARALLEL = {**_JIT, "parallel": True}

__all__ = ["rnn_forward_sequence", "rnn_backward_sequence", "rnn_matmul", "rnn_weight_grad"]

_WEIGHT_GRAD_KERNELS = WeightGradKernels(
    copy=copy, fill=fill, matmul_at_b=matmul_at_b, sum_forward=sum_forward
)


# the helpers below are plain Numba functions, not inlined into the loops' IR: inlining costs
# seconds of compilation a loop and no speed (one call a product)


@njit(**_JIT)
def _gemm(gemm, small, a, b, out):
    """out = a @ b through the BLAS gemm; 2-D arrays with contiguous rows (unit last stride).
    With `small` > 0 (blas.SMALL_MATRIX) a product of more multiply-adds is split into calls of
    the most rows, a power of two from 4, that stay within it, for BLAS's small-matrix kernel (8
    rows for 128 x 512; see benchmarks/NOTES.md)."""
    m, k = a.shape
    n, size = b.shape[1], a.itemsize
    lda, ldb, ldc = a.strides[0] // size, b.strides[0] // size, out.strides[0] // size
    one, zero = a.dtype.type(1), a.dtype.type(0)
    rows = max(m, 1)  # (no rows: no call)
    if 0 < small < m * n * k and 4 * n * k <= small:  # (no splitting into fewer than 4 rows)
        rows = 4
        while 2 * rows * n * k <= small:
            rows *= 2
    for i in range(0, m, rows):
        r = min(rows, m - i)
        gemm(ROW_MAJOR, NO_TRANS, NO_TRANS, r, n, k, one, a[i:].ctypes.data, lda, b.ctypes.data,
             ldb, zero, out[i:].ctypes.data, ldc)  # fmt: skip


@njit(**_JIT)
def _gemm_tn(gemm, a, b, out):
    """out = a.T @ b through the BLAS gemm; a (m, k), b (m, n), out (k, n), contiguous rows."""
    m, k = a.shape
    n, size = b.shape[1], a.itemsize
    if m == 0:  # (an empty sum)
        for i in range(k):
            out[i] = 0
        return
    lda, ldb, ldc = a.strides[0] // size, b.strides[0] // size, out.strides[0] // size
    one, zero = a.dtype.type(1), a.dtype.type(0)
    gemm(ROW_MAJOR, TRANS, NO_TRANS, k, n, m, one, a.ctypes.data, lda, b.ctypes.data, ldb, zero,
         out.ctypes.data, ldc)  # fmt: skip


# One loop per step kernel (a Numba function taking another as an argument is not cached), each
# over the row ranges between `bounds`, in parallel.


@njit(**_PARALLEL)
def _simple_rnn_forward(gemm, small, bounds, x, w, gx, src, r, dst, args):
    for c in prange(bounds.size - 1):
        n0, n1 = bounds[c], bounds[c + 1]
        for t in range(src.shape[0]):
            _gemm(gemm, small, x[t, n0:n1], w, gx[t, n0:n1])
            _gemm(gemm, small, src[t, n0:n1], r, dst[n0:n1])
            simple_rnn_forward_step(t, n0, n1, args)


@njit(**_PARALLEL)
def _lstm_forward(gemm, small, bounds, x, w, gx, src, r, dst, args):
    for c in prange(bounds.size - 1):
        n0, n1 = bounds[c], bounds[c + 1]
        for t in range(src.shape[0]):
            _gemm(gemm, small, x[t, n0:n1], w, gx[t, n0:n1])
            _gemm(gemm, small, src[t, n0:n1], r, dst[n0:n1])
            lstm_forward_step(t, n0, n1, args)


@njit(**_PARALLEL)
def _gru_forward(gemm, small, bounds, x, w, gx, src, r, dst, args):
    for c in prange(bounds.size - 1):
        n0, n1 = bounds[c], bounds[c + 1]
        for t in range(src.shape[0]):
            _gemm(gemm, small, x[t, n0:n1], w, gx[t, n0:n1])
            _gemm(gemm, small, src[t, n0:n1], r, dst[n0:n1])
            gru_forward_step(t, n0, n1, args)


@njit(**_PARALLEL)
def _gru_reset_before_forward(
    gemm, small, bounds, x, w, gx, src, r, dst, args, src2, r2, dst2, args2
):
    for c in prange(bounds.size - 1):
        n0, n1 = bounds[c], bounds[c + 1]
        for t in range(src.shape[0]):
            _gemm(gemm, small, x[t, n0:n1], w, gx[t, n0:n1])
            _gemm(gemm, small, src[t, n0:n1], r, dst[n0:n1])
            gru_forward_gates(t, n0, n1, args)
            _gemm(gemm, small, src2[t, n0:n1], r2, dst2[n0:n1])
            gru_forward_candidate(t, n0, n1, args2)


@njit(**_PARALLEL)
def _simple_rnn_backward(gemm, small, bounds, src, r, dst, args):
    for c in prange(bounds.size - 1):
        n0, n1 = bounds[c], bounds[c + 1]
        for t in range(src.shape[0] - 1, -1, -1):
            simple_rnn_backward_step(t, n0, n1, args)
            _gemm(gemm, small, src[t, n0:n1], r, dst[n0:n1])


@njit(**_PARALLEL)
def _lstm_backward(gemm, small, bounds, src, r, dst, args):
    for c in prange(bounds.size - 1):
        n0, n1 = bounds[c], bounds[c + 1]
        for t in range(src.shape[0] - 1, -1, -1):
            lstm_backward_step(t, n0, n1, args)
            _gemm(gemm, small, src[t, n0:n1], r, dst[n0:n1])


@njit(**_PARALLEL)
def _gru_backward(gemm, small, bounds, src, r, dst, args):
    for c in prange(bounds.size - 1):
        n0, n1 = bounds[c], bounds[c + 1]
        for t in range(src.shape[0] - 1, -1, -1):
            gru_backward_step(t, n0, n1, args)
            _gemm(gemm, small, src[t, n0:n1], r, dst[n0:n1])


@njit(**_PARALLEL)
def _gru_reset_before_backward(gemm, small, bounds, src, r, dst, args, src2, r2, dst2, args2):
    for c in prange(bounds.size - 1):
        n0, n1 = bounds[c], bounds[c + 1]
        for t in range(src.shape[0] - 1, -1, -1):
            gru_backward_candidate(t, n0, n1, args)
            _gemm(gemm, small, src[t, n0:n1], r, dst[n0:n1])
            gru_backward_gates(t, n0, n1, args2)
            _gemm(gemm, small, src2[t, n0:n1], r2, dst2[n0:n1])


_LOOPS = {
    (simple_rnn_forward_step,): _simple_rnn_forward,
    (lstm_forward_step,): _lstm_forward,
    (gru_forward_step,): _gru_forward,
    (gru_forward_gates, gru_forward_candidate): _gru_reset_before_forward,
    (simple_rnn_backward_step,): _simple_rnn_backward,
    (lstm_backward_step,): _lstm_backward,
    (gru_backward_step,): _gru_backward,
    (gru_backward_candidate, gru_backward_gates): _gru_reset_before_backward,
}


def _gemm_for(loop, arrays):
    """The BLAS gemm for the Numba loop `loop` on these arrays, or None where it cannot run: no
    loop for the step kernels, no gemm for the dtype, or an array whose rows are not contiguous
    (which _gemm cannot take)."""
    gemm = GEMMS.get(arrays[0].dtype)
    if loop is None or gemm is None or any(a.strides[-1] != a.itemsize for a in arrays):
        return None
    return gemm


def _fused(stages):
    """The stages with their records' activation codes as activations.Fused: the step kernels
    compile the activations the layer runs, no others."""
    out = []
    for src, r, dst, kernel, args in stages:
        codes = {f: Fused(getattr(args, f)) for f in ("act", "ract") if f in args._fields}
        out.append((src, r, dst, kernel, args._replace(**codes)))
    return out


def _operands(stages):
    return [x for src, r, dst, _, args in stages for x in (src, r, dst, args)]


def rnn_forward_sequence(rows, work, projection, stages):
    """For t = 0 .. T - 1, on rows 0:rows (`work` multiply-adds in all, which sets how many
    ranges run at once): the input projection of the step, gx[t] = x[t] @ w (projection =
    (x, w, gx)), then each stage: dst = src[t] @ r and its kernel. Projecting step by step, just
    before the step reads it, beats one product for all steps up front (benchmarks/NOTES.md)."""
    stages = _fused(stages)
    loop = _LOOPS.get(tuple(stage[3] for stage in stages))
    gemm = _gemm_for(loop, [*projection, *(a for stage in stages for a in stage[:3])])
    with threads.parallel_rows(rows, work, gemm is not None) as bounds:
        if bounds is None:
            forward_sequence(matmul, 0, rows, projection, stages)
        else:
            loop(gemm, SMALL_MATRIX, bounds, *projection, *_operands(stages))


def rnn_backward_sequence(rows, work, stages):
    """For t = T - 1 .. 0, on rows 0:rows, each stage: its kernel, then dst = src[t] @ r."""
    stages = _fused(stages)
    loop = _LOOPS.get(tuple(stage[3] for stage in stages))
    gemm = _gemm_for(loop, [a for stage in stages for a in stage[:3]])
    with threads.parallel_rows(rows, work, gemm is not None) as bounds:
        if bounds is None:
            backward_sequence(matmul, 0, rows, stages)
        else:
            loop(gemm, SMALL_MATRIX, bounds, *_operands(stages))


@njit(**_PARALLEL)
def _matmul_rows(gemm, bounds, a, b, out):
    for c in prange(bounds.size - 1):
        n0, n1 = bounds[c], bounds[c + 1]
        _gemm(gemm, 0, a[n0:n1], b, out[n0:n1])


def rnn_matmul(a, b, out, work):
    """out = a @ b (2-D), its rows split into ranges run at once, as a sequence's rows (where
    they cannot run, one product on BLAS's own threads)."""
    gemm = _gemm_for(_matmul_rows, [a, b, out])
    with threads.parallel_rows(len(a), work, gemm is not None, whole_products=True) as bounds:
        if bounds is None:
            matmul(a, b, out)
        else:
            _matmul_rows(gemm, bounds, a, b, out)


@njit(**_PARALLEL)
def _weight_grad(gemm, bounds, xt, hin, left, right, dz, dzh, has_dzh, xh, merged, bias, out):
    D, DU, G = xt.shape[1], xt.shape[1] + hin.shape[1], dz.shape[1]
    for b in prange(out.shape[0]):
        r0, r1, p = bounds[b], bounds[b + 1], out[b]
        if merged > 0:
            for i in range(r0, r1):
                for j in range(D):
                    xh[i, j] = xt[i, j]
                for j in range(D, DU):
                    xh[i, j] = hin[i, j - D]
                for j in range(DU, xh.shape[1]):
                    xh[i, j] = 1
            _gemm_tn(gemm, xh[r0:r1], dz[r0:r1, :merged], p[:, :merged])
        if merged < G:
            _gemm_tn(gemm, xt[r0:r1], dz[r0:r1, merged:], p[:D, merged:])
            _gemm_tn(gemm, left[r0:r1], right[r0:r1, merged:], p[D:DU, merged:])
            if bias:
                ordered_sum(dz[r0:r1, merged:], p[DU, merged:])
        if has_dzh and bias:
            ordered_sum(dzh[r0:r1], p[DU + 1])


def rnn_weight_grad(xt, hin, left, right, dz, dzh, xh, merged, use_bias, partials, work):
    """The recurrent weight gradients' partial sums, partials[b] from the b-th of len(partials)
    equal blocks of rows (see graphengine_kernels.sequences.weight_grad_block), the blocks run at
    once as a sequence's rows (where they cannot run, one after another, each product on BLAS's own
    threads)."""
    rows, blocks = len(dz), len(partials)
    bounds = np.array([rows * b // blocks for b in range(blocks + 1)], dtype=np.int64)
    has_dzh = dzh is not None
    arrays = [xt, hin, left, right, dz, xh, partials] + ([dzh] if has_dzh else [])
    gemm = _gemm_for(_weight_grad, arrays)
    # the blocks, not the rows, are split into ranges: as many threads share them
    usable = gemm is not None
    with threads.parallel_rows(blocks, work, usable, 1, whole_products=True) as ranges:
        if ranges is None:
            for b in range(blocks):
                weight_grad_block(_WEIGHT_GRAD_KERNELS, bounds[b], bounds[b + 1], xt, hin, left,
                                  right, dz, dzh, xh, merged, use_bias, partials[b])  # fmt: skip
        else:
            _weight_grad(gemm, bounds, xt, hin, left, right, dz, dz if dzh is None else dzh,
                         has_dzh, xh, merged, use_bias, partials)  # fmt: skip
