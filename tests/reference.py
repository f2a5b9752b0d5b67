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


# -- normalization and regularization ---------------------------------------------------------


def moments(x, axes):
    """Mean and biased variance of x over `axes` (kept as size-1 axes): two passes in float64
    with exactly rounded sums (math.fsum)."""
    x = np.asarray(x, dtype=np.float64)
    axes = _axes(axes, x.ndim)
    kept = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
    mean, var = np.empty(kept), np.empty(kept)
    for out_idx, members in _groups(x.shape, axes):
        vals = [x[m] for m in members]
        mu = math.fsum(vals) / len(vals)
        mean[out_idx] = mu
        var[out_idx] = math.fsum((v - mu) ** 2 for v in vals) / len(vals)
    return mean, var


def _per_axis(v, axes, shape):
    """A weight laid out along `axes` of `shape` (as Keras's gamma), broadcast to all of shape."""
    view = [1] * len(shape)
    for a in axes:
        view[a] = shape[a]
    return np.broadcast_to(np.asarray(v, dtype=np.float64).reshape(view), shape)


def normalize(x, gamma, beta, axes, epsilon, mean=None, var=None):
    """y = gamma * (x - mean) / sqrt(var + epsilon) + beta elementwise, the statistics over
    `axes` of x unless given (kept-dims shape); gamma, beta broadcast to x's shape."""
    x = np.asarray(x, dtype=np.float64)
    if mean is None:
        mean, var = moments(x, axes)
    mean, var = np.broadcast_to(mean, x.shape), np.broadcast_to(var, x.shape)
    gamma, beta = np.broadcast_to(gamma, x.shape), np.broadcast_to(beta, x.shape)
    out = np.empty_like(x)
    for i in np.ndindex(*x.shape):
        out[i] = gamma[i] * (x[i] - mean[i]) / math.sqrt(var[i] + epsilon) + beta[i]
    return out


def normalize_backward(x, dy, gamma, axes, epsilon, mean=None, var=None):
    """dx, and dgamma / dbeta per element (callers sum them over the weight's broadcast axes),
    for `normalize`. With its own statistics, per group of m members and s = sqrt(var + eps),
    dx = J^T dy with the explicit Jacobian d y_i / d x_j = gamma_i / s *
    (delta_ij - 1/m - xhat_i * xhat_j / m); with given (constant) statistics, dx = dy * gamma / s.
    """
    x, dy = np.asarray(x, dtype=np.float64), np.asarray(dy, dtype=np.float64)
    gamma = np.broadcast_to(gamma, x.shape)
    own = mean is None
    if own:
        mean, var = moments(x, axes)
    mean, var = np.broadcast_to(mean, x.shape), np.broadcast_to(var, x.shape)
    s = np.sqrt(var + epsilon)
    xhat = (x - mean) / s
    if not own:
        return dy * gamma / s, dy * xhat, dy.copy()
    dx = np.zeros_like(x)
    for _, members in _groups(x.shape, _axes(axes, x.ndim)):
        m = len(members)
        for j in members:
            total = 0.0
            for i in members:
                jac = gamma[i] / s[i] * ((i == j) - 1.0 / m - xhat[i] * xhat[j] / m)
                total += dy[i] * jac
            dx[j] = total
    return dx, dy * xhat, dy.copy()


def moving_average(moving, batch, momentum):
    """Keras's update of a moving statistic."""
    return np.asarray(moving, np.float64) * momentum + np.asarray(batch, np.float64) * (
        1.0 - momentum
    )


def alpha_dropout_affine(rate):
    """(alpha', a, b) of AlphaDropout from Klambauer et al. 2017, sec. 4, with keep probability
    q = 1 - rate: alpha' = -scale * alpha, a = (q + alpha'^2 q (1 - q))^(-1/2),
    b = -a (1 - q) alpha'."""
    q = 1.0 - rate
    alpha_p = -SELU_SCALE * SELU_ALPHA
    a = (q + alpha_p**2 * q * (1.0 - q)) ** -0.5
    return alpha_p, a, -a * (1.0 - q) * alpha_p


