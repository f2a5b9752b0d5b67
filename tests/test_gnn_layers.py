"""The graph layers (GraphConv, SAGEConv, GATConv, GINConv) and the global graph pools against
naive NumPy references (dense adjacency sums, per-node loops), with edge weights, self loops
already in the edges, a duplicate edge and an isolated node; float64 gradients of every input
and weight; config and save/load round trips; the errors of bad inputs and arguments. PyG's own
numbers are replayed by tests/test_gnn_pyg.py."""

import json

import numpy as np
import pytest
from gradcheck import check_model_grads

import graphengine as ge

L = ge.layers
N, F = 6, 3
# 0 -> 1 twice (a duplicate), 2 -> 2 and 4 -> 4 (self loops), node 5 without any edge
EDGES = np.array(
    [[0, 1], [0, 1], [1, 2], [2, 2], [3, 0], [1, 3], [2, 0], [3, 4], [4, 4], [0, 4]], "int32"
)
RNG = np.random.default_rng(7)
X = RNG.standard_normal((N, F))
W = RNG.uniform(0.5, 2.0, len(EDGES))
GRAPH_INDEX = np.array([0, 0, 1, 1, 1, 3], "int32")  # graph 2 has no nodes


# -- naive references ------------------------------------------------------------------------------
def adjacency(edges, weight=None):
    """A[t, s] = the summed weights of the edges s -> t."""
    A = np.zeros((N, N))
    for (s, t), w in zip(edges, np.ones(len(edges)) if weight is None else weight):
        A[t, s] += w
    return A


def gcn_ref(x, edges, weight, kernel, bias, add_self_loops=True, normalize=True):
    A = adjacency(edges, weight)
    if normalize:
        if add_self_loops:  # a node's loop keeps its weight (1 without weights), others get 1
            looped = np.isin(np.arange(N), edges[edges[:, 0] == edges[:, 1], 0])
            keep = looped & (weight is not None)
            np.fill_diagonal(A, np.where(keep, np.diag(A), 1.0))
        degree = A.sum(1)
        scale = np.where(degree == 0, 0.0, np.abs(degree + (degree == 0)) ** -0.5)
        A = scale[:, None] * A * scale[None, :]
    return A @ (x @ kernel) + bias


def incoming(edges, weight, x):
    """Per node, the messages w * x_s of its incoming edges."""
    messages = x[edges[:, 0]] * (1.0 if weight is None else weight[:, None])
    return [messages[edges[:, 1] == i] for i in range(N)]


def sage_ref(x, edges, weight, weights, aggregator="mean", normalize=False, root=True):
    kernel, rest = weights[0], weights[1:]
    reduce = {"mean": np.mean, "max": np.max, "sum": np.sum}[aggregator]
    agg = np.array([reduce(m, 0) if len(m) else np.zeros(F) for m in incoming(edges, weight, x)])
    y = agg @ kernel + rest[-1]
    if root:
        y = y + x @ rest[0]
    if normalize:
        y = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
    return y


def gat_ref(x, edges, weights, heads, units, concat=True, slope=0.2, loops=True):
    kernel, att_src, att_dst, bias = weights
    h = (x @ kernel).reshape(N, heads, units)
    if loops:
        kept = edges[edges[:, 0] != edges[:, 1]]
        edges = np.concatenate([kept, np.repeat(np.arange(N), 2).reshape(N, 2)])
    a_src, a_dst = (h * att_src).sum(-1), (h * att_dst).sum(-1)
    out = np.zeros((N, heads, units))
    for i in range(N):
        sources = edges[edges[:, 1] == i, 0]
        if len(sources):
            score = a_src[sources] + a_dst[i]
            score = np.where(score > 0, score, slope * score)
            p = np.exp(score - score.max(0))
            p = p / (p.sum(0) + 1e-16)  # PyG's softmax
            out[i] = (p[:, :, None] * h[sources]).sum(0)
    return (out.reshape(N, heads * units) if concat else out.mean(1)) + bias


