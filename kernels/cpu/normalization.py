"""Batch and layer normalization: statistics, the fused normalize + affine pass, and backward.

Batch normalization sees x as a C-contiguous (outer, C, inner) view with statistics per channel
over outer and inner (channels-last: inner = 1); layer normalization sees (rows, n), one set of
statistics per row. Callers make the views (reshapes, never copies). float32 or float64.
"""

import math

from numba import njit


@njit(cache=True)
def _welford_rows(x, mean, m2):
    """Running mean and sum of squared deviations of each column of x (rows, C), row by row
    (Welford 1962): one pass, stable, and each row's update vectorizes over the channels."""
    for r in range(x.shape[0]):
        w = 1.0 / (r + 1)
        for ch in range(x.shape[1]):
            d = x[r, ch] - mean[ch]
            mean[ch] += d * w
            m2[ch] += d * (x[r, ch] - mean[ch])


@njit(cache=True)
def _chan_segments(x, mean, m2):
    """Like _welford_rows for x (outer, C, inner): each contiguous segment x[o, c, :] is reduced
    two-pass while in cache, then merged with Chan, Golub & LeVeque's pairwise update (1979)."""
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
    """mean[c], var[c] = mean and biased variance of x[:, c, :] (outer, C, inner), reading x
    once, without the cancellation of E[x^2] - E[x]^2."""
    a, c, b = x.shape
    mean[:] = 0.0
    var[:] = 0.0  # the sum of squared deviations until the end
    if b == 1:
        _welford_rows(x.reshape(a, c), mean, var)
    else:
        _chan_segments(x, mean, var)
    var /= a * b


@njit(cache=True)
def batchnorm_training_stats(x, momentum, epsilon, moving_mean, moving_var, mean, inv_std):
    """Batch statistics of x (outer, C, inner): writes mean (C,), inv_std = 1 / sqrt(var + eps)
    (C,) with the biased variance, and updates moving_mean and moving_var (C,) IN PLACE with
    Keras's rule moving = moving * momentum + batch * (1 - momentum)."""
    _channel_moments(x, mean, inv_std)  # inv_std holds the variance for a moment
    for ch in range(mean.size):
        var = inv_std[ch]
        moving_mean[ch] = moving_mean[ch] * momentum + mean[ch] * (1.0 - momentum)
        moving_var[ch] = moving_var[ch] * momentum + var * (1.0 - momentum)
        inv_std[ch] = 1.0 / math.sqrt(var + epsilon)


@njit(cache=True)
def batchnorm_inference_stats(moving_mean, moving_var, epsilon, mean, inv_std):
    """mean = moving_mean, inv_std = 1 / sqrt(moving_var + eps); all (C,)."""
    for ch in range(mean.size):
        mean[ch] = moving_mean[ch]
        inv_std[ch] = 1.0 / math.sqrt(moving_var[ch] + epsilon)


@njit(cache=True)
def batchnorm_forward(x, mean, inv_std, gamma, beta, y):
    """y = (x - mean) * (inv_std * gamma) + beta per channel (Keras's order of operations);
    x, y (outer, C, inner), the rest (C,). Writes y."""
    a, c, b = x.shape
    if b == 1:  # channels last: each row vectorizes over the channels
        x2, y2 = x.reshape(a, c), y.reshape(a, c)
        for o in range(a):
            for ch in range(c):
                y2[o, ch] = (x2[o, ch] - mean[ch]) * (inv_std[ch] * gamma[ch]) + beta[ch]
        return
    for o in range(a):
        for ch in range(c):
            m, s, t = mean[ch], inv_std[ch] * gamma[ch], beta[ch]
            for i in range(b):
                y[o, ch, i] = (x[o, ch, i] - m) * s + t


@njit(cache=True)
def _dy_sums(x, dy, mean, inv_std, dgamma, dbeta):
    """dbeta[c] = sum(dy), dgamma[c] = sum(dy * xhat) over x[:, c, :] (outer, C, inner)."""
    a, c, b = x.shape
    dgamma[:] = 0.0
    dbeta[:] = 0.0
    if b == 1:
        x2, dy2 = x.reshape(a, c), dy.reshape(a, c)
        for o in range(a):
            for ch in range(c):
                dbeta[ch] += dy2[o, ch]
                dgamma[ch] += dy2[o, ch] * (x2[o, ch] - mean[ch]) * inv_std[ch]
        return
    for o in range(a):
        for ch in range(c):
            m, s = mean[ch], inv_std[ch]
            for i in range(b):
                dbeta[ch] += dy[o, ch, i]
                dgamma[ch] += dy[o, ch, i] * (x[o, ch, i] - m) * s


@njit(cache=True)
def batchnorm_backward(x, dy, mean, inv_std, gamma, batch_stats, dx, dgamma, dbeta):
    """Gradients of y = xhat * gamma + beta, xhat = (x - mean) * inv_std; x, dy, dx (outer, C,
    inner), the rest (C,). Writes dx, dgamma = sum(dy * xhat), dbeta = sum(dy).

    With batch statistics (training) mean and inv_std depend on x, and with m = outer * inner
    dx = gamma * inv_std / m * (m * dy - dbeta - xhat * dgamma) (Ioffe & Szegedy 2015, sec. 3);
    with moving statistics they are constants and dx = dy * gamma * inv_std.
    """
    _dy_sums(x, dy, mean, inv_std, dgamma, dbeta)
    a, c, b = x.shape
    k = 1.0 / (a * b) if batch_stats else 0.0  # constant statistics: no mean / variance terms
    if b == 1:
        x2, dy2, dx2 = x.reshape(a, c), dy.reshape(a, c), dx.reshape(a, c)
        for o in range(a):
            for ch in range(c):
                xhat = (x2[o, ch] - mean[ch]) * inv_std[ch]
                g = dy2[o, ch] - k * (dbeta[ch] + xhat * dgamma[ch])
                dx2[o, ch] = gamma[ch] * inv_std[ch] * g
        return
    for o in range(a):
        for ch in range(c):
            m, s = mean[ch], inv_std[ch]
            sb, sg = k * dbeta[ch], k * dgamma[ch]
            for i in range(b):
                xhat = (x[o, ch, i] - m) * s
                dx[o, ch, i] = gamma[ch] * s * (dy[o, ch, i] - sb - xhat * sg)


@njit(cache=True)
def layernorm_forward(x, gamma, beta, epsilon, y, mean, inv_std):
    """Per row of x (rows, n): mean, inv_std = 1 / sqrt(var + eps) (biased), and
    y = (x - mean) * inv_std * gamma + beta with gamma, beta (n,). Writes y, mean, inv_std (rows,).

    A row is reduced two-pass (mean, then squared deviations) while it sits in cache, so x is
    read from memory once and the variance never suffers E[x^2] - E[x]^2 cancellation.
    """
    rows, n = x.shape
    for r in range(rows):
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


@njit(cache=True)
def layernorm_backward(x, dy, mean, inv_std, gamma, dx, dgamma, dbeta):
    """Gradients of y = xhat * gamma + beta with per-row xhat = (x - mean) * inv_std; x, dy, dx
    (rows, n), mean and inv_std (rows,), gamma, dgamma, dbeta (n,). Per row, with g = dy * gamma:
    dx = inv_std / n * (n * g - sum(g) - xhat * sum(g * xhat)). Writes dx, dgamma, dbeta."""
    rows, n = x.shape
    for j in range(n):
        dgamma[j] = 0.0
        dbeta[j] = 0.0
    for r in range(rows):
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
