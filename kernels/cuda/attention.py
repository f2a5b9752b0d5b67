"""Fused attention on the device, the layouts and semantics of kernels/cpu/attention.py: the
forward pass one thread per (batch, head, query) row (scores into probs, masked softmax in
place, dropout, the weighted sum of values); the backward pass one thread per query row (the
scores' gradient and dq), then one per key row (dk and dv), which sum over the query rows."""

import math

import numpy as np
from numba import cuda

from graphengine_kernels.cuda.launch import device, elementwise
from graphengine_kernels.cuda.regularization import dropout_mask

__all__ = ["attention_forward", "attention_backward"]

LARGE, FILL = 1.0e9, 0.7 * 3.38953e38  # kernels/cpu/attention.py's, and its modes
SUBTRACT, REPLACE, FILL_MODE = 0, 1, 2
NO_DROP, DROP, COPY = 0, 1, 2


@cuda.jit(device=True)
def _keep(mask, has_mask, causal, b, h, i, j):
    if causal and j > i:
        return False
    if not has_mask:
        return True
    mb = b if mask.shape[0] > 1 else 0
    mh = h if mask.shape[1] > 1 else 0
    mi = i if mask.shape[2] > 1 else 0
    return mask[mb, mh, mi, j if mask.shape[3] > 1 else 0] != 0


@cuda.jit(cache=True)
def forward_kernel(q, k, v, scores, given, mask, has_mask, scale, causal, mode, drop_mode,
                   probs, dropped, out):  # fmt: skip
    B, N, Tq, Tv = probs.shape
    for r in range(cuda.grid(1), B * N * Tq, cuda.gridsize(1)):
        b, h, i = r // (N * Tq), (r // Tq) % N, r % Tq
        m = -math.inf
        for j in range(Tv):
            if given:
                s = scores[b, h, i, j]
            else:
                s = 0.0
                for d in range(q.shape[3]):
                    s += q[b, i, h, d] * k[b, j, h, d]
                s *= scale
            if not _keep(mask, has_mask, causal, b, h, i, j):
                if mode == SUBTRACT:
                    s = s - LARGE
                else:
                    s = -LARGE if mode == REPLACE else -FILL
            probs[b, h, i, j] = s
            m = max(m, probs[b, h, i, j])
        total = 0.0
        for j in range(Tv):
            e = math.exp(probs[b, h, i, j] - m)
            probs[b, h, i, j] = e
            total += e
        for j in range(Tv):
            if mode != REPLACE or _keep(mask, has_mask, causal, b, h, i, j):
                probs[b, h, i, j] /= total
            else:
                probs[b, h, i, j] = 0.0
            if drop_mode == DROP:
                dropped[b, h, i, j] *= probs[b, h, i, j]
            elif drop_mode == COPY:
                dropped[b, h, i, j] = probs[b, h, i, j]
        for d in range(v.shape[3]):
            acc = 0.0
            for j in range(Tv):
                w = probs[b, h, i, j] if drop_mode == NO_DROP else dropped[b, h, i, j]
                acc += w * v[b, j, h, d]
            out[b, i, h, d] = acc


@cuda.jit(cache=True)
def backward_rows_kernel(dout, dprobs, has_dprobs, ddropped, has_ddropped, q, k, v, given,
                         probs, dropped, scale, dscores, dq):  # fmt: skip
    B, N, Tq, Tv = probs.shape
    for r in range(cuda.grid(1), B * N * Tq, cuda.gridsize(1)):
        b, h, i = r // (N * Tq), (r // Tq) % N, r % Tq
        c = 0.0
        for j in range(Tv):
            g = 0.0
            for d in range(v.shape[3]):
                g += dout[b, i, h, d] * v[b, j, h, d]
            if has_ddropped:
                g += ddropped[b, h, i, j]
            t = dropped[b, h, i, j] * g
            if has_dprobs:
                t += probs[b, h, i, j] * dprobs[b, h, i, j]
            dscores[b, h, i, j] = t
            c += t
        for j in range(Tv):
            dscores[b, h, i, j] -= probs[b, h, i, j] * c
        if not given:
            for d in range(q.shape[3]):
                acc = 0.0
                for j in range(Tv):
                    acc += dscores[b, h, i, j] * k[b, j, h, d]
                dq[b, i, h, d] = scale * acc


@cuda.jit(cache=True)
def backward_keys_kernel(dout, q, given, dropped, scale, dscores, dk, dv):
    B, N, Tq, Tv = dropped.shape
    for r in range(cuda.grid(1), B * N * Tv, cuda.gridsize(1)):
        b, h, j = r // (N * Tv), (r // Tv) % N, r % Tv
        for d in range(dv.shape[3]):
            acc = 0.0
            for i in range(Tq):
                acc += dropped[b, h, i, j] * dout[b, i, h, d]
            dv[b, j, h, d] = acc
        if not given:
            for d in range(q.shape[3]):
                acc = 0.0
                for i in range(Tq):
                    acc += dscores[b, h, i, j] * q[b, i, h, d]
                dk[b, j, h, d] = scale * acc


def _dummy(dtype):
    return device(np.zeros((1, 1, 1, 1), dtype))


def attention_forward(q, k, v, scores, mask, scale, causal, mode, rate, rng, probs, dropped,
                      out):  # fmt: skip
    """kernels/cpu/attention.py's attention_forward. Writes probs, dropped, out."""
    dtype = out.dtype
    given = scores is not None
    drop_mode = NO_DROP if dropped is None else (COPY if rng is None else DROP)
    if drop_mode == DROP:
        dropout_mask(rate, rng, dropped)
    B, N, Tq, _ = probs.shape
    elementwise(forward_kernel, B * N * Tq)(
        _dummy(dtype) if given else q,
        _dummy(dtype) if given else k,
        v,
        scores if given else _dummy(dtype),
        given,
        _dummy(np.bool_) if mask is None else device(mask),
        mask is not None,
        float(scale),
        bool(causal),
        int(mode),
        drop_mode,
        probs,
        _dummy(dtype) if dropped is None else dropped,
        out,
    )


def attention_backward(dout, dprobs, ddropped, q, k, v, probs, dropped, scale, dscores, dq, dk,
                       dv):  # fmt: skip
    """kernels/cpu/attention.py's attention_backward. Writes dscores, dq, dk, dv."""
    dtype = dv.dtype
    given = q is None
    weights = probs if dropped is None else dropped
    B, N, Tq, Tv = probs.shape
    elementwise(backward_rows_kernel, B * N * Tq)(
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
        weights,
        float(scale),
        dscores,
        _dummy(dtype) if given else dq,
    )
    elementwise(backward_keys_kernel, B * N * Tv)(
        dout,
        _dummy(dtype) if given else q,
        given,
        weights,
        float(scale),
        dscores,
        _dummy(dtype) if given else dk,
        dv,
    )
