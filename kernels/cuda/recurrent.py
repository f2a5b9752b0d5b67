"""Recurrent kernels on the device: the per-step gate math of SimpleRNN, LSTM and GRU (one
thread per batch row and unit: every unit's gates, cell and state depend on that unit alone),
the time-major copies around them, and dropout masks. Layout, activation codes
(kernels/activation_codes.py) and signatures, (t, n0, n1, args) with args the step's record of
kernels/sequences.py, are those of kernels/cpu/recurrent.py; BPTT steps are in
recurrent_backward.py. The recurrent products run on the tiled GEMM between steps, called by the
host loops of kernels/sequences.py."""

import numpy as np
from numba import cuda

from graphengine_kernels.cuda.activations import fused_value
from graphengine_kernels.cuda.launch import device, elementwise, flat

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


@cuda.jit(device=True)
def kept(a, n, t):
    """Whether step t of row n is kept by the mask of record a (mask, has_mask, reverse)."""
    if not a.has_mask:
        return True
    T = a.mask.shape[1]
    return a.mask[n, T - 1 - t if a.reverse else t] != 0


@cuda.jit(device=True)
def finish(t, n, j, keep, hnew, a):
    """Unit j of row n after step t: the carried state, its dropped copy and the output, as
    kernels/cpu/recurrent.py's _finish_row."""
    T = a.hs.shape[0]
    hn = hnew if keep else a.hs[t, n, j]
    if t + 1 < T:
        a.hs[t + 1, n, j] = hn
        if a.has_rmask:
            a.hd[t + 1, n, j] = hn * a.rmask[n, j]
    else:
        a.h_last[n, j] = hn
    yi = t if a.seq_out else 0
    if keep:
        a.y[n, yi, j] = hnew
    elif a.zero_out or t == 0:
        a.y[n, yi, j] = 0
    elif a.seq_out:
        a.y[n, yi, j] = a.y[n, yi - 1, j]


def _on_device(a):
    """A host stand-in for an absent array, or every one in a step's record, on the device."""
    if isinstance(a, tuple):
        return type(a)(*[device(x) for x in a])
    return device(a)


def launch_rows(kernel, rows, units, *args):
    """kernel over rows x units threads; host stand-ins for absent arrays go to the device."""
    elementwise(kernel, rows * units)(*[_on_device(a) for a in args])


@cuda.jit(cache=True)
def time_major_kernel(x, reverse, dmask, has_dmask, to_time, out):
    """to_time: out (T, N, D)[t, n] = x (N, T, D)[n, s] * dmask; else the inverse."""
    if to_time:
        N, T, D = x.shape
    else:
        T, N, D = x.shape
    for e in range(cuda.grid(1), x.size, cuda.gridsize(1)):
        t, rest = e // (N * D), e % (N * D)
        n, d = rest // D, rest % D
        s = T - 1 - t if reverse else t
        m = dmask[n, d] if has_dmask else 1.0
        if to_time:
            out[t, n, d] = x[n, s, d] * m
        else:
            out[n, s, d] = x[t, n, d] * m


def rnn_to_time_major(x, reverse, dmask, has_dmask, out):
    """out (T, N, D)[t, n] = x (N, T, D)[n, s] * dmask (N, D)[n], s = T-1-t if reverse else t."""
    elementwise(time_major_kernel, x.size)(x, reverse, device(dmask), has_dmask, True, out)


def rnn_from_time_major(src, reverse, dmask, has_dmask, out):
    """out (N, T, D)[n, s] = src (T, N, D)[t, n] * dmask (N, D)[n]."""
    elementwise(time_major_kernel, src.size)(src, reverse, device(dmask), has_dmask, False, out)


@cuda.jit(cache=True)
def threshold_kernel(u, rate, scale):
    for i in range(cuda.grid(1), u.size, cuda.gridsize(1)):
        u[i] = scale if u[i] >= rate else 0


def rnn_dropout_mask(rate, rng, out):
    """out = 1 / (1 - rate) with probability 1 - rate, else 0; the randoms drawn on the host as
    the CPU kernel draws them (same seed, same mask)."""
    host = np.empty(out.size, out.dtype)
    rng.random(dtype=out.dtype, out=host)
    u = flat(out)
    u.copy_to_device(host)
    t = out.dtype.type
    elementwise(threshold_kernel, u.size)(u, t(rate), t(1.0 / (1.0 - rate)))


@cuda.jit(cache=True)
def simple_rnn_step_kernel(t, n0, n1, a):
    U = a.hs.shape[2]
    for e in range(cuda.grid(1), (n1 - n0) * U, cuda.gridsize(1)):
        n, j = n0 + e // U, e % U
        v = a.gates[t, n, j] + a.hr[n, j]
        if a.has_bias:
            v += a.bias[j]
        h = fused_value(v, a.act)
        a.gates[t, n, j] = h
        finish(t, n, j, kept(a, n, t), h, a)


def simple_rnn_forward_step(t, n0, n1, args):
    """h = act(x W + b + h_{t-1} R); args: sequences.SimpleRNNForward; gates (T, N, U): x W
    in, h out; hr (N, U) = h_{t-1} R."""
    launch_rows(simple_rnn_step_kernel, n1 - n0, args.hs.shape[2], t, n0, n1, args)


