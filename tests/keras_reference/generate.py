"""Generate Keras 3 reference numbers for tests/test_keras_reference.py.

This is a script, not a test. Run it from the repository root:

    KERAS_BACKEND=torch python tests/keras_reference/generate.py

It writes, next to this file:

* ``cases.json``  -- a list of cases: {"id", "layer", "kwargs", "input_shapes",
  "input_dtypes", "n_weights", "n_outputs"}.
* ``arrays.npz``   -- per case ``{id}/x{i}`` inputs, ``{id}/w{j}`` weights in
  ``layer.get_weights()`` order, ``{id}/y{k}`` outputs, ``{id}/dy{k}``
  cotangents, ``{id}/dx{i}`` gradients of ``sum_k sum(y_k * dy_k)`` w.r.t. each
  float input, ``{id}/dw{j}`` gradients w.r.t. each weight.

Everything is seeded per case (from the case id), so the output is
deterministic; the npz is also written with fixed zip timestamps so that
regenerating produces byte-identical files. Only the generation needs Keras and
torch; the tests read the two files with NumPy alone.
"""

import io
import json
import os
import sys
import zipfile
import zlib

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import keras  # noqa: E402

if keras.backend.backend() != "torch":
    sys.exit("Run with KERAS_BACKEND=torch (got %r)." % keras.backend.backend())

HERE = os.path.dirname(os.path.abspath(__file__))
CASES_PATH = os.path.join(HERE, "cases.json")
ARRAYS_PATH = os.path.join(HERE, "arrays.npz")

WEIGHT_SCALE = 0.5
# Inputs (or pre-activations) must keep at least this distance from any point
# where the function or its derivative is discontinuous.
KINK_MARGIN = 1e-2
MAX_ATTEMPTS = 10000

ACTIVATIONS = [
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "elu",
    "selu",
    "gelu",
    "softplus",
    "leaky_relu",
    "linear",
    "hard_sigmoid",
    "swish",
]
# Kinks (derivative discontinuities) of each activation string.
ACTIVATION_KINKS = {
    "relu": [0.0],
    "elu": [0.0],
    "selu": [0.0],
    "leaky_relu": [0.0],
    "hard_sigmoid": [-3.0, 3.0],
}


# --------------------------------------------------------------------------
# Case specifications
# --------------------------------------------------------------------------


def case(
    id,
    layer,
    kwargs,
    input_shapes,
    input_dtypes=None,
    scale=1.0,
    kinks=None,
    preact=None,
    distinct=False,
    int_high=None,
):
    """One case.

    kinks:    points that the checked values must stay KINK_MARGIN away from;
              every interval between/around them must also be hit at least
              once, so both sides of every kink are exercised.
    preact:   "dense" to check x @ W + b instead of the raw inputs.
    distinct: inputs must differ pairwise elementwise (Maximum/Minimum ties).
    int_high: integer inputs are drawn from [0, int_high).
    """
    return dict(
        id=id,
        layer=layer,
        kwargs=kwargs,
        input_shapes=[list(s) for s in input_shapes],
        input_dtypes=input_dtypes or ["float32"] * len(input_shapes),
        scale=scale,
        kinks=sorted(kinks or []),
        preact=preact,
        distinct=distinct,
        int_high=int_high,
    )


