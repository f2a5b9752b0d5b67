"""Fused attention: scores -> (scale, mask) -> softmax -> dropout -> weighted values in two
passes with NumPy's vectorized exp between them, and its backward in one, each pass a loop over
(batch, head) pairs, in ranges on OpenBLAS's own threads for large work
(threads.blas_pool_rows), every pair's products on BLAS (blas.py's gemm, called from Numba with
the operands' strides, so the heads are read in place).

Layouts (channels-last, as the projections write them): q (B, Tq, N, Dk), k (B, Tv, N, Dk),
v (B, Tv, N, Dv), out (B, Tq, N, Dv); scores, probs and dropped (B, N, Tq, Tv); mask
(Bm, Nm, Tqm, Tvm), each axis 1 (broadcast) or full size, nonzero = attend. float32 or float64.
"""

import numpy as np
from numba import njit

from graphengine_kernels.cpu import threads
from graphengine_kernels.cpu.blas import GEMMS, NO_TRANS, ROW_MAJOR, TRANS
from graphengine_kernels.cpu.regularization import dropout_mask

__all__ = ["attention_forward", "attention_backward"]

# sums reassociated (vectorized) and multiply-adds fused; no other fast-math flag, so NaN and
# inf propagate as without it
_JIT = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": {"reassoc", "contract"}}
# what a masked score becomes, as Keras (mode): Attention subtracts LARGE from it (SUBTRACT),
# MultiHeadAttention's masked Softmax puts -LARGE in its place and zeroes its probability after
# (REPLACE), the fused path of Keras's torch backend (dot_product_attention) adds FILL, which
# swamps the score (FILL): a fully masked row is uniform, zero, uniform
LARGE = 1.0e9
FILL = 0.7 * 3.38953e38
SUBTRACT, REPLACE, FILL_MODE = 0, 1, 2
NO_DROP, DROP, COPY = 0, 1, 2  # dropped = probs * mask (training) or = probs (inference)


@njit(**_JIT)
def _gemm(gemm, ta, tb, alpha, a, b, out):
    """out = alpha * op(a) @ op(b) (op: a transpose where ta / tb) for 2-D views whose rows are
    contiguous; BLAS's gemm, or plain loops where there is none (gemm None)."""
    m, n = out.shape
    k = a.shape[0] if ta else a.shape[1]
    if m == 0 or n == 0:
        return
    if gemm is None or k == 0:
        for i in range(m):
            for j in range(n):
                acc = 0.0
                for p in range(k):
                    acc += (a[p, i] if ta else a[i, p]) * (b[j, p] if tb else b[p, j])
                out[i, j] = alpha * acc
        return
    size = a.itemsize
    gemm(ROW_MAJOR, TRANS if ta else NO_TRANS, TRANS if tb else NO_TRANS, m, n, k,
         alpha, a.ctypes.data, a.strides[0] // size, b.ctypes.data, b.strides[0] // size,
         out.dtype.type(0), out.ctypes.data, out.strides[0] // size)  # fmt: skip


@njit(**_JIT)
def _keep(mask, has_mask, causal, b, h, i, j):
    """Whether query i of pair (b, h) attends to key j."""
    if causal and j > i:
        return False
    if not has_mask:
        return True
    return (
        mask[
            b if mask.shape[0] > 1 else 0,
            h if mask.shape[1] > 1 else 0,
            i if mask.shape[2] > 1 else 0,
            j if mask.shape[3] > 1 else 0,
        ]
        != 0
    )


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"nnan", "reassoc"})
def _row_max(row):
    """The largest of row, vectorized: it only shifts the row before exp (the softmax is the
    same for any shift), so NaN need not win here (nnan): a NaN score still makes its row NaN
    through the subtraction and the row's sum, as without the flag. -inf for an empty row."""
    m = row.dtype.type(-np.inf)
    for j in range(row.size):
        m = max(m, row[j])
    return m


@njit(**_JIT)
def _lowered_row(row, mask, has_mask, causal, mode, b, h, i):
    """row = its masked scores (lowered as `mode` says) minus their maximum, in place: what
    softmax exponentiates."""
    big = row.dtype.type(LARGE)
    fill = row.dtype.type(-FILL)
    if has_mask or causal:
        for j in range(row.size):
            if not _keep(mask, has_mask, causal, b, h, i, j):
                if mode == SUBTRACT:
                    row[j] = row[j] - big
                else:
                    row[j] = -big if mode == REPLACE else fill
    m = _row_max(row)
    for j in range(row.size):
        row[j] -= m


