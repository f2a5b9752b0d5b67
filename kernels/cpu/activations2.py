"""The rest of Keras 3's elementwise activations (relu6, hard_silu, mish, celu, the shrinks,
squareplus, threshold, hard_tanh, log_sigmoid, sparse_plus, sparse_sigmoid, tanh_shrink), the
perceptron's step and sign with straight-through gradients, and RReLU's random slopes.

Same contract as kernels/cpu/activations.py: 1-D C-contiguous float32 / float64 arrays,
`out[i] = f(x[i])`, `dx[i] = dy[i] * f'(x[i])` (a product: a NaN or infinite dy is never masked),
NaN in gives NaN out and +-inf gives the limit. Values and derivatives at the kinks are
PyTorch's (Keras's torch backend), each stated below.
"""

import math

from numba import njit

from graphengine_kernels.cpu.activations import (
    relu_derivative,
    relu_value,
    sigmoid_value,
    sign_forward,
    step_value,
)

__all__ = [
    f"{kind}_{way}"
    for kind in (
        "relu6 step sign_ste hard_silu mish celu soft_shrink hard_shrink squareplus threshold "
        "hard_tanh log_sigmoid sparse_plus sparse_sigmoid tanh_shrink"
    ).split()
    for way in ("forward", "backward")
] + ["rrelu_forward", "rrelu_inference"]


@njit(cache=True)
def relu6_forward(x, out):
    """out = min(max(x, 0), 6): relu's formula with top 6 (the fused row's bits)."""
    for i in range(x.size):
        out[i] = relu_value(x[i], 0.0, 6.0, 0.0)


@njit(cache=True)
def relu6_backward(x, y, dy, dx):
    """dx = dy on (0, 6), 0 elsewhere (0 at both kinks, as PyTorch's hardtanh(0, 6))."""
    for i in range(x.size):
        dx[i] = dy[i] * relu_derivative(x[i], 0.0, 6.0, 0.0, 0.0, 1.0)


@njit(cache=True)
def step_forward(x, out):
    """out = 1 for x > 0, 0 for x <= 0, NaN for NaN."""
    zero, one = out.dtype.type(0), out.dtype.type(1)
    for i in range(x.size):
        out[i] = step_value(x[i], zero, one)


@njit(cache=True)
def _straight_through(dy, dx):
    """dx = dy: the identity straight-through estimator (Hinton 2012; Bengio et al. 2013), which
    makes a step unit learn by the perceptron rule."""
    for i in range(dy.size):
        dx[i] = dy[i]


def step_backward(x, y, dy, dx):
    """dx = dy (straight-through: step's true derivative is 0 almost everywhere)."""
    _straight_through(dy, dx)


sign_ste_forward = sign_forward  # sign's values; only the gradient differs


def sign_ste_backward(x, y, dy, dx):
    """dx = dy (straight-through, as step's; ge.ops.sign keeps Keras's zero gradient)."""
    _straight_through(dy, dx)


@njit(cache=True)
def hard_silu_forward(x, out):
    """out = x * relu6(x + 3) / 6: 0 up to -3 (also at -inf), x from 3 up."""
    for i in range(x.size):
        v = x[i]
        out[i] = 0.0 if v <= -3.0 else (v if v >= 3.0 else v * (v + 3.0) / 6.0)


@njit(cache=True)
def hard_silu_backward(x, y, dy, dx):
    """dx = dy * (0 below -3, x / 3 + 1/2 on [-3, 3], 1 above), PyTorch's hardswish."""
    for i in range(x.size):
        v = x[i]
        dx[i] = dy[i] * (0.0 if v < -3.0 else (v / 3.0 + 0.5 if v <= 3.0 else 1.0))


@njit(cache=True)
def mish_forward(x, out):
    """out = x * tanh(softplus(x)) (Misra 2019); 0 where the tanh is (at -inf)."""
    for i in range(x.size):
        v = x[i]
        t = math.tanh(max(v, 0.0) + math.log1p(math.exp(-abs(v))))
        out[i] = v * t if t != 0 else 0.0