def build_specs():
    specs = []
    # Dense.
    specs.append(case("dense_2d", "Dense", {"units": 3}, [(3, 4)]))
    specs.append(
        case(
            "dense_3d_relu",
            "Dense",
            {"units": 3, "activation": "relu"},
            [(2, 3, 4)],
            kinks=[0.0],
            preact="dense",
        )
    )
    specs.append(case("dense_no_bias", "Dense", {"units": 3, "use_bias": False}, [(3, 4)]))
    for act in ACTIVATIONS:
        # hard_sigmoid needs pre-activations beyond +-3: use larger inputs.
        scale = 3.0 if act == "hard_sigmoid" else 1.5
        specs.append(
            case(
                "dense_act_" + act,
                "Dense",
                {"units": 4, "activation": act},
                [(3, 4)],
                scale=scale,
                kinks=ACTIVATION_KINKS.get(act),
                preact="dense",
            )
        )
    # Activation layer: inputs straddle 0 and go beyond +-3 for every string.
    for act in ACTIVATIONS:
        specs.append(
            case(
                "activation_" + act,
                "Activation",
                {"activation": act},
                [(3, 6)],
                scale=2.5,
                kinks=[-3.0, 0.0, 3.0],
            )
        )
    # ReLU.
    relu_kinks = [0.0, 0.5, 1.0]
    for id, kw in [
        ("relu_default", {}),
        ("relu_max_value", {"max_value": 1.0}),
        ("relu_negative_slope", {"negative_slope": 0.1}),
        ("relu_threshold", {"threshold": 0.5}),
        ("relu_all", {"max_value": 1.0, "negative_slope": 0.1, "threshold": 0.5}),
    ]:
        specs.append(case(id, "ReLU", kw, [(3, 5)], scale=1.5, kinks=relu_kinks))
    # LeakyReLU, PReLU, ELU, Softmax.
    specs.append(case("leaky_relu_default", "LeakyReLU", {}, [(3, 4)], kinks=[0.0]))
    specs.append(
        case("leaky_relu_slope_0_2", "LeakyReLU", {"negative_slope": 0.2}, [(3, 4)], kinks=[0.0])
    )
    specs.append(case("prelu_default", "PReLU", {}, [(2, 3, 4)], kinks=[0.0]))
    specs.append(case("prelu_shared_axes", "PReLU", {"shared_axes": [1]}, [(2, 3, 4)], kinks=[0.0]))
    specs.append(case("elu_default", "ELU", {}, [(3, 4)], scale=1.5, kinks=[0.0]))
    specs.append(case("elu_alpha_0_5", "ELU", {"alpha": 0.5}, [(3, 4)], scale=1.5, kinks=[0.0]))
    specs.append(case("softmax_last_axis", "Softmax", {"axis": -1}, [(2, 3, 4)], scale=1.5))
    specs.append(case("softmax_axis_1", "Softmax", {"axis": 1}, [(2, 3, 4)], scale=1.5))
    # Reshaping.
    specs.append(case("reshape_3x4", "Reshape", {"target_shape": [3, 4]}, [(2, 12)]))
    specs.append(case("reshape_minus1", "Reshape", {"target_shape": [-1, 2]}, [(2, 3, 4)]))
    specs.append(case("flatten_4d", "Flatten", {}, [(2, 2, 3, 2)]))
    specs.append(case("permute_2_1", "Permute", {"dims": [2, 1]}, [(2, 3, 4)]))
    specs.append(case("permute_3_1_2", "Permute", {"dims": [3, 1, 2]}, [(2, 2, 3, 4)]))
    specs.append(case("repeat_vector_3", "RepeatVector", {"n": 3}, [(2, 4)]))
    # Merging.
    specs.append(case("concatenate_last_axis", "Concatenate", {"axis": -1}, [(2, 3, 2), (2, 3, 4)]))
    specs.append(case("concatenate_axis_1", "Concatenate", {"axis": 1}, [(2, 2, 3), (2, 4, 3)]))
    specs.append(case("add_3", "Add", {}, [(2, 3, 4)] * 3))
    specs.append(case("subtract", "Subtract", {}, [(2, 3, 4)] * 2))
    specs.append(case("multiply", "Multiply", {}, [(2, 3, 4)] * 2))
    specs.append(case("average_3", "Average", {}, [(2, 3, 4)] * 3))
    specs.append(case("maximum_3", "Maximum", {}, [(2, 3, 4)] * 3, distinct=True))
    specs.append(case("minimum", "Minimum", {}, [(2, 3, 4)] * 2, distinct=True))
    # Dot: int and pair axes, negative axes, 2-D (output (batch, 1)), mixed ranks, rank 4 (Keras
    # flattens those around its matmul) and normalize (cosine similarity).
    for id, kw, shapes in [
        ("dot_2d", {"axes": 1}, [(3, 4), (3, 4)]),
        ("dot_2d_normalize", {"axes": -1, "normalize": True}, [(3, 5), (3, 5)]),
        ("dot_3d_pair", {"axes": [2, 1]}, [(2, 3, 4), (2, 4, 5)]),
        ("dot_3d_int", {"axes": 1}, [(2, 4, 3), (2, 4, 5)]),
        (
            "dot_3d_negative_normalize",
            {"axes": [-1, -2], "normalize": True},
            [(2, 3, 4), (2, 4, 5)],
        ),
        ("dot_2d_3d", {"axes": [1, 2]}, [(2, 4), (2, 3, 4)]),
        ("dot_3d_2d_normalize", {"axes": [1, -1], "normalize": True}, [(2, 4, 3), (2, 4)]),
        ("dot_4d_3d", {"axes": [2, 1]}, [(2, 3, 4, 2), (2, 4, 5)]),
        ("dot_3d_4d_normalize", {"axes": [-1, 3], "normalize": True}, [(2, 3, 4), (2, 2, 5, 4)]),
        ("dot_4d_4d", {"axes": [1, 3]}, [(2, 3, 2, 2), (2, 2, 2, 3)]),
    ]:
        specs.append(case(id, "Dot", kw, shapes))
    specs.append(case("identity", "Identity", {}, [(2, 3, 4)]))
    # Embedding.
    specs.append(
        case(
            "embedding",
            "Embedding",
            {"input_dim": 7, "output_dim": 3},
            [(2, 4)],
            input_dtypes=["int32"],
            int_high=7,
        )
    )
    ids = [s["id"] for s in specs]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    return specs


