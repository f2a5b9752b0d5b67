"""Optimizer update kernels on the device, one grid-stride kernel per Keras 3 update rule (the
formulas are stated in kernels/cpu/optimizers.py), and gradient clipping. Arrays are flat device
views of one weight, its gradient and its slots; an unused slot is an empty device array. The
sum of squares for norm clipping is a block reduction returned to the host as a float."""

import math

import numpy as np
from numba import cuda, float64

from graphengine_kernels.cuda.launch import THREADS, elementwise
from graphengine_kernels.cuda.reduce import block_sum

__all__ = [
    "adadelta_update",
    "adagrad_update",
    "adam_update",
    "adamax_update",
    "clip_gradient_by_value",
    "gradient_sum_of_squares",
    "lion_update",
    "nadam_update",
    "rmsprop_update",
    "scale_gradient",
    "sgd_update",
]


@cuda.jit(cache=True)
def sgd_kernel(w, g, m, lr, momentum, nesterov, decay):
    for i in range(cuda.grid(1), w.size, cuda.gridsize(1)):
        x = w[i]
        x -= x * decay
        step = lr * g[i]
        if momentum != 0.0:
            mi = momentum * m[i] - step
            m[i] = mi
            x += momentum * mi - step if nesterov else mi
        else:
            x -= step
        w[i] = x


def sgd_update(w, g, m, lr, momentum, nesterov, decay):
    """SGD with optional (Nesterov) momentum. Writes w and m."""
    elementwise(sgd_kernel, w.size)(w, g, m, lr, momentum, nesterov, decay)


@cuda.jit(cache=True)
def adam_kernel(w, g, m, v, v_hat, alpha, beta_1, beta_2, epsilon, amsgrad, decay):
    for i in range(cuda.grid(1), w.size, cuda.gridsize(1)):
        x = w[i]
        x -= x * decay
        gi = g[i]
        mi = m[i] + (gi - m[i]) * (1.0 - beta_1)
        vi = v[i] + (gi * gi - v[i]) * (1.0 - beta_2)
        m[i] = mi
        v[i] = vi
        if amsgrad:
            if not v_hat[i] >= vi:
                v_hat[i] = vi
            vi = v_hat[i]
        w[i] = x - mi * alpha / (math.sqrt(vi) + epsilon)


def adam_update(w, g, m, v, v_hat, alpha, beta_1, beta_2, epsilon, amsgrad, decay):
    """Adam (optionally AMSGrad), epsilon outside the root as Keras. Writes w, m, v, v_hat."""
    elementwise(adam_kernel, w.size)(w, g, m, v, v_hat, alpha, beta_1, beta_2, epsilon, amsgrad,
                                     decay)  # fmt: skip


@cuda.jit(cache=True)
def rmsprop_kernel(w, g, velocity, mom, average_grad, lr, rho, momentum, epsilon, centered,
                   decay):  # fmt: skip
    for i in range(cuda.grid(1), w.size, cuda.gridsize(1)):
        x = w[i]
        x -= x * decay
        gi = g[i]
        vel = rho * velocity[i] + (1.0 - rho) * (gi * gi)
        velocity[i] = vel
        if centered:
            avg = rho * average_grad[i] + (1.0 - rho) * gi
            average_grad[i] = avg
            denominator = vel - avg * avg + epsilon
        else:
            denominator = vel + epsilon
        increment = lr * gi / math.sqrt(denominator)
        if momentum > 0.0:
            mi = momentum * mom[i] + increment
            mom[i] = mi
            w[i] = x - mi
        else:
            w[i] = x - increment


def rmsprop_update(w, g, velocity, mom, average_grad, lr, rho, momentum, epsilon, centered, decay):
    """RMSprop, optionally centered and with momentum. Writes w, velocity, mom, average_grad."""
    elementwise(rmsprop_kernel, w.size)(
        w, g, velocity, mom, average_grad, lr, rho, momentum, epsilon, centered, decay
    )


@cuda.jit(cache=True)
def adagrad_kernel(w, g, accumulator, lr, epsilon, decay):
    for i in range(cuda.grid(1), w.size, cuda.gridsize(1)):
        x = w[i]
        x -= x * decay
        gi = g[i]
        acc = accumulator[i] + gi * gi
        accumulator[i] = acc
        w[i] = x - lr * gi / math.sqrt(acc + epsilon)


def adagrad_update(w, g, accumulator, lr, epsilon, decay):
    """Adagrad, epsilon inside the root as Keras. Writes w and accumulator."""
    elementwise(adagrad_kernel, w.size)(w, g, accumulator, lr, epsilon, decay)


@cuda.jit(cache=True)
def nadam_kernel(w, g, m, v, m_rate, g_rate, v_correction, beta_1, beta_2, epsilon, decay):
    for i in range(cuda.grid(1), w.size, cuda.gridsize(1)):
        x = w[i]
        x -= x * decay
        gi = g[i]
        mi = m[i] + (gi - m[i]) * (1.0 - beta_1)
        vi = v[i] + (gi * gi - v[i]) * (1.0 - beta_2)
        m[i] = mi
        v[i] = vi
        w[i] = x - (m_rate * mi + g_rate * gi) / (math.sqrt(vi / v_correction) + epsilon)


