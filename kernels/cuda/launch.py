"""Launch configuration for every CUDA kernel, in one place: threads per block, grid sizes for
n elements (kernels loop grid-stride, so any grid covers any size), the GEMM tile, and device
stand-ins for host arrays that callers pass for absent optional arguments."""

import os

import numpy as np
from numba import cuda

# The simulator runs every CUDA thread as a Python thread: small blocks and grids keep it quick
# while still exercising several blocks and the grid-stride loops.
SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
THREADS = 16 if SIMULATOR else 256  # a power of two: the block reductions halve it
MAX_BLOCKS = 2 if SIMULATOR else 65535
TILE = 4 if SIMULATOR else 16  # the GEMM's square tile (TILE x TILE threads per block)
MAX_TILE_BLOCKS = 2 if SIMULATOR else 1024

# Numba warns (NumbaPerformanceWarning) at every launch of fewer than 128 blocks. These kernels
# size their grids to the work and loop grid-stride, so a small model launches small grids on
# purpose: the warning would be noise, and a warnings.warn call at each of a step's hundreds of
# launches. Off, unless the user's environment sets NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS itself.
if "NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS" not in os.environ:
    from numba.core import config as _numba_config

    _numba_config.CUDA_LOW_OCCUPANCY_WARNINGS = 0  # Numba's built-in CUDA target
    os.environ["NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS"] = "0"  # survives a reload of the config
    try:
        from numba.cuda.core import config as _cuda_config  # numba-cuda's own

        _cuda_config.CUDA_LOW_OCCUPANCY_WARNINGS = 0
    except ImportError:
        pass

if SIMULATOR:
    # the simulator's host-side shapes refuse negative indices, which a real device array's
    # shape (a tuple) accepts, and which op code uses (x.shape[-1])
    from numba.cuda.simulator.cudadrv import devicearray as _simulated

    _simulated.FakeShape.__getitem__ = tuple.__getitem__


def blocks(n):
    """Blocks for n independent elements, THREADS each, capped (grid-stride covers the rest)."""
    return max(1, min(MAX_BLOCKS, (int(n) + THREADS - 1) // THREADS))


def elementwise(kernel, n):
    """kernel configured for n independent elements."""
    return kernel[blocks(n), THREADS]


def per_block(kernel, n):
    """kernel configured with one block per reduced group (n groups; grid-stride over groups)."""
    return kernel[max(1, min(MAX_BLOCKS, int(n))), THREADS]


def tiles(kernel, rows, cols):
    """kernel configured over TILE x TILE output tiles of a (rows, cols) product."""
    gy = max(1, min(MAX_TILE_BLOCKS, (rows + TILE - 1) // TILE))
    gx = max(1, min(MAX_TILE_BLOCKS, (cols + TILE - 1) // TILE))
    return kernel[(gx, gy), (TILE, TILE)]


def is_host(a):
    return isinstance(a, np.ndarray)


_STANDINS = {}


def device(a):
    """a itself when it already lives on the device; for a host array of at most one element (the
    dummies ops pass for absent arguments) a cached device copy, else a fresh copy."""
    if not is_host(a):
        return a
    if a.size > 1:
        return cuda.to_device(np.ascontiguousarray(a))
    key = (a.dtype.str, a.shape, a.tobytes())
    if key not in _STANDINS:
        _STANDINS[key] = cuda.to_device(np.ascontiguousarray(a))
    return _STANDINS[key]


def contiguous(a):
    return a.is_c_contiguous() if hasattr(a, "is_c_contiguous") else a.flags.c_contiguous


def flat(a):
    """A 1-D view of a C-contiguous array (0-d arrays become length 1)."""
    return a.reshape(max(a.size, 1)) if a.ndim == 0 else a.reshape(a.size)


def c_strides(shape):
    """Element strides of a C-contiguous array of `shape`."""
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= int(d)
    return tuple(reversed(out))


def broadcast_strides(shape, out_shape):
    """Element strides reading a C-contiguous array of `shape` broadcast to `out_shape` (0 along
    broadcast axes), as a tuple as long as out_shape."""
    pad = (1,) * (len(out_shape) - len(shape)) + tuple(shape)
    strides = c_strides(pad)
    return tuple(0 if pad[d] == 1 else strides[d] for d in range(len(out_shape)))


def shape_tuple(shape, strides):
    """(shape, strides) padded to rank >= 1, as int64 tuples for the index device functions."""
    if not shape:
        return (1,), (0,)
    return tuple(int(d) for d in shape), tuple(int(s) for s in strides)


@cuda.jit(device=True)
def offset(i, shape, strides):
    """The element offset of flat C-order index i over `shape`, read with `strides`."""
    off = 0
    for d in range(len(shape) - 1, -1, -1):
        n = shape[d]
        off += (i % n) * strides[d]
        i //= n
    return off


@cuda.jit(cache=True)
def _outside_kernel(ids, lo, hi, first):
    for i in range(cuda.grid(1), ids.size, cuda.gridsize(1)):
        if ids[i] < lo or ids[i] >= hi:
            cuda.atomic.min(first, 0, i)


def first_outside(ids, lo, hi):
    """(position, value) of the first of the (flat) device ids outside [lo, hi), or None: one
    small kernel and a copy of one number to the host (a sync), the price of raising where the
    CPU kernels raise instead of skipping such ids silently."""
    n = ids.size
    if n == 0:
        return None
    ids = flat(ids)
    first = cuda.to_device(np.array([n], np.int64))
    elementwise(_outside_kernel, n)(ids, lo, hi, first)
    i = int(first.copy_to_host()[0])
    return None if i == n else (i, int(ids[i : i + 1].copy_to_host()[0]))
