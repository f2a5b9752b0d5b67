"""Generate PyTorch Geometric reference numbers for tests/test_gnn_pyg.py (issue 23).

This is a script, not a test. Run it from the repository root (README.md beside it says with
which versions):

    KERAS_BACKEND=torch PYTHONPATH=/tmp/kerapkgs:/tmp/pygpkgs \
        python tests/pyg_reference/generate_gnn.py

(Keras only because save_npz_deterministic is imported from tests/keras_reference/generate.py,
which imports it.) It writes, next to this file:

* ``gnn.json`` -- one case per line. Segment ops: {"id", "kind": "op", "op", "num_segments",
  "sorted"}; layers and pools: {"id", "kind": "layer", "layer", "kwargs", "mlp", "inputs",
  "trainable", "pyg"}: ``inputs`` names the model's inputs in order ("nodes", "edges",
  "edge_weight", "graph_index"), ``mlp`` the Dense layers of GINConv's ge.Sequential,
  ``trainable`` one flag per weight in set_weights order, ``pyg`` the PyG module that made it.
* ``gnn.npz`` -- per case: ``{id}/data``, ``{id}/segment_ids`` (ops) or ``{id}/x{i}`` (one per
  input, edges (E, 2) int32 as (source, target) rows); ``{id}/w{j}`` every weight in OUR layout
  and set_weights order; ``{id}/dy`` a random cotangent; ``{id}/y`` the output; ``{id}/ddata``
  (ops) or ``{id}/dx{i}`` (each float input) and ``{id}/dw{j}`` (each trainable weight) the
  gradients of ``sum(y * dy)``.

Inputs, weights and cotangents are float32 (the tests feed them as they are); PyG runs on their
float64 copies and y and the gradients are float64. Everything is seeded per case (crc32 of the
id). Every layer's forward pass is also recomputed here with NumPy from our-layout weights
(``*_numpy``), and PyG's gradients checked against its central differences along a random
direction (``check_directional``), so a weight or a gradient in the wrong layout fails the
generation.
"""

import json
import os
import sys
import zlib

import numpy as np
import torch
import torch_geometric
from torch_geometric.nn import GATConv, GCNConv, GINConv, SAGEConv
from torch_geometric.nn import global_add_pool, global_max_pool, global_mean_pool
from torch_geometric.nn.conv import MessagePassing
from torch_geometric.utils import scatter, softmax

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "keras_reference"))
from generate import save_npz_deterministic  # noqa: E402

JSON_PATH = os.path.join(HERE, "gnn.json")
NPZ_PATH = os.path.join(HERE, "gnn.npz")
F64 = torch.float64


def t64(a, grad=False):
    return torch.tensor(np.asarray(a, np.float64), dtype=F64, requires_grad=grad)


# -- graphs ----------------------------------------------------------------------------------------
def random_graph(rng, n, e, self_loops=0):
    """(e, 2) int32 (source, target) rows on nodes 0..n-2: node n-1 has no edge at all. No self
    loop but the first `self_loops` rows (on distinct nodes); the last row repeats the first
    non-loop row (a multi-edge)."""
    src = rng.integers(0, n - 1, e)
    dst = rng.integers(0, n - 1, e)
    dst = np.where(src == dst, (dst + 1) % (n - 1), dst)
    edges = np.stack([src, dst], axis=1)
    loops = rng.choice(n - 1, self_loops, replace=False)
    edges[:self_loops] = np.stack([loops, loops], axis=1)
    edges[-1] = edges[self_loops]
    return edges.astype(np.int32)


# -- segment ops -----------------------------------------------------------------------------------
SEGMENT_REDUCE = {"segment_sum": "sum", "segment_mean": "mean", "segment_max": "max"}


