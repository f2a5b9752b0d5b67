"""Convolution on the device, channels-last (NDHWC; 2-D convolutions arrive as D = 1 views and 1-D
ones as D = H = 1 views), as im2col + the tiled GEMM, with bias and activation fused into the
pass that writes the output (bias.py's).
Geometry, weight layout (KD, KH, KW, C/G, F) and column layout (G, N*OD*OH*OW, KD*KH*KW*C/G) are
those of kernels/cpu/conv.py. col2im gathers (each input cell sums the column entries that read
it), so no two threads write one cell and no atomics are needed. The conv2d_* launchers are the
rank-2 forms of the conv3d_* ones."""

from numba import cuda

from graphengine_kernels.cuda.activations import fused_value
from graphengine_kernels.cuda.bias import CODES, bias_activation, bias_arg
from graphengine_kernels.cuda.elementwise import add
from graphengine_kernels.cuda.launch import elementwise
from graphengine_kernels.cuda.matmul import gemm

__all__ = [
    "conv3d_backward_input",
    "conv3d_backward_weight",
    "conv3d_forward",
]


@cuda.jit(device=True)
def _source(o, t, stride, dilation, pad, size):
    """The input cell output cell o reads at tap t, or -1 in the padding."""
    v = o * stride + t * dilation - pad
    return v if 0 <= v < size else -1


@cuda.jit(cache=True)
def im2col_kernel(x, geo, OD, OH, OW, cols):
    """cols[g, (n, od, oh, ow), (a, i, j, c)] = x[n, od*sd + a*dd - pd, oh*sh + i*dh - ph,
    ow*sw + j*dw - pw, g*C/G + c], 0 outside x; x (N, D, H, W, C); geo as _geometry's."""
    kd, kh, kw, sd, sh, sw, dd, dh, dw, pd, ph, pw = geo
    G, M, K = cols.shape
    D, H, W, C = x.shape[1], x.shape[2], x.shape[3], x.shape[4]
    cg = C // G
    for e in range(cuda.grid(1), G * M * K, cuda.gridsize(1)):
        g, rest = e // (M * K), e % (M * K)
        m, t = rest // K, rest % K
        n, cell = m // (OD * OH * OW), m % (OD * OH * OW)
        od, cell = cell // (OH * OW), cell % (OH * OW)
        oh, ow = cell // OW, cell % OW
        a, tap = t // (kh * kw * cg), t % (kh * kw * cg)
        i, tap = tap // (kw * cg), tap % (kw * cg)
        j, c = tap // cg, tap % cg
        d = _source(od, a, sd, dd, pd, D)
        h = _source(oh, i, sh, dh, ph, H)
        w = _source(ow, j, sw, dw, pw, W)
        if d >= 0 and h >= 0 and w >= 0:
            cols[g, m, t] = x[n, d, h, w, g * cg + c]
        else:
            cols[g, m, t] = 0


@cuda.jit(device=True)
def _output_cell(v, t, stride, dilation, pad, out):
    """The output cell whose tap t reads input cell v, or -1 if none does."""
    top = v + pad - t * dilation
    if top < 0 or top % stride != 0 or top // stride >= out:
        return -1
    return top // stride


@cuda.jit(cache=True)
def col2im_kernel(dcols, geo, OD, OH, OW, bias, has_bias, act, dx):
    """dx[n, d, h, w, c] = act(bias + sum of the column entries copied from that cell)."""
    kd, kh, kw, sd, sh, sw, dd, dh, dw, pd, ph, pw = geo
    N, D, H, W, C = dx.shape
    G = dcols.shape[0]
    cg = C // G
    for e in range(cuda.grid(1), dx.size, cuda.gridsize(1)):
        n, rest = e // (D * H * W * C), e % (D * H * W * C)
        d, rest = rest // (H * W * C), rest % (H * W * C)
        h, rest = rest // (W * C), rest % (W * C)
        w, c = rest // C, rest % C
        g, cc = c // cg, c % cg
        acc = bias[c] if has_bias else 0.0
        for a in range(kd):
            od = _output_cell(d, a, sd, dd, pd, OD)
            if od < 0:
                continue
            for i in range(kh):
                oh = _output_cell(h, i, sh, dh, ph, OH)
                if oh < 0:
                    continue
                for j in range(kw):
                    ow = _output_cell(w, j, sw, dw, pw, OW)
                    if ow >= 0:
                        m = ((n * OD + od) * OH + oh) * OW + ow
                        acc += dcols[g, m, ((a * kh + i) * kw + j) * cg + cc]
        dx[n, d, h, w, c] = fused_value(acc, act)


def _geometry(w, strides, dilation, pads):
    """(kd, kh, kw, sd, sh, sw, dd, dh, dw, pd, ph, pw), one tuple for the kernels."""
    return (*w.shape[:3], *strides, *dilation, *pads)


