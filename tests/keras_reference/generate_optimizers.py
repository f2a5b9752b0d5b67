"""Generate Keras 3 optimizer trajectories for tests/test_optimizers.py.

This is a script, not a test. Run it from the repository root:

    KERAS_BACKEND=torch python tests/keras_reference/generate_optimizers.py

For every case below, Keras's optimizer takes 5 steps on two small variables (shapes (3,) and
(2, 2)) with a fixed gradient sequence, in float32 and in float64 (floatx float64, so the
learning rate is float64 too). It writes, next to this file:

* ``optimizers.json`` -- the cases: {"id", "optimizer", "kwargs", "dtype", "set_lr"}, where a
  schedule in kwargs["learning_rate"] is {"class_name", "config"} and "set_lr" maps a step
  index to a learning rate assigned just before that step.
* ``optimizers.npz`` -- per case ``{id}/w{j}`` initial values, ``{id}/g{j}`` gradients
  (steps, *shape), ``{id}/traj{j}`` the variable after each step (steps, *shape).

Everything is seeded per case, and the npz has fixed zip timestamps, so regenerating gives
byte-identical files. Only generation needs Keras and torch.
"""

import io
import json
import os
import sys
import zipfile
import zlib

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402

if keras.backend.backend() != "torch":
    sys.exit(f"Run with KERAS_BACKEND=torch (got {keras.backend.backend()!r}).")

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = 5
SHAPES = [(3,), (2, 2)]
# per-step gradient scales: some steps exceed the clipping thresholds below, some do not
GRAD_SCALES = [1.0, 0.3, 2.0, 0.05, 1.5]

SCHEDULE = {
    "class_name": "ExponentialDecay",
    "config": {"initial_learning_rate": 0.05, "decay_steps": 2, "decay_rate": 0.5},
}
STAIRCASE = {
    "class_name": "ExponentialDecay",
    "config": {
        "initial_learning_rate": 0.02,
        "decay_steps": 2,
        "decay_rate": 0.3,
        "staircase": True,
    },
}

