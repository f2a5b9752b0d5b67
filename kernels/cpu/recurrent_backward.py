"""BPTT kernels of SimpleRNN, LSTM and GRU: the gradient of one time step's gate math, fused into
one @njit call per step, in the layout of recurrent.py (time-major (T, N, ...), rows n0:n1).
Activation derivatives are recurrent._scale_by_derivative's products, so a NaN gradient stays
NaN, as through the standalone activations. Each step kernel takes (t, n0, n1, args), args its
record of kernels/sequences.py."""

from numba import njit

from graphengine_kernels.cpu.recurrent import _INLINE, _JIT, _kept, _scale_by_derivative

__all__ = [
    "simple_rnn_backward_step",
    "lstm_backward_step",
    "gru_backward_step",
    "gru_backward_candidate",
    "gru_backward_gates",
    "rnn_backward_finish",
]

# -- backward steps (BPTT) --------------------------------------------------------------------
# Per step t, from the last to the first, the gradient reaching state h_t is
#   dh = dhr * rmask + dpass,
# dhr (N, U) being the previous (later) step's dz @ R^T and dpass what reaches h_t directly: the
# carried gradient of a masked step, GRU's z * dh, or the final-state cotangent to start with.
# The gradient of the output chain (a masked step repeats the previous output) is carried in
# dout. Masked rows get dz = 0, so the weight gradients, taken afterwards as single products
# over all steps, see only kept steps.


@njit(**_INLINE)
def _state_grad_row(t, n, keep, a):
    """Leaves in a.dpass[n] the full gradient of state h_t (row n) and updates a.dout[n]."""
    dhr, rmask, dpass, dout, dy = a.dhr, a.rmask, a.dpass, a.dout, a.dy
    U = dpass.shape[1]
    for j in range(U):
        d = dhr[n, j] * rmask[n, j] if a.has_rmask else dhr[n, j]
        gy = dout[n, j] + dy[n, t, j] if a.has_dy else dout[n, j]
        if keep:
            dpass[n, j] += d + gy
            dout[n, j] = 0
        else:
            dpass[n, j] += d
            dout[n, j] = 0 if a.zero_out else gy


@njit(**_JIT)
def simple_rnn_backward_step(t, n0, n1, args):
    """dz (T, N, U)[t] = dh * act'(h); dpass keeps dh for masked rows, else 0; args:
    sequences.SimpleRNNBackward. The caller then forms dhr = dz[t] @ R^T for step t - 1."""
    dz, gates, dpass = args.dz, args.gates, args.dpass
    U = dpass.shape[1]
    for i in range(n1 - n0):  # 0-based bounds: no wraparound checks
        n = n0 + i
        keep = _kept(args, n, t)
        _state_grad_row(t, n, keep, args)
        d, p = dz[t, n], dpass[n]
        if keep:
            for j in range(U):
                d[j] = p[j]
                p[j] = 0
            _scale_by_derivative(d, gates[t, n], args.act)
        else:
            for j in range(U):
                d[j] = 0


@njit(**_JIT)
def lstm_backward_step(t, n0, n1, args):
    """dz (T, N, 4U)[t]: pre-activation gradients of i, f, c, o from dh and dc (N, U), the
    carried cell gradient, which becomes dc_{t-1} = dc * f (unchanged for masked rows); args:
    sequences.LSTMBackward."""
    dz, dc, gates, cs, tcs, dpass = args.dz, args.dc, args.gates, args.cs, args.tcs, args.dpass
    act, ract = args.act, args.ract
    U = dpass.shape[1]
    for i in range(n1 - n0):  # 0-based bounds: no wraparound checks
        n = n0 + i
        keep = _kept(args, n, t)
        _state_grad_row(t, n, keep, args)
        d, g, p, tc, cp, dcn = dz[t, n], gates[t, n], dpass[n], tcs[t, n], cs[t, n], dc[n]
        if not keep:
            for j in range(4 * U):
                d[j] = 0
            continue
        for j in range(U):
            d[3 * U + j] = p[j] * tc[j]  # do
            d[2 * U + j] = p[j] * g[3 * U + j]  # dh * o, times act'(c) below
            p[j] = 0
        _scale_by_derivative(d[2 * U : 3 * U], tc, act)
        for j in range(U):
            c_grad = dcn[j] + d[2 * U + j]
            d[j] = c_grad * g[2 * U + j]
            d[U + j] = c_grad * cp[j]
            d[2 * U + j] = c_grad * g[j]
            dcn[j] = c_grad * g[U + j]
        _scale_by_derivative(d[: 2 * U], g[: 2 * U], ract)
        _scale_by_derivative(d[2 * U : 3 * U], g[2 * U : 3 * U], act)
        _scale_by_derivative(d[3 * U :], g[3 * U :], ract)


