"""Reductions (block per output: threads stride over the reduced elements, then a shared-memory
tree), softmax and their backward kernels. Axis-generic kernels take C-contiguous arrays; the
softmax family sees them as (outer, n, inner) views made by the caller, one thread per row."""

import math

from numba import cuda, float64

from graphengine_kernels.cuda.elementwise import fill
from graphengine_kernels.cuda.launch import (
    THREADS,
    broadcast_strides,
    c_strides,
    elementwise,
    flat,
    offset,
    per_block,
    shape_tuple,
)
from graphengine_kernels.cuda.shape import read

__all__ = [
    "sum_forward",
    "mean_forward",
    "max_forward",
    "min_forward",
    "prod_forward",
    "prod_backward",
    "argmax_forward",
    "argmin_forward",
    "cumsum_forward",
    "sort_forward",
    "sort_backward",
    "broadcast_scaled",
    "sum_to",
    "max_backward",
    "softmax_forward",
    "softmax_backward",
    "log_softmax_forward",
    "log_softmax_backward",
]


@cuda.jit(device=True)
def block_sum(buf, v):
    """The sum of v over the block's THREADS threads, returned to every thread (buf: a shared
    float64 array of THREADS)."""
    tid = cuda.threadIdx.x
    buf[tid] = v
    cuda.syncthreads()
    s = THREADS // 2
    while s > 0:
        if tid < s:
            buf[tid] += buf[tid + s]
        cuda.syncthreads()
        s //= 2
    total = buf[0]
    cuda.syncthreads()
    return total


# reduce_kernel's modes
SUM, MAX, MIN, PROD = 0, 1, 2, 3
MODES = {"sum": SUM, "mean": SUM, "max": MAX, "min": MIN, "prod": PROD}


@cuda.jit(device=True)
def combine(mode, acc, v):
    """acc and v combined by `mode`; max and min let a NaN win (as NumPy)."""
    if mode == MAX:
        return v if v > acc or v != v else acc
    if mode == MIN:
        return v if v < acc or v != v else acc
    if mode == PROD:
        return acc * v
    return acc + v


@cuda.jit(cache=True)
def reduce_kernel(x, oshape, ostr, rshape, rstr, nr, mode, scale, out):
    """out[o] = sum, max, min or product (`mode`) of x over the reduced index set of output o,
    times scale."""
    buf = cuda.shared.array(THREADS, float64)
    tid = cuda.threadIdx.x
    if mode == MAX:
        identity = -math.inf
    elif mode == MIN:
        identity = math.inf
    else:
        identity = 1.0 if mode == PROD else 0.0
    for o in range(cuda.blockIdx.x, out.size, cuda.gridDim.x):
        base = offset(o, oshape, ostr)
        acc = identity
        for r in range(tid, nr, THREADS):
            acc = combine(mode, acc, x[base + offset(r, rshape, rstr)])
        buf[tid] = acc
        cuda.syncthreads()
        s = THREADS // 2
        while s > 0:
            if tid < s:
                buf[tid] = combine(mode, buf[tid], buf[tid + s])
            cuda.syncthreads()
            s //= 2
        if tid == 0:
            out[o] = buf[0] * scale
        cuda.syncthreads()


def _split_axes(shape, kept):
    """(out shape, out strides, reduced shape, reduced strides, count) reducing C-contiguous x of
    `shape` to `kept` (right-aligned, size 1 where reduced)."""
    kept = (1,) * (len(shape) - len(kept)) + tuple(kept)
    strides = c_strides(shape)
    red = [d for d in range(len(shape)) if kept[d] == 1 and shape[d] != 1]
    keep = [d for d in range(len(shape)) if d not in red]
    oshape, ostr = shape_tuple([shape[d] for d in keep], [strides[d] for d in keep])
    rshape, rstr = shape_tuple([shape[d] for d in red], [strides[d] for d in red])
    count = 1
    for d in red:
        count *= shape[d]
    return oshape, ostr, rshape, rstr, count


def reduce_to(x, kept, out, mode, scale):
    """out (kept shape, C-contiguous) = sum / mean / max / min / prod of x over the axes where
    kept has 1."""
    oshape, ostr, rshape, rstr, count = _split_axes(x.shape, kept)
    scale = scale / count if mode == "mean" else scale
    per_block(reduce_kernel, out.size)(
        flat(x), oshape, ostr, rshape, rstr, count, MODES[mode], scale, flat(out)
    )


def sum_forward(x, axes, out):
    """out = sum of x over `axes` (tuple), out shaped with the reduced axes kept as size 1."""
    reduce_to(x, out.shape, out, "sum", 1.0)


def mean_forward(x, axes, out):
    """out = mean of x over `axes` (tuple), out shaped with the reduced axes kept as size 1."""
    reduce_to(x, out.shape, out, "mean", 1.0)


