"""Graph data in the engine: ops whose output size comes from the values of an id input
(`Op.extent_input`) in eager calls, plans and every run path, and the whole-batch rule for models
whose ops relate rows by index (`Op.mixes_rows`): nodes, edges and graph ids of different lengths
fed as one batch, targets and sample weights matching the outputs' rows.

The ops here are test-only stand-ins for the segment ops (NumPy forwards, CPU only)."""

from __future__ import annotations

import numpy as np
import pytest

import graphengine as ge
from graphengine.autodiff.rules import rule
from graphengine.graph.node import Node
from graphengine.graph.tensor import Shape
from graphengine.ops.base import Op, RunContext, Spec, apply
from graphengine.ops.indexing import Take


class SegmentSum(Op):
    """out[g] = sum of data rows whose id is g; (max(id) + 1, F) rows."""

    name = "test_segment_sum"
    extent_input = 1
    mixes_rows = True

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [((None,) + tuple(shapes[0][1:]), dtypes[0])]

    def forward(self, k, ins, outs, ctx: RunContext) -> None:
        outs[0][...] = 0
        np.add.at(outs[0], ins[1], ins[0])


class EdgeSum(Op):
    """out[target] += x[source] over the edges (E, 2) (reverse: out[source] += x[target])."""

    name = "test_edge_sum"
    mixes_rows = True

    def __init__(self, reverse: bool = False) -> None:
        self.reverse = reverse

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(tuple(shapes[0]), dtypes[0])]

    def forward(self, k, ins, outs, ctx: RunContext) -> None:
        x, edges = ins
        src, dst = (edges[:, 1], edges[:, 0]) if self.reverse else (edges[:, 0], edges[:, 1])
        outs[0][...] = 0
        np.add.at(outs[0], dst, x[src])


@rule(SegmentSum)
def _segment_sum(node: Node, g: list) -> list:
    return [apply(Take(0), g[0], node.inputs[1]), None]


@rule(EdgeSum)
def _edge_sum(node: Node, g: list) -> list:
    return [apply(EdgeSum(not node.op.reverse), g[0], node.inputs[1]), None]


def segment_sum(data, ids):
    return apply(SegmentSum(), data, ids)


def edge_sum(x, edges):
    return apply(EdgeSum(), x, edges)


def gnn(classes: int = 3, features: int = 4) -> ge.Model:
    """[nodes, edges, graph_index] -> [node classes (N, C), graph scores (G, C)]."""
    ge.utils.set_random_seed(0)
    nodes = ge.Input(shape=(features,), name="nodes")
    edges = ge.Input(shape=(2,), dtype="int32", name="edges")
    graph_index = ge.Input(shape=(), dtype="int32", name="graph_index")
    h = ge.layers.Dense(classes, name="lin")(edge_sum(nodes, edges))
    node_out = ge.layers.Activation("softmax", name="node_out")(h)
    graph_out = ge.layers.Dense(classes, name="graph_out")(segment_sum(h, graph_index))
    return ge.Model([nodes, edges, graph_index], [node_out, graph_out])


def node_model(classes: int = 3, features: int = 4) -> ge.Model:
    """[nodes, edges] -> node classes (N, C): full-batch node classification."""
    ge.utils.set_random_seed(0)
    nodes = ge.Input(shape=(features,), name="nodes")
    edges = ge.Input(shape=(2,), dtype="int32", name="edges")
    h = ge.layers.Dense(classes, activation="softmax")(edge_sum(nodes, edges))
    return ge.Model([nodes, edges], h)


