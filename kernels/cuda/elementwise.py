"""Broadcasting binary elementwise kernels and fill. Broadcasting is index arithmetic: every
output element decodes its C-order index and reads each operand with strides that are 0 along
broadcast axes. Operands are C-contiguous device arrays; `out` may have another dtype."""

from numba import cuda

from kernels.cuda.launch import (
    broadcast_strides,
    contiguous,
    elementwise,
    flat,
    offset,
    shape_tuple,
)

__all__ = [
    "add",
    "subtract",
    "multiply",
    "divide",
    "maximum",
    "minimum",
    "power",
    "where",
    "greater_equal",
    "greater",
    "less_equal",
    "less",
    "equal",
    "not_equal",
    "fill",
]


def _binary(f):
    @cuda.jit
    def binary_kernel(a, b, p, q, shape, sa, sb, out):
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            out[i] = f(a[offset(i, shape, sa)], b[offset(i, shape, sb)], p, q)

    return binary_kernel


@cuda.jit(device=True)
def _add(a, b, p, q):
    return a + b


@cuda.jit(device=True)
def _subtract(a, b, p, q):
    return a - b


@cuda.jit(device=True)
def _multiply(a, b, p, q):
    return a * b


@cuda.jit(device=True)
def _divide(a, b, p, q):
    return a / b


@cuda.jit(device=True)
def _maximum(a, b, p, q):
    if a != a or b != b:  # NaN propagates, as np.maximum
        return a + b
    return a if a >= b else b


@cuda.jit(device=True)
def _minimum(a, b, p, q):
    if a != a or b != b:
        return a + b
    return a if a <= b else b


@cuda.jit(device=True)
def _power(a, b, p, q):
    return a**b


@cuda.jit(device=True)
def _ge(a, b, p, q):
    return 1 if a >= b else 0


@cuda.jit(device=True)
def _gt(a, b, p, q):
    return 1 if a > b else 0


@cuda.jit(device=True)
def _le(a, b, p, q):
    return 1 if a <= b else 0


@cuda.jit(device=True)
def _lt(a, b, p, q):
    return 1 if a < b else 0


@cuda.jit(device=True)
def _eq(a, b, p, q):
    return 1 if a == b else 0


@cuda.jit(device=True)
def _ne(a, b, p, q):
    return 1 if a != b else 0


@cuda.jit(device=True)
def _shift_scale_add(a, b, p, q):
    """(a - p) * b + q: AlphaDropout's apply (b the mask)."""
    return (a - p) * b + q


KERNELS = {
    name: _binary(f)
    for name, f in (
        ("add", _add),
        ("subtract", _subtract),
        ("multiply", _multiply),
        ("divide", _divide),
        ("maximum", _maximum),
        ("minimum", _minimum),
        ("power", _power),
        ("greater_equal", _ge),
        ("greater", _gt),
        ("less_equal", _le),
        ("less", _lt),
        ("equal", _eq),
        ("not_equal", _ne),
        ("shift_scale_add", _shift_scale_add),
    )
}


def broadcast_binary(kind, a, b, out, p=0.0, q=0.0):
    """out = f(a, b) for the formula `kind` of KERNELS, a and b broadcast to out's shape."""
    shape, sa = shape_tuple(out.shape, broadcast_strides(a.shape, out.shape))
    _, sb = shape_tuple(out.shape, broadcast_strides(b.shape, out.shape))
    elementwise(KERNELS[kind], out.size)(flat(a), flat(b), p, q, shape, sa, sb, flat(out))


def add(a, b, out):
    """out = a + b (broadcasting)."""
    broadcast_binary("add", a, b, out)


def subtract(a, b, out):
    """out = a - b (broadcasting)."""
    broadcast_binary("subtract", a, b, out)


def multiply(a, b, out):
    """out = a * b (broadcasting)."""
    broadcast_binary("multiply", a, b, out)


def divide(a, b, out):
    """out = a / b (broadcasting)."""
    broadcast_binary("divide", a, b, out)


def maximum(a, b, out):
    """out = max(a, b) (broadcasting)."""
    broadcast_binary("maximum", a, b, out)


def minimum(a, b, out):
    """out = min(a, b) (broadcasting)."""
    broadcast_binary("minimum", a, b, out)


def power(a, b, out):
    """out = a ** b (broadcasting)."""
    broadcast_binary("power", a, b, out)


@cuda.jit(cache=True)
def where_kernel(c, a, b, shape, sc, sa, sb, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        if c[offset(i, shape, sc)] != 0:
            out[i] = a[offset(i, shape, sa)]
        else:
            out[i] = b[offset(i, shape, sb)]


def where(condition, a, b, out):
    """out = a where condition (nonzero) else b (broadcasting all three); a selection: the branch
    not taken is never read."""
    shape, sc = shape_tuple(out.shape, broadcast_strides(condition.shape, out.shape))
    _, sa = shape_tuple(out.shape, broadcast_strides(a.shape, out.shape))
    _, sb = shape_tuple(out.shape, broadcast_strides(b.shape, out.shape))
    elementwise(where_kernel, out.size)(
        flat(condition), flat(a), flat(b), shape, sc, sa, sb, flat(out)
    )


def greater_equal(a, b, out):
    """out = 1 where a >= b else 0, in out's dtype (broadcasting); likewise below."""
    broadcast_binary("greater_equal", a, b, out)


def greater(a, b, out):
    broadcast_binary("greater", a, b, out)


def less_equal(a, b, out):
    broadcast_binary("less_equal", a, b, out)


def less(a, b, out):
    broadcast_binary("less", a, b, out)


def equal(a, b, out):
    broadcast_binary("equal", a, b, out)


def not_equal(a, b, out):
    broadcast_binary("not_equal", a, b, out)


@cuda.jit(cache=True)
def fill_kernel(value, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = value


@cuda.jit(cache=True)
def fill_2d_kernel(value, out):
    """out[...] = value for a 2-D array of any strides (a column slice of a buffer)."""
    cols = out.shape[1]
    for i in range(cuda.grid(1), out.shape[0] * cols, cuda.gridsize(1)):
        out[i // cols, i % cols] = value


def fill(value, out):
    """out[...] = value (out C-contiguous, or 2-D with any strides)."""
    if out.ndim == 2 and not contiguous(out):
        elementwise(fill_2d_kernel, out.size)(value, out)
        return
    elementwise(fill_kernel, out.size)(value, flat(out))
