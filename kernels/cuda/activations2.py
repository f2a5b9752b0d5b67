"""The second wave of activations on the device (kernels/cpu/activations2.py states each formula,
its kinks and its NaN / +-inf values): one device function per formula, mapped over 1-D arrays
by kernels/cuda/activations.py's grid-stride kernels; RReLU's slopes drawn on the host with the
NumPy Generator, as the CPU draws them, so a seed gives the same slopes on both devices."""

import math

import numpy as np
from numba import cuda

from graphengine_kernels.cuda.activations import (
    _map_backward,
    _map_forward,
    _plain,
    _sign,
    _run_backward,
    _run_forward,
    relu_derivative,
    relu_value,
    sigmoid_value,
    step_value,
)
from graphengine_kernels.cuda.elementwise import fill
from graphengine_kernels.cuda.launch import elementwise, flat


@cuda.jit(device=True)
def _relu6(v, a, b, c):
    return relu_value(v, 0.0, 6.0, 0.0)


@cuda.jit(device=True)
def _relu6_d(v, y, a, b, c):
    return relu_derivative(v, 0.0, 6.0, 0.0)


@cuda.jit(device=True)
def _step(v, a, b, c):
    return step_value(v)


@cuda.jit(device=True)
def _one(v, y, a, b, c):
    return 1.0  # the straight-through estimator


@cuda.jit(device=True)
def _hard_silu(v, a, b, c):
    return 0.0 if v <= -3.0 else (v if v >= 3.0 else v * (v + 3.0) / 6.0)


@cuda.jit(device=True)
def _hard_silu_d(v, y, a, b, c):
    return 0.0 if v < -3.0 else (v / 3.0 + 0.5 if v <= 3.0 else 1.0)


@cuda.jit(device=True)
def _mish_t(v):
    return math.tanh(max(v, 0.0) + math.log1p(math.exp(-abs(v))))


@cuda.jit(device=True)
def _mish(v, a, b, c):
    t = _mish_t(v)
    return v * t if t != 0 else 0.0


@cuda.jit(device=True)
def _mish_d(v, y, a, b, c):
    t = _mish_t(v)
    r = (1.0 - t * t) * sigmoid_value(v)
    return t + (v * r if r != 0 else 0.0)


@cuda.jit(device=True)
def _celu(v, alpha, b, c):
    return v if v > 0 else alpha * math.expm1(v / alpha)


@cuda.jit(device=True)
def _celu_d(v, y, alpha, b, c):
    return 1.0 if v > 0 else math.exp(v / alpha)


@cuda.jit(device=True)
def _soft_shrink(v, t, b, c):
    return v - t if v > t else (v + t if v < -t else v * 0.0)


@cuda.jit(device=True)
def _shrink_d(v, y, t, b, c):
    return 0.0 if -t <= v <= t else 1.0


@cuda.jit(device=True)
def _hard_shrink(v, t, b, c):
    return 0.0 if -t <= v <= t else v


@cuda.jit(device=True)
def _squareplus(v, b, a, c):
    s = math.sqrt(v * v + b)
    return 0.5 * (v + s) if v >= 0 else b / (2.0 * (s - v))


@cuda.jit(device=True)
def _squareplus_d(v, y, b, a, c):
    s = math.sqrt(v * v + b)
    r = math.copysign(1.0, v) if s == math.inf else (0.0 if s == 0 else v / s)
    return 0.5 * (1.0 + r)


@cuda.jit(device=True)
def _threshold(v, t, value, c):
    return value if v <= t else v


@cuda.jit(device=True)
def _threshold_d(v, y, t, value, c):
    return 0.0 if v <= t else 1.0


@cuda.jit(device=True)
def _hard_tanh(v, a, b, c):
    return min(max(v, -1.0), 1.0)


@cuda.jit(device=True)
def _hard_tanh_d(v, y, a, b, c):
    return 0.0 if v <= -1.0 or v >= 1.0 else 1.0


@cuda.jit(device=True)
def _log_sigmoid(v, a, b, c):
    return min(v, 0.0) - math.log1p(math.exp(-abs(v)))


@cuda.jit(device=True)
def _log_sigmoid_d(v, y, a, b, c):
    return sigmoid_value(-v)


@cuda.jit(device=True)
def _sparse_plus(v, a, b, c):
    return 0.0 if v <= -1.0 else (0.25 * (v + 1.0) * (v + 1.0) if v < 1.0 else v)


@cuda.jit(device=True)
def _sparse_plus_d(v, y, a, b, c):
    return 0.0 if v <= -1.0 else (0.5 * (v + 1.0) if v < 1.0 else 1.0)


@cuda.jit(device=True)
def _sparse_sigmoid(v, a, b, c):
    return 0.0 if v <= -1.0 else (1.0 if v >= 1.0 else 0.5 * (v + 1.0))


@cuda.jit(device=True)
def _sparse_sigmoid_d(v, y, a, b, c):
    return 0.0 if v <= -1.0 or v >= 1.0 else 0.5


