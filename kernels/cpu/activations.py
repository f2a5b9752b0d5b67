"""Elementwise activation kernels (forward and backward) on 1-D contiguous arrays, the scalar
formulas they share with the kernels that fuse an activation, and those kernels' fused rows:
`activate_row` and `derivative_row`, one branch per fused activation of
kernels/activation_codes.py, inlined by the bias pass (bias.py) and the recurrent gates.

Every forward writes `out[i] = f(x[i])`; every backward writes `dx[i] = dy[i] * f'(x[i])`, a
product, so a NaN or infinite dy is never masked out (as TensorFlow's and JAX's gradients; clip
alone selects, as TensorFlow's clip_by_value), taking both `x` and the forward result `y` so
each formula can use the cheaper of the two.
NaN in gives NaN out; at +-inf every activation gives its limit, never 0 * inf = NaN.
Callers flatten: arrays are 1-D, C-contiguous, float32 or float64, all the same length.
"""

import functools
import math
import warnings

import numpy as np
from numba import njit, types
from numba.core.errors import NumbaIRAssumptionWarning
from numba.extending import NativeValue, models, overload, register_model, typeof_impl, unbox

from graphengine_kernels.activation_codes import (
    FUSED,
    HARD_SIGMOID,
    LINEAR,
    RELU,
    RELU6,
    SIGMOID,
    STEP,
    TANH,
)
from graphengine_kernels.cpu import threads

__all__ = [
    f"{kind}_{way}"
    for kind in (
        "relu sigmoid tanh elu selu gelu gelu_tanh softplus softsign swish hard_sigmoid exp log "
        "sqrt square abs clip sign"
    ).split()
    for way in ("forward", "backward")
]

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805
_INV_SQRT2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327
_C = 0.7978845608028654  # sqrt(2 / pi)

# -- scalar formulas shared with the fused kernels ------------------------------------------------
# The fused rows below inline these, so a fused activation gives the standalone one's bits (an
# edit here recompiles the kernels that inline them too: see kernels/cache.py).


@njit(inline="always")
def relu_value(v, slope, top, threshold):
    """min(v, top) above threshold, slope * (v - threshold) at or below it, NaN for NaN; a zero
    slope gives itself (0 * (-inf - threshold) would be NaN). Typed arguments keep the type."""
    if v > threshold:
        return min(v, top)
    if v <= threshold:
        return slope * (v - threshold) if slope != 0 else slope
    return v  # NaN fails both comparisons


@njit(inline="always")
def relu_derivative(v, slope, top, threshold, zero, one):
    """relu'(v): zero from a finite top up (top = inf clips nothing: relu'(inf) = 1), one above
    threshold, slope at or below it and for NaN (Keras's x > threshold mask). Taken at the
    output y = relu(x) of a plain relu (slope 0, top inf, threshold 0) it is the same: y > 0
    exactly where x > 0."""
    if v >= top and top != math.inf:
        return zero
    return one if v > threshold else slope


@njit(inline="always")
def sigmoid_value(v):
    """1 / (1 + exp(-v)) from e = exp(-|v|), which cannot overflow: 1 / (1 + e) for v >= 0,
    e / (1 + e) below (and for NaN, which stays NaN)."""
    e = math.exp(-abs(v))
    return 1.0 / (1.0 + e) if v >= 0 else e / (1.0 + e)


@njit(inline="always")
def sigmoid_derivative(y, one):
    """sigmoid'(x) = y (1 - y) from y = sigmoid(x)."""
    return y * (one - y)


@njit(inline="always")
def hard_sigmoid_derivative(y, zero, one, sixth):
    """The fused hard_sigmoid's derivative from its output y: sixth inside (0, 1), zero on the
    flat parts and for NaN."""
    return sixth if zero < y < one else zero


@njit(inline="always")
def step_value(v, zero, one):
    """Heaviside: one for v > 0, zero for v <= 0 (0 at 0, as relu's x > 0 mask), NaN for NaN.
    Its straight-through derivative is one everywhere, a function of the output as fusing needs."""
    if v > zero:
        return one
    return v if v != v else zero