def op_specs():
    """(id, op, data shape, segment ids, num_segments, sorted, tweak of the data)."""
    ids10 = [4, 0, 1, 4, 1, 0, 4, 1, 3, 0]  # segment 2 empty (and 5 when num_segments is 6)
    sorted10 = sorted(ids10)

    def ties(d):  # rows 0 and 3 tie in every column, row 6 ties them in column 1
        d[3] = d[0]
        d[6, 1] = d[0, 1]
        d[8] = -np.abs(d[8]) - 0.5  # segment 3: one all-negative row, its max stays negative
        return d

    def large(d):  # segment 0 far from 0: the max shift keeps exp finite
        d[[1, 5, 9]] += 80.0
        return d

    return [
        ("segment_sum_2d", "segment_sum", (10, 3), ids10, 6, False, None),
        ("segment_sum_1d", "segment_sum", (10,), ids10, 5, False, None),
        ("segment_sum_sorted", "segment_sum", (10, 3), sorted10, 6, True, None),
        ("segment_sum_num_none", "segment_sum", (10, 3), ids10, None, False, None),
        ("segment_sum_empty_data", "segment_sum", (0, 3), [], 3, False, None),
        ("segment_mean_2d", "segment_mean", (10, 3), ids10, 6, False, None),
        ("segment_mean_sorted_1d", "segment_mean", (10,), sorted10, 5, True, None),
        ("segment_max_2d_ties", "segment_max", (10, 3), ids10, 6, False, ties),
        ("segment_max_1d", "segment_max", (10,), ids10, 5, False, None),
        ("segment_max_num_none", "segment_max", (10, 2), ids10, None, False, None),
        ("segment_softmax_2d", "segment_softmax", (10, 3), ids10, 6, False, large),
        ("segment_softmax_1d", "segment_softmax", (10,), ids10, 5, False, None),
        ("segment_softmax_sorted", "segment_softmax", (10, 2), sorted10, 5, True, None),
    ]


def op_case(spec):
    cid, op, shape, ids, num, is_sorted, tweak = spec
    rng = np.random.default_rng(zlib.crc32(cid.encode()))
    data = rng.standard_normal(shape).astype(np.float32)
    if tweak is not None:
        data = tweak(data)
    ids = np.asarray(ids, np.int32)
    d = t64(data, grad=True)
    index = torch.from_numpy(ids.astype(np.int64))
    if op == "segment_softmax":
        y = softmax(d, index, num_nodes=num, dim=0)
    else:
        y = scatter(d, index, dim=0, dim_size=num, reduce=SEGMENT_REDUCE[op])
    dy = rng.standard_normal(tuple(y.shape)).astype(np.float32)
    (ddata,) = torch.autograd.grad((y * t64(dy)).sum(), d, allow_unused=True)
    ddata = torch.zeros_like(d) if ddata is None else ddata
    arrays = {"data": data, "segment_ids": ids, "y": y.detach().numpy(), "dy": dy}
    arrays["ddata"] = ddata.numpy()
    entry = {"id": cid, "kind": "op", "op": op, "num_segments": num, "sorted": is_sorted}
    return entry, arrays


# -- NumPy forward passes from our-layout weights (the layout check) ------------------------------
def aggregate(messages, targets, n, how):
    out = np.zeros((n,) + messages.shape[1:])
    for i in range(n):
        rows = messages[targets == i]
        if len(rows):
            out[i] = {"sum": rows.sum(0), "mean": rows.mean(0), "max": rows.max(0)}[how]
    return out


def gcn_numpy(xs, ws, kwargs):
    x, edges, w = xs[0], xs[1], (xs[2] if len(xs) > 2 else np.ones(len(xs[1])))
    n = len(x)
    a = np.zeros((n, n))
    np.add.at(a, (edges[:, 1], edges[:, 0]), w)  # a[target, source]
    if kwargs.get("normalize", True):
        if kwargs.get("add_self_loops", True):
            missing = [i for i in range(n) if not np.any((edges[:, 0] == i) & (edges[:, 1] == i))]
            a[missing, missing] = 1.0
        deg = a.sum(1)
        inv = np.where(deg > 0, 1 / np.sqrt(np.where(deg > 0, deg, 1)), 0.0)
        a = inv[:, None] * a * inv[None, :]
    return a @ (x @ ws[0]) + ws[1]


def sage_numpy(xs, ws, kwargs):
    x, edges = xs[0], xs[1]
    msg = x[edges[:, 0]] * (xs[2][:, None] if len(xs) > 2 else 1.0)
    agg = aggregate(msg, edges[:, 1], len(x), kwargs.get("aggregator", "mean"))
    root = kwargs.get("root_weight", True)
    out = agg @ ws[0] + (x @ ws[1] if root else 0.0) + ws[-1]
    if kwargs.get("normalize", False):
        out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out


