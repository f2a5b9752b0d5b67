"""Convolution kernels, channels-last (NDHWC; 2-D convolutions arrive as D = 1 views and 1-D ones
as D = H = 1 views), with bias and activation fused into the pass that writes the output
(bias.py's).

im2col + BLAS: the im2col pass copies every receptive field into a row of a column matrix, one
(N*OD*OH*OW, KD*KH*KW*C) @ (KD*KH*KW*C, F) product (OpenBLAS) convolves, and the bias +
activation pass runs over its output. The input gradient is dz @ w^T followed by col2im; the
weight gradient builds the columns again (cols^T @ dz). The columns live in a scratch that holds
a tile of T images (the op sizes it, graphengine/ops/conv.py), filled and used one tile at a
time, so no column matrix of the whole batch is kept from the forward pass to the backward one
(a CNN step's memory went 29.7 -> MB, benchmarks/NOTES.md). A 1x1 stride-1 kernel skips
im2col: the input is its own column matrix. Direct Numba loops were measured slower
(benchmarks/NOTES.md).

Threads: BLAS's. The Numba passes (im2col, col2im, the bias passes) split their rows over
OpenBLAS's own workers (threads.blas_pool_rows) where there are enough; on Numba's pool they
measured slower, and fell apart on a busy machine (benchmarks/NOTES.md).

Geometry (per spatial axis): output cell o reads input cells o * stride + t * dilation - pad for
taps t; cells outside the input read as zero. `pad` is the padding before the first cell and
the arrays' sizes fix the rest, so the same kernels serve "valid", "same" (the odd cell at the
end, as TensorFlow), "causal" and transposed convolutions (the adjoint of a convolution).

Weight layout (KD, KH, KW, C/G, F): as a matrix (KD*KH*KW*C/G, F) its rows run (kd, kh, kw, c),
the order of an im2col row, so no weight is ever transposed in memory. Columns are (G, M, K) with
M = N*OD*OH*OW output cells and K = KD*KH*KW*C/G taps. Arrays are C-contiguous float32 or float64.
The conv2d_* functions are the rank-2 (NHWC, (h, w) pairs) forms of the conv3d_* ones.
"""

import numpy as np
from numba import njit, uint64

from graphengine_kernels.cpu import threads
from graphengine_kernels.cpu.bias import CODES, bias_activation, bias_activation_rows, bias_or_empty
from graphengine_kernels.cpu.matmul import matmul_at_b

__all__ = [
    "conv3d_backward_input",
    "conv3d_backward_weight",
    "conv3d_forward",
]


# -- im2col / col2im -------------------------------------------------------------------------------
# x and dx are viewed (N, D, H, W*C): with dilation 1 along W and one group, the KW taps of a
# kernel row that fall inside the input are KW*C consecutive elements of x and of a column row,
# moved as one run. Offsets into runs are unsigned: Numba then emits no negative-index wraparound
# select per element, and the run loops vectorize (4x faster measured). `geo` is the tuple
# (kd, kh, kw, sd, sh, sw, dd, dh, dw, pd, ph, pw).


@njit(inline="always")
def _copy_run(src, s0, dst, row, d0, n):
    """dst[row, d0 : d0 + n] = src[s0 : s0 + n] (src 1-D, dst 2-D), or 0 if s0 < 0: padding."""
    a, b = uint64(s0), uint64(d0)
    if s0 < 0:
        for t in range(n):
            dst[row, b + uint64(t)] = 0.0
    else:
        for t in range(n):
            dst[row, b + uint64(t)] = src[a + uint64(t)]


@njit(inline="always")
def _add_run(src, s0, dst, d0, n):
    """dst[d0 : d0 + n] += src[s0 : s0 + n] for 1-D views."""
    a, b = uint64(s0), uint64(d0)
    for t in range(n):
        dst[b + uint64(t)] += src[a + uint64(t)]


@njit(inline="always")
def _im2col_taps(src, inside, rows, base, C, cg, g, kw, sw, dw, pw, W):
    """The KW taps of one kernel row for every ow of a column block: from the input row `src`
    (W*C,), or zeros when that row lies in the padding (`inside` False)."""
    for ow in range(rows.shape[0]):
        w0 = ow * sw - pw
        if not inside:
            _copy_run(src, -1, rows, ow, base, kw * cg)
        elif cg == C and dw == 1 and w0 >= 0 and w0 + kw <= W:
            _copy_run(src, w0 * C, rows, ow, base, kw * C)
        else:
            for j in range(kw):
                w = w0 + j * dw
                start = w * C + g * cg if 0 <= w < W else -1
                _copy_run(src, start, rows, ow, base + j * cg, cg)


