"""Generate Keras 3 reference runs of the data shapes Keras accepts, for tests/test_data_shapes.py
and tests/test_model_plumbing.py.

A script, not a test. Run from the repository root (needs keras, torch and pandas):

    KERAS_BACKEND=torch python tests/keras_reference/generate_data_shapes.py

Each case builds a tiny model, sets seeded weights and runs a list of steps (predict, evaluate,
train_on_batch, fit without shuffling, ...) on data given as Keras takes it: rank-1 x for a
(None, 1) input, rank-1 y for a (None, 1) output, an extra last axis of 1 on x, a list of
arrays for several inputs, a pandas DataFrame / Series. It records each step's result and the
weights after it. It also records Keras's metrics_names and evaluate's keys. Writes
data_shapes.json (cases, step results, names) and data_shapes.npz (`{id}/x{i}`, `{id}/y`,
`{id}/w_init{j}`, `{id}/step{s}_out{k}`, `{id}/step{s}_w{j}`).
"""

import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def regressor_1():
    x = keras.Input((1,), name="x")
    h = keras.layers.Dense(3, activation="tanh", name="hidden")(x)
    return keras.Model(x, keras.layers.Dense(1, name="out")(h))


def logistic_2():
    x = keras.Input((2,), name="x")
    return keras.Model(x, keras.layers.Dense(1, activation="sigmoid", name="out")(x))


def linear_2():
    x = keras.Input((2,), name="x")
    return keras.Model(x, keras.layers.Dense(1, name="out")(x))


def linear_1():
    return keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, name="out")])


def two_inputs():
    a = keras.Input((2,), name="a")
    b = keras.Input((1,), name="b")
    h = keras.layers.Concatenate(name="cat")([a, b])
    return keras.Model([a, b], keras.layers.Dense(1, name="out")(h))


# x: how each input is given ("array", "frame", "series"); shapes: the arrays' shapes as stored
CASES = [
    {
        "id": "rank1_x_and_y_mse",
        "build": "regressor_1",
        "x_shapes": [[6]],
        "x_kinds": ["array"],
        "y": "real_rank1",
        "loss": "mse",
        "metrics": ["mae"],
        "lr": 0.1,
        "steps": [
            ["predict", {}],
            ["evaluate", {}],
            ["train_on_batch", {}],
            ["fit", {"batch_size": 4, "epochs": 2}],
            ["predict_on_batch", {}],
            ["test_on_batch", {}],
        ],
    },
    {
        "id": "rank1_y_binary_crossentropy",
        "build": "logistic_2",
        "x_shapes": [[8, 2]],
        "x_kinds": ["array"],
        "y": "binary_rank1",
        "loss": "binary_crossentropy",
        "metrics": ["accuracy"],
        "lr": 0.5,
        "steps": [["evaluate", {}], ["train_on_batch", {}], ["fit", {"batch_size": 3}]],
    },
    {
        "id": "x_with_extra_axis",
        "build": "linear_2",
        "x_shapes": [[5, 2, 1]],
        "x_kinds": ["array"],
        "y": "real_column",
        "loss": "mse",
        "metrics": [],
        "lr": 0.1,
        "steps": [["predict", {}], ["evaluate", {}], ["train_on_batch", {}]],
    },
    {
        "id": "dataframe_and_series",
        "build": "linear_2",
        "x_shapes": [[7, 2]],
        "x_kinds": ["frame"],
        "y": "series",
        "loss": "mse",
        "metrics": ["mae"],
        "lr": 0.1,
        "steps": [
            ["predict", {}],
            ["evaluate", {}],
            ["fit", {"batch_size": 3, "epochs": 2}],
            ["train_on_batch", {}],
        ],
    },
    {
        "id": "series_x_sequential",
        "build": "linear_1",
        "x_shapes": [[6]],
        "x_kinds": ["series"],
        "y": "series",
        "loss": "mse",
        "metrics": [],
        "lr": 0.1,
        "steps": [["predict", {}], ["evaluate", {}], ["fit", {"batch_size": 4}]],
    },
    {
        "id": "list_of_inputs_one_rank1",
        "build": "two_inputs",
        "x_shapes": [[6, 2], [6]],
        "x_kinds": ["array", "array"],
        "y": "real_rank1",
        "loss": "mse",
        "metrics": [],
        "lr": 0.1,
        "steps": [["predict", {}], ["evaluate", {}], ["train_on_batch", {}]],
    },
]


