"""Max and average pooling on the device, channels-last (N, H, W, C; 1-D pooling arrives as
H = 1 views), with their backward kernels; geometry as kernels/cpu/pooling.py. One thread per
output cell; the max-pool backward scatters with atomic adds, the average backward gathers."""

from numba import cuda

from kernels.cuda.elementwise import fill
from kernels.cuda.launch import elementwise

__all__ = [
    "avg_pool2d_backward",
    "avg_pool2d_forward",
    "max_pool2d_backward",
    "max_pool2d_forward",
]


@cuda.jit(cache=True)
def pool_kernel(x, kh, kw, sh, sw, ph, pw, is_max, y, argmax):
    """y = max (argmax = h * W + w of the first maximum, row-major) or mean of each window's real
    cells."""
    N, OH, OW, C = y.shape
    H, W = x.shape[1], x.shape[2]
    for e in range(cuda.grid(1), y.size, cuda.gridsize(1)):
        n, rest = e // (OH * OW * C), e % (OH * OW * C)
        oh, rest = rest // (OW * C), rest % (OW * C)
        ow, c = rest // C, rest % C
        h0, h1 = max(oh * sh - ph, 0), min(oh * sh - ph + kh, H)
        w0, w1 = max(ow * sw - pw, 0), min(ow * sw - pw + kw, W)
        if is_max:
            best, arg = x[n, h0, w0, c], h0 * W + w0
            for h in range(h0, h1):
                for w in range(w0, w1):
                    if x[n, h, w, c] > best:
                        best, arg = x[n, h, w, c], h * W + w
            y[n, oh, ow, c] = best
            argmax[n, oh, ow, c] = arg
        else:
            s = 0.0
            for h in range(h0, h1):
                for w in range(w0, w1):
                    s += x[n, h, w, c]
            y[n, oh, ow, c] = s / ((h1 - h0) * (w1 - w0))


def max_pool2d_forward(x, pool_size, strides, pads, y, argmax):
    """y (N, OH, OW, C) = max pooling of x (N, H, W, C); argmax (int32, like y) = the flat index
    h * W + w of each maximum. Writes y and argmax."""
    (kh, kw), (sh, sw), (ph, pw) = pool_size, strides, pads
    elementwise(pool_kernel, y.size)(x, kh, kw, sh, sw, ph, pw, True, y, argmax)


def avg_pool2d_forward(x, pool_size, strides, pads, y):
    """y (N, OH, OW, C) = average pooling of x over each window's real cells. Writes y."""
    (kh, kw), (sh, sw), (ph, pw) = pool_size, strides, pads
    elementwise(pool_kernel, y.size)(x, kh, kw, sh, sw, ph, pw, False, y, y)


@cuda.jit(cache=True)
def max_pool_grad_kernel(dy, argmax, dx):
    """dx[n, argmax, c] += dy[n, p, c]; dy, argmax (N, P, C), dx (N, H*W, C)."""
    N, P, C = dy.shape
    for e in range(cuda.grid(1), dy.size, cuda.gridsize(1)):
        n, rest = e // (P * C), e % (P * C)
        p, c = rest // C, rest % C
        cuda.atomic.add(dx, (n, argmax[n, p, c], c), dy[n, p, c])


def max_pool2d_backward(dy, argmax, dx):
    """dx (N, H, W, C) = dy (N, OH, OW, C) routed to each window's maximum; overlapping windows
    add up. Writes dx."""
    N, H, W, C = dx.shape
    fill(0, dx)
    P = dy.size // (N * C)
    elementwise(max_pool_grad_kernel, dy.size)(
        dy.reshape(N, P, C), argmax.reshape(N, P, C), dx.reshape(N, H * W, C)
    )


@cuda.jit(cache=True)
def avg_pool_grad_kernel(dy, kh, kw, sh, sw, ph, pw, dx):
    """dx[n, h, w, c] = sum over the windows holding (h, w) of dy / (the window's real cells)."""
    N, H, W, C = dx.shape
    OH, OW = dy.shape[1], dy.shape[2]
    for e in range(cuda.grid(1), dx.size, cuda.gridsize(1)):
        n, rest = e // (H * W * C), e % (H * W * C)
        h, rest = rest // (W * C), rest % (W * C)
        w, c = rest // C, rest % C
        acc = 0.0
        for oh in range(max(0, (h + ph - kh) // sh), min(OH, (h + ph) // sh + 1)):
            h0, h1 = max(oh * sh - ph, 0), min(oh * sh - ph + kh, H)
            if h < h0 or h >= h1:
                continue
            for ow in range(max(0, (w + pw - kw) // sw), min(OW, (w + pw) // sw + 1)):
                w0, w1 = max(ow * sw - pw, 0), min(ow * sw - pw + kw, W)
                if w < w0 or w >= w1:
                    continue
                acc += dy[n, oh, ow, c] / ((h1 - h0) * (w1 - w0))
        dx[n, h, w, c] = acc


def avg_pool2d_backward(dy, pool_size, strides, pads, dx):
    """dx (N, H, W, C) = the adjoint of avg_pool2d_forward applied to dy. Writes dx."""
    (kh, kw), (sh, sw), (ph, pw) = pool_size, strides, pads
    elementwise(avg_pool_grad_kernel, dx.size)(dy, kh, kw, sh, sw, ph, pw, dx)
