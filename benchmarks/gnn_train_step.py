"""Full-batch GNN training steps, graphengine next to PyTorch Geometric (CPU), on the same graph
and the same starting weights.

Graph: 10,000 nodes and 100,000 directed edges (source, target) drawn uniformly at random (seed 0;
self loops and repeated edges kept as drawn), 64 standard-normal float32 features a node, 7
classes drawn at random, a train mask of 1,000 random nodes given as sample weights.
Models (Adam(1e-3), sparse categorical cross-entropy from logits weighted by the mask, reduced as
Keras does: the weighted sum over the nodes divided by their count; PyG computes the same):
  gcn: GraphConv(16, relu) -> GraphConv(7)             (PyG: GCNConv -> relu -> GCNConv)
  gat: GATConv(16, heads=4, concat, elu) -> Dense(7)   (PyG: GATConv -> elu -> Linear)
PyG runs with torch.set_num_threads(2), its weights copied from graphengine's so the first losses
agree (printed); it is imported from the folder in the PYG_PATH environment variable when set
(appended to sys.path) and skipped when it cannot be imported.

Run: python benchmarks/gnn_train_step.py [--model gcn|gat] [--steps 50] [--warmup 5] [--block 5]
                                         [--ops]
The frameworks take turns in blocks after a pause (as benchmarks/run.py: the other's idle threads
go to sleep first); --ops times every step of the compiled training plan on its own
(benchmarks/cnn_train_step.py's op_times).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import graphengine as ge  # noqa: E402
from benchmarks.cnn_train_step import compare, op_times, timed  # noqa: E402

NODES, EDGES, FEATURES, HIDDEN, HEADS, CLASSES, TRAIN = 10_000, 100_000, 64, 16, 4, 7, 1_000


def data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    mask = np.zeros(NODES, np.float32)
    mask[rng.choice(NODES, TRAIN, replace=False)] = 1.0
    return {
        "x": rng.standard_normal((NODES, FEATURES)).astype(np.float32),
        "edges": rng.integers(0, NODES, (EDGES, 2)).astype(np.int32),
        "y": rng.integers(0, CLASSES, NODES),
        "mask": mask,
    }


def flops(name: str) -> float:
    """Multiply-adds x 2 of the products and the message sums (self loops added), x 3 to train."""
    messages = EDGES + NODES
    if name == "gcn":
        forward = NODES * (FEATURES * HIDDEN + HIDDEN * CLASSES) + messages * (HIDDEN + CLASSES)
    else:
        width = HEADS * HIDDEN
        forward = NODES * (FEATURES * width + 2 * width + width * CLASSES) + 2 * messages * width
    return 3.0 * 2 * forward


def graphengine_model(name: str) -> ge.Model:
    L = ge.layers
    nodes = ge.Input(shape=(FEATURES,), name="nodes")
    edges = ge.Input(shape=(2,), dtype="int32", name="edges")
    if name == "gcn":
        h = L.GraphConv(HIDDEN, activation="relu")([nodes, edges])
        out = L.GraphConv(CLASSES)([h, edges])
    else:
        h = L.GATConv(HIDDEN, heads=HEADS, activation="elu")([nodes, edges])
        out = L.Dense(CLASSES)(h)
    model = ge.Model([nodes, edges], out, name=f"{name}_node_classifier")
    model.compile(
        optimizer=ge.optimizers.Adam(learning_rate=1e-3),
        loss=ge.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def _pyg():
    """(torch, torch_geometric.nn) or None."""
    path = os.environ.get("PYG_PATH")
    if path and path not in sys.path:
        sys.path.append(path)
    try:
        import torch
        import torch_geometric.nn as pyg_nn
    except ImportError:
        return None
    torch.set_num_threads(2)
    return torch, pyg_nn


def _pyg_net(name: str, torch, pyg_nn, model: ge.Model):
    """The same network in PyG, starting from the graphengine model's weights."""
    w = [torch.from_numpy(a) for a in model.get_weights()]
    with torch.no_grad():
        if name == "gcn":
            convs = [pyg_nn.GCNConv(FEATURES, HIDDEN), pyg_nn.GCNConv(HIDDEN, CLASSES)]
            for conv, (kernel, bias) in zip(convs, (w[0:2], w[2:4])):
                conv.lin.weight.copy_(kernel.T)
                conv.bias.copy_(bias)
            return lambda x, ei: convs[1](torch.relu(convs[0](x, ei)), ei), convs
        conv = pyg_nn.GATConv(FEATURES, HIDDEN, heads=HEADS)
        lin = torch.nn.Linear(HEADS * HIDDEN, CLASSES)
        for param, value in zip(
            [conv.lin.weight, conv.att_src, conv.att_dst, conv.bias, lin.weight, lin.bias],
            [w[0].T, w[1][None], w[2][None], w[3], w[4].T, w[5]],
        ):
            param.copy_(value)
    return lambda x, ei: lin(torch.nn.functional.elu(conv(x, ei))), [conv, lin]