@njit(inline="always")
def tanh_derivative(y, one):
    """tanh'(x) = 1 - y^2 from y = tanh(x)."""
    return one - y * y


# -- fused rows ------------------------------------------------------------------------------------
# activate_row and derivative_row run the fused activation `code` over a row. Given a Fused code
# (below), Numba compiles that activation's loop alone; given a plain int (the CUDA launchers'
# records, a caller's own code), one branch per activation, tested outside the loops so that
# each loop vectorizes. Literals come in typed, as a float64 literal would widen float32
# arithmetic and halve the vector width. Inlined into their callers, which compile them with
# their own flags (the recurrent kernels' fastmath contraction included).


class FusedType(types.Type):
    """Numba's type of a Fused code: the code is part of the type, the value carries nothing."""

    def __init__(self, code):
        self.code = code
        super().__init__(name=f"Fused({code})")


class Fused(int):
    """A fused activation's code (kernels/activation_codes.py) that Numba types as that
    activation (FusedType), not as an int: a kernel taking one compiles the loops of that
    activation only. Compiling every activation's branch was most of a first call's compile
    time (benchmarks/NOTES.md). Compares and hashes as its int. Each code is an instance of a
    subclass of its own whose class attribute `_numba_type_` Numba's dispatcher reads without
    calling into Python (0.2 us a call, as an int; typeof_impl took 1.3 us)."""

    __slots__ = ()

    def __new__(cls, code):
        return int.__new__(_FUSED_CLASSES[int(code)], code)

    def __repr__(self):
        return f"Fused({int(self)})"


_FUSED_CLASSES = {
    code: type(f"Fused{code}", (Fused,), {"__slots__": (), "_numba_type_": FusedType(code)})
    for code, _ in FUSED.values()
}


@typeof_impl.register(Fused)
def _typeof_fused(val, c):  # a Fused inside a tuple (the recurrent step records)
    return val._numba_type_


register_model(FusedType)(models.OpaqueModel)

# Numba's typed inliner (the inline="always" overloads below) leaves the inlined rows' variables
# out of the caller's scope table, and its SSA pass then warns "variable ... is not in scope" as
# it keeps their names: a pedantic check on Numba's own bookkeeping, not on the code, whose bits
# the tests compare with the standalone kernels'. Only that warning, for these rows, is ignored.
IR_SCOPE_WARNING = r"variable '\w*_row_v\d+\w*(\.\d+)?' is not in scope"  # (tests/conftest.py)
warnings.filterwarnings("ignore", message=IR_SCOPE_WARNING, category=NumbaIRAssumptionWarning)


@unbox(FusedType)
def _unbox_fused(typ, obj, c):
    return NativeValue(c.context.get_dummy_value())


@njit(inline="always")
def _linear_row(v, code):
    pass


@njit(inline="always")
def _relu_row(v, code):
    zero, top = v.dtype.type(0), v.dtype.type(math.inf)  # slope 0, nothing clipped: LLVM folds
    for j in range(v.size):
        v[j] = relu_value(v[j], zero, top, zero)


@njit(inline="always")
def _sigmoid_row(v, code):
    for j in range(v.size):
        v[j] = sigmoid_value(v[j])


@njit(inline="always")
def _tanh_row(v, code):
    for j in range(v.size):
        v[j] = math.tanh(v[j])


@njit(inline="always")
def _hard_sigmoid_row(v, code):
    zero, one = v.dtype.type(0), v.dtype.type(1)
    sixth, half = v.dtype.type(1.0 / 6.0), v.dtype.type(0.5)
    for j in range(v.size):
        v[j] = min(max(v[j] * sixth + half, zero), one)  # min and max keep a NaN


@njit(inline="always")
def _relu6_row(v, code):
    zero, six = v.dtype.type(0), v.dtype.type(6)
    for j in range(v.size):
        v[j] = relu_value(v[j], zero, six, zero)


@njit(inline="always")
def _step_row(v, code):
    zero, one = v.dtype.type(0), v.dtype.type(1)
    for j in range(v.size):
        v[j] = step_value(v[j], zero, one)


