"""BPTT kernels of SimpleRNN, LSTM and GRU on the device: the gradient of one time step's gate
math, one thread per batch row and unit, in the layout and with the signatures of
kernels/cpu/recurrent_backward.py (which explains dhr, dpass and dout): (t, n0, n1, args), args
the step's record of kernels/sequences.py."""

from numba import cuda

from graphengine_kernels.cuda.activations import fused_derivative
from graphengine_kernels.cuda.recurrent import kept, launch_rows

__all__ = [
    "simple_rnn_backward_step",
    "lstm_backward_step",
    "gru_backward_step",
    "gru_backward_candidate",
    "gru_backward_gates",
    "rnn_backward_finish",
]


@cuda.jit(device=True)
def state_grad(t, n, j, keep, a):
    """Leaves in a.dpass[n, j] the full gradient of state h_t and updates a.dout[n, j]."""
    d = a.dhr[n, j] * a.rmask[n, j] if a.has_rmask else a.dhr[n, j]
    gy = a.dout[n, j] + a.dy[n, t, j] if a.has_dy else a.dout[n, j]
    if keep:
        a.dpass[n, j] += d + gy
        a.dout[n, j] = 0
    else:
        a.dpass[n, j] += d
        a.dout[n, j] = 0 if a.zero_out else gy


@cuda.jit(cache=True)
def simple_rnn_back_kernel(t, n0, n1, a):
    U = a.dpass.shape[1]
    dz, dpass = a.dz, a.dpass
    for e in range(cuda.grid(1), (n1 - n0) * U, cuda.gridsize(1)):
        n, j = n0 + e // U, e % U
        keep = kept(a, n, t)
        state_grad(t, n, j, keep, a)
        if keep:
            dz[t, n, j] = dpass[n, j] * fused_derivative(a.gates[t, n, j], a.act)
            dpass[n, j] = 0
        else:
            dz[t, n, j] = 0


def simple_rnn_backward_step(t, n0, n1, args):
    """dz (T, N, U)[t] = dh * act'(h); dpass keeps dh for masked rows, else 0; args:
    sequences.SimpleRNNBackward."""
    launch_rows(simple_rnn_back_kernel, n1 - n0, args.dpass.shape[1], t, n0, n1, args)


@cuda.jit(cache=True)
def lstm_back_kernel(t, n0, n1, a):
    U = a.dpass.shape[1]
    dz, gates, act, ract = a.dz, a.gates, a.act, a.ract
    for e in range(cuda.grid(1), (n1 - n0) * U, cuda.gridsize(1)):
        n, j = n0 + e // U, e % U
        keep = kept(a, n, t)
        state_grad(t, n, j, keep, a)
        if not keep:
            for q in range(4):
                dz[t, n, q * U + j] = 0
            continue
        p, tc = a.dpass[n, j], a.tcs[t, n, j]
        i, f, g, o = (
            gates[t, n, j],
            gates[t, n, U + j],
            gates[t, n, 2 * U + j],
            gates[t, n, 3 * U + j],
        )
        a.dpass[n, j] = 0
        c_grad = a.dc[n, j] + p * o * fused_derivative(tc, act)
        dz[t, n, j] = c_grad * g * fused_derivative(i, ract)
        dz[t, n, U + j] = c_grad * a.cs[t, n, j] * fused_derivative(f, ract)
        dz[t, n, 2 * U + j] = c_grad * i * fused_derivative(g, act)
        dz[t, n, 3 * U + j] = p * tc * fused_derivative(o, ract)
        a.dc[n, j] = c_grad * f


def lstm_backward_step(t, n0, n1, args):
    """dz (T, N, 4U)[t]: pre-activation gradients of i, f, c, o; dc (N, U) becomes dc * f;
    args: sequences.LSTMBackward."""
    launch_rows(lstm_back_kernel, n1 - n0, args.dpass.shape[1], t, n0, n1, args)