def _tiles(cols, N, cells):
    """(n0, n1, columns) for each tile of images n0..n1 that the scratch `cols` (G, T*cells, K)
    holds T of: a C-contiguous (G, (n1 - n0) * cells, K) view of its first elements."""
    G, rows, K = cols.shape
    T = max(rows // cells, 1)
    flat = cols.reshape(cols.size)
    for n0 in range(0, N, T):
        n1 = min(n0 + T, N)
        m = (n1 - n0) * cells
        yield n0, n1, cols if m == rows else flat[: G * m * K].reshape(G, m, K)


def conv3d_forward(x, w, bias, activation, strides, dilation, pads, cols, y):
    """y (N, OD, OH, OW, F) = activation(conv(x, w) + bias) for x (N, D, H, W, C),
    w (KD, KH, KW, C/G, F), bias (F,) or None; (d, h, w) triples. `cols` (G, T*OD*OH*OW,
    KD*KH*KW*C/G) is scratch for the im2col columns of T images at a time; None for a 1x1
    stride-1 kernel with one group (x is its own column matrix). Writes y."""
    F, C = w.shape[-1], x.shape[-1]
    N, OD, OH, OW, _ = y.shape
    y2d, w2d = y.reshape(y.size // F, F), w.reshape(w.size // F, F)
    if cols is None:
        gemm(x.reshape(x.size // C, C), w2d, y2d)
    else:
        geo, cells = _geometry(w, strides, dilation, pads), OD * OH * OW
        fg = F // cols.shape[0]
        for n0, n1, tile in _tiles(cols, N, cells):
            elementwise(im2col_kernel, tile.size)(x[n0:n1], geo, OD, OH, OW, tile)
            rows = y2d[n0 * cells : n1 * cells]
            for g in range(tile.shape[0]):
                gemm(tile[g], w2d[:, g * fg : (g + 1) * fg], rows[:, g * fg : (g + 1) * fg])
    bias_activation(y2d, bias, activation)


def conv3d_backward_input(dz, w, bias, activation, strides, dilation, pads, dcols, dx):
    """dx (N, D, H, W, C) = the adjoint of conv3d_forward's linear part applied to dz
    (N, OD, OH, OW, F) (dz @ w^T per group, then col2im, a tile of images at a time), bias /
    activation fused into the pass writing dx (for a transposed convolution). dcols: scratch
    like conv3d_forward's cols, or None. Writes dx."""
    F, C = w.shape[-1], dx.shape[-1]
    N, OD, OH, OW, _ = dz.shape
    w2d, dz2d = w.reshape(w.size // F, F), dz.reshape(dz.size // F, F)
    if dcols is None:
        dx2d = dx.reshape(dx.size // C, C)
        gemm(dz2d, w2d, dx2d, tb=True)
        bias_activation(dx2d, bias, activation)
        return
    G = dcols.shape[0]
    fg, cells = F // G, OD * OH * OW
    geo = _geometry(w, strides, dilation, pads)
    b, has_bias = bias_arg(bias, dx.dtype)
    for n0, n1, tile in _tiles(dcols, N, cells):
        rows = dz2d[n0 * cells : n1 * cells]
        for g in range(G):
            gemm(rows[:, g * fg : (g + 1) * fg], w2d[:, g * fg : (g + 1) * fg], tile[g], tb=True)
        images = dx[n0:n1]
        elementwise(col2im_kernel, images.size)(
            tile, geo, OD, OH, OW, b, has_bias, CODES[activation], images
        )


def conv3d_backward_weight(x, strides, dilation, pads, cols, dz, dw):
    """dw (KD, KH, KW, C/G, F) = cols(x)^T @ dz per group, the weight gradient of
    conv3d_forward(x, ...), dz (N, OD, OH, OW, F): the columns of x built again, a tile at a
    time, in the scratch `cols`, and the tiles' products added in order; `cols` None for a 1x1
    stride-1 kernel with one group (x is its own column matrix). Writes dw."""
    F, C = dw.shape[-1], x.shape[-1]
    dw2d, dz2d = dw.reshape(dw.size // F, F), dz.reshape(dz.size // F, F)
    if cols is None:
        gemm(x.reshape(x.size // C, C), dz2d, dw2d, ta=True)
        return
    N, OD, OH, OW, _ = dz.shape
    geo, cells = _geometry(dw, strides, dilation, pads), OD * OH * OW
    fg = F // cols.shape[0]
    part = None  # a later tile's product, added to the sum of those before it
    for i, (n0, n1, tile) in enumerate(_tiles(cols, N, cells)):
        elementwise(im2col_kernel, tile.size)(x[n0:n1], geo, OD, OH, OW, tile)
        rows = dz2d[n0 * cells : n1 * cells]
        if i == 1:
            part = cuda.device_array_like(dw2d)
        out = dw2d if i == 0 else part
        for g in range(tile.shape[0]):
            gemm(tile[g], rows[:, g * fg : (g + 1) * fg], out[:, g * fg : (g + 1) * fg], ta=True)
        if i:
            add(dw2d, part, dw2d)


# -- rank 2 (NHWC): D = 1 views ------------------------------------------------------------------
