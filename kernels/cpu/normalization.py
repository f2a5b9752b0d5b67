"""Batch, layer and group (and RMS) normalization: statistics, the fused normalize + affine pass,
and backward.

Batch normalization sees x as a C-contiguous (outer, C, inner) view with statistics per channel
over outer and inner (channels-last: inner = 1); layer normalization sees (rows, n), one set of
statistics per row. Callers make the views (reshapes, never copies). float32 or float64.
"""

import math

import numpy as np
from numba import njit

from graphengine_kernels.cpu import threads
from graphengine_kernels.cpu.bias import SUM_BLOCK, ordered_sum

__all__ = [
    "batchnorm_training_stats",
    "batchnorm_inference_stats",
    "batchnorm_forward",
    "batchnorm_backward",
    "layernorm_forward",
    "layernorm_backward",
    "groupnorm_forward",
    "groupnorm_backward",
]

# Sums may be reassociated (vectorized: a layer norm's rows 3x faster, measured on (2048, 128));
# no other fast-math flag, so NaN and inf propagate as without it.
REASSOC = {"reassoc", "contract"}


@njit(cache=True)
def _chan_segments(x, mean, m2):
    """Running mean and sum of squared deviations of each channel of x (outer, C, inner): each
    contiguous segment x[o, c, :] is reduced two-pass while in cache, then merged with Chan,
    Golub & LeVeque's pairwise update (1979)."""
    a, c, b = x.shape
    for o in range(a):
        w = 1.0 / (o + 1)  # the new segment's share of the merged count
        for ch in range(c):
            s = 0.0
            for i in range(b):
                s += x[o, ch, i]
            seg_mean = s / b
            seg_m2 = 0.0
            for i in range(b):
                d = x[o, ch, i] - seg_mean
                seg_m2 += d * d
            d = seg_mean - mean[ch]
            mean[ch] += d * w
            m2[ch] += seg_m2 + d * d * b * o * w


@njit(cache=True)
def _channel_moments(x, mean, var):
    """mean[c], var[c] = mean and biased variance of x[:, c, :] (outer, C, inner > 1), reading
    x once, without the cancellation of E[x^2] - E[x]^2."""
    a, c, b = x.shape
    mean[:] = 0.0
    var[:] = 0.0  # the sum of squared deviations until the end
    _chan_segments(x, mean, var)
    var /= a * b


@njit(cache=True, nogil=True)
def _welford_blocks(x2, means, m2s, b0, b1):
    """Running mean and sum of squared deviations of each column of x2 (rows, C), row by row
    (Welford 1962: one pass, stable, each row's update vectorizes over the channels), over each
    block of SUM_BLOCK rows b0..b1 on its own, into means[block] and m2s[block] (float64)."""
    rows, c = x2.shape
    for blk in range(b0, b1):
        mean, m2 = means[blk], m2s[blk]
        for ch in range(c):
            mean[ch] = 0.0
            m2[ch] = 0.0
        r0 = blk * SUM_BLOCK
        for r in range(r0, min(r0 + SUM_BLOCK, rows)):
            w = 1.0 / (r - r0 + 1)
            for ch in range(c):
                d = x2[r, ch] - mean[ch]
                mean[ch] += d * w
                m2[ch] += d * (x2[r, ch] - mean[ch])


@njit(cache=True, nogil=True, error_model="numpy")
def _merged_blocks(means, m2s, rows, mean, var):
    """mean, var (C,) = the blocks' statistics merged in order (Chan, Golub & LeVeque's
    pairwise update), var biased (no rows: mean 0, var NaN, as before the blocks)."""
    c = mean.size
    total_mean = np.zeros(c)
    total_m2 = np.zeros(c)
    n = 0
    for blk in range(means.shape[0]):
        nb = min(SUM_BLOCK, rows - blk * SUM_BLOCK)
        w = nb / (n + nb)
        for ch in range(c):
            d = means[blk, ch] - total_mean[ch]
            total_mean[ch] += d * w
            total_m2[ch] += m2s[blk, ch] + d * d * n * w
        n += nb
    for ch in range(c):
        mean[ch] = total_mean[ch]
        var[ch] = total_m2[ch] / rows


