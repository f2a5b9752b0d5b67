"""Gather (embedding lookup), take, their scatter-add backward passes (atomic adds) and one-hot
encoding on the device. Gather and take raise for ids outside the table, as graphengine_kernels.cpu
(a small check kernel and one number copied back, launch.first_outside); one-hot gives zero rows for
them, as TensorFlow's."""

from numba import cuda

from graphengine_kernels.cuda.elementwise import fill
from graphengine_kernels.cuda.launch import elementwise, first_outside, flat

__all__ = ["gather_forward", "gather_backward", "one_hot", "take_forward", "take_backward"]


@cuda.jit(cache=True)
def gather_kernel(table, ids, out):
    V, D = table.shape
    for e in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        row = ids[e // D]
        out[e] = table[row, e % D] if 0 <= row < V else 0


def gather_forward(table, ids, out):
    """out[..., :] = table[ids[...], :]; table (V, D), ids int (any shape), out ids.shape + (D,).
    Raises ValueError naming the first id outside [0, V), as the CPU kernel."""
    bad = first_outside(ids, 0, table.shape[0])
    if bad is not None:
        raise ValueError(f"gather: index {bad[1]} is out of range [0, {table.shape[0]})")
    elementwise(gather_kernel, out.size)(table, flat(ids), flat(out))


@cuda.jit(cache=True)
def scatter_add_kernel(ids, dy, dtable):
    V, D = dtable.shape
    for e in range(cuda.grid(1), dy.size, cuda.gridsize(1)):
        row = ids[e // D]
        if 0 <= row < V:
            cuda.atomic.add(dtable, (row, e % D), dy[e // D, e % D])


def gather_backward(ids, dy, dtable):
    """dtable = 0, then dtable[ids[i]] += dy[i]; ids (M,) flattened, dy (M, D), dtable (V, D)."""
    fill(0, dtable)
    D = dtable.shape[1]
    elementwise(scatter_add_kernel, ids.size * D)(flat(ids), dy.reshape(ids.size, D), dtable)


@cuda.jit(cache=True)
def one_hot_kernel(ids, out):
    depth = out.shape[1]
    for e in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[e // depth, e % depth] = 1 if ids[e // depth] == e % depth else 0


def one_hot(ids, out):
    """out[..., c] = 1.0 where ids[...] == c else 0.0; ids outside [0, C) give zero rows."""
    elementwise(one_hot_kernel, out.size)(flat(ids), out.reshape(ids.size, out.shape[-1]))


@cuda.jit(cache=True)
def take_kernel(x, indices, out):
    A, M, B = out.shape
    V = x.shape[1]
    for e in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        a, m, b = e // (M * B), (e // B) % M, e % B
        v = indices[m]
        if v < 0:
            v += V
        out[a, m, b] = x[a, v, b] if 0 <= v < V else 0


def take_forward(x, indices, out):
    """out[a, m, b] = x[a, indices[m], b]; x (A, V, B), indices int (M,), out (A, M, B); negative
    indices count from the end. Raises ValueError naming the first index outside [-V, V)."""
    V = x.shape[1]
    bad = first_outside(indices, -V, V)
    if bad is not None:
        raise ValueError(
            f"take: index {bad[1]} is out of range [-{V}, {V}) for an axis of size {V}"
        )
    elementwise(take_kernel, out.size)(x, indices, out)


@cuda.jit(cache=True)
def take_scatter_add_kernel(indices, dy, dx):
    A, M, B = dy.shape
    V = dx.shape[1]
    for e in range(cuda.grid(1), dy.size, cuda.gridsize(1)):
        a, m, b = e // (M * B), (e // B) % M, e % B
        v = indices[m]
        if v < 0:
            v += V
        if 0 <= v < V:
            cuda.atomic.add(dx, (a, v, b), dy[a, m, b])


def take_backward(indices, dy, dx):
    """dx = 0, then dx[a, indices[m], b] += dy[a, m, b] (atomic: repeated indices add up)."""
    fill(0, dx)
    elementwise(take_scatter_add_kernel, dy.size)(indices, dy, dx)
