"""Generate Keras 3 reference numbers for the losses of tests/test_losses_keras2.py: the hinge,
divergence, regression and focal losses, sparse crossentropy's ignore_class, sample_weight and
every reduction.

A script, not a test. Run from the repository root (needs keras and torch):

    KERAS_BACKEND=torch PYTHONPATH=/tmp/kerapkgs .venv/bin/python \
        tests/keras_reference/generate_losses2.py

Writes, next to this file:

* ``losses2.json`` -- one case per line: {"id", "loss" (the Keras class), "kwargs", "fn" (the
  Keras function giving the per-sample values, or null), "fn_kwargs", "sample_weight" (whether
  the case has one)}.
* ``losses2.npz`` -- per case ``{id}/y_true``, ``{id}/y_pred``, ``{id}/sample_weight`` (when
  given), ``{id}/loss`` (``loss_obj(y_true, y_pred, sample_weight)``), ``{id}/dy`` (a cotangent
  shaped like the loss) and ``{id}/grad`` (d sum(loss * dy) / d y_pred by torch autograd), and
  ``{id}/values`` (the class with reduction=None and no sample_weight: the per-sample values).

Float arrays are float32, integer targets int32. Everything is seeded per case (from its id),
and the npz is written with fixed zip timestamps, so regenerating gives the same bytes.
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
REDUCTIONS = ("sum", None, "mean", "mean_with_sample_weight")


def case(id, loss, t, p, kwargs=None, sw=None, fn=None, fn_kwargs=None):
    """t, p, sw: (kind, shape) of y_true, y_pred and sample_weight (see `draw`)."""
    return dict(id=id, loss=loss, t=t, p=p, kwargs=kwargs or {}, sw=sw, fn=fn, fn_kwargs=fn_kwargs)


def family(prefix, loss, t, p, fn, kwargs=None, fn_kwargs=None, sw=None):
    """The plain case, each reduction without and with a per-sample weight."""
    out = [case(prefix, loss, t, p, kwargs, fn=fn, fn_kwargs=fn_kwargs or kwargs)]
    sw = sw or ("weights", p[1][:1])
    out.append(case(f"{prefix}_sw", loss, t, p, kwargs, sw=sw))
    for r in REDUCTIONS:
        tag = "none" if r is None else r
        out.append(case(f"{prefix}_{tag}", loss, t, p, {**(kwargs or {}), "reduction": r}))
        out.append(case(f"{prefix}_{tag}_sw", loss, t, p, {**(kwargs or {}), "reduction": r}, sw))
    return out


def build_cases():
    real, prob = ("real", (4, 3)), ("prob_rows", (4, 3))
    cases = []
    cases += family("kld", "KLDivergence", prob, prob, "kl_divergence")
    cases += [
        case("kld_zero_targets", "KLDivergence", ("onehot", (4, 3)), prob, fn="kl_divergence"),
        case("kld_seq", "KLDivergence", ("prob_rows", (2, 3, 4)), ("prob_rows", (2, 3, 4))),
    ]
    cases += family("poisson", "Poisson", ("counts", (4, 3)), ("positive", (4, 3)), "poisson")
    cases += family("hinge", "Hinge", ("binary", (4, 3)), real, "hinge")
    cases += [
        case("hinge_pm1", "Hinge", ("pm1", (4, 3)), real, fn="hinge"),
        case("hinge_not_binary", "Hinge", ("ternary", (4, 3)), real, fn="hinge"),
        case("hinge_rank1_target", "Hinge", ("binary", (4,)), ("real", (4, 1))),
    ]
    cases += family("squared_hinge", "SquaredHinge", ("binary", (4, 3)), real, "squared_hinge")
    cases += [case("squared_hinge_pm1", "SquaredHinge", ("pm1", (4, 3)), real, fn="squared_hinge")]
    cases += family(
        "categorical_hinge", "CategoricalHinge", ("onehot", (4, 3)), real, "categorical_hinge"
    )
    cases += family("cosine", "CosineSimilarity", real, real, "cosine_similarity")
    cases += [
        case(
            "cosine_axis1",
            "CosineSimilarity",
            ("real", (2, 3, 4)),
            ("real", (2, 3, 4)),
            {"axis": 1},
            fn="cosine_similarity",
            fn_kwargs={"axis": 1},
        ),
        case("cosine_zero_target", "CosineSimilarity", ("zero_row", (4, 3)), real),
        # norms below sqrt(eps): only the floor of the norm itself (eps) gives Keras's numbers
        case("cosine_tiny", "CosineSimilarity", real, ("tiny", (4, 3)), fn="cosine_similarity"),
    ]
    cases += family("log_cosh", "LogCosh", ("real_wide", (4, 3)), real, "log_cosh")
    cases += [case("log_cosh_huge", "LogCosh", ("huge", (4, 3)), real, fn="log_cosh")]
    cases += family(
        "mape",
        "MeanAbsolutePercentageError",
        ("away_from_zero", (4, 3)),
        real,
        "mean_absolute_percentage_error",
    )
    cases += [
        case(
            "mape_zero_targets",
            "MeanAbsolutePercentageError",
            ("with_zeros", (4, 3)),
            real,
            fn="mean_absolute_percentage_error",
        )
    ]
    cases += family(
        "msle",
        "MeanSquaredLogarithmicError",
        ("counts", (4, 3)),
        ("positive", (4, 3)),
        "mean_squared_logarithmic_error",
    )
    cases += [
        case(
            "msle_negative_preds",
            "MeanSquaredLogarithmicError",
            ("counts", (4, 3)),
            ("real_away", (4, 3)),
            fn="mean_squared_logarithmic_error",
        )
    ]
    bfc = "BinaryFocalCrossentropy"
    binary, probs = ("binary", (4, 3)), ("prob", (4, 3))
    cases += family("bfc", bfc, binary, probs, "binary_focal_crossentropy")
    for cid, p_kind, kw in [
        ("bfc_logits", "logit", {"from_logits": True}),
        ("bfc_logits_large", "logit_large", {"from_logits": True}),
        ("bfc_balanced", "prob", {"apply_class_balancing": True, "alpha": 0.4}),
        (
            "bfc_logits_balanced",
            "logit",
            {"from_logits": True, "apply_class_balancing": True, "gamma": 3.0},
        ),
        ("bfc_gamma0", "prob", {"gamma": 0.0}),
        ("bfc_gamma_frac", "prob", {"gamma": 1.5}),
        ("bfc_smoothing", "prob", {"label_smoothing": 0.1}),
        ("bfc_logits_smoothing", "logit", {"from_logits": True, "label_smoothing": 0.2}),
        ("bfc_extreme", "prob_extreme", {}),
    ]:
        cases.append(case(cid, bfc, binary, (p_kind, (4, 3)), kw, fn="binary_focal_crossentropy"))
    cases += [
        case(
            "bfc_logits_sw_sum",
            bfc,
            binary,
            ("logit", (4, 3)),
            {"from_logits": True, "reduction": "sum"},
            ("weights", (4,)),
        ),
        case("bfc_rank1_target", bfc, ("binary", (4,)), ("prob", (4, 1))),
        case(
            "bfc_axis1",
            bfc,
            ("binary", (2, 3, 4)),
            ("prob", (2, 3, 4)),
            {"axis": 1},
            fn="binary_focal_crossentropy",
            fn_kwargs={"axis": 1},
        ),
    ]
    cfc = "CategoricalFocalCrossentropy"
    onehot = ("onehot", (4, 3))
    cases += family("cfc", cfc, onehot, prob, "categorical_focal_crossentropy")
    for cid, p_kind, kw in [
        ("cfc_unnormalized", "positive", {}),
        ("cfc_logits", "logit", {"from_logits": True}),
        ("cfc_logits_large", "logit_large", {"from_logits": True}),
        ("cfc_alpha_list", "prob_rows", {"alpha": [0.2, 0.3, 0.5]}),
        ("cfc_gamma", "prob_rows", {"gamma": 0.5, "alpha": 1.0}),
        ("cfc_smoothing", "prob_rows", {"label_smoothing": 0.1}),
        ("cfc_logits_smoothing", "logit", {"from_logits": True, "label_smoothing": 0.3}),
    ]:
        cases.append(
            case(cid, cfc, onehot, (p_kind, (4, 3)), kw, fn="categorical_focal_crossentropy")
        )
    cases += [
        case(
            "cfc_axis1",
            cfc,
            ("onehot_axis1", (2, 4, 3)),
            ("prob_axis1", (2, 4, 3)),
            {"axis": 1},
            fn="categorical_focal_crossentropy",
            fn_kwargs={"axis": 1},
        ),
        case(
            "cfc_seq_logits_sw",
            cfc,
            ("onehot", (2, 3, 4)),
            ("logit", (2, 3, 4)),
            {"from_logits": True},
            ("weights", (2, 3)),
        ),
    ]
    scce = "SparseCategoricalCrossentropy"
    ids, rows, logits = ("ids_ignore", (6,)), ("prob_rows", (6, 4)), ("logit", (6, 4))
    for ignore in (-1, 255, 0):
        tag = f"m{-ignore}" if ignore < 0 else str(ignore)
        kw = {"ignore_class": ignore}
        cases += [
            case(f"scce_ignore{tag}", scce, ids, rows, kw, fn="sparse_categorical_crossentropy"),
            case(
                f"scce_ignore{tag}_logits",
                scce,
                ids,
                logits,
                {**kw, "from_logits": True},
                fn="sparse_categorical_crossentropy",
                fn_kwargs={**kw, "from_logits": True},
            ),
        ]
    kw = {"ignore_class": -1}
    for r in REDUCTIONS:
        tag = "none" if r is None else r
        cases += [
            case(
                f"scce_ignore_{tag}", scce, ids, logits, {**kw, "from_logits": True, "reduction": r}
            ),
            case(
                f"scce_ignore_{tag}_sw",
                scce,
                ids,
                logits,
                {**kw, "from_logits": True, "reduction": r},
                ("weights", (6,)),
            ),
        ]
    cases += [
        case("scce_ignore_sw", scce, ids, rows, kw, ("weights", (6,))),
        case("scce_ignore_col", scce, ("ids_ignore", (6, 1)), rows, kw),
        case(
            "scce_ignore_seq",
            scce,
            ("ids_ignore", (2, 5)),
            ("logit", (2, 5, 4)),
            {**kw, "from_logits": True},
            fn="sparse_categorical_crossentropy",
            fn_kwargs={**kw, "from_logits": True},
        ),
        case(
            "scce_ignore_seq_sw",
            scce,
            ("ids_ignore", (2, 5)),
            ("logit", (2, 5, 4)),
            {**kw, "from_logits": True},
            ("weights", (2, 5)),
        ),
        case("scce_ignore_all", scce, ("ids_all_ignored", (4,)), ("prob_rows", (4, 4)), kw),
        case("scce_sw", scce, ("ids", (6,)), rows, {}, ("weights", (6,))),
        case("scce_sw_col", scce, ("ids", (6,)), rows, {}, ("weights", (6, 1))),
        # the weights of existing losses, which the new sample_weight path also serves
        case("mse_sw", "MeanSquaredError", real, real, {}, ("weights", (4,))),
        case("mse_sw_zero", "MeanSquaredError", real, real, {}, ("zero_weights", (4,))),
        case(
            "mse_mwsw_zero",
            "MeanSquaredError",
            real,
            real,
            {"reduction": "mean_with_sample_weight"},
            ("zero_weights", (4,)),
        ),
        case(
            "mse_seq_sw",
            "MeanSquaredError",
            ("real", (2, 3, 2)),
            ("real", (2, 3, 2)),
            {},
            ("weights", (2, 3)),
        ),
        case(
            "bce_logits_sw",
            "BinaryCrossentropy",
            binary,
            ("logit", (4, 3)),
            {"from_logits": True},
            ("weights", (4,)),
        ),
        case(
            "cce_sw_sum",
            "CategoricalCrossentropy",
            onehot,
            prob,
            {"reduction": "sum"},
            ("weights", (4,)),
        ),
        case("huber_sw", "Huber", ("real_wide", (4, 3)), real, {}, ("weights", (4, 1))),
        case(
            "mae_rank1_sw",
            "MeanAbsoluteError",
            ("real", (4,)),
            ("real", (4, 1)),
            {},
            ("weights", (4,)),
        ),
    ]
    return cases


def draw(kind, shape, rng, classes):
    shape = tuple(shape)
    if kind in ("real", "logit"):
        return rng.standard_normal(shape)
    if kind == "real_wide":
        return rng.standard_normal(shape) * 2
    if kind == "real_away":  # kept away from 0, where max(y_pred, eps) has its kink
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.1, 2.0, shape)
    if kind == "tiny":
        return rng.standard_normal(shape) * np.array([1e-8, 1e-5, 1e-3, 1.0])[: shape[0], None]
    if kind == "huge":
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(50.0, 2e4, shape)
    if kind == "away_from_zero":
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 3.0, shape)
    if kind == "with_zeros":
        return rng.choice([0.0, 0.5, -2.0, 3.0], shape)
    if kind == "logit_large":
        return rng.standard_normal(shape) * 40
    if kind == "binary":
        return rng.integers(0, 2, shape).astype(float)
    if kind == "pm1":
        return rng.choice([-1.0, 1.0], shape)
    if kind == "ternary":
        return rng.choice([-1.0, 0.0, 1.0], shape)
    if kind == "counts":
        return rng.integers(0, 5, shape).astype(float)
    if kind == "prob":
        return rng.uniform(0.05, 0.95, shape)
    if kind == "prob_extreme":
        return rng.choice([0.0, 1e-9, 0.3, 1.0 - 1e-9, 1.0], shape)
    if kind == "positive":
        return rng.uniform(0.1, 3.0, shape)
    if kind == "prob_rows":
        p = rng.uniform(0.05, 1.0, shape)
        return p / p.sum(-1, keepdims=True)
    if kind == "prob_axis1":
        p = rng.uniform(0.05, 1.0, shape)
        return p / p.sum(1, keepdims=True)
    if kind == "onehot":
        return np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])]
    if kind == "onehot_axis1":
        return np.moveaxis(np.eye(shape[1])[rng.integers(0, shape[1], (shape[0], shape[2]))], 2, 1)
    if kind == "zero_row":
        x = rng.standard_normal(shape)
        x[1] = 0.0
        return x
    if kind == "weights":
        return rng.uniform(0.0, 2.0, shape)
    if kind == "zero_weights":
        return np.zeros(shape)
    if kind == "ids":
        return rng.integers(0, classes, shape).astype("int32")
    if kind == "ids_ignore":  # the ignored id of each case is put in afterwards
        return rng.integers(0, classes + 1, shape).astype("int32")
    if kind == "ids_all_ignored":
        return np.full(shape, classes, "int32")
    raise ValueError(kind)


def draw_case(spec, rng):
    classes = spec["p"][1][-1] if spec["kwargs"].get("axis", -1) == -1 else spec["p"][1][1]
    y_pred = draw(*spec["p"], rng, classes).astype("float32")
    y_true = draw(*spec["t"], rng, classes)
    y_true = y_true if y_true.dtype == np.int32 else y_true.astype("float32")
    if spec["t"][0] in ("ids_ignore", "ids_all_ignored"):  # id `classes` stands for ignored
        y_true = np.where(y_true == classes, spec["kwargs"]["ignore_class"], y_true).astype("int32")
        if spec["t"][0] == "ids_ignore":  # at least one ignored and one kept
            y_true.reshape(-1)[0] = spec["kwargs"]["ignore_class"]
            y_true.reshape(-1)[1] = 1
    sw = None if spec["sw"] is None else draw(*spec["sw"], rng, classes).astype("float32")
    return y_true, y_pred, sw


def run_case(spec):
    rng = np.random.default_rng(zlib.crc32(spec["id"].encode()))
    y_true, y_pred, sw = draw_case(spec, rng)
    cls = getattr(keras.losses, spec["loss"])
    pred = torch.tensor(y_pred, requires_grad=True)
    args = (torch.tensor(y_true), pred) + (() if sw is None else (torch.tensor(sw),))
    loss = cls(**spec["kwargs"])(*args)
    dy = (rng.standard_normal(tuple(loss.shape)) + 1.0).astype("float32")
    (loss * torch.tensor(dy)).sum().backward()
    plain = {k: v for k, v in spec["kwargs"].items() if k != "reduction"}
    values = cls(**plain, reduction=None)(torch.tensor(y_true), torch.tensor(y_pred))
    arrays = {"y_true": y_true, "y_pred": y_pred, "loss": loss.detach().numpy(), "dy": dy}
    arrays["grad"] = pred.grad.numpy()
    arrays["values"] = values.detach().numpy()
    if sw is not None:
        arrays["sample_weight"] = sw
    for key, a in arrays.items():
        assert np.isfinite(a).all() or spec["id"].endswith("extreme"), (spec["id"], key)
    entry = {
        "id": spec["id"],
        "loss": spec["loss"],
        "kwargs": spec["kwargs"],
        "fn": spec["fn"],
        "fn_kwargs": spec["fn_kwargs"] if spec["fn_kwargs"] is not None else spec["kwargs"],
        "sample_weight": sw is not None,
    }
    out = {}
    for key, a in arrays.items():
        a = np.asarray(a)
        out[f"{spec['id']}/{key}"] = a.astype("int32" if a.dtype.kind in "iu" else "float32")
    return entry, out


def main():
    torch.set_num_threads(1)
    entries, arrays = [], {}
    for spec in build_cases():
        entry, case_arrays = run_case(spec)
        entries.append(entry)
        arrays.update(case_arrays)
    assert len({e["id"] for e in entries}) == len(entries), "case ids must be unique"
    with open(os.path.join(HERE, "losses2.json"), "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(e) for e in entries) + "\n]\n")
    save_npz_deterministic(os.path.join(HERE, "losses2.npz"), arrays)
    print(f"wrote {len(entries)} cases, {len(arrays)} arrays")


if __name__ == "__main__":
    main()
