"""Generate Keras 3 reference numbers for Nadam, Adamax, Adadelta, Lion and the learning-rate
schedules, for tests/test_optimizers_keras2.py and tests/test_schedules.py.

A script, not a test. Run from the repository root (needs keras and torch):

    KERAS_BACKEND=torch PYTHONPATH=/tmp/kerapkgs .venv/bin/python \
        tests/keras_reference/generate_optimizers2.py

For every optimizer case, Keras's optimizer takes 6 steps on two small variables (shapes (3,)
and (2, 2)) with a fixed gradient sequence, in float32 and in float64 (floatx float64, so the
learning rate and the schedules are float64 too). Every schedule case is evaluated at a list of
steps (boundaries, warmup ends, restarts, cycles), with floatx float32 and float64. Writes, next
to this file:

* ``optimizers2.json`` -- {"optimizers": [{"id", "optimizer", "kwargs", "dtype", "set_lr"}],
  "schedules": [{"id", "class_name", "config"}]}, where a schedule in kwargs["learning_rate"]
  is {"class_name", "config"} and "set_lr" maps a step index to a learning rate assigned just
  before that step.
* ``optimizers2.npz`` -- per optimizer case ``{id}/w{j}`` initial values, ``{id}/g{j}``
  gradients (steps, *shape), ``{id}/traj{j}`` the variable after each step, ``{id}/state{k}``
  Keras's optimizer variables after the last step (iterations and learning rate left out);
  per schedule case ``schedule/{id}/steps`` and ``schedule/{id}/float32`` / ``float64``.

Everything is seeded per case and the npz has fixed zip timestamps, so regenerating gives the
same bytes. Only this script needs Keras and torch; the tests read the files with NumPy alone.
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
    sys.exit(f"Run with KERAS_BACKEND=torch (got {keras.backend.backend()!r}).")

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES = [(3,), (2, 2)]
# per-step gradient scales: some steps exceed the clipping thresholds below, some do not
GRAD_SCALES = [1.0, 0.3, 2.0, 0.05, 1.5, 0.7]


def schedule(class_name, **config):
    return {"class_name": class_name, "config": config}


WARMUP_COSINE = schedule(
    "CosineDecay",
    initial_learning_rate=0.005,
    decay_steps=3,
    alpha=0.1,
    warmup_target=0.02,
    warmup_steps=2,
)
PIECEWISE = schedule("PiecewiseConstantDecay", boundaries=[1, 3], values=[0.02, 0.01, 0.005])
POLYNOMIAL = schedule(
    "PolynomialDecay",
    initial_learning_rate=1.0,
    decay_steps=2,
    end_learning_rate=0.1,
    power=2.0,
    cycle=True,
)
INVERSE_TIME = schedule(
    "InverseTimeDecay", initial_learning_rate=0.02, decay_steps=2, decay_rate=0.5, staircase=True
)
RESTARTS = schedule(
    "CosineDecayRestarts", initial_learning_rate=0.02, first_decay_steps=2, m_mul=0.5, alpha=0.1
)

# (id, optimizer, kwargs, gradient multiplier, {step: learning rate set before it}); a case id
# ending in "_zero" has exact zero gradient entries
OPTIMIZER_CASES = [
    ("nadam", "Nadam", {"learning_rate": 0.01}, 1.0, {}),
    ("nadam_default", "Nadam", {}, 1.0, {}),
    (
        "nadam_betas",
        "Nadam",
        {"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.95, "epsilon": 0.01},
        1.0,
        {},
    ),
    ("nadam_small_grads", "Nadam", {"learning_rate": 0.01}, 1e-6, {}),
    ("nadam_clipnorm", "Nadam", {"learning_rate": 0.01, "clipnorm": 0.5}, 1.0, {}),
    ("nadam_weight_decay", "Nadam", {"learning_rate": 0.01, "weight_decay": 0.2}, 1.0, {}),
    ("nadam_warmup_cosine", "Nadam", {"learning_rate": WARMUP_COSINE}, 1.0, {}),
    ("nadam_set_lr", "Nadam", {"learning_rate": 0.01}, 1.0, {2: 0.03, 4: 0.002}),
    ("adamax", "Adamax", {"learning_rate": 0.01}, 1.0, {}),
    ("adamax_default", "Adamax", {}, 1.0, {}),
    (
        "adamax_betas",
        "Adamax",
        {"learning_rate": 0.01, "beta_1": 0.7, "beta_2": 0.9, "epsilon": 0.05},
        1.0,
        {},
    ),
    ("adamax_small_grads", "Adamax", {"learning_rate": 0.01}, 1e-6, {}),
    ("adamax_clipvalue", "Adamax", {"learning_rate": 0.01, "clipvalue": 0.4}, 1.0, {}),
    ("adamax_global_clipnorm", "Adamax", {"learning_rate": 0.01, "global_clipnorm": 1.0}, 1.0, {}),
    ("adamax_weight_decay", "Adamax", {"learning_rate": 0.01, "weight_decay": 0.3}, 1.0, {}),
    ("adamax_piecewise", "Adamax", {"learning_rate": PIECEWISE}, 1.0, {}),
    ("adadelta", "Adadelta", {"learning_rate": 1.0}, 1.0, {}),
    ("adadelta_default", "Adadelta", {}, 1.0, {}),
    ("adadelta_rho", "Adadelta", {"learning_rate": 0.5, "rho": 0.5, "epsilon": 1e-3}, 1.0, {}),
    ("adadelta_clipnorm", "Adadelta", {"learning_rate": 1.0, "clipnorm": 0.5}, 1.0, {}),
    (
        "adadelta_global_clipnorm",
        "Adadelta",
        {"learning_rate": 1.0, "global_clipnorm": 0.8},
        1.0,
        {},
    ),
    ("adadelta_weight_decay", "Adadelta", {"learning_rate": 1.0, "weight_decay": 0.1}, 1.0, {}),
    ("adadelta_polynomial", "Adadelta", {"learning_rate": POLYNOMIAL}, 1.0, {}),
    ("lion", "Lion", {"learning_rate": 0.01}, 1.0, {}),
    ("lion_default", "Lion", {}, 1.0, {}),
    ("lion_betas", "Lion", {"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.9}, 1.0, {}),
    ("lion_zero", "Lion", {"learning_rate": 0.01, "beta_1": 1.0}, 1.0, {}),
    ("lion_weight_decay", "Lion", {"learning_rate": 0.01, "weight_decay": 0.5}, 1.0, {}),
    ("lion_clipvalue", "Lion", {"learning_rate": 0.01, "clipvalue": 0.3}, 1.0, {}),
    ("lion_inverse_time", "Lion", {"learning_rate": INVERSE_TIME}, 1.0, {}),
    ("lion_restarts", "Lion", {"learning_rate": RESTARTS}, 1.0, {}),
    ("lion_set_lr", "Lion", {"learning_rate": 0.01}, 1.0, {1: 0.05, 3: 0.001}),
]

# (id, schedule, steps)
SCHEDULE_CASES = [
    (
        "inverse_time",
        schedule("InverseTimeDecay", initial_learning_rate=0.1, decay_steps=3, decay_rate=0.5),
        list(range(13)) + [100, 1000],
    ),
    (
        "inverse_time_staircase",
        schedule(
            "InverseTimeDecay",
            initial_learning_rate=0.1,
            decay_steps=3,
            decay_rate=0.5,
            staircase=True,
        ),
        list(range(13)) + [100],
    ),
    (
        "piecewise",
        schedule("PiecewiseConstantDecay", boundaries=[3, 7], values=[1.0, 0.5, 0.1]),
        list(range(11)) + [1000],
    ),
    (
        "piecewise_float_boundaries",
        schedule(
            "PiecewiseConstantDecay", boundaries=[2.5, 4.0, 6.0], values=[0.3, 0.2, 0.1, 0.05]
        ),
        list(range(9)),
    ),
    (
        "polynomial",
        schedule("PolynomialDecay", initial_learning_rate=0.1, decay_steps=5),
        list(range(9)),
    ),
    (
        "polynomial_power",
        schedule(
            "PolynomialDecay",
            initial_learning_rate=0.1,
            decay_steps=5,
            end_learning_rate=0.01,
            power=2.0,
        ),
        list(range(9)),
    ),
    (
        "polynomial_cycle",
        schedule(
            "PolynomialDecay",
            initial_learning_rate=0.1,
            decay_steps=4,
            end_learning_rate=0.02,
            power=0.5,
            cycle=True,
        ),
        list(range(18)),
    ),
    (
        "cosine",
        schedule("CosineDecay", initial_learning_rate=0.1, decay_steps=8),
        list(range(12)),
    ),
    (
        "cosine_alpha",
        schedule("CosineDecay", initial_learning_rate=0.1, decay_steps=8, alpha=0.2),
        list(range(12)),
    ),
    (
        "cosine_warmup",
        schedule(
            "CosineDecay",
            initial_learning_rate=0.0,
            decay_steps=6,
            warmup_target=0.5,
            warmup_steps=4,
        ),
        list(range(13)),
    ),
    (
        "cosine_warmup_alpha",
        schedule(
            "CosineDecay",
            initial_learning_rate=0.05,
            decay_steps=5,
            alpha=0.1,
            warmup_target=0.2,
            warmup_steps=3,
        ),
        list(range(11)),
    ),
    (
        "cosine_warmup_target_no_steps",
        schedule("CosineDecay", initial_learning_rate=0.05, decay_steps=5, warmup_target=0.2),
        list(range(7)),
    ),
    (
        "restarts",
        schedule("CosineDecayRestarts", initial_learning_rate=0.1, first_decay_steps=4),
        list(range(30)) + [60, 61, 124, 125],
    ),
    (
        "restarts_t_mul_1",
        schedule(
            "CosineDecayRestarts",
            initial_learning_rate=0.1,
            first_decay_steps=3,
            t_mul=1.0,
            m_mul=0.5,
            alpha=0.1,
        ),
        list(range(14)),
    ),
    (
        "restarts_t_mul_3",
        schedule(
            "CosineDecayRestarts",
            initial_learning_rate=0.1,
            first_decay_steps=2,
            t_mul=3.0,
            m_mul=0.8,
            alpha=0.05,
        ),
        [0, 1, 2, 3, 7, 8, 9, 25, 26, 27, 79, 80, 81, 241, 242, 243, 727, 728, 2186, 2188],
    ),
    (
        "restarts_t_mul_1_5",
        schedule("CosineDecayRestarts", initial_learning_rate=0.1, first_decay_steps=4, t_mul=1.5),
        list(range(0, 70)),
    ),
    (
        "restarts_t_mul_half",
        schedule("CosineDecayRestarts", initial_learning_rate=0.1, first_decay_steps=8, t_mul=0.5),
        list(range(16)),
    ),
]


def keras_schedule(spec):
    return getattr(keras.optimizers.schedules, spec["class_name"])(**spec["config"])


def keras_kwargs(kwargs):
    out = dict(kwargs)
    if isinstance(out.get("learning_rate"), dict):
        out["learning_rate"] = keras_schedule(out["learning_rate"])
    return out


def make_problem(index, cid, grad_mult, dtype):
    rng = np.random.default_rng(2000 + index)
    # magnitudes in [1, 2], so no weight crosses zero and relative tolerances stay meaningful
    inits = [(rng.uniform(1.0, 2.0, s) * rng.choice([-1.0, 1.0], s)).astype(dtype) for s in SHAPES]
    grads = [
        np.stack([rng.normal(size=s) * scale * grad_mult for scale in GRAD_SCALES]).astype(dtype)
        for s in SHAPES
    ]
    if cid.startswith("lion_zero"):
        # beta_1 = 1 makes the sign follow the momentum alone: zero at the first step (sign 0),
        # and exact zero gradients keep some entries' momentum at zero throughout
        for g in grads:
            g.reshape(len(GRAD_SCALES), -1)[:, 0] = 0.0
    return inits, grads


def run_optimizer_case(index, cid, optimizer, kwargs, grad_mult, set_lr, dtype):
    inits, grads = make_problem(index, cid, grad_mult, dtype)
    steps = len(GRAD_SCALES)
    keras.config.set_floatx(dtype)
    try:
        variables = [keras.Variable(w, dtype=dtype, name=f"v{j}") for j, w in enumerate(inits)]
        opt = getattr(keras.optimizers, optimizer)(**keras_kwargs(kwargs))
        trajs = [np.zeros((steps,) + s, dtype) for s in SHAPES]
        for t in range(steps):
            if t in set_lr:
                opt.learning_rate = set_lr[t]
            opt.apply([keras.ops.convert_to_tensor(g[t]) for g in grads], variables)
            for traj, v in zip(trajs, variables):
                traj[t] = keras.ops.convert_to_numpy(v.value)
        state = [
            keras.ops.convert_to_numpy(v.value)
            for v in opt.variables
            if v is not opt.iterations and v.path != f"{opt.name}/learning_rate"
        ]
    finally:
        keras.config.set_floatx("float32")
    arrays = {}
    for j in range(len(SHAPES)):
        arrays[f"{cid}/w{j}"] = inits[j]
        arrays[f"{cid}/g{j}"] = grads[j]
        arrays[f"{cid}/traj{j}"] = trajs[j]
    for k, s in enumerate(state):
        arrays[f"{cid}/state{k}"] = s
    case = {
        "id": cid,
        "optimizer": optimizer,
        "kwargs": kwargs,
        "dtype": dtype,
        "set_lr": {str(k): v for k, v in set_lr.items()},
    }
    return case, arrays


def run_schedule_case(cid, spec, steps):
    arrays = {f"schedule/{cid}/steps": np.array(steps, np.int64)}
    for dtype in ("float32", "float64"):
        keras.config.set_floatx(dtype)
        try:
            s = keras_schedule(spec)
            values = [keras.ops.convert_to_numpy(s(step)) for step in steps]
        finally:
            keras.config.set_floatx("float32")
        arrays[f"schedule/{cid}/{dtype}"] = np.array(values, dtype)
    return {"id": cid, **spec}, arrays


def main():
    torch.set_num_threads(1)
    optimizer_cases, schedule_cases, arrays = [], [], {}
    index = 0
    for dtype in ("float32", "float64"):
        for cid, optimizer, kwargs, grad_mult, set_lr in OPTIMIZER_CASES:
            case, case_arrays = run_optimizer_case(
                index, f"{cid}_{dtype}", optimizer, kwargs, grad_mult, set_lr, dtype
            )
            optimizer_cases.append(case)
            arrays.update(case_arrays)
            index += 1
    for cid, spec, steps in SCHEDULE_CASES:
        case, case_arrays = run_schedule_case(cid, spec, steps)
        schedule_cases.append(case)
        arrays.update(case_arrays)
    with open(os.path.join(HERE, "optimizers2.json"), "w") as f:
        cases = {"optimizers": optimizer_cases, "schedules": schedule_cases}
        json.dump(cases, f, indent=1)
        f.write("\n")
    path = os.path.join(HERE, "optimizers2.npz")
    save_npz_deterministic(path, arrays)
    with open(path, "rb") as f:
        crc = zlib.crc32(f.read())
    print(
        f"wrote {len(optimizer_cases)} optimizer and {len(schedule_cases)} schedule cases, "
        f"{len(arrays)} arrays to {path} (crc32 {crc:08x})"
    )


if __name__ == "__main__":
    main()