def gin_ref(x, edges, weight, weights):
    eps, k1, b1, k2, b2 = weights
    h = (1 + eps) * x + adjacency(edges, weight) @ x
    return np.tanh(h @ k1 + b1) @ k2 + b2


def mlp(units=2):
    return ge.Sequential(
        [L.Dense(4, activation="tanh", dtype="float64"), L.Dense(units, dtype="float64")]
    )


# -- the generic checks ----------------------------------------------------------------------------
def graph_model(layer, xs):
    inputs = [ge.Input(shape=a.shape[1:], dtype=a.dtype.name) for a in xs]
    return ge.Model(inputs, layer(inputs))


def check_layer(layer, xs, reference, grad=True):
    """Reference after random weights; eager call == model; config (JSON) round trip; float64
    gradients of the float inputs and every trainable weight."""
    model = graph_model(layer, xs)
    rng = np.random.default_rng(3)
    weights = [0.5 * rng.standard_normal(w.shape) for w in layer.get_weights()]
    layer.set_weights(weights)
    y = model(xs)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, reference(weights), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer(xs), y, rtol=1e-12, atol=1e-14)
    config = json.loads(json.dumps(ge.layers.serialization.serialize_layer(layer)))
    clone = ge.layers.serialization.deserialize_layer(config)
    assert clone.get_config() == layer.get_config()
    clone_model = graph_model(clone, xs)
    clone.set_weights(weights)
    np.testing.assert_allclose(clone_model(xs), y, rtol=1e-12, atol=1e-14)
    if grad:
        check_model_grads(model, xs)
    return model


# -- GraphConv -------------------------------------------------------------------------------------
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"add_self_loops": False}, {"normalize": False}, {"use_bias": False}],
    ids=["gcn", "no_loops", "plain_sum", "no_bias"],
)
def test_graph_conv_matches_the_dense_formula(kwargs, weighted):
    layer = L.GraphConv(4, dtype="float64", **kwargs)
    xs = [X, EDGES] + ([W] if weighted else [])
    options = {k: v for k, v in kwargs.items() if k != "use_bias"}

    def reference(weights):
        bias = weights[1] if len(weights) > 1 else 0.0
        return gcn_ref(X, EDGES, W if weighted else None, weights[0], bias, **options)

    check_layer(layer, xs, reference)
    assert [w.shape for w in layer.weights] == [(F, 4)] + ([(4,)] if layer.use_bias else [])


def test_graph_conv_by_hand_self_loop_weight_and_isolated_node():
    """A weighted self loop keeps its weight; a node without edges sees only itself (with self
    loops) or nothing (without them: degree 0 gives a zero scale, not inf)."""
    layer = L.GraphConv(2, use_bias=False, dtype="float64")
    y = layer([X, EDGES, W])
    h = X @ layer.get_weights()[0]
    deg1, deg2 = W[0] + W[1] + 1.0, W[2] + W[3]  # 0 -> 1 twice + a new loop; 1 -> 2 + its loop
    np.testing.assert_allclose(y[2], W[3] / deg2 * h[2] + W[2] / np.sqrt(deg1 * deg2) * h[1])
    np.testing.assert_allclose(y[5], h[5])
    without = L.GraphConv(2, add_self_loops=False, use_bias=False, dtype="float64")
    without([X, EDGES])
    without.set_weights(layer.get_weights())
    assert np.all(without([X, EDGES])[5] == 0.0)