@njit(**_JIT)
def gru_backward_step(t, n0, n1, args):
    """GRU with reset_after; args: sequences.GRUBackward. dz (T, N, 3U)[t]: gradients of the
    input-side pre-activations (z, r, hh); dzh[t] those of the recurrent side (z, r, h R_h +
    b_hh), which differ in the candidate block by the factor r. dpass becomes dh * z, the
    direct path to h_{t-1}."""
    dz, dzh, gates, aux, hs, dpass = args.dz, args.dzh, args.gates, args.aux, args.hs, args.dpass
    U = dpass.shape[1]
    one = dz.dtype.type(1)
    for i in range(n1 - n0):  # 0-based bounds: no wraparound checks
        n = n0 + i
        keep = _kept(args, n, t)
        _state_grad_row(t, n, keep, args)
        d, dh_, g, p, a, hp = dz[t, n], dzh[t, n], gates[t, n], dpass[n], aux[t, n], hs[t, n]
        if not keep:
            for j in range(3 * U):
                d[j] = 0
                dh_[j] = 0
            continue
        for j in range(U):
            d[j] = p[j] * (hp[j] - g[2 * U + j])
            d[2 * U + j] = p[j] * (one - g[j])
            p[j] *= g[j]
        _scale_by_derivative(d[2 * U :], g[2 * U :], args.act)
        for j in range(U):
            d[U + j] = d[2 * U + j] * a[j]
            dh_[2 * U + j] = d[2 * U + j] * g[U + j]
        _scale_by_derivative(d[: 2 * U], g[: 2 * U], args.ract)
        for j in range(2 * U):
            dh_[j] = d[j]


@njit(**_JIT)
def gru_backward_candidate(t, n0, n1, args):
    """GRU without reset_after, first half of a step: dz[t] for z and the candidate; dpass
    becomes dh * z; args: sequences.GRUCandidateBackward. The caller then forms daux =
    dz[t, :, 2U:] @ R_h^T."""
    dz, gates, hs, dpass = args.dz, args.gates, args.hs, args.dpass
    U = dpass.shape[1]
    one = dz.dtype.type(1)
    for i in range(n1 - n0):  # 0-based bounds: no wraparound checks
        n = n0 + i
        keep = _kept(args, n, t)
        _state_grad_row(t, n, keep, args)
        d, g, p, hp = dz[t, n], gates[t, n], dpass[n], hs[t, n]
        if not keep:
            for j in range(3 * U):
                d[j] = 0
            continue
        for j in range(U):
            d[j] = p[j] * (hp[j] - g[2 * U + j])
            d[U + j] = 0
            d[2 * U + j] = p[j] * (one - g[j])
            p[j] *= g[j]
        _scale_by_derivative(d[:U], g[:U], args.ract)
        _scale_by_derivative(d[2 * U :], g[2 * U :], args.act)


@njit(**_JIT)
def gru_backward_gates(t, n0, n1, args):
    """Second half; args: sequences.GRUGatesBackward. daux (N, U) = d(r * hin); dz[t] for r =
    daux * hin * ract'(r), and dpass += daux * r (times the recurrent dropout mask, hin being
    h_{t-1} * rmask). Masked rows have dz = 0, hence daux = 0, and are left unchanged."""
    dz, gates, hin, daux = args.dz, args.gates, args.hin, args.daux
    dpass, rmask = args.dpass, args.rmask
    U = dpass.shape[1]
    for i in range(n1 - n0):  # 0-based bounds: no wraparound checks
        n = n0 + i
        d, g = dz[t, n], gates[t, n]
        for j in range(U):
            d[U + j] = daux[n, j] * hin[t, n, j]
            back = daux[n, j] * g[U + j]
            dpass[n, j] += back * rmask[n, j] if args.has_rmask else back
        _scale_by_derivative(d[U : 2 * U], g[U : 2 * U], args.ract)


@njit(cache=True, nogil=True)
def rnn_backward_finish(n0, n1, dhr, rmask, has_rmask, dpass, out):
    """out (N, U)[n0:n1] = dhr * rmask + dpass: the gradient of the initial state."""
    U = out.shape[1]
    for i in range(n1 - n0):
        n = n0 + i
        for j in range(U):
            out[n, j] = (dhr[n, j] * rmask[n, j] if has_rmask else dhr[n, j]) + dpass[n, j]
