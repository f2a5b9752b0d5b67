"""Depthwise convolution kernels, channels-last (NHWC; 1-D convolutions arrive as H = 1 views):
each input channel c convolved with its own M = depth_multiplier kernels into output channels
c * M + m (Keras's order), with bias and activation fused into the pass that writes the output.

Direct loops, no im2col: a depthwise tap is one multiply-add per channel, so columns would copy
KH*KW times the input to feed products BLAS cannot batch. The loops run over whole output rows
(n, oh), channels innermost: for M = 1 each tap is a contiguous multiply-add over C channels,
which vectorizes. Rows are independent, so they run in ranges on OpenBLAS's own threads where
the work pays for them (threads.blas_pool_rows; on Numba's pool, whose threads contend with
BLAS's for the cores, a MobileNet block step took 40 ms against 30 on one thread).

Geometry as kernels/cpu/conv.py: output cell o reads input cell o * stride + t * dilation - pad
for taps t, cells outside the input read as zero. Weight layout (KH, KW, C, M), seen flat as
(KH, KW, F) with F = C * M: its last axis is the output channel's. Arrays are C-contiguous
float32 or float64.
"""

import numpy as np
from numba import njit

from graphengine_kernels.cpu import threads
from graphengine_kernels.cpu.bias import CODES, bias_activation_row, bias_or_empty, ordered_sum

__all__ = [
    "depthwise_conv2d_backward_input",
    "depthwise_conv2d_backward_weight",
    "depthwise_conv2d_forward",
]

_JIT = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": {"contract"}}


@njit(inline="always")
def _tap_range(size, out, stride, offset):
    """[lo, hi): the output cells o whose tap reads input cell o * stride + offset inside
    [0, size)."""
    lo = 0 if offset >= 0 else (-offset + stride - 1) // stride
    hi = (size - 1 - offset) // stride + 1 if size - 1 - offset >= 0 else 0
    return lo, max(min(hi, out), lo)


@njit(inline="always")
def _multiply_add(acc, x, w, M):
    """acc[c * M + m] += x[c] * w[c * M + m] over one cell's channels."""
    if M == 1:
        for f in range(acc.shape[0]):
            acc[f] += x[f] * w[f]
    else:
        for c in range(x.shape[0]):
            v = x[c]
            for m in range(M):
                acc[c * M + m] += v * w[c * M + m]


@njit(inline="always")
def _reduce_multipliers(acc, dz, w, M):
    """acc[c] += sum over m of dz[c * M + m] * w[c * M + m] (the adjoint of _multiply_add)."""
    if M == 1:
        for c in range(acc.shape[0]):
            acc[c] += dz[c] * w[c]
    else:
        for c in range(acc.shape[0]):
            s = acc[c]
            for m in range(M):
                s += dz[c * M + m] * w[c * M + m]
            acc[c] = s


@njit(inline="always")
def _forward_row(x, w, bias, act, r, geo, y):
    """y[n, oh] = act(bias + sum over taps of x's cells times w) for row r = n * OH + oh;
    x (N, H, W, C), w (KH, KW, F), y (N, OH, OW, F)."""
    sh, sw, dh, dw, ph, pw = geo
    H, W, C = x.shape[1], x.shape[2], x.shape[3]
    KH, KW, F = w.shape
    OH, OW = y.shape[1], y.shape[2]
    M = F // C
    n = r // OH
    oh = r - n * OH
    out = y[n, oh]
    for ow in range(OW):
        for f in range(F):
            out[ow, f] = 0
    for i in range(KH):
        h = oh * sh + i * dh - ph
        if h < 0 or h >= H:
            continue
        src = x[n, h]
        for j in range(KW):
            lo, hi = _tap_range(W, OW, sw, j * dw - pw)
            for ow in range(lo, hi):
                _multiply_add(out[ow], src[ow * sw + j * dw - pw], w[i, j], M)
    for ow in range(OW):
        bias_activation_row(out[ow], bias, act)


