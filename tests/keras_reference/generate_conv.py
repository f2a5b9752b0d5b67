"""Generate Keras 3 reference numbers for the convolution and pooling layers.

This is a script, not a test. Run it from the repository root:

    KERAS_BACKEND=torch python tests/keras_reference/generate_conv.py

It writes, next to this file:

* ``conv.json`` -- one case per line: {"id", "layer", "kwargs", "input_shape", "n_weights"}.
* ``conv.npz``  -- per case ``{id}/x`` (float32 input), ``{id}/w{j}`` weights in
  ``get_weights()`` order, ``{id}/y`` output, ``{id}/dy`` a random cotangent, ``{id}/dx`` and
  ``{id}/dw{j}`` the gradients of ``sum(y * dy)`` w.r.t. the input and each weight.

Each case is seeded from its id (crc32), so the output is deterministic; the npz is written with
fixed zip timestamps and no pickled objects. Shapes are tiny on purpose: the replaying tests run
in CI on two cores.

Known difference, left out on purpose: Keras's torch backend pads asymmetric "same" average
pooling by replicating edge values (`_apply_same_padding(mode="replicate")`), so those windows
average copies of the edge cell; Keras's documented behaviour (TensorFlow, JAX and NumPy backends:
divide by the number of real cells) is what graphengine does, and tests/test_pooling.py checks it
against a naive reference. Only "same" average-pooling cases whose padding is symmetric (or where
a replicated cell adds nothing, pool 2 / stride 1) are taken from Keras here.
"""

import json
import os
import sys
import zlib

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import keras  # noqa: E402

from generate import save_npz_deterministic  # noqa: E402

if keras.backend.backend() != "torch":
    sys.exit("Run with KERAS_BACKEND=torch (got %r)." % keras.backend.backend())

HERE = os.path.dirname(os.path.abspath(__file__))
JSON_PATH = os.path.join(HERE, "conv.json")
NPZ_PATH = os.path.join(HERE, "conv.npz")
WEIGHT_SCALE = 0.5
KINK_MARGIN = 1e-2  # relu pre-activations stay this far from 0
MAX_ATTEMPTS = 2000


def case(id, layer, kwargs, input_shape):
    return dict(id=id, layer=layer, kwargs=kwargs, input_shape=list(input_shape))