@njit(cache=True)
def mish_backward(x, y, dy, dx):
    """dx = dy * (t + x * (1 - t^2) * sigmoid(x)), t = tanh(softplus(x)); the second term 0
    where its factors are (at +-inf)."""
    for i in range(x.size):
        v = x[i]
        t = math.tanh(max(v, 0.0) + math.log1p(math.exp(-abs(v))))
        r = (1.0 - t * t) * sigmoid_value(v)
        dx[i] = dy[i] * (t + (v * r if r != 0 else 0.0))


@njit(cache=True)
def celu_forward(x, alpha, out):
    """out = x for x > 0, alpha * (exp(x / alpha) - 1) otherwise (Barron 2017)."""
    for i in range(x.size):
        v = x[i]
        out[i] = v if v > 0 else alpha * math.expm1(v / alpha)


@njit(cache=True)
def celu_backward(x, y, dy, alpha, dx):
    """dx = dy for x > 0, dy * exp(x / alpha) otherwise."""
    for i in range(x.size):
        v = x[i]
        dx[i] = dy[i] * (1.0 if v > 0 else math.exp(v / alpha))


@njit(cache=True)
def soft_shrink_forward(x, threshold, out):
    """out = x - t above t, x + t below -t, 0 on [-t, t]; NaN for NaN."""
    for i in range(x.size):
        v = x[i]
        out[i] = v - threshold if v > threshold else (v + threshold if v < -threshold else v * 0.0)


@njit(cache=True)
def soft_shrink_backward(x, y, dy, threshold, dx):
    """dx = 0 on [-t, t] (closed, PyTorch's), dy elsewhere and for NaN."""
    for i in range(x.size):
        v = x[i]
        dx[i] = dy[i] * (0.0 if -threshold <= v <= threshold else 1.0)


@njit(cache=True)
def hard_shrink_forward(x, threshold, out):
    """out = 0 on [-t, t], x elsewhere (and for NaN)."""
    for i in range(x.size):
        v = x[i]
        out[i] = 0.0 if -threshold <= v <= threshold else v


@njit(cache=True)
def hard_shrink_backward(x, y, dy, threshold, dx):
    """dx = 0 on [-t, t], dy elsewhere."""
    for i in range(x.size):
        v = x[i]
        dx[i] = dy[i] * (0.0 if -threshold <= v <= threshold else 1.0)


@njit(inline="always")
def _squareplus(v, b):
    """(v + sqrt(v^2 + b)) / 2, below 0 as b / (2 (sqrt(v^2 + b) - v)): no cancellation, and 0
    at -inf instead of -inf + inf."""
    s = math.sqrt(v * v + b)
    return 0.5 * (v + s) if v >= 0 else b / (2.0 * (s - v))


@njit(cache=True)
def squareplus_forward(x, b, out):
    """out = (x + sqrt(x^2 + b)) / 2 (Barron 2021)."""
    for i in range(x.size):
        out[i] = _squareplus(x[i], b)


@njit(cache=True)
def squareplus_backward(x, y, dy, b, dx):
    """dx = dy * (1 + x / sqrt(x^2 + b)) / 2; x / sqrt(...) is sign(x) where the root overflows
    and 0 at x = 0 with b = 0."""
    for i in range(x.size):
        v = x[i]
        s = math.sqrt(v * v + b)
        r = math.copysign(1.0, v) if s == math.inf else (0.0 if s == 0 else v / s)
        dx[i] = dy[i] * 0.5 * (1.0 + r)


@njit(cache=True)
def threshold_forward(x, threshold, default_value, out):
    """out = x above threshold, default_value at or below it; NaN for NaN (PyTorch's)."""
    for i in range(x.size):
        v = x[i]
        out[i] = default_value if v <= threshold else v


@njit(cache=True)
def threshold_backward(x, y, dy, threshold, default_value, dx):
    """dx = dy above threshold (and for NaN), 0 at or below it."""
    for i in range(x.size):
        dx[i] = dy[i] * (0.0 if x[i] <= threshold else 1.0)


@njit(cache=True)
def hard_tanh_forward(x, out):
    """out = min(max(x, -1), 1); min and max keep a NaN first argument."""
    for i in range(x.size):
        out[i] = min(max(x[i], -1.0), 1.0)