def gat_numpy(xs, ws, kwargs):
    x, edges = xs[0], xs[1]
    heads, units = ws[1].shape
    h = (x @ ws[0]).reshape(len(x), heads, units)
    if kwargs.get("add_self_loops", True):
        edges = edges[edges[:, 0] != edges[:, 1]]
        loops = np.arange(len(x))
        edges = np.concatenate([edges, np.stack([loops, loops], 1)])
    src, dst = edges[:, 0], edges[:, 1]
    score = (h[src] * ws[1]).sum(-1) + (h[dst] * ws[2]).sum(-1)  # (E, heads)
    score = np.where(score > 0, score, kwargs.get("negative_slope", 0.2) * score)
    score = np.exp(score - aggregate(score, dst, len(x), "max")[dst])
    alpha = score / (aggregate(score, dst, len(x), "sum")[dst] + 1e-16)
    out = aggregate(alpha[:, :, None] * h[src], dst, len(x), "sum")
    out = out.reshape(len(x), -1) if kwargs.get("concat", True) else out.mean(1)
    return out + ws[3]


def gin_numpy(xs, ws, kwargs):
    x, edges = xs[0], xs[1]
    msg = x[edges[:, 0]] * (xs[2][:, None] if len(xs) > 2 else 1.0)
    h = (1 + ws[0]) * x + aggregate(msg, edges[:, 1], len(x), "sum")
    return np.maximum(h @ ws[1] + ws[2], 0) @ ws[3] + ws[4]


def pool_numpy(how):
    return lambda xs, ws, kwargs: aggregate(xs[0], xs[1], int(xs[1].max()) + 1, how)


# -- PyG modules given our-layout weights ---------------------------------------------------------
class WeightedMessages(MessagePassing):
    """sum/mean/max over incoming edges of x_j * edge_weight (PyG's SAGEConv and GINConv take no
    edge weights: our optional third input scales their messages, DGL's convention)."""

    def forward(self, x, edge_index, edge_weight):
        return self.propagate(edge_index, x=x, edge_weight=edge_weight)

    def message(self, x_j, edge_weight):
        return x_j * edge_weight.view(-1, 1)


class WeightedSAGEConv(SAGEConv):
    """SAGEConv's forward with WeightedMessages as its aggregation."""

    def forward(self, x, edge_index, edge_weight):
        agg = WeightedMessages(aggr=self.aggr)(x, edge_index, edge_weight)
        out = self.lin_l(agg) + (self.lin_r(x) if self.root_weight else 0.0)
        return torch.nn.functional.normalize(out, p=2.0, dim=-1) if self.normalize else out


class WeightedGINConv(GINConv):
    """GINConv's forward with WeightedMessages as its (sum) aggregation."""

    def forward(self, x, edge_index, edge_weight):
        agg = WeightedMessages(aggr="sum")(x, edge_index, edge_weight)
        return self.nn(agg + (1 + self.eps) * x)


def assign(param, value):
    with torch.no_grad():
        param.copy_(t64(value).reshape(param.shape))


def gcn_module(f, kw, ws, weighted):
    kw = {k: kw[k] for k in ("normalize", "add_self_loops") if k in kw}
    conv = GCNConv(f, ws[1].shape[0], **kw).double()
    assign(conv.lin.weight, ws[0].T)
    assign(conv.bias, ws[1])
    return conv, [conv.lin.weight, conv.bias]


def sage_module(f, kw, ws, weighted):
    root = kw.get("root_weight", True)
    cls = WeightedSAGEConv if weighted else SAGEConv
    conv = cls(f, ws[0].shape[1], aggr=kw.get("aggregator", "mean"),
               normalize=kw.get("normalize", False), root_weight=root).double()  # fmt: skip
    assign(conv.lin_l.weight, ws[0].T)
    assign(conv.lin_l.bias, ws[-1])
    params = [conv.lin_l.weight] + ([conv.lin_r.weight] if root else []) + [conv.lin_l.bias]
    if root:
        assign(conv.lin_r.weight, ws[1].T)
    return conv, params


