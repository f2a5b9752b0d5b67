"""The graph layers on CUDA in Numba's simulator: the edge-split kernel (graph_edges) against the
CPU's, and each layer's forward and gradients (the segment ops, take and the dense products they
compose) on the device against the CPU. Run by tests/test_cuda.py with the other parity files."""

import numpy as np
import pytest

import cuda_device  # noqa: F401  (the simulator or a GPU)

import graphengine as ge  # noqa: E402
from cuda_parity import Backend, check  # noqa: E402

L = ge.layers
EDGES = np.array([[0, 1], [0, 1], [1, 2], [2, 2], [3, 0], [1, 3], [2, 0], [3, 4]], "int32")
N, F = 6, 3


@pytest.mark.parametrize("dtype", ["int32", "int64"])
@pytest.mark.parametrize("loops", [False, True])
def test_graph_edges_kernel(dtype, loops):
    edges = EDGES.astype(dtype)
    src, tgt = np.full(len(edges), -9, dtype), np.full(len(edges), -9, dtype)
    check(
        Backend("cuda"), "graph_edges", edges, N, src, tgt, np.full(N, -9, dtype) if loops else None
    )


@pytest.mark.parametrize(
    "make, weighted",
    [
        (lambda: L.GraphConv(2), True),
        (lambda: L.SAGEConv(2, aggregator="max"), True),
        (lambda: L.GATConv(2, heads=2), False),
        (lambda: L.GINConv(ge.Sequential([L.Dense(2)]), train_eps=True), True),
    ],
    ids=["gcn", "sage_max", "gat", "gin"],
)
def test_layers_forward_and_gradients_match_the_cpu(make, weighted):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, F)).astype("float32")
    w = rng.uniform(0.5, 2.0, len(EDGES)).astype("float32")
    xs = [x, EDGES] + ([w] if weighted else [])
    inputs = [ge.Input(shape=a.shape[1:], dtype=a.dtype.name) for a in xs]
    model = ge.Model(inputs, make()(inputs))
    cot = rng.standard_normal(model(xs).shape).astype("float32")
    results = {}
    for name in ("cpu", "cuda"):
        with ge.device(name):
            dx, dw = model.vjp(xs, cot)
            results[name] = [model(xs), *[d for d in dx if d is not None], *dw]
    for got, expected in zip(results["cuda"], results["cpu"]):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("heads", [0, 1, 3])
def test_propagate_kernels(heads):
    rng = np.random.default_rng(1)
    src, tgt = EDGES[:, 0].copy(), EDGES[:, 1].copy()
    x = rng.standard_normal((N, max(heads, 1), 2)).astype("float32")
    w = rng.standard_normal((len(EDGES), heads)).astype("float32")
    check(
        Backend("cuda"),
        "propagate",
        x,
        src,
        tgt,
        w,
        np.full((N + 1,) + x.shape[1:], 9.0, "float32"),
    )
    dy = rng.standard_normal((N + 1,) + x.shape[1:]).astype("float32")
    if heads:
        check(
            Backend("cuda"),
            "propagate_weight_grad",
            x,
            dy,
            src,
            tgt,
            np.full(w.shape, 9.0, "float32"),
        )


def test_sage_mean_on_the_device_matches_the_cpu():
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal((N, F)).astype("float32"), EDGES]
    inputs = [ge.Input(shape=a.shape[1:], dtype=a.dtype.name) for a in xs]
    model = ge.Model(inputs, L.SAGEConv(2)(inputs))
    cot = rng.standard_normal((N, 2)).astype("float32")
    results = {}
    for name in ("cpu", "cuda"):
        with ge.device(name):
            dx, dw = model.vjp(xs, cot)
            results[name] = [model(xs), dx[0], *dw]
    for got, expected in zip(results["cuda"], results["cpu"]):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_edges_naming_a_node_outside_the_graph_raise_on_the_device_too():
    inputs = [ge.Input(shape=(F,)), ge.Input(shape=(2,), dtype="int32")]
    model = ge.Model(inputs, L.GraphConv(2)(inputs))
    edges = np.array([[0, 1], [2, 7], [1, 0]], "int32")
    with ge.device("cuda"):
        with pytest.raises(ValueError, match=r"edge 1 = \(2, 7\) names a node outside \[0, 6\)"):
            model([np.ones((N, F), "float32"), edges])
