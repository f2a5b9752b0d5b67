"""Elementwise activation kernels (forward and backward) on 1-D contiguous arrays.

Every forward writes `out[i] = f(x[i])`; every backward writes `dx[i] = dy[i] * f'(x[i])`,
taking both `x` and the forward result `y` so each formula can use the cheaper of the two.
Callers flatten: arrays are 1-D, C-contiguous, float32 or float64, all the same length.
"""

import math

import numpy as np
from numba import njit

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805
_INV_SQRT2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327


@njit(cache=True)
def _sigmoid(v):
    """1 / (1 + exp(-v)), evaluated on the side where exp cannot overflow."""
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


@njit(cache=True)
def relu_forward(x, negative_slope, max_value, threshold, out):
    """out = min(x, max_value) for x > threshold, else negative_slope * (x - threshold)
    (strict, as Keras: relu(0) has slope negative_slope, so its gradient there is 0)."""
    for i in range(x.size):
        v = x[i]
        if v > threshold:
            out[i] = min(v, max_value)
        else:
            out[i] = negative_slope * (v - threshold)


@njit(cache=True)
def relu_backward(x, y, dy, negative_slope, max_value, threshold, dx):
    """dx = dy on (threshold, max_value), dy * negative_slope up to threshold, 0 from max up."""
    for i in range(x.size):
        v = x[i]
        if v >= max_value:
            dx[i] = 0.0
        elif v > threshold:
            dx[i] = dy[i]
        else:
            dx[i] = dy[i] * negative_slope


@njit(cache=True)
def sigmoid_forward(x, out):
    """out = 1 / (1 + exp(-x)), evaluated on the side where exp cannot overflow."""
    for i in range(x.size):
        out[i] = _sigmoid(x[i])


@njit(cache=True)
def sigmoid_backward(x, y, dy, dx):
    """dx = dy * y * (1 - y)."""
    for i in range(x.size):
        dx[i] = dy[i] * y[i] * (1.0 - y[i])


@njit(cache=True)
def tanh_forward(x, out):
    """out = tanh(x)."""
    for i in range(x.size):
        out[i] = math.tanh(x[i])


@njit(cache=True)
def tanh_backward(x, y, dy, dx):
    """dx = dy * (1 - y^2)."""
    for i in range(x.size):
        dx[i] = dy[i] * (1.0 - y[i] * y[i])


@njit(cache=True)
def elu_forward(x, alpha, out):
    """out = x for x > 0, alpha * (exp(x) - 1) otherwise."""
    for i in range(x.size):
        v = x[i]
        out[i] = v if v > 0 else alpha * math.expm1(v)


@njit(cache=True)
def elu_backward(x, y, dy, alpha, dx):
    """dx = dy for x > 0, dy * (y + alpha) = dy * alpha * exp(x) otherwise."""
    for i in range(x.size):
        dx[i] = dy[i] if x[i] > 0 else dy[i] * (y[i] + alpha)


@njit(cache=True)
def selu_forward(x, out):
    """out = scale * elu(x, alpha) with the self-normalizing constants of Klambauer et al. 2017."""
    for i in range(x.size):
        v = x[i]
        out[i] = SELU_SCALE * (v if v > 0 else SELU_ALPHA * math.expm1(v))


@njit(cache=True)
def selu_backward(x, y, dy, dx):
    """dx = dy * scale for x > 0, dy * (y + scale * alpha) otherwise."""
    for i in range(x.size):
        dx[i] = dy[i] * SELU_SCALE if x[i] > 0 else dy[i] * (y[i] + SELU_SCALE * SELU_ALPHA)


@njit(cache=True)
def gelu_forward(x, out):
    """Exact GELU: out = x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2)))."""
    for i in range(x.size):
        v = x[i]
        out[i] = 0.5 * v * (1.0 + math.erf(v * _INV_SQRT2))


@njit(cache=True)
def gelu_backward(x, y, dy, dx):
    """dx = dy * (Phi(x) + x * phi(x))."""
    for i in range(x.size):
        v = x[i]
        cdf = 0.5 * (1.0 + math.erf(v * _INV_SQRT2))
        pdf = _INV_SQRT_2PI * math.exp(-0.5 * v * v)
        dx[i] = dy[i] * (cdf + v * pdf)


