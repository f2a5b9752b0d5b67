"""The bias family of Dense and the convolutions: the pass that adds the bias and applies the fused
activation over a product's output (bias_activation), and its backward passes: the activation's
gradient with the bias gradient (bias_activation_backward), the bias gradient alone
(bias_backward). Arrays are (..., F), F the last axis (units or channels), C-contiguous float32
or float64; the activation is a name fused at activation_codes.BIAS.

Every pass runs its rows (the backward passes: blocks of rows) in ranges on OpenBLAS's own
threads where there are enough (threads.blas_pool_rows).
"""

import numpy as np
from numba import njit

from graphengine_kernels.activation_codes import BIAS, LINEAR, codes
from graphengine_kernels.cpu import threads
from graphengine_kernels.cpu.activations import Fused, activate_row, derivative_row

# the fused codes, by name, as Fused: each kernel compiles the activations it runs, no others
CODES = {name: Fused(code) for name, code in codes(BIAS).items()}
SUM_BLOCK = 256  # rows summed on their own before joining a column total (float32 accuracy)

__all__ = ["bias_activation", "bias_activation_backward", "bias_backward"]

_NO_BIAS = {np.dtype(np.float32): np.zeros(0, np.float32), np.dtype(np.float64): np.zeros(0)}


def bias_or_empty(bias, dtype):
    """`bias`, or an empty array of `dtype` for None (what the Numba loops take for no bias)."""
    return _NO_BIAS[dtype] if bias is None else bias


@njit(inline="always")
def bias_activation_row(v, bias, act):
    """v (F,) = act(v + bias) in place; bias (F,) or empty. Inlined into the loops that end in
    the bias pass (here, matmul.py's tiny Dense, conv.py's col2im)."""
    if bias.size > 0:
        for f in range(v.shape[0]):
            v[f] += bias[f]
    activate_row(v, act)


@njit(cache=True, nogil=True)
def bias_activation_rows(y, bias, act, r0=0, r1=-1):
    """y[r] = act(y[r] + bias) for rows r0..r1 of y (M, F) (r1 -1: to the last); bias (F,) or
    empty."""
    for r in range(r0, y.shape[0] if r1 < 0 else r1):
        bias_activation_row(y[r], bias, act)


def bias_activation(y2d, bias, activation):
    """y2d (M, F) = activation(y2d + bias) in place; bias (F,) or None. Rows in ranges on
    OpenBLAS's threads where there are enough (threads.blas_pool_rows)."""
    act = CODES[activation]
    if bias is None and act == LINEAR:
        return
    b = bias_or_empty(bias, y2d.dtype)
    threads.blas_pool_rows(
        y2d.shape[0],
        y2d.size * threads.LIGHT_ELEMENT_WORK,
        lambda r0, r1: bias_activation_rows(y2d, b, act, r0, r1),
    )


@njit(cache=True, nogil=True)
def _activation_grad_blocks(y, dy, act, dz, sums, b0, b1):
    """dz = dy * act'(x) from y = act(x) for (M, F) arrays, in the blocks of SUM_BLOCK rows
    b0..b1, and sums[b] (F,) = the column sums of block b's dz. Row views keep every inner
    index 0-based (no wraparound selects in the vector loop). Zeroing is a loop: np.zeros and
    slice assignment inside a kernel compile implementations of their own, a fifth of a first
    Dense step's compiling (benchmarks/NOTES.md)."""
    M, F = y.shape
    for b in range(b0, b1):
        block = sums[b]
        for f in range(F):
            block[f] = 0
        for r in range(b * SUM_BLOCK, min((b + 1) * SUM_BLOCK, M)):
            derivative_row(y[r], dy[r], act, dz[r], block, True)


@njit(cache=True, nogil=True)
def _column_sum_blocks(a, sums, b0, b1):
    """sums[b] (F,) = the column sums of the SUM_BLOCK rows of block b of a (M, F), b0..b1."""
    M, F = a.shape
    for b in range(b0, b1):
        block = sums[b]
        for f in range(F):
            block[f] = 0
        for r in range(b * SUM_BLOCK, min((b + 1) * SUM_BLOCK, M)):
            row = a[r]
            for f in range(F):
                block[f] += row[f]


@njit(cache=True, nogil=True)
def ordered_sum(sums, out):
    """out (F,) = the rows of sums (rows, F) added in order, from 0: the column sums of a 2-D
    array row by row, the same numbers however its rows (blocks' sums) were shared among
    threads."""
    for f in range(out.shape[0]):
        out[f] = 0
    for b in range(sums.shape[0]):
        for f in range(out.shape[0]):
            out[f] += sums[b, f]


def _blocked_column_sums(a2d, out, kernel, *args):
    """out (F,) = the column sums of what kernel(*args, sums, b0, b1) writes for a2d (M, F)'s
    blocks of SUM_BLOCK rows (float32 sums of ~1e5 rows then keep ~1e-6 relative error rather
    than ~1e-5; blocked, 3x faster than np.sum(axis=0) on (43264, 32) float32, measured), the
    blocks in ranges on OpenBLAS's threads where there are enough (threads.blas_pool_rows)."""
    blocks = -(-a2d.shape[0] // SUM_BLOCK)
    sums = np.empty((blocks, a2d.shape[1]), out.dtype)
    threads.blas_pool_rows(
        blocks, a2d.size * threads.LIGHT_ELEMENT_WORK, lambda b0, b1: kernel(*args, sums, b0, b1)
    )
    ordered_sum(sums, out)


def bias_activation_backward(y, dy, activation, dz, db):
    """dz = dy * activation'(.) taken from the saved output y, and db = sum of dz over every axis
    but the last (db None: no bias). y, dy, dz (..., F), db (F,). Writes dz and db."""
    F = y.shape[-1]
    # an activation without a bias is rare: a throwaway accumulator costs nothing that matters
    acc = np.empty(F, y.dtype) if db is None else db
    y2, dy2, dz2 = y.reshape(-1, F), dy.reshape(-1, F), dz.reshape(-1, F)
    _blocked_column_sums(y2, acc, _activation_grad_blocks, y2, dy2, CODES[activation], dz2)


def bias_backward(dy, db):
    """db (F,) = sum of dy (..., F) over every axis but the last. Writes db."""
    dy2 = dy.reshape(-1, dy.shape[-1])
    _blocked_column_sums(dy2, db, _column_sum_blocks, dy2)
