"""The graph layers' edge list on the device: (E, 2) rows split into source and target ids, and
the self-loop ids 0..N-1. Ids are not range-checked here (kernels.cpu's check would need the
edges on the host, a round trip per step); out-of-range ids give zero rows in take."""

from numba import cuda

from kernels.cuda.launch import elementwise

__all__ = ["graph_edges"]


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
    """src (E,) = edges[:, 0], tgt (E,) = edges[:, 1]; loops (N,) = 0..N-1 when given."""
    if src.size:
        elementwise(split_edges_kernel, src.size)(edges, src, tgt)
    if loops is not None and loops.size:
        elementwise(arange_kernel, loops.size)(loops)
