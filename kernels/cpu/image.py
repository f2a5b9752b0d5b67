"""Image resampling kernels, channels-last (N, H, W, C): resizing through per-axis tap tables, and
the affine sampling of keras.ops.image.affine_transform; each with the adjoint that carries an
output gradient back to the input (a scatter-add: an input cell collects every tap that read it).

Resize tables: for each output row (column), `index` (O, K) int64 input rows (columns) and
`weight` (O, K) in the array dtype, K = 1 (nearest) or 2 (bilinear); y[n, i, j] sums
weight_row[i, a] * (sum_b weight_col[j, b] * x[n, index_row[i, a], index_col[j, b]]), the
nesting of PyTorch's upsampling loops, zero weights included, so NaN and inf spread as there.

Affine sampling: output cell (oh, ow) reads input point x' = a0*ow + a1*oh + a2,
y' = b0*ow + b1*oh + b2 from `transforms` (N, 6) rows (a0, a1, a2, b0, b1, b2). "nearest" rounds
half to even (torch.round); "bilinear" weighs the four surrounding cells. Out-of-range cells
follow `fill_mode`: "constant" reads `fill_value`, "nearest" the edge, "wrap" the opposite side,
"mirror" (d c b | a b c d | c b a) and "reflect" (d c b a | a b c d | d c b a) reflections.
Threads: none of their own. These are memory-bound passes, like conv.py's im2col, and run on the
calling thread: a prange over output rows measured 3-10x slower on a busy two-core machine.
"""

import math

from numba import njit

__all__ = ["affine_transform", "affine_transform_backward", "resize_backward", "resize_forward"]

INTERPOLATIONS = ("nearest", "bilinear")
FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")
CONSTANT, NEAREST, WRAP, MIRROR, REFLECT = range(5)


# -- resize ----------------------------------------------------------------------------------------
@njit(cache=True)
def _resize(x, ri, rw, ci, cw, y):
    N, OH, OW, C = y.shape
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                out = y[n, i, j]
                if ri.shape[1] == 1:  # nearest: a copy
                    src = x[n, ri[i, 0], ci[j, 0]]
                    for c in range(C):
                        out[c] = src[c]
                    continue
                t00, t01 = x[n, ri[i, 0], ci[j, 0]], x[n, ri[i, 0], ci[j, 1]]
                t10, t11 = x[n, ri[i, 1], ci[j, 0]], x[n, ri[i, 1], ci[j, 1]]
                h0, h1, w0, w1 = rw[i, 0], rw[i, 1], cw[j, 0], cw[j, 1]
                for c in range(C):
                    out[c] = h0 * (w0 * t00[c] + w1 * t01[c]) + h1 * (w0 * t10[c] + w1 * t11[c])


@njit(cache=True)
def _resize_adjoint(dy, ri, rw, ci, cw, dx):
    N, OH, OW, C = dy.shape
    K = ri.shape[1]
    for n in range(N):
        dx[n] = 0
        for i in range(OH):
            for j in range(OW):
                g = dy[n, i, j]
                for a in range(K):
                    for b in range(K):
                        w = rw[i, a] * cw[j, b]
                        dst = dx[n, ri[i, a], ci[j, b]]
                        for c in range(C):
                            dst[c] += w * g[c]


def resize_forward(x, row_index, row_weight, col_index, col_weight, y):
    """y (N, OH, OW, C) resampled from x (N, H, W, C) through the row and column tap tables
    (module docstring), OH = len(row_index), OW = len(col_index). Writes y."""
    _resize(x, row_index, row_weight, col_index, col_weight, y)


def resize_backward(dy, row_index, row_weight, col_index, col_weight, dx):
    """dx (N, H, W, C) = the adjoint of resize_forward applied to dy (N, OH, OW, C). Writes dx."""
    _resize_adjoint(dy, row_index, row_weight, col_index, col_weight, dx)


# -- affine sampling -------------------------------------------------------------------------------
@njit(inline="always")
def _round_half_even(v):
    """torch.round as an int (ties to even); v is clamped first so the int cannot overflow."""
    v = min(max(v, -1e9), 1e9)
    f = math.floor(v)
    d = v - f
    if d > 0.5 or (d == 0.5 and f % 2 != 0):
        f += 1
    return f


