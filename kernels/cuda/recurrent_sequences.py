"""Whole recurrent sequences, as kernels.cpu.recurrent_sequences: the stages of every step for
rows n0:n1 (all rows here, each launch being parallel over them), from the host loops of
kernels.sequences."""

from kernels.cuda.matmul import matmul
from kernels.sequences import backward_sequence, forward_sequence

__all__ = ["rnn_forward_sequence", "rnn_backward_sequence"]


def rnn_forward_sequence(n0, n1, projection, stages):
    """The input projection of every step first, as one product (rows n0:n1 being all rows),
    then the host loop."""
    x, w, gx = projection
    T, N = x.shape[:2]
    assert (n0, n1) == (0, N), "on the device a sequence runs all its rows"
    matmul(x.reshape(T * N, x.shape[2]), w, gx.reshape(T * N, gx.shape[2]))
    forward_sequence(matmul, n0, n1, None, stages)


def rnn_backward_sequence(n0, n1, stages):
    backward_sequence(matmul, n0, n1, stages)
