"""Max and average pooling on the device, channels-last (N, D, H, W, C; 2-D pooling arrives as
D = 1 views and 1-D pooling as D = H = 1 views), with their backward kernels; geometry as
kernels/cpu/pooling.py. One thread per output cell; the max-pool backward scatters with atomic
adds, the average backward gathers. The *_pool2d_* launchers are the rank-2 forms of the
*_pool3d_* ones."""

from numba import cuda

from graphengine_kernels.cuda.elementwise import fill
from graphengine_kernels.cuda.launch import elementwise

__all__ = [
    "avg_pool3d_backward",
    "avg_pool3d_forward",
    "max_pool3d_backward",
    "max_pool3d_forward",
]


@cuda.jit(device=True)
def _window(o, k, s, p, size):
    """[lo, hi): the real input cells of output cell o's window on one axis."""
    return max(o * s - p, 0), min(o * s - p + k, size)


@cuda.jit(cache=True)
def pool_kernel(x, geo, is_max, y, argmax):
    """y = max (argmax = (d * H + h) * W + w of the first maximum, row-major) or mean of each
    window's real cells; geo = (kd, kh, kw, sd, sh, sw, pd, ph, pw)."""
    kd, kh, kw, sd, sh, sw, pd, ph, pw = geo
    N, OD, OH, OW, C = y.shape
    D, H, W = x.shape[1], x.shape[2], x.shape[3]
    for e in range(cuda.grid(1), y.size, cuda.gridsize(1)):
        n, rest = e // (OD * OH * OW * C), e % (OD * OH * OW * C)
        od, rest = rest // (OH * OW * C), rest % (OH * OW * C)
        oh, rest = rest // (OW * C), rest % (OW * C)
        ow, c = rest // C, rest % C
        d0, d1 = _window(od, kd, sd, pd, D)
        h0, h1 = _window(oh, kh, sh, ph, H)
        w0, w1 = _window(ow, kw, sw, pw, W)
        if is_max:
            best, arg = x[n, d0, h0, w0, c], (d0 * H + h0) * W + w0
            for d in range(d0, d1):
                for h in range(h0, h1):
                    for w in range(w0, w1):
                        if x[n, d, h, w, c] > best:
                            best, arg = x[n, d, h, w, c], (d * H + h) * W + w
            y[n, od, oh, ow, c] = best
            argmax[n, od, oh, ow, c] = arg
        else:
            s = 0.0
            for d in range(d0, d1):
                for h in range(h0, h1):
                    for w in range(w0, w1):
                        s += x[n, d, h, w, c]
            y[n, od, oh, ow, c] = s / ((d1 - d0) * (h1 - h0) * (w1 - w0))


def _geometry(pool_size, strides, pads):
    """(kd, kh, kw, sd, sh, sw, pd, ph, pw), one tuple for the kernels."""
    return (*pool_size, *strides, *pads)


def max_pool3d_forward(x, pool_size, strides, pads, y, argmax):
    """y (N, OD, OH, OW, C) = max pooling of x (N, D, H, W, C); argmax (int32, like y) = the flat
    index (d * H + h) * W + w of each maximum. Writes y and argmax."""
    geo = _geometry(pool_size, strides, pads)
    elementwise(pool_kernel, y.size)(x, geo, True, y, argmax)


def avg_pool3d_forward(x, pool_size, strides, pads, y):
    """y (N, OD, OH, OW, C) = average pooling of x over each window's real cells. Writes y."""
    geo = _geometry(pool_size, strides, pads)
    elementwise(pool_kernel, y.size)(x, geo, False, y, y)


@cuda.jit(cache=True)
def max_pool_grad_kernel(dy, argmax, dx):
    """dx[n, argmax, c] += dy[n, p, c]; dy, argmax (N, P, C), dx (N, S, C)."""
    N, P, C = dy.shape
    for e in range(cuda.grid(1), dy.size, cuda.gridsize(1)):
        n, rest = e // (P * C), e % (P * C)
        p, c = rest // C, rest % C
        cuda.atomic.add(dx, (n, argmax[n, p, c], c), dy[n, p, c])


def max_pool3d_backward(dy, argmax, dx):
    """dx (N, D, H, W, C) = dy (N, OD, OH, OW, C) routed to each window's maximum; overlapping
    windows add up. Writes dx."""
    N, C = dx.shape[0], dx.shape[-1]
    fill(0, dx)
    P = dy.size // (N * C)
    elementwise(max_pool_grad_kernel, dy.size)(
        dy.reshape(N, P, C), argmax.reshape(N, P, C), dx.reshape(N, dx.size // (N * C), C)
    )


@cuda.jit(device=True)
def _windows_holding(v, k, s, p, out):
    """[lo, hi): the output cells whose window may hold input cell v on one axis."""
    return max(0, (v + p - k) // s), min(out, (v + p) // s + 1)


@cuda.jit(cache=True)
def avg_pool_grad_kernel(dy, geo, dx):
    """dx[n, d, h, w, c] = sum over the windows holding (d, h, w) of dy / (the window's real
    cells)."""
    kd, kh, kw, sd, sh, sw, pd, ph, pw = geo
    N, D, H, W, C = dx.shape
    OD, OH, OW = dy.shape[1], dy.shape[2], dy.shape[3]
    for e in range(cuda.grid(1), dx.size, cuda.gridsize(1)):
        n, rest = e // (D * H * W * C), e % (D * H * W * C)
        d, rest = rest // (H * W * C), rest % (H * W * C)
        h, rest = rest // (W * C), rest % (W * C)
        w, c = rest // C, rest % C
        acc = 0.0
        lo, hi = _windows_holding(d, kd, sd, pd, OD)
        for od in range(lo, hi):
            d0, d1 = _window(od, kd, sd, pd, D)
            if d < d0 or d >= d1:
                continue
            lo, hi = _windows_holding(h, kh, sh, ph, OH)
            for oh in range(lo, hi):
                h0, h1 = _window(oh, kh, sh, ph, H)
                if h < h0 or h >= h1:
                    continue
                lo, hi = _windows_holding(w, kw, sw, pw, OW)
                for ow in range(lo, hi):
                    w0, w1 = _window(ow, kw, sw, pw, W)
                    if w0 <= w < w1:
                        acc += dy[n, od, oh, ow, c] / ((d1 - d0) * (h1 - h0) * (w1 - w0))
        dx[n, d, h, w, c] = acc


def avg_pool3d_backward(dy, pool_size, strides, pads, dx):
    """dx (N, D, H, W, C) = the adjoint of avg_pool3d_forward applied to dy. Writes dx."""
    geo = _geometry(pool_size, strides, pads)
    elementwise(avg_pool_grad_kernel, dx.size)(dy, geo, dx)


# -- rank 2 (NHWC, (h, w) pairs): D = 1 views ------------------------------------------------------