@njit(cache=True)
def gelu_tanh_forward(x, out):
    """Tanh-approximate GELU: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    for i in range(x.size):
        v = x[i]
        out[i] = 0.5 * v * (1.0 + math.tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)))


@njit(cache=True)
def gelu_tanh_backward(x, y, dy, dx):
    """Derivative of the tanh approximation."""
    for i in range(x.size):
        v = x[i]
        t = math.tanh(0.7978845608028654 * (v + 0.044715 * v * v * v))
        dt = (1.0 - t * t) * 0.7978845608028654 * (1.0 + 3.0 * 0.044715 * v * v)
        dx[i] = dy[i] * (0.5 * (1.0 + t) + 0.5 * v * dt)


@njit(cache=True)
def softplus_forward(x, out):
    """out = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), stable for large |x|."""
    for i in range(x.size):
        v = x[i]
        out[i] = max(v, 0.0) + math.log1p(math.exp(-abs(v)))


@njit(cache=True)
def softplus_backward(x, y, dy, dx):
    """dx = dy * sigmoid(x)."""
    for i in range(x.size):
        v = x[i]
        s = _sigmoid(v)
        dx[i] = dy[i] * s


@njit(cache=True)
def softsign_forward(x, out):
    """out = x / (1 + |x|)."""
    for i in range(x.size):
        out[i] = x[i] / (1.0 + abs(x[i]))


@njit(cache=True)
def softsign_backward(x, y, dy, dx):
    """dx = dy / (1 + |x|)^2."""
    for i in range(x.size):
        d = 1.0 + abs(x[i])
        dx[i] = dy[i] / (d * d)


@njit(cache=True)
def swish_forward(x, out):
    """out = x * sigmoid(x) (swish / SiLU)."""
    for i in range(x.size):
        v = x[i]
        s = _sigmoid(v)
        out[i] = v * s


@njit(cache=True)
def swish_backward(x, y, dy, dx):
    """dx = dy * (s + x * s * (1 - s)), s = sigmoid(x)."""
    for i in range(x.size):
        v = x[i]
        s = _sigmoid(v)
        dx[i] = dy[i] * (s + v * s * (1.0 - s))


@njit(cache=True)
def hard_sigmoid_forward(x, out):
    """Keras 3 hard sigmoid: out = relu6(x + 3) / 6 = clip(x / 6 + 0.5, 0, 1)."""
    for i in range(x.size):
        out[i] = min(max(x[i] / 6.0 + 0.5, 0.0), 1.0)


@njit(cache=True)
def hard_sigmoid_backward(x, y, dy, dx):
    """dx = dy / 6 on (-3, 3), 0 outside."""
    for i in range(x.size):
        v = x[i]
        dx[i] = dy[i] / 6.0 if -3.0 < v < 3.0 else 0.0


@njit(cache=True)
def exp_forward(x, out):
    """out = exp(x)."""
    for i in range(x.size):
        out[i] = math.exp(x[i])


@njit(cache=True)
def exp_backward(x, y, dy, dx):
    """dx = dy * y."""
    for i in range(x.size):
        dx[i] = dy[i] * y[i]


@njit(cache=True)
def log_forward(x, out):
    """out = log(x); -inf at 0 and nan below, as NumPy."""
    for i in range(x.size):
        v = x[i]
        if v > 0:
            out[i] = math.log(v)
        elif v == 0:
            out[i] = -np.inf
        else:
            out[i] = np.nan


@njit(cache=True)
def log_backward(x, y, dy, dx):
    """dx = dy / x."""
    for i in range(x.size):
        dx[i] = dy[i] / x[i]


@njit(cache=True)
def sqrt_forward(x, out):
    """out = sqrt(x); nan below 0, as NumPy."""
    for i in range(x.size):
        v = x[i]
        out[i] = math.sqrt(v) if v >= 0 else np.nan


@njit(cache=True)
def sqrt_backward(x, y, dy, dx):
    """dx = dy / (2 y)."""
    for i in range(x.size):
        dx[i] = dy[i] * 0.5 / y[i]


@njit(cache=True)
def square_forward(x, out):
    """out = x^2."""
    for i in range(x.size):
        out[i] = x[i] * x[i]


@njit(cache=True)
def square_backward(x, y, dy, dx):
    """dx = 2 x dy."""
    for i in range(x.size):
        dx[i] = 2.0 * x[i] * dy[i]


@njit(cache=True)
def abs_forward(x, out):
    """out = |x|."""
    for i in range(x.size):
        out[i] = abs(x[i])


@njit(cache=True)
def abs_backward(x, y, dy, dx):
    """dx = dy * sign(x) (0 at 0, as TensorFlow and PyTorch)."""
    for i in range(x.size):
        v = x[i]
        dx[i] = dy[i] if v > 0 else (-dy[i] if v < 0 else 0.0)


@njit(cache=True)
def clip_forward(x, lo, hi, out):
    """out = min(max(x, lo), hi)."""
    for i in range(x.size):
        out[i] = min(max(x[i], lo), hi)


@njit(cache=True)
def clip_backward(x, y, dy, lo, hi, dx):
    """dx = dy where lo <= x <= hi (inclusive, as TensorFlow's clip_by_value), else 0."""
    for i in range(x.size):
        v = x[i]
        dx[i] = dy[i] if lo <= v <= hi else 0.0
