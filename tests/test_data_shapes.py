"""The data shapes Keras 3 accepts in fit / evaluate / predict / the batch forms and model(x):
rank-1 x for a (None, 1) input and rank-1 y for a (None, 1) output, an extra last axis of 1,
lists (nested numbers as one array; a list holding arrays lists the inputs), pandas DataFrames
and Series; numbers checked against Keras 3 (tests/keras_reference/generate_data_shapes.py)."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import graphengine as ge
from helpers import REF_DIR

with open(os.path.join(REF_DIR, "data_shapes.json")) as _f:
    REFERENCE = json.load(_f)


@pytest.fixture(scope="module")
def arrays():
    with np.load(os.path.join(REF_DIR, "data_shapes.npz"), allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


# the models of generate_data_shapes.py, layer for layer
def regressor_1():
    x = ge.Input((1,), name="x")
    h = ge.layers.Dense(3, activation="tanh", name="hidden")(x)
    return ge.Model(x, ge.layers.Dense(1, name="out")(h))


def logistic_2():
    x = ge.Input((2,), name="x")
    return ge.Model(x, ge.layers.Dense(1, activation="sigmoid", name="out")(x))


def linear_2():
    x = ge.Input((2,), name="x")
    return ge.Model(x, ge.layers.Dense(1, name="out")(x))


def linear_1():
    return ge.Sequential([ge.Input((1,)), ge.layers.Dense(1, name="out")])


def two_inputs():
    a, b = ge.Input((2,), name="a"), ge.Input((1,), name="b")
    h = ge.layers.Concatenate(name="cat")([a, b])
    return ge.Model([a, b], ge.layers.Dense(1, name="out")(h))


BUILDERS = {f.__name__: f for f in (regressor_1, logistic_2, linear_2, linear_1, two_inputs)}


def as_given(array, kind):
    if kind == "frame":
        return pd.DataFrame(array, columns=[f"c{i}" for i in range(array.shape[1])])
    return pd.Series(array) if kind == "series" else array


def run_step(model, step, kwargs, x, y):
    if step == "predict":
        return [model.predict(x, verbose=0)]
    if step == "predict_on_batch":
        return [model.predict_on_batch(x)]
    if step == "evaluate":
        return model.evaluate(x, y, verbose=0, return_dict=True)
    if step == "train_on_batch":
        return model.train_on_batch(x, y, return_dict=True)
    if step == "test_on_batch":
        return model.test_on_batch(x, y, return_dict=True)
    return model.fit(x, y, shuffle=False, verbose=0, **kwargs).history


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=lambda c: c["id"])
def test_matches_keras(case, arrays):
    """Each step's outputs, logs and weights after it, as Keras 3 gives them for data in the
    same form."""
    cid = case["id"]
    model = BUILDERS[case["build"]]()
    model.set_weights([arrays[f"{cid}/w_init{j}"] for j in range(case["n_weights"])])
    model.compile(
        optimizer=ge.optimizers.SGD(learning_rate=case["lr"]),
        loss=case["loss"],
        metrics=case["metrics"],
    )
    given = [as_given(arrays[f"{cid}/x{j}"], k) for j, k in enumerate(case["x_kinds"])]
    x = given if len(given) > 1 else given[0]
    y = arrays[f"{cid}/y"]
    y = pd.Series(y) if case["y"] == "series" else y
    for s, ((step, kwargs), expected) in enumerate(zip(case["steps"], case["results"])):
        result = run_step(model, step, kwargs, x, y)
        if expected is None:
            np.testing.assert_allclose(result[0], arrays[f"{cid}/step{s}_out0"], rtol=1e-5)
        else:
            assert set(result) == set(expected), step
            for key, value in expected.items():
                np.testing.assert_allclose(result[key], value, rtol=1e-4, err_msg=f"{step} {key}")
        for j, w in enumerate(model.get_weights()):
            np.testing.assert_allclose(w, arrays[f"{cid}/step{s}_w{j}"], rtol=1e-4, atol=1e-6)


@pytest.fixture(scope="module")
def one():
    """A (None, 1) -> (None, 1) model, compiled."""
    ge.utils.set_random_seed(0)
    model = linear_1()
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_rank1_x_in_every_entry_point(one):
    x = np.linspace(-1.0, 1.0, 5).astype("float32")
    expected = one.predict(x[:, None], verbose=0)
    assert expected.shape == (5, 1)
    np.testing.assert_array_equal(one.predict(x, verbose=0), expected)
    np.testing.assert_array_equal(one.predict_on_batch(x), expected)
    np.testing.assert_array_equal(one(x), expected)
    loss = one.evaluate(x[:, None], x[:, None], verbose=0)
    assert one.evaluate(x, x, verbose=0) == pytest.approx(loss)
    assert one.test_on_batch(x, x) == pytest.approx(loss)


def test_repeated_calls_alternating_ranks(one):
    """A repeated call goes straight to the cached plan; an adjusted rank must not be fed to
    it as given."""
    x = np.arange(4, dtype="float32")
    expected = one(x[:, None])
    for _ in range(2):
        np.testing.assert_array_equal(one(x), expected)
        np.testing.assert_array_equal(one(x[:, None]), expected)
        np.testing.assert_array_equal(one(x[:, None, None]), expected)
        np.testing.assert_array_equal(one.predict_on_batch(x), expected)


def test_nested_lists_of_numbers_are_arrays(one):
    """Keras 3 refuses lists of numbers ("Unrecognized data type"); they are taken as the
    array they spell, as NumPy (and Keras 2) take them."""
    x = [0.5, -1.0, 2.0, 0.0]
    array = np.asarray(x, dtype="float32")
    np.testing.assert_array_equal(one.predict(x, verbose=0), one.predict(array, verbose=0))
    np.testing.assert_array_equal(one([[v] for v in x]), one(array))
    np.testing.assert_array_equal(one(tuple(x)), one(array))
    assert one.evaluate(x, x, verbose=0) == pytest.approx(one.evaluate(array, array, verbose=0))


def test_one_sample_as_a_nested_list():
    model = linear_2()
    x = np.array([[1.0, 2.0]], "float32")
    np.testing.assert_array_equal(model([[1.0, 2.0]]), model(x))


def test_a_list_of_arrays_lists_the_inputs():
    model = two_inputs()
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((4, 2)), rng.standard_normal(4)
    expected = model.predict([a, b[:, None]], verbose=0)
    np.testing.assert_allclose(model.predict([a, b], verbose=0), expected)
    np.testing.assert_allclose(model((a, b)), expected)
    np.testing.assert_allclose(model.predict({"a": a, "b": b}, verbose=0), expected)
    # each entry may itself be a nested list of numbers
    np.testing.assert_allclose(model.predict([a.tolist(), b.tolist()], verbose=0), expected)
    frames = {"a": pd.DataFrame(a), "b": pd.Series(b)}
    np.testing.assert_allclose(model.predict(frames, verbose=0), expected, rtol=1e-6)


def test_one_entry_lists_for_one_input_and_one_output():
    model = linear_2()
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((3, 2), "float32"), np.ones((3, 1), "float32")
    loss = model.evaluate(x, y, verbose=0)
    assert model.evaluate([x], [y], verbose=0) == pytest.approx(loss)
    assert model.evaluate((x,), (y,), verbose=0) == pytest.approx(loss)


def test_a_list_of_arrays_for_one_input_raises():
    """As Keras 3: a list holding arrays lists the inputs, so two arrays for one input fail
    (they are not stacked into samples)."""
    model = linear_2()
    model.compile(optimizer="sgd", loss="mse")
    rows = [np.ones(2), np.ones(2)]
    match = r"expects 1 input \('x'\), but received a list of 2 entries holding arrays"
    with pytest.raises(ValueError, match=match):
        model.predict(rows, verbose=0)
    with pytest.raises(ValueError, match=match):
        model(rows)
    with pytest.raises(ValueError, match=r"expects 1 target \('out'\), but received a list of 2"):
        model.evaluate(np.ones((2, 2)), [np.ones((2, 1)), np.ones((2, 1))], verbose=0)


def test_wrong_rank_still_names_input_and_shapes(one):
    model = linear_2()
    model.compile(optimizer="sgd", loss="mse")
    match = r"input 0 \('x'\) expects shape \(None, 2\), received an array of shape \(4,\)"
    with pytest.raises(ValueError, match=match):
        model.predict(np.ones(4), verbose=0)
    with pytest.raises(ValueError, match=match):
        model(np.ones(4))
    with pytest.raises(ValueError, match=match):
        model.fit(np.ones(4), np.ones(4), verbose=0)
    with pytest.raises(ValueError, match=r"expects shape \(None, 2\), received .* \(4, 3\)"):
        model.train_on_batch(np.ones((4, 3)), np.ones((4, 1)))
    # an extra axis that is not of size 1 is not squeezed
    with pytest.raises(ValueError, match=r"expects shape \(None, 1\), received .* \(4, 1, 2\)"):
        one.predict_on_batch(np.ones((4, 1, 2)))
    with pytest.raises(ValueError, match=r"expects shape \(None, 1\), received .* \(2, 3\)"):
        one.test_on_batch([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], np.ones((2, 1)))


def test_ragged_nested_list_raises(one):
    with pytest.raises(ValueError, match=r"input 0 .* does not form an array"):
        one.predict([[1.0], [2.0, 3.0]], verbose=0)
    with pytest.raises(
        ValueError, match=r"target 0 \('out'\): the nested list does not form an array"
    ):
        one.evaluate(np.ones((2, 1)), [[1.0], [2.0, 3.0]], verbose=0)


def test_dataframe_with_text_column_raises():
    model = linear_2()
    frame = pd.DataFrame({"size": [1.0, 2.0], "name": ["a", "b"]})
    with pytest.raises(TypeError, match=r"input 0 \('x'\): the DataFrame's columns \['name'\]"):
        model(frame)


def test_series_is_one_column_and_dataframe_its_columns(one):
    values = np.array([0.5, 1.5, -2.0], "float32")
    np.testing.assert_array_equal(one(pd.Series(values)), one(values[:, None]))
    np.testing.assert_array_equal(one(pd.DataFrame({"v": values})), one(values[:, None]))
    integers = pd.DataFrame({"a": [1, 2], "b": [3, 4]})
    model = linear_2()
    np.testing.assert_allclose(model(integers), model(integers.to_numpy().astype("float32")))


def test_pandas_is_not_imported_for_numpy_data():
    """pandas is optional: data that is not a pandas object never imports it."""
    code = (
        "import sys, numpy as np, graphengine as ge\n"
        "m = ge.Sequential([ge.Input((1,)), ge.layers.Dense(1)])\n"
        "m.compile(optimizer='sgd', loss='mse')\n"
        "m.evaluate([1.0, 2.0], np.ones(2), verbose=0); m(np.ones(3))\n"
        "assert 'pandas' not in sys.modules, 'pandas was imported'\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