@cuda.jit(cache=True)
def gru_back_kernel(t, n0, n1, a):
    U = a.dpass.shape[1]
    dz, dzh, gates = a.dz, a.dzh, a.gates
    for e in range(cuda.grid(1), (n1 - n0) * U, cuda.gridsize(1)):
        n, j = n0 + e // U, e % U
        keep = kept(a, n, t)
        state_grad(t, n, j, keep, a)
        if not keep:
            for q in range(3):
                dz[t, n, q * U + j] = 0
                dzh[t, n, q * U + j] = 0
            continue
        p = a.dpass[n, j]
        z, r, hh = gates[t, n, j], gates[t, n, U + j], gates[t, n, 2 * U + j]
        dh = p * (1.0 - z) * fused_derivative(hh, a.act)
        dzz = p * (a.hs[t, n, j] - hh) * fused_derivative(z, a.ract)
        dr = dh * a.aux[t, n, j] * fused_derivative(r, a.ract)
        a.dpass[n, j] = p * z
        dz[t, n, j] = dzz
        dz[t, n, U + j] = dr
        dz[t, n, 2 * U + j] = dh
        dzh[t, n, j] = dzz
        dzh[t, n, U + j] = dr
        dzh[t, n, 2 * U + j] = dh * r


def gru_backward_step(t, n0, n1, args):
    """GRU with reset_after: dz (input side) and dzh (recurrent side) of step t; dpass = dh z;
    args: sequences.GRUBackward."""
    launch_rows(gru_back_kernel, n1 - n0, args.dpass.shape[1], t, n0, n1, args)


@cuda.jit(cache=True)
def gru_candidate_back_kernel(t, n0, n1, a):
    U = a.dpass.shape[1]
    dz, gates = a.dz, a.gates
    for e in range(cuda.grid(1), (n1 - n0) * U, cuda.gridsize(1)):
        n, j = n0 + e // U, e % U
        keep = kept(a, n, t)
        state_grad(t, n, j, keep, a)
        if not keep:
            for q in range(3):
                dz[t, n, q * U + j] = 0
            continue
        p = a.dpass[n, j]
        z, hh = gates[t, n, j], gates[t, n, 2 * U + j]
        dz[t, n, j] = p * (a.hs[t, n, j] - hh) * fused_derivative(z, a.ract)
        dz[t, n, U + j] = 0
        dz[t, n, 2 * U + j] = p * (1.0 - z) * fused_derivative(hh, a.act)
        a.dpass[n, j] = p * z


def gru_backward_candidate(t, n0, n1, args):
    """GRU without reset_after, first half: dz[t] for z and the candidate; dpass = dh z; args:
    sequences.GRUCandidateBackward."""
    launch_rows(gru_candidate_back_kernel, n1 - n0, args.dpass.shape[1], t, n0, n1, args)


@cuda.jit(cache=True)
def gru_gates_back_kernel(t, n0, n1, a):
    U = a.dpass.shape[1]
    for e in range(cuda.grid(1), (n1 - n0) * U, cuda.gridsize(1)):
        n, j = n0 + e // U, e % U
        r = a.gates[t, n, U + j]
        a.dz[t, n, U + j] = a.daux[n, j] * a.hin[t, n, j] * fused_derivative(r, a.ract)
        back = a.daux[n, j] * r
        a.dpass[n, j] += back * a.rmask[n, j] if a.has_rmask else back


def gru_backward_gates(t, n0, n1, args):
    """Second half: dz[t] for r from daux = d(r * hin); dpass += daux * r (* rmask); args:
    sequences.GRUGatesBackward."""
    launch_rows(gru_gates_back_kernel, n1 - n0, args.dpass.shape[1], t, n0, n1, args)


@cuda.jit(cache=True)
def finish_back_kernel(n0, n1, dhr, rmask, has_rmask, dpass, out):
    U = out.shape[1]
    for e in range(cuda.grid(1), (n1 - n0) * U, cuda.gridsize(1)):
        n, j = n0 + e // U, e % U
        out[n, j] = (dhr[n, j] * rmask[n, j] if has_rmask else dhr[n, j]) + dpass[n, j]


def rnn_backward_finish(n0, n1, dhr, rmask, has_rmask, dpass, out):
    """out (N, U)[n0:n1] = dhr * rmask + dpass: the gradient of the initial state."""
    launch_rows(finish_back_kernel, n1 - n0, out.shape[1], n0, n1, dhr, rmask, has_rmask, dpass,
                out)  # fmt: skip
