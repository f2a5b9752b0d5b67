"""Graph classification: telling Barabasi-Albert graphs (grown by preferential attachment: a few
hubs) from Erdos-Renyi graphs (edges drawn at random) with the same numbers of nodes and edges.
Every node has the same feature (1), so only the structure tells them apart: two GIN layers (Xu
et al.) count and mix neighbourhoods, max and mean pooling read each graph out (sum pooling,
PyG's usual GIN readout, grows with the graph and saturated the softmax here), and a Dense layer
decides. Trained with fit on ge.utils.GraphBatches (disjoint unions of 32 graphs).

Run: python examples/graph_classification.py. Prints the held-out accuracy.
"""

import networkx as nx
import numpy as np

import graphengine as ge

ge.utils.set_random_seed(0)
rng = np.random.default_rng(0)


def random_graph(kind: int) -> ge.utils.Graph:
    """kind 0: Erdos-Renyi, 1: Barabasi-Albert (m=2), 12 to 30 nodes, mean degree about 4."""
    n, seed = int(rng.integers(12, 31)), int(rng.integers(1 << 30))
    g = nx.barabasi_albert_graph(n, 2, seed) if kind else nx.gnm_random_graph(n, 2 * n - 4, seed)
    nx.set_node_attributes(g, 1.0, "one")
    return ge.utils.graph_from_networkx(g, node_features="one")


labels = rng.integers(0, 2, 400)
graphs = [random_graph(kind) for kind in labels]
train, test = slice(0, 300), slice(300, None)


def gin(units: int) -> ge.layers.GINConv:
    mlp = ge.Sequential([ge.layers.Dense(units, activation="relu"), ge.layers.Dense(units)])
    return ge.layers.GINConv(mlp, train_eps=True)


nodes = ge.Input(shape=(1,), name="nodes")
edges = ge.Input(shape=(2,), dtype="int32", name="edges")
graph_index = ge.Input(shape=(), dtype="int32", name="graph_index")
h = ge.layers.ReLU()(gin(16)([nodes, edges]))
h = ge.layers.ReLU()(gin(16)([h, edges]))
pooled = ge.layers.Concatenate()(
    [
        ge.layers.GlobalGraphMaxPool()([h, graph_index]),
        ge.layers.GlobalGraphMeanPool()([h, graph_index]),
    ]
)
out = ge.layers.Dense(2, activation="softmax")(pooled)
model = ge.Model([nodes, edges, graph_index], out, name="gin_classifier")
model.compile(
    optimizer=ge.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
)
model.fit(ge.utils.GraphBatches(graphs[train], labels[train], batch_size=32), epochs=40, verbose=0)
held_out = ge.utils.GraphBatches(graphs[test], labels[test], batch_size=100, shuffle=False)
loss, accuracy = model.evaluate(held_out, verbose=0)
print(f"{len(graphs[test])} held-out graphs, accuracy: {accuracy:.3f} (chance 0.5)")
