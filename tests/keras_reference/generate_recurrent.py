"""Generate Keras 3 reference numbers for the recurrent layers (tests/test_recurrent.py).

A script, not a test. Run from the repository root (needs keras and torch):

    KERAS_BACKEND=torch python tests/keras_reference/generate_recurrent.py

Each case is a tiny model described by a recipe (see `build_model`, which the test imports to
build the same model with graphengine): one recurrent layer on x (and initial states), behind
an Embedding(mask_zero=True) for masks, wrapped in Bidirectional, around a cell, or followed by
TimeDistributed(Dense). Writes recurrent.json (the cases) and recurrent.npz: per case `{id}/x{i}`
inputs, `{id}/w{j}` weights in `model.weights` order, `{id}/y{k}` outputs with cotangents
`{id}/dy{k}`, and the gradients of sum_k <y_k, dy_k>: `{id}/dx{i}` for each float input and
`{id}/dw{j}` for each weight. Seeded per case; the npz has fixed zip timestamps (no pickle).
"""

import io
import json
import os
import zipfile
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
N, T, D, U, VOCAB = 3, 5, 4, 3, 7
RNN_LAYERS = {
    "simple_rnn": ("SimpleRNN", {}),
    "lstm": ("LSTM", {}),
    "gru": ("GRU", {}),
    "gru_reset_before": ("GRU", {"reset_after": False}),
}
# padding (id 0) leading, trailing, in the middle, and a row without any
IDS = np.array([[0, 0, 3, 4, 5], [2, 3, 0, 0, 0], [1, 0, 2, 6, 4], [5, 1, 2, 6, 3]], np.int32)


def build_model(lib, recipe, batch_shapes, dtypes):
    """The recipe's model with `lib` (keras or graphengine: the same functional API)."""
    inputs = [
        lib.Input(batch_shape=(None,) + tuple(s[1:]), dtype=d) for s, d in zip(batch_shapes, dtypes)
    ]
    L = lib.layers
    kind, kwargs = recipe["kind"], recipe.get("kwargs", {})
    x = inputs[0]
    if recipe.get("embedding"):
        x = L.Embedding(VOCAB, D, mask_zero=True)(x)
    if kind == "rnn":
        layer = getattr(L, recipe["layer"])(**kwargs)
        states = inputs[1:]
        out = layer(x, initial_state=states) if states else layer(x)
    elif kind == "cell":
        cell = getattr(L, recipe["cell"])(**recipe["cell_kwargs"])
        out = L.RNN(cell, **kwargs)(x)
    elif kind == "bidirectional":
        inner = getattr(L, recipe["layer"])(**kwargs)
        out = L.Bidirectional(inner, merge_mode=recipe["merge_mode"])(x)
    elif kind == "time_distributed":
        seq = getattr(L, recipe["layer"])(**kwargs)(x)
        out = L.TimeDistributed(L.Dense(2, activation="tanh"))(seq)
    else:
        raise ValueError(kind)
    return lib.Model(inputs, out)


def case(id, recipe, states=0):
    if recipe.get("embedding"):
        shapes, dtypes = [IDS.shape], ["int32"]
    else:
        shapes, dtypes = [(N, T, D)], ["float32"]
    shapes += [(N, U)] * states
    dtypes += ["float32"] * states
    shapes = [list(s) for s in shapes]
    return {"id": id, "recipe": recipe, "input_shapes": shapes, "input_dtypes": dtypes}


def rnn(layer, embedding=False, **kwargs):
    recipe = {"kind": "rnn", "layer": layer, "kwargs": {"units": U, **kwargs}}
    return {**recipe, "embedding": True} if embedding else recipe


def bidirectional(layer, merge_mode, embedding=False, **kwargs):
    recipe = {"kind": "bidirectional", "layer": layer, "merge_mode": merge_mode}
    return {**recipe, "embedding": embedding, "kwargs": {"units": U, **kwargs}}