@njit(cache=True)
def _im2col_row(x, r, C, geo, OD, OH, OW, cols):
    """cols[g, (n, od, oh, ow), (a, i, j, c)] = x[n, od*sd + a*dd - pd, oh*sh + i*dh - ph,
    ow*sw + j*dw - pw, g*C/G + c] (0 outside x) for all ow of output row r = (n*OD + od)*OH + oh;
    x (N, D, H, W*C)."""
    kd, kh, kw, sd, sh, sw, dd, dh, dw, pd, ph, pw = geo
    D, H, W = x.shape[1], x.shape[2], x.shape[3] // C
    G = cols.shape[0]
    cg = C // G
    n, rest = r // (OD * OH), r % (OD * OH)
    od, oh = rest // OH, rest % OH
    for g in range(G):
        rows = cols[g, r * OW : (r + 1) * OW]  # this output row's column rows
        # kernel rows (a, i) as one loop and `inside` without a branch (&): a nested depth loop
        # or a short-circuit `and` made 2-D im2col 40% slower (measured)
        for t in range(kd * kh):
            a, i = t // kh, t % kh
            d, h = od * sd + a * dd - pd, oh * sh + i * dh - ph
            inside = (0 <= d < D) & (0 <= h < H)
            src = x[n, d if inside else 0, h if inside else 0]
            _im2col_taps(src, inside, rows, t * kw * cg, C, cg, g, kw, sw, dw, pw, W)


@njit(cache=True, nogil=True)
def _im2col(x, C, geo, OD, OH, OW, cols, r0, r1):
    """The column rows of output rows r0..r1 (of N * OD * OH)."""
    for r in range(r0, r1):
        _im2col_row(x, r, C, geo, OD, OH, OW, cols)


@njit(inline="always")
def _col2im_taps(dcols, m0, dst, base, C, cg, kw, sw, dw, pw, OW):
    """Adds the KW taps of one kernel row of every ow's column rows (m0 + ow) back into the
    input row `dst` (W*C,) they were copied from."""
    W, G = dst.shape[0] // C, dcols.shape[0]
    for ow in range(OW):
        w0 = ow * sw - pw
        for g in range(G):
            src = dcols[g, m0 + ow]
            if G == 1 and dw == 1 and w0 >= 0 and w0 + kw <= W:
                _add_run(src, base, dst, w0 * C, kw * C)
                continue
            for j in range(kw):
                w = w0 + j * dw
                if 0 <= w < W:
                    _add_run(src, base + j * cg, dst, w * C + g * cg, cg)


@njit(cache=True)
def _col2im_image(dcols, n, C, geo, OD, OH, OW, bias, act, zero, dx):
    """dx[n] = act(bias + the adjoint of im2col applied to dcols), dx (N, D, H, W*C): every column
    entry is added back to the input cell it was copied from, then the epilogue runs over the
    image while it is still in cache."""
    kd, kh, kw, sd, sh, sw, dd, dh, dw, pd, ph, pw = geo
    D, H, W = dx.shape[1], dx.shape[2], dx.shape[3] // C
    cg = C // dcols.shape[0]
    image = dx[n]
    for d in range(D):
        for h in range(H):
            for w in range(W):
                for c in range(C):
                    image[d, h, w * C + c] = bias[c] if bias.size > 0 else zero
    for od in range(OD):
        for a in range(kd):
            d = od * sd + a * dd - pd
            if d < 0 or d >= D:
                continue
            for oh in range(OH):
                for i in range(kh):
                    h = oh * sh + i * dh - ph
                    if 0 <= h < H:
                        m0 = ((n * OD + od) * OH + oh) * OW
                        base = (a * kh + i) * kw * cg
                        _col2im_taps(dcols, m0, image[d, h], base, C, cg, kw, sw, dw, pw, OW)
    # one call over the image's rows (LINEAR: a loop that compiles to nothing)
    bias_activation_rows(image.reshape(D * H, -1), bias[:0], act)


