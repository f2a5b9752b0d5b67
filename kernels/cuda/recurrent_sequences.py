"""Whole recurrent sequences, as kernels.cpu.recurrent_sequences: the stages of every step for
rows n0:n1 (all rows here, each launch being parallel over them), from the host loops of
kernels.sequences."""

from kernels.cuda.matmul import matmul
from kernels.sequences import backward_sequence, forward_sequence

__all__ = ["rnn_forward_sequence", "rnn_backward_sequence"]


def rnn_forward_sequence(n0, n1, stages):
    forward_sequence(matmul, n0, n1, stages)


def rnn_backward_sequence(n0, n1, stages):
    backward_sequence(matmul, n0, n1, stages)