# -- SAGEConv --------------------------------------------------------------------------------------
@pytest.mark.parametrize("aggregator", ["mean", "max", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
def test_sage_conv_matches_the_reference(aggregator, weighted):
    layer = L.SAGEConv(4, aggregator=aggregator, dtype="float64")
    weight = W if weighted else None
    xs = [X, EDGES] + ([W] if weighted else [])
    check_layer(layer, xs, lambda ws: sage_ref(X, EDGES, weight, ws, aggregator))
    assert [w.name for w in layer.weights] == ["kernel", "root_kernel", "bias"]


@pytest.mark.parametrize(
    "kwargs",
    [{"normalize": True}, {"root_weight": False}, {"root_weight": False, "use_bias": False}],
)
def test_sage_conv_options(kwargs):
    layer = L.SAGEConv(3, dtype="float64", **kwargs)
    root, bias = kwargs.get("root_weight", True), kwargs.get("use_bias", True)

    def reference(weights):
        weights = weights if bias else [*weights, 0.0]
        return sage_ref(
            X, EDGES, None, weights, normalize=kwargs.get("normalize", False), root=root
        )

    check_layer(layer, [X, EDGES], reference)
    assert len(layer.weights) == 1 + root + bias


# -- GATConv ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        {"heads": 1},
        {"heads": 3},
        {"heads": 3, "concat": False},
        {"heads": 2, "add_self_loops": False, "negative_slope": 0.1},
    ],
    ids=["one_head", "three_heads", "averaged", "no_loops"],
)
def test_gat_conv_matches_the_reference(kwargs):
    layer = L.GATConv(2, dtype="float64", **kwargs)
    heads, concat = kwargs["heads"], kwargs.get("concat", True)

    def reference(weights):
        return gat_ref(
            X,
            EDGES,
            weights,
            heads,
            2,
            concat,
            kwargs.get("negative_slope", 0.2),
            kwargs.get("add_self_loops", True),
        )

    check_layer(layer, [X, EDGES], reference)
    width = heads * 2 if concat else 2
    assert [w.shape for w in layer.weights] == [(F, heads * 2), (heads, 2), (heads, 2), (width,)]


def test_gat_conv_dropout_acts_in_training_only_and_is_seeded():
    xs = [X, EDGES]
    layers = [L.GATConv(2, heads=2, dropout=0.5, seed=4, dtype="float64") for _ in range(2)]
    models = [graph_model(layer, xs) for layer in layers]
    layers[1].set_weights(layers[0].get_weights())
    eval_y = models[0](xs)
    np.testing.assert_array_equal(models[0](xs, training=False), models[1](xs, training=False))
    train = [m(xs, training=True) for m in models]
    np.testing.assert_array_equal(train[0], train[1])  # one seed, one sequence of masks
    assert not np.allclose(train[0], eval_y)
    # node 5 attends to itself alone (coefficient 1): per head, dropped (0) or scaled to 2
    bias = layers[0].get_weights()[3]
    for got, plain in zip((train[0][5] - bias).reshape(2, 2), (eval_y[5] - bias).reshape(2, 2)):
        assert np.allclose(got, 0) or np.allclose(got, 2 * plain), (got, plain)


# -- GINConv ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, weighted",
    [({}, False), ({"eps": 0.3, "train_eps": True}, False), ({"eps": -0.5}, True)],
    ids=["eps0", "train_eps", "weighted"],
)
def test_gin_conv_matches_the_reference(kwargs, weighted):
    layer = L.GINConv(mlp(), dtype="float64", **kwargs)
    weight = W if weighted else None
    xs = [X, EDGES] + ([W] if weighted else [])
    check_layer(layer, xs, lambda ws: gin_ref(X, EDGES, weight, ws))
    eps = layer.weights[0]
    assert eps.shape == () and eps.trainable == kwargs.get("train_eps", False)
    assert len(layer.trainable_weights) == 4 + kwargs.get("train_eps", False)


def test_gin_conv_starts_from_its_eps():
    layer = L.GINConv(mlp(), eps=0.25, dtype="float64")
    layer([X, EDGES])
    assert layer.get_weights()[0] == 0.25
    assert layer.get_config()["eps"] == 0.25 and layer.get_config()["mlp"]["class_name"]


