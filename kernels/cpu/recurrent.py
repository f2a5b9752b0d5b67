"""Recurrent kernels: the per-step gate math of SimpleRNN, LSTM and GRU, fused into one @njit
call per step, the time-major copies around them, and running batch rows in threads. The BPTT
backward steps are in recurrent_backward.py, whole sequences (the steps with their products) in
recurrent_sequences.py.

Layout: the op keeps everything time-major, (T, N, ...), so that one step's rows are contiguous
and the weight gradients become single BLAS products over all T * N rows. `t` is the processing
step (with go_backwards, step t reads time index T - 1 - t). Gate blocks are laid out as Keras:
LSTM i, f, c, o; GRU z, r, h. All arrays are C-contiguous, float32 or float64, one dtype per call;
`mask` is (N, T) with 1 = keep; absent optional arrays are passed as (1, 1) dummies with their
flag False. Activation codes are kernels/activation_codes.py's (those fused at RECURRENT).
"""

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager

import numba
import numpy as np
from numba import njit, types
from numba.extending import overload

from kernels.activation_codes import SIGMOID, TANH
from kernels.cpu.activations import activate_row, derivative_row, sigmoid_value
from kernels.cpu.threads import BLAS_THREADS, num_threads

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
def _activate(v, code):
    """v = f(v) in place on a 1-D row: the float32 approximations above for tanh and sigmoid,
    the shared fused row (activations.activate_row) for the others; the switch is outside the
    loops so each one vectorizes."""
    if code == TANH:
        for j in range(v.size):
            v[j] = fast_tanh(v[j])
    elif code == SIGMOID:
        for j in range(v.size):
            v[j] = fast_sigmoid(v[j])
    else:
        activate_row(v, code)


@njit(**_INLINE)
def _scale_by_derivative(d, y, code):
    """d *= f'(x), written with y = f(x) (activations.derivative_row, in place): the backward
    pass saves activations only, and a NaN or infinite d stays so wherever f' is finite."""
    derivative_row(y, d, code, d, d, False)


# -- running rows in parallel ----------------------------------------------------------------
# The recurrence couples time steps, never batch rows: each thread runs every step for its own
# rows, its small per-step products on single-threaded BLAS. That costs one join per sequence,
# where BLAS's own threads would meet at a barrier in every step's product, which stalls (for
# milliseconds, measured) whenever the VM takes a core away.
#
# The whole-sequence kernels (recurrent_sequences.py) are parallel=True Numba loops over the row
# ranges, on Numba's thread pool, which starts and joins its threads without the GIL. From Python
# threads, each one took the GIL to start its kernel and the join woke the caller through the OS:
# 200 us before the second thread started and 100-200 us more to join, three times a training
# step (LSTM(128), 64 rows: train step 17.5 -> 16.7 ms and 19.4 -> 15.8 ms in alternating runs).
# rnn_parallel_rows, Python threads, remains for the host loops (a NumPy on another BLAS).
_MIN_ROWS = 8  # per thread
_MIN_WORK = 1 << 22  # multiply-adds per sequence below which one thread is faster
_MAX_POOL = 64
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


_BLAS_THREADS = BLAS_THREADS
# the row threads follow ge.config.set_num_threads (threads.num_threads, read at each call);
# 1 keeps every sequence on one thread (for a machine shared with other busy processes, where a
# thread that loses its core holds up the join)


@contextmanager
def _single_threaded_blas():
    get, put = _BLAS_THREADS
    before = get()
    put(1)
    try:
        yield
    finally:
        put(before)


