"""Recurrent kernels: the per-step gate math of SimpleRNN, LSTM and GRU, fused into one @njit
call per step, and the time-major copies around them. The BPTT backward steps are in
recurrent_backward.py, whole sequences (the steps with their products, batch rows in threads)
in recurrent_sequences.py.

Layout: the op keeps everything time-major, (T, N, ...), so that one step's rows are contiguous
and the weight gradients become single BLAS products over all T * N rows. `t` is the processing
step (with go_backwards, step t reads time index T - 1 - t). Gate blocks are laid out as Keras:
LSTM i, f, c, o; GRU z, r, h. All arrays are C-contiguous, float32 or float64, one dtype per call;
`mask` is (N, T) with 1 = keep; absent optional arrays are passed as (1, 1) dummies with their
flag False. Activation codes are kernels/activation_codes.py's (those fused at RECURRENT). Each
step kernel takes (t, n0, n1, args), args its record of kernels/sequences.py, read by name.
"""

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

from graphengine_kernels.activation_codes import SIGMOID, TANH
from graphengine_kernels.cpu.activations import (
    FusedType,
    activate_row,
    derivative_row,
    sigmoid_value,
)

# numpy's error model: float division without a zero check, so loops with one vectorize;
# "contract" lets LLVM fuse a * b + c into one FMA (twice as fast for the polynomials below)
_JIT = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": {"contract"}}
# the row helpers below are inlined into the step kernels: a call per row and helper, arrays
# passed as structs, was a sixth of the forward step and a fifth of the backward one (LSTM, 64
# rows, 4 x 128 gates: 72 -> 61 us and 83 -> 65 us)
_INLINE = {"inline": "always", "error_model": "numpy", "fastmath": {"contract"}}

__all__ = [
    "rnn_to_time_major",
    "rnn_from_time_major",
    "rnn_dropout_mask",
    "simple_rnn_forward_step",
    "lstm_forward_step",
    "gru_forward_step",
    "gru_forward_gates",
    "gru_forward_candidate",
]

# -- activations ------------------------------------------------------------------------------
# No SVML here, so math.tanh / math.exp are scalar libm calls that stop LLVM from vectorizing.
# In float32 tanh is a [13/6] rational function instead (Eigen's fast tanh: max abs error 3.5e-7
# on [-12, 12]), exactly +-1 from the clamp on (the rational gives 1 - 2.4e-7 there, which
# would leave sigmoid(-inf) at 1.2e-7); float64, used by gradient checks, keeps libm. relu and
# the derivatives are the standalone activations' formulas (kernels/cpu/activations.py): NaN in
# gives NaN out, and a NaN gradient stays NaN.
_F = np.float32
_TANH_CLAMP = _F(7.90531110763549805)
_P = tuple(
    _F(c)
    for c in (
        -2.76076847742355e-16,
        2.00018790482477e-13,
        -8.60467152213735e-11,
        5.12229709037114e-08,
        1.48572235717979e-05,
        6.37261928875436e-04,
        4.89352455891786e-03,
    )
)
_Q = tuple(
    _F(c)
    for c in (
        1.19825839466702e-06,
        1.18534705686654e-04,
        2.26843463243900e-03,
        4.89352518554385e-03,
    )
)
_P0, _P1, _P2, _P3, _P4, _P5, _P6 = _P
_Q0, _Q1, _Q2, _Q3 = _Q
_HALF32, _ONE32 = _F(0.5), _F(1)


def fast_tanh(x):
    """tanh(x): rational in float32, libm in float64 (chosen at compile time)."""
    return math.tanh(x)


def fast_sigmoid(x):
    """1 / (1 + exp(-x)); in float32 0.5 * tanh(x / 2) + 0.5 (absolute error < 2e-7)."""
    return 1.0 / (1.0 + math.exp(-x))