# -- pools -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cls, reduce",
    [
        (L.GlobalGraphSumPool, np.sum),
        (L.GlobalGraphMeanPool, np.mean),
        (L.GlobalGraphMaxPool, np.max),
    ],
)
def test_global_graph_pools(cls, reduce):
    """One row per graph id up to the largest; a graph id without nodes gives zeros."""
    xs = [X, GRAPH_INDEX]
    expected = np.zeros((4, F))
    for g in (0, 1, 3):
        expected[g] = reduce(X[GRAPH_INDEX == g], 0)
    np.testing.assert_allclose(cls(dtype="float64")(xs), expected)
    check_layer(cls(dtype="float64"), xs, lambda ws: expected)


# -- a whole model: training, save and load --------------------------------------------------------
def test_a_gnn_model_trains_saves_and_loads(tmp_path):
    nodes = ge.Input(shape=(F,), name="nodes")
    edges = ge.Input(shape=(2,), dtype="int32", name="edges")
    weight = ge.Input(shape=(), name="edge_weight")
    index = ge.Input(shape=(), dtype="int32", name="graph_index")
    h = L.GraphConv(4, activation="relu")([nodes, edges, weight])
    h = L.SAGEConv(4, aggregator="max", normalize=True)([h, edges, weight])
    h = L.GATConv(2, heads=2, dropout=0.2, seed=1)([h, edges])
    h = L.GINConv(ge.Sequential([L.Dense(3)]), train_eps=True)([h, edges, weight])
    out = L.GlobalGraphMeanPool()([h, index])
    model = ge.Model([nodes, edges, weight, index], out)
    xs = [X.astype("float32"), EDGES, W.astype("float32"), GRAPH_INDEX]
    model.compile(optimizer="adam", loss="mse")
    y = np.ones((4, 3), "float32")
    before = model.evaluate(xs, y, verbose=0)
    model.fit(xs, y, epochs=5, verbose=0)
    assert model.evaluate(xs, y, verbose=0) < before
    path = tmp_path / "gnn.gez"
    model.save(path)
    loaded = ge.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(xs, verbose=0), model.predict(xs, verbose=0))
    names = {"GraphConv", "SAGEConv", "GATConv", "GINConv", "GlobalGraphMeanPool"}
    assert names <= {type(layer).__name__ for layer in loaded.layers}


# -- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, inputs, error, match",
    [
        (lambda: L.GraphConv(2), lambda: [X], ValueError, r"expects inputs \[nodes, edges\]"),
        (lambda: L.GraphConv(2), lambda: X, ValueError, "received 1 input"),
        (lambda: L.GraphConv(2), lambda: (X, EDGES, W, W), ValueError, "received 4 inputs"),
        (lambda: L.GATConv(2), lambda: [X, EDGES, W], ValueError, r"expects inputs \[nodes, "),
        (lambda: L.GraphConv(2), lambda: [X, EDGES.astype("float32")], TypeError, "integer"),
        (lambda: L.SAGEConv(2), lambda: [X, EDGES[:, :1]], ValueError, r"shape \(E, 2\)"),
        (lambda: L.GINConv(mlp()), lambda: [X[None], EDGES], ValueError, r"shape \(N, F\)"),
        (lambda: L.GraphConv(2), lambda: [X, EDGES, W[:, None]], ValueError, r"shape \(E,\)"),
        (lambda: L.GraphConv(2), lambda: [X, EDGES, W[:9]], ValueError, "one weight per edge"),
        (lambda: L.GraphConv(2), lambda: [X, EDGES, EDGES[:, 0]], TypeError, "floating point"),
        (
            lambda: L.SAGEConv(2),
            lambda: [X, EDGES + 2],
            ValueError,
            r"edge 7 = \(5, 6\) names a node outside \[0, 6\)",
        ),
        (lambda: L.GATConv(2), lambda: [X, EDGES - 1], ValueError, r"edge 0 = \(-1, 0\)"),
    ],
)
def test_bad_inputs_raise_at_the_call(make, inputs, error, match):
    with pytest.raises(error, match=match):
        make()(inputs())