# -- convolution and pooling (channels-last) ----------------------------------------------------
# Sizes and padding from the TensorFlow / Keras rules: "valid" reads no padding; "same" gives
# ceil(n / stride) outputs and pads max((out - 1) * stride + extent - n, 0) cells, the odd one at
# the end; "causal" pads extent - 1 cells before. Every loop runs over output cells and taps.


def conv_padding(n, kernel, stride, dilation, padding):
    """(output size, cells of padding before) on one axis."""
    extent = (kernel - 1) * dilation + 1
    if padding == "valid":
        return (n - extent) // stride + 1, 0
    if padding == "causal":
        return (n - 1) // stride + 1, extent - 1
    out = math.ceil(n / stride)
    return out, max((out - 1) * stride + extent - n, 0) // 2


def _spatial_2d(x):
    """(N, W, C) -> (N, 1, W, C); 4-D arrays unchanged."""
    x = np.asarray(x, np.float64)
    return x[:, None] if x.ndim == 3 else x


def _pairs(value, rank):
    value = (value,) * rank if isinstance(value, int) else tuple(value)
    return value if rank == 2 else (1,) + value


def conv(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1, groups=1,
         out_size=None, pads=None):  # fmt: skip
    """y[n, o, f] = bias[f] + sum over taps t and group channels c of
    x[n, o * stride + t * dilation - pad, g * C/G + c] * kernel[t, c, f] (zero outside x),
    g = f // (F / G); rank 1 (N, W, C) or 2 (N, H, W, C). `out_size` / `pads` (rank-2 pairs)
    override the padding rule (used by the transposed convolution)."""
    rank = np.ndim(x) - 2
    x = _spatial_2d(x)
    w = np.asarray(kernel, np.float64)
    w = w[None] if rank == 1 else w
    N, H, W, C = x.shape
    KH, KW, CG, F = w.shape
    s, d = _pairs(strides, rank), _pairs(dilation_rate, rank)
    if out_size is None:
        geo = [conv_padding(n, k, st, dl, padding) for n, k, st, dl in zip((H, W), (KH, KW), s, d)]
        out_size, pads = tuple(g[0] for g in geo), tuple(g[1] for g in geo)
    fg = F // groups
    y = np.zeros((N,) + tuple(out_size) + (F,))
    for n, oh, ow, f in itertools.product(range(N), range(out_size[0]), range(out_size[1]),
                                          range(F)):  # fmt: skip
        g = f // fg
        total = 0.0 if bias is None else float(bias[f])
        for i, j in itertools.product(range(KH), range(KW)):
            h = oh * s[0] + i * d[0] - pads[0]
            col = ow * s[1] + j * d[1] - pads[1]
            if 0 <= h < H and 0 <= col < W:
                total += float(np.dot(x[n, h, col, g * CG : (g + 1) * CG], w[i, j, :, f]))
        y[n, oh, ow, f] = total
    return y[:, 0] if rank == 1 else y


