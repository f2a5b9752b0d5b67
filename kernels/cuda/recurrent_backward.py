"""BPTT kernels of SimpleRNN, LSTM and GRU on the device: the gradient of one time step's gate
math, one thread per batch row and unit, in the layout and with the signatures of
kernels/cpu/recurrent_backward.py (which explains dhr, dpass and dout)."""

from numba import cuda

from kernels.cuda.activations import fused_derivative
from kernels.cuda.recurrent import kept, launch_rows

__all__ = [
    "simple_rnn_backward_step",
    "lstm_backward_step",
    "gru_backward_step",
    "gru_backward_candidate",
    "gru_backward_gates",
    "rnn_backward_finish",
]


@cuda.jit(device=True)
def state_grad(t, n, j, keep, dhr, rmask, has_rmask, dpass, dout, dy, has_dy, zero_out):
    """Leaves in dpass[n, j] the full gradient of state h_t and updates dout[n, j]."""
    d = dhr[n, j] * rmask[n, j] if has_rmask else dhr[n, j]
    gy = dout[n, j] + dy[n, t, j] if has_dy else dout[n, j]
    if keep:
        dpass[n, j] += d + gy
        dout[n, j] = 0
    else:
        dpass[n, j] += d
        dout[n, j] = 0 if zero_out else gy


@cuda.jit
def simple_rnn_back_kernel(t, n0, n1, dz, gates, dhr, dpass, dout, dy, has_dy, mask, has_mask,
                           reverse, act, rmask, has_rmask, zero_out):  # fmt: skip
    U = dpass.shape[1]
    for e in range(cuda.grid(1), (n1 - n0) * U, cuda.gridsize(1)):
        n, j = n0 + e // U, e % U
        keep = kept(mask, has_mask, n, t, reverse)
        state_grad(t, n, j, keep, dhr, rmask, has_rmask, dpass, dout, dy, has_dy, zero_out)
        if keep:
            dz[t, n, j] = dpass[n, j] * fused_derivative(gates[t, n, j], act)
            dpass[n, j] = 0
        else:
            dz[t, n, j] = 0


def simple_rnn_backward_step(t, n0, n1, dz, gates, dhr, dpass, dout, dy, has_dy, mask, has_mask,
                             reverse, act, rmask, has_rmask, zero_out):  # fmt: skip
    """dz (T, N, U)[t] = dh * act'(h); dpass keeps dh for masked rows, else 0."""
    launch_rows(simple_rnn_back_kernel, n1 - n0, dpass.shape[1], t, n0, n1, dz, gates, dhr, dpass,
                dout, dy, has_dy, mask, has_mask, reverse, act, rmask, has_rmask,
                zero_out)  # fmt: skip


@cuda.jit
def lstm_back_kernel(t, n0, n1, dz, dc, gates, cs, tcs, dhr, dpass, dout, dy, has_dy, mask,
                     has_mask, reverse, act, ract, rmask, has_rmask, zero_out):  # fmt: skip
    U = dpass.shape[1]
    for e in range(cuda.grid(1), (n1 - n0) * U, cuda.gridsize(1)):
        n, j = n0 + e // U, e % U
        keep = kept(mask, has_mask, n, t, reverse)
        state_grad(t, n, j, keep, dhr, rmask, has_rmask, dpass, dout, dy, has_dy, zero_out)
        if not keep:
            for q in range(4):
                dz[t, n, q * U + j] = 0
            continue
        p, tc = dpass[n, j], tcs[t, n, j]
        i, f, g, o = (
            gates[t, n, j],
            gates[t, n, U + j],
            gates[t, n, 2 * U + j],
            gates[t, n, 3 * U + j],
        )
        dpass[n, j] = 0
        c_grad = dc[n, j] + p * o * fused_derivative(tc, act)
        dz[t, n, j] = c_grad * g * fused_derivative(i, ract)
        dz[t, n, U + j] = c_grad * cs[t, n, j] * fused_derivative(f, ract)
        dz[t, n, 2 * U + j] = c_grad * i * fused_derivative(g, act)
        dz[t, n, 3 * U + j] = p * tc * fused_derivative(o, ract)
        dc[n, j] = c_grad * f


def lstm_backward_step(t, n0, n1, dz, dc, gates, cs, tcs, dhr, dpass, dout, dy, has_dy, mask,
                       has_mask, reverse, act, ract, rmask, has_rmask, zero_out):  # fmt: skip
    """dz (T, N, 4U)[t]: pre-activation gradients of i, f, c, o; dc (N, U) becomes dc * f."""
    launch_rows(lstm_back_kernel, n1 - n0, dpass.shape[1], t, n0, n1, dz, dc, gates, cs, tcs, dhr,
                dpass, dout, dy, has_dy, mask, has_mask, reverse, act, ract, rmask, has_rmask,
                zero_out)  # fmt: skip