@njit(cache=True)
def _nonfinite_means(x, mean):
    """The mean of each channel whose running mean came out NaN, summed plainly: a channel
    holding +-inf (and no NaN, nor both infinities) has mean +-inf, as NumPy and Keras compute
    it, where the running update's inf - inf gives NaN. Its variance stays NaN, as Keras's."""
    a, c, b = x.shape
    for ch in range(c):
        if mean[ch] == mean[ch]:
            continue
        s = 0.0
        for o in range(a):
            for i in range(b):
                s += x[o, ch, i]
        mean[ch] = s / (a * b)


@njit(cache=True)
def _update_moving(momentum, epsilon, moving_mean, moving_var, mean, inv_std):
    """Keras's moving statistics rule, and inv_std (holding the variance) = 1 / sqrt(var + eps)."""
    for ch in range(mean.size):
        var = inv_std[ch]
        moving_mean[ch] = moving_mean[ch] * momentum + mean[ch] * (1.0 - momentum)
        moving_var[ch] = moving_var[ch] * momentum + var * (1.0 - momentum)
        inv_std[ch] = 1.0 / math.sqrt(var + epsilon)


def batchnorm_training_stats(x, momentum, epsilon, moving_mean, moving_var, mean, inv_std):
    """Batch statistics of x (outer, C, inner): writes mean (C,), inv_std = 1 / sqrt(var + eps)
    (C,) with the biased variance, and updates moving_mean and moving_var (C,) IN PLACE with
    Keras's rule moving = moving * momentum + batch * (1 - momentum). Channels last (inner 1):
    blocks of SUM_BLOCK rows, each reduced on its own (on OpenBLAS's threads where there are
    enough, threads.blas_pool_rows) and merged in order, the same numbers on any thread count."""
    a, c, b = x.shape
    if b == 1:
        x2, blocks = x.reshape(a, c), -(-a // SUM_BLOCK)
        means, m2s = np.empty((blocks, c)), np.empty((blocks, c))
        threads.blas_pool_rows(
            blocks,
            x.size * threads.ELEMENT_WORK,
            lambda b0, b1: _welford_blocks(x2, means, m2s, b0, b1),
        )
        _merged_blocks(means, m2s, a, mean, inv_std)  # inv_std holds the variance for a moment
    else:
        _channel_moments(x, mean, inv_std)
    _nonfinite_means(x, mean)
    _update_moving(momentum, epsilon, moving_mean, moving_var, mean, inv_std)


@njit(cache=True)
def batchnorm_inference_stats(moving_mean, moving_var, epsilon, mean, inv_std):
    """mean = moving_mean, inv_std = 1 / sqrt(moving_var + eps); all (C,)."""
    for ch in range(mean.size):
        mean[ch] = moving_mean[ch]
        inv_std[ch] = 1.0 / math.sqrt(moving_var[ch] + epsilon)


@njit(inline="always")
def _relu(v, zero):
    """max(v, 0) keeping NaN (Keras's relu); relu'(v) is 1 exactly where v > 0."""
    return v if v > 0 or v != v else zero


@njit(inline="always")
def _normalized(x, m, s, t):
    """The batch norm of one element, x * s + t with s = inv_std * gamma: the one expression the
    forward pass and a fused ReLU's mask in the backward pass both evaluate (the same bits)."""
    return (x - m) * s + t


@njit(cache=True, nogil=True)
def _forward_rows(x2, mean, inv_std, gamma, beta, relu, y2, r0, r1):
    """batchnorm_forward's rows r0..r1 of channels-last x2, y2 (rows, C): each row vectorizes
    over the channels."""
    zero = y2.dtype.type(0)
    for o in range(r0, r1):
        xr, yr = x2[o], y2[o]
        for ch in range(x2.shape[1]):
            v = _normalized(xr[ch], mean[ch], inv_std[ch] * gamma[ch], beta[ch])
            yr[ch] = _relu(v, zero) if relu else v


@njit(cache=True)
def _forward_segments(x, mean, inv_std, gamma, beta, relu, y):
    a, c, b = x.shape
    zero = y.dtype.type(0)
    for o in range(a):
        for ch in range(c):
            m, s, t = mean[ch], inv_std[ch] * gamma[ch], beta[ch]
            xr, yr = x[o, ch], y[o, ch]
            if relu:
                for i in range(b):
                    yr[i] = _relu(_normalized(xr[i], m, s, t), zero)
            else:
                for i in range(b):
                    yr[i] = _normalized(xr[i], m, s, t)


def batchnorm_forward(x, mean, inv_std, gamma, beta, relu, y):
    """y = (x - mean) * (inv_std * gamma) + beta per channel (Keras's order of operations), then
    relu(y) when `relu` (a BatchNormalization -> ReLU pair fused by the plan); x, y (outer, C,
    inner), the rest (C,). Writes y. Channels last: rows in ranges on OpenBLAS's threads where
    there are enough."""
    a, c, b = x.shape
    if b != 1:
        _forward_segments(x, mean, inv_std, gamma, beta, relu, y)
        return
    x2, y2 = x.reshape(a, c), y.reshape(a, c)
    threads.blas_pool_rows(
        a,
        x.size * threads.ELEMENT_WORK,
        lambda r0, r1: _forward_rows(x2, mean, inv_std, gamma, beta, relu, y2, r0, r1),
    )


@njit(inline="always")
def _upstream(g, x, m, s, t, relu, zero):
    """dy, or dy * relu'(y) for the fused ReLU of y = x * s + t: a product, as the unfused
    relu_backward's (a NaN or inf dy stays NaN where relu' is 0)."""
    if relu and not _normalized(x, m, s, t) > 0:
        return g * zero
    return g


@njit(cache=True, nogil=True)
def _dy_sum_blocks(x2, dy2, mean, inv_std, gamma, beta, relu, dgammas, dbetas, b0, b1):
    """Channels last (rows, C): dbetas[blk] = sum(dy), dgammas[blk] = sum(dy * xhat) over each
    block of SUM_BLOCK rows b0..b1 on its own, dy masked by the fused ReLU when `relu`."""
    rows, c = x2.shape
    zero = dy2.dtype.type(0)
    for blk in range(b0, b1):
        dgamma, dbeta = dgammas[blk], dbetas[blk]
        for ch in range(c):
            dgamma[ch] = 0.0
            dbeta[ch] = 0.0
        for o in range(blk * SUM_BLOCK, min((blk + 1) * SUM_BLOCK, rows)):
            for ch in range(c):
                s = inv_std[ch] * gamma[ch]
                g = _upstream(dy2[o, ch], x2[o, ch], mean[ch], s, beta[ch], relu, zero)
                dbeta[ch] += g
                dgamma[ch] += g * (x2[o, ch] - mean[ch]) * inv_std[ch]


@njit(cache=True, nogil=True)
def _dx_rows(x2, dy2, mean, inv_std, gamma, beta, relu, k, dgamma, dbeta, dx2, r0, r1):
    """Channels last: batchnorm_backward's dx for rows r0..r1."""
    zero = dy2.dtype.type(0)
    for o in range(r0, r1):
        for ch in range(x2.shape[1]):
            s = inv_std[ch] * gamma[ch]
            up = _upstream(dy2[o, ch], x2[o, ch], mean[ch], s, beta[ch], relu, zero)
            xhat = (x2[o, ch] - mean[ch]) * inv_std[ch]
            g = up - k * (dbeta[ch] + xhat * dgamma[ch])
            dx2[o, ch] = gamma[ch] * inv_std[ch] * g


@njit(cache=True)
def _backward_segments(x, dy, mean, inv_std, gamma, beta, k, relu, dx, dgamma, dbeta):
    """batchnorm_backward for x (outer, C, inner > 1), on this thread."""
    a, c, b = x.shape
    zero = dy.dtype.type(0)
    dgamma[:] = 0.0
    dbeta[:] = 0.0
    for o in range(a):
        for ch in range(c):
            m, s, t = mean[ch], inv_std[ch] * gamma[ch], beta[ch]
            for i in range(b):
                g = _upstream(dy[o, ch, i], x[o, ch, i], m, s, t, relu, zero)
                dbeta[ch] += g
                dgamma[ch] += g * (x[o, ch, i] - m) * inv_std[ch]
    for o in range(a):
        for ch in range(c):
            m, s = mean[ch], inv_std[ch]
            sb, sg, t, sy = k * dbeta[ch], k * dgamma[ch], beta[ch], s * gamma[ch]
            for i in range(b):
                up = _upstream(dy[o, ch, i], x[o, ch, i], m, sy, t, relu, zero)
                xhat = (x[o, ch, i] - m) * s
                dx[o, ch, i] = gamma[ch] * s * (up - sb - xhat * sg)


def batchnorm_backward(x, dy, mean, inv_std, gamma, beta, batch_stats, relu, dx, dgamma, dbeta):
    """Gradients of y = xhat * gamma + beta, xhat = (x - mean) * inv_std (followed by a fused
    ReLU when `relu`: dy counts only where y > 0); x, dy, dx (outer, C, inner), the rest (C,).
    Writes dx, dgamma = sum(dy * xhat), dbeta = sum(dy).

    With batch statistics (training) mean and inv_std depend on x, and with m = outer * inner
    dx = gamma * inv_std / m * (m * dy - dbeta - xhat * dgamma) (Ioffe & Szegedy 2015, sec. 3);
    with moving statistics they are constants and dx = dy * gamma * inv_std.

    Channels last (inner 1): the sums over blocks of SUM_BLOCK rows added in order, then dx, each
    pass's rows in ranges on OpenBLAS's threads where there are enough (the same numbers on any
    thread count).
    """
    a, c, b = x.shape
    k = 1.0 / (a * b) if batch_stats else 0.0  # constant statistics: no mean / variance terms
    if b != 1:
        _backward_segments(x, dy, mean, inv_std, gamma, beta, k, relu, dx, dgamma, dbeta)
        return
    x2, dy2, dx2 = x.reshape(a, c), dy.reshape(a, c), dx.reshape(a, c)
    blocks, work = -(-a // SUM_BLOCK), x.size * threads.ELEMENT_WORK
    sums = np.empty((2, blocks, c), dgamma.dtype)
    threads.blas_pool_rows(
        blocks,
        work,
        lambda b0, b1: _dy_sum_blocks(
            x2, dy2, mean, inv_std, gamma, beta, relu, sums[0], sums[1], b0, b1
        ),
    )
    ordered_sum(sums[0], dgamma)
    ordered_sum(sums[1], dbeta)
    threads.blas_pool_rows(
        a,
        work,
        lambda r0, r1: _dx_rows(
            x2, dy2, mean, inv_std, gamma, beta, relu, k, dgamma, dbeta, dx2, r0, r1
        ),
    )


@njit(cache=True, nogil=True, fastmath=REASSOC)
def _layernorm_rows(x, gamma, beta, epsilon, y, mean, inv_std, r0, r1):
    """layernorm_forward for rows r0..r1.

    A row is reduced two-pass (mean, then squared deviations) while it sits in cache, so x is
    read from memory once and the variance never suffers E[x^2] - E[x]^2 cancellation.
    """
    n = x.shape[1]
    for r in range(r0, r1):
        s = 0.0
        for j in range(n):
            s += x[r, j]
        m = s / n
        q = 0.0
        for j in range(n):
            d = x[r, j] - m
            q += d * d
        inv = 1.0 / math.sqrt(q / n + epsilon)
        mean[r] = m
        inv_std[r] = inv
        for j in range(n):
            y[r, j] = (x[r, j] - m) * inv * gamma[j] + beta[j]


def layernorm_forward(x, gamma, beta, epsilon, y, mean, inv_std):
    """Per row of x (rows, n): mean, inv_std = 1 / sqrt(var + eps) (biased), and
    y = (x - mean) * inv_std * gamma + beta with gamma, beta (n,). Writes y, mean, inv_std (rows,).
    Rows in ranges on OpenBLAS's threads where there are enough (threads.blas_pool_rows)."""
    rows = x.shape[0]
    threads.blas_pool_rows(
        rows,
        x.size * threads.ELEMENT_WORK,
        lambda r0, r1: _layernorm_rows(x, gamma, beta, epsilon, y, mean, inv_std, r0, r1),
    )


@njit(cache=True, nogil=True, fastmath=REASSOC)
def _layernorm_grad_blocks(x, dy, mean, inv_std, gamma, dx, dgammas, dbetas, b0, b1):
    """layernorm_backward for the blocks of SUM_BLOCK rows b0..b1: dx, and each block's own
    sums of dgamma and dbeta in dgammas[b], dbetas[b]."""
    rows, n = x.shape
    for b in range(b0, b1):
        dgamma, dbeta = dgammas[b], dbetas[b]
        for j in range(n):
            dgamma[j] = 0.0
            dbeta[j] = 0.0
        for r in range(b * SUM_BLOCK, min((b + 1) * SUM_BLOCK, rows)):
            m, s = mean[r], inv_std[r]
            sg = 0.0
            sgx = 0.0
            for j in range(n):
                xhat = (x[r, j] - m) * s
                g = dy[r, j] * gamma[j]
                sg += g
                sgx += g * xhat
                dgamma[j] += dy[r, j] * xhat
                dbeta[j] += dy[r, j]
            sg /= n
            sgx /= n
            for j in range(n):
                xhat = (x[r, j] - m) * s
                dx[r, j] = s * (dy[r, j] * gamma[j] - sg - xhat * sgx)


def layernorm_backward(x, dy, mean, inv_std, gamma, dx, dgamma, dbeta):
    """Gradients of y = xhat * gamma + beta with per-row xhat = (x - mean) * inv_std; x, dy, dx
    (rows, n), mean and inv_std (rows,), gamma, dgamma, dbeta (n,). Per row, with g = dy * gamma:
    dx = inv_std / n * (n * g - sum(g) - xhat * sum(g * xhat)). Writes dx, dgamma, dbeta.
    Blocks of SUM_BLOCK rows in ranges on OpenBLAS's threads where there are enough; dgamma and
    dbeta add the blocks' sums in order, the same numbers on any number of threads."""
    rows, n = x.shape
    blocks = -(-rows // SUM_BLOCK)
    sums = np.empty((2, blocks, n), dgamma.dtype)
    threads.blas_pool_rows(
        blocks,
        x.size * threads.ELEMENT_WORK,
        lambda b0, b1: _layernorm_grad_blocks(
            x, dy, mean, inv_std, gamma, dx, sums[0], sums[1], b0, b1
        ),
    )
    ordered_sum(sums[0], dgamma)
    ordered_sum(sums[1], dbeta)


# -- group normalization (and RMS normalization: uncentered, one group) --------------------------
# x is seen as a C-contiguous (N, P, C, Q) view: N samples, channels C on the axis between P and
# Q (channels-last: Q = 1); group g of sample n is x[n, :, g*cg:(g+1)*cg, :], cg = C / G, with G
# the groups (mean.shape[1]). Callers make the views (reshapes, never copies). On the calling
# thread, as layer normalization: a pass over memory that Numba's pool (threads.py) would only
# pay for on large images.


@njit(cache=True)
def _group_sum(x, n, c0, c1, mu, square):
    """The sum over x[n, :, c0:c1, :] of (x - mu), or of (x - mu)^2 with `square`."""
    s = 0.0
    for p in range(x.shape[1]):
        for c in range(c0, c1):
            for q in range(x.shape[3]):
                d = x[n, p, c, q] - mu
                s += d * d if square else d
    return s


@njit(cache=True)
def groupnorm_forward(x, gamma, beta, epsilon, centered, y, mean, inv_std):
    """Per sample and group of x (N, P, C, Q): mean (0 unless `centered`), inv_std =
    1 / sqrt(mean((x - mean)^2) + eps) (biased), y = (x - mean) * inv_std * gamma + beta with
    gamma, beta (C,). Writes y and mean, inv_std (N, G). Uncentered, one group per row, it is
    RMS normalization (Zhang & Sennrich 2019). Two passes over a group, as layernorm_forward."""
    N, P, C, Q = x.shape
    G = mean.shape[1]
    cg = C // G
    m = P * cg * Q
    for r in range(N * G):
        n, c0 = r // G, (r % G) * cg
        mu = _group_sum(x, n, c0, c0 + cg, 0.0, False) / m if centered else 0.0
        inv = 1.0 / math.sqrt(_group_sum(x, n, c0, c0 + cg, mu, True) / m + epsilon)
        mean[n, r % G] = mu
        inv_std[n, r % G] = inv
        for p in range(P):
            for c in range(c0, c0 + cg):
                s, t = inv * gamma[c], beta[c]
                for q in range(Q):
                    y[n, p, c, q] = (x[n, p, c, q] - mu) * s + t


@njit(cache=True)
def _groupnorm_dx(x, dy, mean, inv_std, gamma, centered, dx):
    """dx = inv_std * (g - mean(g) - xhat * mean(g * xhat)) per group, g = dy * gamma; without
    `centered` the mean(g) term is absent (the statistics have no mean)."""
    N, P, C, Q = x.shape
    G = mean.shape[1]
    cg = C // G
    m = P * cg * Q
    for r in range(N * G):
        n, g, c0 = r // G, r % G, (r % G) * cg
        mu, s = mean[n, g], inv_std[n, g]
        sg, sgx = 0.0, 0.0
        for p in range(P):
            for c in range(c0, c0 + cg):
                for q in range(Q):
                    gd = dy[n, p, c, q] * gamma[c]
                    sg += gd
                    sgx += gd * (x[n, p, c, q] - mu) * s
        sg = sg / m if centered else 0.0
        sgx /= m
        for p in range(P):
            for c in range(c0, c0 + cg):
                for q in range(Q):
                    xhat = (x[n, p, c, q] - mu) * s
                    dx[n, p, c, q] = s * (dy[n, p, c, q] * gamma[c] - sg - xhat * sgx)


@njit(cache=True)
def _groupnorm_params(x, dy, mean, inv_std, dgamma, dbeta):
    """dgamma[c] = sum(dy * xhat), dbeta[c] = sum(dy) over samples and the P, Q axes."""
    N, P, C, Q = x.shape
    cg = C // mean.shape[1]
    for c in range(C):
        g = c // cg
        sg, sb = 0.0, 0.0
        for n in range(N):
            mu, s = mean[n, g], inv_std[n, g]
            for p in range(P):
                for q in range(Q):
                    sb += dy[n, p, c, q]
                    sg += dy[n, p, c, q] * (x[n, p, c, q] - mu) * s
        dgamma[c] = sg
        dbeta[c] = sb


def groupnorm_backward(x, dy, mean, inv_std, gamma, centered, dx, dgamma, dbeta):
    """Gradients of groupnorm_forward's y: x, dy, dx (N, P, C, Q), mean and inv_std (N, G),
    gamma, dgamma, dbeta (C,). Writes dx (exact through the statistics), dgamma, dbeta."""
    _groupnorm_dx(x, dy, mean, inv_std, gamma, centered, dx)
    _groupnorm_params(x, dy, mean, inv_std, dgamma, dbeta)
