"""Host loops over the steps of a recurrent sequence, shared by both backends: on CUDA (where each
launch is parallel over all rows) and on a CPU whose BLAS cannot be called from Numba
(kernels.cpu.recurrent_sequences runs them in Numba otherwise).

A step is one or more stages (src, r, dst, kernel, args): the product dst[n0:n1] = src[t, n0:n1]
@ r and the step kernel kernel(t, n0, n1, *args). Forward, each stage's product comes before its
kernel, for t = 0 .. T - 1; backward (BPTT), after, for t = T - 1 .. 0. The weight gradients
then sum partial products over blocks of rows (weight_grad_block).
"""


def forward_sequence(matmul, n0, n1, projection, stages):
    """projection: (x, w, gx), the input projection gx[t, n0:n1] = x[t, n0:n1] @ w made at
    the start of each step, or None."""
    for t in range(stages[0][0].shape[0]):
        if projection is not None:
            x, w, gx = projection
            matmul(x[t, n0:n1], w, gx[t, n0:n1])
        for src, r, dst, kernel, args in stages:
            matmul(src[t, n0:n1], r, dst[n0:n1])
            kernel(t, n0, n1, *args)


def backward_sequence(matmul, n0, n1, stages):
    for t in range(stages[0][0].shape[0] - 1, -1, -1):
        for src, r, dst, kernel, args in stages:
            kernel(t, n0, n1, *args)
            matmul(src[t, n0:n1], r, dst[n0:n1])


def weight_grad_block(ops, r0, r1, xt, hin, left, right, dz, dzh, xh, merged, use_bias, p):
    """p (D + U + bias rows, G) = the recurrent weight gradients [dkernel; drecurrent_kernel;
    dbias] from rows r0:r1 (graphengine.ops.recurrent.RecurrentWeightGrad): columns [0, merged)
    as one product [xt | hin | 1]^T dz through xh (the column of ones where xh has one), the
    others as xt^T dz and left^T right, with dbias the column sums of dz, and a second bias row
    those of dzh (None without). ops: the backend's kernels module."""
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
