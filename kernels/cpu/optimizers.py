"""Optimizer update kernels, one @njit loop per Keras 3 update rule, and gradient clipping.

Arrays are 1-D C-contiguous views of one weight `w`, its gradient `g` and its slots, all the
same length and float32 or float64; an unused slot is passed as an empty array. Scalars that
depend only on the step (learning rate, Adam's alpha, the weight decay factor) are computed
once per step by the caller. Every update kernel writes `w` and its slots in place.

The arithmetic is in the weight's dtype, as Keras casts its hyperparameters to the variable's
dtype (1 - beta is taken in Python floats first, as Keras's `1 - self.beta_1`): float32 loops
vectorize twice as wide as float64 ones (benchmarks/NOTES.md).

Update kernels use NumPy's error model: a zero denominator gives inf/NaN, as in Keras, instead
of raising (and the loops vectorize without the division checks).

Each update runs with denormals flushed to zero (fpenv.py), as TensorFlow's CPU kernels do: a
state that decays below float32's smallest normal (Adam's v once a gradient goes quiet) becomes
0 instead of costing a microcode assist on every step (an Adam update 18x slower).

Weight decay is Keras 3's decoupled form, applied before the update: w -= w * decay, where
decay = weight_decay * learning_rate (0.0 for none).
"""

import math

from numba import njit

from graphengine_kernels.cpu.fpenv import flush_denormals, restore

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


@njit(cache=True, error_model="numpy")
def sgd_update(w, g, m, lr, momentum, nesterov, decay):
    """SGD: w -= lr * g when momentum == 0 (m unused, may be empty); otherwise
    m = momentum * m - lr * g, then w += m, or w += momentum * m - lr * g with Nesterov.
    Writes w and m."""
    f = w.dtype.type
    lr, mu, decay = f(lr), f(momentum), f(decay)
    csr = flush_denormals()
    for i in range(w.size):
        x = w[i]
        x -= x * decay
        step = lr * g[i]
        if momentum != 0.0:
            mi = mu * m[i] - step
            m[i] = mi
            x += mu * mi - step if nesterov else mi
        else:
            x -= step
        w[i] = x
    restore(csr)


@njit(cache=True, error_model="numpy")
def adam_update(w, g, m, v, v_hat, alpha, beta_1, beta_2, epsilon, amsgrad, decay):
    """Adam (Kingma & Ba, 2014, the "efficient" form of section 2):
    m += (g - m) * (1 - beta_1); v += (g^2 - v) * (1 - beta_2);
    with amsgrad v_hat = max(v_hat, v) replaces v below (v_hat unused, may be empty, otherwise);
    w -= alpha * m / (sqrt(v) + epsilon), alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t).
    Epsilon is added outside the square root, to the bias-uncorrected v, as Keras does.
    Writes w, m, v and v_hat."""
    f = w.dtype.type
    alpha, epsilon, decay = f(alpha), f(epsilon), f(decay)
    keep_m, keep_v = f(1.0 - beta_1), f(1.0 - beta_2)
    csr = flush_denormals()
    for i in range(w.size):
        x = w[i]
        x -= x * decay
        gi = g[i]
        mi = m[i] + (gi - m[i]) * keep_m
        vi = v[i] + (gi * gi - v[i]) * keep_v
        m[i] = mi
        v[i] = vi
        if amsgrad:
            # written as "not >=" so that a NaN in v propagates, as a max would
            if not v_hat[i] >= vi:
                v_hat[i] = vi
            vi = v_hat[i]
        w[i] = x - mi * alpha / (math.sqrt(vi) + epsilon)
    restore(csr)


