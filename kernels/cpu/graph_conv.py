"""The graph layers' edge list: (E, 2) rows of (source, target) split into two id vectors, every
id checked against the node count, and the ids 0..N-1 of the self loops that layers add."""

import numpy as np
from numba import njit


@njit(cache=True)
def _split_edges(edges, num_nodes, src, tgt):
    """Writes src[e], tgt[e] = edges[e]; returns the first edge with an id outside
    [0, num_nodes), or -1."""
    for e in range(edges.shape[0]):
        s, t = edges[e, 0], edges[e, 1]
        if s < 0 or s >= num_nodes or t < 0 or t >= num_nodes:
            return e
        src[e] = s
        tgt[e] = t
    return -1


def graph_edges(edges, num_nodes, src, tgt, loops):
    """src (E,) = edges[:, 0], tgt (E,) = edges[:, 1] from edges int (E, 2); loops (N,) = 0..N-1
    when given (None: no loops). Raises ValueError naming the first edge with a node id outside
    [0, num_nodes)."""
    bad = _split_edges(edges, num_nodes, src, tgt)
    if bad >= 0:
        s, t = edges[bad]
        raise ValueError(
            f"edges: edge {bad} = ({s}, {t}) names a node outside [0, {num_nodes}) "
            f"(the graph has {num_nodes} nodes)"
        )
    if loops is not None:
        loops[:] = np.arange(loops.shape[0], dtype=loops.dtype)


__all__ = ["graph_edges"]