def as_given(array, kind):
    if kind == "frame":
        return pd.DataFrame(array, columns=[f"c{i}" for i in range(array.shape[1])])
    if kind == "series":
        return pd.Series(array)
    return array


def target(kind, n, rng):
    if kind == "binary_rank1":
        return rng.integers(0, 2, n).astype("float32")
    if kind == "real_column":
        return rng.standard_normal((n, 1)).astype("float32")
    return rng.standard_normal(n).astype("float32")  # real_rank1, series


def run_step(model, step, kwargs, x, y):
    if step == "predict":
        return [model.predict(x, verbose=0)]
    if step == "predict_on_batch":
        return [np.asarray(model.predict_on_batch(x))]
    if step == "evaluate":
        return model.evaluate(x, y, verbose=0, return_dict=True)
    if step == "train_on_batch":
        return model.train_on_batch(x, y, return_dict=True)
    if step == "test_on_batch":
        return model.test_on_batch(x, y, return_dict=True)
    history = model.fit(x, y, shuffle=False, verbose=0, **kwargs)
    return {k: [float(v) for v in vs] for k, vs in history.history.items()}


def run_case(i, case, arrays):
    rng = np.random.default_rng(900 + i)
    keras.utils.set_random_seed(i)
    model = globals()[case["build"]]()
    weights = [rng.standard_normal(w.shape).astype("float32") * 0.5 for w in model.get_weights()]
    model.set_weights(weights)
    xs = [rng.standard_normal(s).astype("float32") for s in case["x_shapes"]]
    y = target(case["y"], case["x_shapes"][0][0], rng)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=case["lr"]),
        loss=case["loss"],
        metrics=case["metrics"],
    )
    given = [as_given(a, k) for a, k in zip(xs, case["x_kinds"])]
    x = given if len(given) > 1 else given[0]
    y_given = pd.Series(y) if case["y"] == "series" else y
    cid, record = case["id"], dict(case)
    arrays.update({f"{cid}/x{j}": a for j, a in enumerate(xs)})
    arrays[f"{cid}/y"] = y
    arrays.update({f"{cid}/w_init{j}": w for j, w in enumerate(weights)})
    record["results"] = []
    for s, (step, kwargs) in enumerate(case["steps"]):
        result = run_step(model, step, kwargs, x, y_given)
        if isinstance(result, list):  # outputs
            arrays.update({f"{cid}/step{s}_out{k}": o for k, o in enumerate(result)})
            result = None
        else:
            result = {k: v if isinstance(v, list) else float(v) for k, v in result.items()}
        arrays.update({f"{cid}/step{s}_w{j}": w for j, w in enumerate(model.get_weights())})
        record["results"].append(result)
    record["n_weights"] = len(weights)
    return record


def metrics_names():
    """Keras's metrics_names (before compile, after compile, after evaluate) and evaluate's keys,
    for one output and for two."""
    x = np.zeros((4, 3), "float32")
    y = np.zeros((4, 1), "float32")
    i = keras.Input((3,), name="x")
    one = keras.Model(i, keras.layers.Dense(1, name="out")(i))
    record = {"one_before_compile": one.metrics_names}
    one.compile("sgd", "mse", metrics=["mae"])
    record["one_after_compile"] = one.metrics_names
    record["one_evaluate_keys"] = list(one.evaluate(x, y, verbose=0, return_dict=True))
    record["one_after_evaluate"] = one.metrics_names
    a = keras.layers.Dense(1, name="a")(i)
    b = keras.layers.Dense(1, name="b")(i)
    two = keras.Model(i, [a, b])
    two.compile("sgd", ["mse", "mae"], metrics=[["mae"], ["mse"]])
    record["two_after_compile"] = two.metrics_names
    record["two_evaluate_keys"] = list(two.evaluate(x, [y, y], verbose=0, return_dict=True))
    record["two_after_evaluate"] = two.metrics_names
    return record


def main():
    arrays = {}
    cases = [run_case(i, case, arrays) for i, case in enumerate(CASES)]
    np.savez_compressed(os.path.join(HERE, "data_shapes.npz"), **arrays)
    with open(os.path.join(HERE, "data_shapes.json"), "w") as f:
        json.dump({"cases": cases, "metrics_names": metrics_names()}, f, indent=1)


if __name__ == "__main__":
    main()
