"""Normalization, CategoryEncoding, IntegerLookup and StringLookup: Keras 3's numbers
(tests/keras_reference/preprocessing.json), gradients, errors, string inputs through models,
and saving."""

import json
import os

import numpy as np
import pytest
from gradcheck import check_model_grads
from layer_harness import run_layer_test

import graphengine as ge
from graphengine.autodiff.rules import NotDifferentiableError

L = ge.layers
HERE = os.path.join(os.path.dirname(__file__), "keras_reference")
with open(os.path.join(HERE, "preprocessing.json"), encoding="utf-8") as f:
    REF = json.load(f)
ARRAYS = np.load(os.path.join(HERE, "preprocessing.npz"))
LOOKUPS = [c for c in REF["lookups"] if c["layer"] != "TextVectorization"]


def replay_lookup(case):
    """The case's layer, adapted as Keras's was, and its output for the case's call."""
    kwargs = {k: tuple(v) if k == "ngrams" and isinstance(v, list) else v
              for k, v in case["kwargs"].items()}  # fmt: skip
    layer = getattr(L, case["layer"])(**kwargs)
    if case["adapt"] is not None:
        data = case["adapt"] if case["layer"] == "TextVectorization" else np.array(case["adapt"])
        layer.adapt(data)
    if "adapt_batches" in case:
        layer.adapt(np.array(b) for b in case["adapt_batches"])
    return layer, layer(np.array(case["call"]))


def assert_matches_keras(case, layer, out):
    assert layer.get_vocabulary() == case["vocabulary"]
    assert layer.vocabulary_size() == case["vocabulary_size"]
    expected = np.array(case["output"], dtype=object if isinstance(out[0], str) else None)
    if out.dtype.kind == "f":
        np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-7)
    else:
        assert out.shape == expected.shape and (out == expected).all(), (out, expected)


@pytest.mark.parametrize("case", LOOKUPS, ids=[c["id"] for c in LOOKUPS])
def test_lookup_matches_keras(case):
    layer, out = replay_lookup(case)
    assert_matches_keras(case, layer, np.asarray(out))
    clone = type(layer).from_config(json.loads(json.dumps(layer.get_config())))
    clone.build_from_config(json.loads(json.dumps(layer.get_build_config())))
    assert_matches_keras(case, clone, np.asarray(clone(np.array(case["call"]))))


@pytest.mark.parametrize("case", REF["encoding"], ids=[c["id"] for c in REF["encoding"]])
def test_category_encoding_matches_keras(case):
    layer = L.CategoryEncoding(**case["kwargs"])
    weights = case["count_weights"]
    out = layer(np.array(case["ids"]), count_weights=None if weights is None else np.array(weights))
    np.testing.assert_allclose(out, case["output"], rtol=1e-6)
    assert out.dtype == np.float32


def test_category_encoding_in_a_model_and_harness():
    run_layer_test(
        L.CategoryEncoding, {"num_tokens": 5, "output_mode": "count"}, (4, 3), "int64",
        expected_output_shape=(4, 5), int_range=(0, 5), grad_check=False,
        reference=lambda x, w: np.stack([np.bincount(r, minlength=5) for r in x]),
    )  # fmt: skip
    ids = ge.Input(shape=(2,), dtype="int32")
    model = ge.Model(ids, L.CategoryEncoding(3, output_mode="one_hot")(ids))
    assert model.outputs[0].shape == (None, 2, 3)
    np.testing.assert_array_equal(
        model.predict(np.array([[2, 0]]), verbose=0), [[[0, 0, 1], [1, 0, 0]]]
    )
    with pytest.raises(ValueError, match=r"'category_encoding.*num_tokens=3\).*e\.g\. -1"):
        model.predict(np.array([[2, -1]]), verbose=0)