def gat_module(f, kw, ws, weighted):
    heads, units = ws[1].shape
    conv = GATConv(f, units, heads=heads, concat=kw.get("concat", True),
                   negative_slope=kw.get("negative_slope", 0.2),
                   add_self_loops=kw.get("add_self_loops", True)).double()  # fmt: skip
    conv.eval()  # attention dropout off
    params = [conv.lin.weight, conv.att_src, conv.att_dst, conv.bias]
    for p, w in zip(params, [ws[0].T, ws[1], ws[2], ws[3]]):
        assign(p, w)
    return conv, params


def gin_module(f, kw, ws, weighted):
    mlp = torch.nn.Sequential(torch.nn.Linear(f, ws[1].shape[1]), torch.nn.ReLU(),
                              torch.nn.Linear(ws[1].shape[1], ws[3].shape[1])).double()  # fmt: skip
    cls = WeightedGINConv if weighted else GINConv
    conv = cls(mlp, eps=kw.get("eps", 0.0), train_eps=kw.get("train_eps", False)).double()
    assign(conv.eps, ws[0])
    params = [conv.eps, mlp[0].weight, mlp[0].bias, mlp[2].weight, mlp[2].bias]
    for p, w in zip(params[1:], [ws[1].T, ws[2], ws[3].T, ws[4]]):
        assign(p, w)
    return conv, params


def pool_module(fn):
    return lambda f, kw, ws, weighted: (lambda x, batch: fn(x, batch), [])


def weight_shapes(layer, f, kw, mlp):
    u = kw.get("units")
    if layer == "GraphConv":
        return [(f, u), (u,)]
    if layer == "SAGEConv":
        return [(f, u)] + ([(f, u)] if kw.get("root_weight", True) else []) + [(u,)]
    if layer == "GATConv":
        h = kw.get("heads", 1)
        return [(f, h * u), (h, u), (h, u), (h * u if kw.get("concat", True) else u,)]
    if layer == "GINConv":
        return [(), (f, mlp[0]["units"]), (mlp[0]["units"],), (mlp[0]["units"], mlp[1]["units"]),
                (mlp[1]["units"],)]  # fmt: skip
    return []


LAYERS = {
    "GraphConv": (gcn_module, gcn_numpy, "GCNConv"),
    "SAGEConv": (sage_module, sage_numpy, "SAGEConv"),
    "GATConv": (gat_module, gat_numpy, "GATConv"),
    "GINConv": (gin_module, gin_numpy, "GINConv"),
    "GlobalGraphSumPool": (pool_module(global_add_pool), pool_numpy("sum"), "global_add_pool"),
    "GlobalGraphMeanPool": (pool_module(global_mean_pool), pool_numpy("mean"), "global_mean_pool"),
    "GlobalGraphMaxPool": (pool_module(global_max_pool), pool_numpy("max"), "global_max_pool"),
}


# -- layer cases -----------------------------------------------------------------------------------
GIN_MLP = [{"units": 6, "activation": "relu"}, {"units": 3}]
GRAPH_INDEX = [0, 0, 0, 1, 1, 3, 3, 3, 3, 4]  # graph 2 has no node
GRAPH_INDEX_UNSORTED = [3, 0, 1, 3, 0, 4, 1, 3, 0, 3]


def lc(cid, layer, kwargs, weighted=False, self_loops=0, mlp=None, eps_weight=None, index=None):
    return dict(id=cid, layer=layer, kwargs=kwargs, weighted=weighted, self_loops=self_loops,
                mlp=mlp, eps_weight=eps_weight, index=index)  # fmt: skip