def max_forward(x, axes, out):
    """out = max of x over `axes` (tuple), out shaped with the reduced axes kept as size 1."""
    reduce_to(x, out.shape, out, "max", 1.0)


def min_forward(x, axes, out):
    """out = min of x over `axes` (tuple), out shaped with the reduced axes kept as size 1."""
    reduce_to(x, out.shape, out, "min", 1.0)


def prod_forward(x, axes, out):
    """out = product of x over `axes` (tuple), out shaped with the reduced axes kept as size 1."""
    reduce_to(x, out.shape, out, "prod", 1.0)


@cuda.jit(cache=True)
def prod_backward_kernel(x, dy, oshape, ostr, rshape, rstr, nr, dx):
    """One thread per reduced group o: dx = prefix product * suffix product * dy[o]."""
    for o in range(cuda.grid(1), dy.size, cuda.gridsize(1)):
        base = offset(o, oshape, ostr)
        p = 1.0
        for r in range(nr):
            i = base + offset(r, rshape, rstr)
            dx[i] = p
            p *= x[i]
        p = dy[o]
        for r in range(nr - 1, -1, -1):
            i = base + offset(r, rshape, rstr)
            dx[i] *= p
            p *= x[i]


def prod_backward(x, dy, axes, dx):
    """dx[i] = dy * prod_{j != i} x[j] over each reduced group (prefix times suffix, never
    y / x[i]); dy has the reduced axes kept as size 1."""
    oshape, ostr, rshape, rstr, count = _split_axes(x.shape, dy.shape)
    elementwise(prod_backward_kernel, dy.size)(
        flat(x), flat(dy), oshape, ostr, rshape, rstr, count, flat(dx)
    )


@cuda.jit(cache=True)
def arg_best_kernel(x, smallest, out):
    """out[i, k] = first index of the max (min) along axis 1 of x (outer, n, inner); the first NaN
    wins; -0 and +0 are equal (as the CPU kernel)."""
    a, n, b = x.shape
    for r in range(cuda.grid(1), a * b, cuda.gridsize(1)):
        i, k = r // b, r % b
        best, at = x[i, 0, k], 0
        if best == best:
            for j in range(1, n):
                v = x[i, j, k]
                if v != v:
                    at = j
                    break
                if (v < best) if smallest else (v > best):
                    best, at = v, j
        out[i, k] = at


def argmax_forward(x, out):
    """out (outer, inner) int = argmax over axis 1 of x (outer, n, inner), n >= 1."""
    elementwise(arg_best_kernel, x.shape[0] * x.shape[2])(x, False, out)


def argmin_forward(x, out):
    """out (outer, inner) int = argmin over axis 1 of x (outer, n, inner), n >= 1."""
    elementwise(arg_best_kernel, x.shape[0] * x.shape[2])(x, True, out)


@cuda.jit(device=True)
def _sorts_before(a, i, b, j, descending):
    """Whether a (at index i of its row) sorts before b (at j): NaN above every number, equal
    elements in index order (a stable sort; -0 equals +0)."""
    a_nan, b_nan = a != a, b != b
    if a_nan or b_nan:
        if a_nan and b_nan:
            return i < j
        return b_nan != descending
    if a == b:
        return i < j
    return a > b if descending else a < b


@cuda.jit(cache=True)
def sort_kernel(x, descending, values, indices):
    """One thread per element: its rank is the number of elements of its row sorting before it
    (a strict total order, so ranks are a permutation); ranks below k are written."""
    rows, n = x.shape
    k = values.shape[1]
    for t in range(cuda.grid(1), rows * n, cuda.gridsize(1)):
        r, i = t // n, t % n
        v = x[r, i]
        rank = 0
        for j in range(n):
            if _sorts_before(x[r, j], j, v, i, descending):
                rank += 1
        if rank < k:
            values[r, rank] = v
            indices[r, rank] = i


@cuda.jit(cache=True)
def sort_backward_kernel(dy, indices, dx):
    rows, k = dy.shape
    for t in range(cuda.grid(1), rows * k, cuda.gridsize(1)):
        r, j = t // k, t % k
        dx[r, indices[r, j]] = dy[r, j]


def sort_forward(x, descending, values, indices):
    """values, indices (rows, k) = the first k of each row of x (rows, n) in ascending order, or
    descending; stable, NaN above every number (as the CPU kernel). O(n) work per element, all
    elements at once."""
    elementwise(sort_kernel, x.shape[0] * x.shape[1])(x, descending, values, indices)


def sort_backward(dy, indices, dx):
    """dx (rows, n) = dy (rows, k) put back at `indices` (distinct within a row: no races), zeros
    elsewhere."""
    fill(0.0, dx)
    elementwise(sort_backward_kernel, dy.size)(dy, indices, dx)


