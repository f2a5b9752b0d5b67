"""Host loops over the steps of a recurrent sequence, shared by both backends: on CUDA (where each
launch is parallel over all rows) and on a CPU whose BLAS cannot be called from Numba
(kernels.cpu.recurrent_sequences runs them in Numba otherwise).

A step is one or more stages (src, r, dst, kernel, args): the product dst[n0:n1] = src[t, n0:n1]
@ r and the step kernel kernel(t, n0, n1, *args). Forward, each stage's product comes before its
kernel, for t = 0 .. T - 1; backward (BPTT), after, for t = T - 1 .. 0.
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