@overload(fast_tanh, jit_options={"error_model": "numpy", "fastmath": {"contract"}})
def _fast_tanh(x):
    if x == types.float32:

        def rational(x):
            c = min(max(x, -_TANH_CLAMP), _TANH_CLAMP)  # min and max keep a NaN
            c2 = c * c
            p = (((((c2 * _P0 + _P1) * c2 + _P2) * c2 + _P3) * c2 + _P4) * c2 + _P5) * c2 + _P6
            q = ((c2 * _Q0 + _Q1) * c2 + _Q2) * c2 + _Q3
            return math.copysign(_ONE32, x) if abs(x) >= _TANH_CLAMP else p * c / q

        return rational
    return lambda x: math.tanh(x)


@overload(fast_sigmoid, jit_options={"error_model": "numpy", "fastmath": {"contract"}})
def _fast_sigmoid(x):
    if x == types.float32:
        return lambda x: _HALF32 * fast_tanh(_HALF32 * x) + _HALF32
    return lambda x: sigmoid_value(x)


@njit(**_INLINE)
def _fast_tanh_row(v, code):
    for j in range(v.size):
        v[j] = fast_tanh(v[j])


@njit(**_INLINE)
def _fast_sigmoid_row(v, code):
    for j in range(v.size):
        v[j] = fast_sigmoid(v[j])


def _activate(v, code):
    """v = f(v) in place on a 1-D row: the float32 approximations above for tanh and sigmoid,
    the shared fused row (activations.activate_row) for the others; for a Fused code, that
    activation's loop alone, else one branch each, the switch outside the loops so each one
    vectorizes. Numba only (the overload below)."""
    raise TypeError("_activate runs inside Numba kernels only")


@overload(_activate, inline="always")
def _activate_overload(v, code):
    if isinstance(code, FusedType):
        if code.code == TANH:
            return _fast_tanh_row.py_func
        if code.code == SIGMOID:
            return _fast_sigmoid_row.py_func
        return lambda v, code: activate_row(v, code)

    def branches(v, code):
        if code == TANH:
            _fast_tanh_row(v, code)
        elif code == SIGMOID:
            _fast_sigmoid_row(v, code)
        else:
            activate_row(v, code)

    return branches


@njit(**_INLINE)
def _scale_by_derivative(d, y, code):
    """d *= f'(x), written with y = f(x) (activations.derivative_row, in place): the backward
    pass saves activations only, and a NaN or infinite d stays so wherever f' is finite."""
    derivative_row(y, d, code, d, d, False)


# -- layout and dropout -----------------------------------------------------------------------


@njit(cache=True)
def rnn_to_time_major(x, reverse, dmask, has_dmask, out):
    """out (T, N, D)[t, n] = x (N, T, D)[n, s] * dmask (N, D)[n], s = T-1-t if reverse else t."""
    N, T, D = x.shape
    for t in range(T):
        s = T - 1 - t if reverse else t
        for n in range(N):
            if has_dmask:
                for d in range(D):
                    out[t, n, d] = x[n, s, d] * dmask[n, d]
            else:
                for d in range(D):
                    out[t, n, d] = x[n, s, d]


@njit(cache=True)
def rnn_from_time_major(src, reverse, dmask, has_dmask, out):
    """out (N, T, D)[n, s] = src (T, N, D)[t, n] * dmask (N, D)[n]: the inverse of
    rnn_to_time_major, used for the input gradient."""
    T, N, D = src.shape
    for t in range(T):
        s = T - 1 - t if reverse else t
        for n in range(N):
            if has_dmask:
                for d in range(D):
                    out[n, s, d] = src[t, n, d] * dmask[n, d]
            else:
                for d in range(D):
                    out[n, s, d] = src[t, n, d]


def rnn_dropout_mask(rate, rng, out):
    """out = 1 / (1 - rate) with probability 1 - rate, else 0 (inverted dropout, as Keras);
    one mask per sequence, reused at every step."""
    rng.random(dtype=out.dtype, out=out.reshape(-1))
    _threshold(out.reshape(-1), out.dtype.type(rate), out.dtype.type(1.0 / (1.0 - rate)))


