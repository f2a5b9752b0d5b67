"""Whole recurrent sequences: one call runs every step of a sequence for batch rows n0:n1, each
step's recurrent products on BLAS and its fused step kernels (recurrent.py,
recurrent_backward.py), without coming back to Python between steps. The products call NumPy's
OpenBLAS gemm from Numba (blas.py); the per-step Python loop this replaces cost about 10 us a
step, and more with two row threads handing the GIL to each other (LSTM(128), 50 steps, 32 rows
a thread: forward loop 6.6 -> 5.9 ms, measured). Without that gemm (a NumPy on another BLAS) the
steps run from the host loops of kernels.sequences instead.

A step is the input projection of its rows, then one or more stages (src, r, dst, kernel, args),
as in kernels.sequences: the product dst[n0:n1] = src[t, n0:n1] @ r and the step kernel
kernel(t, n0, n1, *args). The caller runs these inside rnn_parallel_rows, on single-threaded
BLAS.
"""

from numba import njit

from kernels.cpu.blas import GEMMS, NO_TRANS, ROW_MAJOR, SMALL_MATRIX
from kernels.cpu.matmul import matmul
from kernels.cpu.recurrent import (
    _INLINE,
    _JIT,
    gru_forward_candidate,
    gru_forward_gates,
    gru_forward_step,
    lstm_forward_step,
    simple_rnn_forward_step,
)
from kernels.cpu.recurrent_backward import (
    gru_backward_candidate,
    gru_backward_gates,
    gru_backward_step,
    lstm_backward_step,
    simple_rnn_backward_step,
)
from kernels.sequences import backward_sequence, forward_sequence

__all__ = ["rnn_forward_sequence", "rnn_backward_sequence"]


@njit(**_INLINE)
def _gemm(gemm, small, a, b, out):
    """out = a @ b through the BLAS gemm; 2-D arrays with contiguous rows (unit last stride).
    With `small` > 0 (blas.SMALL_MATRIX) a product of more multiply-adds is split into calls of
    the most rows, a power of two from 4, that stay within it, for BLAS's small-matrix kernel (8
    rows for 128 x 512: 8-row calls measured faster than 11- or 15-row ones)."""
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


# One loop per step kernel: a Numba function taking another as an argument is not cached.


@njit(**_JIT)
def _simple_rnn_forward(gemm, small, n0, n1, x, w, gx, src, r, dst, args):
    for t in range(src.shape[0]):
        _gemm(gemm, small, x[t, n0:n1], w, gx[t, n0:n1])
        _gemm(gemm, small, src[t, n0:n1], r, dst[n0:n1])
        simple_rnn_forward_step(t, n0, n1, *args)


@njit(**_JIT)
def _lstm_forward(gemm, small, n0, n1, x, w, gx, src, r, dst, args):
    for t in range(src.shape[0]):
        _gemm(gemm, small, x[t, n0:n1], w, gx[t, n0:n1])
        _gemm(gemm, small, src[t, n0:n1], r, dst[n0:n1])
        lstm_forward_step(t, n0, n1, *args)


@njit(**_JIT)
def _gru_forward(gemm, small, n0, n1, x, w, gx, src, r, dst, args):
    for t in range(src.shape[0]):
        _gemm(gemm, small, x[t, n0:n1], w, gx[t, n0:n1])
        _gemm(gemm, small, src[t, n0:n1], r, dst[n0:n1])
        gru_forward_step(t, n0, n1, *args)


@njit(**_JIT)
def _gru_reset_before_forward(
    gemm, small, n0, n1, x, w, gx, src, r, dst, args, src2, r2, dst2, args2
):
    for t in range(src.shape[0]):
        _gemm(gemm, small, x[t, n0:n1], w, gx[t, n0:n1])
        _gemm(gemm, small, src[t, n0:n1], r, dst[n0:n1])
        gru_forward_gates(t, n0, n1, *args)
        _gemm(gemm, small, src2[t, n0:n1], r2, dst2[n0:n1])
        gru_forward_candidate(t, n0, n1, *args2)


@njit(**_JIT)
def _simple_rnn_backward(gemm, small, n0, n1, src, r, dst, args):
    for t in range(src.shape[0] - 1, -1, -1):
        simple_rnn_backward_step(t, n0, n1, *args)
        _gemm(gemm, small, src[t, n0:n1], r, dst[n0:n1])


@njit(**_JIT)
def _lstm_backward(gemm, small, n0, n1, src, r, dst, args):
    for t in range(src.shape[0] - 1, -1, -1):
        lstm_backward_step(t, n0, n1, *args)
        _gemm(gemm, small, src[t, n0:n1], r, dst[n0:n1])


@njit(**_JIT)
def _gru_backward(gemm, small, n0, n1, src, r, dst, args):
    for t in range(src.shape[0] - 1, -1, -1):
        gru_backward_step(t, n0, n1, *args)
        _gemm(gemm, small, src[t, n0:n1], r, dst[n0:n1])


@njit(**_JIT)
def _gru_reset_before_backward(gemm, small, n0, n1, src, r, dst, args, src2, r2, dst2, args2):
    for t in range(src.shape[0] - 1, -1, -1):
        gru_backward_candidate(t, n0, n1, *args)
        _gemm(gemm, small, src[t, n0:n1], r, dst[n0:n1])
        gru_backward_gates(t, n0, n1, *args2)
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


def _loop(stages, products):
    """The Numba loop of these stages and the gemm it calls, or None (no gemm for the dtype,
    or an operand of a product whose rows are not contiguous, which _gemm cannot take)."""
    gemm = GEMMS.get(stages[0][2].dtype)
    loop = _LOOPS.get(tuple(stage[3] for stage in stages))
    if gemm is None or loop is None or any(a.strides[-1] != a.itemsize for a in products):
        return None
    return loop, gemm


def _operands(stages):
    return [x for src, r, dst, _, args in stages for x in (src, r, dst, args)]


def rnn_forward_sequence(n0, n1, projection, stages):
    """For t = 0 .. T - 1: the input projection of the step, gx[t, n0:n1] = x[t, n0:n1] @ w
    (projection = (x, w, gx)), then each stage: dst[n0:n1] = src[t, n0:n1] @ r and its kernel.
    Projecting step by step, just before the step reads it, is about 10% faster than one
    product for all steps up front (LSTM(128), forward op, measured)."""
    found = _loop(stages, [*projection, *(a for stage in stages for a in stage[:3])])
    if found is None:
        forward_sequence(matmul, n0, n1, projection, stages)
    else:
        loop, gemm = found
        loop(gemm, SMALL_MATRIX, n0, n1, *projection, *_operands(stages))


def rnn_backward_sequence(n0, n1, stages):
    """For t = T - 1 .. 0, each stage: its kernel, then dst[n0:n1] = src[t, n0:n1] @ r."""
    found = _loop(stages, [a for stage in stages for a in stage[:3]])
    if found is None:
        backward_sequence(matmul, n0, n1, stages)
    else:
        loop, gemm = found
        loop(gemm, SMALL_MATRIX, n0, n1, *_operands(stages))
