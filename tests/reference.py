"""Naive NumPy references for every kernel family, written from the formulas, not from the kernels.

Everything computes in float64 with plain loops or the obvious NumPy call, and returns float64
(callers compare against kernels run in float32 or float64). Derivatives are f'(x) alone; a
backward kernel's result is dy * f'(x).
"""

from __future__ import annotations

import itertools
import math
from typing import Callable

import numpy as np

# Klambauer et al. 2017, "Self-Normalizing Neural Networks", eq. 14 (more digits than needed)
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _elementwise(f: Callable[[float], float], x: np.ndarray) -> np.ndarray:
    """Applies a scalar Python function to every element, in float64."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    for i, v in np.ndenumerate(x):
        out[i] = f(float(v))
    return out


# -- activations: forward ---------------------------------------------------------------------


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras: max_value if x >= max_value; x if threshold < x < max_value;
    negative_slope * (x - threshold) otherwise (so exactly at the threshold, 0)."""
    top = math.inf if max_value is None else max_value

    def f(v):
        if v >= top:
            return top
        if v > threshold:
            return v
        return negative_slope * (v - threshold)

    return _elementwise(f, x)


def _sigmoid_scalar(v):
    """1 / (1 + e^-v), straight from the definition; e^-v overflows only where sigmoid is 0."""
    try:
        return 1.0 / (1.0 + math.exp(-v))
    except OverflowError:
        return 0.0


def sigmoid(x):
    return _elementwise(_sigmoid_scalar, x)


def tanh(x):
    return _elementwise(math.tanh, x)


def elu(x, alpha=1.0):
    return _elementwise(lambda v: v if v > 0 else alpha * (math.exp(v) - 1.0), x)


def selu(x):
    return SELU_SCALE * elu(x, SELU_ALPHA)


def _phi(v):
    """Standard normal CDF."""
    return 0.5 * (1.0 + math.erf(v / math.sqrt(2.0)))


def _pdf(v):
    """Standard normal density."""
    return math.exp(-0.5 * v * v) / math.sqrt(2.0 * math.pi)


def gelu(x):
    return _elementwise(lambda v: v * _phi(v), x)


_GELU_C = math.sqrt(2.0 / math.pi)


def gelu_tanh(x):
    return _elementwise(lambda v: 0.5 * v * (1.0 + math.tanh(_GELU_C * (v + 0.044715 * v**3))), x)


def softplus(x):
    # log(1 + e^v) = log(e^0 + e^v)
    return np.logaddexp(0.0, np.asarray(x, dtype=np.float64))


def softsign(x):
    return _elementwise(lambda v: v / (1.0 + abs(v)), x)


def swish(x):
    return _elementwise(lambda v: v * _sigmoid_scalar(v), x)


def hard_sigmoid(x):
    return np.clip(np.asarray(x, dtype=np.float64) / 6.0 + 0.5, 0.0, 1.0)


def exp(x):
    return np.exp(np.asarray(x, dtype=np.float64))