@njit(cache=True, error_model="numpy")
def rmsprop_update(w, g, velocity, mom, average_grad, lr, rho, momentum, epsilon, centered, decay):
    """RMSprop (Hinton, lecture 6e; centered form from Graves, 2013):
    velocity = rho * velocity + (1 - rho) * g^2;
    centered: average_grad = rho * average_grad + (1 - rho) * g,
              increment = lr * g / sqrt(velocity - average_grad^2 + epsilon);
    otherwise increment = lr * g / sqrt(velocity + epsilon)   (epsilon inside the root);
    momentum > 0: mom = momentum * mom + increment, w -= mom; otherwise w -= increment.
    `mom` and `average_grad` are unused (may be empty) when their option is off.
    Writes w, velocity, mom and average_grad."""
    f = w.dtype.type
    lr, rho, mu, epsilon, decay, rest = (
        f(lr),
        f(rho),
        f(momentum),
        f(epsilon),
        f(decay),
        f(1.0 - rho),
    )
    csr = flush_denormals()
    for i in range(w.size):
        x = w[i]
        x -= x * decay
        gi = g[i]
        vel = rho * velocity[i] + rest * (gi * gi)
        velocity[i] = vel
        if centered:
            avg = rho * average_grad[i] + rest * gi
            average_grad[i] = avg
            denominator = vel - avg * avg + epsilon
        else:
            denominator = vel + epsilon
        increment = lr * gi / math.sqrt(denominator)
        if momentum > 0.0:
            mi = mu * mom[i] + increment
            mom[i] = mi
            w[i] = x - mi
        else:
            w[i] = x - increment
    restore(csr)


@njit(cache=True, error_model="numpy")
def adagrad_update(w, g, accumulator, lr, epsilon, decay):
    """Adagrad (Duchi et al., 2011): accumulator += g^2;
    w -= lr * g / sqrt(accumulator + epsilon)   (epsilon inside the root, as Keras).
    Writes w and accumulator."""
    f = w.dtype.type
    lr, epsilon, decay = f(lr), f(epsilon), f(decay)
    csr = flush_denormals()
    for i in range(w.size):
        x = w[i]
        x -= x * decay
        gi = g[i]
        acc = accumulator[i] + gi * gi
        accumulator[i] = acc
        w[i] = x - lr * gi / math.sqrt(acc + epsilon)
    restore(csr)


@njit(cache=True, error_model="numpy")
def nadam_update(w, g, m, v, m_rate, g_rate, v_correction, beta_1, beta_2, epsilon, decay):
    """Nadam (Dozat, 2015), Keras 3's form: m and v as in Adam, then
    m_hat = m_rate * m + g_rate * g, v_hat = v / v_correction,
    w -= m_hat / (sqrt(v_hat) + epsilon)   (epsilon outside the root, after bias correction),
    where the caller folds the learning rate and the momentum schedule u_t = beta_1 *
    (1 - 0.5 * 0.96^t) into m_rate = lr * u_{t+1} / (1 - u_1...u_{t+1}) and
    g_rate = lr * (1 - u_t) / (1 - u_1...u_t), and v_correction = 1 - beta_2^t.
    Writes w, m and v."""
    f = w.dtype.type
    m_rate, g_rate, v_correction = f(m_rate), f(g_rate), f(v_correction)
    epsilon, decay = f(epsilon), f(decay)
    keep_m, keep_v = f(1.0 - beta_1), f(1.0 - beta_2)
    csr = flush_denormals()
    for i in range(w.size):
        x = w[i]
        x -= x * decay
        gi = g[i]
        mi = m[i] + (gi - m[i]) * keep_m
        vi = v[i] + (gi * gi - v[i]) * keep_v
        m[i] = mi
        v[i] = vi
        w[i] = x - (m_rate * mi + g_rate * gi) / (math.sqrt(vi / v_correction) + epsilon)
    restore(csr)