def nadam_update(w, g, m, v, m_rate, g_rate, v_correction, beta_1, beta_2, epsilon, decay):
    """Nadam, Keras 3's form; epsilon outside the root of the corrected v. Writes w, m, v."""
    elementwise(nadam_kernel, w.size)(
        w, g, m, v, m_rate, g_rate, v_correction, beta_1, beta_2, epsilon, decay
    )


@cuda.jit(cache=True)
def adamax_kernel(w, g, m, u, rate, beta_1, beta_2, epsilon, decay):
    for i in range(cuda.grid(1), w.size, cuda.gridsize(1)):
        x = w[i]
        x -= x * decay
        gi = g[i]
        mi = m[i] + (gi - m[i]) * (1.0 - beta_1)
        m[i] = mi
        ui = beta_2 * u[i]
        a = abs(gi)
        if a > ui or a != a:
            ui = a
        u[i] = ui
        w[i] = x - rate * mi / (ui + epsilon)


def adamax_update(w, g, m, u, rate, beta_1, beta_2, epsilon, decay):
    """Adamax: u the decayed infinity norm, NaN kept. Writes w, m and u."""
    elementwise(adamax_kernel, w.size)(w, g, m, u, rate, beta_1, beta_2, epsilon, decay)


@cuda.jit(cache=True)
def adadelta_kernel(w, g, accumulated_grad, accumulated_delta, lr, rho, epsilon, decay):
    for i in range(cuda.grid(1), w.size, cuda.gridsize(1)):
        x = w[i]
        x -= x * decay
        gi = g[i]
        acc = rho * accumulated_grad[i] + (1.0 - rho) * (gi * gi)
        accumulated_grad[i] = acc
        ad = accumulated_delta[i]
        delta = -(math.sqrt(ad + epsilon) * gi / math.sqrt(acc + epsilon))
        accumulated_delta[i] = rho * ad + (1.0 - rho) * (delta * delta)
        w[i] = x + lr * delta


def adadelta_update(w, g, accumulated_grad, accumulated_delta, lr, rho, epsilon, decay):
    """Adadelta, epsilon inside both roots as Keras. Writes w and both accumulators."""
    elementwise(adadelta_kernel, w.size)(
        w, g, accumulated_grad, accumulated_delta, lr, rho, epsilon, decay
    )


@cuda.jit(cache=True)
def lion_kernel(w, g, m, lr, beta_1, beta_2, decay):
    for i in range(cuda.grid(1), w.size, cuda.gridsize(1)):
        x = w[i]
        x -= x * decay
        gi = g[i]
        mi = m[i]
        c = mi * beta_1 + gi * (1.0 - beta_1)
        if c > 0:
            c = 1.0
        elif c < 0:
            c = -1.0
        w[i] = x - lr * c  # c is 0 or NaN here when neither branch ran
        m[i] = mi * beta_2 + gi * (1.0 - beta_2)


def lion_update(w, g, m, lr, beta_1, beta_2, decay):
    """Lion: w -= lr * sign(interpolated momentum), sign(NaN) = NaN. Writes w and m."""
    elementwise(lion_kernel, w.size)(w, g, m, lr, beta_1, beta_2, decay)


@cuda.jit(cache=True)
def sum_of_squares_kernel(g, out):
    """out[0] = sum(g^2) in float64, by one block."""
    buf = cuda.shared.array(THREADS, float64)
    s = 0.0
    for i in range(cuda.threadIdx.x, g.size, THREADS):
        s += float64(g[i]) * float64(g[i])
    total = block_sum(buf, s)
    if cuda.threadIdx.x == 0:
        out[0] = total


def gradient_sum_of_squares(g):
    """sum(g^2) over a 1-D gradient, accumulated in float64; returns it as a host float."""
    out = cuda.device_array(1, np.float64)
    sum_of_squares_kernel[1, THREADS](g, out)
    return float(out.copy_to_host()[0])


@cuda.jit(cache=True)
def scale_kernel(g, factor):
    for i in range(cuda.grid(1), g.size, cuda.gridsize(1)):
        g[i] = g[i] * factor


def scale_gradient(g, factor):
    """g *= factor, in place (norm clipping)."""
    elementwise(scale_kernel, g.size)(g, factor)


@cuda.jit(cache=True)
def clip_value_kernel(g, clipvalue):
    for i in range(cuda.grid(1), g.size, cuda.gridsize(1)):
        gi = g[i]
        if gi > clipvalue:
            g[i] = clipvalue
        elif gi < -clipvalue:
            g[i] = -clipvalue


def clip_gradient_by_value(g, clipvalue):
    """g = clip(g, -clipvalue, clipvalue), in place; NaN stays NaN."""
    elementwise(clip_value_kernel, g.size)(g, clipvalue)