_ACTIVATE_ROWS = {
    LINEAR: _linear_row,
    RELU: _relu_row,
    SIGMOID: _sigmoid_row,
    TANH: _tanh_row,
    HARD_SIGMOID: _hard_sigmoid_row,
    RELU6: _relu6_row,
    STEP: _step_row,
}


def activate_row(v, code):
    """v (1-D) = f(v) in place, f the fused activation `code` (LINEAR leaves v alone), with the
    standalone formulas but hard_sigmoid's (in v's float type, times a rounded 1/6: it fuses in
    the recurrent gates only). The recurrent kernels take float32 tanh and sigmoid from their
    own rational approximations and the rest from here. Numba only (the overload below)."""
    raise TypeError("activate_row runs inside Numba kernels only")


@overload(activate_row, inline="always")
def _activate_row(v, code):
    if isinstance(code, FusedType):
        return _ACTIVATE_ROWS[code.code].py_func

    def branches(v, code):
        if code == RELU:
            _relu_row(v, code)
        elif code == SIGMOID:
            _sigmoid_row(v, code)
        elif code == TANH:
            _tanh_row(v, code)
        elif code == HARD_SIGMOID:
            _hard_sigmoid_row(v, code)
        elif code == RELU6:
            _relu6_row(v, code)
        elif code == STEP:
            _step_row(v, code)

    return branches


# The derivative rows: dz = dy * f'(x), written with y = f(x) (every fused activation's
# derivative is a function of its output, so backward passes keep outputs only), as a product,
# so a NaN or infinite dy stays so wherever f' is finite. With `summing` (a constant at each call
# site: the test folds away) sums += dz in the same loop. dz may be dy: in place.


@njit(inline="always")
def _linear_derivative_row(y, dy, code, dz, sums, summing):
    for j in range(dz.size):
        g = dy[j]
        dz[j] = g
        if summing:
            sums[j] += g


@njit(inline="always")
def _relu_derivative_row(y, dy, code, dz, sums, summing):
    zero, one = dz.dtype.type(0), dz.dtype.type(1)
    top = dz.dtype.type(math.inf)  # a plain relu: relu'(inf) = 1
    for j in range(dz.size):
        g = dy[j] * relu_derivative(y[j], zero, top, zero, zero, one)
        dz[j] = g
        if summing:
            sums[j] += g


@njit(inline="always")
def _sigmoid_derivative_row(y, dy, code, dz, sums, summing):
    one = dz.dtype.type(1)
    for j in range(dz.size):
        g = dy[j] * sigmoid_derivative(y[j], one)
        dz[j] = g
        if summing:
            sums[j] += g


@njit(inline="always")
def _tanh_derivative_row(y, dy, code, dz, sums, summing):
    one = dz.dtype.type(1)
    for j in range(dz.size):
        g = dy[j] * tanh_derivative(y[j], one)
        dz[j] = g
        if summing:
            sums[j] += g


@njit(inline="always")
def _hard_sigmoid_derivative_row(y, dy, code, dz, sums, summing):
    zero, one, sixth = dz.dtype.type(0), dz.dtype.type(1), dz.dtype.type(1.0 / 6.0)
    for j in range(dz.size):
        g = dy[j] * hard_sigmoid_derivative(y[j], zero, one, sixth)
        dz[j] = g
        if summing:
            sums[j] += g


@njit(inline="always")
def _relu6_derivative_row(y, dy, code, dz, sums, summing):
    zero, one, six = dz.dtype.type(0), dz.dtype.type(1), dz.dtype.type(6)
    for j in range(dz.size):
        g = dy[j] * relu_derivative(y[j], zero, six, zero, zero, one)
        dz[j] = g
        if summing:
            sums[j] += g


# step's straight-through derivative is 1: its row is linear's (dz = dy)
_DERIVATIVE_ROWS = {
    LINEAR: _linear_derivative_row,
    RELU: _relu_derivative_row,
    SIGMOID: _sigmoid_derivative_row,
    TANH: _tanh_derivative_row,
    HARD_SIGMOID: _hard_sigmoid_derivative_row,
    RELU6: _relu6_derivative_row,
    STEP: _linear_derivative_row,
}


