"""The graph of a model at the level users wrote it: layer call sites (and bare ops applied
outside any layer), with validation (disconnected inputs and outputs, cycles)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from graphengine.graph.node import LayerCall, Node
from graphengine.graph.tensor import Constant, SymbolicTensor, Variable, format_shape
from graphengine.graph.topo import topological_order

if TYPE_CHECKING:
    import networkx as nx

Site = LayerCall | Node


def is_placeholder(t: SymbolicTensor) -> bool:
    return t.node is None and not isinstance(t, (Variable, Constant))


def producer(t: SymbolicTensor) -> Site | None:
    """Where a tensor comes from at user level: the layer call that returned it, or the bare op
    that made it outside any layer; None for weights and constants."""
    if t.layer_call is not None:
        return t.layer_call
    if t.node is not None:
        return t.node
    return None


def site_name(site: Site) -> str:
    return site.name


def site_inputs(site: Site) -> list[SymbolicTensor]:
    return [t for t in site.inputs if not isinstance(t, (Variable, Constant))]


class LayerGraph:
    """Call sites between `inputs` and `outputs` in a deterministic topological order, and the
    `networkx.DiGraph` over them (nodes named by call site, edges carrying the tensor)."""

    def __init__(
        self, inputs: Sequence[SymbolicTensor], outputs: Sequence[SymbolicTensor], model_name: str
    ) -> None:
        for i, t in enumerate(inputs):
            if not isinstance(t, SymbolicTensor) or not is_placeholder(t):
                what = (
                    f"the output of '{site_name(producer(t))}'"
                    if isinstance(t, SymbolicTensor) and producer(t)
                    else type(t).__name__
                )
                raise ValueError(
                    f"Model '{model_name}': input {i} must be a tensor made by "
                    f"ge.Input(), got {what}"
                )
        if len(set(inputs)) != len(inputs):
            raise ValueError(f"Model '{model_name}': the same Input is passed twice in inputs")
        for i, t in enumerate(outputs):
            if not isinstance(t, SymbolicTensor):
                raise TypeError(
                    f"Model '{model_name}': output {i} must be a SymbolicTensor, got "
                    f"{type(t).__name__}"
                )
        self.inputs, self.outputs = list(inputs), list(outputs)
        self.sites = self._collect(model_name)
        self.digraph = self._digraph(model_name)
        self.order: list[Site] = topological_order(self.digraph)

    def _collect(self, model_name: str) -> list[Site]:
        fed = set(self.inputs)
        seen: dict[int, Site] = {}
        stack: list[tuple[SymbolicTensor, Site | None]] = [(t, None) for t in self.outputs]
        reached: set[SymbolicTensor] = set()
        while stack:
            t, consumer = stack.pop()
            if t in fed:
                reached.add(t)
            site = producer(t)
            if site is None:
                continue
            if is_placeholder(t) and t not in fed:
                at = f" at '{site_name(consumer)}'" if consumer is not None else ""
                raise ValueError(
                    f"Graph disconnected in model '{model_name}': cannot obtain the value of "
                    f"tensor '{t.name}' {format_shape(t.shape)}{at}; the model's inputs are "
                    f"[{', '.join(repr(i.name) for i in self.inputs)}]"
                )
            if site.id in seen:
                continue
            seen[site.id] = site
            stack.extend((x, site) for x in site_inputs(site))
        for t in self.inputs:
            if t not in reached:
                raise ValueError(
                    f"Model '{model_name}': input '{t.name}' is not connected to any output"
                )
        return list(seen.values())

    def _digraph(self, model_name: str) -> nx.DiGraph:
        import networkx as nx

        graph = nx.DiGraph()
        self.sites.sort(key=lambda s: s.id)  # creation order: a topological order, for listing
        for site in self.sites:
            name = site_name(site)
            if name in graph:
                raise ValueError(
                    f"Model '{model_name}': layer names must be unique, but two "
                    f"different layers are named '{name}'"
                )
            graph.add_node(site_name(site), site=site, order=site.id)
        members = {s.id for s in self.sites}
        for site in self.sites:
            for t in site_inputs(site):
                src = producer(t)
                if src is not None and src.id in members:
                    graph.add_edge(site_name(src), site_name(site), tensor=t)
        return graph

    def ordered_sites(self) -> list[Site]:
        return [self.digraph.nodes[name]["site"] for name in self.order]


def layers_in_order(sites: Sequence[Site], outputs: Sequence[SymbolicTensor]) -> list[Any]:
    """The distinct layers called at `sites`, in Keras's order (so `get_weights()` lists
    weights as Keras does): deepest from the outputs first, ties broken by when a depth-first
    walk from the outputs first meets them."""
    first_seen: dict[int, int] = {}
    stack = [producer(t) for t in reversed(outputs)]
    while stack:
        site = stack.pop()
        if site is None or site.id in first_seen:
            continue
        first_seen[site.id] = len(first_seen)
        stack.extend(producer(t) for t in reversed(site_inputs(site)))
    depth = {site.id: 0 for site in sites}
    for site in reversed(sites):  # `sites` is topological: consumers come after producers
        for t in site_inputs(site):
            src = producer(t)
            if src is not None and src.id in depth:
                depth[src.id] = max(depth[src.id], depth[site.id] + 1)
    rank: dict[int, tuple[int, int]] = {}
    layers: dict[int, Any] = {}
    for site in sites:
        if isinstance(site, LayerCall):
            key = (-depth[site.id], first_seen[site.id])
            layer_id = id(site.layer)
            layers[layer_id] = site.layer
            rank[layer_id] = min(rank.get(layer_id, key), key)
    return [layers[i] for i in sorted(layers, key=rank.__getitem__)]
