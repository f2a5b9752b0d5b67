"""Broadcasting binary elementwise kernels (arithmetic, comparisons, logical connectives) and the
unary math kernels that are not activations (log1p, expm1, floor, ceil, round).

These are NumPy ufuncs writing into `out`: they are compiled C loops that already handle every
broadcast pattern, so a Numba version would add compile time and nothing else. The unary ones
take 1-D arrays, as the activation kernels, and compute in out's dtype (`dtype=`: an integer or
bool x is converted first, never computed in float16 as NumPy would pick for bool).
"""

import numpy as np


def add(a, b, out):
    """out = a + b (broadcasting)."""
    np.add(a, b, out=out)


def subtract(a, b, out):
    """out = a - b (broadcasting)."""
    np.subtract(a, b, out=out)


def multiply(a, b, out):
    """out = a * b (broadcasting)."""
    np.multiply(a, b, out=out)


def divide(a, b, out):
    """out = a / b (broadcasting)."""
    np.divide(a, b, out=out)


def maximum(a, b, out):
    """out = max(a, b) (broadcasting)."""
    np.maximum(a, b, out=out)


def minimum(a, b, out):
    """out = min(a, b) (broadcasting)."""
    np.minimum(a, b, out=out)


def power(a, b, out):
    """out = a ** b (broadcasting); NaN for a negative base and a non-integer exponent."""
    np.power(a, b, out=out)


def where(condition, a, b, out):
    """out = a where condition (nonzero) else b (broadcasting all three); a selection, so a NaN
    or infinity in the branch not taken never reaches out."""
    np.copyto(out, np.where(condition, a, b), casting="unsafe")


def greater_equal(a, b, out):
    """out = 1.0 where a >= b else 0.0, in out's dtype (broadcasting); likewise below."""
    np.greater_equal(a, b, out=out, casting="unsafe")


def greater(a, b, out):
    np.greater(a, b, out=out, casting="unsafe")


def less_equal(a, b, out):
    np.less_equal(a, b, out=out, casting="unsafe")


def less(a, b, out):
    np.less(a, b, out=out, casting="unsafe")


def equal(a, b, out):
    np.equal(a, b, out=out, casting="unsafe")


def not_equal(a, b, out):
    np.not_equal(a, b, out=out, casting="unsafe")


def logical_and(a, b, out):
    """out = a and b, each true where nonzero (NaN included); broadcasting; likewise below."""
    np.logical_and(a, b, out=out, casting="unsafe")


def logical_or(a, b, out):
    np.logical_or(a, b, out=out, casting="unsafe")


def logical_xor(a, b, out):
    np.logical_xor(a, b, out=out, casting="unsafe")


def log1p_forward(x, out):
    """out = log(1 + x), exact for tiny x; -inf at -1, NaN below."""
    np.log1p(x, out=out, dtype=out.dtype)


def log1p_backward(x, y, dy, dx):
    """dx = dy / (1 + x) (as PyTorch)."""
    np.add(x, 1, out=dx)
    np.divide(dy, dx, out=dx)


def expm1_forward(x, out):
    """out = exp(x) - 1, exact for tiny x."""
    np.expm1(x, out=out, dtype=out.dtype)


def expm1_backward(x, y, dy, dx):
    """dx = dy * (y + 1) (as PyTorch)."""
    np.add(y, 1, out=dx)
    np.multiply(dy, dx, out=dx)


def floor_forward(x, out):
    """out = the largest integer <= x (infinities and NaN unchanged)."""
    np.floor(x, out=out, dtype=out.dtype)


def ceil_forward(x, out):
    """out = the smallest integer >= x (infinities and NaN unchanged)."""
    np.ceil(x, out=out, dtype=out.dtype)


def round_forward(x, out):
    """out = x rounded to the nearest integer, halves to even (as NumPy and PyTorch)."""
    np.rint(x, out=out, dtype=out.dtype)


def _zero_backward(x, y, dy, dx):
    """dx = 0, whatever dy holds (NaN and infinities too): the derivative of a piecewise-constant
    function, as Keras (PyTorch, TensorFlow, JAX) defines it for floor, ceil and round."""
    dx.fill(0)


floor_backward = ceil_backward = round_backward = _zero_backward


def fill(value, out):
    """out[...] = value."""
    out.fill(value)