@cuda.jit(cache=True)
def lstm_step_kernel(t, n0, n1, a):
    T, _, U = a.cs.shape
    gates, hr, bias = a.gates, a.hr, a.bias
    for e in range(cuda.grid(1), (n1 - n0) * U, cuda.gridsize(1)):
        n, j = n0 + e // U, e % U
        zi = gates[t, n, j] + hr[n, j]
        zf = gates[t, n, U + j] + hr[n, U + j]
        zc = gates[t, n, 2 * U + j] + hr[n, 2 * U + j]
        zo = gates[t, n, 3 * U + j] + hr[n, 3 * U + j]
        if a.has_bias:
            zi += bias[j]
            zf += bias[U + j]
            zc += bias[2 * U + j]
            zo += bias[3 * U + j]
        i, f = fused_value(zi, a.ract), fused_value(zf, a.ract)
        g, o = fused_value(zc, a.act), fused_value(zo, a.ract)
        gates[t, n, j] = i
        gates[t, n, U + j] = f
        gates[t, n, 2 * U + j] = g
        gates[t, n, 3 * U + j] = o
        keep = kept(a, n, t)
        cp = a.cs[t, n, j]
        c = f * cp + i * g
        tc = fused_value(c, a.act)
        a.tcs[t, n, j] = tc
        if t + 1 < T:
            a.cs[t + 1, n, j] = c if keep else cp
        else:
            a.c_last[n, j] = c if keep else cp
        h = o * tc
        hr[n, j] = h
        finish(t, n, j, keep, h, a)


def lstm_forward_step(t, n0, n1, args):
    """i, f, o = ract(.), g = act(.) of x W + b + h_{t-1} R; c = f c_{t-1} + i g; h = o act(c);
    args: sequences.LSTMForward; gates (T, N, 4U): x W in, activations out; cs (T, N, U) cells
    before each step; tcs act(c)."""
    launch_rows(lstm_step_kernel, n1 - n0, args.cs.shape[2], t, n0, n1, args)


@cuda.jit(cache=True)
def gru_step_kernel(t, n0, n1, a):
    U = a.aux.shape[2]
    gates, hr = a.gates, a.hr
    for e in range(cuda.grid(1), (n1 - n0) * U, cuda.gridsize(1)):
        n, j = n0 + e // U, e % U
        if a.has_bias:
            for q in range(3):
                gates[t, n, q * U + j] += a.bias[q * U + j]
                hr[n, q * U + j] += a.brec[q * U + j]
        z = fused_value(gates[t, n, j] + hr[n, j], a.ract)
        r = fused_value(gates[t, n, U + j] + hr[n, U + j], a.ract)
        aux = hr[n, 2 * U + j]
        a.aux[t, n, j] = aux
        hh = fused_value(gates[t, n, 2 * U + j] + r * aux, a.act)
        gates[t, n, j] = z
        gates[t, n, U + j] = r
        gates[t, n, 2 * U + j] = hh
        h = z * a.hs[t, n, j] + (1.0 - z) * hh
        hr[n, j] = h
        finish(t, n, j, kept(a, n, t), h, a)


def gru_forward_step(t, n0, n1, args):
    """GRU with reset_after (z r hh gate order); args: sequences.GRUForward; aux (T, N, U)
    receives h R_h + b_hh."""
    launch_rows(gru_step_kernel, n1 - n0, args.aux.shape[2], t, n0, n1, args)


@cuda.jit(cache=True)
def gru_gates_kernel(t, n0, n1, a):
    U = a.aux.shape[2]
    gates = a.gates
    for e in range(cuda.grid(1), (n1 - n0) * U, cuda.gridsize(1)):
        n, j = n0 + e // U, e % U
        for q in range(2):
            v = gates[t, n, q * U + j] + a.hr[n, q * U + j]
            if a.has_bias:
                v += a.bias[q * U + j]
            gates[t, n, q * U + j] = fused_value(v, a.ract)
        a.aux[t, n, j] = gates[t, n, U + j] * a.hin[t, n, j]


def gru_forward_gates(t, n0, n1, args):
    """GRU without reset_after, first half; args: sequences.GRUGates: z, r into gates; aux =
    r * h_{t-1}."""
    launch_rows(gru_gates_kernel, n1 - n0, args.aux.shape[2], t, n0, n1, args)


@cuda.jit(cache=True)
def gru_candidate_kernel(t, n0, n1, a):
    U = a.hrh.shape[1]
    gates = a.gates
    for e in range(cuda.grid(1), (n1 - n0) * U, cuda.gridsize(1)):
        n, j = n0 + e // U, e % U
        v = gates[t, n, 2 * U + j] + a.hrh[n, j]
        if a.has_bias:
            v += a.bias[2 * U + j]
        hh = fused_value(v, a.act)
        gates[t, n, 2 * U + j] = hh
        z = gates[t, n, j]
        h = z * a.hs[t, n, j] + (1.0 - z) * hh
        a.hrh[n, j] = h
        finish(t, n, j, kept(a, n, t), h, a)


def gru_forward_candidate(t, n0, n1, args):
    """Second half; args: sequences.GRUCandidate: hh = act(x W_h + b_h + (r h) R_h), h = z
    h_{t-1} + (1 - z) hh."""
    launch_rows(gru_candidate_kernel, n1 - n0, args.hrh.shape[1], t, n0, n1, args)
