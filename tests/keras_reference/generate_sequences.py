"""Generate Keras 3 reference numbers for Masking, stateful RNNs and ConvLSTM2D
(tests/test_masking.py, tests/test_stateful_rnn.py, tests/test_conv_lstm.py).

A script, not a test. Run from the repository root (needs keras and torch):

    KERAS_BACKEND=torch PYTHONPATH=/tmp/kerapkgs python tests/keras_reference/generate_sequences.py

Each case is a tiny model described by a recipe (`build_model`, which the tests import to build
the same model with graphengine). Writes sequences.json (the cases) and sequences.npz, per case:
`{id}/x{i}` inputs, `{id}/w{j}` weights in `model.weights` order, and by kind
- "grad": `{id}/y{k}` outputs, cotangents `{id}/dy{k}`, and the gradients of
  sum_k <y_k, dy_k>: `{id}/dx{i}` per float input, `{id}/dw{j}` per weight;
- "stateful": the model run on batch x0 then x1: `{id}/y0`, `{id}/y1`, the states after
  (`{id}/s{i}`), and the gradients of <y1, dy1> (`{id}/dx1`, `{id}/dw{j}`);
- "fit": one epoch of SGD(0.1) on mse, batches x0 then x1 (targets t0, t1), shuffle off:
  the weights after (`{id}/fw{j}`) and the states after (`{id}/s{i}`).
Seeded per case; the npz has fixed zip timestamps (no pickle).
"""

import json
import os
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
N, T, D, U = 4, 5, 3, 3
# (N, T, D) padded batches: trailing, leading and middle padding, and a row whose step 2 has
# only some features equal to the mask value (kept)
PAD = {0: [3, 4], 1: [0], 2: [2]}
CONV = dict(N=2, T=3, H=5, W=5, C=2, F=3)


def padded(rng, mask_value):
    x = rng.standard_normal((N, T, D)).astype(np.float32)
    for row, steps in PAD.items():
        x[row, steps, :] = mask_value
    x[3, 2, :2] = mask_value
    return x


def _body(lib, recipe, x):
    L = lib.layers
    kind, kwargs = recipe["kind"], recipe.get("kwargs", {})
    if kind in ("rnn", "stateful"):
        return getattr(L, recipe["layer"])(**kwargs)(x)
    if kind == "bidirectional":
        return L.Bidirectional(getattr(L, recipe["layer"])(**kwargs))(x)
    if kind == "time_distributed":
        seq = getattr(L, recipe["layer"])(**kwargs)(x)
        return L.TimeDistributed(L.Dense(2, activation="tanh"))(seq)
    if kind == "masking":
        return x
    if kind == "conv_lstm":
        return L.ConvLSTM2D(**kwargs)(x)
    raise ValueError(kind)


def build_model(lib, recipe, batch_shapes, dtypes):
    """The recipe's model with `lib` (keras or graphengine: the same functional API)."""
    stateful = recipe["kind"] == "stateful"
    inputs = [
        lib.Input(batch_shape=tuple(s) if stateful else (None,) + tuple(s[1:]), dtype=d)
        for s, d in zip(batch_shapes, dtypes)
    ]
    L = lib.layers
    x = inputs[0]
    if "mask_value" in recipe:
        x = L.Masking(mask_value=recipe["mask_value"])(x)
    if recipe["kind"] == "conv_lstm" and len(inputs) > 1:  # an explicit (N, T) mask
        out = L.ConvLSTM2D(**recipe["kwargs"])(x, mask=inputs[1])
    else:
        out = _body(lib, recipe, x)
    pool = recipe.get("pool")
    if pool:
        out = getattr(L, pool)()(out)
    if recipe.get("dense"):
        out = L.Dense(1)(out)
    return lib.Model(inputs, out)


def case(id, recipe, kind="grad", shapes=None, dtypes=None):
    shapes = shapes or [[N, T, D]]
    dtypes = dtypes or ["float32"] * len(shapes)
    return {
        "id": id,
        "recipe": recipe,
        "kind": kind,
        "input_shapes": shapes,
        "input_dtypes": dtypes,
    }


def masked(kind, layer=None, mask_value=0.0, pool=None, **kwargs):
    recipe = {"kind": kind, "mask_value": mask_value}
    if layer:
        recipe.update(layer=layer, kwargs={"units": U, **kwargs})
    return {**recipe, "pool": pool} if pool else recipe


def masking_specs():
    seq = {"return_sequences": True}
    gap, gmp = "GlobalAveragePooling1D", "GlobalMaxPooling1D"
    return [
        case("masking_alone", masked("masking")),
        case("masking_alone_minus_one", masked("masking", mask_value=-1.0)),
        case("masking_pool", masked("masking", pool=gap)),
        case("masking_lstm", masked("rnn", "LSTM")),
        case("masking_lstm_state_minus_one", masked("rnn", "LSTM", -1.0, return_state=True)),
        case("masking_gru_pool", masked("rnn", "GRU", pool=gap, **seq)),
        case(
            "masking_simple_rnn_backwards_pool",
            masked("rnn", "SimpleRNN", pool=gap, go_backwards=True, **seq),
        ),
        case("masking_gru_max_pool", masked("rnn", "GRU", pool=gmp, **seq)),
        case("masking_bidirectional_pool", masked("bidirectional", "LSTM", pool=gap, **seq)),
        case("masking_bidirectional_last", masked("bidirectional", "GRU")),
        case("masking_time_distributed_pool", masked("time_distributed", "LSTM", pool=gap, **seq)),
    ]