@njit(inline="always")
def _mirror(i, size):
    """(d c b | a b c d | c b a): the triangle wave of period 2 * (size - 1)."""
    if size == 1:
        return 0
    s = size - 1
    r = (i + s) % (2 * s)
    if r < 0:
        r += 2 * s
    return abs(r - s)


@njit(inline="always")
def _fix(i, size, mode):
    """The input index that out-of-range index i reads under `mode` (clipped for constant)."""
    if mode == WRAP:
        r = i % size
        return r + size if r < 0 else r
    if mode == MIRROR:
        return _mirror(i, size)
    if mode == REFLECT:
        return (_mirror(2 * i + 1, 2 * size + 1) - 1) // 2
    return min(max(i, 0), size - 1)


@njit(inline="always")
def _taps(t, oh, ow, bilinear):
    """(row, col, fraction down, fraction right) of output cell (oh, ow) under transform row t:
    the top-left tap and the point's offset from it (the rounded point and 0, 0 when nearest);
    tap (a, b) weighs (1 - fy if a == 0 else fy) * (1 - fx if b == 0 else fx), as torch."""
    xs = t[0] * ow + t[1] * oh + t[2]
    ys = t[3] * ow + t[4] * oh + t[5]
    if not bilinear:
        return _round_half_even(ys), _round_half_even(xs), 0.0, 0.0
    xs, ys = min(max(xs, -1e9), 1e9), min(max(ys, -1e9), 1e9)
    y0, x0 = math.floor(ys), math.floor(xs)
    return y0, x0, ys - y0, xs - x0


@njit(cache=True)
def _affine(x, t, bilinear, mode, fill, y):
    N, OH, OW, C = y.shape
    H, W = x.shape[1], x.shape[2]
    k = 2 if bilinear else 1
    for n in range(N):
        for oh in range(OH):
            for ow in range(OW):
                y0, x0, fy, fx = _taps(t[n], oh, ow, bilinear)
                out = y[n, oh, ow]
                out[:] = 0
                for a in range(k):
                    h = y0 + a
                    wy = 1.0 - fy if a == 0 else fy
                    for b in range(k):
                        w = x0 + b
                        wt = wy * (1.0 - fx if b == 0 else fx)
                        if mode == CONSTANT and not (0 <= h < H and 0 <= w < W):
                            for c in range(C):
                                out[c] += wt * fill
                        else:
                            src = x[n, _fix(h, H, mode), _fix(w, W, mode)]
                            for c in range(C):
                                out[c] += wt * src[c]


@njit(cache=True)
def _affine_adjoint(dy, t, bilinear, mode, dx):
    N, OH, OW, C = dy.shape
    H, W = dx.shape[1], dx.shape[2]
    k = 2 if bilinear else 1
    for n in range(N):
        dx[n] = 0
        for oh in range(OH):
            for ow in range(OW):
                y0, x0, fy, fx = _taps(t[n], oh, ow, bilinear)
                for a in range(k):
                    h = y0 + a
                    wy = 1.0 - fy if a == 0 else fy
                    for b in range(k):
                        w = x0 + b
                        wx = 1.0 - fx if b == 0 else fx
                        if mode == CONSTANT and not (0 <= h < H and 0 <= w < W):
                            continue  # the fill value: no input cell was read
                        fh, fw = _fix(h, H, mode), _fix(w, W, mode)
                        for c in range(C):
                            dx[n, fh, fw, c] += (wy * wx) * dy[n, oh, ow, c]


def affine_transform(x, transforms, interpolation, fill_mode, fill_value, y):
    """y (N, OH, OW, C) sampled from x (N, H, W, C) at the points transforms (N, 6) maps each
    output cell to (module docstring); interpolation "nearest" | "bilinear", fill_mode one of
    FILL_MODES, fill_value a float (read by "constant"). Writes y."""
    bilinear = INTERPOLATIONS.index(interpolation) == 1
    mode = FILL_MODES.index(fill_mode)
    _affine(x, transforms, bilinear, mode, x.dtype.type(fill_value), y)


def affine_transform_backward(dy, transforms, interpolation, fill_mode, dx):
    """dx (N, H, W, C) = the adjoint of affine_transform (in x) applied to dy (N, OH, OW, C):
    each tap's weight times dy added to the cell it read; fill taps add nothing. Writes dx."""
    bilinear = INTERPOLATIONS.index(interpolation) == 1
    _affine_adjoint(dy, transforms, bilinear, FILL_MODES.index(fill_mode), dx)