def build_specs():
    specs = []
    for name, (layer, extra) in RNN_LAYERS.items():
        n_states = 2 if layer == "LSTM" else 1
        specs += [
            case(f"{name}_last", rnn(layer, **extra)),
            case(
                f"{name}_sequences_backwards",
                rnn(layer, return_sequences=True, go_backwards=True, **extra),
            ),
            case(
                f"{name}_initial_state",
                rnn(layer, return_state=True, return_sequences=True, **extra),
                states=n_states,
            ),
            case(f"{name}_mask_sequences", rnn(layer, True, return_sequences=True, **extra)),
            case(
                f"{name}_mask_backwards_state",
                rnn(layer, True, go_backwards=True, return_state=True, **extra),
            ),
            case(f"{name}_no_bias", rnn(layer, use_bias=False, return_sequences=True, **extra)),
        ]
    specs += [
        case("simple_rnn_relu", rnn("SimpleRNN", activation="relu", return_sequences=True)),
        case(
            "lstm_hard_sigmoid_linear",
            rnn("LSTM", activation="linear", recurrent_activation="hard_sigmoid"),
        ),
        case("gru_relu", rnn("GRU", activation="relu", return_sequences=True)),
    ]
    for mode in ("concat", "sum", "mul", "ave", None):
        recipe = bidirectional("LSTM", mode, return_sequences=True)
        specs.append(case(f"bidirectional_lstm_{mode}", recipe))
    specs += [
        case(
            "bidirectional_gru_mask_state",
            bidirectional("GRU", "concat", embedding=True, return_state=True),
        ),
        case(
            "bidirectional_lstm_mask_sequences",
            bidirectional("LSTM", "concat", embedding=True, return_sequences=True),
        ),
    ]
    for cell, kw in (("SimpleRNNCell", {}), ("LSTMCell", {}), ("GRUCell", {"reset_after": False})):
        recipe = {"kind": "cell", "cell": cell, "cell_kwargs": {"units": U, **kw}}
        specs.append(case(f"rnn_{cell}", {**recipe, "kwargs": {"return_sequences": True}}))
    recipe = {"kind": "time_distributed", "layer": "LSTM"}
    recipe["kwargs"] = {"units": U, "return_sequences": True}
    specs.append(case("time_distributed_dense", recipe))
    return specs


def _inputs(spec, rng):
    xs = []
    for shape, dtype in zip(spec["input_shapes"], spec["input_dtypes"]):
        xs.append(IDS.copy() if dtype == "int32" else rng.standard_normal(shape).astype(np.float32))
    return xs


def run_case(spec):
    import keras
    import torch

    seed = zlib.crc32(spec["id"].encode("utf-8"))
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed % (2**31))
    model = build_model(keras, spec["recipe"], spec["input_shapes"], spec["input_dtypes"])
    ws = [(0.5 * rng.standard_normal(tuple(v.shape))).astype(np.float32) for v in model.weights]
    model.set_weights(ws)
    assert [id(v) for v in model.weights] == [id(v) for v in model.trainable_weights]
    xs = _inputs(spec, rng)
    xs_t = [torch.tensor(x, requires_grad=x.dtype == np.float32) for x in xs]
    ys_t = model(xs_t, training=False)
    ys_t = list(ys_t) if isinstance(ys_t, (list, tuple)) else [ys_t]
    ys = [y.detach().numpy() for y in ys_t]
    dys = [rng.standard_normal(y.shape).astype(np.float32) for y in ys]
    loss = sum((y * torch.from_numpy(dy)).sum() for y, dy in zip(ys_t, dys))
    float_xs = [t for t in xs_t if t.requires_grad]
    params = [v.value for v in model.trainable_weights]
    grads = torch.autograd.grad(loss, float_xs + params, allow_unused=True)
    grads = [
        np.zeros(tuple(t.shape), np.float32) if g is None else g.numpy()
        for t, g in zip(float_xs + params, grads)
    ]
    cid, arrays = spec["id"], {}
    for i, x in enumerate(xs):
        arrays[f"{cid}/x{i}"] = x
    for j, w in enumerate(ws):
        arrays[f"{cid}/w{j}"] = w
    for k, (y, dy) in enumerate(zip(ys, dys)):
        arrays[f"{cid}/y{k}"], arrays[f"{cid}/dy{k}"] = y, dy
    float_idx = [i for i, x in enumerate(xs) if x.dtype == np.float32]
    for i, g in zip(float_idx, grads):
        arrays[f"{cid}/dx{i}"] = g
    for j, g in enumerate(grads[len(float_idx) :]):
        arrays[f"{cid}/dw{j}"] = g
    return {**spec, "n_weights": len(ws), "n_outputs": len(ys)}, arrays


def save_npz_deterministic(path, arrays):
    """np.savez_compressed, then rewritten with fixed zip timestamps (byte-identical reruns)."""
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
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    import torch

    if keras.backend.backend() != "torch":
        raise SystemExit(f"Run with KERAS_BACKEND=torch (got {keras.backend.backend()!r}).")
    torch.set_num_threads(1)
    entries, arrays = [], {}
    for spec in build_specs():
        entry, case_arrays = run_case(spec)
        entries.append(entry)
        arrays.update(case_arrays)
    for key, a in arrays.items():
        assert a.dtype in (np.float32, np.int32), (key, a.dtype)
    json_path, npz_path = (os.path.join(HERE, f"recurrent.{e}") for e in ("json", "npz"))
    with open(json_path, "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(e) for e in entries) + "\n]\n")
    save_npz_deterministic(npz_path, arrays)
    print(f"wrote {len(entries)} cases, {len(arrays)} arrays to {json_path}, {npz_path}")


if __name__ == "__main__":
    main()
