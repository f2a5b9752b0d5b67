"""Data movement: copies, transposes, broadcasts, slices, concatenation and their inverses; and
the two host transfers a NumPy function in a graph needs (identities here: the host is the CPU)."""

import numpy as np


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


def to_host(x):
    """x as a host (NumPy) array: x itself on the CPU."""
    return x


def from_host(value, out):
    """out = the host array value (cast to out's dtype, same shape)."""
    np.copyto(out, value, casting="unsafe")
