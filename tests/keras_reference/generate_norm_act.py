"""Generate Keras 3 reference numbers for tests/test_normalization2.py and test_activations2.py.

A script, not a test. Run from the repository root (needs keras and torch):

    KERAS_BACKEND=torch PYTHONPATH=/path/to/keras python tests/keras_reference/generate_norm_act.py

Writes norm_act.json and norm_act.npz next to this file. The JSON is a list of cases:

* layer cases, conv.json's format (tests/helpers.py `keras_cases` / `check_keras_case`):
  {"id", "layer", "kwargs", "input_shape", "n_weights"} for GroupNormalization,
  RMSNormalization, UnitNormalization, Activation(<every Keras activation string>) and Dense
  with a fused activation. Arrays `{id}/x`, `{id}/w{j}`, `{id}/y`, `{id}/dy`, `{id}/dx`,
  `{id}/dw{j}`.
* function cases, {"id", "layer": "function", "fn", "kwargs", "input_shape"}: one call of
  keras.activations.<fn>(x, **kwargs), for the arguments a string cannot pass. Arrays `{id}/x`,
  `{id}/y`, `{id}/dy`, `{id}/dx`.

Inputs keep KINK_MARGIN away from every kink of the piecewise activations, where the one-sided
derivatives differ. Left out on purpose: "sparsemax", whose Keras 3.15 backends compute the
threshold from the sum of the cumulative sums (not a projection onto the simplex); graphengine
follows Martins & Astudillo (2016), checked against a NumPy reference in test_activations2.py.
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
KINKS = np.array([-3.0, -1.0, -0.5, -0.3, 0.0, 0.3, 0.5, 1.0, 3.0, 5.0, 6.0])
KINK_MARGIN = 0.05

NORM_CASES = [
    ("gn_groups2", "GroupNormalization", {"groups": 2}, (2, 3, 3, 4)),
    ("gn_instance", "GroupNormalization", {"groups": -1, "epsilon": 0.01}, (2, 5, 3)),
    ("gn_axis1", "GroupNormalization", {"groups": 3, "axis": 1}, (2, 6, 2, 2)),
    ("gn_one_group", "GroupNormalization", {"groups": 1}, (2, 3, 4)),
    (
        "gn_plain",
        "GroupNormalization",
        {"groups": 2, "center": False, "scale": False, "epsilon": 0.1},
        (3, 4),
    ),
    ("gn_no_center", "GroupNormalization", {"groups": 2, "center": False}, (2, 3, 4)),
    ("rms_last", "RMSNormalization", {}, (3, 5)),
    ("rms_two_axes", "RMSNormalization", {"axis": [-2, -1]}, (2, 3, 4)),
    ("rms_3d_eps", "RMSNormalization", {"epsilon": 0.1}, (2, 3, 4)),
    ("unit_last", "UnitNormalization", {}, (3, 5)),
    ("unit_two_axes", "UnitNormalization", {"axis": [1, 2]}, (2, 3, 4)),
]

# every string keras.activations.get knows but "threshold" (it needs arguments) and sparsemax
ACTIVATIONS = sorted(set(keras.src.activations.ALL_OBJECTS_DICT) - {"threshold", "sparsemax"})

DENSE_CASES = [
    ("dense_relu6", {"units": 4, "activation": "relu6"}, (3, 5)),
    ("dense_hard_silu", {"units": 3, "activation": "hard_silu"}, (4, 5)),
]

FUNCTION_CASES = [
    ("fn_leaky_relu", "leaky_relu", {"negative_slope": 0.1}),
    ("fn_relu_all_args", "relu", {"negative_slope": 0.1, "max_value": 5.0, "threshold": 0.5}),
    ("fn_elu_alpha", "elu", {"alpha": 0.5}),
    ("fn_celu_alpha", "celu", {"alpha": 2.0}),
    ("fn_soft_shrink", "soft_shrink", {"threshold": 1.0}),
    ("fn_hard_shrink", "hard_shrink", {"threshold": 0.3}),
    ("fn_squareplus", "squareplus", {"b": 1.0}),
    ("fn_threshold", "threshold", {"threshold": 0.5, "default_value": -2.0}),
    ("fn_gelu_tanh", "gelu", {"approximate": True}),
    ("fn_log_softmax_axis1", "log_softmax", {"axis": 1}),
    ("fn_glu_axis1", "glu", {"axis": 1}),
]


def away_from_kinks(x):
    """x with every value within KINK_MARGIN of a kink moved 2 * KINK_MARGIN up."""
    near = np.min(np.abs(x[..., None] - KINKS), axis=-1) < KINK_MARGIN
    return np.where(near, x + 2 * KINK_MARGIN, x).astype(np.float32)


def rng_for(cid):
    return np.random.default_rng(zlib.crc32(cid.encode()))


def grads(fn, x, params, cid):
    """(y, dy, [dx, *dparams]) of sum(fn(x) * dy), dy drawn in y's shape."""
    xt = torch.tensor(x, requires_grad=True)
    y = fn(xt)
    dy = rng_for(cid + "/dy").standard_normal(tuple(y.shape)).astype(np.float32)
    out = torch.autograd.grad((y * torch.from_numpy(dy)).sum(), [xt] + params)
    return y.detach().numpy(), dy, [g.numpy() for g in out]


