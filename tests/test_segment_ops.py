"""The segment ops (ge.ops.segment_sum / _mean / _max / _softmax, graphengine/ops/segment.py) and
take's row path: against naive NumPy references, eagerly and through compiled graphs (num_segments
an int, None, or another tensor's rows), float64 gradient checks through tests/gradcheck.py,
torch's tie rule for max, empty segments and inputs, NaN and inf, and every argument error."""

import numpy as np
import pytest

import graphengine as ge
from gradcheck import check_grads
from graphengine.ops.segment import (
    segment_max_like,
    segment_mean_like,
    segment_softmax_like,
    segment_sum_like,
)

ops = ge.ops
OPS = ["segment_sum", "segment_mean", "segment_max", "segment_softmax"]
LIKE = {
    "segment_sum": segment_sum_like,
    "segment_mean": segment_mean_like,
    "segment_max": segment_max_like,
    "segment_softmax": segment_softmax_like,
}


# -- naive references: one row at a time --------------------------------------------------------
def reference(name, data, ids, segments):
    data = np.asarray(data, np.float64)
    groups = [[data[i] for i in range(len(ids)) if ids[i] == s] for s in range(segments)]
    zero = np.zeros(data.shape[1:])
    if name == "segment_sum":
        return np.array([np.sum(g, axis=0) if g else zero for g in groups]).reshape(
            (segments,) + data.shape[1:]
        )
    if name == "segment_mean":
        return np.array([np.mean(g, axis=0) if g else zero for g in groups]).reshape(
            (segments,) + data.shape[1:]
        )
    if name == "segment_max":
        return np.array([np.max(g, axis=0) if g else zero for g in groups]).reshape(
            (segments,) + data.shape[1:]
        )
    out = np.empty_like(data)  # torch_geometric.utils.softmax
    for s, g in enumerate(groups):
        if g:
            rows = ids == s
            e = np.exp(data[rows] - np.max(g, axis=0))
            out[rows] = e / (e.sum(axis=0) + 1e-16)
    return out


def run(fn, *arrays):
    """fn applied to Inputs of the arrays' full shapes, compiled into a Model, run on arrays."""
    inputs = [ge.Input(batch_shape=np.shape(a), dtype=np.asarray(a).dtype) for a in arrays]
    return ge.Model(inputs, fn(*inputs))(list(arrays))


def graph_run(fn, *arrays):
    """fn on Inputs with a None first axis (the model's inputs: nodes, ids), compiled, run."""
    inputs = [ge.Input(shape=np.shape(a)[1:], dtype=np.asarray(a).dtype) for a in arrays]
    return ge.Model(inputs, fn(*inputs))(list(arrays))


RNG = np.random.default_rng(0)
DATA = RNG.standard_normal((7, 2, 3))
IDS = np.array([3, 0, 3, 1, 3, 0, 1], "int32")  # unsorted, repeats, segments 2 and 4 empty


