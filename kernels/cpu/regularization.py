"""Dropout-family kernels: random masks drawn from a NumPy Generator, thresholded and applied.

The public functions take `rng` (a numpy.random.Generator) and draw the raw randoms straight into
the `mask` buffer they are given (Generator.random / standard_normal with out=), then a Numba
kernel turns them into the mask in place and applies it. Drawing with the Generator keeps a
mask a function of the seed alone (not of thread count or Numba's global state). Arrays are
C-contiguous float32 or float64; `mask` has x's shape, or a shape broadcasting to it
(noise_shape) for the *_mask variants, which leave applying it to `*_apply`.
"""

import numpy as np
from numba import njit


def _uniform(rng, mask):
    rng.random(dtype=mask.dtype, out=mask.reshape(-1))


def _normal(rng, mask):
    rng.standard_normal(dtype=mask.dtype, out=mask.reshape(-1))


@njit(cache=True)
def _keep_scale(u, rate, kept, dropped):
    """In place on flat u (uniform in [0, 1)): kept where u >= rate (probability 1 - rate),
    else dropped."""
    for i in range(u.size):
        u[i] = kept if u[i] >= rate else dropped


@njit(cache=True)
def _threshold_apply(x, u, rate, kept, shift, offset, y):
    """Fused on flat arrays, u (uniform in [0, 1)) turned into the mask in place:
    u = kept if u >= rate else 0, then y = (x - shift) * u + offset."""
    for i in range(x.size):
        m = kept if u[i] >= rate else 0.0
        u[i] = m
        y[i] = (x[i] - shift) * m + offset


def dropout_forward(x, rate, rng, mask, y):
    """Inverted dropout, mask of x's shape: mask = 1 / (1 - rate) with probability 1 - rate,
    else 0; y = x * mask. Writes mask and y."""
    _uniform(rng, mask)
    _threshold_apply(
        x.reshape(-1), mask.reshape(-1), rate, 1.0 / (1.0 - rate), 0.0, 0.0, y.reshape(-1)
    )


def dropout_mask(rate, rng, mask):
    """mask = 1 / (1 - rate) with probability 1 - rate, else 0 (any shape). Writes mask."""
    _uniform(rng, mask)
    _keep_scale(mask.reshape(-1), rate, 1.0 / (1.0 - rate), 0.0)


def dropout_apply(x, mask, y):
    """y = x * mask, mask broadcasting to x (a noise_shape mask)."""
    np.multiply(x, mask, out=y)


def alpha_dropout_forward(x, rate, alpha_p, a, b, rng, mask, y):
    """AlphaDropout (Klambauer et al. 2017, sec. 4), mask of x's shape: keep with probability
    1 - rate, y = a * (x if kept else alpha_p) + b, which is (x - alpha_p) * mask + a * alpha_p + b
    with mask = a if kept else 0 (also dy/dx). Writes mask and y."""
    _uniform(rng, mask)
    _threshold_apply(
        x.reshape(-1), mask.reshape(-1), rate, a, alpha_p, a * alpha_p + b, y.reshape(-1)
    )


def alpha_dropout_mask(rate, a, rng, mask):
    """mask = a with probability 1 - rate, else 0 (any shape). Writes mask."""
    _uniform(rng, mask)
    _keep_scale(mask.reshape(-1), rate, a, 0.0)


def alpha_dropout_apply(x, mask, alpha_p, offset, y):
    """y = (x - alpha_p) * mask + offset, mask broadcasting to x."""
    np.subtract(x, alpha_p, out=y)
    np.multiply(y, mask, out=y)
    y += offset


@njit(cache=True)
def _gaussian(x, n, stddev, multiplicative, y):
    """In place on flat n (standard normal): n = 1 + stddev * n and y = x * n if
    multiplicative, else n = stddev * n and y = x + n."""
    for i in range(x.size):
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
    _normal(rng, mask)
    _gaussian(x.reshape(-1), mask.reshape(-1), stddev, True, y.reshape(-1))


def gaussian_noise_forward(x, stddev, rng, noise, y):
    """noise ~ N(0, stddev^2) elementwise, y = x + noise. Writes noise and y."""
    _normal(rng, noise)
    _gaussian(x.reshape(-1), noise.reshape(-1), stddev, False, y.reshape(-1))


def dropout_backward(dy, mask, dx):
    """dx = dy * mask (mask broadcasting to dy): the backward of every multiplicative mask."""
    np.multiply(dy, mask, out=dx)
