"""Graph data as the graph layers take it: a networkx graph as arrays (`graph_from_networkx`),
many small graphs as one disjoint union (`disjoint_union`) and a PyDataset of such unions for
graph classification (`GraphBatches`). Nodes are rows (N, F), edges rows (E, 2) of (source,
target) node rows, and graph_index (N,) says which graph each node belongs to."""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Sequence

import numpy as np

from graphengine import common
from graphengine.training.pydataset import PyDataset


class Graph(NamedTuple):
    """One graph as arrays (what `graph_from_networkx` returns; `disjoint_union` takes it)."""

    nodes: np.ndarray  # float32 (N, F): the node features, one row per node
    edges: np.ndarray  # int32 (E, 2): (source row, target row) of each edge
    labels: np.ndarray | None  # (N,): each node's label (class ids for categorical labels)
    edge_weight: np.ndarray | None  # float32 (E,): each edge's weight
    node_ids: list  # the networkx node of each row
    classes: list | None  # the label of each class id, for labels mapped to class ids


def _is_networkx(graph: Any) -> bool:
    import networkx as nx

    return isinstance(graph, nx.Graph)


def graph_from_networkx(
    graph: Any,
    node_features: str | Sequence[str] | None = None,
    node_labels: str | None = None,
    edge_weight: str | None = None,
) -> Graph:
    """`graph` (a networkx Graph, DiGraph or multigraph) as arrays, rows in `graph.nodes` order.

    - nodes: the node attributes named by `node_features` (one name or a list; each a number or
      a vector), concatenated in that order; None gives each node the one-hot of its row (the
      identity features of Kipf & Welling's featureless graphs; (N, N) floats).
    - edges: as PyTorch Geometric's from_networkx: an undirected graph's edges in both
      directions, in the order of `graph.to_directed().edges`.
    - labels: the node attribute `node_labels`: integers as given, floats as float32 targets,
      anything else (strings, categories) mapped to class ids in sorted order, `classes` giving
      the label of each id.
    - edge_weight: the edge attribute `edge_weight` as float32.
    """
    if not _is_networkx(graph):
        raise TypeError(
            f"graph_from_networkx: graph must be a networkx graph, received {type(graph).__name__}"
        )
    node_ids = list(graph.nodes)
    row = {node: i for i, node in enumerate(node_ids)}
    directed = graph if graph.is_directed() else graph.to_directed()
    pairs = list(directed.edges(data=True))
    edges = np.array([(row[u], row[v]) for u, v, _ in pairs], np.int32).reshape(-1, 2)
    if node_features is None:
        nodes = np.eye(len(node_ids), dtype=np.float32)
    else:
        names = [node_features] if isinstance(node_features, str) else list(node_features)
        nodes = _node_features(graph, node_ids, names)
    labels, classes = (None, None) if node_labels is None else _labels(graph, node_ids, node_labels)
    weights = None
    if edge_weight is not None:
        weights = np.array([_edge_value(data, edge_weight, u, v) for u, v, data in pairs])
        weights = weights.astype(np.float32).reshape(len(pairs))
    return Graph(nodes, edges, labels, weights, node_ids, classes)


def _attribute(graph: Any, node: Any, name: str) -> Any:
    data = graph.nodes[node]
    if name not in data:
        raise ValueError(f"graph_from_networkx: node {node!r} has no attribute {name!r}")
    return data[name]


def _node_features(graph: Any, node_ids: list, names: list[str]) -> np.ndarray:
    """The named attributes of every node, each flattened to a vector, side by side."""
    if not node_ids:
        return np.zeros((0, 0), np.float32)
    columns = []
    for name in names:
        values = [_vector(_attribute(graph, n, name), n, name) for n in node_ids]
        sizes = [len(v) for v in values]
        bad = next((i for i, size in enumerate(sizes) if size != sizes[0]), None)
        if bad is not None:
            raise ValueError(
                f"graph_from_networkx: node attribute {name!r} has {sizes[0]} values at node "
                f"{node_ids[0]!r} but {sizes[bad]} at node {node_ids[bad]!r}; every node's "
                "features must have one size"
            )
        columns.append(np.stack(values))
    return np.concatenate(columns, axis=1)


def _vector(value: Any, node: Any, name: str) -> np.ndarray:
    try:
        return np.ravel(np.asarray(value, np.float32))
    except (TypeError, ValueError):
        raise ValueError(
            f"graph_from_networkx: node {node!r}'s attribute {name!r} ({value!r}) is not a "
            "number or a vector of numbers"
        ) from None