def conv_specs():
    c1 = [
        ("conv1d_valid", {"filters": 3, "kernel_size": 3}, (2, 7, 2)),
        (
            "conv1d_same_stride2_odd",
            {"filters": 3, "kernel_size": 4, "strides": 2, "padding": "same"},
            (2, 9, 2),
        ),
        (
            "conv1d_dilation2_same",
            {"filters": 2, "kernel_size": 3, "dilation_rate": 2, "padding": "same"},
            (2, 8, 3),
        ),
        (
            "conv1d_causal",
            {"filters": 2, "kernel_size": 3, "padding": "causal", "dilation_rate": 2},
            (2, 7, 2),
        ),
        (
            "conv1d_groups2_relu",
            {"filters": 4, "kernel_size": 2, "groups": 2, "activation": "relu"},
            (2, 6, 4),
        ),
        (
            "conv1d_no_bias_valid_stride3",
            {"filters": 3, "kernel_size": 2, "strides": 3, "use_bias": False},
            (2, 8, 2),
        ),
    ]
    c2 = [
        ("conv2d_valid_3x3", {"filters": 3, "kernel_size": 3}, (2, 5, 6, 2)),
        (
            "conv2d_same_3x3_stride2_odd",
            {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"},
            (2, 7, 7, 2),
        ),
        (
            "conv2d_same_2x3_stride2_even",
            {"filters": 2, "kernel_size": [2, 3], "strides": 2, "padding": "same"},
            (2, 6, 8, 3),
        ),
        (
            "conv2d_same_4x4_stride1",
            {"filters": 2, "kernel_size": 4, "padding": "same"},
            (1, 5, 6, 2),
        ),
        (
            "conv2d_strides_2_1_valid",
            {"filters": 2, "kernel_size": [3, 2], "strides": [2, 1]},
            (2, 7, 5, 2),
        ),
        (
            "conv2d_dilation_2_same",
            {"filters": 2, "kernel_size": 3, "dilation_rate": 2, "padding": "same"},
            (1, 7, 6, 2),
        ),
        (
            "conv2d_dilation_2_1_valid",
            {"filters": 3, "kernel_size": [2, 3], "dilation_rate": [2, 1]},
            (2, 6, 5, 1),
        ),
        (
            "conv2d_groups2",
            {"filters": 4, "kernel_size": 3, "groups": 2, "padding": "same"},
            (2, 5, 5, 4),
        ),
        ("conv2d_1x1", {"filters": 3, "kernel_size": 1}, (2, 3, 4, 5)),
        ("conv2d_1x1_stride2", {"filters": 3, "kernel_size": 1, "strides": 2}, (2, 5, 4, 2)),
        ("conv2d_relu", {"filters": 4, "kernel_size": 3, "activation": "relu"}, (2, 6, 5, 2)),
        (
            "conv2d_sigmoid_same",
            {"filters": 2, "kernel_size": 2, "activation": "sigmoid", "padding": "same"},
            (2, 5, 4, 2),
        ),
        (
            "conv2d_tanh_no_bias",
            {"filters": 2, "kernel_size": 3, "activation": "tanh", "use_bias": False},
            (2, 5, 5, 2),
        ),
        ("conv2d_elu_unfused", {"filters": 2, "kernel_size": 2, "activation": "elu"}, (2, 4, 4, 2)),
        ("conv2d_kernel_equals_input", {"filters": 2, "kernel_size": [4, 3]}, (2, 4, 3, 2)),
    ]
    t = [
        (
            "conv1d_transpose_valid_stride2",
            "Conv1DTranspose",
            {"filters": 2, "kernel_size": 3, "strides": 2},
            (2, 5, 3),
        ),
        (
            "conv1d_transpose_same_stride3_k2",
            "Conv1DTranspose",
            {"filters": 2, "kernel_size": 2, "strides": 3, "padding": "same"},
            (2, 4, 2),
        ),
        (
            "conv2d_transpose_valid_3x3",
            "Conv2DTranspose",
            {"filters": 2, "kernel_size": 3},
            (2, 4, 3, 3),
        ),
        (
            "conv2d_transpose_valid_stride2",
            "Conv2DTranspose",
            {"filters": 3, "kernel_size": 3, "strides": 2},
            (2, 3, 4, 2),
        ),
        (
            "conv2d_transpose_same_stride2_k3",
            "Conv2DTranspose",
            {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"},
            (2, 3, 3, 2),
        ),
        (
            "conv2d_transpose_same_stride2_k4",
            "Conv2DTranspose",
            {"filters": 2, "kernel_size": 4, "strides": 2, "padding": "same"},
            (2, 3, 4, 2),
        ),
        (
            "conv2d_transpose_valid_stride3_k2",
            "Conv2DTranspose",
            {"filters": 2, "kernel_size": 2, "strides": 3},
            (1, 3, 2, 2),
        ),
        (
            "conv2d_transpose_output_padding",
            "Conv2DTranspose",
            {"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": 1},
            (2, 3, 3, 2),
        ),
        (
            "conv2d_transpose_same_output_padding",
            "Conv2DTranspose",
            {
                "filters": 2,
                "kernel_size": 3,
                "strides": [2, 3],
                "padding": "same",
                "output_padding": [1, 0],
            },
            (1, 3, 3, 2),
        ),
        (
            "conv2d_transpose_dilation2",
            "Conv2DTranspose",
            {"filters": 2, "kernel_size": 2, "dilation_rate": 2},
            (2, 3, 4, 2),
        ),
        ("conv2d_transpose_1x1", "Conv2DTranspose", {"filters": 3, "kernel_size": 1}, (2, 3, 3, 2)),
        (
            "conv2d_transpose_relu_no_bias",
            "Conv2DTranspose",
            {
                "filters": 3,
                "kernel_size": 3,
                "strides": 2,
                "padding": "same",
                "activation": "relu",
                "use_bias": False,
            },
            (2, 3, 3, 2),
        ),
    ]
    specs = [case(i, "Conv1D", kw, s) for i, kw, s in c1]
    specs += [case(i, "Conv2D", kw, s) for i, kw, s in c2]
    specs += [case(i, layer, kw, s) for i, layer, kw, s in t]
    return specs


def pooling_specs():
    p = [
        ("max_pool1d_default", "MaxPooling1D", {}, (2, 7, 3)),
        (
            "max_pool1d_same_3_2",
            "MaxPooling1D",
            {"pool_size": 3, "strides": 2, "padding": "same"},
            (2, 8, 2),
        ),
        ("max_pool1d_stride1", "MaxPooling1D", {"pool_size": 2, "strides": 1}, (2, 5, 2)),
        ("max_pool2d_default_odd", "MaxPooling2D", {}, (2, 5, 7, 2)),
        (
            "max_pool2d_same_3_2",
            "MaxPooling2D",
            {"pool_size": 3, "strides": 2, "padding": "same"},
            (2, 6, 5, 2),
        ),
        ("max_pool2d_overlap", "MaxPooling2D", {"pool_size": [3, 2], "strides": 1}, (1, 5, 4, 3)),
        (
            "max_pool2d_same_stride1",
            "MaxPooling2D",
            {"pool_size": 2, "strides": 1, "padding": "same"},
            (1, 4, 5, 2),
        ),
        ("avg_pool1d_default", "AveragePooling1D", {"pool_size": 2}, (2, 7, 3)),
        (
            "avg_pool1d_same_3_1",
            "AveragePooling1D",
            {"pool_size": 3, "strides": 1, "padding": "same"},
            (2, 6, 2),
        ),
        ("avg_pool2d_valid_3_2", "AveragePooling2D", {"pool_size": 3, "strides": 2}, (2, 7, 6, 2)),
        (
            "avg_pool2d_same_3_1",
            "AveragePooling2D",
            {"pool_size": 3, "strides": 1, "padding": "same"},
            (1, 5, 4, 2),
        ),
        (
            "avg_pool2d_same_2_1",
            "AveragePooling2D",
            {"pool_size": 2, "strides": 1, "padding": "same"},
            (1, 4, 5, 2),
        ),
        (
            "avg_pool2d_same_3_2_symmetric",
            "AveragePooling2D",
            {"pool_size": 3, "strides": 2, "padding": "same"},
            (2, 5, 7, 2),
        ),
        ("global_max_pool1d", "GlobalMaxPooling1D", {}, (2, 5, 3)),
        ("global_max_pool2d_keepdims", "GlobalMaxPooling2D", {"keepdims": True}, (2, 3, 4, 2)),
        ("global_avg_pool1d_keepdims", "GlobalAveragePooling1D", {"keepdims": True}, (2, 5, 3)),
        ("global_avg_pool2d", "GlobalAveragePooling2D", {}, (2, 3, 4, 2)),
    ]
    return [case(i, layer, kw, s) for i, layer, kw, s in p]


def preactivation(layer, x_t):
    """The layer's output before its activation (same weights), to keep relu kinks away."""
    config = layer.get_config()
    config["activation"] = None
    config["name"] = config["name"] + "_preact"
    twin = type(layer).from_config(config)
    twin.build(tuple(x_t.shape))
    twin.set_weights(layer.get_weights())
    return twin(x_t).detach().cpu().numpy()


def run_case(spec):
    seed = zlib.crc32(spec["id"].encode("utf-8"))
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed % (2**31))
    layer = getattr(keras.layers, spec["layer"])(**json.loads(json.dumps(spec["kwargs"])))
    shape = tuple(spec["input_shape"])
    layer(torch.zeros(shape))
    assert not layer.non_trainable_weights, spec["id"]
    relu = spec["kwargs"].get("activation") == "relu"
    for _ in range(MAX_ATTEMPTS):
        x = rng.standard_normal(shape).astype(np.float32)
        ws = [
            (WEIGHT_SCALE * rng.standard_normal(tuple(v.shape))).astype(np.float32)
            for v in layer.weights
        ]
        layer.set_weights(ws)
        if not relu:
            break
        z = preactivation(layer, torch.tensor(x))
        if np.all(np.abs(z) >= KINK_MARGIN) and (z > 0).any() and (z < 0).any():
            break
    else:
        raise RuntimeError("could not draw acceptable data for " + spec["id"])

    x_t = torch.tensor(x, requires_grad=True)
    params = [v.value for v in layer.trainable_weights]
    y_t = layer(x_t)
    y = y_t.detach().cpu().numpy()
    dy = rng.standard_normal(y.shape).astype(np.float32)
    grads = torch.autograd.grad((y_t * torch.from_numpy(dy)).sum(), [x_t] + params)
    arrays = {
        f"{spec['id']}/x": x,
        f"{spec['id']}/y": y,
        f"{spec['id']}/dy": dy,
        f"{spec['id']}/dx": grads[0].detach().numpy().astype(np.float32),
    }
    for j, (w, g) in enumerate(zip(ws, grads[1:])):
        arrays[f"{spec['id']}/w{j}"] = w
        arrays[f"{spec['id']}/dw{j}"] = g.detach().numpy().astype(np.float32)
    entry = {key: spec[key] for key in ("id", "layer", "kwargs", "input_shape")}
    entry["n_weights"] = len(ws)
    return entry, arrays


def main():
    torch.set_num_threads(1)
    specs = conv_specs() + pooling_specs()
    ids = [s["id"] for s in specs]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    entries, arrays = [], {}
    for spec in specs:
        entry, case_arrays = run_case(spec)
        entries.append(entry)
        arrays.update(case_arrays)
    with open(JSON_PATH, "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(e) for e in entries) + "\n]\n")
    save_npz_deterministic(NPZ_PATH, arrays)
    print(
        f"wrote {len(entries)} cases, {len(arrays)} arrays: {JSON_PATH}, {NPZ_PATH} "
        f"({os.path.getsize(NPZ_PATH)} bytes)"
    )


if __name__ == "__main__":
    main()
