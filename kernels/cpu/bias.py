"""The bias family of Dense and the convolutions: the pass that adds the bias and applies the fused
activation over a product's output (bias_activation), and its backward passes: the activation's
gradient with the bias gradient (bias_activation_backward), the bias gradient alone
(bias_backward). Arrays are (..., F), F the last axis (units or channels), C-contiguous float32
or float64; the activation is a name fused at activation_codes.BIAS.

Single-threaded, as the convolution kernels (conv.py says why).
"""

import numpy as np
from numba import njit

from graphengine_kernels.activation_codes import BIAS, LINEAR, codes
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


@njit(cache=True)
def bias_activation_rows(y, bias, act):
    """y[r] = act(y[r] + bias) for every row of y (M, F); bias (F,) or empty."""
    for r in range(y.shape[0]):
        bias_activation_row(y[r], bias, act)


def bias_activation(y2d, bias, activation):
    """y2d (M, F) = activation(y2d + bias) in place; bias (F,) or None."""
    act = CODES[activation]
    if bias is None and act == LINEAR:
        return
    bias_activation_rows(y2d, bias_or_empty(bias, y2d.dtype), act)


@njit(cache=True)
def _activation_grad(y, dy, act, dz, db, block):
    """dz = dy * act'(x) from y = act(x) for (M, F) arrays; db (F,) = column sums of dz, summed
    in blocks of SUM_BLOCK rows in `block` (F,), scratch (float32 sums of ~1e5 rows then keep
    ~1e-6 relative error rather than ~1e-5). Row views keep every inner index 0-based (no
    wraparound selects in the vector loop). Scratch comes from the caller and zeroing is a loop:
    np.zeros and slice assignment inside a kernel compile implementations of their own, a
    fifth of a first Dense step's compiling (benchmarks/NOTES.md)."""
    M, F = y.shape
    for f in range(F):
        db[f] = 0
    for r0 in range(0, M, SUM_BLOCK):
        for f in range(F):
            block[f] = 0
        for r in range(r0, min(r0 + SUM_BLOCK, M)):
            derivative_row(y[r], dy[r], act, dz[r], block, True)
        for f in range(F):
            db[f] += block[f]


def bias_activation_backward(y, dy, activation, dz, db):
    """dz = dy * activation'(.) taken from the saved output y, and db = sum of dz over every axis
    but the last (db None: no bias). y, dy, dz (..., F), db (F,). Writes dz and db."""
    F = y.shape[-1]
    # an activation without a bias is rare: a throwaway accumulator costs nothing that matters
    acc = np.empty(F, y.dtype) if db is None else db
    block = np.empty(F, acc.dtype)
    _activation_grad(y.reshape(-1, F), dy.reshape(-1, F), CODES[activation], dz.reshape(-1, F), acc,
                     block)  # fmt: skip


@njit(cache=True)
def _column_sums(a, out, block):
    """out (F,) = sum of the rows of a (M, F), blocked in `block` (F,) as _activation_grad's
    (3x faster than np.sum(axis=0) on (43264, 32) float32, measured)."""
    M, F = a.shape
    for f in range(F):
        out[f] = 0
    for r0 in range(0, M, SUM_BLOCK):
        for f in range(F):
            block[f] = 0
        for r in range(r0, min(r0 + SUM_BLOCK, M)):
            row = a[r]
            for f in range(F):
                block[f] += row[f]
        for f in range(F):
            out[f] += block[f]


def bias_backward(dy, db):
    """db (F,) = sum of dy (..., F) over every axis but the last. Writes db."""
    _column_sums(dy.reshape(-1, dy.shape[-1]), db, np.empty(dy.shape[-1], db.dtype))
