"""Broadcasting binary elementwise kernels (arithmetic, comparisons, logical connectives), fill,
and the unary math kernels that are not activations (log1p, expm1, floor, ceil, round) on 1-D
arrays. Broadcasting is index arithmetic: every output element decodes its C-order index and
reads each operand with strides that are 0 along broadcast axes. Operands are C-contiguous
device arrays; `out` may have another dtype."""

import math

from numba import cuda

from graphengine_kernels.cuda.launch import (
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
    "logical_and",
    "logical_or",
    "logical_xor",
    "fill",
] + [
    f"{kind}_{way}"
    for kind in ("log1p", "expm1", "floor", "ceil", "round")
    for way in ("forward", "backward")
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
def _and(a, b, p, q):
    return a != 0 and b != 0  # NaN is nonzero: true, as NumPy


@cuda.jit(device=True)
def _or(a, b, p, q):
    return a != 0 or b != 0


@cuda.jit(device=True)
def _xor(a, b, p, q):
    return (a != 0) != (b != 0)


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
        ("logical_and", _and),
        ("logical_or", _or),
        ("logical_xor", _xor),
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


def logical_and(a, b, out):
    """out = a and b, each true where nonzero (NaN included); broadcasting; likewise below."""
    broadcast_binary("logical_and", a, b, out)


def logical_or(a, b, out):
    broadcast_binary("logical_or", a, b, out)


def logical_xor(a, b, out):
    broadcast_binary("logical_xor", a, b, out)


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


# -- unary math on 1-D arrays: forward out[i] = f(x[i]), backward dx[i] = dy[i] * f'(x[i], y[i])
def _unary(f):
    @cuda.jit
    def unary_kernel(x, out):
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            out[i] = f(x[i])

    return unary_kernel


def _unary_backward(f):
    @cuda.jit
    def unary_backward_kernel(x, y, dy, dx):
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            dx[i] = dy[i] * f(x[i], y[i])

    return unary_backward_kernel


# Every formula guards the domain edges itself: on a GPU libdevice returns -inf, inf or NaN
# there, but the simulator runs Python's math, which raises instead.
_EXP_OVERFLOW = 709.782712893384  # log of the largest float64
_EXACT = 4503599627370496.0  # 2**52: from here on every float64 (and float32) is an integer


@cuda.jit(device=True)
def _log1p(v):
    if v > -1:
        return math.log1p(v)
    return -math.inf if v == -1 else math.nan  # NaN for NaN and below -1, as NumPy


@cuda.jit(device=True)
def _log1p_d(v, y):
    return 1.0 / (v + 1.0)


@cuda.jit(device=True)
def _expm1(v):
    return math.inf if v > _EXP_OVERFLOW else math.expm1(v)


@cuda.jit(device=True)
def _expm1_d(v, y):
    return y + 1.0


@cuda.jit(device=True)
def _integral(r, v):
    """r (an integer math.floor / ceil gave) as a float, 0 keeping v's sign (np.floor(-0.0))."""
    f = float(r)
    return f if f != 0 else math.copysign(0.0, v)


@cuda.jit(device=True)
def _floor(v):
    # math.floor gives an integer: only below 2**52, where it is exact (inf and NaN unchanged)
    return _integral(math.floor(v), v) if abs(v) < _EXACT else v


@cuda.jit(device=True)
def _ceil(v):
    return _integral(math.ceil(v), v) if abs(v) < _EXACT else v


@cuda.jit(device=True)
def _round(v):
    """The nearest integer, halves to even (as np.rint)."""
    if not abs(v) < _EXACT:
        return v
    r = math.floor(v)
    d = v - r
    if d > 0.5 or (d == 0.5 and r % 2 != 0):
        r += 1
    return _integral(r, v)  # -0.4 rounds to -0.0, as np.rint


_UNARY = {
    "log1p": _unary(_log1p),
    "expm1": _unary(_expm1),
    "floor": _unary(_floor),
    "ceil": _unary(_ceil),
    "round": _unary(_round),
}
_UNARY_BACKWARD = {"log1p": _unary_backward(_log1p_d), "expm1": _unary_backward(_expm1_d)}


def log1p_forward(x, out):
    """out = log(1 + x) on 1-D device arrays; -inf at -1, NaN below."""
    elementwise(_UNARY["log1p"], x.size)(x, out)


def log1p_backward(x, y, dy, dx):
    """dx = dy / (1 + x)."""
    elementwise(_UNARY_BACKWARD["log1p"], x.size)(x, y, dy, dx)


def expm1_forward(x, out):
    """out = exp(x) - 1 on 1-D device arrays."""
    elementwise(_UNARY["expm1"], x.size)(x, out)


def expm1_backward(x, y, dy, dx):
    """dx = dy * (y + 1)."""
    elementwise(_UNARY_BACKWARD["expm1"], x.size)(x, y, dy, dx)


def floor_forward(x, out):
    """out = floor(x) on 1-D device arrays."""
    elementwise(_UNARY["floor"], x.size)(x, out)


def ceil_forward(x, out):
    """out = ceil(x) on 1-D device arrays."""
    elementwise(_UNARY["ceil"], x.size)(x, out)


def round_forward(x, out):
    """out = x rounded to the nearest integer, halves to even, on 1-D device arrays."""
    elementwise(_UNARY["round"], x.size)(x, out)


def _zero_backward(x, y, dy, dx):
    """dx = 0, whatever dy holds (as the CPU kernel)."""
    fill(0.0, dx)


floor_backward = ceil_backward = round_backward = _zero_backward