@cuda.jit(cache=True)
def cumsum_kernel(x, reverse, out):
    a, n, b = x.shape
    for r in range(cuda.grid(1), a * b, cuda.gridsize(1)):
        i, k = r // b, r % b
        s = 0
        for t in range(n):
            j = n - 1 - t if reverse else t
            s += x[i, j, k]
            out[i, j, k] = s


def cumsum_forward(x, reverse, out):
    """out = cumulative sum over axis 1 of x (outer, n, inner), from the end when `reverse`; one
    thread per line."""
    elementwise(cumsum_kernel, x.shape[0] * x.shape[2])(x, reverse, out)


def sum_to(x, out):
    """out = x summed down to out's shape (the inverse of a broadcast)."""
    reduce_to(x, out.shape, out, "sum", 1.0)


def broadcast_scaled(dy, scale, dx):
    """dx = broadcast(dy) * scale; dy has size-1 axes where dx was reduced (sum / mean grad)."""
    read(dy, 0, broadcast_strides(dy.shape, dx.shape), float(scale), dx)


@cuda.jit(cache=True)
def max_backward_kernel(x, y, dy, shape, ys, gs, rshape, rstr, nr, dx):
    """dx[i] = dy / (ties in i's group) where x[i] equals its group's max, else 0."""
    for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
        j = offset(i, shape, ys)
        m = y[j]
        if x[i] != m:
            dx[i] = 0
            continue
        base = offset(i, shape, gs)
        count = 0
        for r in range(nr):
            if x[base + offset(r, rshape, rstr)] == m:
                count += 1
        dx[i] = dy[j] / count


def max_backward(x, y, dy, dx):
    """dx = dy * (x == y) / count(x == y): ties share the gradient equally, as TensorFlow does.
    y and dy are x's max and its cotangent with the reduced axes kept as size 1."""
    shape, ys = shape_tuple(x.shape, broadcast_strides(y.shape, x.shape))
    strides = c_strides(x.shape)
    gs = tuple(strides[d] if y.shape[d] != 1 or x.shape[d] == 1 else 0 for d in range(x.ndim))
    _, _, rshape, rstr, count = _split_axes(x.shape, y.shape)
    shape, gs = shape_tuple(x.shape, gs)
    elementwise(max_backward_kernel, x.size)(
        flat(x), flat(y), flat(dy), shape, ys, gs, rshape, rstr, count, flat(dx)
    )


@cuda.jit(cache=True)
def softmax_forward_kernel(x, log, out):
    a, n, b = x.shape
    for r in range(cuda.grid(1), a * b, cuda.gridsize(1)):
        i, k = r // b, r % b
        m = x[i, 0, k]
        for j in range(1, n):
            m = max(m, x[i, j, k])
        s = 0.0
        for j in range(n):
            s += math.exp(x[i, j, k] - m)
        if log:
            shift = m + math.log(s)
            for j in range(n):
                out[i, j, k] = x[i, j, k] - shift
        else:
            for j in range(n):
                out[i, j, k] = math.exp(x[i, j, k] - m) / s


@cuda.jit(cache=True)
def softmax_backward_kernel(y, dy, log, dx):
    a, n, b = y.shape
    for r in range(cuda.grid(1), a * b, cuda.gridsize(1)):
        i, k = r // b, r % b
        s = 0.0
        for j in range(n):
            s += dy[i, j, k] if log else dy[i, j, k] * y[i, j, k]
        for j in range(n):
            if log:
                dx[i, j, k] = dy[i, j, k] - math.exp(y[i, j, k]) * s
            else:
                dx[i, j, k] = y[i, j, k] * (dy[i, j, k] - s)


def softmax_forward(x, out):
    """Softmax over axis 1 of x (outer, n, inner); subtracts the max for stability."""
    elementwise(softmax_forward_kernel, x.shape[0] * x.shape[2])(x, False, out)


def softmax_backward(y, dy, dx):
    """dx = y * (dy - sum_j(dy * y)) over axis 1 of (outer, n, inner) arrays."""
    elementwise(softmax_backward_kernel, y.shape[0] * y.shape[2])(y, dy, False, dx)


def log_softmax_forward(x, out):
    """out = x - max - log(sum(exp(x - max))) over axis 1 of x (outer, n, inner)."""
    elementwise(softmax_forward_kernel, x.shape[0] * x.shape[2])(x, True, out)


def log_softmax_backward(y, dy, dx):
    """dx = dy - exp(y) * sum_j(dy) over axis 1 of (outer, n, inner) arrays (y = log_softmax)."""
    elementwise(softmax_backward_kernel, y.shape[0] * y.shape[2])(y, dy, True, dx)