def derivative_row(y, dy, code, dz, sums, summing):
    """dz = dy * f'(x) over 1-D rows from y = f(x), f the fused activation `code`, the
    standalone derivatives; sums += dz as well with `summing` (see above). Numba only (the
    overload below)."""
    raise TypeError("derivative_row runs inside Numba kernels only")


@overload(derivative_row, inline="always")
def _derivative_row(y, dy, code, dz, sums, summing):
    if isinstance(code, FusedType):
        return _DERIVATIVE_ROWS[code.code].py_func

    def branches(y, dy, code, dz, sums, summing):
        if code == RELU:
            _relu_derivative_row(y, dy, code, dz, sums, summing)
        elif code == SIGMOID:
            _sigmoid_derivative_row(y, dy, code, dz, sums, summing)
        elif code == TANH:
            _tanh_derivative_row(y, dy, code, dz, sums, summing)
        elif code == HARD_SIGMOID:
            _hard_sigmoid_derivative_row(y, dy, code, dz, sums, summing)
        elif code == RELU6:
            _relu6_derivative_row(y, dy, code, dz, sums, summing)
        else:  # linear, and step (straight-through)
            _linear_derivative_row(y, dy, code, dz, sums, summing)

    return branches


# -- kernels ---------------------------------------------------------------------------------------


@njit(cache=True)
def relu_forward(x, negative_slope, max_value, threshold, out):
    """out = min(x, max_value) for x > threshold, else negative_slope * (x - threshold)
    (strict, as Keras: relu(0) has slope negative_slope, so its gradient there is 0)."""
    for i in range(x.size):
        out[i] = relu_value(x[i], negative_slope, max_value, threshold)


@njit(cache=True)
def relu_backward(x, y, dy, negative_slope, max_value, threshold, dx):
    """dx = dy on (threshold, max_value), dy * negative_slope up to threshold, 0 from max up."""
    for i in range(x.size):
        dx[i] = dy[i] * relu_derivative(x[i], negative_slope, max_value, threshold, 0.0, 1.0)


@njit(cache=True, nogil=True)
def sigmoid_forward(x, out):
    """out = 1 / (1 + exp(-x)), evaluated on the side where exp cannot overflow."""
    for i in range(x.size):
        out[i] = sigmoid_value(x[i])


@njit(cache=True, nogil=True)
def sigmoid_backward(x, y, dy, dx):
    """dx = dy * y * (1 - y)."""
    one = y.dtype.type(1)
    for i in range(x.size):
        dx[i] = dy[i] * sigmoid_derivative(y[i], one)


@njit(cache=True, nogil=True)
def tanh_forward(x, out):
    """out = tanh(x)."""
    for i in range(x.size):
        out[i] = math.tanh(x[i])


@njit(cache=True, nogil=True)
def tanh_backward(x, y, dy, dx):
    """dx = dy * (1 - y^2)."""
    one = y.dtype.type(1)
    for i in range(x.size):
        dx[i] = dy[i] * tanh_derivative(y[i], one)


@njit(cache=True, nogil=True)
def elu_forward(x, alpha, out):
    """out = x for x > 0, alpha * (exp(x) - 1) otherwise."""
    for i in range(x.size):
        v = x[i]
        out[i] = v if v > 0 else alpha * math.expm1(v)


@njit(cache=True, nogil=True)
def elu_backward(x, y, dy, alpha, dx):
    """dx = dy for x > 0, dy * alpha * exp(x) otherwise (not y + alpha: that cancels, leaving
    rounding noise where the derivative tends to 0)."""
    for i in range(x.size):
        v = x[i]
        dx[i] = dy[i] * (1.0 if v > 0 else alpha * math.exp(v))


@njit(cache=True, nogil=True)
def selu_forward(x, out):
    """out = scale * elu(x, alpha) with the self-normalizing constants of Klambauer et al. 2017."""
    for i in range(x.size):
        v = x[i]
        out[i] = SELU_SCALE * (v if v > 0 else SELU_ALPHA * math.expm1(v))


