"""Data movement on the device: copies, casts, transposes, broadcasts, basic indexing,
concatenation and their inverses, as strided reads and writes of C-contiguous buffers; and the
two host transfers a NumPy function in a graph needs (to_host, from_host). sum_to, the inverse of
a broadcast, is a reduction: reduce.py has it (and reads through `read` here)."""

import numpy as np
from numba import cuda

from graphengine_kernels.cuda.launch import (
    broadcast_strides,
    c_strides,
    contiguous,
    elementwise,
    flat,
    offset,
    shape_tuple,
)
from graphengine_kernels.padding import source_indices

__all__ = [
    "copy",
    "cast",
    "transpose",
    "broadcast_to",
    "getitem",
    "getitem_backward",
    "concatenate",
    "split",
    "pad_forward",
    "pad_backward",
    "to_host",
    "from_host",
]


@cuda.jit(cache=True)
def strided_read_kernel(x, base, shape, strides, scale, out):
    """out[i] = x[base + offset(i)] * scale: x and out flat, offsets over out's shape."""
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = x[base + offset(i, shape, strides)] * scale


@cuda.jit(cache=True)
def strided_write_kernel(src, base, shape, strides, dst):
    """dst[base + offset(i)] = src[i]: src and dst flat, offsets over src's shape."""
    for i in range(cuda.grid(1), src.size, cuda.gridsize(1)):
        dst[base + offset(i, shape, strides)] = src[i]