@cuda.jit(device=True)
def _tanh_shrink(v, a, b, c):
    return v - math.tanh(v)


@cuda.jit(device=True)
def _tanh_shrink_d(v, y, a, b, c):
    t = math.tanh(v)
    return t * t


# kind -> (forward, derivative)
_KINDS = {
    "relu6": (_relu6, _relu6_d),
    "step": (_step, _one),
    "sign_ste": (_sign, _one),
    "hard_silu": (_hard_silu, _hard_silu_d),
    "mish": (_mish, _mish_d),
    "celu": (_celu, _celu_d),
    "soft_shrink": (_soft_shrink, _shrink_d),
    "hard_shrink": (_hard_shrink, _shrink_d),
    "squareplus": (_squareplus, _squareplus_d),
    "threshold": (_threshold, _threshold_d),
    "hard_tanh": (_hard_tanh, _hard_tanh_d),
    "log_sigmoid": (_log_sigmoid, _log_sigmoid_d),
    "sparse_plus": (_sparse_plus, _sparse_plus_d),
    "sparse_sigmoid": (_sparse_sigmoid, _sparse_sigmoid_d),
    "tanh_shrink": (_tanh_shrink, _tanh_shrink_d),
}
_KERNELS = {k: (_map_forward(f), _map_backward(d)) for k, (f, d) in _KINDS.items()}


relu6_forward, relu6_backward = _plain("relu6", _KERNELS)
step_forward, step_backward = _plain("step", _KERNELS)
sign_ste_forward, sign_ste_backward = _plain("sign_ste", _KERNELS)
hard_silu_forward, hard_silu_backward = _plain("hard_silu", _KERNELS)
mish_forward, mish_backward = _plain("mish", _KERNELS)
hard_tanh_forward, hard_tanh_backward = _plain("hard_tanh", _KERNELS)
log_sigmoid_forward, log_sigmoid_backward = _plain("log_sigmoid", _KERNELS)
sparse_plus_forward, sparse_plus_backward = _plain("sparse_plus", _KERNELS)
sparse_sigmoid_forward, sparse_sigmoid_backward = _plain("sparse_sigmoid", _KERNELS)
tanh_shrink_forward, tanh_shrink_backward = _plain("tanh_shrink", _KERNELS)


def celu_forward(x, alpha, out):
    _run_forward("celu", x, (alpha,), out, _KERNELS)


def celu_backward(x, y, dy, alpha, dx):
    _run_backward("celu", x, y, dy, (alpha,), dx, _KERNELS)


def soft_shrink_forward(x, threshold, out):
    _run_forward("soft_shrink", x, (threshold,), out, _KERNELS)


def soft_shrink_backward(x, y, dy, threshold, dx):
    _run_backward("soft_shrink", x, y, dy, (threshold,), dx, _KERNELS)


def hard_shrink_forward(x, threshold, out):
    _run_forward("hard_shrink", x, (threshold,), out, _KERNELS)


def hard_shrink_backward(x, y, dy, threshold, dx):
    _run_backward("hard_shrink", x, y, dy, (threshold,), dx, _KERNELS)


def squareplus_forward(x, b, out):
    _run_forward("squareplus", x, (b,), out, _KERNELS)


def squareplus_backward(x, y, dy, b, dx):
    _run_backward("squareplus", x, y, dy, (b,), dx, _KERNELS)


def threshold_forward(x, threshold, default_value, out):
    _run_forward("threshold", x, (threshold, default_value), out, _KERNELS)


def threshold_backward(x, y, dy, threshold, default_value, dx):
    _run_backward("threshold", x, y, dy, (threshold, default_value), dx, _KERNELS)


@cuda.jit(cache=True)
def rrelu_apply_kernel(x, slope, low, width, y):
    """slope = 1 for x > 0, else low + width * slope (in place); y = x * slope."""
    for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
        v = x[i]
        s = low + width * slope[i] if v <= 0 else 1.0
        slope[i] = s
        y[i] = v * s


def rrelu_forward(x, lower, upper, rng, mask, y):
    """RReLU in training: slopes uniform in [lower, upper) for x <= 0, drawn on the host from
    `rng` as on the CPU. Writes mask (the slope used) and y."""
    host = np.empty(mask.size, mask.dtype)
    rng.random(dtype=mask.dtype, out=host)
    m = flat(mask)
    m.copy_to_device(host)
    elementwise(rrelu_apply_kernel, x.size)(flat(x), m, lower, upper - lower, flat(y))


def rrelu_inference(x, slope, mask, y):
    """RReLU at inference: leaky ReLU with the fixed `slope`. Writes mask and y."""
    fill(0.0, mask)
    elementwise(rrelu_apply_kernel, x.size)(flat(x), flat(mask), slope, 0.0, flat(y))


__all__ = [f"{k}_{d}" for k in _KINDS for d in ("forward", "backward")] + [
    "rrelu_forward",
    "rrelu_inference",
]