@njit(cache=True, nogil=True)
def selu_backward(x, y, dy, dx):
    """dx = dy * scale for x > 0, dy * scale * alpha * exp(x) otherwise."""
    for i in range(x.size):
        v = x[i]
        dx[i] = dy[i] * (SELU_SCALE if v > 0 else SELU_SCALE * SELU_ALPHA * math.exp(v))


@njit(cache=True, nogil=True)
def gelu_forward(x, out):
    """Exact GELU: out = x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2))); 0 where Phi is 0 (at
    -inf, -inf * 0 would be NaN)."""
    for i in range(x.size):
        v = x[i]
        p = 1.0 + math.erf(v * _INV_SQRT2)
        out[i] = 0.5 * v * p if p != 0 else 0.0


@njit(cache=True, nogil=True)
def gelu_backward(x, y, dy, dx):
    """dx = dy * (Phi(x) + x * phi(x)), the second term 0 where phi is (at +-inf)."""
    for i in range(x.size):
        v = x[i]
        cdf = 0.5 * (1.0 + math.erf(v * _INV_SQRT2))
        pdf = _INV_SQRT_2PI * math.exp(-0.5 * v * v)
        dx[i] = dy[i] * (cdf + (v * pdf if pdf != 0 else 0.0))


@njit(cache=True, nogil=True)
def gelu_tanh_forward(x, out):
    """Tanh-approximate GELU: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); 0 where the
    bracket is (at -inf)."""
    for i in range(x.size):
        v = x[i]
        p = 1.0 + math.tanh(_C * (v + 0.044715 * v * v * v))
        out[i] = 0.5 * v * p if p != 0 else 0.0


@njit(cache=True, nogil=True)
def gelu_tanh_backward(x, y, dy, dx):
    """Derivative of the tanh approximation; its second term is 0 where tanh saturates to
    exactly +-1 (x^2 may be inf there)."""
    for i in range(x.size):
        v = x[i]
        t = math.tanh(_C * (v + 0.044715 * v * v * v))
        s = 1.0 - t * t
        d = 0.5 * (1.0 + t)
        if s != 0:
            d += 0.5 * v * s * _C * (1.0 + 3.0 * 0.044715 * v * v)
        dx[i] = dy[i] * d


@njit(cache=True, nogil=True)
def softplus_forward(x, out):
    """out = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), stable for large |x|."""
    for i in range(x.size):
        v = x[i]
        out[i] = max(v, 0.0) + math.log1p(math.exp(-abs(v)))


@njit(cache=True, nogil=True)
def softplus_backward(x, y, dy, dx):
    """dx = dy * sigmoid(x)."""
    for i in range(x.size):
        dx[i] = dy[i] * sigmoid_value(x[i])


@njit(cache=True)
def softsign_forward(x, out):
    """out = x / (1 + |x|), +-1 at +-inf (inf / inf would be NaN)."""
    for i in range(x.size):
        v = x[i]
        out[i] = v / (1.0 + abs(v)) if abs(v) != math.inf else math.copysign(1.0, v)


@njit(cache=True)
def softsign_backward(x, y, dy, dx):
    """dx = dy / (1 + |x|)^2."""
    for i in range(x.size):
        d = 1.0 + abs(x[i])
        dx[i] = dy[i] / (d * d)


@njit(cache=True, nogil=True)
def swish_forward(x, out):
    """out = x * sigmoid(x) (swish / SiLU); 0 where sigmoid is (at -inf, -inf * 0 is NaN)."""
    for i in range(x.size):
        v = x[i]
        s = sigmoid_value(v)
        out[i] = v * s if s != 0 else 0.0


@njit(cache=True, nogil=True)
def swish_backward(x, y, dy, dx):
    """dx = dy * (s + x * s * (1 - s)), s = sigmoid(x); the second term is 0 where s (1 - s)
    is (at +-inf)."""
    for i in range(x.size):
        v = x[i]
        s = sigmoid_value(v)
        r = s * (1.0 - s)
        dx[i] = dy[i] * (s + (v * r if r != 0 else 0.0))