def layer_specs():
    gcn, sage, gat, gin = "GraphConv", "SAGEConv", "GATConv", "GINConv"
    return [
        lc("gcn_default", gcn, {"units": 4}),
        lc("gcn_no_self_loops", gcn, {"units": 4, "add_self_loops": False}),
        lc("gcn_plain", gcn, {"units": 4, "normalize": False}),
        lc("gcn_plain_weighted", gcn, {"units": 4, "normalize": False, "add_self_loops": False},
           weighted=True),
        lc("gcn_weighted", gcn, {"units": 4}, weighted=True),
        lc("gcn_self_loops_in_edges", gcn, {"units": 4}, self_loops=2),
        lc("gcn_self_loops_in_edges_weighted", gcn, {"units": 3}, weighted=True, self_loops=2),
        lc("sage_mean", sage, {"units": 3}),
        lc("sage_max", sage, {"units": 3, "aggregator": "max"}),
        lc("sage_sum", sage, {"units": 3, "aggregator": "sum"}),
        lc("sage_mean_no_root", sage, {"units": 3, "root_weight": False}),
        lc("sage_mean_normalize", sage, {"units": 3, "normalize": True}),
        lc("sage_mean_weighted", sage, {"units": 3}, weighted=True),
        lc("sage_max_weighted", sage, {"units": 3, "aggregator": "max"}, weighted=True),
        lc("gat_h1", gat, {"units": 4}),
        lc("gat_h3_concat", gat, {"units": 3, "heads": 3}),
        lc("gat_h3_mean", gat, {"units": 3, "heads": 3, "concat": False}),
        lc("gat_h1_no_self_loops", gat, {"units": 4, "add_self_loops": False}),
        lc("gat_h3_mean_no_self_loops", gat,
           {"units": 3, "heads": 3, "concat": False, "add_self_loops": False}),
        lc("gat_h3_self_loops_in_edges", gat, {"units": 2, "heads": 3}, self_loops=2),
        lc("gat_h2_slope", gat, {"units": 3, "heads": 2, "negative_slope": 0.1}),
        lc("gin_eps0", gin, {}, mlp=GIN_MLP, eps_weight=0.0),
        lc("gin_eps03", gin, {"eps": 0.3}, mlp=GIN_MLP, eps_weight=0.3),
        lc("gin_train_eps", gin, {"eps": 0.1, "train_eps": True}, mlp=GIN_MLP, eps_weight=-0.2),
        lc("gin_weighted", gin, {"eps": 0.3}, weighted=True, mlp=GIN_MLP, eps_weight=0.3),
        lc("pool_sum", "GlobalGraphSumPool", {}, index=GRAPH_INDEX),
        lc("pool_mean", "GlobalGraphMeanPool", {}, index=GRAPH_INDEX),
        lc("pool_max", "GlobalGraphMaxPool", {}, index=GRAPH_INDEX),
        lc("pool_mean_unsorted", "GlobalGraphMeanPool", {}, index=GRAPH_INDEX_UNSORTED),
        lc("pool_max_unsorted", "GlobalGraphMaxPool", {}, index=GRAPH_INDEX_UNSORTED),
    ]  # fmt: skip


def layer_inputs(spec, rng, n=10, e=24, f=5):
    """The case's float32/int32 inputs, in the model's input order, and their names."""
    x = rng.standard_normal((n, f)).astype(np.float32)
    if spec["index"] is not None:
        if spec["layer"] == "GlobalGraphMaxPool":
            x[[3, 4]] = -np.abs(x[[3, 4]]) - 0.5  # graph 1 all negative: its max stays negative
        return [x, np.asarray(spec["index"], np.int32)], ["nodes", "graph_index"]
    xs = [x, random_graph(rng, n, e, spec["self_loops"])]
    if spec["weighted"]:
        xs.append(rng.uniform(0.5, 1.5, e).astype(np.float32))
    return xs, ["nodes", "edges", "edge_weight"][: len(xs)]


def run_pyg(module, xs, weighted, pool):
    """PyG's output and the float64 leaves it depends on (nodes, then the edge weights)."""
    leaves = [t64(xs[0], grad=True)] + ([t64(xs[2], grad=True)] if weighted else [])
    index = torch.from_numpy(np.asarray(xs[1], np.int64))
    if pool:
        return module(leaves[0], index), leaves
    return module(leaves[0], index.T.contiguous(), *leaves[1:]), leaves


