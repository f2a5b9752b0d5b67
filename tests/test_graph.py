"""The functional API: multi-input/output models, shared layers, nested models, Sequential,
`model.graph` / `model.backward_graph`, gradients through the graph (fan-out, frozen layers,
integer inputs, Lambda), ops outside layers, and the graph-building error messages."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

import graphengine as ge
from gradcheck import check_model_grads

L = ge.layers
F64 = "float64"


def inp(shape, name=None, dtype=F64):
    return ge.Input(shape=shape, dtype=dtype, name=name)


def dense(units, name=None, **kwargs):
    return L.Dense(units, dtype=F64, name=name, **kwargs)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def np_dense(layer, x, act=lambda y: y):
    kernel, bias = layer.get_weights()
    return act(x @ kernel + bias)


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# -- multi-input / multi-output ------------------------------------------------------------------
def two_in_two_out(struct="list"):
    a, b = inp((3,), "a"), inp((2,), "b")
    da, o1, o2 = (
        dense(4, "da", activation="tanh"),
        dense(1, "o1"),
        dense(2, "o2", activation="sigmoid"),
    )
    h = L.Concatenate(name="cat", dtype=F64)([da(a), b])
    y1, y2 = o1(h), o2(h)
    model = ge.Model([a, b], [y1, y2], name="mimo")
    if struct == "dict":  # the same graph, as dicts: both models share every layer
        model = (model, ge.Model({"a": a, "b": b}, {"y1": y1, "y2": y2}, name="mimo_dict"))

    def reference(xa, xb):
        h = np.concatenate([np_dense(da, xa, np.tanh), xb], axis=-1)
        return np_dense(o1, h), np_dense(o2, h, np_sigmoid)

    return model, reference


def test_multi_input_multi_output_lists():
    model, reference = two_in_two_out()
    xa, xb = rand(5, 3), rand(5, 2, seed=1)
    out = model([xa, xb])
    assert isinstance(out, list) and len(out) == 2
    assert [t.shape for t in model.outputs] == [(None, 1), (None, 2)]
    want = reference(xa, xb)
    for got, w in zip(out, want):
        assert got.shape == w.shape
        np.testing.assert_allclose(got, w, rtol=1e-12)
    dx, dw = model.vjp([xa, xb], [np.ones((5, 1)), np.ones((5, 2))])
    assert [d.shape for d in dx] == [(5, 3), (5, 2)]
    assert len(dw) == len(model.trainable_weights) == 6
    check_model_grads(model, [xa, xb])


def test_multi_input_multi_output_dicts():
    (list_model, model), reference = two_in_two_out("dict")
    xa, xb = rand(4, 3), rand(4, 2, seed=1)
    out = model({"b": xb, "a": xa})  # key order does not matter
    assert isinstance(out, dict) and set(out) == {"y1", "y2"}
    want = reference(xa, xb)
    np.testing.assert_allclose(out["y1"], want[0], rtol=1e-12)
    np.testing.assert_allclose(out["y2"], want[1], rtol=1e-12)
    c1, c2 = rand(4, 1, seed=2), rand(4, 2, seed=3)
    dx, dw = model.vjp({"a": xa, "b": xb}, {"y1": c1, "y2": c2})
    dx_ref, dw_ref = list_model.vjp([xa, xb], [c1, c2])
    for got, ref in zip(dx + dw, dx_ref + dw_ref):
        np.testing.assert_allclose(got, ref, rtol=1e-12)
    check_model_grads(list_model, [xa, xb])


def test_dict_cotangents_are_matched_by_key():
    (list_model, model), _ = two_in_two_out("dict")
    xa, xb = rand(4, 3), rand(4, 2, seed=1)
    c1, c2 = rand(4, 1, seed=2), rand(4, 2, seed=3)
    dx, dw = model.vjp({"a": xa, "b": xb}, {"y2": c2, "y1": c1})  # keys in another order
    dx_ref, dw_ref = list_model.vjp([xa, xb], [c1, c2])
    for got, ref in zip(dx + dw, dx_ref + dw_ref):
        np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_dict_inputs_are_matched_by_key_as_in_keras():
    # Keras 3 matches a dict of arrays to a dict of Inputs by key, whatever the Inputs are named
    left, right = inp((3,)), inp((2,))
    out = L.Concatenate(name="kcat", dtype=F64)([left, right])
    model = ge.Model({"left": left, "right": right}, out, name="by_key")
    xl, xr = rand(2, 3), rand(2, 2, seed=1)
    np.testing.assert_array_equal(
        model({"left": xl, "right": xr}), np.concatenate([xl, xr], axis=-1)
    )


def test_single_input_in_a_list():
    x = inp((3,), "single")
    d = dense(2, "single_d")
    model = ge.Model([x], [d(x)])
    xs = rand(2, 3)
    out = model([xs])
    assert isinstance(out, list) and len(out) == 1
    np.testing.assert_allclose(out[0], np_dense(d, xs), rtol=1e-12)


# -- shared layers -------------------------------------------------------------------------------
def test_shared_layer_shares_weights_and_accumulates_gradients():
    a, b = inp((3,), "sa"), inp((3,), "sb")
    d = dense(2, "shared")
    model = ge.Model([a, b], L.Add(name="shared_sum", dtype=F64)([d(a), d(b)]))
    assert len(model.trainable_weights) == 2
    assert {"shared", "shared#1"} <= set(model.graph.nodes)
    xa, xb = rand(4, 3), rand(4, 3, seed=1)
    np.testing.assert_allclose(model([xa, xb]), np_dense(d, xa) + np_dense(d, xb), rtol=1e-12)
    c = rand(4, 2, seed=2)
    (dxa, dxb), (dk, db) = model.vjp([xa, xb], c)
    kernel = d.get_weights()[0]
    np.testing.assert_allclose(dk, xa.T @ c + xb.T @ c, rtol=1e-12)  # both uses contribute
    np.testing.assert_allclose(db, 2 * c.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(dxa, c @ kernel.T, rtol=1e-12)
    np.testing.assert_allclose(dxb, c @ kernel.T, rtol=1e-12)
    check_model_grads(model, [xa, xb])


def test_shared_layer_called_in_sequence():
    x = inp((3,), "seq_share_x")
    d = dense(3, "twice", activation="tanh")
    model = ge.Model(x, d(d(x)))
    xs = rand(2, 3)
    np.testing.assert_allclose(
        model(xs), np_dense(d, np_dense(d, xs, np.tanh), np.tanh), rtol=1e-12
    )
    assert len(model.trainable_weights) == 2
    check_model_grads(model, xs)


# -- nested models -------------------------------------------------------------------------------
def make_inner(name="inner"):
    xi = inp((3,), f"{name}_x")
    d1, d2 = dense(3, f"{name}_d1", activation="tanh"), dense(2, f"{name}_d2")
    inner = ge.Model(xi, d2(d1(xi)), name=name)
    return inner, lambda x: np_dense(d2, np_dense(d1, x, np.tanh))


def test_nested_model():
    inner, inner_ref = make_inner()
    x = inp((3,), "outer_x")
    head = dense(1, "head")
    outer = ge.Model(x, head(inner(x)), name="outer")
    assert set(outer.graph.nodes) == {"outer_x", "inner", "head"}
    assert set(outer.graph.edges) == {("outer_x", "inner"), ("inner", "head")}
    inner_ids = {id(w) for w in inner.weights}
    assert inner_ids <= {id(w) for w in outer.weights}  # the very same Variables
    assert len(outer.trainable_weights) == 6
    xs = rand(4, 3)
    np.testing.assert_allclose(outer(xs), np_dense(head, inner_ref(xs)), rtol=1e-12)
    np.testing.assert_allclose(inner(xs), inner_ref(xs), rtol=1e-12)
    inner.set_weights([w * 2.0 for w in inner.get_weights()])  # seen by the outer model
    np.testing.assert_allclose(outer(xs), np_dense(head, inner_ref(xs)), rtol=1e-12)
    check_model_grads(outer, xs)


def test_nested_model_called_twice():
    inner, inner_ref = make_inner("inner2")
    x1, x2 = inp((3,), "n2_a"), inp((3,), "n2_b")
    outer = ge.Model([x1, x2], L.Subtract(name="n2_sub", dtype=F64)([inner(x1), inner(x2)]))
    assert len(outer.trainable_weights) == 4
    a, b = rand(2, 3), rand(2, 3, seed=1)
    np.testing.assert_allclose(outer([a, b]), inner_ref(a) - inner_ref(b), rtol=1e-12)
    check_model_grads(outer, [a, b])


# -- Sequential ----------------------------------------------------------------------------------
def check_stack(seq, layers_and_acts, xs):
    y = xs
    for layer, act in layers_and_acts:
        y = np_dense(layer, y, act)
    np.testing.assert_allclose(seq(xs), y, rtol=1e-12)
    check_model_grads(seq, xs)


def relu(y):
    return np.maximum(y, 0.0)


def test_tensor_given_as_keyword_is_an_input_of_the_call(tmp_path):
    """As Keras: `layer(x, mask=m)` with a symbolic m records m as an input of the call, so the
    model connects it (an edge in model.graph), re-applies it when nested, and saves it."""
    x, m = ge.Input((5, 3), name="x"), ge.Input((5,), name="m")
    lstm = ge.layers.LSTM(4, name="lstm")
    model = ge.Model([x, m], lstm(x, mask=m))
    assert set(model.graph.edges) == {("x", "lstm"), ("m", "lstm")}
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((2, 5, 3)), np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])]
    xs = [a.astype(np.float32) for a in xs]
    out = model(xs)
    np.testing.assert_array_equal(out, lstm(xs[0], mask=xs[1]))
    assert not np.allclose(out[0], lstm(xs[0][:1])[0])  # the mask is used
    outer_x, outer_m = ge.Input((5, 3)), ge.Input((5,))
    np.testing.assert_array_equal(ge.Model([outer_x, outer_m], model([outer_x, outer_m]))(xs), out)
    model.save(tmp_path / "m.gez")
    np.testing.assert_array_equal(ge.models.load_model(tmp_path / "m.gez")(xs), out)


def test_sequential_input_dim():
    d1, d2 = dense(5, "sq1", input_dim=1, activation="relu"), dense(1, "sq2")
    seq = ge.Sequential([d1, d2])
    assert seq.built and seq.inputs[0].shape == (None, 1)
    assert seq.count_params() == 5 + 5 + 5 + 1
    assert seq.layers == [d1, d2]
    check_stack(seq, [(d1, relu), (d2, lambda y: y)], rand(4, 1))


def test_sequential_input_shape():
    d1, d2 = dense(4, "sqs1", input_shape=(3,), activation="tanh"), dense(2, "sqs2")
    seq = ge.Sequential([d1, d2])
    assert seq.built and seq.inputs[0].shape == (None, 3)
    assert seq.outputs[0].shape == (None, 2)
    check_stack(seq, [(d1, np.tanh), (d2, lambda y: y)], rand(3, 3))


def test_sequential_add():
    seq = ge.Sequential(name="added")
    d1, d2 = dense(4, "sqa1", input_shape=(3,), activation="tanh"), dense(2, "sqa2")
    seq.add(d1)
    assert seq.built and seq.outputs[0].shape == (None, 4)
    seq.add(d2)
    assert seq.outputs[0].shape == (None, 2)
    assert seq.layers == [d1, d2]
    check_stack(seq, [(d1, np.tanh), (d2, lambda y: y)], rand(3, 3))


def test_sequential_with_input_first():
    seq = ge.Sequential(name="with_input")
    seq.add(inp((3,), "seq_in"))
    d1, d2 = dense(4, "sqi1", activation="relu"), dense(2, "sqi2")
    seq.add(d1)
    seq.add(d2)
    assert seq.built and seq.inputs[0].shape == (None, 3) and seq.input_names == ["seq_in"]
    check_stack(seq, [(d1, relu), (d2, lambda y: y)], rand(3, 3))


def test_sequential_deferred_build_on_first_eager_call():
    d1, d2 = dense(4, "sqd1", activation="tanh"), dense(1, "sqd2")
    seq = ge.Sequential([d1, d2], name="deferred")
    assert not seq.built and not d1.built
    with pytest.raises(ValueError, match="not been built"):
        seq.count_params()
    with pytest.raises(ValueError, match=r"'deferred'.*input shape"):
        _ = seq.graph
    xs = rand(5, 3)
    y = seq(xs)
    assert y.shape == (5, 1)
    assert seq.built and seq.inputs[0].shape == (None, 3)
    assert seq.count_params() == 3 * 4 + 4 + 4 + 1
    np.testing.assert_allclose(y, np_dense(d2, np_dense(d1, xs, np.tanh)), rtol=1e-12)
    np.testing.assert_allclose(
        seq(rand(2, 3, seed=1)), np_dense(d2, np_dense(d1, rand(2, 3, seed=1), np.tanh)), rtol=1e-12
    )
    check_stack(seq, [(d1, np.tanh), (d2, lambda y: y)], xs)


def test_sequential_add_errors():
    seq = ge.Sequential(name="add_errors")
    with pytest.raises(TypeError, match=r"'add_errors'.*Layer.*int"):
        seq.add(3)
    seq.add(dense(2, "ae1", input_shape=(3,)))
    with pytest.raises(ValueError, match=r"'add_errors'.*Input.*first"):
        seq.add(inp((2,)))


# -- model.graph and its order -------------------------------------------------------------------
def diamond(prefix="g"):
    x = inp((3,), f"{prefix}x")
    h = dense(4, f"{prefix}_a", activation="tanh")(x)
    b = dense(2, f"{prefix}_b")(h)
    c = dense(2, f"{prefix}_c", activation="sigmoid")(h)
    e = dense(2, f"{prefix}_e")(c)
    out = L.Add(name=f"{prefix}_add", dtype=F64)([b, e])
    return ge.Model(x, out, name=f"{prefix}_model")


def test_model_graph_is_a_digraph_of_call_sites():
    model = diamond()
    g = model.graph
    assert isinstance(g, nx.DiGraph)
    assert set(g.nodes) == {"gx", "g_a", "g_b", "g_c", "g_e", "g_add"}
    assert set(g.edges) == {
        ("gx", "g_a"),
        ("g_a", "g_b"),
        ("g_a", "g_c"),
        ("g_c", "g_e"),
        ("g_b", "g_add"),
        ("g_e", "g_add"),
    }
    assert nx.is_directed_acyclic_graph(g)


def test_topological_order_is_deterministic_and_valid():
    m1, m2 = diamond("t"), diamond("t")
    order1 = [layer.name for layer in m1.layers]
    order2 = [layer.name for layer in m2.layers]
    assert order1 == order2
    assert order1 == [layer.name for layer in m1.layers]
    assert sorted(order1) == sorted(["tx", "t_a", "t_b", "t_c", "t_e", "t_add"])
    position = {name: i for i, name in enumerate(order1)}
    for u, v in m1.graph.edges:
        assert position[u] < position[v], f"{u} must come before {v}"


def test_backward_graph_holds_gradient_nodes():
    model = diamond("bw")
    xs = rand(2, 3)
    model.vjp(xs, np.ones((2, 2)))
    bg = model.backward_graph
    assert isinstance(bg, nx.DiGraph)
    assert bg.number_of_nodes() > 0 and nx.is_directed_acyclic_graph(bg)
    assert all(getattr(n, "grad_of", None) is not None for n in bg.nodes), (
        "backward_graph must hold only nodes made by gradient rules"
    )
    forward_ops = {n.grad_of.op.name for n in bg.nodes}
    assert forward_ops == {"dense"}  # Dense is one fused primitive (product, bias, activation)
    grad_ops = {n.op.name for n in bg.nodes}
    assert {"tanh_bias_grad", "sigmoid_bias_grad", "matmul_at_b"} <= grad_ops
    check_model_grads(model, xs)


# -- what gradients flow where -------------------------------------------------------------------
def test_integer_inputs_get_no_gradient():
    ids, f = inp((3,), "ids", dtype="int32"), inp((2,), "feat")
    emb = L.Embedding(5, 2, dtype=F64, name="emb")
    h = L.Concatenate(name="icat", dtype=F64)([L.Flatten(name="iflat", dtype=F64)(emb(ids)), f])
    model = ge.Model([ids, f], dense(1, "ihead")(h))
    xi = np.array([[0, 1, 1], [4, 3, 0]], dtype="int32")
    xf = rand(2, 2)
    dx, dw = model.vjp([xi, xf], np.ones((2, 1)))
    assert dx[0] is None
    assert dx[1].shape == (2, 2)
    assert len(dw) == 3
    check_model_grads(model, [xi, xf])


def test_frozen_layers_leave_trainable_weights_and_dw():
    x = inp((3,), "fz_x")
    d1, d2 = dense(4, "fz1", activation="tanh"), dense(2, "fz2")
    model = ge.Model(x, d2(d1(x)))
    xs, c = rand(3, 3), rand(3, 2, seed=1)
    _, dw_all = model.vjp(xs, c)
    assert len(dw_all) == 4
    d1.trainable = False
    assert {w.path for w in model.trainable_weights} == {"fz2/kernel", "fz2/bias"}
    assert {w.path for w in model.non_trainable_weights} == {"fz1/kernel", "fz1/bias"}
    assert len(model.weights) == 4
    dx, dw = model.vjp(xs, c)
    assert len(dw) == 2
    np.testing.assert_allclose(dw[0], dw_all[2], rtol=1e-12)
    np.testing.assert_allclose(dw[1], dw_all[3], rtol=1e-12)
    check_model_grads(model, xs)
    d1.trainable = True
    assert len(model.vjp(xs, c)[1]) == 4


def test_frozen_nested_model():
    inner, _ = make_inner("frozen_inner")
    x = inp((3,), "fzn_x")
    outer = ge.Model(x, dense(1, "fzn_head")(inner(x)))
    inner.trainable = False
    assert [w.path for w in outer.trainable_weights] == ["fzn_head/kernel", "fzn_head/bias"]
    assert len(outer.vjp(rand(2, 3), np.ones((2, 1)))[1]) == 2
    check_model_grads(outer, rand(2, 3))


def test_fan_out_gradients_are_summed():
    x = inp((3,), "fo_x")
    d0, d1, d2 = dense(4, "fo0"), dense(2, "fo1"), dense(2, "fo2")
    h = d0(x)
    model = ge.Model(x, L.Add(name="fo_add", dtype=F64)([d1(h), d2(h)]))
    xs, c = rand(3, 3), rand(3, 2, seed=1)
    (dx,), dw = model.vjp(xs, c)
    k0, k1, k2 = d0.get_weights()[0], d1.get_weights()[0], d2.get_weights()[0]
    dh = c @ k1.T + c @ k2.T
    np.testing.assert_allclose(dx, dh @ k0.T, rtol=1e-12)
    np.testing.assert_allclose(dw[0], xs.T @ dh, rtol=1e-12)
    check_model_grads(model, xs)


def test_same_tensor_twice_into_one_layer():
    x = inp((3,), "tw_x")
    d = dense(2, "tw_d")
    h = d(x)
    model = ge.Model(x, L.Multiply(name="tw_mul", dtype=F64)([h, h]))  # h * h: d/dh = 2 h
    xs, c = rand(2, 3), rand(2, 2, seed=1)
    (dx,), _ = model.vjp(xs, c)
    hv = np_dense(d, xs)
    np.testing.assert_allclose(model(xs), hv * hv, rtol=1e-12)
    np.testing.assert_allclose(dx, (2 * hv * c) @ d.get_weights()[0].T, rtol=1e-12)
    check_model_grads(model, xs)


def test_input_fan_out_and_skip_connection():
    x = inp((3,), "skip_x")
    d = dense(3, "skip_d", activation="tanh")
    model = ge.Model(x, L.Add(name="skip_add", dtype=F64)([x, d(x)]))
    xs, c = rand(2, 3), rand(2, 3, seed=1)
    (dx,), _ = model.vjp(xs, c)
    kernel = d.get_weights()[0]
    t = np_dense(d, xs, np.tanh)
    np.testing.assert_allclose(dx, c + (c * (1 - t * t)) @ kernel.T, rtol=1e-12)
    check_model_grads(model, xs)


def test_numpy_lambda_runs_forward_but_has_no_gradient():
    # np.sort cannot trace a SymbolicTensor (np.flip can: it only indexes), so this Lambda runs
    # as an opaque NumPy function
    x = inp((3,), "npl_x")
    d = dense(3, "npl_d")
    sort = L.Lambda(lambda v: np.sort(v, axis=-1), name="np_sort", dtype=F64)
    y = sort(d(x))
    assert y.shape == (None, 3)
    model = ge.Model(x, y)
    xs = rand(2, 3)
    np.testing.assert_allclose(model(xs), np.sort(np_dense(d, xs), axis=-1), rtol=1e-12)
    np.testing.assert_allclose(
        model(rand(4, 3, seed=1)), np.sort(np_dense(d, rand(4, 3, seed=1)), axis=-1), rtol=1e-12
    )
    with pytest.raises(ValueError, match="np_sort"):
        model.vjp(xs, np.ones((2, 3)))


def test_ops_on_symbolic_tensors_outside_layers():
    x, y = inp((3,), "ops_x"), inp((3,), "ops_y")
    d = dense(3, "ops_d")
    t = ge.ops.tanh(x + 1)
    z = 2.0 * t * y - d(x) / (1.0 + ge.ops.square(y))
    s = ge.ops.sum(z * x, axis=-1, keepdims=True)
    model = ge.Model([x, y], [z, s])
    xs, ys = rand(3, 3), rand(3, 3, seed=1)
    zv = 2.0 * np.tanh(xs + 1) * ys - np_dense(d, xs) / (1.0 + ys**2)
    out = model([xs, ys])
    np.testing.assert_allclose(out[0], zv, rtol=1e-12)
    np.testing.assert_allclose(out[1], (zv * xs).sum(axis=-1, keepdims=True), rtol=1e-12)
    assert {"ops_x", "ops_y", "ops_d"} <= set(model.graph.nodes)
    assert model.graph.number_of_nodes() > 3  # the bare ops are call sites too
    check_model_grads(model, [xs, ys])


# -- errors --------------------------------------------------------------------------------------
def test_graph_disconnected():
    a, b = inp((3,), "dis_a"), inp((3,), "dis_b")
    out = L.Add(name="dis_add", dtype=F64)([dense(2, "dis_da")(a), dense(2, "dis_db")(b)])
    with pytest.raises(ValueError, match=r"Graph disconnected.*'dis_b'"):
        ge.Model(a, out, name="disconnected")


def test_input_not_connected_to_any_output():
    a, b = inp((3,), "nc_a"), inp((3,), "nc_b")
    with pytest.raises(ValueError, match=r"'nc_model'.*'nc_b'.*not connected"):
        ge.Model([a, b], dense(2, "nc_d")(a), name="nc_model")


def test_model_input_must_come_from_ge_input():
    a = inp((3,), "ni_a")
    h = dense(2, "ni_d")(a)
    with pytest.raises(ValueError, match=r"'ni_model'.*input 0.*ge\.Input.*'ni_d'"):
        ge.Model(h, dense(1, "ni_head")(h), name="ni_model")
    with pytest.raises((TypeError, ValueError), match=r"ge\.Input"):
        ge.Model(np.zeros((2, 3)), h, name="ni_model2")


def test_duplicate_layer_names_in_a_chain():
    x = inp((3,), "dup_x")
    y = dense(2, "same_name")(dense(2, "same_name")(x))
    with pytest.raises(ValueError, match=r"'dup_model'.*unique.*same_name"):
        ge.Model(x, y, name="dup_model")


def test_duplicate_layer_names_in_parallel():
    x = inp((3,), "dup_px")
    a, b = dense(2, "twin")(x), dense(2, "twin")(x)
    with pytest.raises(ValueError, match=r"'dup_parallel'.*unique.*twin"):
        ge.Model(x, L.Add(name="dup_add", dtype=F64)([a, b]), name="dup_parallel")


def test_wrong_number_of_inputs():
    model, _ = two_in_two_out()
    with pytest.raises(ValueError, match=r"'mimo' expects 2 inputs \(a, b\).*received one ndarray"):
        model(rand(2, 3))
    with pytest.raises(ValueError, match=r"'mimo' expects 2 input\(s\).*received 3"):
        model([rand(2, 3), rand(2, 2), rand(2, 2)])
    with pytest.raises(ValueError, match=r"'mimo' expects 2 input\(s\).*received 1"):
        model.vjp([rand(2, 3)], [np.ones((2, 1)), np.ones((2, 2))])


def test_wrong_input_shape_names_model_input_and_shapes():
    x = inp((3,), "img")
    model = ge.Model(x, dense(2, "ws_d")(x), name="shape_model")
    with pytest.raises(ValueError, match=r"'shape_model'.*input 0.*'img'.*\(None, 3\).*\(2, 4\)"):
        model(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"'shape_model'.*'img'.*\(None, 3\).*\(2, 3, 2\)"):
        model(np.zeros((2, 3, 2)))
    with pytest.raises(ValueError, match=r"'shape_model'.*\(None, 3\).*\(2, 4\)"):
        model.vjp(np.zeros((2, 4)), np.zeros((2, 2)))


def test_model_called_symbolically_on_wrong_shape():
    x = inp((3,), "sym_x")
    model = ge.Model(x, dense(2, "sym_d")(x), name="sym_model")
    with pytest.raises(ValueError, match=r"'sym_model'.*3.*\(None, 5\)"):
        model(inp((5,)))


def test_vjp_wrong_number_of_cotangents():
    model, _ = two_in_two_out()
    xs = [rand(2, 3), rand(2, 2)]
    with pytest.raises(ValueError, match=r"'mimo' expects 2 cotangents \(o1, o2\).*received one"):
        model.vjp(xs, np.ones((2, 1)))
    with pytest.raises(
        ValueError, match=r"'mimo' expects 2 cotangent\(s\) \(o1, o2\), but received 3"
    ):
        model.vjp(xs, [np.ones((2, 1)), np.ones((2, 2)), np.ones((2, 2))])


_COTANGENT_SHAPE_SCRIPT = """
import numpy as np, graphengine as ge
x = ge.Input((3,), dtype="float64", name="cot_x")
model = ge.Model(x, ge.layers.Activation("tanh", dtype="float64", name="cot_tanh")(x),
                 name="cot_model")