@njit(inline="always")
def _input_grad_row(dz, w, r, geo, dx):
    """dx[n, h] = the sum, over the output cells that read input row r = n * H + h, of dz times
    w; dz (N, OH, OW, F), w (KH, KW, F), dx (N, H, W, C). Only row r is written: rows run at
    once without races."""
    sh, sw, dh, dw, ph, pw = geo
    H, W, C = dx.shape[1], dx.shape[2], dx.shape[3]
    KH, KW, F = w.shape
    OH, OW = dz.shape[1], dz.shape[2]
    M = F // C
    n = r // H
    h = r - n * H
    out = dx[n, h]
    for col in range(W):
        for c in range(C):
            out[col, c] = 0
    for i in range(KH):
        top = h + ph - i * dh
        if top < 0 or top % sh != 0 or top // sh >= OH:
            continue
        src = dz[n, top // sh]
        for j in range(KW):
            lo, hi = _tap_range(W, OW, sw, j * dw - pw)
            for ow in range(lo, hi):
                _reduce_multipliers(out[ow * sw + j * dw - pw], src[ow], w[i, j], M)


@njit(inline="always")
def _weight_grad_row(x, dz, r, geo, acc):
    """acc (KH, KW, F) = the weight gradient's terms of output row r = n * OH + oh. Output cells
    outermost: consecutive multiply-adds go to the KH*KW different rows of acc, so none waits on
    the one before (taps outermost chained every add to one row: 3x slower, measured)."""
    sh, sw, dh, dw, ph, pw = geo
    H, W, C = x.shape[1], x.shape[2], x.shape[3]
    KH, KW, F = acc.shape
    OH, OW = dz.shape[1], dz.shape[2]
    M = F // C
    n = r // OH
    oh = r - n * OH
    grad = dz[n, oh]
    for i in range(KH):
        for j in range(KW):
            for f in range(F):
                acc[i, j, f] = 0
    for ow in range(OW):
        for i in range(KH):
            h = oh * sh + i * dh - ph
            if h < 0 or h >= H:
                continue
            for j in range(KW):
                col = ow * sw + j * dw - pw
                if 0 <= col < W:
                    _multiply_add(acc[i, j], x[n, h, col], grad[ow], M)


@njit(inline="always")
def _weight_grad_rows(x, dz, r0, r1, geo, acc, total):
    """total (KH, KW, F) = the sum of rows r0..r1's terms, each row summed on its own in acc
    first (float32 sums of many rows keep their accuracy)."""
    KH, KW, F = total.shape
    for i in range(KH):
        for j in range(KW):
            for f in range(F):
                total[i, j, f] = 0
    for r in range(r0, r1):
        _weight_grad_row(x, dz, r, geo, acc)
        for i in range(KH):
            for j in range(KW):
                for f in range(F):
                    total[i, j, f] += acc[i, j, f]


# -- the row loops, over a range of rows (blas_pool_rows hands the ranges out) ------------------
# The weight gradient sums blocks of GRAD_BLOCK output rows on their own, then the blocks in
# order: the same numbers however the blocks were shared among threads.
GRAD_BLOCK = 16


@njit(**_JIT)
def _forward_rows(x, w, bias, act, geo, y, r0, r1):
    for r in range(r0, r1):
        _forward_row(x, w, bias, act, r, geo, y)


@njit(**_JIT)
def _input_grad_rows(dz, w, geo, dx, r0, r1):
    for r in range(r0, r1):
        _input_grad_row(dz, w, r, geo, dx)


@njit(**_JIT)
def _weight_grad_blocks(x, dz, geo, terms, partials, b0, b1):
    rows = dz.shape[0] * dz.shape[1]
    for b in range(b0, b1):
        r0 = b * GRAD_BLOCK
        _weight_grad_rows(x, dz, r0, min(r0 + GRAD_BLOCK, rows), geo, terms[b], partials[b])


def _geometry(strides, dilation, pads):
    (sh, sw), (dh, dw), (ph, pw) = strides, dilation, pads
    return (sh, sw, dh, dw, ph, pw)


def depthwise_conv2d_forward(x, w, bias, activation, strides, dilation, pads, y):
    """y (N, OH, OW, C*M) = activation(depthwise_conv(x, w) + bias) for x (N, H, W, C),
    w (KH, KW, C, M), bias (C*M,) or None; strides, dilation, pads are (h, w) pairs. Output
    channel c * M + m is input channel c convolved with w[..., c, m]. Writes y."""
    KH, KW, C, M = w.shape
    args = (x, w.reshape(KH, KW, C * M), bias_or_empty(bias, y.dtype), CODES[activation],
            _geometry(strides, dilation, pads), y)  # fmt: skip
    threads.blas_pool_rows(
        y.shape[0] * y.shape[1], y.size * KH * KW, lambda r0, r1: _forward_rows(*args, r0, r1)
    )


def depthwise_conv2d_backward_input(dz, w, strides, dilation, pads, dx):
    """dx (N, H, W, C) = the adjoint of depthwise_conv2d_forward's linear part applied to
    dz (N, OH, OW, C*M). Writes dx."""
    KH, KW, C, M = w.shape
    args = (dz, w.reshape(KH, KW, C * M), _geometry(strides, dilation, pads), dx)
    threads.blas_pool_rows(
        dx.shape[0] * dx.shape[1], dz.size * KH * KW, lambda r0, r1: _input_grad_rows(*args, r0, r1)
    )


def depthwise_conv2d_backward_weight(x, dz, strides, dilation, pads, dw):
    """dw (KH, KW, C, M) = the weight gradient of depthwise_conv2d_forward: the sum over every
    output cell of dz (N, OH, OW, C*M) times the input cell each tap read from x (N, H, W, C).
    Blocks of GRAD_BLOCK output rows sum into partials of their own, added up in order at the
    end. Writes dw."""
    KH, KW, C, M = dw.shape
    dw3, geo = dw.reshape(KH, KW, C * M), _geometry(strides, dilation, pads)
    rows = dz.shape[0] * dz.shape[1]
    blocks = -(-rows // GRAD_BLOCK)
    scratch = np.empty((2, blocks) + dw3.shape, dw.dtype)  # each block's row terms, partials
    threads.blas_pool_rows(
        blocks,
        dz.size * KH * KW,
        lambda b0, b1: _weight_grad_blocks(x, dz, geo, scratch[0], scratch[1], b0, b1),
    )
    total = np.empty(dw3.size, dw.dtype)
    ordered_sum(scratch[1].reshape(blocks, dw3.size), total)  # no block: zeros
    dw3[...] = total.reshape(dw3.shape)
