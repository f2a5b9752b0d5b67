"""Max and average pooling, channels-last (N, D, H, W, C; 2-D pooling arrives as D = 1 views and
1-D pooling as D = H = 1 views), with their backward kernels. Direct Numba loops: pooling has no
product for BLAS to do.

Geometry (per spatial axis): output cell o pools input cells o * stride - pad + t for taps
0 <= t < pool that fall inside the input; the padding is never read (max ignores it, the average
divides by the number of real cells, as Keras / TensorFlow do for padding="same").
Rows (the backward passes: images) in ranges on OpenBLAS's own threads where there are enough,
as the convolution kernels' passes (threads.blas_pool_rows). `pool_size`,
`strides` and `pads` are (d, h, w) triples for the *_pool3d_* kernels and (h, w) pairs for the
*_pool2d_* ones, their rank-2 forms.
"""

from numba import njit

from graphengine_kernels.cpu import threads

__all__ = [
    "avg_pool3d_backward",
    "avg_pool3d_forward",
    "max_pool3d_backward",
    "max_pool3d_forward",
]


@njit(inline="always")
def _window(o, k, s, p, size):
    """[lo, hi): the real input cells of output cell o's window on one axis."""
    return max(o * s - p, 0), min(o * s - p + k, size)


def _geometry(pool_size, strides, pads):
    """(kd, kh, kw, sd, sh, sw, pd, ph, pw), one tuple for the kernels."""
    return (*pool_size, *strides, *pads)


# A 3-D window is a stack of 2-D windows, one per input plane of its depth: each kernel below
# folds the 2-D loop over one plane (H, W, C) into its output row, plane by plane, so 2-D pooling
# (D = 1) runs the 2-D loops with no depth loop inside them (a depth loop around the cells, even
# of one trip, measured 10-15% slower).


@njit(inline="always")
def _max_pool_plane(plane, flat0, first, h0, h1, kw, sw, pw, out, arg):
    """Folds window rows h0:h1 of `plane` (H, W, C) into out / arg (OW, C), one output row:
    out = the max so far (the plane's own when `first`), arg = flat0 + h * W + w of the first
    maximum in row-major order (strictly greater values replace it)."""
    W, C = plane.shape[1], plane.shape[2]
    for ow in range(out.shape[0]):
        w0, w1 = _window(ow, kw, sw, pw, W)
        if first:
            for c in range(C):
                out[ow, c] = plane[h0, w0, c]
                arg[ow, c] = flat0 + h0 * W + w0
        for i in range(h1 - h0):  # 0-based trip counts: no wraparound checks in the loops
            h = h0 + i
            for j in range(w1 - w0):
                w = w0 + j
                for c in range(C):
                    v = plane[h, w, c]
                    if v > out[ow, c]:
                        out[ow, c] = v
                        arg[ow, c] = flat0 + h * W + w


@njit(cache=True, nogil=True)
def _max_pool(x, geo, y, argmax, r0, r1):
    """Output rows r0..r1 of N * OD * OH."""
    kd, kh, kw, sd, sh, sw, pd, ph, pw = geo
    D, H, W = x.shape[1], x.shape[2], x.shape[3]
    OD, OH = y.shape[1], y.shape[2]
    for r in range(r0, r1):
        n, od, oh = r // (OD * OH), r // OH % OD, r % OH
        d0, d1 = _window(od, kd, sd, pd, D)
        h0, h1 = _window(oh, kh, sh, ph, H)
        for d in range(d0, d1):
            out, arg = y[n, od, oh], argmax[n, od, oh]
            _max_pool_plane(x[n, d], d * H * W, d == d0, h0, h1, kw, sw, pw, out, arg)


def max_pool3d_forward(x, pool_size, strides, pads, y, argmax):
    """y (N, OD, OH, OW, C) = max pooling of x (N, D, H, W, C); argmax (int32, like y) = the flat
    index (d * H + h) * W + w of each first maximum (row-major window order, as TensorFlow and
    PyTorch pick), saved for the backward pass. Writes y and argmax."""
    geo, rows = _geometry(pool_size, strides, pads), y.shape[0] * y.shape[1] * y.shape[2]
    threads.blas_pool_rows(
        rows, x.size * threads.ELEMENT_WORK, lambda r0, r1: _max_pool(x, geo, y, argmax, r0, r1)
    )


@njit(inline="always")
def _max_pool_grad_image(dy, argmax, n, dx):
    """dx[n] = 0, then dx[n, argmax, c] += dy[n, p, c]: dy, argmax (N, P, C), dx (N, S, C)."""
    C = dx.shape[2]
    for p in range(dx.shape[1]):
        for c in range(C):
            dx[n, p, c] = 0.0
    for p in range(dy.shape[1]):
        for c in range(C):
            dx[n, argmax[n, p, c], c] += dy[n, p, c]


@njit(cache=True, nogil=True)
def _max_pool_grad(dy, argmax, dx, n0, n1):
    for n in range(n0, n1):
        _max_pool_grad_image(dy, argmax, n, dx)


