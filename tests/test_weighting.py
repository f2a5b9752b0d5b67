"""sample_weight, class_weight and weighted_metrics in fit / evaluate / the batch forms: whole
runs against Keras 3 (tests/keras_reference/weighting.*), the rules that tie them together, and
the errors for weights that do not fit."""

import json
import os

import numpy as np
import pytest
from test_training import build

import graphengine as ge

REF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_reference")
with open(os.path.join(REF, "weighting.json")) as f:
    CASES = json.load(f)


@pytest.fixture(scope="module")
def arrays():
    with np.load(os.path.join(REF, "weighting.npz"), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def compiled(case, arrays):
    cid = case["id"]
    model = build(case["build"])
    model.set_weights([arrays[f"{cid}/w_init{j}"] for j in range(case["n_weights"])])
    name, kwargs = case["optimizer"]
    model.compile(
        optimizer=getattr(ge.optimizers, name)(**kwargs),
        loss=case["loss"],
        metrics=case["metrics"],
        weighted_metrics=case["weighted_metrics"],
    )
    return model


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_weighted_fit_and_evaluate_match_keras(case, arrays):
    cid = case["id"]
    model = compiled(case, arrays)
    if f"{cid}/y" in arrays:
        y = arrays[f"{cid}/y"]
    else:
        y = {"score": arrays[f"{cid}/y_score"], "label": arrays[f"{cid}/y_label"]}
    fit = dict(case["fit"])
    sw = arrays[f"{cid}/sw"]
    if case["weights"] == "class":
        fit["class_weight"] = {int(k): v for k, v in case["class_weight"].items()}
    elif case["weights"] == "per_output":
        fit["sample_weight"] = {"score": sw, "label": arrays[f"{cid}/sw2"]}
    else:
        fit["sample_weight"] = sw
    if case["weights"] == "sample_and_validation":
        fit["validation_data"] = tuple(arrays[f"{cid}/{k}"] for k in ("xv", "yv", "swv"))
    history = model.fit(arrays[f"{cid}/x"], y, shuffle=False, verbose=0, **fit)
    assert sorted(history.history) == sorted(case["history"])
    for key, want in case["history"].items():
        np.testing.assert_allclose(history.history[key], want, rtol=2e-5, atol=1e-6, err_msg=key)
    for j in range(case["n_weights"]):
        np.testing.assert_allclose(
            model.get_weights()[j], arrays[f"{cid}/w_final{j}"], rtol=1e-4, atol=1e-5
        )
    got = model.evaluate(
        arrays[f"{cid}/x"], y, sample_weight=fit.get("sample_weight", sw),
        batch_size=case["evaluate_batch_size"],
        verbose=0, return_dict=True,
    )  # fmt: skip
    assert got == pytest.approx(case["evaluate"], rel=2e-5, abs=1e-6)


X = np.random.default_rng(3).standard_normal((12, 4)).astype("float32")
Y = np.random.default_rng(4).integers(0, 3, 12).astype("int32")


def classifier(metrics=None, weighted=None):
    ge.utils.set_random_seed(1)
    model = ge.Sequential([ge.Input((4,)), ge.layers.Dense(3, activation="softmax")])
    model.compile(ge.optimizers.SGD(0.1), "sparse_categorical_crossentropy",
                  metrics=metrics, weighted_metrics=weighted)  # fmt: skip
    return model


def test_class_weight_is_the_sample_weight_of_each_class():
    table = {0: 0.5, 1: 3.0, 2: 1.0}
    by_class, by_sample = classifier(), classifier()
    h1 = by_class.fit(X, Y, batch_size=4, epochs=2, shuffle=False, verbose=0, class_weight=table)
    sw = np.array([table[int(c)] for c in Y], "float32")
    h2 = by_sample.fit(X, Y, batch_size=4, epochs=2, shuffle=False, verbose=0, sample_weight=sw)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-6)
    for a, b in zip(by_class.get_weights(), by_sample.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_sample_weights_scale_the_loss_as_keras_reduces_it():
    model = classifier()
    plain = model.test_on_batch(X, Y)
    assert model.test_on_batch(X, Y, sample_weight=np.full(12, 2.0)) == pytest.approx(2 * plain)
    half = np.r_[np.ones(6), np.zeros(6)]
    # sum_over_batch_size: the weighted sum over all 12 samples, not over the weights
    assert model.test_on_batch(X, Y, sample_weight=half) == pytest.approx(
        model.test_on_batch(X[:6], Y[:6]) * 6 / 12, rel=1e-6
    )


def test_weighted_metrics_see_the_weights_and_metrics_do_not():
    model = classifier(metrics=["accuracy"], weighted=["accuracy"])
    sw = np.r_[np.ones(6), np.zeros(6)]
    logs = model.evaluate(X, Y, sample_weight=sw, verbose=0, return_dict=True)
    head = model.evaluate(X[:6], Y[:6], verbose=0, return_dict=True)
    full = model.evaluate(X, Y, verbose=0, return_dict=True)
    assert logs["weighted_accuracy"] == pytest.approx(head["accuracy"])
    assert logs["accuracy"] == pytest.approx(full["accuracy"])
    assert model.metrics_names == ["loss", "accuracy", "weighted_accuracy"]


def test_weighted_batches_from_a_dataset_equal_the_arrays():
    def batches():
        for i in range(0, 12, 4):
            yield X[i : i + 4], Y[i : i + 4], np.linspace(0.5, 2, 12)[i : i + 4]

    a, b = classifier(weighted=["accuracy"]), classifier(weighted=["accuracy"])
    ha = a.fit(batches(), epochs=1, verbose=0)
    hb = b.fit(X, Y, sample_weight=np.linspace(0.5, 2, 12), batch_size=4, shuffle=False,
               epochs=1, verbose=0)  # fmt: skip
    assert ha.history.keys() == hb.history.keys()
    for key in ha.history:
        assert ha.history[key] == pytest.approx(hb.history[key])
    c = classifier()
    hc = c.fit(((X[i : i + 4], Y[i : i + 4]) for i in range(0, 12, 4)), epochs=1, verbose=0,
               class_weight={0: 2.0})  # fmt: skip
    d = classifier()
    hd = d.fit(X, Y, batch_size=4, shuffle=False, epochs=1, verbose=0, class_weight={0: 2.0})
    assert hc.history["loss"] == pytest.approx(hd.history["loss"])


def test_train_on_batch_takes_sample_and_class_weights():
    a, b = classifier(), classifier()
    a.train_on_batch(X, Y, class_weight={1: 4.0})
    b.train_on_batch(X, Y, sample_weight=np.where(Y == 1, 4.0, 1.0))
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6)


