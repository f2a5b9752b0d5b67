"""The graph layers' edge list on the device: (E, 2) rows split into source and target ids, and the
self-loop ids 0..N-1; fused message passing (`propagate`, one thread per edge element, targets
meeting through atomics: float sums may differ in the last bits from run to run, as PyTorch
Geometric's scatter on CUDA) and its weights' gradient. graph_edges raises for an edge naming a node
outside the graph, as graphengine_kernels.cpu (launch.first_outside: a small check kernel and one
number copied back); propagate reads ids graph_edges checked."""

from numba import cuda

from graphengine_kernels.cuda.elementwise import fill
from graphengine_kernels.cuda.launch import device, elementwise, first_outside

__all__ = ["graph_edges", "propagate", "propagate_weight_grad"]


@cuda.jit(cache=True)
def split_edges_kernel(edges, src, tgt):
    for e in range(cuda.grid(1), src.size, cuda.gridsize(1)):
        src[e] = edges[e, 0]
        tgt[e] = edges[e, 1]


@cuda.jit(cache=True)
def arange_kernel(out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = i


def graph_edges(edges, num_nodes, src, tgt, loops):
    """src (E,) = edges[:, 0], tgt (E,) = edges[:, 1]; loops (N,) = 0..N-1 when given. Raises
    ValueError naming the first edge with a node id outside [0, num_nodes), as
    graphengine_kernels.cpu."""
    bad = first_outside(edges, 0, num_nodes)
    if bad is not None:
        e = bad[0] // 2
        s, t = edges[e : e + 1].copy_to_host()[0]
        raise ValueError(
            f"edges: edge {e} = ({s}, {t}) names a node outside [0, {num_nodes}) "
            f"(the graph has {num_nodes} nodes)"
        )
    if src.size:
        elementwise(split_edges_kernel, src.size)(edges, src, tgt)
    if loops is not None and loops.size:
        elementwise(arange_kernel, loops.size)(loops)


@cuda.jit(cache=True)
def propagate_kernel(x, src, tgt, w, out):
    H, C = x.shape[1], x.shape[2]
    weighted = w.shape[1] > 0
    for i in range(cuda.grid(1), src.size * H * C, cuda.gridsize(1)):
        e, r = i // (H * C), i % (H * C)
        h, c = r // C, r % C
        s, t = src[e], tgt[e]
        if 0 <= s < x.shape[0] and 0 <= t < out.shape[0]:
            v = x[s, h, c] * w[e, h] if weighted else x[s, h, c]
            cuda.atomic.add(out, (t, h, c), v)


@cuda.jit(cache=True)
def propagate_weight_grad_kernel(x, dy, src, tgt, dw):
    H, C = x.shape[1], x.shape[2]
    for i in range(cuda.grid(1), src.size * H, cuda.gridsize(1)):
        e, h = i // H, i % H
        s, t = src[e], tgt[e]
        acc = 0.0
        if 0 <= s < x.shape[0] and 0 <= t < dy.shape[0]:
            for c in range(C):
                acc += x[s, h, c] * dy[t, h, c]
        dw[e, h] = acc


def propagate(x, src, tgt, w, out):
    """out (T, H, C) = the sum over edges e with tgt[e] == t of w[e, h] * x[src[e], h] (w (E, H),
    or empty (n, 0): weight 1)."""
    fill(0, out)
    if src.size and out.size:
        n = src.size * x.shape[1] * x.shape[2]
        elementwise(propagate_kernel, n)(x, src, tgt, device(w), out)


def propagate_weight_grad(x, dy, src, tgt, dw):
    """dw (E, H) = dy[tgt[e], h] . x[src[e], h]."""
    if dw.size:
        elementwise(propagate_weight_grad_kernel, dw.size)(x, dy, src, tgt, dw)
