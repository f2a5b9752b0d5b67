"""Max and average pooling, channels-last (N, H, W, C; 1-D pooling arrives as H = 1 views), with
their backward kernels. Direct Numba loops: pooling has no product for BLAS to do.

Geometry (per spatial axis): output cell o pools input cells o * stride - pad + t for taps
0 <= t < pool that fall inside the input; the padding is never read (max ignores it, the average
divides by the number of real cells, as Keras / TensorFlow do for padding="same").
Single-threaded, as the convolution kernels (kernels/cpu/conv.py says why).
"""

from numba import njit


@njit(cache=True)
def _max_pool_row(x, r, kh, kw, sh, sw, ph, pw, OH, y, argmax):
    """y[n, oh, ow, c] = max over the window, argmax = h * W + w of its first maximum (row-major
    window order, as TensorFlow and PyTorch pick), for all ow of output row r = n * OH + oh."""
    H, W, C = x.shape[1], x.shape[2], x.shape[3]
    OW = y.shape[2]
    n = r // OH
    oh = r - n * OH
    h0 = max(oh * sh - ph, 0)
    h1 = min(oh * sh - ph + kh, H)
    for ow in range(OW):
        w0 = max(ow * sw - pw, 0)
        w1 = min(ow * sw - pw + kw, W)
        for c in range(C):
            y[n, oh, ow, c] = x[n, h0, w0, c]
            argmax[n, oh, ow, c] = h0 * W + w0
        for i in range(h1 - h0):  # 0-based trip counts: no wraparound checks in the loops
            h = h0 + i
            for j in range(w1 - w0):
                w = w0 + j
                for c in range(C):
                    v = x[n, h, w, c]
                    if v > y[n, oh, ow, c]:
                        y[n, oh, ow, c] = v
                        argmax[n, oh, ow, c] = h * W + w


@njit(cache=True)
def _max_pool(x, kh, kw, sh, sw, ph, pw, y, argmax):
    for r in range(y.shape[0] * y.shape[1]):
        _max_pool_row(x, r, kh, kw, sh, sw, ph, pw, y.shape[1], y, argmax)


def max_pool2d_forward(x, pool_size, strides, pads, y, argmax):
    """y (N, OH, OW, C) = max pooling of x (N, H, W, C); argmax (int32, like y) = the flat index
    h * W + w of each maximum, saved for the backward pass. Writes y and argmax."""
    (kh, kw), (sh, sw), (ph, pw) = pool_size, strides, pads
    _max_pool(x, kh, kw, sh, sw, ph, pw, y, argmax)


@njit(cache=True)
def _max_pool_grad_image(dy, argmax, n, dx):
    """dx[n] = 0, then dx[n, argmax, c] += dy[n, p, c]: dy, argmax (N, P, C), dx (N, H*W, C)."""
    C = dx.shape[2]
    for p in range(dx.shape[1]):
        for c in range(C):
            dx[n, p, c] = 0.0
    for p in range(dy.shape[1]):
        for c in range(C):
            dx[n, argmax[n, p, c], c] += dy[n, p, c]


@njit(cache=True)
def _max_pool_grad(dy, argmax, dx):
    for n in range(dx.shape[0]):
        _max_pool_grad_image(dy, argmax, n, dx)


def max_pool2d_backward(dy, argmax, dx):
    """dx (N, H, W, C) = dy (N, OH, OW, C) routed to the input cell each window's maximum came
    from (argmax from max_pool2d_forward); overlapping windows add up. Writes dx."""
    N, H, W, C = dx.shape
    dy3, arg3, dx3 = dy.reshape(N, -1, C), argmax.reshape(N, -1, C), dx.reshape(N, H * W, C)
    _max_pool_grad(dy3, arg3, dx3)


@njit(cache=True)
def _avg_pool_row(x, r, kh, kw, sh, sw, ph, pw, OH, y):
    """y[n, oh, ow, :] = mean of the window's real cells, for all ow of output row r."""
    H, W, C = x.shape[1], x.shape[2], x.shape[3]
    OW = y.shape[2]
    n = r // OH
    oh = r - n * OH
    h0 = max(oh * sh - ph, 0)
    h1 = min(oh * sh - ph + kh, H)
    for ow in range(OW):
        w0 = max(ow * sw - pw, 0)
        w1 = min(ow * sw - pw + kw, W)
        for c in range(C):
            y[n, oh, ow, c] = 0.0
        for i in range(h1 - h0):
            for j in range(w1 - w0):
                for c in range(C):
                    y[n, oh, ow, c] += x[n, h0 + i, w0 + j, c]
        inv = 1.0 / ((h1 - h0) * (w1 - w0))
        for c in range(C):
            y[n, oh, ow, c] *= inv


@njit(cache=True)
def _avg_pool(x, kh, kw, sh, sw, ph, pw, y):
    for r in range(y.shape[0] * y.shape[1]):
        _avg_pool_row(x, r, kh, kw, sh, sw, ph, pw, y.shape[1], y)


def avg_pool2d_forward(x, pool_size, strides, pads, y):
    """y (N, OH, OW, C) = average pooling of x (N, H, W, C) over the real cells of each window
    (padding is not counted). Writes y."""
    (kh, kw), (sh, sw), (ph, pw) = pool_size, strides, pads
    _avg_pool(x, kh, kw, sh, sw, ph, pw, y)


@njit(cache=True)
def _avg_pool_grad_image(dy, n, kh, kw, sh, sw, ph, pw, dx):
    """dx[n] = 0, then each window's real cells get dy / (number of real cells)."""
    H, W, C = dx.shape[1], dx.shape[2], dx.shape[3]
    OH, OW = dy.shape[1], dy.shape[2]
    dx[n] = 0.0
    for oh in range(OH):
        h0 = max(oh * sh - ph, 0)
        h1 = min(oh * sh - ph + kh, H)
        for ow in range(OW):
            w0 = max(ow * sw - pw, 0)
            w1 = min(ow * sw - pw + kw, W)
            inv = 1.0 / ((h1 - h0) * (w1 - w0))
            for i in range(h1 - h0):
                for j in range(w1 - w0):
                    for c in range(C):
                        dx[n, h0 + i, w0 + j, c] += dy[n, oh, ow, c] * inv


@njit(cache=True)
def _avg_pool_grad(dy, kh, kw, sh, sw, ph, pw, dx):
    for n in range(dx.shape[0]):
        _avg_pool_grad_image(dy, n, kh, kw, sh, sw, ph, pw, dx)


def avg_pool2d_backward(dy, pool_size, strides, pads, dx):
    """dx (N, H, W, C) = the adjoint of avg_pool2d_forward applied to dy (N, OH, OW, C). Writes
    dx."""
    (kh, kw), (sh, sw), (ph, pw) = pool_size, strides, pads
    _avg_pool_grad(dy, kh, kw, sh, sw, ph, pw, dx)


__all__ = [
    "avg_pool2d_backward",
    "avg_pool2d_forward",
    "max_pool2d_backward",
    "max_pool2d_forward",
]
