"""Node classification on Zachary's karate club from four labelled members: a two-layer graph
convolution (Kipf & Welling) trained full batch, the labels given as sample weights (1 for the
four labelled nodes, 0 for the rest), then scored on the 30 members it never saw.

Run: python examples/karate_club.py [out.png]. Prints the accuracy on the unlabelled members and
saves the club drawn with the predicted communities (labelled members ringed) to out.png
(default karate_club.png).
"""

import sys

import networkx as nx
import numpy as np

import graphengine as ge

ge.utils.set_random_seed(0)
club = nx.karate_club_graph()  # 34 members, 78 friendships; "club": "Mr. Hi" or "Officer"
graph = ge.utils.graph_from_networkx(club, node_labels="club")  # one-hot node features
labelled = np.zeros(len(graph.nodes), "float32")
labelled[[0, 1, 32, 33]] = 1.0  # the instructor and the administrator, and one friend each

nodes = ge.Input(shape=(graph.nodes.shape[1],), name="nodes")
edges = ge.Input(shape=(2,), dtype="int32", name="edges")
h = ge.layers.GraphConv(16, activation="relu")([nodes, edges])
out = ge.layers.GraphConv(2, activation="softmax")([h, edges])
model = ge.Model([nodes, edges], out, name="karate_gcn")
model.compile(optimizer=ge.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")

x = [graph.nodes, graph.edges]
model.fit(x, graph.labels, sample_weight=labelled, epochs=100, verbose=0)
predicted = model.predict(x, verbose=0).argmax(1)
unseen = labelled == 0
accuracy = np.mean(predicted[unseen] == graph.labels[unseen])
print(f"classes: {graph.classes}")
print(f"accuracy on the {unseen.sum()} unlabelled members: {accuracy:.3f}")

if __name__ == "__main__":
    out_file = sys.argv[1] if len(sys.argv) > 1 else "karate_club.png"
    ge.utils.plot_graph(
        club,
        node_color=predicted,
        labelled=labelled > 0,
        class_names=graph.classes,
        title="Karate club: predicted communities (ringed: labelled)",
        to_file=out_file,
    )
    print(f"picture of the predicted communities: {out_file}")