def graph(n: int, e: int, graphs: int = 2, features: int = 4, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    nodes = rng.normal(size=(n, features)).astype(np.float32)
    edges = rng.integers(0, n, size=(e, 2)).astype(np.int32)
    graph_index = np.sort(rng.integers(0, graphs, size=n)).astype(np.int32)
    graph_index[-1] = graphs - 1
    return [nodes, edges, graph_index]


def reference(model: ge.Model, nodes, edges, graph_index) -> list:
    """The gnn model's outputs in NumPy."""
    (k1, b1), (k2, b2) = (model.get_layer(n).get_weights() for n in ("lin", "graph_out"))
    agg = np.zeros_like(nodes)
    np.add.at(agg, edges[:, 1], nodes[edges[:, 0]])
    h = agg @ k1 + b1
    e = np.exp(h - h.max(1, keepdims=True))
    pooled = np.zeros((graph_index.max() + 1, h.shape[1]), np.float32)
    np.add.at(pooled, graph_index, h)
    return [e / e.sum(1, keepdims=True), pooled @ k2 + b2]


# -- the extent protocol -------------------------------------------------------------------------
def test_eager_apply_sizes_the_output_from_the_ids():
    data = np.arange(12, dtype=np.float32).reshape(6, 2)
    out = segment_sum(data, np.array([0, 0, 3, 1, 3, 3]))
    assert out.shape == (4, 2)
    np.testing.assert_array_equal(out[3], data[[2, 4, 5]].sum(0))
    np.testing.assert_array_equal(out[2], [0, 0])  # an empty segment
    assert segment_sum(np.zeros((0, 2), np.float32), np.zeros(0, np.int64)).shape == (0, 2)


def test_eager_apply_refuses_ids_that_cannot_size_an_output():
    data = np.ones((3, 2), np.float32)
    with pytest.raises(TypeError, match=r"test_segment_sum: input 1 must hold integer ids"):
        segment_sum(data, np.array([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"input 1 holds a negative id \(-2\)"):
        segment_sum(data, np.array([0, -2, 1]))


def test_ids_computed_in_the_graph_are_refused_at_the_call():
    nodes = ge.Input(shape=(4,))
    ids = ge.Input(shape=(), dtype="int32", name="ids")
    with pytest.raises(ValueError, match=r"input 1 \('.*'\) sizes the output from its values.*"
                       r"computed in the graph"):  # fmt: skip
        segment_sum(nodes, ids + 1)
    weight = ge.Variable(np.zeros(3, np.int32), name="ids_weight")
    with pytest.raises(ValueError, match="it is a weight"):
        segment_sum(nodes, weight)
    segment_sum(nodes, ids)  # a model input is fine
    segment_sum(nodes, np.array([0, 1]))  # and a constant


def test_constant_ids_size_the_plan():
    nodes = ge.Input(shape=(2,))
    model = ge.Model(nodes, segment_sum(nodes, np.array([2, 0, 2])))
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.testing.assert_array_equal(model(x), [[2, 3], [0, 0], [4 + 0, 5 + 1]])
    assert model._extent_inputs == ()  # nothing to measure per call


def test_same_shapes_with_other_ids_get_their_own_plan():
    model = gnn()
    x = graph(6, 9, graphs=2)
    for graphs in (2, 3, 2, 5):
        x[2] = np.minimum(np.arange(6) // 2, graphs - 1).astype(np.int32)
        x[2][-1] = graphs - 1
        for got, want in zip(model(x), reference(model, *x)):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        assert model(x)[1].shape == (graphs, 3)
    assert model._last_forward is None  # the shortcut never skips measuring the ids


def test_model_call_checks_the_ids():
    model = gnn()
    nodes, edges, graph_index = graph(5, 4)
    with pytest.raises(TypeError, match=r"input 2 \('graph_index'\) must hold integer ids"):
        model([nodes, edges, graph_index.astype(np.float32)])
    with pytest.raises(ValueError, match=r"input 2 \('graph_index'\) holds a negative id"):
        model([nodes, edges, graph_index - 1])


def test_vjp_through_the_graph_ops():
    model = gnn(classes=2, features=3)
    x = graph(5, 7, graphs=2, features=3)
    cots = [np.ones((5, 2), np.float32), np.arange(4, dtype=np.float32).reshape(2, 2)]
    dx, dw = model.vjp(x, cots)
    assert dx[0].shape == (5, 3) and dx[1] is None and dx[2] is None
    assert [w.shape for w in dw] == [(3, 2), (2,), (2, 2), (2,)]
    # the graph output's kernel gradient: pooled.T @ cotangent
    k1, b1 = model.get_layer("lin").get_weights()
    agg = np.zeros_like(x[0])
    np.add.at(agg, x[1][:, 1], x[0][x[1][:, 0]])
    pooled = np.zeros((2, 2), np.float32)
    np.add.at(pooled, x[2], agg @ k1 + b1)
    np.testing.assert_allclose(dw[2], pooled.T @ cots[1], rtol=1e-5)
    with pytest.raises(ValueError, match=r"cotangent 1 must have the shape of output 1"):
        model.vjp(x, [cots[0], np.ones((3, 2), np.float32)])


# -- the whole-batch rule -----------------------------------------------------------------------
def test_whole_batch_is_structural():
    assert gnn()._whole_batch == "test_edge_sum"
    x = ge.Input(shape=(3,))
    assert ge.Model(x, ge.layers.Dense(2)(x))._whole_batch is None
    ids = ge.Input(shape=(), dtype="int32")
    table = ge.Variable(np.ones((4, 2), np.float32), name="table")
    lookup = ge.Model(ids, apply(Take(0), table, ids))  # rows of a weight: no batch rows mixed
    assert lookup._whole_batch is None and lookup._extent_inputs == ()


def test_full_batch_node_classification_with_masks():
    """fit runs the whole graph in one step, N == E included; the masks are sample weights and a
    zero-weight node's target changes nothing."""
    model = node_model()
    model.compile(ge.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    nodes, edges, _ = graph(8, 8)
    y = np.arange(8) % 3
    train = np.zeros(8, np.float32)
    train[:4] = 1
    steps = []
    batches = ge.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: steps.append(b))
    history = model.fit([nodes, edges], y, sample_weight=train, epochs=5, verbose=0,
                        callbacks=[batches])  # fmt: skip
    assert steps == [0] * 5  # one step an epoch: nothing cut 8 nodes or 8 edges into batches
    assert history.history["loss"][-1] < history.history["loss"][0]
    other = y.copy()
    other[4:] = (other[4:] + 1) % 3
    loss = model.evaluate([nodes, edges], y, sample_weight=train, verbose=0)
    assert model.evaluate([nodes, edges], other, sample_weight=train, verbose=0) == loss
    # sum_over_batch_size: the weighted sum over the kept nodes divided by all 8 nodes (Keras)
    p = model.predict([nodes, edges], verbose=0)
    per_node = -np.log(p[np.arange(8), y])
    np.testing.assert_allclose(loss, (per_node * train).sum() / 8, rtol=1e-5)
    # PyG's loss[train_mask].mean(): the mean over the kept nodes
    model.compile("sgd", ge.losses.SparseCategoricalCrossentropy(
        reduction="mean_with_sample_weight"))  # fmt: skip
    loss = model.evaluate([nodes, edges], y, sample_weight=train, verbose=0)
    np.testing.assert_allclose(loss, per_node[:4].mean(), rtol=1e-5)


def test_whole_batch_two_outputs_of_different_rows():
    model = gnn()
    model.compile("sgd", ["sparse_categorical_crossentropy", "mse"], metrics=[["accuracy"], []])
    x = graph(7, 12, graphs=3)
    y = [np.arange(7) % 3, np.ones((3, 3), np.float32)]
    sw = [np.ones(7, np.float32), np.array([1, 0, 1], np.float32)]
    logs = model.train_on_batch(x, y, sample_weight=sw, return_dict=True)
    assert set(logs) >= {"loss", "node_out_loss", "graph_out_loss"}
    logs = model.test_on_batch(x, y, return_dict=True)
    want = reference(model, *x)
    assert np.isclose(logs["graph_out_loss"], ((want[1] - 1) ** 2).mean(), rtol=1e-5)
    for got, w in zip(model.predict_on_batch(x), want):
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)
    for got, w in zip(model.predict(x, verbose=0), want):
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)
    model.fit(x, y, epochs=2, verbose=0, validation_data=(x, y))


def test_whole_batch_errors():
    model = gnn()
    model.compile("sgd", ["sparse_categorical_crossentropy", "mse"])
    x = graph(7, 12, graphs=3)
    y = [np.arange(7) % 3, np.ones((3, 3), np.float32)]
    whole = r"runs each data set whole, as one batch \(its op test_edge_sum relates rows"
    with pytest.raises(ValueError, match=whole + r".*batch_size must be None; received "
                       r"batch_size=4"):  # fmt: skip
        model.fit(x, y, batch_size=4, verbose=0)
    with pytest.raises(ValueError, match=r"validation_batch_size must be None|batch_size must"):
        model.fit(x, y, verbose=0, validation_data=(x, y), validation_batch_size=2)
    with pytest.raises(ValueError, match=r"validation_split cannot cut it"):
        model.fit(x, y, validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match=r"batch_size must be None"):
        model.evaluate(x, y, batch_size=7, verbose=0)
    with pytest.raises(ValueError, match=r"batch_size must be None"):
        model.predict(x, batch_size=7, verbose=0)
    with pytest.raises(ValueError, match=r"step count must be None or 1; received 3"):
        model.fit(x, y, steps_per_epoch=3, verbose=0)
    with pytest.raises(ValueError, match=r"target 1 \('graph_out'\) must hold one row per row of "
                       r"that output: 3 rows for these inputs \(output shape \(3, 3\)\), but it "
                       r"has shape \(7, 3\)"):  # fmt: skip
        model.fit(x, [y[0], np.ones((7, 3), np.float32)], verbose=0)
    with pytest.raises(ValueError, match=r"target 0 \('node_out'\) must hold one row per row"):
        model.train_on_batch(x, [y[0][:3], y[1]])
    with pytest.raises(ValueError, match=r"sample_weight for output 'graph_out' has shape \(7,\),"
                       r" but there are 3 samples"):  # fmt: skip
        model.fit(x, y, sample_weight=[np.ones(7), np.ones(7)], verbose=0)


def test_each_dataset_batch_is_whole():
    """A PyDataset (or generator) of graphs: each batch runs whole, predictions join by rows."""
    model = gnn()
    model.compile("adam", [None, "mse"])
    batches = [graph(n, e, graphs=g, seed=n) for n, e, g in ((5, 9, 2), (8, 3, 3), (4, 4, 1))]
    targets = [np.full((len(np.unique(b[2])), 3), 0.5, np.float32) for b in batches]

    class Graphs(ge.utils.PyDataset):
        def __len__(self):
            return len(batches)

        def __getitem__(self, i):
            return batches[i], [None, targets[i]]

    history = model.fit(Graphs(), epochs=2, verbose=0, shuffle=False)
    assert len(history.history["loss"]) == 2
    scores = model.predict(((b,) for b in batches), verbose=0)[1]
    assert scores.shape == (6, 3)
    np.testing.assert_allclose(
        scores, np.concatenate([reference(model, *b)[1] for b in batches]), rtol=1e-5, atol=1e-6
    )
    model.evaluate(((b, [None, t]) for b, t in zip(batches, targets)), verbose=0)


def test_plot_model_draws_inputs_of_different_batch_axes(tmp_path):
    ge.plot_model(gnn(), to_file=str(tmp_path / "gnn.dot"), show_shapes=True)
    text = (tmp_path / "gnn.dot").read_text()
    for name in ("nodes", "edges", "graph_index", "node_out", "graph_out"):
        assert name in text


def test_check_gradients_and_profile_of_a_whole_batch_model():
    model = gnn(classes=2, features=3)
    model.compile("sgd", ["sparse_categorical_crossentropy", "mse"])
    x = graph(5, 7, graphs=2, features=3)
    y = [np.arange(5) % 2, np.ones((2, 2), np.float32)]
    report = ge.utils.check_gradients(model, x, y, sample_weight=[np.ones(5), np.array([1, 0])])
    assert len(report.rows) == 5  # the float nodes input and four weights
    ge.utils.check_gradients(model, x)
    assert "test_segment_sum" in str(model.profile(x, repeats=1))
    model.profile(x, y, repeats=1)


def test_value_and_grad_sizes_its_plans_from_the_ids():
    model = gnn(classes=2, features=3)

    def loss(x):
        return ge.ops.sum(model(x)[1])

    step = ge.value_and_grad(loss, model.trainable_weights)
    for graphs in (2, 4):
        x = graph(6, 5, graphs=graphs, features=3)
        value, grads = step(x)
        np.testing.assert_allclose(value, reference(model, *x)[1].sum(), rtol=1e-5)
        assert grads[3].tolist() == [graphs, graphs]  # d sum / d bias of the graph output


def test_custom_train_step_gets_the_whole_data():
    seen = []

    class Model(ge.Model):
        def train_step(self, data):
            seen.append([a.shape for a in data[0]] + [data[1].shape])
            return super().train_step(data)

    base = node_model()
    model = Model(base.inputs, base.outputs)
    model.compile("sgd", "sparse_categorical_crossentropy")
    nodes, edges, _ = graph(6, 9)
    model.fit([nodes, edges], np.arange(6) % 3, epochs=2, verbose=0)
    assert seen == [[(6, 4), (9, 2), (6,)]] * 2
    with pytest.raises(ValueError, match=r"batch_size must be None"):
        model.fit([nodes, edges], np.arange(6) % 3, batch_size=2, verbose=0)


def test_distributed_whole_batch_is_refused():
    model = node_model()
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.distributed = True  # as compile(distributed=True) sets it, without starting MPI
    nodes, edges, _ = graph(6, 9)
    with pytest.raises(NotImplementedError, match=r"runs each data set whole.*distributed"):
        model.fit([nodes, edges], np.arange(6) % 3, verbose=0)
