"""Generate Keras 3 reference numbers for tests/test_normalization.py.

A script, not a test. Run from the repository root (needs keras and torch):

    KERAS_BACKEND=torch python tests/keras_reference/generate_normalization.py

Writes normalization.json and normalization.npz next to this file:

* "layers": one BatchNormalization / LayerNormalization call on seeded data and weights, in
  inference or training mode. Arrays `{id}/x`, `{id}/w{j}` (get_weights order, before the call),
  `{id}/y`, `{id}/dy`, `{id}/dx`, `{id}/dw{j}` (one per trainable weight), `{id}/after{j}`
  (get_weights after the call: a training call moves the moving statistics).
* "fits": small models with normalization layers, seeded weights, `fit(shuffle=False)`. Arrays
  `{id}/x`, `{id}/y`, `{id}/w_init{j}`, `{id}/w_final{j}`; the JSON holds the history.
"""

import json
import os
import sys
import zlib

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from generate import save_npz_deterministic  # noqa: E402

if keras.backend.backend() != "torch":
    sys.exit("Run with KERAS_BACKEND=torch (got %r)." % keras.backend.backend())

HERE = os.path.dirname(os.path.abspath(__file__))

LAYER_CASES = [
    ("bn_2d_infer", "BatchNormalization", {}, (4, 3), False),
    ("bn_4d_axis1_infer", "BatchNormalization", {"axis": 1}, (2, 3, 2, 2), False),
    ("bn_plain_infer", "BatchNormalization", {"center": False, "scale": False}, (4, 3), False),
    ("bn_2d_train", "BatchNormalization", {"momentum": 0.9}, (5, 3), True),
    ("bn_4d_train", "BatchNormalization", {"momentum": 0.8, "epsilon": 0.01}, (2, 2, 2, 3), True),
    ("bn_3d_axis1_train", "BatchNormalization", {"axis": 1}, (3, 4, 2), True),
    ("bn_no_scale_train", "BatchNormalization", {"scale": False}, (4, 2), True),
    ("ln_last", "LayerNormalization", {}, (3, 5), False),
    ("ln_two_axes", "LayerNormalization", {"axis": [-2, -1]}, (2, 3, 4), False),
    ("ln_non_contiguous", "LayerNormalization", {"axis": [1, 3]}, (2, 3, 2, 4), False),
    (
        "ln_plain",
        "LayerNormalization",
        {"center": False, "scale": False, "epsilon": 0.1},
        (3, 4),
        False,
    ),
]


def draw_weights(rng, layer):
    """gamma near 1, the rest around 0, moving variances in [0.5, 1.5]."""
    out = []
    for v in layer.weights:
        shape, name = tuple(v.shape), v.path.split("/")[-1]
        if name == "moving_variance":
            out.append(rng.uniform(0.5, 1.5, shape))
        elif name == "gamma":
            out.append(1.0 + 0.5 * rng.standard_normal(shape))
        else:
            out.append(0.5 * rng.standard_normal(shape))
    return [w.astype(np.float32) for w in out]


def run_layer_case(case, arrays):
    cid, name, kwargs, shape, training = case
    rng = np.random.default_rng(zlib.crc32(cid.encode()))
    layer = getattr(keras.layers, name)(**kwargs)
    layer.build(shape)
    ws = draw_weights(rng, layer)
    layer.set_weights(ws)
    x = (1.5 * rng.standard_normal(shape) + 0.7).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    params = [v.value for v in layer.trainable_weights]
    y = layer(xt, training=training)
    dy = rng.standard_normal(shape).astype(np.float32)
    grads = torch.autograd.grad((y * torch.from_numpy(dy)).sum(), [xt] + params)
    arrays[f"{cid}/x"], arrays[f"{cid}/y"], arrays[f"{cid}/dy"] = x, y.detach().numpy(), dy
    arrays[f"{cid}/dx"] = grads[0].numpy()
    for j, g in enumerate(grads[1:]):
        arrays[f"{cid}/dw{j}"] = g.numpy()
    for j, (w, after) in enumerate(zip(ws, layer.get_weights())):
        arrays[f"{cid}/w{j}"], arrays[f"{cid}/after{j}"] = w, after
    return {
        "id": cid,
        "layer": name,
        "kwargs": kwargs,
        "input_shape": list(shape),
        "training": training,
        "n_weights": len(ws),
        "n_trainable": len(params),
    }