# --------------------------------------------------------------------------
# Data drawing
# --------------------------------------------------------------------------


def values_ok(values, kinks):
    """No value near a kink, and every interval around the kinks is hit."""
    if not kinks:
        return True
    v = np.asarray(values, dtype=np.float64).ravel()
    for k in kinks:
        if np.any(np.abs(v - k) < KINK_MARGIN):
            return False
    edges = [-np.inf] + list(kinks) + [np.inf]
    return all(np.any((v > lo) & (v < hi)) for lo, hi in zip(edges[:-1], edges[1:]))


def distinct_ok(xs):
    for i in range(len(xs)):
        for j in range(i + 1, len(xs)):
            if np.any(np.abs(xs[i] - xs[j]) < KINK_MARGIN):
                return False
    return True


def draw_inputs(rng, spec):
    xs = []
    for shape, dtype in zip(spec["input_shapes"], spec["input_dtypes"]):
        if dtype == "int32":
            high = spec["int_high"]
            x = rng.integers(0, high, size=shape).astype(np.int32)
            flat = x.reshape(-1)
            # Include padding-like zeros and a repeated index so that the
            # embedding gradient has to accumulate.
            flat[0] = 0
            flat[-1] = flat[1] if flat[1] != 0 else 1
            flat[-2] = flat[1] if flat[1] != 0 else 1
            xs.append(x)
        else:
            xs.append((spec["scale"] * rng.standard_normal(shape)).astype(np.float32))
    return xs


def draw_weights(rng, layer):
    return [
        (WEIGHT_SCALE * rng.standard_normal(tuple(v.shape))).astype(np.float32)
        for v in layer.weights
    ]


def checked_values(spec, xs, ws):
    if spec["preact"] == "dense":
        x64 = xs[0].astype(np.float64)
        z = x64 @ ws[0].astype(np.float64)
        if len(ws) > 1:
            z = z + ws[1]
        return z
    return np.concatenate([x.ravel() for x in xs])


# --------------------------------------------------------------------------
# Keras evaluation
# --------------------------------------------------------------------------


def make_layer(spec):
    kwargs = json.loads(json.dumps(spec["kwargs"]))  # exactly what tests see
    return getattr(keras.layers, spec["layer"])(**kwargs)


def keras_args(xs_t):
    return xs_t if len(xs_t) > 1 else xs_t[0]