@pytest.mark.parametrize("name", OPS)
def test_eager_and_graph_match_the_reference(name):
    fn = getattr(ops, name)
    want = reference(name, DATA, IDS, 5)
    np.testing.assert_allclose(fn(DATA, IDS, 5), want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(fn(DATA, IDS, num_segments=5, sorted=True), want, rtol=1e-12)
    got = graph_run(lambda d, i: fn(d, i, num_segments=5), DATA, IDS)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    like = np.zeros((5, 1))  # only its rows count
    got = graph_run(lambda d, i, n: LIKE[name](d, i, n), DATA, IDS, like)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(LIKE[name](DATA, IDS, like), want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", OPS)
def test_num_segments_none_is_max_id_plus_one(name):
    """Sized from the ids' values (Op.extent_input), eagerly and from a model input."""
    fn = getattr(ops, name)
    want = reference(name, DATA, IDS, 4)
    np.testing.assert_allclose(fn(DATA, IDS), want, rtol=1e-12, atol=1e-15)
    got = graph_run(lambda d, i: fn(d, i), DATA, IDS)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_symbolic_shapes():
    nodes, ids = ge.Input(shape=(4, 2)), ge.Input(shape=(), dtype="int32")
    assert ops.segment_sum(nodes, ids, 6).shape == (6, 4, 2)
    assert ops.segment_max(nodes, ids).shape == (None, 4, 2)
    assert ops.segment_softmax(nodes, ids, 3).shape == (None, 4, 2)
    assert segment_mean_like(nodes, ids, ge.Input(shape=(9,))).shape == (None, 4, 2)
    assert ops.segment_sum(nodes, ids, 6).dtype == "float32"


def test_integer_data_sums_in_float32():
    """As Keras's torch backend (data.float())."""
    got = ops.segment_sum(np.array([1, 2, 10, 20, 100, 200]), np.array([0, 0, 1, 1, 2, 2]), 3)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, [3, 30, 300])


def test_sums_accumulate_in_row_order():
    """Deterministic: float32 sums equal np.add.at's (rows added in order), bit for bit."""
    data = RNG.standard_normal((3000, 5)).astype("float32") * 1e3
    ids = RNG.integers(0, 4, 3000).astype("int32")
    want = np.zeros((4, 5), "float32")
    np.add.at(want, ids, data)
    np.testing.assert_array_equal(ops.segment_sum(data, ids, 4), want)
    np.testing.assert_array_equal(ops.segment_sum(data, ids, 4), ops.segment_sum(data, ids, 4))


# -- gradients ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", OPS)
def test_gradients_by_central_differences(name):
    """Random data has no ties, where max is differentiable."""
    fn = getattr(ops, name)
    check_grads(lambda d, i: fn(d, i, num_segments=5), DATA, IDS)
    check_grads(lambda d, i, n: LIKE[name](d, i, n), DATA[:, 0], IDS, np.zeros((5, 2)))


def test_max_gradient_shares_ties_as_torch():
    """torch 2.13: zeros(4, 2).scatter_reduce(0, idx, x, "amax", include_self=False) (PyTorch
    Geometric's CPU max) and its backward for g = [[1, 2], [3, 4], [5, 6], [7, 8]]: ties share
    evenly; a NaN maximum gives NaN to its whole segment's column (0 * (g / 0)). One difference
    on purpose: torch counts the zero it starts from as one more tie where a maximum is exactly
    0 (row 5 column 1 gets 4 there), halving the derivative of a lone 0; here it gets 8."""
    nan = np.nan
    x = np.array([[1, 5], [3, 5], [3, 2], [7, nan], [7, 1], [-1, 0]], "float64")
    ids = np.array([0, 0, 0, 1, 1, 3], "int32")
    g = np.array([[1.0, 2], [3, 4], [5, 6], [7, 8]])
    model = ge.Model(d := ge.Input(batch_shape=(6, 2), dtype="float64"), ops.segment_max(d, ids, 4))
    np.testing.assert_array_equal(model(x), [[3, 5], [7, nan], [0, 0], [-1, 0]])
    (dx,), _ = model.vjp(x, g)
    want = [[0, 1], [0.5, 1], [0.5, 0], [1.5, nan], [1.5, nan], [7, 8]]
    np.testing.assert_array_equal(dx, want)


def test_mean_gradient_divides_by_the_count():
    x, ids = np.ones((3, 1)), np.array([1, 1, 0], "int32")
    model = ge.Model([d := ge.Input(batch_shape=(3, 1), dtype="float64")],
                     ops.segment_mean(d, ids, 3))  # fmt: skip
    (dx,), _ = model.vjp(x, np.array([[6.0], [4.0], [9.0]]))
    np.testing.assert_array_equal(dx, [[2.0], [2.0], [6.0]])


# -- empty, NaN, inf ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", OPS)
def test_empty_inputs(name):
    fn, data, ids = getattr(ops, name), np.zeros((0, 3)), np.zeros((0,), "int32")
    rows = 0 if name == "segment_softmax" else 2
    assert fn(data, ids, 2).shape == (rows, 3)
    np.testing.assert_array_equal(fn(data, ids, 2), np.zeros((rows, 3)))
    assert fn(data, ids).shape == (0, 3)
    assert fn(data, ids, 0).shape == (0, 3)
    assert fn(np.zeros((3, 0)), np.array([0, 1, 1]), 2).shape[1:] == (0,)


def test_nan_and_inf_propagate():
    inf, nan = np.inf, np.nan
    data = np.array([[1.0, inf], [nan, 2.0], [3.0, -inf], [4.0, 1.0]])
    ids = np.array([0, 0, 1, 1], "int32")
    np.testing.assert_array_equal(ops.segment_sum(data, ids, 2), [[nan, inf], [7, -inf]])
    np.testing.assert_array_equal(ops.segment_mean(data, ids, 2), [[nan, inf], [3.5, -inf]])
    np.testing.assert_array_equal(ops.segment_max(data, ids, 2), [[nan, inf], [4, 1]])
    np.testing.assert_array_equal(ops.segment_max(-np.full((2, 1), inf), [0, 0], 1), [[-inf]])
    soft = ops.segment_softmax(data, ids, 2)  # inf - inf is NaN, as PyTorch Geometric's
    np.testing.assert_array_equal(soft[:2], [[nan, nan], [nan, nan]])
    np.testing.assert_allclose(soft[2:], reference("segment_softmax", data[2:], ids[2:] - 1, 1))


# -- argument errors ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", OPS)
def test_out_of_range_ids_raise(name):
    fn = getattr(ops, name)
    with pytest.raises(ValueError, match=rf"{name}: segment_ids holds 3, outside \[0, 3\)"):
        fn(DATA[:2], np.array([0, 3]), 3)
    with pytest.raises(ValueError, match=rf"{name}: segment_ids holds -1, outside \[0, 3\)"):
        fn(DATA[:2], np.array([0, -1]), 3)
    with pytest.raises(ValueError, match=rf"{name}: input 1 holds a negative id \(-2\)"):
        fn(DATA[:2], np.array([0, -2]))
    model = ge.Model([i := ge.Input(shape=(), dtype="int32")], fn(DATA[:2], i, 2))
    with pytest.raises(ValueError, match=rf"{name}: segment_ids holds 2, outside \[0, 2\)"):
        model(np.array([1, 2], "int32"))


def test_argument_errors_name_the_op_and_the_value():
    d = DATA[:2]
    with pytest.raises(TypeError, match="segment_sum: segment_ids must be integers, received "):
        ops.segment_sum(d, np.array([0.0, 1.0]), 2)
    with pytest.raises(ValueError, match=r"segment_max: segment_ids must be 1-D, received shape"):
        ops.segment_max(d, np.zeros((2, 1), "int32"), 2)
    with pytest.raises(ValueError, match=r"segment_mean: segment_ids must hold one id per row"):
        ops.segment_mean(d, np.array([0, 1, 1]), 2)
    with pytest.raises(ValueError, match=r"segment_softmax: num_segments must be an integer >= 0"):
        ops.segment_softmax(d, np.array([0, 1]), -1)
    with pytest.raises(TypeError, match=r"segment_sum: num_segments must be an integer"):
        ops.segment_sum(d, np.array([0, 1]), 2.0)
    with pytest.raises(TypeError, match=r"segment_sum: sorted must be a bool, received sorted=1"):
        ops.segment_sum(d, np.array([0, 1]), 2, sorted=1)
    with pytest.raises(ValueError, match=r"segment_sum: data must have rank >= 1"):
        ops.segment_sum(np.float64(1.0), np.array([0]), 2)
    with pytest.raises(TypeError, match=r"segment_max: data must be float32 or float64"):
        ops.segment_max(d.astype("float16"), np.array([0, 1]), 2)
    nodes = ge.Input(shape=(3,))
    with pytest.raises(ValueError, match=r"segment_sum: segment_ids must hold one id per row"):
        ops.segment_sum(ge.Input(batch_shape=(4, 3)), ge.Input(batch_shape=(5,), dtype="int32"))
    with pytest.raises(ValueError, match=r"segment_sum: input 1 .* computed in the graph"):
        ops.segment_sum(nodes, ops.cast(ge.Input(shape=()), "int32"))


def test_configs_round_trip(tmp_path):
    nodes, ids = ge.Input(shape=(3,)), ge.Input(shape=(), dtype="int32")
    pooled = ops.segment_max(nodes, ids, 4) + segment_mean_like(nodes, ids, nodes)[:4]
    model = ge.Model([nodes, ids], [pooled, ops.segment_softmax(nodes, ids)])
    model.save(tmp_path / "m.gez")
    loaded = ge.models.load_model(tmp_path / "m.gez")
    data, ids = DATA[:, 0].astype("float32"), np.array([3, 0, 3, 1, 3, 0, 2], "int32")
    for a, b in zip(model([data, ids]), loaded([data, ids])):
        np.testing.assert_array_equal(a, b)


# -- take's row path ----------------------------------------------------------------------------
def test_take_rows_on_the_pool_and_back(monkeypatch, set_threads):
    """A gather split over OpenBLAS's threads (any work pays for them here), negative ids
    included, and its gradient added back in row order (np.add.at, bit for bit)."""
    from graphengine_kernels.cpu import threads

    monkeypatch.setattr(threads, "_MIN_WORK", 0)
    set_threads(2)
    x = RNG.standard_normal((300, 8)).astype("float32")
    idx = RNG.integers(-300, 300, 20000).astype("int32")
    np.testing.assert_array_equal(ops.take(x, idx, axis=0), x[idx])
    dy = RNG.standard_normal((20000, 8)).astype("float32")
    model = ge.Model(t := ge.Input(batch_shape=x.shape), ops.take(t, idx, axis=0))
    (dx,), _ = model.vjp(x, dy)
    want = np.zeros_like(x)
    np.add.at(want, idx, dy)
    np.testing.assert_array_equal(dx, want)


def test_take_mixes_rows_along_axis_0_only():
    nodes, edges = ge.Input(shape=(4,)), ge.Input(shape=(2,), dtype="int32")
    assert ops.take(nodes, edges[:, 0], axis=0).node.op.mixes_rows
    assert not ops.take(nodes, np.array([1, 2]), axis=1).node.op.mixes_rows
    assert ops.segment_sum(nodes, edges[:, 1], 3).node.op.mixes_rows