@njit(cache=True)
def _threshold(u, rate, scale):
    zero = u.dtype.type(0)
    for i in range(u.size):
        u[i] = scale if u[i] >= rate else zero


# -- forward steps ----------------------------------------------------------------------------


@njit(**_INLINE)
def _finish_row(t, n, keep, hnew, a):
    """Writes row n of the state after step t (hnew if the step is kept, else the previous
    state carried through) into a.hs[t + 1] or a.h_last, its dropped copy into a.hd, and the
    output: y[n, t] (or y[n, 0] for the last output only) is hnew when kept, else the previous
    output (zero before any kept step), or zero with zero_out, as Keras's masked rnn loop."""
    hs, y = a.hs, a.y
    T = hs.shape[0]
    U = hnew.size
    hp = hs[t, n]
    hn = hs[t + 1, n] if t + 1 < T else a.h_last[n]
    if keep:
        for j in range(U):
            hn[j] = hnew[j]
    else:
        for j in range(U):
            hn[j] = hp[j]
    if a.has_rmask and t + 1 < T:
        for j in range(U):
            a.hd[t + 1, n, j] = hn[j] * a.rmask[n, j]
    yi = t if a.seq_out else 0
    if keep:
        for j in range(U):
            y[n, yi, j] = hnew[j]
    elif a.zero_out or t == 0:
        for j in range(U):
            y[n, yi, j] = 0
    elif a.seq_out:
        for j in range(U):
            y[n, yi, j] = y[n, yi - 1, j]


@njit(**_INLINE)
def _accumulate(g, hrow, bias, has_bias):
    """g += hrow (+ bias): the recurrent product and the input-side bias join the projection."""
    if has_bias:
        for j in range(g.size):
            g[j] += hrow[j] + bias[j]
    else:
        for j in range(g.size):
            g[j] += hrow[j]


@njit(**_INLINE)
def _kept(a, n, t):
    """Whether step t of row n is kept by the mask of record a (mask, has_mask, reverse)."""
    if not a.has_mask:
        return True
    T = a.mask.shape[1]
    return a.mask[n, T - 1 - t if a.reverse else t] != 0


@njit(**_JIT)
def simple_rnn_forward_step(t, n0, n1, args):
    """h = act(x W + b + h_{t-1} R); args: sequences.SimpleRNNForward. gates (T, N, U): on
    entry x W, on exit h (unmasked); hr (N, U) = h_{t-1} R; hs (T, N, U) states before each
    step; y (N, T or 1, U)."""
    gates, hr = args.gates, args.hr
    for i in range(n1 - n0):  # 0-based bounds: no wraparound checks
        n = n0 + i
        g = gates[t, n]
        _accumulate(g, hr[n], args.bias, args.has_bias)
        _activate(g, args.act)
        _finish_row(t, n, _kept(args, n, t), g, args)


@njit(**_JIT)
def lstm_forward_step(t, n0, n1, args):
    """i, f, o = ract(.), g = act(.) of x W + b + h_{t-1} R; c = f c_{t-1} + i g; h = o act(c);
    args: sequences.LSTMForward. gates (T, N, 4U): x W in, activations out; hr (N, 4U); bias
    (4U,); cs (T, N, U) cells before each step (c_last after the last); tcs (T, N, U) receives
    act(c)."""
    gates, hr, cs, tcs, act, ract = args.gates, args.hr, args.cs, args.tcs, args.act, args.ract
    T, _, U = cs.shape
    for i in range(n1 - n0):  # 0-based bounds: no wraparound checks
        n = n0 + i
        g = gates[t, n]
        _accumulate(g, hr[n], args.bias, args.has_bias)
        _activate(g[: 2 * U], ract)
        _activate(g[2 * U : 3 * U], act)
        _activate(g[3 * U :], ract)
        keep = _kept(args, n, t)
        cp, tc = cs[t, n], tcs[t, n]
        cn = cs[t + 1, n] if t + 1 < T else args.c_last[n]
        for j in range(U):
            c = g[U + j] * cp[j] + g[j] * g[2 * U + j]
            tc[j] = c
            cn[j] = c if keep else cp[j]
        _activate(tc, act)
        hrow = hr[n, :U]  # this row of hr has been used: it holds the new h
        for j in range(U):
            hrow[j] = g[3 * U + j] * tc[j]
        _finish_row(t, n, keep, hrow, args)