def two_outputs():
    x = ge.Input((4,))
    model = ge.Model(x, [ge.layers.Dense(1, name="a")(x), ge.layers.Dense(3, name="b")(x)])
    model.compile("sgd", ["mse", "mse"])
    return model


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"sample_weight": np.ones(11)}, ValueError, r"has shape \(11,\), but there are 12"),
        ({"sample_weight": np.r_[np.ones(11), np.nan]}, ValueError, "non-finite weight"),
        ({"sample_weight": np.array(["a"] * 12)}, TypeError, "must be numeric"),
        ({"class_weight": {0: 1.0}, "sample_weight": np.ones(12)}, ValueError, "at the same"),
        ({"class_weight": {3: 1.0}}, ValueError, "has key 3, but output .* has 3 classes"),
        ({"class_weight": {"0": 1.0}}, TypeError, "keys must be integer class ids"),
        ({"class_weight": {0: float("inf")}}, ValueError, "is not a finite number"),
        ({"class_weight": [1.0, 2.0]}, TypeError, "must be a dict"),
    ],
)
def test_weights_that_do_not_fit_raise_where_given(kwargs, error, match):
    with pytest.raises(error, match=match):
        classifier().fit(X, Y, verbose=0, **kwargs)


def test_multi_output_weight_rules():
    model, y = two_outputs(), [X[:, :1], X[:, :3]]
    with pytest.raises(ValueError, match="class_weight is only supported for models with a"):
        model.fit(X, y, class_weight={0: 1.0}, verbose=0)
    with pytest.raises(ValueError, match="must hold one weight per sample"):
        model.fit(X, y, sample_weight=np.ones((12, 3)), verbose=0)
    with pytest.raises(ValueError, match="sample_weight has 3 entries but the model has 2"):
        model.fit(X, y, sample_weight=[np.ones(12)] * 3, verbose=0)
    with pytest.raises(ValueError, match=r"sample_weight has keys \['c'\]"):
        model.fit(X, y, sample_weight={"c": np.ones(12)}, verbose=0)
    # a weight for one output only weights that output's loss
    only_a = model.evaluate(X, y, sample_weight={"a": np.zeros(12)}, verbose=0, return_dict=True)
    assert only_a["a_loss"] == 0.0 and only_a["b_loss"] > 0.0