def as_list(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def run_case(spec):
    seed = zlib.crc32(spec["id"].encode("utf-8"))
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed % (2**31))

    layer = make_layer(spec)
    # Build by a first call on dummy inputs of the right shapes and dtypes.
    dummies = [
        torch.zeros(s, dtype=getattr(torch, d))
        for s, d in zip(spec["input_shapes"], spec["input_dtypes"])
    ]
    layer(keras_args(dummies), training=False)

    weights = list(layer.weights)
    trainable = list(layer.trainable_weights)
    assert [id(v) for v in weights] == [id(v) for v in trainable], (
        spec["id"],
        "get_weights order differs from trainable_weights order",
    )
    assert not layer.non_trainable_weights, spec["id"]

    for _ in range(MAX_ATTEMPTS):
        xs = draw_inputs(rng, spec)
        ws = draw_weights(rng, layer)
        if not values_ok(checked_values(spec, xs, ws), spec["kinks"]):
            continue
        if spec["distinct"] and not distinct_ok(xs):
            continue
        break
    else:
        raise RuntimeError("could not draw acceptable data for " + spec["id"])

    layer.set_weights(ws)
    got = layer.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(got, ws)), spec["id"]

    xs_t = [torch.tensor(x, requires_grad=(x.dtype == np.float32)) for x in xs]
    params = [v.value for v in trainable]
    for p in params:
        assert p.requires_grad and p.is_leaf, spec["id"]

    ys_t = as_list(layer(keras_args(xs_t), training=False))
    ys = [y.detach().cpu().numpy() for y in ys_t]
    for y in ys:
        assert y.dtype == np.float32, (spec["id"], y.dtype)
    dys = [rng.standard_normal(y.shape).astype(np.float32) for y in ys]

    loss = sum((y * torch.from_numpy(dy)).sum() for y, dy in zip(ys_t, dys))
    float_xs = [t for t in xs_t if t.requires_grad]
    grads = torch.autograd.grad(loss, float_xs + params, allow_unused=True)
    grads = [
        np.zeros(tuple(t.shape), np.float32)
        if g is None
        else g.detach().cpu().numpy().astype(np.float32)
        for t, g in zip(float_xs + params, grads)
    ]
    dxs, dws = grads[: len(float_xs)], grads[len(float_xs) :]

    arrays = {}
    for i, x in enumerate(xs):
        arrays["%s/x%d" % (spec["id"], i)] = x
    for j, w in enumerate(ws):
        arrays["%s/w%d" % (spec["id"], j)] = w
    for k, (y, dy) in enumerate(zip(ys, dys)):
        arrays["%s/y%d" % (spec["id"], k)] = y
        arrays["%s/dy%d" % (spec["id"], k)] = dy
    float_idx = [i for i, x in enumerate(xs) if x.dtype == np.float32]
    for i, dx in zip(float_idx, dxs):
        arrays["%s/dx%d" % (spec["id"], i)] = dx
    for j, dw in enumerate(dws):
        arrays["%s/dw%d" % (spec["id"], j)] = dw

    for x, s in zip(xs, spec["input_shapes"]):
        assert list(x.shape) == s, spec["id"]
    entry = {
        "id": spec["id"],
        "layer": spec["layer"],
        "kwargs": spec["kwargs"],
        "input_shapes": spec["input_shapes"],
        "input_dtypes": spec["input_dtypes"],
        "n_weights": len(ws),
        "n_outputs": len(ys),
    }
    return entry, arrays


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------


def save_npz_deterministic(path, arrays):
    """np.savez_compressed, then rewrite the zip with fixed timestamps."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    buf.seek(0)
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, src.read(name))


def main():
    torch.set_num_threads(1)
    entries, arrays = [], {}
    for spec in build_specs():
        entry, case_arrays = run_case(spec)
        entries.append(entry)
        arrays.update(case_arrays)
    for key, a in arrays.items():
        assert a.dtype in (np.float32, np.int32), (key, a.dtype)
    with open(CASES_PATH, "w") as f:
        # One case per line: readable, and diffs stay small.
        f.write("[\n" + ",\n".join(json.dumps(e) for e in entries) + "\n]\n")
    save_npz_deterministic(ARRAYS_PATH, arrays)
    print(
        "wrote %d cases, %d arrays: %s (%d bytes), %s (%d bytes)"
        % (
            len(entries),
            len(arrays),
            CASES_PATH,
            os.path.getsize(CASES_PATH),
            ARRAYS_PATH,
            os.path.getsize(ARRAYS_PATH),
        )
    )


if __name__ == "__main__":
    main()