def bn_dense():
    return keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(6),
            keras.layers.BatchNormalization(momentum=0.8),
            keras.layers.Activation("tanh"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


def bn_sequence():
    return keras.Sequential(
        [
            keras.Input((3, 2)),
            keras.layers.BatchNormalization(momentum=0.9),
            keras.layers.BatchNormalization(axis=1, momentum=0.7),
            keras.layers.Flatten(),
            keras.layers.Dense(1),
        ]
    )


def bn_frozen():
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(5),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(1),
        ]
    )
    model.layers[1].trainable = False
    return model


def ln_dense():
    return keras.Sequential(
        [
            keras.Input((2, 3)),
            keras.layers.LayerNormalization(axis=[1, 2]),
            keras.layers.Flatten(),
            keras.layers.Dense(4, activation="relu"),
            keras.layers.LayerNormalization(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


FIT_CASES = [
    {
        "id": "bn_dense_sgd",
        "build": "bn_dense",
        "optimizer": ["SGD", {"learning_rate": 0.1, "momentum": 0.9}],
        "loss": "sparse_categorical_crossentropy",
        "n": 16,
        "target": "ids3",
        "fit": {"batch_size": 4, "epochs": 3, "validation_split": 0.25},
    },
    {
        "id": "bn_sequence_adam",
        "build": "bn_sequence",
        "optimizer": ["Adam", {"learning_rate": 0.01}],
        "loss": "mse",
        "n": 10,
        "target": "real1",
        "fit": {"batch_size": 4, "epochs": 2},
    },
    {
        "id": "bn_frozen_rmsprop",
        "build": "bn_frozen",
        "optimizer": ["RMSprop", {"learning_rate": 0.01}],
        "loss": "mse",
        "n": 8,
        "target": "real1",
        "fit": {"batch_size": 4, "epochs": 2},
    },
    {
        "id": "ln_dense_adam",
        "build": "ln_dense",
        "optimizer": ["Adam", {"learning_rate": 0.02}],
        "loss": "sparse_categorical_crossentropy",
        "n": 12,
        "target": "ids3",
        "fit": {"batch_size": 4, "epochs": 2},
    },
]


def run_fit_case(i, case, arrays):
    rng = np.random.default_rng(700 + i)
    keras.utils.set_random_seed(i)
    model = globals()[case["build"]]()
    weights = []
    for layer in model.layers:
        weights += draw_weights(rng, layer)
    model.set_weights(weights)
    x = (rng.standard_normal((case["n"],) + tuple(model.inputs[0].shape[1:])) + 0.5).astype(
        np.float32
    )
    if case["target"] == "ids3":
        y = rng.integers(0, 3, case["n"]).astype(np.int32)
    else:
        y = rng.standard_normal((case["n"], 1)).astype(np.float32)
    opt_name, opt_kwargs = case["optimizer"]
    model.compile(optimizer=getattr(keras.optimizers, opt_name)(**opt_kwargs), loss=case["loss"])
    history = model.fit(x, y, shuffle=False, verbose=0, **case["fit"])
    cid = case["id"]
    arrays[f"{cid}/x"], arrays[f"{cid}/y"] = x, y
    for j, (w0, w1) in enumerate(zip(weights, model.get_weights())):
        arrays[f"{cid}/w_init{j}"], arrays[f"{cid}/w_final{j}"] = w0, w1
    record = dict(case)
    record["history"] = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    record["n_weights"] = len(weights)
    return record


def main():
    torch.set_num_threads(1)
    arrays = {}
    layers = [run_layer_case(case, arrays) for case in LAYER_CASES]
    fits = [run_fit_case(i, case, arrays) for i, case in enumerate(FIT_CASES)]
    for key, a in arrays.items():
        assert a.dtype in (np.float32, np.int32), (key, a.dtype)
    with open(os.path.join(HERE, "normalization.json"), "w") as f:
        json.dump({"layers": layers, "fits": fits}, f, indent=1)
    save_npz_deterministic(os.path.join(HERE, "normalization.npz"), arrays)
    print(f"wrote {len(layers)} layer cases, {len(fits)} fits, {len(arrays)} arrays")


if __name__ == "__main__":
    main()
