"""The bias family of Dense and the convolutions on the device: the pass that adds the bias and
applies the fused activation over a product's output (bias_activation), the activation's
gradient with the bias gradient (bias_activation_backward) and the bias gradient alone
(bias_backward). Arrays are (..., F), F the last axis; names and signatures as kernels/cpu/bias.py.
"""

import numpy as np
from numba import cuda

from graphengine_kernels.activation_codes import BIAS, LINEAR, codes
from graphengine_kernels.cuda.activations import fused_derivative, fused_value
from graphengine_kernels.cuda.launch import device, elementwise, flat
from graphengine_kernels.cuda.reduce import reduce_to

CODES = codes(BIAS)

__all__ = ["bias_activation", "bias_activation_backward", "bias_backward"]


def bias_arg(bias, dtype):
    """(bias, True), or a one-element stand-in and False for None (kernels take an array)."""
    return (device(np.zeros(1, dtype)), False) if bias is None else (bias, True)


@cuda.jit(cache=True)
def bias_activation_kernel(y, bias, has_bias, act):
    F = y.shape[1]
    for i in range(cuda.grid(1), y.shape[0] * F, cuda.gridsize(1)):
        r, f = i // F, i % F
        v = y[r, f] + bias[f] if has_bias else y[r, f]
        y[r, f] = fused_value(v, act)


def bias_activation(y2d, bias, activation):
    """y2d (M, F) = activation(y2d + bias) in place; bias (F,) or None."""
    act = CODES[activation]
    if bias is None and act == LINEAR:
        return
    elementwise(bias_activation_kernel, y2d.size)(y2d, *bias_arg(bias, y2d.dtype), act)


@cuda.jit(cache=True)
def activation_grad_kernel(y, dy, act, dz):
    for i in range(cuda.grid(1), y.size, cuda.gridsize(1)):
        dz[i] = dy[i] * fused_derivative(y[i], act)


def bias_activation_backward(y, dy, activation, dz, db):
    """dz = dy * activation'(.) taken from the saved output y, and db = sum of dz over every axis
    but the last (db None: no bias). y, dy, dz (..., F), db (F,). Writes dz and db."""
    act = CODES[activation]
    elementwise(activation_grad_kernel, y.size)(flat(y), flat(dy), act, flat(dz))
    if db is not None:
        bias_backward(dz, db)


def bias_backward(dy, db):
    """db (F,) = sum of dy (..., F) over every axis but the last. Writes db."""
    F = dy.shape[-1]
    reduce_to(dy.reshape(dy.size // F, F), (1, F), db.reshape(1, F), "sum", 1.0)
