"""Elementwise activation kernels (forward and backward) on 1-D contiguous device arrays: one
device function per formula, mapped over the array by a grid-stride kernel. The value and
derivative functions without underscore are shared with the kernels that fuse an activation
through `fused_value` / `fused_derivative` (one branch per fused activation of
kernels/activation_codes.py; bias.py, recurrent.py), so fused and standalone give the same bits.

Forward: out[i] = f(x[i]); backward: dx[i] = dy[i] * f'(x[i]) from x, y = f(x) and dy, as the
CPU kernels (kernels/cpu/activations.py, which state each formula and its NaN / +-inf values).
"""

import math

from numba import cuda

from graphengine_kernels.activation_codes import HARD_SIGMOID, RELU, RELU6, SIGMOID, STEP, TANH
from graphengine_kernels.cuda.elementwise import fill
from graphengine_kernels.cuda.launch import elementwise

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805
_INV_SQRT2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327
_C = 0.7978845608028654  # sqrt(2 / pi)


@cuda.jit(device=True)
def relu_value(v, slope, top, threshold):
    """min(v, top) above threshold, slope * (v - threshold) at or below it, NaN for NaN; a zero
    slope gives 0 (0 * (-inf - threshold) would be NaN)."""
    if v > threshold:
        return min(v, top)
    if v <= threshold:
        return slope * (v - threshold) if slope != 0 else 0.0
    return v  # NaN fails both comparisons


@cuda.jit(device=True)
def relu_derivative(v, slope, top, threshold):
    """0 from a finite top up (top = inf clips nothing: relu'(inf) = 1), 1 above threshold,
    slope at or below it and for NaN; the same at the output of a plain relu."""
    if v >= top and top != math.inf:
        return 0.0
    return 1.0 if v > threshold else slope


@cuda.jit(device=True)
def sigmoid_value(v):
    """1 / (1 + exp(-v)) from e = exp(-|v|), which cannot overflow."""
    e = math.exp(-abs(v))
    return 1.0 / (1.0 + e) if v >= 0 else e / (1.0 + e)


@cuda.jit(device=True)
def sigmoid_derivative(y):
    """sigmoid'(x) = y (1 - y) from y = sigmoid(x)."""
    return y * (1.0 - y)


@cuda.jit(device=True)
def tanh_derivative(y):
    """tanh'(x) = 1 - y^2 from y = tanh(x)."""
    return 1.0 - y * y


@cuda.jit(device=True)
def hard_sigmoid_value(v):
    """clip(v / 6 + 0.5, 0, 1); min and max keep a NaN first argument."""
    return min(max(v / 6.0 + 0.5, 0.0), 1.0)


@cuda.jit(device=True)
def hard_sigmoid_derivative(y):
    """hard_sigmoid'(x) from y = hard_sigmoid(x): 1/6 strictly inside (0, 1), else 0."""
    return 1.0 / 6.0 if 0 < y < 1 else 0.0


@cuda.jit(device=True)
def step_value(v):
    """Heaviside: 1 for v > 0, 0 for v <= 0, NaN for NaN."""
    if v > 0:
        return 1.0
    return v if v != v else 0.0


@cuda.jit(device=True)
def fused_value(v, code):
    """f(v) for the fused activation `code` (LINEAR: v), with the standalone formulas (relu:
    slope 0, no top, threshold 0; relu6: top 6)."""
    if code == RELU:
        return relu_value(v, 0.0, math.inf, 0.0)
    if code == SIGMOID:
        return sigmoid_value(v)
    if code == TANH:
        return math.tanh(v)
    if code == HARD_SIGMOID:
        return hard_sigmoid_value(v)
    if code == RELU6:
        return relu_value(v, 0.0, 6.0, 0.0)
    if code == STEP:
        return step_value(v)
    return v


@cuda.jit(device=True)
def fused_derivative(y, code):
    """f'(x) of the fused activation `code`, written with y = f(x) (backward passes keep outputs
    only); callers multiply by it, so a NaN gradient stays NaN."""
    if code == RELU:
        return relu_derivative(y, 0.0, math.inf, 0.0)
    if code == SIGMOID:
        return sigmoid_derivative(y)
    if code == TANH:
        return tanh_derivative(y)
    if code == HARD_SIGMOID:
        return hard_sigmoid_derivative(y)
    if code == RELU6:
        return relu_derivative(y, 0.0, 6.0, 0.0)
    return 1.0  # linear, and step's straight-through derivative


def _map_forward(f):
    @cuda.jit
    def map_forward_kernel(x, p0, p1, p2, out):
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            out[i] = f(x[i], p0, p1, p2)

    return map_forward_kernel


def _map_backward(f):
    @cuda.jit
    def map_backward_kernel(x, y, dy, p0, p1, p2, dx):
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            dx[i] = dy[i] * f(x[i], y[i], p0, p1, p2)

    return map_backward_kernel


# -- formulas: forward f(v, params), backward f'(v, y, params) ------------------------------------
@cuda.jit(device=True)
def _relu(v, slope, top, threshold):
    return relu_value(v, slope, top, threshold)