for bad in [(1, 3), (2, 5)]:
    try:
        model.vjp(np.ones((2, 3)), np.ones(bad))
    except ValueError as e:
        assert "cot_model" in str(e) and str(bad) in str(e), str(e)
    else:
        raise SystemExit(f"vjp accepted a cotangent of shape {bad} for an output of shape (2, 3)")
print("OK")
"""


def test_vjp_checks_cotangent_shapes():
    # run apart: today a wrong-shaped cotangent reaches the kernels and can corrupt the heap
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _COTANGENT_SHAPE_SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "OK" in done.stdout, (
        f"rc={done.returncode}\nstdout={done.stdout}\nstderr={done.stderr[-2000:]}"
    )


def test_cuda_without_gpu_is_a_clear_error(monkeypatch):
    from numba import cuda

    from graphengine.runtime import devices

    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    monkeypatch.setattr(cuda, "is_available", lambda: False)  # this machine, whatever it has
    monkeypatch.setattr(devices, "_cache", {})
    x = inp((3,), "cuda_x")
    model = ge.Model(x, dense(2, "cuda_d")(x))
    with pytest.raises(RuntimeError, match=r"(?i)cuda.*GPU"):
        with ge.device("cuda"):
            model(rand(2, 3))
    np.testing.assert_allclose(model(rand(2, 3)).shape, (2, 2))  # cpu still works after


def test_unknown_device_name():
    with pytest.raises(ValueError, match=r"Unknown device 'tpu'.*cpu.*cuda"):
        with ge.device("tpu"):
            pass
    with ge.device("CPU"):  # names are case-insensitive
        x = inp((2,), "cpu_x")
        model = ge.Model(x, L.Activation("tanh", dtype=F64, name="cpu_tanh")(x))
        np.testing.assert_allclose(model(np.ones((1, 2))), np.tanh(np.ones((1, 2))))
