"""What both backends share of a recurrent sequence: the records of the step kernels' arguments, and
the host loops over the steps, run on CUDA (where each launch is parallel over all rows) and on a
CPU whose BLAS cannot be called from Numba (graphengine_kernels.cpu.recurrent_sequences runs them in
Numba otherwise).

A step is one or more stages (src, r, dst, kernel, args): the product dst[n0:n1] = src[t, n0:n1] @ r
and the step kernel kernel(t, n0, n1, args), args being the kernel's record below. Forward, each
stage's product comes before its kernel, for t = 0 .. T - 1; backward (BPTT), after, for t = T - 1
.. 0. The weight gradients then sum partial products over blocks of rows (weight_grad_block).
"""

from collections import namedtuple

# -- the step kernels' arguments ----------------------------------------------------------------
# One record per step kernel, the same for the CPU kernel (Numba takes it as one argument), the
# CUDA kernel and the op that builds it (graphengine.ops.recurrent, by field name): each reads
# its fields by name, so none can pass or read them in another order. The arrays' shapes and
# meanings are in the kernels' docstrings (kernels/cpu/recurrent.py, recurrent_backward.py).
# mask (N, T) is tested against 0; reverse: go_backwards (step t reads time T - 1 - t)
_MASK = ("mask", "has_mask", "reverse")
# what a forward step writes besides its gates: the state before the next step (hs, or h_last
# after the last), its copy times the recurrent dropout mask (hd) and the output y
_OUT = ("hs", "rmask", "has_rmask", "hd", "y", "seq_out", "zero_out", "h_last")
# what carries a backward step's gradient to the one before it (kernels/cpu/recurrent_backward.py)
_CARRY = ("dhr", "dpass", "dout", "dy", "has_dy", "rmask", "has_rmask", "zero_out")
_BIAS = ("bias", "has_bias")

SimpleRNNForward = namedtuple("SimpleRNNForward", ("gates", "hr", *_BIAS, *_MASK, "act", *_OUT))
LSTMForward = namedtuple(
    "LSTMForward", ("gates", "hr", *_BIAS, "cs", "tcs", *_MASK, "act", "ract", *_OUT, "c_last")
)
GRUForward = namedtuple(
    "GRUForward", ("gates", "hr", *_BIAS, "brec", "aux", *_MASK, "act", "ract", *_OUT)
)
GRUGates = namedtuple("GRUGates", ("gates", "hr", *_BIAS, "hin", "aux", "ract"))
GRUCandidate = namedtuple("GRUCandidate", ("gates", "hrh", *_BIAS, *_MASK, "act", *_OUT))
SimpleRNNBackward = namedtuple("SimpleRNNBackward", ("dz", "gates", *_CARRY, *_MASK, "act"))
LSTMBackward = namedtuple(
    "LSTMBackward", ("dz", "dc", "gates", "cs", "tcs", *_CARRY, *_MASK, "act", "ract")
)
GRUBackward = namedtuple(
    "GRUBackward", ("dz", "dzh", "gates", "aux", "hs", *_CARRY, *_MASK, "act", "ract")
)
GRUCandidateBackward = namedtuple(
    "GRUCandidateBackward", ("dz", "gates", "hs", *_CARRY, *_MASK, "act", "ract")
)
GRUGatesBackward = namedtuple(
    "GRUGatesBackward", ("dz", "gates", "hin", "daux", "dpass", "ract", "rmask", "has_rmask")
)

# the backend's kernels weight_grad_block runs
WeightGradKernels = namedtuple("WeightGradKernels", ("copy", "fill", "matmul_at_b", "sum_forward"))


# -- host loops ---------------------------------------------------------------------------------
def forward_sequence(matmul, n0, n1, projection, stages):
    """projection: (x, w, gx), the input projection gx[t, n0:n1] = x[t, n0:n1] @ w made at
    the start of each step, or None."""
    for t in range(stages[0][0].shape[0]):
        if projection is not None:
            x, w, gx = projection
            matmul(x[t, n0:n1], w, gx[t, n0:n1])
        for src, r, dst, kernel, args in stages:
            matmul(src[t, n0:n1], r, dst[n0:n1])
            kernel(t, n0, n1, args)


def backward_sequence(matmul, n0, n1, stages):
    for t in range(stages[0][0].shape[0] - 1, -1, -1):
        for src, r, dst, kernel, args in stages:
            kernel(t, n0, n1, args)
            matmul(src[t, n0:n1], r, dst[n0:n1])


def weight_grad_block(ops, r0, r1, xt, hin, left, right, dz, dzh, xh, merged, use_bias, p):
    """p (D + U + bias rows, G) = the recurrent weight gradients [dkernel; drecurrent_kernel;
    dbias] from rows r0:r1 (graphengine.ops.recurrent.RecurrentWeightGrad): columns [0, merged)
    as one product [xt | hin | 1]^T dz through xh (the column of ones where xh has one), the
    others as xt^T dz and left^T right, with dbias the column sums of dz, and a second bias row
    those of dzh (None without). ops: the backend's WeightGradKernels."""
    D = xt.shape[1]
    DU, G = D + hin.shape[1], dz.shape[1]
    if merged:
        ops.copy(xt[r0:r1], xh[r0:r1, :D])
        ops.copy(hin[r0:r1], xh[r0:r1, D:DU])
        if xh.shape[1] > DU:
            ops.fill(1.0, xh[r0:r1, DU:])
        ops.matmul_at_b(xh[r0:r1], dz[r0:r1, :merged], p[:, :merged])
    if merged < G:
        ops.matmul_at_b(xt[r0:r1], dz[r0:r1, merged:], p[:D, merged:])
        ops.matmul_at_b(left[r0:r1], right[r0:r1, merged:], p[D:DU, merged:])
        if use_bias:
            ops.sum_forward(dz[r0:r1, merged:], (0,), p[DU : DU + 1, merged:])
    if dzh is not None and use_bias:
        ops.sum_forward(dzh[r0:r1], (0,), p[DU + 1 :])