@cuda.jit(device=True)
def _relu_d(v, y, slope, top, threshold):
    return relu_derivative(v, slope, top, threshold)


@cuda.jit(device=True)
def _sigmoid(v, a, b, c):
    return sigmoid_value(v)


@cuda.jit(device=True)
def _sigmoid_d(v, y, a, b, c):
    return sigmoid_derivative(y)


@cuda.jit(device=True)
def _tanh(v, a, b, c):
    return math.tanh(v)


@cuda.jit(device=True)
def _tanh_d(v, y, a, b, c):
    return tanh_derivative(y)


@cuda.jit(device=True)
def _elu(v, alpha, b, c):
    return v if v > 0 else alpha * math.expm1(v)


@cuda.jit(device=True)
def _elu_d(v, y, alpha, b, c):
    return 1.0 if v > 0 else alpha * math.exp(v)


@cuda.jit(device=True)
def _selu(v, a, b, c):
    return SELU_SCALE * (v if v > 0 else SELU_ALPHA * math.expm1(v))


@cuda.jit(device=True)
def _selu_d(v, y, a, b, c):
    return SELU_SCALE if v > 0 else SELU_SCALE * SELU_ALPHA * math.exp(v)


@cuda.jit(device=True)
def _gelu(v, a, b, c):
    p = 1.0 + math.erf(v * _INV_SQRT2)
    return 0.5 * v * p if p != 0 else 0.0


@cuda.jit(device=True)
def _gelu_d(v, y, a, b, c):
    pdf = _INV_SQRT_2PI * math.exp(-0.5 * v * v)
    return 0.5 * (1.0 + math.erf(v * _INV_SQRT2)) + (v * pdf if pdf != 0 else 0.0)


@cuda.jit(device=True)
def _gelu_tanh(v, a, b, c):
    p = 1.0 + math.tanh(_C * (v + 0.044715 * v * v * v))
    return 0.5 * v * p if p != 0 else 0.0


@cuda.jit(device=True)
def _gelu_tanh_d(v, y, a, b, c):
    t = math.tanh(_C * (v + 0.044715 * v * v * v))
    s = 1.0 - t * t
    d = 0.5 * (1.0 + t)
    if s != 0:
        d += 0.5 * v * s * _C * (1.0 + 3.0 * 0.044715 * v * v)
    return d


@cuda.jit(device=True)
def _softplus(v, a, b, c):
    return max(v, 0.0) + math.log1p(math.exp(-abs(v)))


@cuda.jit(device=True)
def _softplus_d(v, y, a, b, c):
    return sigmoid_value(v)


@cuda.jit(device=True)
def _softsign(v, a, b, c):
    return v / (1.0 + abs(v)) if abs(v) != math.inf else math.copysign(1.0, v)


@cuda.jit(device=True)
def _softsign_d(v, y, a, b, c):
    d = 1.0 + abs(v)
    return 1.0 / (d * d)


@cuda.jit(device=True)
def _swish(v, a, b, c):
    s = sigmoid_value(v)
    return v * s if s != 0 else 0.0


@cuda.jit(device=True)
def _swish_d(v, y, a, b, c):
    s = sigmoid_value(v)
    r = s * (1.0 - s)
    return s + (v * r if r != 0 else 0.0)


@cuda.jit(device=True)
def _hard_sigmoid(v, a, b, c):
    return hard_sigmoid_value(v)


@cuda.jit(device=True)
def _hard_sigmoid_d(v, y, a, b, c):
    return 1.0 / 6.0 if -3.0 < v < 3.0 else 0.0


@cuda.jit(device=True)
def _exp(v, a, b, c):
    return math.exp(v)


@cuda.jit(device=True)
def _exp_d(v, y, a, b, c):
    return y


@cuda.jit(device=True)
def _log(v, a, b, c):
    if v > 0:
        return math.log(v)
    return -math.inf if v == 0 else math.nan


@cuda.jit(device=True)
def _log_d(v, y, a, b, c):
    return 1.0 / v


@cuda.jit(device=True)
def _sqrt(v, a, b, c):
    return math.sqrt(v) if v >= 0 else math.nan


@cuda.jit(device=True)
def _sqrt_d(v, y, a, b, c):
    return 0.5 / y


@cuda.jit(device=True)
def _square(v, a, b, c):
    return v * v


@cuda.jit(device=True)
def _square_d(v, y, a, b, c):
    return 2.0 * v


@cuda.jit(device=True)
def _abs(v, a, b, c):
    return abs(v)


@cuda.jit(device=True)
def _abs_d(v, y, a, b, c):
    return 1.0 if v > 0 else (-1.0 if v < 0 else 0.0)


@cuda.jit(device=True)
def _clip(v, lo, hi, c):
    return min(max(v, lo), hi)