def max_pool3d_backward(dy, argmax, dx):
    """dx (N, D, H, W, C) = dy (N, OD, OH, OW, C) routed to the input cell each window's maximum
    came from (argmax from max_pool3d_forward); overlapping windows add up. Writes dx."""
    N, C = dx.shape[0], dx.shape[-1]
    dy3, arg3, dx3 = dy.reshape(N, -1, C), argmax.reshape(N, -1, C), dx.reshape(N, -1, C)
    threads.blas_pool_rows(
        N,
        dx.size * threads.LIGHT_ELEMENT_WORK,
        lambda n0, n1: _max_pool_grad(dy3, arg3, dx3, n0, n1),
    )


@njit(inline="always")
def _avg_pool_plane(plane, first, depth, h0, h1, kw, sw, pw, out):
    """Adds window rows h0:h1 of `plane` (H, W, C) into out (OW, C), one output row (zeroed
    first when `first`); `depth` > 0 marks the window's last plane: out is then divided by the
    window's real cells, depth * (h1 - h0) * (w1 - w0)."""
    W, C = plane.shape[1], plane.shape[2]
    for ow in range(out.shape[0]):
        w0, w1 = _window(ow, kw, sw, pw, W)
        if first:
            for c in range(C):
                out[ow, c] = 0.0
        for i in range(h1 - h0):
            for j in range(w1 - w0):
                for c in range(C):
                    out[ow, c] += plane[h0 + i, w0 + j, c]
        if depth > 0:
            inv = 1.0 / (depth * (h1 - h0) * (w1 - w0))
            for c in range(C):
                out[ow, c] *= inv


@njit(cache=True, nogil=True)
def _avg_pool(x, geo, y, r0, r1):
    """Output rows r0..r1 of N * OD * OH."""
    kd, kh, kw, sd, sh, sw, pd, ph, pw = geo
    D, H = x.shape[1], x.shape[2]
    OD, OH = y.shape[1], y.shape[2]
    for r in range(r0, r1):
        n, od, oh = r // (OD * OH), r // OH % OD, r % OH
        d0, d1 = _window(od, kd, sd, pd, D)
        h0, h1 = _window(oh, kh, sh, ph, H)
        for d in range(d0, d1):
            depth = d1 - d0 if d == d1 - 1 else 0
            _avg_pool_plane(x[n, d], d == d0, depth, h0, h1, kw, sw, pw, y[n, od, oh])


def avg_pool3d_forward(x, pool_size, strides, pads, y):
    """y (N, OD, OH, OW, C) = average pooling of x (N, D, H, W, C) over the real cells of each
    window (padding is not counted). Writes y."""
    geo, rows = _geometry(pool_size, strides, pads), y.shape[0] * y.shape[1] * y.shape[2]
    threads.blas_pool_rows(
        rows, x.size * threads.ELEMENT_WORK, lambda r0, r1: _avg_pool(x, geo, y, r0, r1)
    )


@njit(inline="always")
def _avg_pool_grad_plane(dy, scale, kh, kw, sh, sw, ph, pw, dx):
    """dx (H, W, C) += each window's dy (OH, OW, C) * scale / (its real cells in the plane)."""
    H, W, C = dx.shape
    OH, OW = dy.shape[0], dy.shape[1]
    for oh in range(OH):
        h0, h1 = _window(oh, kh, sh, ph, H)
        for ow in range(OW):
            w0, w1 = _window(ow, kw, sw, pw, W)
            inv = scale / ((h1 - h0) * (w1 - w0))
            for i in range(h1 - h0):
                for j in range(w1 - w0):
                    for c in range(C):
                        dx[h0 + i, w0 + j, c] += dy[oh, ow, c] * inv


@njit(cache=True, nogil=True)
def _avg_pool_grad(dy, geo, dx, n0, n1):
    kd, kh, kw, sd, sh, sw, pd, ph, pw = geo
    D = dx.shape[1]
    for n in range(n0, n1):
        dx[n] = 0.0
        for od in range(dy.shape[1]):
            d0, d1 = _window(od, kd, sd, pd, D)
            for d in range(d0, d1):
                _avg_pool_grad_plane(dy[n, od], 1.0 / (d1 - d0), kh, kw, sh, sw, ph, pw, dx[n, d])


def avg_pool3d_backward(dy, pool_size, strides, pads, dx):
    """dx (N, D, H, W, C) = the adjoint of avg_pool3d_forward applied to dy (N, OD, OH, OW, C).
    Writes dx."""
    geo = _geometry(pool_size, strides, pads)
    threads.blas_pool_rows(
        dx.shape[0],
        dx.size * threads.ELEMENT_WORK,
        lambda n0, n1: _avg_pool_grad(dy, geo, dx, n0, n1),
    )


# -- rank 2 (NHWC, (h, w) pairs): D = 1 views ------------------------------------------------------