def check_directional(numpy_forward, xs64, ws, kw, dy, arrays, float_inputs, trained, cid):
    """PyG's gradients, in our layout, against central differences of the NumPy forward pass
    along one random direction per input and weight (catches a gradient stored untransposed)."""
    rng = np.random.default_rng(0)
    ws64 = [w.astype(np.float64) for w in ws]

    def loss(xs, weights):
        return float(np.sum(numpy_forward(xs, weights, kw) * dy))

    for kind, arrays_in, which in (("x", xs64, float_inputs), ("w", ws64, trained)):
        for i in which:
            v = rng.standard_normal(np.shape(arrays_in[i]))
            plus, minus = list(arrays_in), list(arrays_in)
            plus[i], minus[i] = arrays_in[i] + 1e-6 * v, arrays_in[i] - 1e-6 * v
            if kind == "x":
                numeric = (loss(plus, ws64) - loss(minus, ws64)) / 2e-6
            else:
                numeric = (loss(xs64, plus) - loss(xs64, minus)) / 2e-6
            analytic = float(np.sum(arrays[f"d{kind}{i}"] * v))
            assert abs(numeric - analytic) <= 1e-6 * (1 + abs(analytic)), (cid, kind, i)


def layer_case(spec):
    cid, layer, kw = spec["id"], spec["layer"], spec["kwargs"]
    rng = np.random.default_rng(zlib.crc32(cid.encode()))
    xs, names = layer_inputs(spec, rng)
    shapes = weight_shapes(layer, xs[0].shape[1], kw, spec["mlp"])
    ws = [(0.5 * rng.standard_normal(s)).astype(np.float32) for s in shapes]
    if layer == "GINConv":
        ws[0] = np.asarray(spec["eps_weight"], np.float32)
    make, numpy_forward, pyg_name = LAYERS[layer]
    module, params = make(xs[0].shape[1], kw, ws, spec["weighted"])
    y, leaves = run_pyg(module, xs, spec["weighted"], spec["index"] is not None)
    xs64 = [a.astype(np.float64) if a.dtype == np.float32 else a for a in xs]
    y64 = numpy_forward(xs64, [w.astype(np.float64) for w in ws], kw)
    np.testing.assert_allclose(y.detach().numpy(), y64, rtol=1e-10, atol=1e-12, err_msg=cid)
    trainable = [p.requires_grad for p in params]
    dy = rng.standard_normal(tuple(y.shape)).astype(np.float32)
    wrt = leaves + [p for p in params if p.requires_grad]
    grads = torch.autograd.grad((y * t64(dy)).sum(), wrt)
    arrays = {f"x{i}": a for i, a in enumerate(xs)}
    arrays.update({f"w{j}": w for j, w in enumerate(ws)})
    arrays.update(y=y.detach().numpy(), dy=dy)
    float_inputs = [0] + ([2] if spec["weighted"] else [])
    arrays.update({f"dx{i}": g.numpy() for i, g in zip(float_inputs, grads)})
    trained = [j for j, t in enumerate(trainable) if t]
    # the 2-D parameters here are all Linear weights (out, in): ours is the transpose
    dws = [(g.T if g.dim() == 2 else g).numpy().reshape(ws[j].shape)
           for j, g in zip(trained, grads[len(leaves) :])]  # fmt: skip
    arrays.update({f"dw{j}": g for j, g in zip(trained, dws)})
    check_directional(numpy_forward, xs64, ws, kw, dy, arrays, float_inputs, trained, cid)
    subclass = spec["weighted"] and layer in ("SAGEConv", "GINConv")
    weighted_note = " with messages x_j * edge_weight (WeightedMessages)" if subclass else ""
    entry = {"id": cid, "kind": "layer", "layer": layer, "kwargs": kw, "mlp": spec["mlp"],
             "inputs": names, "trainable": trainable, "pyg": pyg_name + weighted_note}  # fmt: skip
    return entry, arrays


def main():
    torch.set_num_threads(1)
    entries, arrays = [], {}
    cases = [op_case(s) for s in op_specs()] + [layer_case(s) for s in layer_specs()]
    for entry, case_arrays in cases:
        entries.append(entry)
        for name, a in case_arrays.items():
            a = np.asarray(a)
            assert a.dtype in (np.float32, np.float64, np.int32), (entry["id"], name, a.dtype)
            assert np.all(np.isfinite(a)), (entry["id"], name)
            arrays[f"{entry['id']}/{name}"] = a
    with open(JSON_PATH, "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(e) for e in entries) + "\n]\n")
    save_npz_deterministic(NPZ_PATH, arrays)
    versions = f"torch_geometric {torch_geometric.__version__}, torch {torch.__version__}"
    print(f"wrote {len(entries)} cases to {JSON_PATH} and {NPZ_PATH} ({versions})")


if __name__ == "__main__":
    main()
