"""Convolution on the device, channels-last (NHWC; 1-D convolutions arrive as H = 1 views), as
im2col + the tiled GEMM, with bias and activation fused into the pass that writes the output.
Geometry, weight layout (KH, KW, C/G, F) and column layout (G, N*OH*OW, KH*KW*C/G) are those of
kernels/cpu/conv.py. col2im gathers (each input cell sums the column entries that read it), so
no two threads write one cell and no atomics are needed."""

import math

import numpy as np
from numba import cuda

from kernels.cuda.activations import (
    relu_derivative,
    relu_value,
    sigmoid_derivative,
    sigmoid_value,
    tanh_derivative,
)
from kernels.cuda.launch import elementwise, flat
from kernels.cuda.matmul import gemm

ACTIVATIONS = {"linear": 0, "relu": 1, "sigmoid": 2, "tanh": 3}

__all__ = [
    "bias_activation",
    "conv2d_backward_input",
    "conv2d_backward_weight",
    "conv2d_forward",
    "conv_backward_bias",
    "conv_backward_bias_activation",
]


@cuda.jit(device=True)
def activate(v, act):
    """act(v) with the standalone activations' formulas (relu: slope 0, no top, threshold 0)."""
    if act == 1:
        return relu_value(v, 0.0, math.inf, 0.0)
    if act == 2:
        return sigmoid_value(v)
    if act == 3:
        return math.tanh(v)
    return v


@cuda.jit(device=True)
def derivative(y, act):
    """act'(x) written with y = act(x), as the standalone activations' derivatives."""
    if act == 1:
        return relu_derivative(y, 0.0, math.inf, 0.0)
    if act == 2:
        return sigmoid_derivative(y)
    if act == 3:
        return tanh_derivative(y)
    return 1.0


@cuda.jit
def bias_activation_kernel(y, bias, has_bias, act):
    F = y.shape[1]
    for i in range(cuda.grid(1), y.shape[0] * F, cuda.gridsize(1)):
        r, f = i // F, i % F
        v = y[r, f] + bias[f] if has_bias else y[r, f]
        y[r, f] = activate(v, act)


def _bias(bias, dtype):
    from kernels.cuda.launch import device

    return (device(np.zeros(1, dtype)), False) if bias is None else (bias, True)


def bias_activation(y2d, bias, activation):
    """y2d (M, F) = activation(y2d + bias) in place; bias (F,) or None."""
    act = ACTIVATIONS[activation]
    if bias is None and act == 0:
        return
    elementwise(bias_activation_kernel, y2d.size)(y2d, *_bias(bias, y2d.dtype), act)


@cuda.jit
def activation_grad_kernel(y, dy, act, dz):
    for i in range(cuda.grid(1), y.size, cuda.gridsize(1)):
        dz[i] = dy[i] * derivative(y[i], act)


def conv_backward_bias_activation(y, dy, activation, dz, db):
    """dz = dy * activation'(.) taken from the saved output y, and db = sum of dz over every axis
    but the last (db None: no bias). y, dy, dz (..., F), db (F,)."""
    act = ACTIVATIONS[activation]
    elementwise(activation_grad_kernel, y.size)(flat(y), flat(dy), act, flat(dz))
    if db is not None:
        conv_backward_bias(dz, db)