def conv_transpose(x, kernel, bias=None, strides=1, padding="valid", output_padding=None,
                   dilation_rate=1):  # fmt: skip
    """Keras's transposed convolution, kernel (*k, F, C): the adjoint (input gradient) of the
    convolution that maps an output-sized tensor to x with the TensorFlow padding rule, sized
    (n - 1) * stride + extent (+ output_padding, or max(stride - extent, 0) when None) for
    "valid" and n * stride (or (n - 1) * stride + extent % 2 + output_padding) for "same"."""
    rank = np.ndim(x) - 2
    x = _spatial_2d(x)
    w = np.asarray(kernel, np.float64)
    w = w[None] if rank == 1 else w
    N, H, W, C = x.shape
    KH, KW, F, _ = w.shape
    s, d = _pairs(strides, rank), _pairs(dilation_rate, rank)
    op = None if output_padding is None else _pairs(output_padding, rank)
    if rank == 1 and op is not None:
        op = (0,) + op[1:]
    out, pads = [], []
    for n, k, st, dl, i in zip((H, W), (KH, KW), s, d, range(2)):
        extent = (k - 1) * dl + 1
        if padding == "valid":
            extra = max(st - extent, 0) if op is None else op[i]
            out.append((n - 1) * st + extent + extra)
            pads.append(0)
        else:
            out.append(n * st if op is None else (n - 1) * st + extent % 2 + op[i])
            pads.append(max((n - 1) * st + extent - out[-1], 0) // 2)
    y = np.zeros((N, out[0], out[1], F))
    for n, ih, iw in itertools.product(range(N), range(H), range(W)):
        for i, j in itertools.product(range(KH), range(KW)):
            h = ih * s[0] + i * d[0] - pads[0]
            col = iw * s[1] + j * d[1] - pads[1]
            if 0 <= h < out[0] and 0 <= col < out[1]:
                y[n, h, col] += w[i, j] @ x[n, ih, iw]
    if bias is not None:
        y = y + np.asarray(bias, np.float64)
    return y[:, 0] if rank == 1 else y


def pool(x, pool_size, strides=None, padding="valid", mode="max"):
    """Max or mean of each window's real cells (padding is never pooled); rank 1 or 2."""
    rank = np.ndim(x) - 2
    x = _spatial_2d(x)
    k = _pairs(pool_size, rank)
    s = k if strides is None else _pairs(strides, rank)
    N, H, W, C = x.shape
    geo = [conv_padding(n, kk, st, 1, padding) for n, kk, st in zip((H, W), k, s)]
    (OH, ph), (OW, pw) = geo
    y = np.zeros((N, OH, OW, C))
    for n, oh, ow in itertools.product(range(N), range(OH), range(OW)):
        h0, w0 = oh * s[0] - ph, ow * s[1] - pw
        cells = x[n, max(h0, 0) : h0 + k[0], max(w0, 0) : w0 + k[1]].reshape(-1, C)
        y[n, oh, ow] = cells.max(axis=0) if mode == "max" else cells.mean(axis=0)
    return y[:, 0] if rank == 1 else y


def max_pool_backward(x, dy, pool_size, strides=None, padding="valid"):
    """dx: each window's dy added to its first maximal cell (row-major order)."""
    rank = np.ndim(x) - 2
    x, dy = _spatial_2d(x), _spatial_2d(dy)
    k = _pairs(pool_size, rank)
    s = k if strides is None else _pairs(strides, rank)
    N, H, W, C = x.shape
    ph = conv_padding(H, k[0], s[0], 1, padding)[1]
    pw = conv_padding(W, k[1], s[1], 1, padding)[1]
    dx = np.zeros_like(x)
    for n, oh, ow, c in itertools.product(*(range(v) for v in dy.shape)):
        h0, w0 = max(oh * s[0] - ph, 0), max(ow * s[1] - pw, 0)
        window = x[n, h0 : oh * s[0] - ph + k[0], w0 : ow * s[1] - pw + k[1], c]
        i, j = np.unravel_index(np.argmax(window), window.shape)
        dx[n, h0 + i, w0 + j, c] += dy[n, oh, ow, c]
    return dx[:, 0] if rank == 1 else dx


# -- recurrent --------------------------------------------------------------------------------


def _rnn_activation(name):
    """Keras's formulas, one scalar at a time (via the activations above)."""
    return {
        "linear": lambda x: np.asarray(x, dtype=np.float64),
        "tanh": tanh,
        "sigmoid": sigmoid,
        "relu": relu,
        "hard_sigmoid": hard_sigmoid,
    }[name]


def _rnn_cell_step(cell, x, states, kernel, recurrent_kernel, bias, act, ract, reset_after):
    """One step of Keras's SimpleRNNCell / LSTMCell / GRUCell.call for one sample: x (D,),
    states a list of (U,) vectors; returns (output, new_states)."""
    h = states[0]
    if cell == "simple_rnn":
        z = x @ kernel + h @ recurrent_kernel + (0 if bias is None else bias)
        out = act(z)
        return out, [out]
    if cell == "lstm":
        c = states[1]
        z = x @ kernel + h @ recurrent_kernel + (0 if bias is None else bias)
        i, f, g, o = np.split(z, 4)
        c_new = ract(f) * c + ract(i) * act(g)
        h_new = ract(o) * act(c_new)
        return h_new, [h_new, c_new]
    u = len(h)
    b_in, b_rec = (0, 0) if bias is None else ((bias[0], bias[1]) if reset_after else (bias, 0))
    mx = x @ kernel + b_in
    if reset_after:
        mh = h @ recurrent_kernel + b_rec
        z = ract(mx[:u] + mh[:u])
        r = ract(mx[u : 2 * u] + mh[u : 2 * u])
        hh = act(mx[2 * u :] + r * mh[2 * u :])
    else:
        mh = h @ recurrent_kernel[:, : 2 * u]
        z = ract(mx[:u] + mh[:u])
        r = ract(mx[u : 2 * u] + mh[u:])
        hh = act(mx[2 * u :] + (r * h) @ recurrent_kernel[:, 2 * u :])
    h_new = z * h + (1 - z) * hh
    return h_new, [h_new]


def rnn(
    cell,
    x,
    kernel,
    recurrent_kernel,
    bias=None,
    *,
    activation="tanh",
    recurrent_activation="sigmoid",
    reset_after=True,
    initial_state=None,
    mask=None,
    return_sequences=False,
    go_backwards=False,
    zero_output_for_mask=False,
):
    """Keras's RNN layer by a plain loop over samples and steps: returns [output, *states].

    Masked steps (mask 0) carry the states through and repeat the previous output (zero before
    any kept step; always zero with zero_output_for_mask). With go_backwards the steps run from
    the last to the first and the outputs stay in that processing order, as Keras returns them.
    """
    x = np.asarray(x, dtype=np.float64)
    n_samples, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    n_states = 2 if cell == "lstm" else 1
    act, ract = _rnn_activation(activation), _rnn_activation(recurrent_activation)
    outputs, finals = [], [[] for _ in range(n_states)]
    for n in range(n_samples):
        if initial_state is None:
            states = [np.zeros(units) for _ in range(n_states)]
        else:
            states = [np.asarray(s[n], dtype=np.float64) for s in initial_state]
        prev, seq = np.zeros(units), []
        order = range(steps - 1, -1, -1) if go_backwards else range(steps)
        for t in order:
            out, new = _rnn_cell_step(
                cell, x[n, t], states, kernel, recurrent_kernel, bias, act, ract, reset_after
            )
            if mask is None or mask[n, t]:
                states, prev = new, out
            else:
                prev = np.zeros(units) if zero_output_for_mask else prev
            seq.append(prev)
        outputs.append(np.stack(seq) if return_sequences else seq[-1])
        for i, s in enumerate(states):
            finals[i].append(s)
    return [np.stack(outputs)] + [np.stack(f) for f in finals]


def bidirectional(cell, x, forward_weights, backward_weights, merge_mode="concat", **kw):
    """Keras's Bidirectional from two `rnn` runs: the backward one with go_backwards, its
    sequences flipped back to input order (its padding outputs are zeros, as Keras forces
    zero_output_for_mask when returning sequences); returns [merged..., *states]."""
    seqs = kw.get("return_sequences", False)
    fw = rnn(cell, x, *forward_weights, zero_output_for_mask=seqs, **kw)
    bw = rnn(cell, x, *backward_weights, go_backwards=True, zero_output_for_mask=seqs, **kw)
    y, y_rev = fw[0], bw[0][:, ::-1] if seqs else bw[0]
    merged = {
        "concat": lambda: [np.concatenate([y, y_rev], axis=-1)],
        "sum": lambda: [y + y_rev],
        "mul": lambda: [y * y_rev],
        "ave": lambda: [(y + y_rev) / 2],
        None: lambda: [y, y_rev],
    }[merge_mode]()
    return merged + fw[1:] + bw[1:]