@njit(**_JIT)
def _normalized_row(row, mask, has_mask, causal, mode, b, h, i):
    """row (exponentiated) divided by its sum; REPLACE zeroes the masked probabilities after."""
    total = 0.0
    for j in range(row.size):
        total += row[j]
    inv = row.dtype.type(1.0 / total)
    masked = has_mask or causal
    for j in range(row.size):
        if mode != REPLACE or not masked or _keep(mask, has_mask, causal, b, h, i, j):
            row[j] *= inv
        else:
            row[j] = 0


@njit(**_JIT)
def _scores_pairs(gemm, r0, r1, q, k, v, scores, given, mask, has_mask, scale, causal, mode,
                  drop_mode, probs, dropped, out):  # fmt: skip
    """Pairs r0..r1 (r = b * N + h) of attention_forward's first pass: probs = the lowered
    scores (_lowered_row), which attention_forward exponentiates next."""
    N = probs.shape[1]
    for r in range(r0, r1):
        b, h = r // N, r % N
        p = probs[b, h]
        if given:
            p[:] = scores[b, h]
        else:
            _gemm(gemm, False, True, p.dtype.type(scale), q[b, :, h, :], k[b, :, h, :], p)
        for i in range(p.shape[0]):
            _lowered_row(p[i], mask, has_mask, causal, mode, b, h, i)


@njit(**_JIT)
def _values_pairs(gemm, r0, r1, q, k, v, scores, given, mask, has_mask, scale, causal, mode,
                  drop_mode, probs, dropped, out):  # fmt: skip
    """Pairs r0..r1 of attention_forward's last pass: probs normalized, dropped out, and the
    values summed with them."""
    N = probs.shape[1]
    for r in range(r0, r1):
        b, h = r // N, r % N
        p = probs[b, h]
        for i in range(p.shape[0]):
            _normalized_row(p[i], mask, has_mask, causal, mode, b, h, i)
        weights = p
        if drop_mode != NO_DROP:
            d = dropped[b, h]
            if drop_mode == DROP:
                for i in range(p.shape[0]):
                    for j in range(p.shape[1]):
                        d[i, j] *= p[i, j]
            else:
                d[:] = p
            weights = d
        _gemm(gemm, False, False, p.dtype.type(1), weights, v[b, :, h, :], out[b, :, h, :])


@njit(**_JIT)
def _backward_pairs(gemm, r0, r1, dout, dprobs, has_dprobs, ddropped, has_ddropped, q, k, v,
                    given, probs, dropped, scale, dscores, dq, dk, dv):  # fmt: skip
    """Pairs r0..r1 of attention_backward. With W = dropped (the weights the values were summed
    with) and G = dout @ v^T + ddropped its cotangent: ds = W * G + P * dP - P * rowsum(W * G +
    P * dP), dP the cotangent of probs P (dropout's mask is W / P where P > 0, and W * G is
    what reaches P through it)."""
    N = probs.shape[1]
    for r in range(r0, r1):
        b, h = r // N, r % N
        p, w, g = probs[b, h], dropped[b, h], dscores[b, h]
        one = p.dtype.type(1)
        _gemm(gemm, False, True, one, dout[b, :, h, :], v[b, :, h, :], g)
        for i in range(g.shape[0]):
            c = 0.0
            for j in range(g.shape[1]):
                t = w[i, j] * (g[i, j] + ddropped[b, h, i, j] if has_ddropped else g[i, j])
                if has_dprobs:
                    t += p[i, j] * dprobs[b, h, i, j]
                g[i, j] = t
                c += t
            for j in range(g.shape[1]):
                g[i, j] -= p[i, j] * c
        _gemm(gemm, True, False, one, w, dout[b, :, h, :], dv[b, :, h, :])
        if not given:
            s = p.dtype.type(scale)
            _gemm(gemm, False, False, s, g, k[b, :, h, :], dq[b, :, h, :])
            _gemm(gemm, True, False, s, g, q[b, :, h, :], dk[b, :, h, :])


_DUMMY = {}


def _dummy(dtype, ndim=4):
    """A one-element stand-in for an absent array argument (one compiled type per dtype)."""
    key = (np.dtype(dtype), ndim)
    if key not in _DUMMY:
        _DUMMY[key] = np.zeros((1,) * ndim, dtype)
    return _DUMMY[key]


