"""Image resampling on the device, channels-last: resizing through per-axis tap tables and the
affine sampling of keras.ops.image.affine_transform, with their adjoints. Tables, transforms,
rounding and fill modes are those of kernels/cpu/image.py. Forward kernels gather (one thread per
output element); the adjoints scatter with atomic adds, as an input cell collects the taps of
every output cell that read it."""

import math

import numpy as np
from numba import cuda

from graphengine_kernels.cpu.image import (
    CONSTANT,
    FILL_MODES,
    INTERPOLATIONS,
    MIRROR,
    REFLECT,
    WRAP,
)
from graphengine_kernels.cuda.elementwise import fill as fill_array
from graphengine_kernels.cuda.launch import device, elementwise

__all__ = ["affine_transform", "affine_transform_backward", "resize_backward", "resize_forward"]


# -- resize ----------------------------------------------------------------------------------------
@cuda.jit(cache=True)
def resize_kernel(x, ri, rw, ci, cw, y):
    N, OH, OW, C = y.shape
    for e in range(cuda.grid(1), y.size, cuda.gridsize(1)):
        n, rest = e // (OH * OW * C), e % (OH * OW * C)
        i, rest = rest // (OW * C), rest % (OW * C)
        j, c = rest // C, rest % C
        acc = 0.0
        for a in range(ri.shape[1]):
            inner = 0.0
            for b in range(ci.shape[1]):
                inner += cw[j, b] * x[n, ri[i, a], ci[j, b], c]
            acc += rw[i, a] * inner
        y[n, i, j, c] = acc


@cuda.jit(cache=True)
def resize_adjoint_kernel(dy, ri, rw, ci, cw, dx):
    N, OH, OW, C = dy.shape
    for e in range(cuda.grid(1), dy.size, cuda.gridsize(1)):
        n, rest = e // (OH * OW * C), e % (OH * OW * C)
        i, rest = rest // (OW * C), rest % (OW * C)
        j, c = rest // C, rest % C
        g = dy[n, i, j, c]
        for a in range(ri.shape[1]):
            for b in range(ci.shape[1]):
                cuda.atomic.add(dx, (n, ri[i, a], ci[j, b], c), rw[i, a] * cw[j, b] * g)


def resize_forward(x, row_index, row_weight, col_index, col_weight, y):
    """y (N, OH, OW, C) resampled from x (N, H, W, C) through the tap tables. Writes y."""
    tables = [device(t) for t in (row_index, row_weight, col_index, col_weight)]
    elementwise(resize_kernel, y.size)(x, *tables, y)


def resize_backward(dy, row_index, row_weight, col_index, col_weight, dx):
    """dx (N, H, W, C) = the adjoint of resize_forward applied to dy. Writes dx."""
    tables = [device(t) for t in (row_index, row_weight, col_index, col_weight)]
    fill_array(0.0, dx)
    elementwise(resize_adjoint_kernel, dy.size)(dy, *tables, dx)


# -- affine sampling -------------------------------------------------------------------------------
@cuda.jit(device=True)
def round_half_even(v):
    v = min(max(v, -1e9), 1e9)
    f = math.floor(v)
    d = v - f
    if d > 0.5 or (d == 0.5 and f % 2 != 0):
        f += 1
    return f


@cuda.jit(device=True)
def mirror(i, size):
    if size == 1:
        return 0
    s = size - 1
    r = (i + s) % (2 * s)
    if r < 0:
        r += 2 * s
    return abs(r - s)


@cuda.jit(device=True)
def fix(i, size, mode):
    if mode == WRAP:
        r = i % size
        return r + size if r < 0 else r
    if mode == MIRROR:
        return mirror(i, size)
    if mode == REFLECT:
        return (mirror(2 * i + 1, 2 * size + 1) - 1) // 2
    return min(max(i, 0), size - 1)


@cuda.jit(device=True)
def taps(t, n, oh, ow, bilinear):
    xs = t[n, 0] * ow + t[n, 1] * oh + t[n, 2]
    ys = t[n, 3] * ow + t[n, 4] * oh + t[n, 5]
    if not bilinear:  # integer taps: CUDA's math.floor returns a float, unlike Python's
        return int(round_half_even(ys)), int(round_half_even(xs)), 0.0, 0.0
    xs, ys = min(max(xs, -1e9), 1e9), min(max(ys, -1e9), 1e9)
    y0, x0 = math.floor(ys), math.floor(xs)
    return int(y0), int(x0), ys - y0, xs - x0


@cuda.jit(cache=True)
def affine_kernel(x, t, bilinear, mode, fill, y):
    N, OH, OW, C = y.shape
    H, W = x.shape[1], x.shape[2]
    k = 2 if bilinear else 1
    for e in range(cuda.grid(1), y.size, cuda.gridsize(1)):
        n, rest = e // (OH * OW * C), e % (OH * OW * C)
        oh, rest = rest // (OW * C), rest % (OW * C)
        ow, c = rest // C, rest % C
        y0, x0, fy, fx = taps(t, n, oh, ow, bilinear)
        acc = 0.0
        for a in range(k):
            h = y0 + a
            wy = 1.0 - fy if a == 0 else fy
            for b in range(k):
                w = x0 + b
                wx = 1.0 - fx if b == 0 else fx
                if mode == CONSTANT and not (0 <= h < H and 0 <= w < W):
                    v = fill
                else:
                    v = x[n, fix(h, H, mode), fix(w, W, mode), c]
                acc += (wy * wx) * v
        y[n, oh, ow, c] = acc


@cuda.jit(cache=True)
def affine_adjoint_kernel(dy, t, bilinear, mode, dx):
    N, OH, OW, C = dy.shape
    H, W = dx.shape[1], dx.shape[2]
    k = 2 if bilinear else 1
    for e in range(cuda.grid(1), dy.size, cuda.gridsize(1)):
        n, rest = e // (OH * OW * C), e % (OH * OW * C)
        oh, rest = rest // (OW * C), rest % (OW * C)
        ow, c = rest // C, rest % C
        y0, x0, fy, fx = taps(t, n, oh, ow, bilinear)
        g = dy[n, oh, ow, c]
        for a in range(k):
            h = y0 + a
            wy = 1.0 - fy if a == 0 else fy
            for b in range(k):
                w = x0 + b
                wx = 1.0 - fx if b == 0 else fx
                if mode == CONSTANT and not (0 <= h < H and 0 <= w < W):
                    continue
                cuda.atomic.add(dx, (n, fix(h, H, mode), fix(w, W, mode), c), (wy * wx) * g)


def affine_transform(x, transforms, interpolation, fill_mode, fill_value, y):
    """y (N, OH, OW, C) sampled from x (N, H, W, C) at the points transforms (N, 6) maps each
    output cell to. Writes y."""
    bilinear = INTERPOLATIONS.index(interpolation) == 1
    mode = FILL_MODES.index(fill_mode)
    fill = np.dtype(x.dtype).type(fill_value)
    elementwise(affine_kernel, y.size)(x, device(transforms), bilinear, mode, fill, y)


def affine_transform_backward(dy, transforms, interpolation, fill_mode, dx):
    """dx (N, H, W, C) = the adjoint of affine_transform (in x) applied to dy. Writes dx."""
    bilinear = INTERPOLATIONS.index(interpolation) == 1
    fill_array(0.0, dx)
    elementwise(affine_adjoint_kernel, dy.size)(
        dy, device(transforms), bilinear, FILL_MODES.index(fill_mode), dx
    )
