"""Batch, layer and group (and RMS) normalization on the device: statistics by block reductions
(one block per channel, or per row or group, two passes: mean, then squared deviations), then
elementwise normalize / gradient passes. Views as kernels/cpu/normalization.py: batch norm (outer,
C, inner), layer norm (rows, n), group norm (N, P, C, Q) with statistics (N, G)."""

import math

from numba import cuda, float64

from graphengine_kernels.cuda.launch import THREADS, elementwise, per_block
from graphengine_kernels.cuda.reduce import block_sum

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


@cuda.jit(cache=True)
def channel_stats_kernel(x, momentum, epsilon, moving_mean, moving_var, mean, inv_std):
    buf = cuda.shared.array(THREADS, float64)
    a, c, b = x.shape
    m = a * b
    tid = cuda.threadIdx.x
    for ch in range(cuda.blockIdx.x, c, cuda.gridDim.x):
        s = 0.0
        for e in range(tid, m, THREADS):
            s += x[e // b, ch, e % b]
        mu = block_sum(buf, s) / m
        q = 0.0
        for e in range(tid, m, THREADS):
            d = x[e // b, ch, e % b] - mu
            q += d * d
        var = block_sum(buf, q) / m
        if tid == 0:
            mean[ch] = mu
            moving_mean[ch] = moving_mean[ch] * momentum + mu * (1.0 - momentum)
            moving_var[ch] = moving_var[ch] * momentum + var * (1.0 - momentum)
            inv_std[ch] = 1.0 / math.sqrt(var + epsilon)


def batchnorm_training_stats(x, momentum, epsilon, moving_mean, moving_var, mean, inv_std):
    """Batch statistics of x (outer, C, inner): writes mean (C,), inv_std = 1 / sqrt(var + eps)
    with the biased variance, and updates moving_mean and moving_var (C,) IN PLACE with
    moving = moving * momentum + batch * (1 - momentum)."""
    per_block(channel_stats_kernel, x.shape[1])(
        x, momentum, epsilon, moving_mean, moving_var, mean, inv_std
    )


@cuda.jit(cache=True)
def inference_stats_kernel(moving_mean, moving_var, epsilon, mean, inv_std):
    for ch in range(cuda.grid(1), mean.size, cuda.gridsize(1)):
        mean[ch] = moving_mean[ch]
        inv_std[ch] = 1.0 / math.sqrt(moving_var[ch] + epsilon)


def batchnorm_inference_stats(moving_mean, moving_var, epsilon, mean, inv_std):
    """mean = moving_mean, inv_std = 1 / sqrt(moving_var + eps); all (C,)."""
    elementwise(inference_stats_kernel, mean.size)(moving_mean, moving_var, epsilon, mean, inv_std)


@cuda.jit(device=True)
def _normalized(x, m, s, t):
    """(x - m) * s + t, s = inv_std * gamma: the one expression the forward pass and a fused
    ReLU's mask in the backward pass both evaluate."""
    return (x - m) * s + t


@cuda.jit(cache=True)
def normalize_kernel(x, mean, inv_std, gamma, beta, relu, y):
    a, c, b = x.shape
    for e in range(cuda.grid(1), x.size, cuda.gridsize(1)):
        o, rest = e // (c * b), e % (c * b)
        ch, i = rest // b, rest % b
        v = _normalized(x[o, ch, i], mean[ch], inv_std[ch] * gamma[ch], beta[ch])
        y[o, ch, i] = 0 if relu and v <= 0 else v  # NaN stays NaN


def batchnorm_forward(x, mean, inv_std, gamma, beta, relu, y):
    """y = (x - mean) * (inv_std * gamma) + beta per channel, then relu(y) when `relu`; x, y
    (outer, C, inner)."""
    elementwise(normalize_kernel, x.size)(x, mean, inv_std, gamma, beta, relu, y)


@cuda.jit(device=True)
def _upstream(dy, x, o, ch, i, mean, inv_std, gamma, beta, relu):
    """dy[o, ch, i] times relu'(y) of a fused ReLU of y = x * s + t (a product: NaN stays)."""
    if relu and not _normalized(x[o, ch, i], mean[ch], inv_std[ch] * gamma[ch], beta[ch]) > 0:
        return dy[o, ch, i] * 0.0
    return dy[o, ch, i]


@cuda.jit(cache=True)
def dy_sums_kernel(x, dy, mean, inv_std, gamma, beta, relu, dgamma, dbeta):
    buf = cuda.shared.array(THREADS, float64)
    a, c, b = x.shape
    tid = cuda.threadIdx.x
    for ch in range(cuda.blockIdx.x, c, cuda.gridDim.x):
        sb, sg = 0.0, 0.0
        for e in range(tid, a * b, THREADS):
            g = _upstream(dy, x, e // b, ch, e % b, mean, inv_std, gamma, beta, relu)
            sb += g
            sg += g * (x[e // b, ch, e % b] - mean[ch]) * inv_std[ch]
        sb = block_sum(buf, sb)
        sg = block_sum(buf, sg)
        if tid == 0:
            dbeta[ch] = sb
            dgamma[ch] = sg


@cuda.jit(cache=True)
def batchnorm_dx_kernel(x, dy, mean, inv_std, gamma, beta, relu, k, dgamma, dbeta, dx):
    a, c, b = x.shape
    for e in range(cuda.grid(1), x.size, cuda.gridsize(1)):
        o, rest = e // (c * b), e % (c * b)
        ch, i = rest // b, rest % b
        xhat = (x[o, ch, i] - mean[ch]) * inv_std[ch]
        up = _upstream(dy, x, o, ch, i, mean, inv_std, gamma, beta, relu)
        g = up - k * (dbeta[ch] + xhat * dgamma[ch])
        dx[o, ch, i] = gamma[ch] * inv_std[ch] * g


def batchnorm_backward(x, dy, mean, inv_std, gamma, beta, batch_stats, relu, dx, dgamma, dbeta):
    """Gradients of y = xhat * gamma + beta (through a fused ReLU when `relu`: dy counts only
    where y > 0); x, dy, dx (outer, C, inner), the rest (C,). Writes dx, dgamma = sum(dy *
    xhat), dbeta = sum(dy); through the batch statistics when batch_stats (Ioffe & Szegedy 2015,
    sec. 3), else with constant statistics."""
    args = (x, dy, mean, inv_std, gamma, beta, relu)
    per_block(dy_sums_kernel, x.shape[1])(*args, dgamma, dbeta)
    k = 1.0 / (x.shape[0] * x.shape[2]) if batch_stats else 0.0
    elementwise(batchnorm_dx_kernel, x.size)(*args, k, dgamma, dbeta, dx)


@cuda.jit(cache=True)
def layernorm_forward_kernel(x, gamma, beta, epsilon, y, mean, inv_std):
    buf = cuda.shared.array(THREADS, float64)
    rows, n = x.shape
    tid = cuda.threadIdx.x
    for r in range(cuda.blockIdx.x, rows, cuda.gridDim.x):
        s = 0.0
        for j in range(tid, n, THREADS):
            s += x[r, j]
        m = block_sum(buf, s) / n
        q = 0.0
        for j in range(tid, n, THREADS):
            d = x[r, j] - m
            q += d * d
        inv = 1.0 / math.sqrt(block_sum(buf, q) / n + epsilon)
        if tid == 0:
            mean[r] = m
            inv_std[r] = inv
        for j in range(tid, n, THREADS):
            y[r, j] = (x[r, j] - m) * inv * gamma[j] + beta[j]


def layernorm_forward(x, gamma, beta, epsilon, y, mean, inv_std):
    """Per row of x (rows, n): mean, inv_std = 1 / sqrt(var + eps) (biased), and
    y = (x - mean) * inv_std * gamma + beta. Writes y, mean, inv_std (rows,)."""
    per_block(layernorm_forward_kernel, x.shape[0])(x, gamma, beta, epsilon, y, mean, inv_std)


@cuda.jit(cache=True)
def layernorm_dx_kernel(x, dy, mean, inv_std, gamma, dx):
    buf = cuda.shared.array(THREADS, float64)
    rows, n = x.shape
    tid = cuda.threadIdx.x
    for r in range(cuda.blockIdx.x, rows, cuda.gridDim.x):
        m, s = mean[r], inv_std[r]
        sg, sgx = 0.0, 0.0
        for j in range(tid, n, THREADS):
            g = dy[r, j] * gamma[j]
            sg += g
            sgx += g * (x[r, j] - m) * s
        sg = block_sum(buf, sg) / n
        sgx = block_sum(buf, sgx) / n
        for j in range(tid, n, THREADS):
            xhat = (x[r, j] - m) * s
            dx[r, j] = s * (dy[r, j] * gamma[j] - sg - xhat * sgx)


@cuda.jit(cache=True)
def layernorm_param_grad_kernel(x, dy, mean, inv_std, dgamma, dbeta):
    buf = cuda.shared.array(THREADS, float64)
    rows, n = x.shape
    tid = cuda.threadIdx.x
    for j in range(cuda.blockIdx.x, n, cuda.gridDim.x):
        sg, sb = 0.0, 0.0
        for r in range(tid, rows, THREADS):
            sg += dy[r, j] * (x[r, j] - mean[r]) * inv_std[r]
            sb += dy[r, j]
        sg = block_sum(buf, sg)
        sb = block_sum(buf, sb)
        if tid == 0:
            dgamma[j] = sg
            dbeta[j] = sb


def layernorm_backward(x, dy, mean, inv_std, gamma, dx, dgamma, dbeta):
    """Gradients of y = xhat * gamma + beta with per-row statistics; x, dy, dx (rows, n), mean,
    inv_std (rows,), gamma, dgamma, dbeta (n,). Writes dx, dgamma, dbeta."""
    per_block(layernorm_dx_kernel, x.shape[0])(x, dy, mean, inv_std, gamma, dx)
    per_block(layernorm_param_grad_kernel, x.shape[1])(x, dy, mean, inv_std, dgamma, dbeta)


@cuda.jit(device=True)
def _group_element(x, n, c0, cg, e):
    """(p, c, q) of the e-th element of group [c0, c0 + cg) of sample n of x (N, P, C, Q)."""
    q = e % x.shape[3]
    rest = e // x.shape[3]
    return rest // cg, c0 + rest % cg, q


@cuda.jit(cache=True)
def groupnorm_forward_kernel(x, gamma, beta, epsilon, centered, y, mean, inv_std):
    buf = cuda.shared.array(THREADS, float64)
    N, P, C, Q = x.shape
    G = mean.shape[1]
    cg = C // G
    m = P * cg * Q
    tid = cuda.threadIdx.x
    for r in range(cuda.blockIdx.x, N * G, cuda.gridDim.x):
        n, c0 = r // G, (r % G) * cg
        mu = 0.0
        if centered:
            s = 0.0
            for e in range(tid, m, THREADS):
                p, c, q = _group_element(x, n, c0, cg, e)
                s += x[n, p, c, q]
            mu = block_sum(buf, s) / m
        ss = 0.0
        for e in range(tid, m, THREADS):
            p, c, q = _group_element(x, n, c0, cg, e)
            d = x[n, p, c, q] - mu
            ss += d * d
        inv = 1.0 / math.sqrt(block_sum(buf, ss) / m + epsilon)
        if tid == 0:
            mean[n, r % G] = mu
            inv_std[n, r % G] = inv
        for e in range(tid, m, THREADS):
            p, c, q = _group_element(x, n, c0, cg, e)
            y[n, p, c, q] = (x[n, p, c, q] - mu) * (inv * gamma[c]) + beta[c]


def groupnorm_forward(x, gamma, beta, epsilon, centered, y, mean, inv_std):
    """Per sample and group of x (N, P, C, Q): mean (0 unless `centered`), inv_std, and
    y = (x - mean) * inv_std * gamma + beta. Writes y, mean, inv_std (N, G)."""
    rows = mean.shape[0] * mean.shape[1]
    per_block(groupnorm_forward_kernel, rows)(x, gamma, beta, epsilon, centered, y, mean, inv_std)


@cuda.jit(cache=True)
def groupnorm_dx_kernel(x, dy, mean, inv_std, gamma, centered, dx):
    buf = cuda.shared.array(THREADS, float64)
    N, P, C, Q = x.shape
    G = mean.shape[1]
    cg = C // G
    m = P * cg * Q
    tid = cuda.threadIdx.x
    for r in range(cuda.blockIdx.x, N * G, cuda.gridDim.x):
        n, g = r // G, r % G
        mu, s = mean[n, g], inv_std[n, g]
        sg, sgx = 0.0, 0.0
        for e in range(tid, m, THREADS):
            p, c, q = _group_element(x, n, g * cg, cg, e)
            gd = dy[n, p, c, q] * gamma[c]
            sg += gd
            sgx += gd * (x[n, p, c, q] - mu) * s
        sg = block_sum(buf, sg) / m if centered else 0.0
        sgx = block_sum(buf, sgx) / m
        for e in range(tid, m, THREADS):
            p, c, q = _group_element(x, n, g * cg, cg, e)
            xhat = (x[n, p, c, q] - mu) * s
            dx[n, p, c, q] = s * (dy[n, p, c, q] * gamma[c] - sg - xhat * sgx)


@cuda.jit(cache=True)
def groupnorm_param_grad_kernel(x, dy, mean, inv_std, dgamma, dbeta):
    buf = cuda.shared.array(THREADS, float64)
    N, P, C, Q = x.shape
    cg = C // mean.shape[1]
    m = N * P * Q
    tid = cuda.threadIdx.x
    for c in range(cuda.blockIdx.x, C, cuda.gridDim.x):
        g = c // cg
        sg, sb = 0.0, 0.0
        for e in range(tid, m, THREADS):
            n, rest = e // (P * Q), e % (P * Q)
            p, q = rest // Q, rest % Q
            sb += dy[n, p, c, q]
            sg += dy[n, p, c, q] * (x[n, p, c, q] - mean[n, g]) * inv_std[n, g]
        sg = block_sum(buf, sg)
        sb = block_sum(buf, sb)
        if tid == 0:
            dgamma[c] = sg
            dbeta[c] = sb


def groupnorm_backward(x, dy, mean, inv_std, gamma, centered, dx, dgamma, dbeta):
    """Gradients of groupnorm_forward's y: x, dy, dx (N, P, C, Q), mean and inv_std (N, G),
    gamma, dgamma, dbeta (C,). Writes dx, dgamma, dbeta."""
    rows = mean.shape[0] * mean.shape[1]
    per_block(groupnorm_dx_kernel, rows)(x, dy, mean, inv_std, gamma, centered, dx)
    per_block(groupnorm_param_grad_kernel, x.shape[2])(x, dy, mean, inv_std, dgamma, dbeta)