def stateful_specs():
    specs = []
    for layer in ("SimpleRNN", "LSTM", "GRU"):
        recipe = {"kind": "stateful", "layer": layer}
        recipe["kwargs"] = {"units": U, "stateful": True, "return_sequences": True}
        specs.append(case(f"stateful_{layer.lower()}", recipe, "stateful"))
    recipe = {"kind": "stateful", "layer": "LSTM", "dense": True}
    recipe["kwargs"] = {"units": U, "stateful": True}
    specs.append(case("stateful_lstm_fit", recipe, "fit"))
    recipe = {"kind": "stateful", "layer": "GRU", "dense": True}
    recipe["kwargs"] = {"units": U, "stateful": True, "go_backwards": True}
    specs.append(case("stateful_gru_backwards_fit", recipe, "fit"))
    return specs


def conv_lstm(id, kind="grad", mask=False, **kwargs):
    c = CONV
    shapes = [[c["N"], c["T"], c["H"], c["W"], c["C"]]]
    dtypes = ["float32"]
    if mask:
        shapes.append([c["N"], c["T"]])
        dtypes.append("bool")
    recipe = {"kind": "stateful" if kind == "stateful" else "conv_lstm"}
    recipe["kwargs"] = {"filters": c["F"], "kernel_size": 3, **kwargs}
    if kind == "stateful":
        recipe["layer"] = "ConvLSTM2D"
    return case(id, recipe, kind, shapes, dtypes)


def conv_lstm_specs():
    return [
        conv_lstm("conv_lstm_default"),
        conv_lstm("conv_lstm_same_sequences", padding="same", return_sequences=True),
        conv_lstm("conv_lstm_strides", strides=2, return_state=True),
        conv_lstm("conv_lstm_dilation_backwards", dilation_rate=2, go_backwards=True),
        conv_lstm(
            "conv_lstm_kernel_2x3_no_bias",
            kernel_size=(2, 3),
            padding="same",
            use_bias=False,
            return_sequences=True,
        ),
        conv_lstm(
            "conv_lstm_activations",
            activation="relu",
            recurrent_activation="hard_sigmoid",
            return_sequences=True,
        ),
        conv_lstm("conv_lstm_mask", mask=True, return_sequences=True, return_state=True),
        conv_lstm("conv_lstm_stateful", "stateful", stateful=True, padding="same"),
    ]


def build_specs():
    return masking_specs() + stateful_specs() + conv_lstm_specs()


def _inputs(spec, rng):
    recipe, xs = spec["recipe"], []
    for shape, dtype in zip(spec["input_shapes"], spec["input_dtypes"]):
        if dtype == "bool":  # a mask: padding trailing, leading, none
            m = np.ones(shape, bool)
            m[0, -1], m[1, 0] = False, False
            xs.append(m)
        elif "mask_value" in recipe:
            xs.append(padded(rng, recipe["mask_value"]))
        else:
            xs.append(rng.standard_normal(shape).astype(np.float32))
    return xs