@cuda.jit(cache=True)
def clip_backward_kernel(x, dy, lo, hi, dx):
    """dx = dy where lo <= x <= hi (inclusive), else 0: a select, not a product, as TensorFlow's
    clip_by_value gradient and the CPU kernel (a NaN or infinite dy outside the range gives 0)."""
    for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
        v = x[i]
        dx[i] = dy[i] if lo <= v <= hi else 0.0


_KINDS = {
    "relu": (_relu, _relu_d, 3),
    "sigmoid": (_sigmoid, _sigmoid_d, 0),
    "tanh": (_tanh, _tanh_d, 0),
    "elu": (_elu, _elu_d, 1),
    "selu": (_selu, _selu_d, 0),
    "gelu": (_gelu, _gelu_d, 0),
    "gelu_tanh": (_gelu_tanh, _gelu_tanh_d, 0),
    "softplus": (_softplus, _softplus_d, 0),
    "softsign": (_softsign, _softsign_d, 0),
    "swish": (_swish, _swish_d, 0),
    "hard_sigmoid": (_hard_sigmoid, _hard_sigmoid_d, 0),
    "exp": (_exp, _exp_d, 0),
    "log": (_log, _log_d, 0),
    "sqrt": (_sqrt, _sqrt_d, 0),
    "square": (_square, _square_d, 0),
    "abs": (_abs, _abs_d, 0),
}
KERNELS = {k: (_map_forward(f), _map_backward(d)) for k, (f, d, _) in _KINDS.items()}
_CLIP_FORWARD = _map_forward(_clip)


def _params(p):
    return tuple(float(v) for v in p) + (0.0,) * (3 - len(p))


def _run_forward(kind, x, params, out, table=KERNELS):
    elementwise(table[kind][0], x.size)(x, *_params(params), out)


def _run_backward(kind, x, y, dy, params, dx, table=KERNELS):
    elementwise(table[kind][1], x.size)(x, y, dy, *_params(params), dx)


def relu_forward(x, negative_slope, max_value, threshold, out):
    _run_forward("relu", x, (negative_slope, max_value, threshold), out)


def relu_backward(x, y, dy, negative_slope, max_value, threshold, dx):
    _run_backward("relu", x, y, dy, (negative_slope, max_value, threshold), dx)


def elu_forward(x, alpha, out):
    _run_forward("elu", x, (alpha,), out)


def elu_backward(x, y, dy, alpha, dx):
    _run_backward("elu", x, y, dy, (alpha,), dx)


def clip_forward(x, lo, hi, out):
    elementwise(_CLIP_FORWARD, x.size)(x, float(lo), float(hi), 0.0, out)


def clip_backward(x, y, dy, lo, hi, dx):
    elementwise(clip_backward_kernel, x.size)(x, dy, float(lo), float(hi), dx)


def _plain(kind, table=KERNELS):
    """(forward, backward) launchers of `kind`'s kernel pair in `table`, no parameters."""

    def forward(x, out):
        _run_forward(kind, x, (), out, table)

    def backward(x, y, dy, dx):
        _run_backward(kind, x, y, dy, (), dx, table)

    forward.__name__, backward.__name__ = f"{kind}_forward", f"{kind}_backward"
    forward.__qualname__, backward.__qualname__ = forward.__name__, backward.__name__
    forward.__doc__ = f"out = {kind}(x) on 1-D device arrays."
    backward.__doc__ = f"dx = dy * {kind}'(x) on 1-D device arrays."
    return forward, backward


sigmoid_forward, sigmoid_backward = _plain("sigmoid")
tanh_forward, tanh_backward = _plain("tanh")
selu_forward, selu_backward = _plain("selu")
gelu_forward, gelu_backward = _plain("gelu")
gelu_tanh_forward, gelu_tanh_backward = _plain("gelu_tanh")
softplus_forward, softplus_backward = _plain("softplus")
softsign_forward, softsign_backward = _plain("softsign")
swish_forward, swish_backward = _plain("swish")
hard_sigmoid_forward, hard_sigmoid_backward = _plain("hard_sigmoid")
exp_forward, exp_backward = _plain("exp")
log_forward, log_backward = _plain("log")
sqrt_forward, sqrt_backward = _plain("sqrt")
square_forward, square_backward = _plain("square")
abs_forward, abs_backward = _plain("abs")


@cuda.jit(device=True)
def _sign(v, a, b, c):
    if v > 0:
        return 1.0
    if v < 0:
        return -1.0
    return v if v != v else 0.0  # NaN stays NaN, both zeros give 0 (as np.sign)


_SIGN_KERNEL = _map_forward(_sign)


def sign_forward(x, out):
    """out = sign(x) on 1-D device arrays (NaN for NaN, 0 at +-0)."""
    elementwise(_SIGN_KERNEL, x.size)(x, 0.0, 0.0, 0.0, out)


def sign_backward(x, y, dy, dx):
    """dx = 0, whatever dy holds (as the CPU kernel and Keras)."""
    fill(0.0, dx)


__all__ = [f"{k}_{d}" for k in [*_KINDS, "clip", "sign"] for d in ("forward", "backward")]