@cuda.jit
def gru_back_kernel(t, n0, n1, dz, dzh, gates, aux, hs, dhr, dpass, dout, dy, has_dy, mask,
                    has_mask, reverse, act, ract, rmask, has_rmask, zero_out):  # fmt: skip
    U = dpass.shape[1]
    for e in range(cuda.grid(1), (n1 - n0) * U, cuda.gridsize(1)):
        n, j = n0 + e // U, e % U
        keep = kept(mask, has_mask, n, t, reverse)
        state_grad(t, n, j, keep, dhr, rmask, has_rmask, dpass, dout, dy, has_dy, zero_out)
        if not keep:
            for q in range(3):
                dz[t, n, q * U + j] = 0
                dzh[t, n, q * U + j] = 0
            continue
        p = dpass[n, j]
        z, r, hh = gates[t, n, j], gates[t, n, U + j], gates[t, n, 2 * U + j]
        dh = p * (1.0 - z) * fused_derivative(hh, act)
        dzz = p * (hs[t, n, j] - hh) * fused_derivative(z, ract)
        dr = dh * aux[t, n, j] * fused_derivative(r, ract)
        dpass[n, j] = p * z
        dz[t, n, j] = dzz
        dz[t, n, U + j] = dr
        dz[t, n, 2 * U + j] = dh
        dzh[t, n, j] = dzz
        dzh[t, n, U + j] = dr
        dzh[t, n, 2 * U + j] = dh * r


def gru_backward_step(t, n0, n1, dz, dzh, gates, aux, hs, dhr, dpass, dout, dy, has_dy, mask,
                      has_mask, reverse, act, ract, rmask, has_rmask, zero_out):  # fmt: skip
    """GRU with reset_after: dz (input side) and dzh (recurrent side) of step t; dpass = dh z."""
    launch_rows(gru_back_kernel, n1 - n0, dpass.shape[1], t, n0, n1, dz, dzh, gates, aux, hs, dhr,
                dpass, dout, dy, has_dy, mask, has_mask, reverse, act, ract, rmask, has_rmask,
                zero_out)  # fmt: skip


@cuda.jit
def gru_candidate_back_kernel(t, n0, n1, dz, gates, hs, dhr, dpass, dout, dy, has_dy, mask,
                              has_mask, reverse, act, ract, rmask, has_rmask,
                              zero_out):  # fmt: skip
    U = dpass.shape[1]
    for e in range(cuda.grid(1), (n1 - n0) * U, cuda.gridsize(1)):
        n, j = n0 + e // U, e % U
        keep = kept(mask, has_mask, n, t, reverse)
        state_grad(t, n, j, keep, dhr, rmask, has_rmask, dpass, dout, dy, has_dy, zero_out)
        if not keep:
            for q in range(3):
                dz[t, n, q * U + j] = 0
            continue
        p = dpass[n, j]
        z, hh = gates[t, n, j], gates[t, n, 2 * U + j]
        dz[t, n, j] = p * (hs[t, n, j] - hh) * fused_derivative(z, ract)
        dz[t, n, U + j] = 0
        dz[t, n, 2 * U + j] = p * (1.0 - z) * fused_derivative(hh, act)
        dpass[n, j] = p * z


def gru_backward_candidate(t, n0, n1, dz, gates, hs, dhr, dpass, dout, dy, has_dy, mask, has_mask,
                           reverse, act, ract, rmask, has_rmask, zero_out):  # fmt: skip
    """GRU without reset_after, first half: dz[t] for z and the candidate; dpass = dh z."""
    launch_rows(gru_candidate_back_kernel, n1 - n0, dpass.shape[1], t, n0, n1, dz, gates, hs, dhr,
                dpass, dout, dy, has_dy, mask, has_mask, reverse, act, ract, rmask, has_rmask,
                zero_out)  # fmt: skip


@cuda.jit
def gru_gates_back_kernel(t, n0, n1, dz, gates, hin, daux, dpass, ract, rmask, has_rmask):
    U = dpass.shape[1]
    for e in range(cuda.grid(1), (n1 - n0) * U, cuda.gridsize(1)):
        n, j = n0 + e // U, e % U
        r = gates[t, n, U + j]
        dz[t, n, U + j] = daux[n, j] * hin[t, n, j] * fused_derivative(r, ract)
        back = daux[n, j] * r
        dpass[n, j] += back * rmask[n, j] if has_rmask else back


def gru_backward_gates(t, n0, n1, dz, gates, hin, daux, dpass, ract, rmask, has_rmask):
    """Second half: dz[t] for r from daux = d(r * hin); dpass += daux * r (* rmask)."""
    launch_rows(gru_gates_back_kernel, n1 - n0, dpass.shape[1], t, n0, n1, dz, gates, hin, daux,
                dpass, ract, rmask, has_rmask)  # fmt: skip


@cuda.jit
def finish_back_kernel(n0, n1, dhr, rmask, has_rmask, dpass, out):
    U = out.shape[1]
    for e in range(cuda.grid(1), (n1 - n0) * U, cuda.gridsize(1)):
        n, j = n0 + e // U, e % U
        out[n, j] = (dhr[n, j] * rmask[n, j] if has_rmask else dhr[n, j]) + dpass[n, j]


def rnn_backward_finish(n0, n1, dhr, rmask, has_rmask, dpass, out):
    """out (N, U)[n0:n1] = dhr * rmask + dpass: the gradient of the initial state."""
    launch_rows(finish_back_kernel, n1 - n0, out.shape[1], n0, n1, dhr, rmask, has_rmask, dpass,
                out)  # fmt: skip