@njit(cache=True, nogil=True)
def _col2im(dcols, C, geo, OD, OH, OW, bias, act, zero, dx, n0, n1):
    """Images n0..n1 of dx."""
    for n in range(n0, n1):
        _col2im_image(dcols, n, C, geo, OD, OH, OW, bias, act, zero, dx)


# -- the three convolution kernels ---------------------------------------------------------------


def _geometry(w, strides, dilation, pads):
    """(kd, kh, kw, sd, sh, sw, dd, dh, dw, pd, ph, pw), one tuple for the kernels."""
    return (*w.shape[:3], *strides, *dilation, *pads)


def _slots(cols, N, cells):
    """The scratch `cols` (G, T*cells, K), T images' columns, cut into slots: (how many, images
    per slot). Each slot runs its contiguous share of the batch through its own part of the
    scratch, `per` images at a time, so the slots run at once on OpenBLAS's threads, each part's
    product on one BLAS thread. As many slots as threads by default (at most T and N): the slots,
    not the threads running them, fix the order of every sum, so the bits are the same on any
    thread count."""
    T = max(cols.shape[1] // cells, 1)
    slots = max(1, min(T, threads.SLOTS, N))
    return slots, T // slots


def _parts(slot, slots, per, N):
    """(n0, n1) of the parts of `slot`'s share of the N images, `per` images each."""
    first, end = N * slot // slots, N * (slot + 1) // slots
    for n0 in range(first, end, per):
        yield n0, min(n0 + per, end)


def _slot_columns(cols, slot, per, cells, n):
    """A C-contiguous (G, n*cells, K) view of `slot`'s part of the scratch, for n <= per images."""
    G, _, K = cols.shape
    start = slot * G * per * cells * K
    return cols.reshape(-1)[start : start + G * n * cells * K].reshape(G, n * cells, K)


def _columns(x4, C, geo, OD, OH, OW, part, pooled):
    """part = the im2col columns of the images of x4 (n, D, H, W*C): on this thread, or, where
    `pooled` (one slot: a single image, or one thread), their rows split over OpenBLAS's
    threads when there are enough."""
    rows = x4.shape[0] * OD * OH
    if not pooled:
        _im2col(x4, C, geo, OD, OH, OW, part, 0, rows)
        return
    threads.blas_pool_rows(
        rows,
        part.size * threads.ELEMENT_WORK,
        lambda r0, r1: _im2col(x4, C, geo, OD, OH, OW, part, r0, r1),
    )


def _on_slots(slots, work, run):
    """run(slot) for every slot, the slots split over OpenBLAS's threads (blas_pool_rows)."""

    def ranges(s0, s1):
        for slot in range(s0, s1):
            run(slot)

    threads.blas_pool_rows(slots, work, ranges)


def conv3d_forward(x, w, bias, activation, strides, dilation, pads, cols, y):
    """y (N, OD, OH, OW, F) = activation(conv(x, w) + bias) for x (N, D, H, W, C),
    w (KD, KH, KW, C/G, F), bias (F,) or None; strides, dilation, pads are (d, h, w) triples.
    `cols` (G, T*OD*OH*OW, KD*KH*KW*C/G) is scratch for the im2col columns of T images (_slots:
    each part's columns are built and multiplied before the next part's); None for a 1x1
    stride-1 kernel with one group, whose columns are x itself. Writes y."""
    F, C = w.shape[-1], x.shape[-1]
    N, OD, OH, OW, _ = y.shape
    y2d, w2d = y.reshape(-1, F), w.reshape(-1, F)
    if cols is None:
        np.matmul(x.reshape(-1, C), w2d, out=y2d)
        bias_activation(y2d, bias, activation)
        return
    geo, x4 = _geometry(w, strides, dilation, pads), x.reshape(N, x.shape[1], x.shape[2], -1)
    cells, (G, _, K) = OD * OH * OW, cols.shape
    fg = F // G
    slots, per = _slots(cols, N, cells)

    def run(slot):
        for n0, n1 in _parts(slot, slots, per, N):
            part = _slot_columns(cols, slot, per, cells, n1 - n0)
            _columns(x4[n0:n1], C, geo, OD, OH, OW, part, slots == 1)
            rows = y2d[n0 * cells : n1 * cells]
            for g in range(G):  # groups: strided BLAS views of w and y, no copies
                cut = slice(g * fg, (g + 1) * fg)
                np.matmul(part[g], w2d[:, cut], out=rows[:, cut])

    _on_slots(slots, N * cells * K * (F + threads.ELEMENT_WORK), run)
    bias_activation(y2d, bias, activation)


def conv3d_backward_input(dz, w, bias, activation, strides, dilation, pads, dcols, dx):
    """dx (N, D, H, W, C) = the adjoint of conv3d_forward's linear part applied to dz
    (N, OD, OH, OW, F) (dz @ w^T per group into the scratch, then col2im, a part of the batch
    at a time as conv3d_forward). `bias` / `activation` are fused into the pass that writes dx,
    for a transposed convolution's output (None / "linear" for a gradient). dcols is scratch
    shaped like conv3d_forward's cols, None exactly when conv3d_forward takes None. Writes dx."""
    F, C = w.shape[-1], dx.shape[-1]
    N, OD, OH, OW, _ = dz.shape
    w2d, dz2d = w.reshape(-1, F), dz.reshape(-1, F)
    if dcols is None:
        dx2d = dx.reshape(-1, C)
        np.matmul(dz2d, w2d.T, out=dx2d)
        bias_activation(dx2d, bias, activation)
        return
    cells, (G, _, K) = OD * OH * OW, dcols.shape
    fg = F // G
    geo, b = _geometry(w, strides, dilation, pads), bias_or_empty(bias, dx.dtype)
    act, zero = CODES[activation], dx.dtype.type(0)
    dx4 = dx.reshape(N, dx.shape[1], dx.shape[2], -1)
    slots, per = _slots(dcols, N, cells)

    def run(slot):
        for n0, n1 in _parts(slot, slots, per, N):
            part = _slot_columns(dcols, slot, per, cells, n1 - n0)
            rows = dz2d[n0 * cells : n1 * cells]
            for g in range(G):
                cut = slice(g * fg, (g + 1) * fg)
                np.matmul(rows[:, cut], w2d[:, cut].T, out=part[g])
            _col2im(part, C, geo, OD, OH, OW, b, act, zero, dx4[n0:n1], 0, n1 - n0)

    _on_slots(slots, N * cells * K * (F + threads.ELEMENT_WORK), run)


def conv3d_backward_weight(x, strides, dilation, pads, cols, dz, dw):
    """dw (KD, KH, KW, C/G, F) = cols(x)^T @ dz per group, the weight gradient of
    conv3d_forward(x, ...), dz (N, OD, OH, OW, F) its output's gradient. The columns of x are
    built again in the scratch `cols`, a part of the batch at a time as conv3d_forward; each
    slot adds its parts' products in order, then the slots' sums are added in order. `cols` is
    None for a 1x1 stride-1 kernel with one group (x is its own column matrix). Writes dw."""
    F, C = dw.shape[-1], x.shape[-1]
    dw2d, dz2d = dw.reshape(-1, F), dz.reshape(-1, F)
    if cols is None:
        matmul_at_b(x.reshape(-1, C), dz2d, dw2d)
        return
    N, OD, OH, OW, _ = dz.shape
    geo, x4 = _geometry(dw, strides, dilation, pads), x.reshape(N, x.shape[1], x.shape[2], -1)
    cells, (G, _, K) = OD * OH * OW, cols.shape
    fg = F // G
    slots, per = _slots(cols, N, cells)
    sums, scratch = np.empty((2, slots, *dw2d.shape), dw.dtype)

    def run(slot):
        for i, (n0, n1) in enumerate(_parts(slot, slots, per, N)):
            part = _slot_columns(cols, slot, per, cells, n1 - n0)
            _columns(x4[n0:n1], C, geo, OD, OH, OW, part, slots == 1)
            rows, out = dz2d[n0 * cells : n1 * cells], sums[slot] if i == 0 else scratch[slot]
            for g in range(G):
                cut = slice(g * fg, (g + 1) * fg)
                matmul_at_b(part[g], rows[:, cut], out[:, cut])
            if i:
                sums[slot] += out

    _on_slots(slots, N * cells * K * (F + threads.ELEMENT_WORK), run)
    dw2d[...] = sums[0]
    for slot in range(1, slots):
        dw2d += sums[slot]


# -- rank 2 (NHWC): D = 1 views ------------------------------------------------------------------
