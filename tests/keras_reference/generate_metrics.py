"""Generate Keras 3 reference numbers for the metric objects (tests/test_metrics_keras.py).

A script, not a test. Run from the repository root (needs keras and torch):

    KERAS_BACKEND=torch PYTHONPATH=/tmp/kerapkgs .venv/bin/python \
        tests/keras_reference/generate_metrics.py

Writes, next to this file:

* ``metrics.json`` -- one case per line: {"id", "metric" (the keras.metrics class), "kwargs",
  "args" (the update_state arguments of each call: "y" for (y_true, y_pred), "values" for
  Mean/Sum; "w" when a sample_weight is passed), "fresh" (whether result() before any update
  is recorded)}.
* ``metrics.npz`` -- per case ``{id}/u{j}/y_true``, ``{id}/u{j}/y_pred`` (or
  ``{id}/u{j}/values``), ``{id}/u{j}/sample_weight``, the update_state arguments of call j,
  ``{id}/r{j}`` Keras's result() after call j, and ``{id}/r`` result() before any call.

Everything is seeded per case, so the output is deterministic; the npz is written with fixed
zip timestamps (generate.py's writer). Only this script needs Keras and torch.
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
BATCHES = (5, 3, 4)  # the batch sizes of the three update_state calls


def case(cid, metric, kwargs, true, pred, shape, weights=(None, "w", "w")):
    """`shape`: y_pred's shape after the batch axis; `true` / `pred` the kinds drawn (see
    draw); `weights` per call: None, "w" (one weight per sample), or a shape after the batch
    axis for per-entry weights."""
    return dict(
        id=cid,
        metric=metric,
        kwargs=kwargs,
        true=true,
        pred=pred,
        shape=list(shape),
        weights=list(weights),
    )


def build_cases():
    c = []
    # reducing metrics
    c += [
        case("mean", "Mean", {}, None, "normal", ()),
        case("mean_per_entry", "Mean", {}, None, "normal", (3,), weights=(None, "w", (3,))),
        case("mean_seq_weights", "Mean", {}, None, "normal", (2, 3), weights=("w", (2,), None)),
        case("sum", "Sum", {}, None, "normal", (2,)),
    ]
    # accuracy family
    c += [
        case("accuracy", "Accuracy", {}, "ints3", "ints3", (2,)),
        case("binary_accuracy", "BinaryAccuracy", {}, "binary", "prob", (1,)),
        case("binary_accuracy_t", "BinaryAccuracy", {"threshold": 0.7}, "binary", "prob", (3,)),
        case("binary_accuracy_rank1", "BinaryAccuracy", {}, "binary_flat", "prob", (1,)),
        case("categorical_accuracy", "CategoricalAccuracy", {}, "onehot", "prob_rows", (4,)),
        case("sparse_accuracy", "SparseCategoricalAccuracy", {}, "ids", "prob_rows", (4,)),
        case("sparse_accuracy_col", "SparseCategoricalAccuracy", {}, "ids_col", "prob_rows", (4,)),
        case("sparse_accuracy_seq", "SparseCategoricalAccuracy", {}, "ids", "prob_rows", (2, 4)),
        case("top_k", "TopKCategoricalAccuracy", {"k": 2}, "onehot", "prob_rows", (5,)),
        case("top_k_ties", "TopKCategoricalAccuracy", {"k": 2}, "onehot", "quarters", (5,)),
        case("sparse_top_k", "SparseTopKCategoricalAccuracy", {"k": 2}, "ids", "prob_rows", (5,)),
        case(
            "sparse_top_k_ties", "SparseTopKCategoricalAccuracy", {"k": 3}, "ids", "quarters", (5,)
        ),
        case(
            "sparse_top_k_seq", "SparseTopKCategoricalAccuracy", {"k": 2}, "ids", "normal", (2, 5)
        ),
        case(
            "sparse_top_k_sorted",
            "SparseTopKCategoricalAccuracy",
            {"k": 2, "from_sorted_ids": True},
            "ids",
            "sorted_ids",
            (5,),
        ),
    ]
    # confusion metrics
    c += [
        case("true_positives", "TruePositives", {}, "binary", "prob", (2,)),
        case(
            "false_positives", "FalsePositives", {"thresholds": [0.3, 0.6]}, "binary", "prob", (2,)
        ),
        case("true_negatives", "TrueNegatives", {"thresholds": 0.4}, "binary", "prob", (2,)),
        case(
            "false_negatives",
            "FalseNegatives",
            {"thresholds": [0.0, 0.25, 0.5, 0.75, 1.0]},
            "binary",
            "grid",
            (3,),
        ),
        case("precision", "Precision", {}, "binary", "prob", (3,)),
        case("precision_t", "Precision", {"thresholds": [0.8, 0.2, 0.5]}, "binary", "prob", (3,)),
        case(
            "precision_even", "Precision", {"thresholds": [0.0, 0.5, 1.0]}, "binary", "grid", (2,)
        ),
        case("precision_top_k", "Precision", {"top_k": 2}, "multi_hot", "prob", (5,)),
        case("precision_class", "Precision", {"class_id": 2}, "multi_hot", "prob", (4,)),
        case(
            "precision_top_k_class",
            "Precision",
            {"top_k": 2, "class_id": 1},
            "multi_hot",
            "prob",
            (4,),
        ),
        case("recall", "Recall", {}, "binary", "prob", (3,), weights=(None, "w", (3,))),
        case("recall_t", "Recall", {"thresholds": [0.1, 0.9]}, "binary", "prob", (3,)),
        case("recall_top_k", "Recall", {"top_k": 1}, "multi_hot", "prob", (4,)),
        case("recall_class", "Recall", {"class_id": 0}, "multi_hot", "prob", (3,)),
    ]
    # AUC
    auc_shape = (6,)
    c += [
        case("auc", "AUC", {}, "binary", "prob", auc_shape),
        case("auc_grid", "AUC", {}, "binary", "grid", auc_shape),
        case("auc_few", "AUC", {"num_thresholds": 7}, "binary", "prob", auc_shape),
        case("auc_minoring", "AUC", {"summation_method": "minoring"}, "binary", "prob", auc_shape),
        case("auc_majoring", "AUC", {"summation_method": "majoring"}, "binary", "prob", auc_shape),
        case("auc_pr", "AUC", {"curve": "PR"}, "binary", "prob", auc_shape),
        case(
            "auc_pr_minoring",
            "AUC",
            {"curve": "PR", "summation_method": "minoring", "num_thresholds": 50},
            "binary",
            "prob",
            auc_shape,
        ),
        case("auc_prgain", "AUC", {"curve": "PRGAIN"}, "binary", "prob", auc_shape),
        case(
            "auc_thresholds", "AUC", {"thresholds": [0.7, 0.2, 0.45]}, "binary", "prob", auc_shape
        ),
        case(
            "auc_even_thresholds",
            "AUC",
            {"thresholds": [0.25, 0.5, 0.75]},
            "binary",
            "grid",
            auc_shape,
        ),
        case("auc_logits", "AUC", {"from_logits": True}, "binary", "normal", auc_shape),
        case("auc_multi_label", "AUC", {"multi_label": True}, "binary", "prob", (3,)),
        case(
            "auc_multi_label_pr",
            "AUC",
            {"multi_label": True, "num_labels": 3, "curve": "PR", "label_weights": [1, 2, 0.5]},
            "binary",
            "prob",
            (3,),
        ),
        case(
            "auc_multi_label_weights",
            "AUC",
            {"multi_label": True, "label_weights": [0.2, 0.0, 1.0], "num_thresholds": 20},
            "binary",
            "prob",
            (3,),
            weights=("w", (3,), None),
        ),
        case("auc_label_weights", "AUC", {"label_weights": [1, 3, 0.5]}, "binary", "prob", (3,)),
    ]
    # F-scores
    c += [
        case("f1", "F1Score", {}, "multi_hot", "prob", (3,)),
        case(
            "f1_micro", "F1Score", {"average": "micro", "threshold": 0.5}, "multi_hot", "prob", (3,)
        ),
        case("f1_macro", "F1Score", {"average": "macro"}, "onehot", "prob_rows", (4,)),
        case(
            "f1_weighted",
            "F1Score",
            {"average": "weighted", "threshold": 0.4},
            "multi_hot",
            "prob",
            (3,),
        ),
        case("fbeta", "FBetaScore", {"beta": 2.0}, "multi_hot", "prob", (3,)),
        case(
            "fbeta_macro",
            "FBetaScore",
            {"beta": 0.5, "average": "macro", "threshold": 0.6},
            "multi_hot",
            "prob",
            (4,),
        ),
    ]
    # regression
    c += [
        case("mse", "MeanSquaredError", {}, "normal", "normal", (3,)),
        case(
            "mse_seq", "MeanSquaredError", {}, "normal", "normal", (2, 3), weights=((2,), "w", None)
        ),
        case("mae", "MeanAbsoluteError", {}, "normal", "normal", (3,)),
        case("mae_rank1", "MeanAbsoluteError", {}, "normal_flat", "normal", (1,)),
        case("rmse", "RootMeanSquaredError", {}, "normal", "normal", (3,)),
        case("mape", "MeanAbsolutePercentageError", {}, "normal", "normal", (3,)),
        case("msle", "MeanSquaredLogarithmicError", {}, "positive", "positive", (3,)),
        case("cosine", "CosineSimilarity", {}, "normal", "normal", (4,)),
        case("cosine_axis", "CosineSimilarity", {"axis": 1}, "normal", "normal", (3, 2)),
        case("logcosh", "LogCoshError", {}, "normal", "normal", (3,)),
    ]
    # probabilistic and hinge
    c += [
        case("bce", "BinaryCrossentropy", {}, "binary", "prob", (2,)),
        case("bce_logits", "BinaryCrossentropy", {"from_logits": True}, "binary", "normal", (2,)),
        case("bce_smooth", "BinaryCrossentropy", {"label_smoothing": 0.2}, "binary", "prob", (1,)),
        case("cce", "CategoricalCrossentropy", {}, "onehot", "prob_rows", (4,)),
        case(
            "cce_logits_smooth",
            "CategoricalCrossentropy",
            {"from_logits": True, "label_smoothing": 0.1},
            "onehot",
            "normal",
            (4,),
        ),
        case("scce", "SparseCategoricalCrossentropy", {}, "ids", "prob_rows", (4,)),
        case(
            "scce_logits_col",
            "SparseCategoricalCrossentropy",
            {"from_logits": True},
            "ids_col",
            "normal",
            (4,),
        ),
        case(
            "scce_seq",
            "SparseCategoricalCrossentropy",
            {"from_logits": True},
            "ids",
            "normal",
            (2, 4),
            weights=((2,), "w", None),
        ),
        case(
            "scce_ignore_weighted",
            "SparseCategoricalCrossentropy",
            {"ignore_class": 1},
            "ids",
            "prob_rows",
            (3,),
            weights=("w", "w", "w"),
        ),
        case("kld", "KLDivergence", {}, "prob_rows", "prob_rows", (3,)),
        case("poisson", "Poisson", {}, "positive", "positive", (3,)),
        case("hinge", "Hinge", {}, "binary", "normal", (3,)),
        case("hinge_signed", "Hinge", {}, "signs", "normal", (3,)),
        case("squared_hinge", "SquaredHinge", {}, "binary", "normal", (3,)),
        case("categorical_hinge", "CategoricalHinge", {}, "onehot", "normal", (4,)),
    ]
    return c


def draw(kind, shape, rng):
    classes = shape[-1] if shape else 1
    if kind == "normal":
        return rng.standard_normal(shape).astype("float32")
    if kind == "normal_flat":
        return rng.standard_normal(shape[:-1]).astype("float32")
    if kind == "positive":
        return rng.uniform(0.1, 3.0, shape).astype("float32")
    if kind == "prob":
        return rng.uniform(0.0, 1.0, shape).astype("float32")
    if kind == "grid":  # predictions on the thresholds themselves: edge cases of ">"
        return rng.choice([0.0, 0.25, 0.5, 0.75, 1.0, 0.1, 0.9], shape).astype("float32")
    if kind == "quarters":  # many ties
        return (rng.integers(0, 4, shape) / 4).astype("float32")
    if kind == "prob_rows":
        p = rng.uniform(0.05, 1.0, shape)
        return (p / p.sum(-1, keepdims=True)).astype("float32")
    if kind == "binary":
        return rng.integers(0, 2, shape).astype("float32")
    if kind == "binary_flat":
        return rng.integers(0, 2, shape[:-1]).astype("float32")
    if kind == "signs":
        return rng.choice([-1.0, 1.0], shape).astype("float32")
    if kind == "multi_hot":
        return rng.integers(0, 2, shape).astype("float32")
    if kind == "ints3":
        return rng.integers(0, 3, shape).astype("float32")
    if kind == "onehot":
        return np.eye(classes, dtype="float32")[rng.integers(0, classes, shape[:-1])]
    if kind == "ids":
        return rng.integers(0, classes, shape[:-1]).astype("int32")
    if kind == "ids_col":
        return rng.integers(0, classes, shape[:-1] + (1,)).astype("int32")
    if kind == "sorted_ids":  # each row a permutation of the class ids, best first
        return np.argsort(rng.random(shape), axis=-1).astype("float32")
    raise ValueError(kind)


def result(metric):
    """A copy: some results are the state variable itself, which later updates overwrite."""
    return np.array(keras.ops.convert_to_numpy(metric.result()), dtype="float32", copy=True)


def main():
    torch.set_num_threads(1)
    entries, arrays = [], {}
    for spec in build_cases():
        cid = spec["id"]
        rng = np.random.default_rng(zlib.crc32(cid.encode()))
        metric = getattr(keras.metrics, spec["metric"])(**spec["kwargs"])
        try:  # result() before any update (F1Score and a multi-label AUC have none yet)
            arrays[f"{cid}/r"] = result(metric)
            fresh = True
        except (AttributeError, ValueError):
            fresh = False
        args = []
        for j, (n, w) in enumerate(zip(BATCHES, spec["weights"])):
            shape = (n, *spec["shape"])
            if spec["true"] is None:
                call = {"values": draw(spec["pred"], shape, rng)}
            else:
                call = {
                    "y_true": draw(spec["true"], shape, rng),
                    "y_pred": draw(spec["pred"], shape, rng),
                }
            if w is not None:
                w_shape = (n,) if w == "w" else (n, *w)
                call["sample_weight"] = rng.uniform(0.0, 2.0, w_shape).astype("float32")
            metric.update_state(**call)
            arrays.update({f"{cid}/u{j}/{k}": v for k, v in call.items()})
            arrays[f"{cid}/r{j}"] = result(metric)
            args.append(("values" if spec["true"] is None else "y") + ("+w" if w else ""))
        entries.append(
            {
                "id": cid,
                "metric": spec["metric"],
                "kwargs": spec["kwargs"],
                "args": args,
                "fresh": fresh,
            }
        )
    with open(os.path.join(HERE, "metrics.json"), "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(e) for e in entries) + "\n]\n")
    save_npz_deterministic(os.path.join(HERE, "metrics.npz"), arrays)


if __name__ == "__main__":
    main()