@cuda.jit(cache=True)
def copy_2d_kernel(x, out):
    """out = x for 2-D arrays of any strides (column slices of buffers)."""
    cols = out.shape[1]
    for i in range(cuda.grid(1), out.shape[0] * cols, cuda.gridsize(1)):
        out[i // cols, i % cols] = x[i // cols, i % cols]


@cuda.jit(cache=True)
def copy_3d_kernel(x, out):
    b, c = out.shape[1], out.shape[2]
    for i in range(cuda.grid(1), out.shape[0] * b * c, cuda.gridsize(1)):
        r = i // c
        out[r // b, r % b, i % c] = x[r // b, r % b, i % c]


def read(x, base, strides, scale, out):
    """out = x read at base + strides (elements) over out's shape, times scale."""
    shape, strides = shape_tuple(out.shape, strides)
    elementwise(strided_read_kernel, out.size)(flat(x), base, shape, strides, scale, flat(out))


def write(src, base, strides, dst):
    shape, strides = shape_tuple(src.shape, strides)
    elementwise(strided_write_kernel, src.size)(flat(src), base, shape, strides, flat(dst))


def _assign(x, out):
    if contiguous(x) and contiguous(out):
        read(x.reshape(out.shape), 0, c_strides(out.shape), 1, out)
    elif out.ndim == 2:
        elementwise(copy_2d_kernel, out.size)(x, out)
    elif out.ndim == 3:
        elementwise(copy_3d_kernel, out.size)(x, out)
    else:
        raise ValueError(f"copy of non-contiguous arrays of rank {out.ndim} is not supported")


def copy(x, out):
    """out = x, reshaped to out's shape (same number of elements)."""
    _assign(x, out)


def cast(x, out):
    """out = x converted to out's dtype."""
    _assign(x, out)


def transpose(x, perm, out):
    """out = x.transpose(perm)."""
    strides = c_strides(x.shape)
    read(x, 0, tuple(strides[p] for p in perm), 1, out)


def broadcast_to(x, out):
    """out = x broadcast to out's shape."""
    read(x, 0, broadcast_strides(x.shape, out.shape), 1, out)


def view_of(shape, key):
    """(base, shape, strides) in elements of x[key] for C-contiguous x of `shape` and a basic
    key (ints, slices, None), as NumPy's view would have."""
    strides, base, axis = c_strides(shape), 0, 0
    out_shape, out_strides = [], []
    for item in key:
        if item is None:
            out_shape.append(1)
            out_strides.append(0)
            continue
        n = shape[axis]
        if isinstance(item, slice):
            start, stop, step = item.indices(n)
            base += start * strides[axis]
            out_shape.append(len(range(start, stop, step)))
            out_strides.append(step * strides[axis])
        else:
            base += (item % n) * strides[axis]
        axis += 1
    out_shape += list(shape[axis:])
    out_strides += list(strides[axis:])
    return base, tuple(out_shape), tuple(out_strides)


def getitem(x, key, out):
    """out = x[key] for a basic-indexing key (ints, slices, None)."""
    base, _, strides = view_of(x.shape, key)
    read(x, base, strides, 1, out)


def getitem_backward(dy, key, dx):
    """dx = zeros, then dx[key] = dy."""
    from graphengine_kernels.cuda.elementwise import fill

    fill(0, dx)
    base, _, strides = view_of(dx.shape, key)
    write(dy, base, strides, dx)


def concatenate(xs, axis, out):
    """out = concatenation of xs along axis."""
    strides, start = c_strides(out.shape), 0
    for x in xs:
        write(x, start * strides[axis], strides, out)
        start += x.shape[axis]


def split(x, axis, outs):
    """outs[i] = consecutive pieces of x along axis, each as long as outs[i] is."""
    strides, start = c_strides(x.shape), 0
    for out in outs:
        read(x, start * strides[axis], strides, 1, out)
        start += out.shape[axis]


_PAD_MAPS = {}


def _pad_maps(shape, pad_width, mode):
    """(maps, starts): every axis's source index map (kernels/padding.py) in one device array, and
    where each axis's map starts; kept per geometry, as a plan runs the same one every step."""
    key = (tuple(shape), tuple(tuple(p) for p in pad_width), mode)
    if key not in _PAD_MAPS:
        maps = [source_indices(n, b, a, mode) for (b, a), n in zip(pad_width, shape)]
        starts = tuple(int(s) for s in np.cumsum([0] + [m.size for m in maps[:-1]]))
        _PAD_MAPS[key] = (cuda.to_device(np.concatenate(maps)), starts)
    return _PAD_MAPS[key]


@cuda.jit(device=True)
def pad_source(i, oshape, maps, starts, xstrides):
    """The offset in x that padded element i (C order over oshape) reads, or -1 (a constant)."""
    off = 0
    for d in range(len(oshape) - 1, -1, -1):
        s = maps[starts[d] + i % oshape[d]]
        if s < 0:
            return -1
        off += s * xstrides[d]
        i //= oshape[d]
    return off


@cuda.jit(cache=True)
def pad_forward_kernel(x, oshape, maps, starts, xstrides, value, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        s = pad_source(i, oshape, maps, starts, xstrides)
        out[i] = value if s < 0 else x[s]


@cuda.jit(cache=True)
def pad_backward_kernel(dy, oshape, maps, starts, xstrides, dx):
    for i in range(cuda.grid(1), dy.size, cuda.gridsize(1)):
        s = pad_source(i, oshape, maps, starts, xstrides)
        if s >= 0:
            cuda.atomic.add(dx, s, dy[i])


def pad_forward(x, pad_width, mode, value, out):
    """out = np.pad(x, pad_width, mode) (constant_values=value for "constant"); pad_width one
    (before, after) per axis; modes of kernels/padding.py."""
    maps, starts = _pad_maps(x.shape, pad_width, mode)
    oshape, xstrides = shape_tuple(out.shape, c_strides(x.shape))
    elementwise(pad_forward_kernel, out.size)(
        flat(x), oshape, maps, starts or (0,), xstrides, value, flat(out)
    )


def pad_backward(dy, pad_width, mode, dx):
    """dx = the gradient of pad_forward: each element of dy added (atomically) to the input
    element it was read from; padding constants dropped."""
    from graphengine_kernels.cuda.elementwise import fill

    fill(0, dx)
    maps, starts = _pad_maps(dx.shape, pad_width, mode)
    oshape, xstrides = shape_tuple(dy.shape, c_strides(dx.shape))
    elementwise(pad_backward_kernel, dy.size)(
        flat(dy), oshape, maps, starts or (0,), xstrides, flat(dx)
    )


def to_host(x):
    """A host (NumPy) copy of device array x."""
    return x.copy_to_host()


def from_host(value, out):
    """out = the host array value (cast to out's dtype, same shape)."""
    out.copy_to_device(np.ascontiguousarray(np.asarray(value), dtype=out.dtype).reshape(out.shape))