def torch_step(name: str, d: dict[str, np.ndarray], model: ge.Model):
    """A closure running one PyG training step of the same network, or None without PyG."""
    found = _pyg()
    if found is None:
        return None
    torch, pyg_nn = found
    forward, modules = _pyg_net(name, torch, pyg_nn, model)
    params = [p for m in modules for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)
    x, y, mask = (torch.from_numpy(d[k]) for k in ("x", "y", "mask"))
    edge_index = torch.from_numpy(d["edges"].T.astype(np.int64)).contiguous()
    ce = torch.nn.functional.cross_entropy

    def step() -> float:
        opt.zero_grad()
        loss = (ce(forward(x, edge_index), y, reduction="none") * mask).sum() / NODES
        loss.backward()
        opt.step()
        return loss.item()

    step.net, step.opt = modules[0], opt
    return step


def workload(name: str) -> tuple:
    """(graphengine step, PyG step or None, flops per step), for benchmarks/run.py's table."""
    d = data()
    ge.utils.set_random_seed(0)
    model = graphengine_model(name)
    feeds = [d["x"], d["edges"]]
    ge_step = lambda: model.train_on_batch(feeds, d["y"], sample_weight=d["mask"])  # noqa: E731
    ge_step.model, ge_step.data = model, d
    pt_step = torch_step(name, d, model)  # before the first graphengine step: same weights
    return ge_step, pt_step, flops(name)


def gcn() -> tuple:
    return workload("gcn")


def gat() -> tuple:
    return workload("gat")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=("gcn", "gat"), default="gcn")
    parser.add_argument("--steps", type=int, default=50, help="timed steps per framework")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--block", type=int, default=5, help="steps per turn")
    parser.add_argument("--ops", action="store_true", help="time each step of the plan")
    args = parser.parse_args()

    ge_step, pt_step, _ = workload(args.model)
    first = [float(np.asarray(ge_step()).ravel()[0])]  # compiles the plan
    if pt_step is not None:
        first.append(pt_step())
    names = "graphengine, PyG" if pt_step is not None else "graphengine"
    print(f"first loss ({names}): " + ", ".join(f"{v:.6f}" for v in first))
    timed(ge_step, args.warmup)
    if pt_step is not None:
        timed(pt_step, args.warmup)
    if args.ops:
        for a in ge_step.data.values():  # read-only: copied into the plan's buffers, not lent
            a.setflags(write=False)
        ge_step()
        op_times(ge_step.model, args.steps)
        return
    print(f"model: {args.model}")
    compare(
        ge_step,
        pt_step,
        args.steps,
        args.block,
        "PyG",
        "PyTorch Geometric is not importable (set PYG_PATH?): no comparison",
        pause=0.3,
    )  # fmt: skip  (a pause before each turn, as benchmarks/run.py)


if __name__ == "__main__":
    main()
