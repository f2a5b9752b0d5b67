"""Generate Keras 3 reference values for the losses (tests/test_losses.py).

A script, not a test. Run from the repository root (needs keras and torch):

    KERAS_BACKEND=torch python tests/keras_reference/generate_losses.py

Writes losses.json (the cases) and losses.npz: per case `{id}/y_true`, `{id}/y_pred`, `{id}/loss`
(the reduced loss) and `{id}/grad` (d loss / d y_pred), all float32 except integer targets.
"""

import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# id, Keras class, kwargs, target kind, y_pred kind, shapes (y_true, y_pred)
CASES = [
    ("mse", "MeanSquaredError", {}, "real", "real", (4, 3), (4, 3)),
    ("mse_rank1_target", "MeanSquaredError", {}, "real", "real", (4,), (4, 1)),
    ("mse_sum", "MeanSquaredError", {"reduction": "sum"}, "real", "real", (4, 3), (4, 3)),
    ("mae", "MeanAbsoluteError", {}, "real", "real", (4, 3), (4, 3)),
    ("huber", "Huber", {}, "real_wide", "real", (5, 2), (5, 2)),
    ("huber_delta", "Huber", {"delta": 0.5}, "real_wide", "real", (5, 2), (5, 2)),
    ("bce", "BinaryCrossentropy", {}, "binary", "prob", (6, 1), (6, 1)),
    ("bce_rank1", "BinaryCrossentropy", {}, "binary", "prob", (6,), (6, 1)),
    ("bce_extreme", "BinaryCrossentropy", {}, "binary", "prob_extreme", (6, 2), (6, 2)),
    (
        "bce_logits",
        "BinaryCrossentropy",
        {"from_logits": True},
        "binary",
        "logit_large",
        (6, 2),
        (6, 2),
    ),
    (
        "bce_smoothing",
        "BinaryCrossentropy",
        {"label_smoothing": 0.1},
        "binary",
        "prob",
        (6, 1),
        (6, 1),
    ),
    ("cce", "CategoricalCrossentropy", {}, "onehot", "prob_rows", (5, 4), (5, 4)),
    ("cce_unnormalized", "CategoricalCrossentropy", {}, "onehot", "positive", (5, 4), (5, 4)),
    (
        "cce_logits",
        "CategoricalCrossentropy",
        {"from_logits": True},
        "onehot",
        "logit_large",
        (5, 4),
        (5, 4),
    ),
    (
        "cce_smoothing",
        "CategoricalCrossentropy",
        {"label_smoothing": 0.2},
        "onehot",
        "prob_rows",
        (5, 4),
        (5, 4),
    ),
    ("scce", "SparseCategoricalCrossentropy", {}, "ids", "prob_rows", (5,), (5, 4)),
    ("scce_col", "SparseCategoricalCrossentropy", {}, "ids", "prob_rows", (5, 1), (5, 4)),
    (
        "scce_logits",
        "SparseCategoricalCrossentropy",
        {"from_logits": True},
        "ids",
        "logit_large",
        (5,),
        (5, 4),
    ),
    (
        "scce_seq_logits",
        "SparseCategoricalCrossentropy",
        {"from_logits": True},
        "ids",
        "logit",
        (2, 3),
        (2, 3, 4),
    ),
]


def draw(kind, shape, rng, classes=None):
    if kind in ("real", "logit"):
        return rng.standard_normal(shape).astype("float32")
    if kind == "real_wide":
        return (rng.standard_normal(shape) * 2).astype("float32")
    if kind == "logit_large":
        return (rng.standard_normal(shape) * 40).astype("float32")
    if kind == "binary":
        return rng.integers(0, 2, shape).astype("float32")
    if kind == "prob":
        return rng.uniform(0.05, 0.95, shape).astype("float32")
    if kind == "prob_extreme":
        return rng.choice([0.0, 1e-9, 0.5, 1.0 - 1e-9, 1.0], shape).astype("float32")
    if kind == "positive":
        return rng.uniform(0.1, 3.0, shape).astype("float32")
    if kind == "prob_rows":
        p = rng.uniform(0.05, 1.0, shape)
        return (p / p.sum(-1, keepdims=True)).astype("float32")
    if kind == "onehot":
        return np.eye(shape[-1], dtype="float32")[rng.integers(0, shape[-1], shape[:-1])]
    if kind == "ids":
        return rng.integers(0, classes, shape).astype("int32")
    raise ValueError(kind)


def main():
    arrays, cases = {}, []
    for i, (cid, cls, kwargs, t_kind, p_kind, t_shape, p_shape) in enumerate(CASES):
        rng = np.random.default_rng(1000 + i)
        y_pred = draw(p_kind, p_shape, rng)
        y_true = draw(t_kind, t_shape, rng, classes=p_shape[-1])
        pred = torch.tensor(y_pred, requires_grad=True)
        loss = getattr(keras.losses, cls)(**kwargs)(torch.tensor(y_true), pred)
        loss.backward()
        arrays.update(
            {
                f"{cid}/y_true": y_true,
                f"{cid}/y_pred": y_pred,
                f"{cid}/loss": np.asarray(loss.detach().numpy(), "float32"),
                f"{cid}/grad": pred.grad.numpy().astype("float32"),
            }
        )
        cases.append({"id": cid, "loss": cls, "kwargs": kwargs})
    np.savez_compressed(os.path.join(HERE, "losses.npz"), **arrays)
    with open(os.path.join(HERE, "losses.json"), "w") as f:
        json.dump(cases, f, indent=0)


if __name__ == "__main__":
    main()
