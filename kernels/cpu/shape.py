"""Data movement: copies, transposes, broadcasts, slices, concatenation and their inverses; and
the two host transfers a NumPy function in a graph needs (identities here: the host is the CPU)."""

import numpy as np

from graphengine_kernels.padding import source_indices


def copy(x, out):
    """out = x, reshaped to out's shape (same number of elements)."""
    np.copyto(out, x.reshape(out.shape))


def cast(x, out):
    """out = x converted to out's dtype."""
    np.copyto(out, x, casting="unsafe")


def transpose(x, perm, out):
    """out = x.transpose(perm)."""
    np.copyto(out, x.transpose(perm))


def broadcast_to(x, out):
    """out = x broadcast to out's shape."""
    np.copyto(out, x)


def sum_to(x, out):
    """out = x summed down to out's shape (the inverse of a broadcast)."""
    lead = x.ndim - out.ndim
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(out.shape) if n == 1 and x.shape[lead + i] != 1
    )
    if not axes:
        np.copyto(out, x.reshape(out.shape))
        return
    np.sum(x, axis=axes, keepdims=True, out=out.reshape((1,) * lead + out.shape))


def getitem(x, key, out):
    """out = x[key] for a basic-indexing key (ints, slices, None)."""
    np.copyto(out, x[key])


def getitem_backward(dy, key, dx):
    """dx = zeros, then dx[key] = dy."""
    dx.fill(0.0)
    dx[key] = dy


def concatenate(xs, axis, out):
    """out = concatenation of xs along axis."""
    np.concatenate(xs, axis=axis, out=out)


def split(x, axis, outs):
    """outs[i] = consecutive pieces of x along axis, each as long as outs[i] is."""
    start = 0
    for out in outs:
        stop = start + out.shape[axis]
        np.copyto(out, x[(slice(None),) * axis + (slice(start, stop),)])
        start = stop


def pad_forward(x, pad_width, mode, value, out):
    """out = np.pad(x, pad_width, mode) (constant_values=value for "constant"); pad_width one
    (before, after) per axis; modes of kernels/padding.py."""
    if mode == "constant":
        out.fill(value)
        out[tuple(slice(b, b + n) for (b, _), n in zip(pad_width, x.shape))] = x
        return
    maps = [source_indices(n, b, a, mode) for (b, a), n in zip(pad_width, x.shape)]
    np.copyto(out, x[np.ix_(*maps)])


def pad_backward(dy, pad_width, mode, dx):
    """dx = the gradient of pad_forward: every element of dy added to the input element it was
    read from (padding constants dropped), folding one axis at a time."""
    g = dy
    for axis, ((b, a), n) in enumerate(zip(pad_width, dx.shape)):
        index = source_indices(n, b, a, mode)
        keep = np.flatnonzero(index >= 0)
        folded = np.zeros(g.shape[:axis] + (n,) + g.shape[axis + 1 :], dx.dtype)
        lead = (slice(None),) * axis
        np.add.at(folded, lead + (index[keep],), g[lead + (keep,)])
        g = folded
    np.copyto(dx, g)


def to_host(x):
    """x as a host (NumPy) array: x itself on the CPU."""
    return x


def from_host(value, out):
    """out = the host array value (cast to out's dtype, same shape)."""
    np.copyto(out, value, casting="unsafe")
