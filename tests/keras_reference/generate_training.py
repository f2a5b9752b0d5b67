"""Generate Keras 3 reference runs of compile + fit for tests/test_training.py.

A script, not a test. Run from the repository root (needs keras and torch):

    KERAS_BACKEND=torch python tests/keras_reference/generate_training.py

Each case builds a small model, sets seeded weights, fits without shuffling, and records the
history and the final weights. Writes training.json (cases and histories) and training.npz
(`{id}/x`, `{id}/y*`, `{id}/w_init{j}`, `{id}/w_final{j}`, in model.get_weights() order).
"""

import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def mlp_classifier():
    return keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(5, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


def mlp_regressor(l2=False):
    reg = keras.regularizers.L2(0.01) if l2 else None
    return keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(4, activation="tanh", kernel_regularizer=reg),
            keras.layers.Dense(1),
        ]
    )


def two_heads():
    x = keras.Input((4,), name="x")
    h = keras.layers.Dense(6, activation="relu", name="trunk")(x)
    a = keras.layers.Dense(1, name="score")(h)
    b = keras.layers.Dense(3, activation="softmax", name="label")(h)
    return keras.Model(x, {"score": a, "label": b})


def masked_tagger():
    """Padded id sequences (id 0) tagged step by step: the mask reaches the loss and metrics."""
    return keras.Sequential(
        [
            keras.Input((5,), dtype="int32"),
            keras.layers.Embedding(6, 3, mask_zero=True),
            keras.layers.LSTM(4, return_sequences=True),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


CASES = [
    {
        "id": "adam_sparse_cce",
        "build": "mlp_classifier",
        "optimizer": ["Adam", {"learning_rate": 0.01}],
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
        "n": 12,
        "target": "ids3",
        "fit": {"batch_size": 4, "epochs": 3},
    },
    {
        "id": "sgd_momentum_mse_val",
        "build": "mlp_regressor",
        "optimizer": ["SGD", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}],
        "loss": "mse",
        "metrics": ["mae"],
        "n": 10,
        "target": "real1",
        "fit": {"batch_size": 3, "epochs": 3, "validation_split": 0.2},
    },
    {
        "id": "rmsprop_l2_huber",
        "build": "mlp_regressor_l2",
        "optimizer": ["RMSprop", {"learning_rate": 0.01}],
        "loss": "huber",
        "metrics": [],
        "n": 8,
        "target": "real1",
        "fit": {"batch_size": 4, "epochs": 2},
    },
    {
        "id": "frozen_trunk_adagrad",
        "build": "mlp_classifier_frozen",
        "optimizer": ["Adagrad", {"learning_rate": 0.1}],
        "loss": "categorical_crossentropy",
        "metrics": ["accuracy"],
        "n": 9,
        "target": "onehot3",
        "fit": {"batch_size": 4, "epochs": 2},
    },
    {
        "id": "two_heads_weighted",
        "build": "two_heads",
        "optimizer": ["AdamW", {"learning_rate": 0.01}],
        "loss": {"score": "mae", "label": "sparse_categorical_crossentropy"},
        "loss_weights": {"score": 0.5, "label": 2.0},
        "metrics": None,
        "n": 8,
        "target": "heads",
        "fit": {"batch_size": 4, "epochs": 2},
    },
    {
        "id": "masked_tagger_adam",
        "build": "masked_tagger",
        "optimizer": ["Adam", {"learning_rate": 0.02}],
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
        "n": 8,
        "target": "ids3_steps",
        "fit": {"batch_size": 4, "epochs": 3, "validation_split": 0.25},
    },
]


def build(name):
    if name == "mlp_classifier_frozen":
        model = mlp_classifier()
        model.layers[0].trainable = False
        return model
    if name == "mlp_regressor_l2":
        return mlp_regressor(l2=True)
    return globals()[name]()


def inputs(model, n, rng):
    """Real features, or for an int input padded ids: 1-5 with a zero tail of 0-3 steps."""
    shape = (n,) + tuple(model.inputs[0].shape[1:])
    if model.inputs[0].dtype != "int32":
        return rng.standard_normal(shape).astype("float32")
    ids = rng.integers(1, 6, shape).astype("int32")
    for row, pad in zip(ids, rng.integers(0, 4, n)):
        row[shape[1] - pad :] = 0
    return ids


def targets(kind, n, rng):
    if kind == "ids3_steps":
        return {"y": rng.integers(0, 3, (n, 5)).astype("int32")}
    if kind == "ids3":
        return {"y": rng.integers(0, 3, n).astype("int32")}
    if kind == "real1":
        return {"y": rng.standard_normal((n, 1)).astype("float32")}
    if kind == "onehot3":
        return {"y": np.eye(3, dtype="float32")[rng.integers(0, 3, n)]}
    return {
        "y_score": rng.standard_normal((n, 1)).astype("float32"),
        "y_label": rng.integers(0, 3, n).astype("int32"),
    }


def main():
    arrays, cases = {}, []
    for i, case in enumerate(CASES):
        rng = np.random.default_rng(500 + i)
        keras.utils.set_random_seed(i)
        model = build(case["build"])
        weights = [
            rng.standard_normal(w.shape).astype("float32") * 0.5 for w in model.get_weights()
        ]
        model.set_weights(weights)
        x = inputs(model, case["n"], rng)
        ys = targets(case["target"], case["n"], rng)
        opt_name, opt_kwargs = case["optimizer"]
        model.compile(
            optimizer=getattr(keras.optimizers, opt_name)(**opt_kwargs),
            loss=case["loss"],
            loss_weights=case.get("loss_weights"),
            metrics=case["metrics"],
        )
        y = ys["y"] if "y" in ys else {"score": ys["y_score"], "label": ys["y_label"]}
        history = model.fit(x, y, shuffle=False, verbose=0, **case["fit"])
        arrays[f"{case['id']}/x"] = x
        arrays.update({f"{case['id']}/{k}": v for k, v in ys.items()})
        arrays.update({f"{case['id']}/w_init{j}": w for j, w in enumerate(weights)})
        arrays.update({f"{case['id']}/w_final{j}": w for j, w in enumerate(model.get_weights())})
        record = {k: v for k, v in case.items()}
        record["history"] = {k: [float(v) for v in vs] for k, vs in history.history.items()}
        record["n_weights"] = len(weights)
        cases.append(record)
    np.savez_compressed(os.path.join(HERE, "training.npz"), **arrays)
    with open(os.path.join(HERE, "training.json"), "w") as f:
        json.dump(cases, f, indent=1)


if __name__ == "__main__":
    main()