@njit(cache=True)
def hard_tanh_backward(x, y, dy, dx):
    """dx = dy strictly inside (-1, 1) (and for NaN), 0 from the kinks out (PyTorch's)."""
    for i in range(x.size):
        v = x[i]
        dx[i] = dy[i] * (0.0 if v <= -1.0 or v >= 1.0 else 1.0)


@njit(cache=True)
def log_sigmoid_forward(x, out):
    """out = log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), stable at both ends."""
    for i in range(x.size):
        v = x[i]
        out[i] = min(v, 0.0) - math.log1p(math.exp(-abs(v)))


@njit(cache=True)
def log_sigmoid_backward(x, y, dy, dx):
    """dx = dy * sigmoid(-x)."""
    for i in range(x.size):
        dx[i] = dy[i] * sigmoid_value(-x[i])


@njit(cache=True)
def sparse_plus_forward(x, out):
    """out = 0 up to -1, (x + 1)^2 / 4 on (-1, 1), x from 1 up (and for NaN)."""
    for i in range(x.size):
        v = x[i]
        out[i] = 0.0 if v <= -1.0 else (0.25 * (v + 1.0) * (v + 1.0) if v < 1.0 else v)


@njit(cache=True)
def sparse_plus_backward(x, y, dy, dx):
    """dx = dy * (0 up to -1, (x + 1) / 2 on (-1, 1), 1 from 1 up and for NaN)."""
    for i in range(x.size):
        v = x[i]
        dx[i] = dy[i] * (0.0 if v <= -1.0 else (0.5 * (v + 1.0) if v < 1.0 else 1.0))


@njit(cache=True)
def sparse_sigmoid_forward(x, out):
    """out = 0 up to -1, (x + 1) / 2 on (-1, 1), 1 from 1 up; NaN for NaN."""
    for i in range(x.size):
        v = x[i]
        out[i] = 0.0 if v <= -1.0 else (1.0 if v >= 1.0 else 0.5 * (v + 1.0))


@njit(cache=True)
def sparse_sigmoid_backward(x, y, dy, dx):
    """dx = dy / 2 strictly inside (-1, 1) (and for NaN), 0 outside."""
    for i in range(x.size):
        v = x[i]
        dx[i] = dy[i] * (0.0 if v <= -1.0 or v >= 1.0 else 0.5)


@njit(cache=True)
def tanh_shrink_forward(x, out):
    """out = x - tanh(x)."""
    for i in range(x.size):
        v = x[i]
        out[i] = v - math.tanh(v)


@njit(cache=True)
def tanh_shrink_backward(x, y, dy, dx):
    """dx = dy * tanh(x)^2."""
    for i in range(x.size):
        t = math.tanh(x[i])
        dx[i] = dy[i] * (t * t)


# -- RReLU ------------------------------------------------------------------------------------


@njit(cache=True)
def _rrelu_apply(x, slope, low, width, y):
    """In place on flat `slope` (uniform in [0, 1) on entry): slope = 1 for x > 0, else
    low + width * slope (PyTorch's `x <= 0` test, so NaN keeps slope 1); y = x * slope."""
    for i in range(x.size):
        v = x[i]
        s = low + width * slope[i] if v <= 0 else 1.0
        slope[i] = s
        y[i] = v * s


def rrelu_forward(x, lower, upper, rng, mask, y):
    """Randomized leaky ReLU in training (Xu et al. 2015, torch.nn.RReLU): each x <= 0 gets its
    own slope uniform in [lower, upper), drawn from the Generator `rng` (as dropout's masks);
    mask holds the slope used (1 for x > 0), also dy/dx. Writes mask and y, x's shape."""
    rng.random(dtype=mask.dtype, out=mask.reshape(-1))
    _rrelu_apply(x.reshape(-1), mask.reshape(-1), lower, upper - lower, y.reshape(-1))


def rrelu_inference(x, slope, mask, y):
    """RReLU at inference: leaky ReLU with the fixed `slope` ((lower + upper) / 2) for x <= 0.
    Writes mask (the slope used) and y."""
    mask.fill(0.0)  # width 0 reads it: never let a stale NaN through
    _rrelu_apply(x.reshape(-1), mask.reshape(-1), slope, 0.0, y.reshape(-1))