def test_category_encoding_errors():
    with pytest.raises(ValueError, match="num_tokens must be set"):
        L.CategoryEncoding()
    with pytest.raises(ValueError, match="num_tokens must be an integer >= 1"):
        L.CategoryEncoding(0)
    with pytest.raises(ValueError, match="output_mode must be one of.*'tf_idf'"):
        L.CategoryEncoding(3, output_mode="tf_idf")
    with pytest.raises(ValueError, match="sparse=True is not supported"):
        L.CategoryEncoding(3, sparse=True)
    with pytest.raises(ValueError, match="count_weights is used only when output_mode='count'"):
        L.CategoryEncoding(3)(np.array([[1]]), count_weights=np.array([[1.0]]))
    with pytest.raises(ValueError, match=r"num_tokens=3\), but 2 do not \(e\.g\. 3\)"):
        L.CategoryEncoding(3)(np.array([[3, 7], [0, 1]]))
    with pytest.raises(ValueError, match="takes inputs of rank 1 or 2"):
        L.CategoryEncoding(3)(ge.Input(shape=(2, 2), dtype="int32"))


def test_count_weights_get_no_gradient():
    x = ge.Input(shape=(2,))
    ids = ge.Input(shape=(2,), dtype="int32")
    weights = L.Dense(2)(x)
    out = L.CategoryEncoding(3, output_mode="count")(ids, count_weights=weights)
    model = ge.Model([x, ids], out)
    with pytest.raises(NotDifferentiableError, match="category_encode"):
        model.vjp([np.ones((1, 2)), np.array([[0, 2]])], np.ones((1, 3)))


# -- Normalization -----------------------------------------------------------------------------
NORMS = REF["normalization"]


@pytest.mark.parametrize("case", NORMS, ids=[c["id"] for c in NORMS])
def test_normalization_matches_keras(case):
    a = {k.split("/")[1]: ARRAYS[k] for k in ARRAYS.files if k.startswith(case["id"] + "/")}
    layer = L.Normalization(**case["kwargs"])
    if "mean" not in case["kwargs"]:
        batch = case["batch"]
        x = a["x"]
        layer.adapt([x[i : i + batch] for i in range(0, len(x), batch)] if batch else x)
    for j in range(case["num_weights"]):
        np.testing.assert_allclose(layer.get_weights()[j], a[f"w{j}"], rtol=1e-5, atol=1e-6)
    inp = ge.Input(shape=a["x"].shape[1:])
    model = ge.Model(inp, layer(inp))
    np.testing.assert_allclose(model.predict(a["x"], verbose=0), a["y"], rtol=1e-5, atol=1e-5)
    (dx,), _ = model.vjp(a["x"], a["dy"])
    np.testing.assert_allclose(dx, a["dx"], rtol=1e-5, atol=1e-4)


def test_normalization_harness_and_gradients():
    mean, var = np.array([0.5, -1.0, 2.0]), np.array([2.0, 0.5, 3.0])
    run_layer_test(
        L.Normalization, {"mean": mean.tolist(), "variance": var.tolist()}, (4, 3),
        expected_output_shape=(4, 3), expected_num_weights=0,
        reference=lambda x, w: (x - mean) / np.sqrt(var),
    )  # fmt: skip
    layer = L.Normalization(axis=(1, 2), invert=True, dtype="float64")
    data = np.random.default_rng(1).standard_normal((5, 2, 3))
    layer.adapt(data)
    inp = ge.Input(shape=(2, 3), dtype="float64")
    check_model_grads(ge.Model(inp, layer(inp)), data[:2])


