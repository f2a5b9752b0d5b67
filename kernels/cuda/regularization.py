"""Dropout-family kernels on the device. The raw randoms are drawn on the host with the NumPy
Generator `rng`, exactly as kernels/cpu/regularization.py draws them, and copied into the mask
buffer, so a seed gives the same masks on both devices; kernels then threshold and apply."""

import numpy as np
from numba import cuda

from graphengine_kernels.cuda.elementwise import broadcast_binary
from graphengine_kernels.cuda.launch import elementwise, flat

__all__ = [
    "dropout_forward",
    "dropout_mask",
    "dropout_apply",
    "alpha_dropout_forward",
    "alpha_dropout_mask",
    "alpha_dropout_apply",
    "gaussian_dropout_forward",
    "gaussian_noise_forward",
    "dropout_backward",
]


def _draw(rng, mask, normal):
    host = np.empty(mask.size, mask.dtype)
    if normal:
        rng.standard_normal(dtype=mask.dtype, out=host)
    else:
        rng.random(dtype=mask.dtype, out=host)
    flat(mask).copy_to_device(host)


@cuda.jit(cache=True)
def threshold_apply_kernel(x, u, rate, kept, shift, offset, apply, y):
    """u = kept if u >= rate else 0 (in place), then y = (x - shift) * u + offset if apply."""
    for i in range(cuda.grid(1), u.size, cuda.gridsize(1)):
        m = kept if u[i] >= rate else 0.0
        u[i] = m
        if apply:
            y[i] = (x[i] - shift) * m + offset


def dropout_forward(x, rate, rng, mask, y):
    """Inverted dropout, mask of x's shape. Writes mask and y."""
    _draw(rng, mask, False)
    elementwise(threshold_apply_kernel, x.size)(
        flat(x), flat(mask), rate, 1.0 / (1.0 - rate), 0.0, 0.0, True, flat(y)
    )


def dropout_mask(rate, rng, mask):
    """mask = 1 / (1 - rate) with probability 1 - rate, else 0 (any shape). Writes mask."""
    _draw(rng, mask, False)
    m = flat(mask)
    elementwise(threshold_apply_kernel, m.size)(m, m, rate, 1.0 / (1.0 - rate), 0.0, 0.0, False, m)


def dropout_apply(x, mask, y):
    """y = x * mask, mask broadcasting to x (a noise_shape mask)."""
    broadcast_binary("multiply", x, mask, y)


def alpha_dropout_forward(x, rate, alpha_p, a, b, rng, mask, y):
    """AlphaDropout, mask of x's shape: y = (x - alpha_p) * mask + a * alpha_p + b with
    mask = a if kept else 0. Writes mask and y."""
    _draw(rng, mask, False)
    elementwise(threshold_apply_kernel, x.size)(
        flat(x), flat(mask), rate, a, alpha_p, a * alpha_p + b, True, flat(y)
    )


def alpha_dropout_mask(rate, a, rng, mask):
    """mask = a with probability 1 - rate, else 0 (any shape). Writes mask."""
    _draw(rng, mask, False)
    m = flat(mask)
    elementwise(threshold_apply_kernel, m.size)(m, m, rate, a, 0.0, 0.0, False, m)


def alpha_dropout_apply(x, mask, alpha_p, offset, y):
    """y = (x - alpha_p) * mask + offset, mask broadcasting to x."""
    broadcast_binary("shift_scale_add", x, mask, y, alpha_p, offset)


@cuda.jit(cache=True)
def gaussian_kernel(x, n, stddev, multiplicative, y):
    for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
        if multiplicative:
            m = 1.0 + stddev * n[i]
            n[i] = m
            y[i] = x[i] * m
        else:
            e = stddev * n[i]
            n[i] = e
            y[i] = x[i] + e


def gaussian_dropout_forward(x, stddev, rng, mask, y):
    """mask ~ N(1, stddev^2) elementwise, y = x * mask. Writes mask and y."""
    _draw(rng, mask, True)
    elementwise(gaussian_kernel, x.size)(flat(x), flat(mask), stddev, True, flat(y))


def gaussian_noise_forward(x, stddev, rng, noise, y):
    """noise ~ N(0, stddev^2) elementwise, y = x + noise. Writes noise and y."""
    _draw(rng, noise, True)
    elementwise(gaussian_kernel, x.size)(flat(x), flat(noise), stddev, False, flat(y))


def dropout_backward(dy, mask, dx):
    """dx = dy * mask (mask broadcasting to dy)."""
    broadcast_binary("multiply", dy, mask, dx)