def test_ignore_class_targets_are_left_out_of_fit():
    model = classifier()
    model.compile("sgd", ge.losses.SparseCategoricalCrossentropy(ignore_class=255))
    y = Y.copy()
    y[::2] = 255  # out of the 3 classes, but ignored: accepted, and left out of the mean
    assert model.test_on_batch(X, y) == pytest.approx(model.test_on_batch(X[1::2], Y[1::2]))
    model.fit(X, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="254"):
        model.fit(X, np.where(y == 255, 254, y), epochs=1, verbose=0)


class WeightedStep(ge.Model):
    """keras-io's "supporting sample_weight" custom train_step, gradients by ge.value_and_grad."""

    def loss_of(self, x, y, sample_weight):
        y_pred = self(x, training=True)
        return self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight), y_pred

    def train_step(self, data):
        x, y, sample_weight = data  # fit passes the weights in the batch, as Keras
        step = ge.value_and_grad(self.loss_of, self.trainable_weights, has_aux=True)
        (loss, y_pred), gradients = step(x, y, sample_weight)
        self.optimizer.apply(gradients, self.trainable_weights)
        self.metrics[0].update_state(loss)
        return {"loss": self.metrics[0].result()}


def test_a_custom_train_step_receives_and_applies_sample_weights():
    sw = np.linspace(0.0, 2.0, 12).astype("float32")

    def build(cls):
        ge.utils.set_random_seed(2)
        x = ge.Input((4,))
        model = cls(x, ge.layers.Dense(3, activation="softmax")(x))
        model.compile(ge.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        return model

    custom, compiled = build(WeightedStep), build(ge.Model)
    hc = custom.fit(X, Y, sample_weight=sw, batch_size=4, shuffle=False, epochs=2, verbose=0)
    hk = compiled.fit(X, Y, sample_weight=sw, batch_size=4, shuffle=False, epochs=2, verbose=0)
    np.testing.assert_allclose(hc.history["loss"], hk.history["loss"], rtol=1e-5)
    for a, b in zip(custom.get_weights(), compiled.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_metric_objects_and_weighted_metrics_survive_save_and_clone(tmp_path):
    model = classifier(
        metrics=[ge.metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")],
        weighted=[ge.metrics.SparseCategoricalAccuracy(name="wacc")],
    )
    model.fit(X, Y, sample_weight=np.linspace(0.5, 1.5, 12), epochs=1, verbose=0)
    want = model.evaluate(X, Y, sample_weight=np.linspace(0, 1, 12), verbose=0, return_dict=True)
    model.save(tmp_path / "m.gez")
    loaded = ge.models.load_model(tmp_path / "m.gez")
    got = loaded.evaluate(X, Y, sample_weight=np.linspace(0, 1, 12), verbose=0, return_dict=True)
    assert list(got) == ["loss", "top2", "wacc"] and got == pytest.approx(want)
    clone = ge.models.clone_model(model)
    assert clone._metric_ids[0][0] is not model._metric_ids[0][0]  # no shared state
    assert clone._metric_ids[0][0].get_config() == model._metric_ids[0][0].get_config()