def draw_weights(cid, layer):
    """gamma and scale near 1, the rest around 0, seeded by the case id."""
    rng = rng_for(cid + "/w")
    out = []
    for v in layer.weights:
        base = 1.0 if v.path.split("/")[-1] in ("gamma", "scale") else 0.0
        out.append((base + 0.5 * rng.standard_normal(tuple(v.shape))).astype(np.float32))
    return out


def layer_case(cid, name, kwargs, shape, x, arrays):
    layer = getattr(keras.layers, name)(**kwargs)
    layer.build(shape)
    ws = draw_weights(cid, layer)
    if ws:
        layer.set_weights(ws)
    params = [v.value for v in layer.trainable_weights]
    y, dy, (dx, *dws) = grads(layer, x, params, cid)
    arrays.update({f"{cid}/x": x, f"{cid}/y": y, f"{cid}/dy": dy, f"{cid}/dx": dx})
    for j, (w, g) in enumerate(zip(ws, dws)):
        arrays[f"{cid}/w{j}"], arrays[f"{cid}/dw{j}"] = w, g
    return {"id": cid, "layer": name, "kwargs": kwargs, "input_shape": list(shape),
            "n_weights": len(ws)}  # fmt: skip


def norm_cases(arrays):
    out = []
    for cid, name, kwargs, shape in NORM_CASES:
        x = (1.5 * rng_for(cid).standard_normal(shape) + 0.7).astype(np.float32)
        out.append(layer_case(cid, name, kwargs, shape, x, arrays))
    return out


def activation_cases(arrays):
    out = []
    for name in ACTIVATIONS:
        cid = f"act_{name}"
        x = away_from_kinks(rng_for(cid).uniform(-7.0, 7.0, (3, 8)))
        out.append(layer_case(cid, "Activation", {"activation": name}, (3, 8), x, arrays))
    for cid, kwargs, shape in DENSE_CASES:
        layer = keras.layers.Dense(**kwargs)
        layer.build(shape)
        kernel, bias = draw_weights(cid, layer)
        for attempt in range(1000):  # an input whose pre-activations stay off the kinks
            x = (2.0 * rng_for(f"{cid}/{attempt}").standard_normal(shape)).astype(np.float32)
            if np.min(np.abs((x @ kernel + bias)[..., None] - KINKS)) > KINK_MARGIN:
                break
        out.append(layer_case(cid, "Dense", kwargs, shape, x, arrays))
    return out


def function_cases(arrays):
    out = []
    for cid, fn, kwargs in FUNCTION_CASES:
        shape = (2, 4, 6)
        x = away_from_kinks(rng_for(cid).uniform(-4.0, 4.0, shape))
        f = getattr(keras.activations, fn)
        y, dy, (dx,) = grads(lambda t, f=f, kw=kwargs: f(t, **kw), x, [], cid)
        arrays.update({f"{cid}/x": x, f"{cid}/y": y, f"{cid}/dy": dy, f"{cid}/dx": dx})
        case = {"id": cid, "layer": "function", "fn": fn, "kwargs": kwargs}
        out.append({**case, "input_shape": list(shape)})
    return out


def main():
    keras.utils.set_random_seed(0)
    arrays = {}
    cases = norm_cases(arrays) + activation_cases(arrays) + function_cases(arrays)
    with open(os.path.join(HERE, "norm_act.json"), "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(c, sort_keys=True) for c in cases) + "\n]\n")
    save_npz_deterministic(os.path.join(HERE, "norm_act.npz"), arrays)
    print(f"{len(cases)} cases, {len(arrays)} arrays")


if __name__ == "__main__":
    main()