def test_bad_edges_in_a_model_raise_when_it_runs():
    model = graph_model(L.GraphConv(2), [X, EDGES, W])
    with pytest.raises(ValueError, match=r"edge 1 = \(6, 1\) names a node outside \[0, 6\)"):
        bad = EDGES.copy()
        bad[1, 0] = 6
        model([X, bad, W])
    with pytest.raises(ValueError, match="edge_weight must have shape"):
        model([X, EDGES, W[:9]])


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: L.SAGEConv(2, aggregator="median"), ValueError, "aggregator must be one of"),
        (lambda: L.GATConv(2, heads=0), ValueError, "heads"),
        (lambda: L.GATConv(2, heads=1.5), TypeError, "heads must be an integer"),
        (lambda: L.GATConv(2, dropout=1.0), ValueError, r"dropout must be in \[0, 1\)"),
        (lambda: L.GraphConv(0), ValueError, "units"),
        (lambda: L.GINConv(5), TypeError, "mlp must be a ge layer or model"),
        (lambda: L.GraphConv(2, aggregator="sum"), TypeError, "aggregator"),
    ],
)
def test_bad_arguments_raise(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    "inputs, error, match",
    [
        (lambda: [X], ValueError, r"expects inputs \[nodes, graph_index\]"),
        (lambda: [X, GRAPH_INDEX.astype("float32")], TypeError, "integer graph ids"),
        (lambda: [X, GRAPH_INDEX[:5]], ValueError, "one graph id per node"),
        (lambda: [X, GRAPH_INDEX - 1], ValueError, r"negative id \(-1\)"),
    ],
)
def test_bad_pool_inputs_raise(inputs, error, match):
    with pytest.raises(error, match=match):
        L.GlobalGraphSumPool()(inputs())


# -- propagate, the layers' fused message passing ----------------------------------------------
def propagate_ref(x, src, tgt, count, weight=None):
    out = np.zeros((count,) + x.shape[1:])
    for e, (s, t) in enumerate(zip(src, tgt)):
        w = 1.0 if weight is None else weight[e]
        out[t] += (w[:, None] if np.ndim(w) else w) * x[s]
    return out


@pytest.mark.parametrize("weights", ["none", "edge", "heads"])
def test_propagate_against_a_loop_and_its_gradients(weights):
    from gradcheck import check_grads

    from graphengine.ops.graph_conv import propagate

    rng = np.random.default_rng(3)
    src, tgt = EDGES[:, 0].copy(), EDGES[:, 1].copy()
    x = rng.standard_normal((N, 2, 3))
    w = {"none": None, "edge": W.copy(), "heads": rng.standard_normal((len(EDGES), 2))}[weights]
    like = np.zeros((N + 1, 1))  # one more target row than sources: it stays 0
    got = propagate(x, src, tgt, like, w)
    np.testing.assert_allclose(got, propagate_ref(x, src, tgt, N + 1, w), rtol=1e-12)
    if w is None:
        check_grads(lambda a: propagate(a, src, tgt, like), x)
    else:
        check_grads(lambda a, b: propagate(a, src, tgt, like, b), x, w)


def test_propagate_rejects_ids_and_weights_that_do_not_fit():
    from graphengine.ops.graph_conv import propagate

    x, like = np.ones((3, 2)), np.ones((3, 1))
    with pytest.raises(ValueError, match=r"edge 1 = \(0, 3\) names a node outside"):
        propagate(x, np.array([0, 0]), np.array([1, 3]), like)
    with pytest.raises(ValueError, match=r"edge 0 = \(-1, 1\)"):
        propagate(x, np.array([-1]), np.array([1]), like)
    with pytest.raises(ValueError, match="weight must be"):
        propagate(x, np.array([0, 1]), np.array([1, 2]), like, np.ones((2, 3)))
    with pytest.raises(ValueError, match="2 sources but 1 targets"):
        propagate(x, np.array([0, 1]), np.array([1]), like)
    empty = propagate(x, np.zeros(0, "int32"), np.zeros(0, "int32"), like)
    np.testing.assert_array_equal(empty, np.zeros((3, 2)))
