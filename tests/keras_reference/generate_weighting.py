"""Generate Keras 3 reference runs of fit / evaluate with sample weights, class weights and
weighted metrics for tests/test_weighting.py.

A script, not a test. Run from the repository root (needs keras and torch):

    KERAS_BACKEND=torch python tests/keras_reference/generate_weighting.py

Each case builds one of generate_training.py's small models, sets seeded weights, fits without
shuffling, and records the history, the final weights and an evaluate() with sample weights.
Writes weighting.json (cases, histories, evaluations) and weighting.npz (`{id}/x`, `{id}/y*`,
`{id}/sw*`, `{id}/w_init{j}`, `{id}/w_final{j}`).
"""

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from generate import save_npz_deterministic  # noqa: E402
from generate_training import build, inputs, targets  # noqa: E402

CASES = [
    {
        "id": "sample_weight_sparse",
        "build": "mlp_classifier",
        "optimizer": ["SGD", {"learning_rate": 0.1}],
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
        "weighted_metrics": ["accuracy"],
        "n": 12,
        "target": "ids3",
        "weights": "sample",
        "fit": {"batch_size": 4, "epochs": 3},
    },
    {
        "id": "class_weight_onehot",
        "build": "mlp_classifier",
        "optimizer": ["Adam", {"learning_rate": 0.01}],
        "loss": "categorical_crossentropy",
        "metrics": ["categorical_accuracy"],
        "weighted_metrics": ["categorical_accuracy"],
        "n": 10,
        "target": "onehot3",
        "weights": "class",
        "class_weight": {"0": 0.5, "1": 2.0, "2": 1.25},
        "fit": {"batch_size": 4, "epochs": 2},
    },
    {
        "id": "sample_weight_val_mse",
        "build": "mlp_regressor",
        "optimizer": ["SGD", {"learning_rate": 0.05, "momentum": 0.9}],
        "loss": "mse",
        "metrics": ["mae"],
        "weighted_metrics": ["mae"],
        "n": 10,
        "target": "real1",
        "weights": "sample_and_validation",
        "fit": {"batch_size": 3, "epochs": 3},
    },
    {
        "id": "two_heads_per_output_weights",
        "build": "two_heads",
        "optimizer": ["RMSprop", {"learning_rate": 0.01}],
        "loss": {"score": "mae", "label": "sparse_categorical_crossentropy"},
        "metrics": {"label": ["accuracy"]},
        "weighted_metrics": {"label": ["accuracy"]},
        "n": 8,
        "target": "heads",
        "weights": "per_output",
        "fit": {"batch_size": 4, "epochs": 2},
    },
    {
        "id": "masked_tagger_sample_weight",
        "build": "masked_tagger",
        "optimizer": ["Adam", {"learning_rate": 0.02}],
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
        "weighted_metrics": ["accuracy"],
        "n": 8,
        "target": "ids3_steps",
        "weights": "sample",
        "fit": {"batch_size": 4, "epochs": 2},
    },
]


def main():
    arrays, cases = {}, []
    for i, case in enumerate(CASES):
        rng = np.random.default_rng(900 + i)
        keras.utils.set_random_seed(i)
        model = build(case["build"])
        weights = [
            rng.standard_normal(w.shape).astype("float32") * 0.5 for w in model.get_weights()
        ]
        model.set_weights(weights)
        n = case["n"]
        x = inputs(model, n, rng)
        ys = targets(case["target"], n, rng)
        y = ys["y"] if "y" in ys else {"score": ys["y_score"], "label": ys["y_label"]}
        # a sequence output's losses are per step: its weights are too (Keras's temporal mode)
        sw_shape = (n, 5) if case["target"] == "ids3_steps" else (n,)
        sw = rng.uniform(0.0, 2.0, sw_shape).astype("float32")
        opt_name, opt_kwargs = case["optimizer"]
        model.compile(
            optimizer=getattr(keras.optimizers, opt_name)(**opt_kwargs),
            loss=case["loss"],
            metrics=case["metrics"],
            weighted_metrics=case["weighted_metrics"],
        )
        fit = dict(case["fit"])
        kind = case["weights"]
        if kind == "class":
            fit["class_weight"] = {int(k): v for k, v in case["class_weight"].items()}
        elif kind == "per_output":
            sw2 = rng.uniform(0.0, 2.0, n).astype("float32")
            arrays[f"{case['id']}/sw2"] = sw2
            fit["sample_weight"] = {"score": sw, "label": sw2}
        else:
            fit["sample_weight"] = sw
        if kind == "sample_and_validation":
            xv, yv = inputs(model, 4, rng), targets(case["target"], 4, rng)["y"]
            swv = rng.uniform(0.0, 2.0, 4).astype("float32")
            fit["validation_data"] = (xv, yv, swv)
            arrays.update({f"{case['id']}/xv": xv, f"{case['id']}/yv": yv})
            arrays[f"{case['id']}/swv"] = swv
        history = model.fit(x, y, shuffle=False, verbose=0, **fit)
        # Keras's weighted metric of a masked sequence output changes with the batch size here
        # (0.2587 in batches of 5 and 3; 0.2721 in batches of 4 or 8, which is
        # sum(acc * w * mask) / sum(w * mask)): evaluate that case in batches of 4
        case["evaluate_batch_size"] = 4 if case["target"] == "ids3_steps" else 5
        evaluation = model.evaluate(
            x,
            y,
            sample_weight=fit["sample_weight"] if "sample_weight" in fit else sw,
            batch_size=case["evaluate_batch_size"],
            verbose=0,
            return_dict=True,
        )
        cid = case["id"]
        arrays[f"{cid}/x"], arrays[f"{cid}/sw"] = x, sw
        arrays.update({f"{cid}/{k}": v for k, v in ys.items()})
        arrays.update({f"{cid}/w_init{j}": w for j, w in enumerate(weights)})
        arrays.update({f"{cid}/w_final{j}": w for j, w in enumerate(model.get_weights())})
        record = dict(case)
        record["history"] = {k: [float(v) for v in vs] for k, vs in history.history.items()}
        record["evaluate"] = {k: float(v) for k, v in evaluation.items()}
        record["n_weights"] = len(weights)
        cases.append(record)
    save_npz_deterministic(os.path.join(HERE, "weighting.npz"), arrays)
    with open(os.path.join(HERE, "weighting.json"), "w") as f:
        json.dump(cases, f, indent=1)


if __name__ == "__main__":
    main()