def conv_backward_bias(dy, db):
    """db (F,) = sum of dy (..., F) over every axis but the last."""
    from kernels.cuda.reduce import reduce_to

    F = dy.shape[-1]
    reduce_to(dy.reshape(dy.size // F, F), (1, F), db.reshape(1, F), "sum", 1.0)


@cuda.jit
def im2col_kernel(x, kh, kw, sh, sw, dh, dw, ph, pw, OH, OW, cols):
    """cols[g, (n, oh, ow), (i, j, c)] = x[n, oh*sh + i*dh - ph, ow*sw + j*dw - pw, g*C/G + c],
    0 outside x; x (N, H, W, C)."""
    G, M, K = cols.shape
    H, W, C = x.shape[1], x.shape[2], x.shape[3]
    cg = C // G
    for e in range(cuda.grid(1), G * M * K, cuda.gridsize(1)):
        g, rest = e // (M * K), e % (M * K)
        m, t = rest // K, rest % K
        n, cell = m // (OH * OW), m % (OH * OW)
        oh, ow = cell // OW, cell % OW
        i, rest2 = t // (kw * cg), t % (kw * cg)
        j, c = rest2 // cg, rest2 % cg
        h, w = oh * sh + i * dh - ph, ow * sw + j * dw - pw
        if 0 <= h < H and 0 <= w < W:
            cols[g, m, t] = x[n, h, w, g * cg + c]
        else:
            cols[g, m, t] = 0


@cuda.jit
def col2im_kernel(dcols, kh, kw, sh, sw, dh, dw, ph, pw, OH, OW, bias, has_bias, act, dx):
    """dx[n, h, w, c] = act(bias + sum of the column entries copied from that cell)."""
    N, H, W, C = dx.shape
    G = dcols.shape[0]
    cg = C // G
    for e in range(cuda.grid(1), dx.size, cuda.gridsize(1)):
        n, rest = e // (H * W * C), e % (H * W * C)
        h, rest = rest // (W * C), rest % (W * C)
        w, c = rest // C, rest % C
        g, cc = c // cg, c % cg
        acc = bias[c] if has_bias else 0.0
        for i in range(kh):
            top = h + ph - i * dh
            if top < 0 or top % sh != 0 or top // sh >= OH:
                continue
            oh = top // sh
            for j in range(kw):
                left = w + pw - j * dw
                if left < 0 or left % sw != 0 or left // sw >= OW:
                    continue
                ow = left // sw
                acc += dcols[g, (n * OH + oh) * OW + ow, (i * kw + j) * cg + cc]
        dx[n, h, w, c] = activate(acc, act)


def _geometry(strides, dilation, pads):
    (sh, sw), (dh, dw), (ph, pw) = strides, dilation, pads
    return sh, sw, dh, dw, ph, pw


def conv2d_forward(x, w, bias, activation, strides, dilation, pads, cols, y):
    """y (N, OH, OW, F) = activation(conv(x, w) + bias) for x (N, H, W, C), w (KH, KW, C/G, F),
    bias (F,) or None. `cols` (G, N*OH*OW, KH*KW*C/G) receives the im2col columns; None for a
    1x1 stride-1 kernel with one group (x is its own column matrix). Writes y (and cols)."""
    KH, KW, _, F = w.shape
    N, OH, OW, _ = y.shape
    if cols is None:
        a = x.reshape(1, x.size // x.shape[3], x.shape[3])
    else:
        geo = _geometry(strides, dilation, pads)
        elementwise(im2col_kernel, cols.size)(x, KH, KW, *geo, OH, OW, cols)
        a = cols
    y2d, w2d = y.reshape(N * OH * OW, F), w.reshape(w.size // F, F)
    fg = F // a.shape[0]
    for g in range(a.shape[0]):
        gemm(a[g], w2d[:, g * fg : (g + 1) * fg], y2d[:, g * fg : (g + 1) * fg])
    bias_activation(y2d, bias, activation)


def conv2d_backward_input(dz, w, bias, activation, strides, dilation, pads, dcols, dx):
    """dx (N, H, W, C) = the adjoint of conv2d_forward's linear part applied to dz (N, OH, OW, F)
    (dz @ w^T per group, then col2im), bias / activation fused into the pass writing dx (for a
    transposed convolution). dcols: scratch like conv2d_forward's cols, or None. Writes dx."""
    KH, KW, _, F = w.shape
    N, OH, OW, _ = dz.shape
    w2d, dz2d = w.reshape(w.size // F, F), dz.reshape(N * OH * OW, F)
    if dcols is None:
        dx2d = dx.reshape(dx.size // dx.shape[3], dx.shape[3])
        gemm(dz2d, w2d, dx2d, tb=True)
        bias_activation(dx2d, bias, activation)
        return
    G = dcols.shape[0]
    fg = F // G
    for g in range(G):
        gemm(dz2d[:, g * fg : (g + 1) * fg], w2d[:, g * fg : (g + 1) * fg], dcols[g], tb=True)
    geo = _geometry(strides, dilation, pads)
    b, has_bias = _bias(bias, dx.dtype)
    elementwise(col2im_kernel, dx.size)(
        dcols, KH, KW, *geo, OH, OW, b, has_bias, ACTIVATIONS[activation], dx
    )


def conv2d_backward_weight(cols, dz, dw):
    """dw (KH, KW, C/G, F) = cols^T @ dz per group: `cols` are conv2d_forward's columns (G, M,
    K), or, for a 1x1 stride-1 kernel, its input x; dz (..., F) holds the M output cells."""
    F = dw.shape[-1]
    dw2d, dz2d = dw.reshape(dw.size // F, F), dz.reshape(dz.size // F, F)
    if cols.ndim == 4:
        cols = cols.reshape(1, cols.size // cols.shape[3], cols.shape[3])
    G = cols.shape[0]
    fg = F // G
    for g in range(G):
        gemm(cols[g], dz2d[:, g * fg : (g + 1) * fg], dw2d[:, g * fg : (g + 1) * fg], ta=True)