def log(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(np.asarray(x, dtype=np.float64))


def sqrt(x):
    with np.errstate(invalid="ignore"):
        return np.sqrt(np.asarray(x, dtype=np.float64))


def square(x):
    return _elementwise(lambda v: v * v, x)


def abs_(x):
    return _elementwise(lambda v: -v if v < 0 else v, x)


def clip(x, lo, hi):
    return _elementwise(lambda v: lo if v < lo else (hi if v > hi else v), x)


# -- activations: derivatives f'(x) ----------------------------------------------------------


def relu_grad(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """1 on (threshold, max_value), negative_slope up to threshold, 0 from max_value up."""
    top = math.inf if max_value is None else max_value
    return _elementwise(
        lambda v: 0.0 if v >= top else (1.0 if v > threshold else negative_slope), x
    )


def sigmoid_grad(x):
    return _elementwise(lambda v: _sigmoid_scalar(v) * _sigmoid_scalar(-v), x)


def tanh_grad(x):
    return _elementwise(lambda v: 1.0 / math.cosh(v) ** 2 if abs(v) < 350 else 0.0, x)


def elu_grad(x, alpha=1.0):
    return _elementwise(lambda v: 1.0 if v > 0 else alpha * math.exp(v), x)


def selu_grad(x):
    return SELU_SCALE * elu_grad(x, SELU_ALPHA)


def gelu_grad(x):
    return _elementwise(lambda v: _phi(v) + v * _pdf(v), x)


def gelu_tanh_grad(x):
    def f(v):
        u = _GELU_C * (v + 0.044715 * v**3)
        du = _GELU_C * (1.0 + 3 * 0.044715 * v * v)
        sech2 = 1.0 / math.cosh(u) ** 2 if abs(u) < 350 else 0.0
        return 0.5 * (1.0 + math.tanh(u)) + 0.5 * v * sech2 * du

    return _elementwise(f, x)


def softplus_grad(x):
    return sigmoid(x)


def softsign_grad(x):
    return _elementwise(lambda v: 1.0 / (1.0 + abs(v)) ** 2, x)


def swish_grad(x):
    def f(v):
        s = _sigmoid_scalar(v)
        return s + v * s * (1.0 - s)

    return _elementwise(f, x)


def hard_sigmoid_grad(x):
    """1/6 strictly inside (-3, 3), 0 outside and at the corners (relu6's convention)."""
    return _elementwise(lambda v: 1.0 / 6.0 if -3.0 < v < 3.0 else 0.0, x)


def exp_grad(x):
    return exp(x)


def log_grad(x):
    return _elementwise(lambda v: 1.0 / v, x)


def sqrt_grad(x):
    return _elementwise(lambda v: 0.5 / math.sqrt(v), x)


def square_grad(x):
    return _elementwise(lambda v: 2.0 * v, x)


def abs_grad(x):
    """sign(x), 0 at 0."""
    return np.sign(np.asarray(x, dtype=np.float64))


def clip_grad(x, lo, hi):
    """1 on the closed interval [lo, hi] (TensorFlow's clip_by_value), 0 outside."""
    return _elementwise(lambda v: 1.0 if lo <= v <= hi else 0.0, x)


# kernel kind -> (forward, derivative); both take x then the kernel's scalar parameters in order
ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "relu": (relu, relu_grad),
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "elu": (elu, elu_grad),
    "selu": (selu, selu_grad),
    "gelu": (gelu, gelu_grad),
    "gelu_tanh": (gelu_tanh, gelu_tanh_grad),
    "softplus": (softplus, softplus_grad),
    "softsign": (softsign, softsign_grad),
    "swish": (swish, swish_grad),
    "hard_sigmoid": (hard_sigmoid, hard_sigmoid_grad),
    "exp": (exp, exp_grad),
    "log": (log, log_grad),
    "sqrt": (sqrt, sqrt_grad),
    "square": (square, square_grad),
    "abs": (abs_, abs_grad),
    "clip": (clip, clip_grad),
}


# -- softmax ----------------------------------------------------------------------------------


def _lines(shape: tuple, axis: int):
    """Index tuples selecting every 1-D line of an array of `shape` along `axis`."""
    others = [range(n) if i != axis else [slice(None)] for i, n in enumerate(shape)]
    return itertools.product(*others)


def softmax(x, axis=-1):
    x = np.asarray(x, dtype=np.float64)
    axis %= x.ndim
    out = np.empty_like(x)
    for idx in _lines(x.shape, axis):
        line = x[idx]
        e = np.exp(line - line.max())
        out[idx] = e / e.sum()
    return out


def softmax_backward(y, dy, axis=-1):
    """dx = J^T dy with the softmax Jacobian J[i, j] = y_i (delta_ij - y_j), built explicitly."""
    y, dy = np.asarray(y, dtype=np.float64), np.asarray(dy, dtype=np.float64)
    axis %= y.ndim
    dx = np.empty_like(y)
    for idx in _lines(y.shape, axis):
        s = y[idx]
        jac = np.diag(s) - np.outer(s, s)
        dx[idx] = jac.T @ dy[idx]
    return dx


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along axis, the logsumexp shifted by the line's max."""
    x = np.asarray(x, dtype=np.float64)
    axis %= x.ndim
    out = np.empty_like(x)
    for idx in _lines(x.shape, axis):
        line = x[idx]
        m = line.max()
        out[idx] = line - (m + math.log(sum(math.exp(v - m) for v in line)))
    return out


def log_softmax_backward(y, dy, axis=-1):
    """dx = J^T dy with J[i, j] = delta_ij - p_j, p = exp(y) the softmax, built explicitly."""
    y, dy = np.asarray(y, dtype=np.float64), np.asarray(dy, dtype=np.float64)
    axis %= y.ndim
    dx = np.empty_like(y)
    for idx in _lines(y.shape, axis):
        p = np.exp(y[idx])
        jac = np.eye(p.size) - np.outer(np.ones(p.size), p)
        dx[idx] = jac.T @ dy[idx]
    return dx


# -- reductions -------------------------------------------------------------------------------


def _axes(axis, ndim: int) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(a % ndim for a in axes))


def _groups(shape: tuple, axes: tuple):
    """For every output position (reduced axes kept as 0), the list of input indices feeding it."""
    kept = [range(n) if i not in axes else [0] for i, n in enumerate(shape)]
    for out_idx in itertools.product(*kept):
        choices = [range(n) if i in axes else [out_idx[i]] for i, n in enumerate(shape)]
        yield out_idx, list(itertools.product(*choices))