def _labels(graph: Any, node_ids: list, name: str) -> tuple[np.ndarray, list | None]:
    values = [_attribute(graph, n, name) for n in node_ids]
    if values and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        return np.array(values, np.int64).astype(np.int32), None
    if values and all(isinstance(v, (float, np.floating)) for v in values):
        return np.array(values, np.float32), None
    try:
        classes = sorted(set(values))
    except TypeError:
        raise TypeError(
            f"graph_from_networkx: the labels {name!r} mix kinds that do not sort "
            f"({sorted({type(v).__name__ for v in values})}); give one kind of label"
        ) from None
    ids = {label: i for i, label in enumerate(classes)}
    return np.array([ids[v] for v in values], np.int32), classes


def _edge_value(data: dict, name: str, u: Any, v: Any) -> float:
    if name not in data:
        raise ValueError(f"graph_from_networkx: edge ({u!r}, {v!r}) has no attribute {name!r}")
    return data[name]


def _checked(graphs: Sequence[Any], owner: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each graph's (nodes, edges) as arrays (a Graph, or a (nodes, edges) pair), checked: one
    feature size for all, edges (E, 2) of integer rows within the graph's nodes."""
    if isinstance(graphs, (np.ndarray, str)) or len(graphs) == 0:
        raise ValueError(f"{owner}: graphs must be a non-empty list of (nodes, edges) graphs")
    out, width = [], None
    for g, graph in enumerate(graphs):
        nodes, edges = np.asarray(graph[0]), np.asarray(graph[1])
        if nodes.ndim != 2:
            raise ValueError(
                f"{owner}: graph {g}'s nodes must be (N, F), received shape {nodes.shape}"
            )
        if width is not None and nodes.shape[1] != width:
            raise ValueError(
                f"{owner}: graph {g} has {nodes.shape[1]} features per node, graph 0 has "
                f"{width}; every graph needs the same feature size"
            )
        width = nodes.shape[1]
        if edges.size == 0:
            edges = np.zeros((0, 2), np.int32)
        if edges.ndim != 2 or edges.shape[1] != 2 or edges.dtype.kind not in "iu":
            raise ValueError(
                f"{owner}: graph {g}'s edges must be integer (E, 2) rows of (source, target), "
                f"received shape {edges.shape} of dtype {edges.dtype}"
            )
        bad = np.flatnonzero((edges < 0).any(1) | (edges >= len(nodes)).any(1))
        if len(bad):
            raise ValueError(
                f"{owner}: graph {g}'s edge {bad[0]} {tuple(edges[bad[0]].tolist())} names a "
                f"node outside its {len(nodes)} nodes"
            )
        out.append((nodes, edges))
    return out


def _union(parts: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, ...]:
    counts = np.array([len(n) for n, _ in parts], np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    nodes = np.concatenate([n for n, _ in parts])
    if nodes.dtype.kind != "f":
        nodes = nodes.astype(np.float32)
    edges = np.concatenate([e + o for (_, e), o in zip(parts, offsets)]).astype(np.int32)
    graph_index = np.repeat(np.arange(len(parts), dtype=np.int32), counts)
    return nodes, edges, graph_index


def disjoint_union(graphs: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(nodes, edges, graph_index) of many graphs as one: node rows concatenated, each graph's
    edge ids offset by the nodes before it, graph_index (N,) the graph of each node (as PyG's
    Batch). Each graph is a `Graph` or a (nodes (N, F), edges (E, 2)) pair."""
    return _union(_checked(graphs, "disjoint_union"))


class GraphBatches(PyDataset):
    """Batches of `batch_size` graphs for graph classification: ([nodes, edges, graph_index],
    y) with the batch's disjoint union and its `labels` (one per graph; None: x alone). With
    `shuffle`, the graphs are dealt anew every epoch, from `seed` or, without one, from the
    generator ge.utils.set_random_seed resets. Pass shuffle=False to predict in order."""

    def __init__(
        self,
        graphs: Sequence[Any],
        labels: Any = None,
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._graphs = _checked(graphs, "GraphBatches")
        self.batch_size = common.check_int(batch_size, "batch_size", "GraphBatches", minimum=1)
        self.labels = None if labels is None else np.asarray(labels)
        if self.labels is not None and (self.labels.ndim == 0 or len(self.labels) != len(graphs)):
            raise ValueError(
                f"GraphBatches: labels must hold one entry per graph ({len(graphs)}), received "
                f"shape {self.labels.shape}"
            )
        self.shuffle = bool(shuffle)
        self._rng = None if seed is None else np.random.default_rng(seed)
        self._order = np.arange(len(self._graphs))
        self._deal()

    def _deal(self) -> None:
        if self.shuffle:
            self._order = (self._rng or common.rng()).permutation(len(self._graphs))

    def __len__(self) -> int:
        return math.ceil(len(self._graphs) / self.batch_size)

    def __getitem__(self, index: int) -> Any:
        if not 0 <= index < len(self):
            raise IndexError(f"GraphBatches: batch {index} of {len(self)}")
        picked = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        x = list(_union([self._graphs[i] for i in picked]))
        return (x,) if self.labels is None else (x, self.labels[picked])

    def on_epoch_end(self) -> None:
        self._deal()
