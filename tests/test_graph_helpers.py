"""The graph data helpers of ge.utils: networkx graphs as arrays (graph_from_networkx), disjoint
unions of small graphs and the GraphBatches PyDataset, and the graph picture (plot_graph)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from test_graph_data import edge_sum, segment_sum

import graphengine as ge

# -- graph_from_networkx --------------------------------------------------------------------------


def test_karate_club_as_arrays():
    G = nx.karate_club_graph()
    g = ge.utils.graph_from_networkx(G, node_labels="club", edge_weight="weight")
    np.testing.assert_array_equal(g.nodes, np.eye(34, dtype=np.float32))  # no features: one-hot
    assert g.nodes.dtype == np.float32 and g.edges.dtype == np.int32
    # PyG's from_networkx: an undirected graph's edges both ways, in to_directed's order
    assert g.edges.tolist() == [list(e) for e in G.to_directed().edges]
    assert len(g.edges) == 2 * G.number_of_edges() == 156
    assert {tuple(e) for e in g.edges} == {(v, u) for u, v in g.edges.tolist()}
    assert g.classes == ["Mr. Hi", "Officer"]
    assert [g.classes[c] for c in g.labels] == [G.nodes[v]["club"] for v in G.nodes]
    assert g.labels.dtype == np.int32
    want = [G.edges[u, v]["weight"] for u, v in G.to_directed().edges]
    np.testing.assert_array_equal(g.edge_weight, np.array(want, np.float32))
    assert g.node_ids == list(range(34))


def test_named_node_features_labels_and_directed_edges():
    G = nx.DiGraph()
    G.add_node("b", x=[1.0, 2.0], deg=3, y=2)
    G.add_node("a", x=[3.0, 4.0], deg=1, y=0)
    G.add_edge("b", "a")
    g = ge.utils.graph_from_networkx(G, node_features=["x", "deg"], node_labels="y")
    np.testing.assert_array_equal(g.nodes, [[1, 2, 3], [3, 4, 1]])
    assert g.edges.tolist() == [[0, 1]]  # directed: one way; rows in G.nodes order
    assert g.labels.tolist() == [2, 0] and g.classes is None  # integer labels as given
    assert g.node_ids == ["b", "a"] and g.edge_weight is None
    G.nodes["a"]["y"] = 0.5
    G.nodes["b"]["y"] = 1.5
    assert ge.utils.graph_from_networkx(G, "deg", "y").labels.dtype == np.float32


def test_graph_from_networkx_errors():
    G = nx.path_graph(3)
    for v in G:
        G.nodes[v]["x"] = [1.0] * (2 if v < 2 else 3)
    with pytest.raises(ValueError, match=r"attribute 'x' has 2 values at node 0 but 3 at node 2"):
        ge.utils.graph_from_networkx(G, node_features="x")
    with pytest.raises(ValueError, match=r"node 0 has no attribute 'feat'"):
        ge.utils.graph_from_networkx(G, node_features="feat")
    with pytest.raises(ValueError, match=r"edge \(0, 1\) has no attribute 'weight'"):
        ge.utils.graph_from_networkx(G, edge_weight="weight")
    G.nodes[0]["x"] = "red"
    with pytest.raises(ValueError, match=r"node 0's attribute 'x' \('red'\) is not a number"):
        ge.utils.graph_from_networkx(G, node_features="x")
    with pytest.raises(TypeError, match=r"must be a networkx graph, received ndarray"):
        ge.utils.graph_from_networkx(np.zeros((3, 2)))


# -- disjoint_union and GraphBatches -------------------------------------------------------------
def small_graphs(count: int = 5, features: int = 3) -> list:
    rng = np.random.default_rng(1)
    graphs = []
    for i in range(count):
        n = 2 + i % 3
        edges = np.array([(j, (j + 1) % n) for j in range(n)], np.int32)
        graphs.append((rng.normal(size=(n, features)).astype(np.float32), edges))
    return graphs


def test_disjoint_union_offsets_edges():
    graphs = small_graphs(3)
    g = ge.utils.graph_from_networkx(nx.path_graph(2))  # a Graph works as (nodes, edges)
    graphs.append((np.ones((2, 3), np.float32), g.edges))
    nodes, edges, graph_index = ge.utils.disjoint_union(graphs)
    assert nodes.shape == (2 + 3 + 4 + 2, 3) and edges.dtype == np.int32
    assert graph_index.tolist() == [0] * 2 + [1] * 3 + [2] * 4 + [3] * 2
    np.testing.assert_array_equal(edges[2:5], graphs[1][1] + 2)
    np.testing.assert_array_equal(edges[-2:], [[9, 10], [10, 9]])
    np.testing.assert_array_equal(nodes[2:5], graphs[1][0])


def test_disjoint_union_errors():
    with pytest.raises(ValueError, match=r"disjoint_union: graphs must be a non-empty list"):
        ge.utils.disjoint_union([])
    graphs = small_graphs(2)
    with pytest.raises(ValueError, match=r"graph 1 has 2 features per node, graph 0 has 3"):
        ge.utils.disjoint_union([graphs[0], (np.ones((2, 2)), graphs[1][1])])
    with pytest.raises(ValueError, match=r"graph 1's edge 1 \(1, 5\) names a node outside its 3"):
        ge.utils.disjoint_union([graphs[0], (np.ones((3, 3)), [[0, 1], [1, 5]])])
    with pytest.raises(ValueError, match=r"graph 0's edges must be integer \(E, 2\) rows"):
        ge.utils.disjoint_union([(np.ones((3, 3)), np.zeros((2, 3), int))])
    with pytest.raises(ValueError, match=r"graph 0's nodes must be \(N, F\)"):
        ge.utils.disjoint_union([(np.ones(3), np.zeros((0, 2), int))])
    with pytest.raises(ValueError, match=r"labels must hold one entry per graph \(2\)"):
        ge.utils.GraphBatches(graphs, labels=[0, 1, 1])


def test_graph_batches_deal_reproducibly():
    graphs, labels = small_graphs(7), np.arange(7)
    batches = ge.utils.GraphBatches(graphs, labels, batch_size=3, shuffle=False)
    assert len(batches) == 3
    (nodes, edges, graph_index), y = batches[1]
    want = ge.utils.disjoint_union(graphs[3:6])
    for got, w in zip((nodes, edges, graph_index), want):
        np.testing.assert_array_equal(got, w)
    assert y.tolist() == [3, 4, 5] and batches[2][1].tolist() == [6]
    with pytest.raises(IndexError):
        batches[3]

    def epochs(batches) -> list:
        seen = []
        for _ in range(3):
            seen.append([batches[i][1].tolist() for i in range(len(batches))])
            batches.on_epoch_end()
        return seen

    seeded = epochs(ge.utils.GraphBatches(graphs, labels, batch_size=3, seed=4))
    assert seeded == epochs(ge.utils.GraphBatches(graphs, labels, batch_size=3, seed=4))
    assert seeded[0] != seeded[1]  # dealt anew each epoch
    assert sorted(sum(seeded[0], [])) == list(range(7))
    ge.utils.set_random_seed(3)
    first = epochs(ge.utils.GraphBatches(graphs, labels, batch_size=3))
    ge.utils.set_random_seed(3)
    assert epochs(ge.utils.GraphBatches(graphs, labels, batch_size=3)) == first
    assert len(ge.utils.GraphBatches(graphs, batch_size=4)[0]) == 1  # no labels: (x,)


def test_graph_classification_trains_on_graph_batches():
    ge.utils.set_random_seed(0)
    nodes = ge.Input(shape=(3,), name="nodes")
    edges = ge.Input(shape=(2,), dtype="int32", name="edges")
    graph_index = ge.Input(shape=(), dtype="int32", name="graph_index")
    h = ge.layers.Dense(8, activation="relu")(edge_sum(nodes, edges))
    out = ge.layers.Dense(2, activation="softmax")(segment_sum(h, graph_index))
    model = ge.Model([nodes, edges, graph_index], out)
    model.compile(ge.optimizers.Adam(0.02), "sparse_categorical_crossentropy")
    graphs, labels = small_graphs(8), np.arange(8) % 2
    history = model.fit(ge.utils.GraphBatches(graphs, labels, batch_size=3, seed=0), epochs=4,
                        verbose=0)  # fmt: skip
    assert len(history.history["loss"]) == 4
    scores = model.predict(ge.utils.GraphBatches(graphs, batch_size=3, shuffle=False), verbose=0)
    assert scores.shape == (8, 2)
    np.testing.assert_allclose(scores, model(list(ge.utils.disjoint_union(graphs))), rtol=1e-5)


# -- plot_graph --------------------------------------------------------------------------------
def test_plot_graph_writes_reproducible_pictures(tmp_path):
    G = nx.karate_club_graph()
    g = ge.utils.graph_from_networkx(G, node_labels="club")
    scores = np.eye(2, dtype=np.float32)[g.labels]  # class scores: drawn as their argmax
    paths = [tmp_path / name for name in ("a.svg", "b.svg", "a.png", "b.png")]
    for path in paths:
        ge.utils.plot_graph(G, node_color=scores, labelled=[0, 33], to_file=str(path))
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[2].read_bytes() == paths[3].read_bytes()
    assert paths[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in paths[0].read_bytes()
    fig = ge.utils.plot_graph(g, node_color=g.labels, class_names=g.classes,
                              labelled=g.labels == 0, layout="circular")  # fmt: skip
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["Mr. Hi", "Officer", "labelled"]
    fig = ge.utils.plot_graph((g.edges, 34), node_color=np.linspace(0, 1, 34))
    assert len(fig.axes) == 2  # the nodes and a colour bar
    spring = [ge.utils.plot_graph(G, seed=s).axes[0].collections[1].get_offsets() for s in (1, 1)]
    np.testing.assert_array_equal(*spring)


def test_plot_graph_errors(tmp_path):
    G = nx.path_graph(4)
    with pytest.raises(ValueError, match=r"cannot write '.*\.jpg'; the suffix picks the format"):
        ge.utils.plot_graph(G, to_file=str(tmp_path / "g.jpg"))
    with pytest.raises(ValueError, match=r"node_color must hold one entry per node \(4\)"):
        ge.utils.plot_graph(G, node_color=[0, 1, 0])
    with pytest.raises(ValueError, match=r"labelled must be a boolean mask or node rows in"):
        ge.utils.plot_graph(G, labelled=[4])
    with pytest.raises(ValueError, match=r"unknown layout='tree'"):
        ge.utils.plot_graph(G, layout="tree")
    with pytest.raises(ValueError, match=r"class_names names 1 classes"):
        ge.utils.plot_graph(G, node_color=[0, 1, 1, 0], class_names=["a"])
    with pytest.raises(ValueError, match=r"edges must be integer rows of nodes in \[0, 3\)"):
        ge.utils.plot_graph(([[0, 3]], 3))
    with pytest.raises(TypeError, match=r"graph must be a networkx graph"):
        ge.utils.plot_graph("karate")
