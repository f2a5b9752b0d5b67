"""Broadcasting binary elementwise kernels.

These are NumPy ufuncs writing into `out`: they are compiled C loops that already handle every
broadcast pattern, so a Numba version would add compile time and nothing else.
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


def fill(value, out):
    """out[...] = value."""
    out.fill(value)
