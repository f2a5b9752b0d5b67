"""Deterministic, iterative topological order of primitive nodes, and tensor liveness."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from graphengine.graph.node import Node
from graphengine.graph.tensor import SymbolicTensor

if TYPE_CHECKING:
    import networkx as nx


def collect_nodes(
    outputs: Iterable[SymbolicTensor], stop: set[SymbolicTensor] = frozenset()
) -> list[Node]:
    """All nodes that `outputs` depend on, walking inputs iteratively (no recursion limit),
    not going past tensors in `stop`."""
    seen: dict[int, Node] = {}
    stack = [t for t in outputs if t.node is not None and t not in stop]
    while stack:
        node = stack.pop().node
        if node.id in seen:
            continue
        seen[node.id] = node
        stack.extend(
            t for t in node.inputs if t.node is not None and t not in stop and t.node.id not in seen
        )
    return list(seen.values())


def node_digraph(nodes: Iterable[Node]) -> nx.DiGraph:
    """A DiGraph over `nodes` with an edge for every tensor passed from one node to another."""
    import networkx as nx

    graph = nx.DiGraph()
    nodes = list(nodes)
    members = {n.id for n in nodes}
    for node in nodes:
        graph.add_node(node, order=node.id)
    for node in nodes:
        for t in node.inputs:
            if t.node is not None and t.node.id in members:
                graph.add_edge(t.node, node, tensor=t)
    return graph


def topological_order(graph: nx.DiGraph) -> list:
    """networkx's iterative lexicographical sort, ties broken by creation order: the same graph
    always gives the same order. Raises ValueError naming a cycle if there is one."""
    import networkx as nx

    try:
        return list(
            nx.lexicographical_topological_sort(graph, key=lambda n: graph.nodes[n]["order"])
        )
    except nx.NetworkXUnfeasible:
        cycle = nx.find_cycle(graph)
        names = " -> ".join(str(getattr(a, "name", a)) for a, _ in cycle)
        raise ValueError(f"The graph has a cycle: {names}") from None


def last_uses(order: list[Node]) -> dict[SymbolicTensor, int]:
    """For each tensor read by a step of `order`, the index of the last step that reads it."""
    last: dict[SymbolicTensor, int] = {}
    for i, node in enumerate(order):
        for t in node.op.value_inputs(node.inputs):
            last[t] = i
    return last