def rnn_row_bounds(rows, work, min_rows=None):
    """The bounds (an int64 array, ranges + 1 long) of the row ranges [0, rows) is split into,
    one per thread, each of at least min_rows rows (default _MIN_ROWS), when `work`
    (multiply-adds) is large enough; else a single range."""
    chunks = min(num_threads(), rows // (min_rows or _MIN_ROWS)) if work >= _MIN_WORK else 1
    chunks = max(chunks, 1)
    return np.array([rows * c // chunks for c in range(chunks + 1)], dtype=np.int64)


# one parallel kernel at a time: Numba's "workqueue" layer (where neither OpenMP nor TBB is
# found) aborts the process on concurrent launches from two Python threads
_numba_lock = threading.Lock()
_numba_pool_usable = True


def numba_pool_usable():
    """False in a process forked after Numba's OpenMP pool ran in its parent: GNU OpenMP is not
    fork-safe, and Numba aborts such a child at its first parallel kernel (the row ranges then
    run from the host loops, in Python threads)."""
    return _numba_pool_usable


def _after_fork_in_child():
    global _pool, _numba_pool_usable
    _pool = None  # the parent's threads are not in the child: a new pool starts its own
    from numba.np.ufunc import parallel

    if parallel._is_initialized and numba.threading_layer() == "omp":
        _numba_pool_usable = False


os.register_at_fork(after_in_child=_after_fork_in_child)


# GNU OpenMP's idle threads spin GOMP_SPINCOUNT times before they sleep: 300,000 by default,
# about 17 ms on a Cascade Lake core, holding a core that the next op's BLAS threads want (LSTM
# then two Dense(2048), train step 97 -> 104 ms). 20,000 (about 1 ms there) still bridges the
# gaps between a training step's recurrent kernels. libgomp reads it once, when it loads: it is
# set only while Numba loads its OpenMP layer (unless the user set it), so another OpenMP
# runtime in the process (PyTorch's own libgomp) keeps its own setting.
_GOMP_SPINCOUNT = "20000"


def _start_numba_pool():
    from numba.np.ufunc import parallel

    if parallel._is_initialized:
        return
    ours = "GOMP_SPINCOUNT" not in os.environ
    if ours:
        os.environ["GOMP_SPINCOUNT"] = _GOMP_SPINCOUNT
    try:
        numba.get_num_threads()  # starts the pool
    finally:
        if ours:
            del os.environ["GOMP_SPINCOUNT"]


@contextmanager
def rnn_numba_rows(bounds):
    """Around a parallel=True kernel over the ranges of `bounds`: Numba's pool runs as many at
    once (at most its size), on single-threaded BLAS; both settings are restored after."""
    want = min(len(bounds) - 1, numba.config.NUMBA_NUM_THREADS)
    with _numba_lock:
        _start_numba_pool()
        before = numba.get_num_threads()
        if want != before:
            numba.set_num_threads(want)
        try:
            with _single_threaded_blas():
                yield
        finally:
            if want != before:
                numba.set_num_threads(before)


def rnn_parallel_rows(run, rows, work, min_rows=None):
    """Calls run(n0, n1) on the ranges of rnn_row_bounds, in Python threads when there are
    several, always with single-threaded BLAS when its threads can be set (else simply
    run(0, rows))."""
    if _BLAS_THREADS is None:
        run(0, rows)
        return
    bounds = [int(b) for b in rnn_row_bounds(rows, work, min_rows)]
    chunks = len(bounds) - 1
    with _single_threaded_blas():
        if chunks < 2:
            run(0, rows)
            return
        global _pool
        with _pool_lock:
            if _pool is None:  # starts threads on demand, at most chunks - 1 in use at once
                _pool = ThreadPoolExecutor(_MAX_POOL, thread_name_prefix="rnn-rows")
        futures = [_pool.submit(run, bounds[c], bounds[c + 1]) for c in range(1, chunks)]
        try:
            run(bounds[0], bounds[1])
        finally:
            wait(futures)  # no thread may still use BLAS once its threads are restored
        for f in futures:
            f.result()


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
def _finish_row(t, n, keep, hnew, hs, hd, rmask, has_rmask, h_last, y, seq_out, zero_out):
    """Writes row n of the state after step t (hnew if the step is kept, else the previous
    state carried through) into hs[t + 1] or h_last, its dropped copy into hd, and the output:
    y[n, t] (or y[n, 0] for the last output only) is hnew when kept, else the previous output
    (zero before any kept step), or zero with zero_out, as Keras's masked rnn loop."""
    T = hs.shape[0]
    U = hnew.size
    hp = hs[t, n]
    hn = hs[t + 1, n] if t + 1 < T else h_last[n]
    if keep:
        for j in range(U):
            hn[j] = hnew[j]
    else:
        for j in range(U):
            hn[j] = hp[j]
    if has_rmask and t + 1 < T:
        for j in range(U):
            hd[t + 1, n, j] = hn[j] * rmask[n, j]
    yi = t if seq_out else 0
    if keep:
        for j in range(U):
            y[n, yi, j] = hnew[j]
    elif zero_out or t == 0:
        for j in range(U):
            y[n, yi, j] = 0
    elif seq_out:
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
def _kept(mask, has_mask, n, t, reverse):
    if not has_mask:
        return True
    T = mask.shape[1]
    return mask[n, T - 1 - t if reverse else t] != 0


@njit(**_JIT)
def simple_rnn_forward_step(
    t,
    n0,
    n1,
    gates,
    hr,
    bias,
    has_bias,
    hs,
    mask,
    has_mask,
    reverse,
    act,
    rmask,
    has_rmask,
    hd,
    y,
    seq_out,
    zero_out,
    h_last,
):
    """h = act(x W + b + h_{t-1} R). gates (T, N, U): on entry x W, on exit h (unmasked);
    hr (N, U) = h_{t-1} R; hs (T, N, U) states before each step; y (N, T or 1, U)."""
    for i in range(n1 - n0):  # 0-based bounds: no wraparound checks
        n = n0 + i
        g = gates[t, n]
        _accumulate(g, hr[n], bias, has_bias)
        _activate(g, act)
        keep = _kept(mask, has_mask, n, t, reverse)
        _finish_row(t, n, keep, g, hs, hd, rmask, has_rmask, h_last, y, seq_out, zero_out)


@njit(**_JIT)
def lstm_forward_step(
    t,
    n0,
    n1,
    gates,
    hr,
    bias,
    has_bias,
    hs,
    cs,
    tcs,
    mask,
    has_mask,
    reverse,
    act,
    ract,
    rmask,
    has_rmask,
    hd,
    y,
    seq_out,
    zero_out,
    h_last,
    c_last,
):
    """i, f, o = ract(.), g = act(.) of x W + b + h_{t-1} R; c = f c_{t-1} + i g; h = o act(c).
    gates (T, N, 4U): x W in, activations out; hr (N, 4U); bias (4U,); cs (T, N, U) cells
    before each step (c_last after the last); tcs (T, N, U) receives act(c)."""
    T, _, U = cs.shape
    for i in range(n1 - n0):  # 0-based bounds: no wraparound checks
        n = n0 + i
        g = gates[t, n]
        _accumulate(g, hr[n], bias, has_bias)
        _activate(g[: 2 * U], ract)
        _activate(g[2 * U : 3 * U], act)
        _activate(g[3 * U :], ract)
        keep = _kept(mask, has_mask, n, t, reverse)
        cp, tc = cs[t, n], tcs[t, n]
        cn = cs[t + 1, n] if t + 1 < T else c_last[n]
        for j in range(U):
            c = g[U + j] * cp[j] + g[j] * g[2 * U + j]
            tc[j] = c
            cn[j] = c if keep else cp[j]
        _activate(tc, act)
        hrow = hr[n, :U]  # this row of hr has been used: it holds the new h
        for j in range(U):
            hrow[j] = g[3 * U + j] * tc[j]
        _finish_row(t, n, keep, hrow, hs, hd, rmask, has_rmask, h_last, y, seq_out, zero_out)


@njit(**_JIT)
def gru_forward_step(
    t,
    n0,
    n1,
    gates,
    hr,
    bias,
    has_bias,
    brec,
    aux,
    hs,
    mask,
    has_mask,
    reverse,
    act,
    ract,
    rmask,
    has_rmask,
    hd,
    y,
    seq_out,
    zero_out,
    h_last,
):
    """GRU with reset_after: z, r = ract(x W + b_x + h R + b_h), hh = act(x W_h + b_xh +
    r (h R_h + b_hh)), h = z h_{t-1} + (1 - z) hh. gates (T, N, 3U): x W in, z r hh out; hr
    (N, 3U) = h_{t-1} R; bias, brec (3U,) input and recurrent biases; aux (T, N, U) receives
    h R_h + b_hh."""
    U = aux.shape[2]
    one = gates.dtype.type(1)
    for i in range(n1 - n0):  # 0-based bounds: no wraparound checks
        n = n0 + i
        g, a, hrow = gates[t, n], aux[t, n], hr[n]
        if has_bias:  # both sides' biases: input (on gates), recurrent (on hr)
            for j in range(3 * U):
                g[j] += bias[j]
                hrow[j] += brec[j]
        for j in range(2 * U):
            g[j] += hrow[j]
        _activate(g[: 2 * U], ract)
        for j in range(U):
            a[j] = hrow[2 * U + j]
            g[2 * U + j] += g[U + j] * a[j]
        _activate(g[2 * U :], act)
        keep = _kept(mask, has_mask, n, t, reverse)
        hp = hs[t, n]
        for j in range(U):
            hrow[j] = g[j] * hp[j] + (one - g[j]) * g[2 * U + j]  # hr is free now: new h
        _finish_row(t, n, keep, hrow[:U], hs, hd, rmask, has_rmask, h_last, y, seq_out, zero_out)


@njit(**_JIT)
def gru_forward_gates(t, n0, n1, gates, hr, bias, has_bias, hin, aux, ract):
    """GRU without reset_after, first half of a step: z, r = ract(x W + b + h R_zr) in gates
    (T, N, 3U)[..., :2U]; aux (T, N, U) receives r * h_{t-1} (hin: the recurrent input, dropped
    if recurrent dropout is on), the left operand of the candidate's product with R_h."""
    U = aux.shape[2]
    for i in range(n1 - n0):  # 0-based bounds: no wraparound checks
        n = n0 + i
        g = gates[t, n]
        _accumulate(g[: 2 * U], hr[n], bias, has_bias)
        _activate(g[: 2 * U], ract)
        for j in range(U):
            aux[t, n, j] = g[U + j] * hin[t, n, j]


@njit(**_JIT)
def gru_forward_candidate(
    t,
    n0,
    n1,
    gates,
    hrh,
    bias,
    has_bias,
    hs,
    mask,
    has_mask,
    reverse,
    act,
    rmask,
    has_rmask,
    hd,
    y,
    seq_out,
    zero_out,
    h_last,
):
    """Second half: hh = act(x W_h + b_h + (r h) R_h), h = z h_{t-1} + (1 - z) hh; hrh (N, U)
    = (r h) R_h on entry, the new h (scratch) on exit; bias (3U,)."""
    U = hrh.shape[1]
    one = gates.dtype.type(1)
    for i in range(n1 - n0):  # 0-based bounds: no wraparound checks
        n = n0 + i
        g, hrow = gates[t, n], hrh[n]
        _accumulate(g[2 * U :], hrow, bias[2 * U :], has_bias)
        _activate(g[2 * U :], act)
        keep = _kept(mask, has_mask, n, t, reverse)
        hp = hs[t, n]
        for j in range(U):
            hrow[j] = g[j] * hp[j] + (one - g[j]) * g[2 * U + j]
        _finish_row(t, n, keep, hrow, hs, hd, rmask, has_rmask, h_last, y, seq_out, zero_out)