def test_normalization_adapt_sources_agree():
    data = np.random.default_rng(2).standard_normal((10, 3)) * 1e3 + 1e6

    class Batches(ge.utils.PyDataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return data[i * 3 : i * 3 + 3], np.zeros(3)

    results = []
    for source, kwargs in [
        (data, {}),
        (data, {"batch_size": 3}),
        (Batches(), {}),
        ((b for b in np.array_split(data, 3)), {}),
        ([data[:1], data[1:]], {}),
    ]:
        layer = L.Normalization()
        layer.adapt(source, **kwargs)
        results.append(layer.get_weights())
    for w in results[1:]:
        np.testing.assert_allclose(w[0], data.mean(0), rtol=1e-7)
        np.testing.assert_allclose(w[1], data.var(0), rtol=1e-4)
        assert w[2] == 0  # Keras never updates count
    layer = L.Normalization()
    layer.adapt(data, batch_size=3, steps=1)
    np.testing.assert_allclose(layer.get_weights()[0], data[:3].mean(0), rtol=1e-6)


def test_normalization_errors():
    with pytest.raises(ValueError, match="give both mean and variance"):
        L.Normalization(mean=[1.0])
    with pytest.raises(ValueError, match="the same shape"):
        L.Normalization(mean=[1.0, 2.0], variance=[1.0])
    with pytest.raises(ValueError, match="NaN or infinite"):
        L.Normalization(name="nrm").adapt(np.array([[1.0], [np.nan]]))
    layer = L.Normalization()
    layer.adapt(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"batch of shape \(2, 4\), incompatible"):
        layer.adapt(np.ones((2, 4)))
    with pytest.raises(ValueError, match="out of range"):
        L.Normalization(axis=3)(ge.Input(shape=(2,)))
    with pytest.raises(ValueError, match="must have known sizes"):
        L.Normalization(axis=1)(ge.Input(shape=(None, 2)))
    with pytest.raises(ValueError, match="cannot adapt a layer given mean"):
        L.Normalization(mean=0.0, variance=1.0).adapt(np.ones((2, 1)))
    with pytest.raises(ValueError, match="received no samples"):
        L.Normalization().adapt(np.ones((0, 2)))
    with pytest.raises(TypeError, match="adapt\\(\\) takes a NumPy array"):
        L.Normalization().adapt(3.0)


# -- lookups -----------------------------------------------------------------------------------
def test_lookup_errors(tmp_path):
    with pytest.raises(ValueError, match="max_tokens must be greater than 1"):
        L.StringLookup(max_tokens=1)
    with pytest.raises(ValueError, match="invert=True needs output_mode='int'"):
        L.StringLookup(invert=True, output_mode="count")
    with pytest.raises(ValueError, match="repeats the tokens \\['a'\\]"):
        L.StringLookup(vocabulary=["a", "b", "a"])
    with pytest.raises(ValueError, match="the mask token '' may only stand first"):
        L.StringLookup(vocabulary=["a", ""], mask_token="")
    with pytest.raises(ValueError, match="more than max_tokens=3"):
        L.StringLookup(vocabulary=["a", "b", "c"], max_tokens=3)
    with pytest.raises(ValueError, match="needs idf_weights"):
        L.StringLookup(vocabulary=["a"], output_mode="tf_idf")
    with pytest.raises(ValueError, match="only oov_method='floormod'"):
        L.IntegerLookup(oov_method="farmhash")
    with pytest.raises(ValueError, match="num_oov_indices=0 every input.*\\['q'\\]"):
        L.StringLookup(vocabulary=["a"], num_oov_indices=0)(np.array(["a", "q"]))
    with pytest.raises(RuntimeError, match="set the vocabulary.*before calling"):
        L.StringLookup(output_mode="multi_hot")(ge.Input(shape=(2,), dtype="string"))
    with pytest.raises(TypeError, match="StringLookup 'sl' takes string inputs"):
        L.StringLookup(vocabulary=["a"], name="sl")(ge.Input(shape=(2,)))
    with pytest.raises(TypeError, match="input must be integers"):
        L.IntegerLookup(vocabulary=[1])(np.array(["a"]))
    with pytest.raises(ValueError, match="Cannot adapt layer 'fixed'"):
        L.StringLookup(vocabulary=["a"], name="fixed").adapt(np.array(["b"]))
    with pytest.raises(ValueError, match="vocabulary file .* does not exist"):
        L.StringLookup(vocabulary=str(tmp_path / "missing.txt"))
    layer = L.StringLookup(vocabulary=["a", "b"], output_mode="count")
    with pytest.raises(RuntimeError, match="cannot change after it was set \\(was 3, now 4\\)"):
        layer.set_vocabulary(["a", "b", "c"])


def test_vocabulary_file_and_oov_buckets(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("x\ny\nz\n", encoding="utf-8")
    layer = L.StringLookup(vocabulary=str(path), num_oov_indices=3)
    assert layer.get_vocabulary() == ["[UNK]"] * 3 + ["x", "y", "z"]
    ids = layer(np.array(["x", "p", "q", "p", "z"]))
    assert ids[0] == 3 and ids[4] == 5 and ids[1] == ids[3] and 0 <= ids[2] < 3
    path.write_text("7\n3\n", encoding="utf-8")
    ints = L.IntegerLookup(vocabulary=str(path), num_oov_indices=2)
    np.testing.assert_array_equal(ints(np.array([3, 7, 4, 5])), [3, 2, 0, 1])


def _string_model(lookup):
    x = ge.Input(shape=(1,), dtype="string", name="words")
    h = L.Flatten()(L.Embedding(lookup.vocabulary_size(), 2)(lookup(x)))
    return ge.Model(x, L.Dense(1)(h))


def test_strings_through_a_model(tmp_path):
    lookup = L.StringLookup(mask_token="")
    lookup.adapt(np.array(["cat", "dog", "dog", "", "eel"]))
    model = _string_model(lookup)
    assert model.inputs[0].dtype == "object" and model.layers[0].get_config()["dtype"] == "string"
    x = np.array([["dog"], ["cow"], [""], ["eel"]])
    model.compile("sgd", "mse")
    history = model.fit(x, np.ones(4), epochs=2, batch_size=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(model(x.astype(object)), expected, rtol=1e-6)
    np.testing.assert_allclose(
        model.predict([["dog"], ["cow"], [""], ["eel"]], verbose=0), expected
    )
    assert np.isfinite(model.evaluate(x, np.ones(4), verbose=0))
    (dx,), dw = model.vjp(x, np.ones((4, 1)))
    assert dx is None and all(w is not None for w in dw)
    path = str(tmp_path / "m.gez")
    model.save(path)
    loaded = ge.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6)
    assert loaded.layers[1].get_vocabulary() == lookup.get_vocabulary()


def test_string_input_type_errors():
    model = _string_model(L.StringLookup(vocabulary=["a"]))
    with pytest.raises(TypeError, match=r"input 0 \('words'\) takes strings.*dtype float64"):
        model.predict(np.ones((2, 1)), verbose=0)
    with pytest.raises(TypeError, match="objects that are not all str"):
        model.predict(np.array([["a"], [None]], dtype=object), verbose=0)
    x = ge.Input(shape=(2,))
    numeric = ge.Model(x, L.Dense(1)(x))
    with pytest.raises(TypeError, match="must be numeric, received dtype <U1"):
        numeric.predict(np.array([["a", "b"]]), verbose=0)
    with pytest.raises(TypeError, match="layers take real numbers"):
        L.Dense(1)(np.array([["a"]]))


def test_integer_lookup_tf_idf_saves(tmp_path):
    x = ge.Input(shape=(3,), dtype="int64")
    lookup = L.IntegerLookup(output_mode="tf_idf", max_tokens=6, pad_to_max_tokens=True)
    lookup.adapt(np.array([[1, 1, 2], [3, 1, 4], [2, 2, 2]]))
    norm = L.Normalization()
    norm.adapt(lookup(np.array([[1, 2, 9], [4, 4, 4]])))
    model = ge.Model(x, L.Dense(2)(norm(lookup(x))))
    data = np.array([[1, 2, 9], [4, 4, 3]])
    path = str(tmp_path / "m.gez")
    model.save(path)
    np.testing.assert_allclose(ge.models.load_model(path).predict(data, verbose=0),
                               model.predict(data, verbose=0), rtol=1e-6)  # fmt: skip
