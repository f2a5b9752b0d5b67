"""Whole recurrent sequences, as graphengine_kernels.cpu.recurrent_sequences, from the host loops of
graphengine_kernels.sequences: each launch is parallel over all rows, so a sequence runs them all at
once."""

from graphengine_kernels.cuda.elementwise import fill
from graphengine_kernels.cuda.matmul import matmul, matmul_at_b
from graphengine_kernels.cuda.reduce import sum_forward
from graphengine_kernels.cuda.shape import copy
from graphengine_kernels.sequences import (
    WeightGradKernels,
    backward_sequence,
    forward_sequence,
    weight_grad_block,
)

__all__ = ["rnn_forward_sequence", "rnn_backward_sequence", "rnn_matmul", "rnn_weight_grad"]

_WEIGHT_GRAD_KERNELS = WeightGradKernels(
    copy=copy, fill=fill, matmul_at_b=matmul_at_b, sum_forward=sum_forward
)


def rnn_forward_sequence(rows, work, projection, stages):
    """The input projection of every step first, as one product, then the host loop."""
    x, w, gx = projection
    T, N = x.shape[:2]
    matmul(x.reshape(T * N, x.shape[2]), w, gx.reshape(T * N, gx.shape[2]))
    forward_sequence(matmul, 0, rows, None, stages)


def rnn_backward_sequence(rows, work, stages):
    backward_sequence(matmul, 0, rows, stages)


def rnn_matmul(a, b, out, work):
    matmul(a, b, out)


def rnn_weight_grad(xt, hin, left, right, dz, dzh, xh, merged, use_bias, partials, work):
    rows, blocks = len(dz), len(partials)
    for b in range(blocks):
        r0, r1 = rows * b // blocks, rows * (b + 1) // blocks
        weight_grad_block(_WEIGHT_GRAD_KERNELS, r0, r1, xt, hin, left, right, dz, dzh, xh,
                          merged, use_bias, partials[b])  # fmt: skip