# (id, optimizer, kwargs, gradient multiplier, {step: learning rate set before it})
CASES = [
    ("sgd", "SGD", {"learning_rate": 0.05}, 1.0, {}),
    ("sgd_momentum", "SGD", {"learning_rate": 0.05, "momentum": 0.9}, 1.0, {}),
    ("sgd_nesterov", "SGD", {"learning_rate": 0.05, "momentum": 0.8, "nesterov": True}, 1.0, {}),
    ("sgd_weight_decay", "SGD", {"learning_rate": 0.05, "weight_decay": 0.5}, 1.0, {}),
    ("sgd_clipnorm", "SGD", {"learning_rate": 0.05, "momentum": 0.5, "clipnorm": 0.8}, 1.0, {}),
    ("sgd_schedule", "SGD", {"learning_rate": SCHEDULE, "momentum": 0.9}, 1.0, {}),
    ("sgd_set_lr", "SGD", {"learning_rate": 0.05}, 1.0, {2: 0.01, 4: 0.1}),
    ("adam", "Adam", {"learning_rate": 0.01}, 1.0, {}),
    ("adam_amsgrad", "Adam", {"learning_rate": 0.01, "amsgrad": True}, 1.0, {}),
    (
        "adam_betas",
        "Adam",
        {"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.95, "epsilon": 0.01},
        1.0,
        {},
    ),
    ("adam_small_grads", "Adam", {"learning_rate": 0.01}, 1e-6, {}),
    ("adam_weight_decay", "Adam", {"learning_rate": 0.01, "weight_decay": 0.2}, 1.0, {}),
    ("adam_clipvalue", "Adam", {"learning_rate": 0.01, "clipvalue": 0.4}, 1.0, {}),
    ("adam_staircase", "Adam", {"learning_rate": STAIRCASE}, 1.0, {}),
    ("adam_set_lr", "Adam", {"learning_rate": 0.01}, 1.0, {1: 0.03, 3: 0.002}),
    ("adamw", "AdamW", {"learning_rate": 0.01, "weight_decay": 0.3}, 1.0, {}),
    ("adamw_default", "AdamW", {}, 1.0, {}),
    (
        "adamw_amsgrad",
        "AdamW",
        {"learning_rate": 0.01, "amsgrad": True, "global_clipnorm": 1.0},
        1.0,
        {},
    ),
    ("rmsprop", "RMSprop", {"learning_rate": 0.01}, 1.0, {}),
    (
        "rmsprop_rho_momentum",
        "RMSprop",
        {"learning_rate": 0.01, "rho": 0.7, "momentum": 0.5},
        1.0,
        {},
    ),
    ("rmsprop_centered", "RMSprop", {"learning_rate": 0.01, "centered": True}, 1.0, {}),
    (
        "rmsprop_centered_momentum",
        "RMSprop",
        {"learning_rate": 0.01, "centered": True, "momentum": 0.6, "epsilon": 1e-3},
        1.0,
        {},
    ),
    ("rmsprop_small_grads", "RMSprop", {"learning_rate": 0.01, "epsilon": 1e-6}, 1e-4, {}),
    (
        "rmsprop_global_clipnorm",
        "RMSprop",
        {"learning_rate": 0.01, "global_clipnorm": 1.0},
        1.0,
        {},
    ),
    ("adagrad", "Adagrad", {"learning_rate": 0.05}, 1.0, {}),
    (
        "adagrad_options",
        "Adagrad",
        {
            "learning_rate": 0.05,
            "initial_accumulator_value": 0.01,
            "epsilon": 0.01,
            "weight_decay": 0.1,
        },
        1.0,
        {},
    ),
    ("adagrad_clipnorm", "Adagrad", {"learning_rate": 0.05, "clipnorm": 0.5}, 1.0, {}),
]


def keras_kwargs(kwargs):
    out = dict(kwargs)
    lr = out.get("learning_rate")
    if isinstance(lr, dict):
        cls = getattr(keras.optimizers.schedules, lr["class_name"])
        out["learning_rate"] = cls(**lr["config"])
    return out


def run_case(index, cid, optimizer, kwargs, grad_mult, set_lr, dtype):
    rng = np.random.default_rng(1000 + index)
    # magnitudes in [1, 2], so no weight crosses zero and relative tolerances stay meaningful
    inits = [(rng.uniform(1.0, 2.0, s) * rng.choice([-1.0, 1.0], s)).astype(dtype) for s in SHAPES]
    grads = [
        np.stack([rng.normal(size=s) * scale * grad_mult for scale in GRAD_SCALES]).astype(dtype)
        for s in SHAPES
    ]
    keras.config.set_floatx(dtype)
    try:
        variables = [keras.Variable(w, dtype=dtype, name=f"v{j}") for j, w in enumerate(inits)]
        opt = getattr(keras.optimizers, optimizer)(**keras_kwargs(kwargs))
        trajs = [np.zeros((STEPS,) + s, dtype) for s in SHAPES]
        for t in range(STEPS):
            if t in set_lr:
                opt.learning_rate = set_lr[t]
            opt.apply([keras.ops.convert_to_tensor(g[t]) for g in grads], variables)
            for traj, v in zip(trajs, variables):
                traj[t] = keras.ops.convert_to_numpy(v.value)
    finally:
        keras.config.set_floatx("float32")
    arrays = {}
    for j in range(len(SHAPES)):
        arrays[f"{cid}/w{j}"] = inits[j]
        arrays[f"{cid}/g{j}"] = grads[j]
        arrays[f"{cid}/traj{j}"] = trajs[j]
    case = {
        "id": cid,
        "optimizer": optimizer,
        "kwargs": kwargs,
        "dtype": dtype,
        "set_lr": {str(k): v for k, v in set_lr.items()},
    }
    return case, arrays


def write_npz(path, arrays):
    """np.savez, but with fixed zip timestamps so the bytes are reproducible."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    buf.seek(0)
    with (
        zipfile.ZipFile(buf) as src,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst,
    ):
        for name in sorted(src.namelist()):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, src.read(name), compresslevel=9)


def main():
    cases, arrays = [], {}
    index = 0
    for dtype in ("float32", "float64"):
        for cid, optimizer, kwargs, grad_mult, set_lr in CASES:
            case, case_arrays = run_case(
                index, f"{cid}_{dtype}", optimizer, kwargs, grad_mult, set_lr, dtype
            )
            cases.append(case)
            arrays.update(case_arrays)
            index += 1
    with open(os.path.join(HERE, "optimizers.json"), "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")
    path = os.path.join(HERE, "optimizers.npz")
    write_npz(path, arrays)
    with open(path, "rb") as f:
        crc = zlib.crc32(f.read())
    print(f"wrote {len(cases)} cases, {len(arrays)} arrays to {path} (crc32 {crc:08x})")


if __name__ == "__main__":
    main()