@njit(**_JIT)
def gru_forward_step(t, n0, n1, args):
    """GRU with reset_after: z, r = ract(x W + b_x + h R + b_h), hh = act(x W_h + b_xh +
    r (h R_h + b_hh)), h = z h_{t-1} + (1 - z) hh; args: sequences.GRUForward. gates (T, N,
    3U): x W in, z r hh out; hr (N, 3U) = h_{t-1} R; bias, brec (3U,) input and recurrent
    biases; aux (T, N, U) receives h R_h + b_hh."""
    gates, hr, aux, hs, bias, brec = args.gates, args.hr, args.aux, args.hs, args.bias, args.brec
    U = aux.shape[2]
    one = gates.dtype.type(1)
    for i in range(n1 - n0):  # 0-based bounds: no wraparound checks
        n = n0 + i
        g, a, hrow = gates[t, n], aux[t, n], hr[n]
        if args.has_bias:  # both sides' biases: input (on gates), recurrent (on hr)
            for j in range(3 * U):
                g[j] += bias[j]
                hrow[j] += brec[j]
        for j in range(2 * U):
            g[j] += hrow[j]
        _activate(g[: 2 * U], args.ract)
        for j in range(U):
            a[j] = hrow[2 * U + j]
            g[2 * U + j] += g[U + j] * a[j]
        _activate(g[2 * U :], args.act)
        keep = _kept(args, n, t)
        hp = hs[t, n]
        for j in range(U):
            hrow[j] = g[j] * hp[j] + (one - g[j]) * g[2 * U + j]  # hr is free now: new h
        _finish_row(t, n, keep, hrow[:U], args)


@njit(**_JIT)
def gru_forward_gates(t, n0, n1, args):
    """GRU without reset_after, first half of a step: z, r = ract(x W + b + h R_zr) in gates
    (T, N, 3U)[..., :2U]; aux (T, N, U) receives r * h_{t-1} (hin: the recurrent input, dropped
    if recurrent dropout is on), the left operand of the candidate's product with R_h; args:
    sequences.GRUGates."""
    gates, hr, hin, aux = args.gates, args.hr, args.hin, args.aux
    U = aux.shape[2]
    for i in range(n1 - n0):  # 0-based bounds: no wraparound checks
        n = n0 + i
        g = gates[t, n]
        _accumulate(g[: 2 * U], hr[n], args.bias, args.has_bias)
        _activate(g[: 2 * U], args.ract)
        for j in range(U):
            aux[t, n, j] = g[U + j] * hin[t, n, j]


@njit(**_JIT)
def gru_forward_candidate(t, n0, n1, args):
    """Second half: hh = act(x W_h + b_h + (r h) R_h), h = z h_{t-1} + (1 - z) hh; args:
    sequences.GRUCandidate. hrh (N, U) = (r h) R_h on entry, the new h (scratch) on exit; bias
    (3U,)."""
    gates, hrh, hs = args.gates, args.hrh, args.hs
    U = hrh.shape[1]
    one = gates.dtype.type(1)
    for i in range(n1 - n0):  # 0-based bounds: no wraparound checks
        n = n0 + i
        g, hrow = gates[t, n], hrh[n]
        _accumulate(g[2 * U :], hrow, args.bias[2 * U :], args.has_bias)
        _activate(g[2 * U :], args.act)
        keep = _kept(args, n, t)
        hp = hs[t, n]
        for j in range(U):
            hrow[j] = g[j] * hp[j] + (one - g[j]) * g[2 * U + j]
        _finish_row(t, n, keep, hrow, args)