@njit(cache=True, error_model="numpy")
def adamax_update(w, g, m, u, rate, beta_1, beta_2, epsilon, decay):
    """Adamax (Kingma & Ba, 2014, section 7.1): m += (g - m) * (1 - beta_1);
    u = max(beta_2 * u, |g|); w -= rate * m / (u + epsilon), rate = lr / (1 - beta_1^t).
    A NaN in g or u stays NaN in u, as a max would keep it. Writes w, m and u."""
    f = w.dtype.type
    rate, beta_2, epsilon, decay = f(rate), f(beta_2), f(epsilon), f(decay)
    keep_m = f(1.0 - beta_1)
    csr = flush_denormals()
    for i in range(w.size):
        x = w[i]
        x -= x * decay
        gi = g[i]
        mi = m[i] + (gi - m[i]) * keep_m
        m[i] = mi
        ui = beta_2 * u[i]
        a = abs(gi)
        if a > ui or a != a:
            ui = a
        u[i] = ui
        w[i] = x - rate * mi / (ui + epsilon)
    restore(csr)


@njit(cache=True, error_model="numpy")
def adadelta_update(w, g, accumulated_grad, accumulated_delta, lr, rho, epsilon, decay):
    """Adadelta (Zeiler, 2012): accumulated_grad = rho * accumulated_grad + (1 - rho) * g^2;
    delta = -sqrt(accumulated_delta + epsilon) * g / sqrt(accumulated_grad + epsilon);
    accumulated_delta = rho * accumulated_delta + (1 - rho) * delta^2; w += lr * delta
    (epsilon inside both roots, as Keras). Writes w, accumulated_grad and accumulated_delta."""
    f = w.dtype.type
    lr, rho, epsilon, decay, rest = f(lr), f(rho), f(epsilon), f(decay), f(1.0 - rho)
    csr = flush_denormals()
    for i in range(w.size):
        x = w[i]
        x -= x * decay
        gi = g[i]
        acc = rho * accumulated_grad[i] + rest * (gi * gi)
        accumulated_grad[i] = acc
        ad = accumulated_delta[i]
        delta = -(math.sqrt(ad + epsilon) * gi / math.sqrt(acc + epsilon))
        accumulated_delta[i] = rho * ad + rest * (delta * delta)
        w[i] = x + lr * delta
    restore(csr)


@njit(cache=True, error_model="numpy")
def lion_update(w, g, m, lr, beta_1, beta_2, decay):
    """Lion (Chen et al., 2023): w -= lr * sign(beta_1 * m + (1 - beta_1) * g), then
    m = beta_2 * m + (1 - beta_2) * g. sign(0) = 0 and sign(NaN) = NaN. Writes w and m."""
    f = w.dtype.type
    lr, b1, b2, decay = f(lr), f(beta_1), f(beta_2), f(decay)
    rest_1, rest_2 = f(1.0 - beta_1), f(1.0 - beta_2)
    csr = flush_denormals()
    for i in range(w.size):
        x = w[i]
        x -= x * decay
        gi = g[i]
        mi = m[i]
        c = mi * b1 + gi * rest_1
        if c > 0:
            c = f(1.0)
        elif c < 0:
            c = f(-1.0)
        w[i] = x - lr * c  # c is 0 or NaN here when neither branch ran
        m[i] = mi * b2 + gi * rest_2
    restore(csr)


@njit(cache=True)
def gradient_sum_of_squares(g):
    """sum(g^2) over a 1-D gradient, accumulated in float64; returns it (writes nothing)."""
    total = 0.0
    for i in range(g.size):
        gi = float(g[i])
        total += gi * gi
    return total


@njit(cache=True, error_model="numpy")
def scale_gradient(g, factor):
    """g *= factor, in place (norm clipping)."""
    for i in range(g.size):
        g[i] = g[i] * factor


@njit(cache=True)
def clip_gradient_by_value(g, clipvalue):
    """g = clip(g, -clipvalue, clipvalue), in place; NaN stays NaN (both comparisons fail)."""
    for i in range(g.size):
        gi = g[i]
        if gi > clipvalue:
            g[i] = clipvalue
        elif gi < -clipvalue:
            g[i] = -clipvalue