def _as_list(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def _grads(model, xs, rng):
    """Outputs, cotangents and gradients (float inputs, then weights) of one call."""
    import torch

    xs_t = [torch.tensor(x, requires_grad=x.dtype == np.float32) for x in xs]
    ys_t = _as_list(model(xs_t if len(xs_t) > 1 else xs_t[0], training=False))
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
    return ys, dys, grads[: len(float_xs)], grads[len(float_xs) :]


def _states(model):
    return [np.array(v.value.detach().cpu()) for v in model.layers[1].states]


def _twin(keras, spec, model):
    """The stateful model's layer, not stateful, its states given as inputs (same weights)."""
    recipe = spec["recipe"]
    kwargs = {k: v for k, v in recipe["kwargs"].items() if k != "stateful"}
    shape = spec["input_shapes"][0]
    x = keras.Input(batch_shape=tuple(shape))
    states = [keras.Input(batch_shape=tuple(s.shape)) for s in _states(model)]
    layer = getattr(keras.layers, recipe["layer"])(**kwargs)
    twin = keras.Model([x, *states], layer(x, initial_state=states))
    twin.set_weights(model.get_weights())
    return twin


def _sgd_epoch(keras, spec, model, xs, ts):
    """What fit(SGD(0.1), "mse", shuffle=False) does over the batches xs: Keras 3.15's torch
    backend fails to differentiate a stateful layer in place, so its twin (states as inputs,
    final states as outputs) runs each step: w -= 0.1 * dloss/dw, then the states move on."""
    import torch

    recipe = spec["recipe"]
    kwargs = {k: v for k, v in recipe["kwargs"].items() if k != "stateful"}
    x = keras.Input(batch_shape=tuple(spec["input_shapes"][0]))
    state_inputs = [keras.Input(batch_shape=tuple(s.shape)) for s in _states(model)]
    out, *finals = getattr(keras.layers, recipe["layer"])(**kwargs, return_state=True)(
        x, initial_state=state_inputs
    )
    twin = keras.Model([x, *state_inputs], [keras.layers.Dense(1)(out), *finals])
    twin.set_weights(model.get_weights())
    states = [np.zeros(s.shape, np.float32) for s in state_inputs]
    for xb, tb in zip(xs, ts):
        y, *finals = twin([torch.from_numpy(xb), *map(torch.from_numpy, states)])
        loss = ((y - torch.from_numpy(tb)) ** 2).mean()
        params = [v.value for v in twin.trainable_weights]
        grads = torch.autograd.grad(loss, params)
        for v, g in zip(twin.trainable_weights, grads):
            v.assign(v.value.detach() - 0.1 * g)
        states = [f.detach().numpy() for f in finals]
    return twin.get_weights(), states


def run_case(spec):
    import keras

    seed = zlib.crc32(spec["id"].encode("utf-8"))
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed % (2**31))
    model = build_model(keras, spec["recipe"], spec["input_shapes"], spec["input_dtypes"])
    ws = [(0.5 * rng.standard_normal(tuple(v.shape))).astype(np.float32) for v in model.weights]
    model.set_weights(ws)
    cid, kind = spec["id"], spec["kind"]
    arrays = {f"{cid}/w{j}": w for j, w in enumerate(ws)}
    if kind == "grad":
        xs = _inputs(spec, rng)
        ys, dys, dxs, dws = _grads(model, xs, rng)
        arrays.update({f"{cid}/x{i}": x for i, x in enumerate(xs)})
        for k, (y, dy) in enumerate(zip(ys, dys)):
            arrays[f"{cid}/y{k}"], arrays[f"{cid}/dy{k}"] = y, dy
        arrays.update({f"{cid}/dx{i}": g for i, g in enumerate(dxs)})
        n_outputs = len(ys)
    elif kind == "stateful":
        x0, x1 = (_inputs(spec, rng)[0] for _ in range(2))
        y0 = np.array(model(x0, training=False).detach())
        twin = _twin(keras, spec, model)  # Keras's torch backend cannot differentiate a
        (y1,), (dy1,), dxs, dws = _grads(twin, [x1, *_states(model)], rng)  # stateful call
        dx1 = dxs[0]
        y1_stateful = np.array(model(x1, training=False).detach())
        np.testing.assert_allclose(y1, y1_stateful, rtol=1e-6, atol=1e-6)
        arrays.update({f"{cid}/x0": x0, f"{cid}/x1": x1, f"{cid}/y0": y0, f"{cid}/y1": y1})
        arrays.update({f"{cid}/dy1": dy1, f"{cid}/dx1": dx1})
        arrays.update({f"{cid}/s{i}": s for i, s in enumerate(_states(model))})
        n_outputs = 1
    else:
        x0, x1 = (_inputs(spec, rng)[0] for _ in range(2))
        t = rng.standard_normal((2 * len(x0), 1)).astype(np.float32)
        weights, states = _sgd_epoch(keras, spec, model, [x0, x1], np.split(t, 2))
        arrays.update({f"{cid}/x0": x0, f"{cid}/x1": x1, f"{cid}/t": t})
        arrays.update({f"{cid}/fw{j}": w for j, w in enumerate(weights)})
        arrays.update({f"{cid}/s{i}": s for i, s in enumerate(states)})
        dws, n_outputs = [], 0
    arrays.update({f"{cid}/dw{j}": g for j, g in enumerate(dws)})
    n_states = len(model.layers[1].states) if kind != "grad" else 0
    return {**spec, "n_weights": len(ws), "n_outputs": n_outputs, "n_states": n_states}, arrays


def main():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    import torch
    from generate import save_npz_deterministic  # imports keras: the generators' only

    if keras.backend.backend() != "torch":
        raise SystemExit(f"Run with KERAS_BACKEND=torch (got {keras.backend.backend()!r}).")
    torch.set_num_threads(1)
    entries, arrays = [], {}
    for spec in build_specs():
        entry, case_arrays = run_case(spec)
        entries.append(entry)
        arrays.update(case_arrays)
    for key, a in arrays.items():
        assert a.dtype in (np.float32, np.bool_), (key, a.dtype)
    json_path, npz_path = (os.path.join(HERE, f"sequences.{e}") for e in ("json", "npz"))
    with open(json_path, "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(e) for e in entries) + "\n]\n")
    save_npz_deterministic(npz_path, arrays)
    print(f"wrote {len(entries)} cases, {len(arrays)} arrays to {json_path}, {npz_path}")


if __name__ == "__main__":
    main()
