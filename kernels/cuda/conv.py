"""Convolution on the device, channels-last (NHWC; 1-D convolutions arrive as H = 1 views), as
im2col + the tiled GEMM, with bias and activation fused into the pass that writes the output
(bias.py's).
Geometry, weight layout (KH, KW, C/G, F) and column layout (G, N*OH*OW, KH*KW*C/G) are those of
kernels/cpu/conv.py. col2im gathers (each input cell sums the column entries that read it), so
no two threads write one cell and no atomics are needed."""

from numba import cuda

from kernels.cuda.activations import fused_value
from kernels.cuda.bias import CODES, bias_activation, bias_arg
from kernels.cuda.launch import elementwise
from kernels.cuda.matmul import gemm

__all__ = ["conv2d_backward_input", "conv2d_backward_weight", "conv2d_forward"]


@cuda.jit(cache=True)
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


@cuda.jit(cache=True)
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
        dx[n, h, w, c] = fused_value(acc, act)


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
    b, has_bias = bias_arg(bias, dx.dtype)
    elementwise(col2im_kernel, dx.size)(
        dcols, KH, KW, *geo, OH, OW, b, has_bias, CODES[activation], dx
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