def _gemm_for(arrays):
    """BLAS's gemm for these arrays' dtype where every one is C-contiguous (the strides the
    per-head views hand gemm assume it), else None."""
    gemm = GEMMS.get(arrays[0].dtype)
    if gemm is None or not all(a.flags.c_contiguous for a in arrays):
        return None
    return gemm


def _run(pairs, work, kernel, arrays, args):
    """kernel(gemm, r0, r1, *args) over the pairs, in ranges on OpenBLAS's threads where the
    work pays for them (threads.blas_pool_rows), else all on this thread."""
    gemm = _gemm_for(arrays)
    threads.blas_pool_rows(pairs, work, lambda r0, r1: kernel(gemm, r0, r1, *args))


def _exp_pairs(probs, r0, r1):
    """probs of pairs r0..r1 = exp(probs) in place, by NumPy's SIMD exp (Numba's is scalar,
    about 9x slower); it releases the GIL, so ranges overlap."""
    if probs.flags.c_contiguous:  # the pairs' rows as one view
        rows = probs.reshape((-1,) + probs.shape[2:])[r0:r1]
        np.exp(rows, out=rows)
        return
    for r in range(r0, r1):
        pair = probs[divmod(r, probs.shape[1])]
        np.exp(pair, out=pair)


def attention_forward(q, k, v, scores, mask, scale, causal, mode, rate, rng, probs, dropped,
                      out):  # fmt: skip
    """out = weights @ v per (batch, head), weights = softmax(masked scale * q @ k^T) (or of the
    given `scores`, with q and k None), dropped out at `rate` with a mask drawn from `rng`
    (None: inference, dropped = probs). mask None: none; causal: key j > query i is masked;
    mode: how a masked score is lowered (SUBTRACT, REPLACE, FILL_MODE above). dropped None
    where rate is 0. Writes probs (B, N, Tq, Tv), dropped, out."""
    dtype = out.dtype
    given = scores is not None
    drop_mode = NO_DROP if dropped is None else (COPY if rng is None else DROP)
    if drop_mode == DROP:
        dropout_mask(rate, rng, dropped)
    B, N, Tq, Tv = probs.shape
    arrays = [out, v, probs] + ([] if given else [q, k]) + ([] if dropped is None else [dropped])
    work = B * N * Tq * Tv * (v.shape[-1] + (0 if given else q.shape[-1]))
    args = (
        _dummy(dtype) if given else q,
        _dummy(dtype) if given else k,
        v,
        scores if given else _dummy(dtype),
        given,
        _dummy(np.bool_) if mask is None else mask,
        mask is not None,
        float(scale),
        bool(causal),
        int(mode),
        drop_mode,
        probs,
        _dummy(dtype) if dropped is None else dropped,
        out,
    )

    def pairs(gemm, r0, r1, *args):  # lowered scores, their exp, normalized weights @ values
        _scores_pairs(gemm, r0, r1, *args)
        _exp_pairs(probs, r0, r1)
        _values_pairs(gemm, r0, r1, *args)

    _run(B * N, work, pairs, arrays, args)


def attention_backward(dout, dprobs, ddropped, q, k, v, probs, dropped, scale, dscores, dq, dk,
                       dv):  # fmt: skip
    """The gradients of attention_forward from the cotangents of out, probs and dropped (the
    latter two None where they have none): dscores (the scores' gradient, before `scale`), dv,
    and, with q and k given (None: the scores were), dq and dk. dropped None: no dropout."""
    dtype = dv.dtype
    given = q is None
    B, N, Tq, Tv = probs.shape
    arrays = [dout, v, dv, probs, dscores] + ([] if given else [q, k, dq, dk])
    arrays += [] if dropped is None else [dropped]
    work = B * N * Tq * Tv * (2 * v.shape[-1] + (0 if given else 2 * q.shape[-1]))
    args = (
        dout,
        _dummy(dtype) if dprobs is None else dprobs,
        dprobs is not None,
        _dummy(dtype) if ddropped is None else ddropped,
        ddropped is not None,
        _dummy(dtype) if given else q,
        _dummy(dtype) if given else k,
        v,
        given,
        probs,
        probs if dropped is None else dropped,
        float(scale),
        dscores,
        _dummy(dtype) if given else dq,
        _dummy(dtype) if given else dk,
        dv,
    )
    _run(B * N, work, _backward_pairs, arrays, args)