@njit(cache=True)
def hard_sigmoid_forward(x, out):
    """Keras 3 hard sigmoid: out = relu6(x + 3) / 6 = clip(x / 6 + 0.5, 0, 1); min and max keep
    a NaN first argument."""
    for i in range(x.size):
        out[i] = min(max(x[i] / 6.0 + 0.5, 0.0), 1.0)


@njit(cache=True)
def hard_sigmoid_backward(x, y, dy, dx):
    """dx = dy / 6 on (-3, 3), dy * 0 outside."""
    for i in range(x.size):
        v = x[i]
        dx[i] = dy[i] / 6.0 if -3.0 < v < 3.0 else dy[i] * 0.0


@njit(cache=True, nogil=True)
def exp_forward(x, out):
    """out = exp(x)."""
    for i in range(x.size):
        out[i] = math.exp(x[i])


@njit(cache=True, nogil=True)
def exp_backward(x, y, dy, dx):
    """dx = dy * y."""
    for i in range(x.size):
        dx[i] = dy[i] * y[i]


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
def log_backward(x, y, dy, dx):
    """dx = dy / x."""
    for i in range(x.size):
        dx[i] = dy[i] / x[i]


with np.errstate(invalid="ignore"):
    # NumPy's square root of a negative number: the machine's default NaN (its sign bit set on
    # x86), which a NaN constant written here would not match
    _SQRT_NEGATIVE = float(np.sqrt(np.float64(-1.0)))


@njit(cache=True)
def sqrt_forward(x, out):
    """out = sqrt(x), as NumPy: a NaN stays itself, a number below 0 gives NumPy's NaN. (The
    NaN's sign once followed whether LLVM vectorized the loop, which the buffers' addresses
    decided.)"""
    for i in range(x.size):
        v = x[i]
        out[i] = math.sqrt(v) if v >= 0 else (v if v != v else _SQRT_NEGATIVE)


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
        dx[i] = dy[i] * (1.0 if v > 0 else (-1.0 if v < 0 else 0.0))


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


@njit(cache=True)
def sign_forward(x, out):
    """out = 1 for x > 0, -1 for x < 0, 0 at +-0, NaN for NaN (as np.sign)."""
    for i in range(x.size):
        v = x[i]
        out[i] = 1.0 if v > 0 else (-1.0 if v < 0 else (v if v != v else 0.0))


@njit(cache=True)
def sign_backward(x, y, dy, dx):
    """dx = 0: sign is piecewise constant, and Keras (TensorFlow, PyTorch, JAX) gives zeros even
    for a NaN or infinite dy, so this one backward is not a product with dy."""
    for i in range(x.size):
        dx[i] = 0.0


# -- transcendental activations on OpenBLAS's threads ---------------------------------------------
# Numba's exp, tanh, erf are scalar calls without SVML: 5-10 ns an element (a GAT layer's ELU of
# (10000, 64) took 4.8 ms, its gradient 2.4). Large arrays run in ranges on OpenBLAS's own
# threads (threads.blas_pool_rows); each element is its range's alone, so the same bits.
_TRANSCENDENTAL_WORK = 4 * threads.ELEMENT_WORK  # multiply-adds an element: 64K elements pay


def _in_ranges(kernel, arrays):
    """kernel, whose first `arrays` arguments and last are arrays of one length (the rest
    scalars), over ranges of them on OpenBLAS's threads where there are enough."""

    @functools.wraps(kernel.py_func)  # its name, docstring and signature
    def run(*args):
        n = args[0].size

        def part(i0, i1):
            if i1 - i0 == n:  # one range (small arrays): no views to make
                kernel(*args)
                return
            head, scalars, out = args[:arrays], args[arrays:-1], args[-1]
            kernel(*(a[i0:i1] for a in head), *scalars, out[i0:i1])

        threads.blas_pool_rows(n, n * _TRANSCENDENTAL_WORK, part)

    return run


for _kind in ("sigmoid", "tanh", "elu", "selu", "gelu", "gelu_tanh", "softplus", "swish", "exp",
              "log"):  # fmt: skip
    globals()[f"{_kind}_forward"] = _in_ranges(globals()[f"{_kind}_forward"], 1)
    globals()[f"{_kind}_backward"] = _in_ranges(globals()[f"{_kind}_backward"], 3)