def _reduce(x, axis, keepdims, combine):
    x = np.asarray(x, dtype=np.float64)
    axes = _axes(axis, x.ndim)
    kept_shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
    out = np.empty(kept_shape)
    for out_idx, members in _groups(x.shape, axes):
        out[out_idx] = combine([x[m] for m in members])
    if keepdims:
        return out
    return out.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))


def reduce_sum(x, axis=None, keepdims=False):
    def total(vals):
        s = 0.0
        for v in vals:
            s += v
        return s

    return _reduce(x, axis, keepdims, total)


def reduce_mean(x, axis=None, keepdims=False):
    return _reduce(x, axis, keepdims, lambda vals: sum(vals) / len(vals))


def reduce_max(x, axis=None, keepdims=False):
    def biggest(vals):
        m = vals[0]
        for v in vals[1:]:
            if v > m:
                m = v
        return m

    return _reduce(x, axis, keepdims, biggest)


def reduce_max_backward(x, dy, axis=None):
    """dx for y = max(x, axis): each reduced group's cotangent shared equally by its maxima.

    dy has the reduced shape, with or without the kept size-1 axes."""
    x = np.asarray(x, dtype=np.float64)
    axes = _axes(axis, x.ndim)
    dy = np.asarray(dy, dtype=np.float64).reshape(
        tuple(1 if i in axes else n for i, n in enumerate(x.shape))
    )
    dx = np.zeros_like(x)
    for out_idx, members in _groups(x.shape, axes):
        m = max(x[i] for i in members)
        winners = [i for i in members if x[i] == m]
        for i in winners:
            dx[i] = dy[out_idx] / len(winners)
    return dx


# -- gather / scatter-add ---------------------------------------------------------------------


def gather(table, ids):
    """out[p] = table[ids[p]] for every position p of ids; out shape ids.shape + (D,)."""
    table, ids = np.asarray(table, dtype=np.float64), np.asarray(ids)
    out = np.empty(ids.shape + table.shape[1:])
    for p in np.ndindex(*ids.shape):
        out[p] = table[int(ids[p])]
    return out


def scatter_add(ids, dy, num_rows):
    """The gather's gradient: zeros (V, D), then row ids[p] += dy[p] for every position p."""
    ids, dy = np.asarray(ids), np.asarray(dy, dtype=np.float64)
    dtable = np.zeros((num_rows,) + dy.shape[ids.ndim :])
    for p in np.ndindex(*ids.shape):
        dtable[int(ids[p])] += dy[p]
    return dtable


def one_hot(ids, num_classes):
    """out[p, c] = 1 where ids[p] == c; ids outside [0, num_classes) give a row of zeros."""
    ids = np.asarray(ids)
    out = np.zeros(ids.shape + (num_classes,))
    for p in np.ndindex(*ids.shape):
        if 0 <= ids[p] < num_classes:
            out[p + (int(ids[p]),)] = 1.0
    return out


# -- un-broadcast -----------------------------------------------------------------------------


def sum_to(x, shape):
    """The adjoint of broadcasting `shape` to x.shape: every element of x is added into the
    output element it was broadcast from."""
    x = np.asarray(x, dtype=np.float64)
    shape = tuple(shape)
    lead = x.ndim - len(shape)
    out = np.zeros(shape)
    for idx in np.ndindex(*x.shape):
        src = tuple(0 if shape[i] == 1 else idx[lead + i] for i in range(len(shape)))
        out[src] += x[idx]
    return out


# -- matmul -----------------------------------------------------------------------------------


def _matmul_2d(a, b):
    m, k = a.shape
    k2, n = b.shape
    assert k == k2
    out = np.zeros((m, n))
    for i in range(m):
        for j in range(n):
            s = 0.0
            for t in range(k):
                s += a[i, t] * b[t, j]
            out[i, j] = s
    return out


def matmul(a, b):
    """NumPy matmul semantics, by loops: a 1-D operand is a row (left) or column (right) vector
    whose added axis is dropped afterwards; leading batch axes broadcast."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    va, vb = a.ndim == 1, b.ndim == 1
    if va:
        a = a[None, :]
    if vb:
        b = b[:, None]
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = np.broadcast_to(a, batch + a.shape[-2:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    out = np.empty(batch + (a.shape[-2], b.shape[-1]))
    for idx in np.ndindex(*batch):
        out[idx] = _matmul_2d(a[idx], b[idx])
    if vb:
        out = out[..., 0]
    if va:
        out = out[..., 0, :] if not vb else out[..., 0]
    return out
