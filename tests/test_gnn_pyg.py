"""PyTorch Geometric's numbers for the segment ops and the graph layers (issue 23): every case of
tests/pyg_reference/gnn.json (made by generate_gnn.py with PyG's scatter, softmax, GCNConv,
SAGEConv, GATConv, GINConv and global pools) replayed through the public API, the output and the
gradients of sum(y * dy) for the float inputs and every trainable weight, at float32 tolerances
against PyG's float64 numbers."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import graphengine as ge

L = ge.layers
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pyg_reference")
with open(os.path.join(HERE, "gnn.json")) as _f:
    CASES = json.load(_f)
ARRAYS = np.load(os.path.join(HERE, "gnn.npz"))
OPS = [c for c in CASES if c["kind"] == "op"]
LAYERS = [c for c in CASES if c["kind"] == "layer"]
RTOL, ATOL = 1e-4, 1e-5  # helpers.check_keras_case's float32 tolerances


def ref(case: dict, name: str) -> np.ndarray:
    return ARRAYS[f"{case['id']}/{name}"]


def close(actual, case: dict, name: str) -> None:
    expected = ref(case, name)
    assert np.shape(actual) == expected.shape, f"{case['id']}: {name} {np.shape(actual)}"
    np.testing.assert_allclose(
        actual, expected, rtol=RTOL, atol=ATOL, err_msg=f"{case['id']}: {name}"
    )


def test_reference_files_cover_the_issue():
    """Every op and layer of issue 23 has PyG cases (a case dropped from the generator fails)."""
    ops = {c["op"] for c in OPS}
    layers = {c["layer"] for c in LAYERS}
    assert ops == {"segment_sum", "segment_mean", "segment_max", "segment_softmax"}
    assert layers == {"GraphConv", "SAGEConv", "GATConv", "GINConv", "GlobalGraphSumPool",
                      "GlobalGraphMeanPool", "GlobalGraphMaxPool"}  # fmt: skip


# -- segment ops -----------------------------------------------------------------------------------
def segment_op(case: dict, data, ids):
    op = getattr(ge.ops, case["op"])
    return op(data, ids, num_segments=case["num_segments"], sorted=case["sorted"])


@pytest.mark.parametrize("case", OPS, ids=lambda c: c["id"])
def test_segment_op_eager(case):
    y = segment_op(case, ref(case, "data"), ref(case, "segment_ids"))
    assert isinstance(y, np.ndarray) and y.dtype == np.float32
    close(y, case, "y")


@pytest.mark.parametrize("case", OPS, ids=lambda c: c["id"])
def test_segment_op_in_a_model(case):
    data = ref(case, "data")
    x = ge.Input(shape=data.shape[1:], name="data")
    ids = ge.Input(shape=(), dtype="int32", name="segment_ids")
    model = ge.Model([x, ids], segment_op(case, x, ids))
    feeds = [data, ref(case, "segment_ids")]
    close(model(feeds), case, "y")
    dx, dw = model.vjp(feeds, ref(case, "dy"))
    assert dw == []
    close(dx[0], case, "ddata")


# -- layers and pools ------------------------------------------------------------------------------
INPUTS = {
    "edges": lambda: ge.Input(shape=(2,), dtype="int32", name="edges"),
    "edge_weight": lambda: ge.Input(shape=(), name="edge_weight"),
    "graph_index": lambda: ge.Input(shape=(), dtype="int32", name="graph_index"),
}


def graph_model(case: dict) -> tuple[ge.Model, L.Layer]:
    """The case's layer on Inputs as the shared design calls it, with PyG's weights set."""
    features = ref(case, "x0").shape[1]
    inputs = [ge.Input(shape=(features,), name="nodes")]
    inputs += [INPUTS[name]() for name in case["inputs"][1:]]
    kwargs = dict(case["kwargs"])
    if case["mlp"] is not None:
        kwargs["mlp"] = ge.Sequential([L.Dense(**dense) for dense in case["mlp"]])
    layer = getattr(L, case["layer"])(**kwargs)
    model = ge.Model(inputs, layer(inputs))
    layer.set_weights([ref(case, f"w{j}") for j in range(len(case["trainable"]))])
    return model, layer


@pytest.mark.parametrize("case", LAYERS, ids=lambda c: c["id"])
def test_layer_matches_pyg(case):
    model, layer = graph_model(case)
    assert len(layer.weights) == len(case["trainable"])
    assert len(layer.trainable_weights) == sum(case["trainable"])
    feeds = [ref(case, f"x{i}") for i in range(len(case["inputs"]))]
    y = model(feeds)
    assert y.dtype == np.float32
    close(y, case, "y")
    dx, dw = model.vjp(feeds, ref(case, "dy"))
    for i, name in enumerate(case["inputs"]):
        if name in ("nodes", "edge_weight"):
            close(dx[i], case, f"dx{i}")
    trained = [j for j, t in enumerate(case["trainable"]) if t]
    assert len(dw) == len(trained)
    for j, g in zip(trained, dw):  # model.trainable_weights: the layer's, in set_weights order
        close(g, case, f"dw{j}")
