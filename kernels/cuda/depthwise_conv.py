"""Depthwise convolution on the device, channels-last (NHWC; 1-D convolutions arrive as H = 1
views), names, signatures, geometry and layouts as kernels/cpu/depthwise_conv.py: weights
(KH, KW, C, M), output channel c * M + m from input channel c.

One thread per output cell (forward, with bias and activation fused) and per input cell (the
input gradient gathers the output cells that read it: no two threads write one cell, no
atomics); the weight gradient is one block per weight, its threads striding over the output
cells and meeting in a shared-memory sum."""

from numba import cuda, float64

from graphengine_kernels.cuda.activations import fused_value
from graphengine_kernels.cuda.bias import CODES, bias_arg
from graphengine_kernels.cuda.launch import THREADS, elementwise, per_block
from graphengine_kernels.cuda.reduce import block_sum

__all__ = [
    "depthwise_conv2d_backward_input",
    "depthwise_conv2d_backward_weight",
    "depthwise_conv2d_forward",
]


@cuda.jit(cache=True)
def depthwise_forward_kernel(x, w, sh, sw, dh, dw, ph, pw, bias, has_bias, act, y):
    """y[n, oh, ow, c*M + m] = act(bias + sum over taps of x[n, h, w, c] * w[i, j, c, m])."""
    N, OH, OW, F = y.shape
    H, W = x.shape[1], x.shape[2]
    KH, KW, M = w.shape[0], w.shape[1], w.shape[3]
    for e in range(cuda.grid(1), y.size, cuda.gridsize(1)):
        n, rest = e // (OH * OW * F), e % (OH * OW * F)
        oh, rest = rest // (OW * F), rest % (OW * F)
        ow, f = rest // F, rest % F
        c, m = f // M, f % M
        acc = bias[f] if has_bias else 0.0
        for i in range(KH):
            h = oh * sh + i * dh - ph
            if h < 0 or h >= H:
                continue
            for j in range(KW):
                col = ow * sw + j * dw - pw
                if 0 <= col < W:
                    acc += x[n, h, col, c] * w[i, j, c, m]
        y[n, oh, ow, f] = fused_value(acc, act)


@cuda.jit(cache=True)
def depthwise_input_grad_kernel(dz, w, sh, sw, dh, dw, ph, pw, dx):
    """dx[n, h, w, c] = sum over the taps and multipliers that read it of dz * w."""
    N, H, W, C = dx.shape
    OH, OW = dz.shape[1], dz.shape[2]
    KH, KW, M = w.shape[0], w.shape[1], w.shape[3]
    for e in range(cuda.grid(1), dx.size, cuda.gridsize(1)):
        n, rest = e // (H * W * C), e % (H * W * C)
        h, rest = rest // (W * C), rest % (W * C)
        col, c = rest // C, rest % C
        acc = 0.0
        for i in range(KH):
            top = h + ph - i * dh
            if top < 0 or top % sh != 0 or top // sh >= OH:
                continue
            oh = top // sh
            for j in range(KW):
                left = col + pw - j * dw
                if left < 0 or left % sw != 0 or left // sw >= OW:
                    continue
                ow = left // sw
                for m in range(M):
                    acc += dz[n, oh, ow, c * M + m] * w[i, j, c, m]
        dx[n, h, col, c] = acc


@cuda.jit(cache=True)
def depthwise_weight_grad_kernel(x, dz, sh, sw, dh, dw, ph, pw, dwt):
    """dwt[i, j, c, m] = sum over output cells of dz[n, oh, ow, c*M + m] * x[n, h, w, c]."""
    buf = cuda.shared.array(THREADS, float64)
    tid = cuda.threadIdx.x
    KH, KW, C, M = dwt.shape
    N, OH, OW = dz.shape[0], dz.shape[1], dz.shape[2]
    H, W = x.shape[1], x.shape[2]
    cells = N * OH * OW
    for e in range(cuda.blockIdx.x, dwt.size, cuda.gridDim.x):
        i, rest = e // (KW * C * M), e % (KW * C * M)
        j, rest = rest // (C * M), rest % (C * M)
        c, m = rest // M, rest % M
        acc = 0.0
        for p in range(tid, cells, THREADS):
            n, cell = p // (OH * OW), p % (OH * OW)
            oh, ow = cell // OW, cell % OW
            h, col = oh * sh + i * dh - ph, ow * sw + j * dw - pw
            if 0 <= h < H and 0 <= col < W:
                acc += x[n, h, col, c] * dz[n, oh, ow, c * M + m]
        total = block_sum(buf, acc)
        if tid == 0:
            dwt[i, j, c, m] = total


def _geometry(strides, dilation, pads):
    (sh, sw), (dh, dw), (ph, pw) = strides, dilation, pads
    return sh, sw, dh, dw, ph, pw


def depthwise_conv2d_forward(x, w, bias, activation, strides, dilation, pads, y):
    """y (N, OH, OW, C*M) = activation(depthwise_conv(x, w) + bias) for x (N, H, W, C),
    w (KH, KW, C, M), bias (C*M,) or None. Writes y."""
    b, has_bias = bias_arg(bias, y.dtype)
    geo = _geometry(strides, dilation, pads)
    elementwise(depthwise_forward_kernel, y.size)(x, w, *geo, b, has_bias, CODES[activation], y)


def depthwise_conv2d_backward_input(dz, w, strides, dilation, pads, dx):
    """dx (N, H, W, C) = the adjoint of depthwise_conv2d_forward's linear part applied to
    dz (N, OH, OW, C*M). Writes dx."""
    geo = _geometry(strides, dilation, pads)
    elementwise(depthwise_input_grad_kernel, dx.size)(dz, w, *geo, dx)


def depthwise_conv2d_backward_weight(x, dz, strides, dilation, pads, dw):
    """dw (KH, KW, C, M) = the weight gradient of depthwise_conv2d_forward from x (N, H, W, C)
    and dz (N, OH, OW, C*M). Writes dw."""
    geo = _geometry(strides, dilation, pads)
    per_block(depthwise_weight_grad_kernel, dw.size)(x, dz, *geo, dw)
