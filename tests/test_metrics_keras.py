"""Metric objects against Keras 3 (tests/keras_reference/metrics.*, made by
generate_metrics.py on the torch backend): results after each of three update_state calls, with
and without sample weights; the summed state of split batches (what ranks add) giving the same
results; the Metric base class as Keras users subclass it; get / check_name; edge cases."""

import json
import os

import numpy as np
import pytest

import graphengine as ge
from graphengine.training.compile_utils import CompileMetrics
from graphengine import ops
from graphengine.training import metrics as metrics_module

REF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_reference")
with open(os.path.join(REF, "metrics.json")) as f:
    CASES = json.load(f)
TOL = dict(rtol=1e-5, atol=1e-6)  # float32


@pytest.fixture(scope="module")
def arrays():
    with np.load(os.path.join(REF, "metrics.npz"), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def calls(case, arrays):
    """The keyword arguments of the case's update_state calls."""
    out = []
    for j in range(len(case["args"])):
        prefix = f"{case['id']}/u{j}/"
        out.append({k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)})
    return out


def make(case):
    return getattr(ge.metrics, case["metric"])(**case["kwargs"])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_metric_matches_keras(case, arrays):
    metric = make(case)
    if case["fresh"]:  # no samples seen
        np.testing.assert_allclose(metric.result(), arrays[f"{case['id']}/r"], **TOL)
    for j, kwargs in enumerate(calls(case, arrays)):
        metric.update_state(**kwargs)
        result = metric.result()
        expected = arrays[f"{case['id']}/r{j}"]
        assert np.shape(result) == expected.shape
        np.testing.assert_allclose(result, expected, **TOL)
    assert np.asarray(metric.result()).dtype == np.float32
    assert metric.variables and all(v.aggregation == "sum" for v in metric.variables)
    metric.reset_state()
    assert all(not np.any(v.value) for v in metric.variables)


def _halves(kwargs):
    n = len(next(iter(kwargs.values())))
    return [{k: v[s] for k, v in kwargs.items()} for s in (slice(0, n // 2), slice(n // 2, n))]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_summed_state_of_split_batches_gives_the_result(case, arrays):
    """Two "ranks" each see half of every batch; the sum of their variables' increments is the
    state of one metric that saw everything (every built-in state is additive)."""
    whole, ranks = make(case), [make(case), make(case)]
    for kwargs in calls(case, arrays):
        whole.update_state(**kwargs)
        for rank, part in zip(ranks, _halves(kwargs)):
            rank.update_state(**part)
    merged = make(case)
    merged.update_state(**calls(case, arrays)[0])  # builds lazily made variables
    for mine, a, b in zip(merged.variables, *(r.variables for r in ranks)):
        mine.assign(np.asarray(a) + np.asarray(b))
    np.testing.assert_allclose(merged.result(), whole.result(), **TOL)


# -- the Metric base class, as Keras users subclass it ------------------------------------------
class BinaryTruePositives(ge.metrics.Metric):
    """keras.io's Metric docstring example, word for word."""

    def __init__(self, name="binary_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(
            shape=(), initializer="zeros", name="true_positives"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "bool")
        y_pred = ops.cast(y_pred, "bool")
        values = ops.logical_and(ops.equal(y_true, True), ops.equal(y_pred, True))
        values = ops.cast(values, self.dtype)
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, self.dtype)
            sample_weight = ops.broadcast_to(sample_weight, ops.shape(values))
            values = ops.multiply(values, sample_weight)
        self.true_positives.assign(self.true_positives + ops.sum(values))

    def result(self):
        return self.true_positives


def test_keras_docstring_binary_true_positives():
    m = BinaryTruePositives()
    m.update_state([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[1.0, 1.0, 0.5, 2.0])
    assert float(m.result()) == 2.5


class TruePositivesWithGeOps(ge.metrics.Metric):
    """The same metric with the ge.ops that exist (multiply for logical_and, np.shape)."""

    def __init__(self, name="binary_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_weight(name="tp", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = ops.cast(y_true, "bool"), ops.cast(y_pred, "bool")
        values = ops.multiply(ops.equal(y_true, True), ops.equal(y_pred, True))
        values = ops.cast(values, self.dtype)
        if sample_weight is not None:
            sample_weight = ops.broadcast_to(ops.cast(sample_weight, self.dtype), np.shape(values))
            values = ops.multiply(values, sample_weight)
        self.true_positives.assign(self.true_positives + ops.sum(values))

    def result(self):
        return self.true_positives


class CategoricalTruePositives(ge.metrics.Metric):
    """keras.io's "Customizing what happens in fit" / training guide metric."""

    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
        values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
        values = ops.cast(values, "float32")
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            values = ops.multiply(values, sample_weight)
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives.value

    def reset_state(self):
        self.true_positives.assign(0.0)


class NumpyMeanError(ge.metrics.Metric):
    """A metric written with NumPy, nesting a Mean (its variables join the outer metric's)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.mean = ge.metrics.Mean(name="inner")
        self.worst = self.add_variable((), "zeros", aggregation="none", name="worst")

    def update_state(self, y_true, y_pred, sample_weight=None):
        errors = np.abs(np.asarray(y_true) - np.asarray(y_pred))
        self.mean.update_state(errors, sample_weight)
        self.worst.assign(np.maximum(self.worst, errors.max()))

    def result(self):
        return self.mean.result() + 0 * self.worst


def test_custom_metrics_with_ge_ops_and_numpy():
    m = TruePositivesWithGeOps()
    assert m.name == "binary_true_positives" and m.dtype == "float32"
    m.update_state([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[1.0, 1.0, 0.5, 2.0])
    assert float(m.result()) == 2.5
    assert float(m([1, 1], [1, 1])) == 4.5  # __call__: update, then result
    m.reset_state()
    assert float(m.result()) == 0.0

    c = CategoricalTruePositives()
    probs = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]], "float32")
    c.update_state(np.array([[1], [1], [1]]), probs)
    c.update_state(np.array([[0]]), probs[1:2], sample_weight=np.array([[3.0]]))
    assert float(c.result()) == 5.0
    c.reset_state()
    assert float(c.result()) == 0.0

    n = NumpyMeanError(name="np_error")
    n.update_state([1.0, 2.0], [1.5, 1.0])
    assert [v.path for v in n.variables] == ["np_error/worst", "inner/total", "inner/count"]
    assert float(n.result()) == pytest.approx(0.75) and float(n.worst) == 1.0
    n.reset_state()
    assert float(n.result()) == 0.0 and float(n.worst) == 0.0


def test_variables_behave_as_keras_variables():
    class Counter(ge.metrics.Metric):
        def __init__(self):
            super().__init__(name="counter")
            self.hits = self.add_variable((3,), "ones", dtype="float64", name="hits")

    m = Counter()
    v = m.hits
    assert v.shape == (3,) and v.dtype == "float64" and v.path == "counter/hits"
    assert not v.trainable and v.aggregation == "sum"
    v.assign_add([1, 2, 3])
    np.testing.assert_array_equal(v.numpy(), [2, 3, 4])
    np.testing.assert_array_equal(np.asarray(v), [2, 3, 4])
    np.testing.assert_array_equal(v + np.ones(3), [3, 4, 5])
    np.testing.assert_array_equal(np.ones(3) * v, [2, 3, 4])
    np.testing.assert_array_equal(v > 2, [False, True, True])
    np.testing.assert_array_equal(ops.add(v, v), [4, 6, 8])  # ge.ops read it as an array
    assert v[1] == 3.0 and len(v) == 3
    v.assign_sub(np.ones(3))
    array = v.numpy()
    array[0] = 99  # numpy() is a copy
    assert v.value[0] == 1.0
    m.reset_state()  # back to the initializer (ones), not to zeros
    np.testing.assert_array_equal(v.value, np.ones(3))
    assert "counter/hits" in repr(v) and repr(m) == "<Counter name=counter>"
    with pytest.raises(ValueError, match=r"'counter/hits'.*variable.shape=\(3,\).*\(2,\)"):
        v.assign([1.0, 2.0])
    with pytest.raises(TypeError, match="cannot be used as a boolean"):
        bool(v)
    with pytest.raises(TypeError, match=r"Only scalar arrays.*shape \(3,\)"):
        float(v)


def test_metric_base_errors_and_config():
    class Forgot(ge.metrics.Metric):
        def __init__(self):
            self.x = self.add_variable((), "zeros")

    with pytest.raises(RuntimeError, match="forgot to call super"):
        Forgot()
    with pytest.raises(ValueError, match=r"aggregation='max' is not one of"):
        ge.metrics.Mean().add_variable((), "zeros", aggregation="max")
    with pytest.raises(ValueError, match=r"Mean 'm': dtype='int32' is not a floating-point"):
        ge.metrics.Mean(name="m", dtype="int32")
    with pytest.raises(NotImplementedError, match="must implement update_state"):
        ge.metrics.Metric().update_state(1)
    m = ge.metrics.Precision(thresholds=[0.3, 0.6], class_id=1, name="p")
    config = m.get_config()
    assert config == {
        "name": "p",
        "dtype": "float32",
        "thresholds": [0.3, 0.6],
        "top_k": None,
        "class_id": 1,
    }
    assert ge.metrics.Precision.from_config(config).get_config() == config
    auc = ge.metrics.AUC(curve="pr", thresholds=[0.5, 0.2], name="a")
    assert ge.metrics.AUC.from_config(auc.get_config()).get_config() == auc.get_config()
    assert auc.get_config()["thresholds"] == [0.2, 0.5] and auc.curve == "PR"
    f1 = ge.metrics.F1Score(average="macro", threshold=0.3)
    assert "beta" not in f1.get_config()
    assert ge.metrics.F1Score.from_config(f1.get_config()).threshold == 0.3
    top = ge.metrics.SparseTopKCategoricalAccuracy(k=3, name="t3")
    assert (
        ge.metrics.get({"class_name": "SparseTopKCategoricalAccuracy", "config": {"k": 3}}).k == 3
    )
    assert top.get_config() == {"name": "t3", "dtype": "float32", "k": 3, "from_sorted_ids": False}


def test_default_names_are_unique_as_in_keras():
    first, second = ge.metrics.AUC(), ge.metrics.AUC()
    assert first.name.startswith("auc") and second.name.startswith("auc")
    assert first.name != second.name
    assert ge.metrics.MeanMetricWrapper(np.abs).name.startswith("mean_metric_wrapper")


# -- the reducing metrics -----------------------------------------------------------------------
def test_mean_metric_wrapper_fn_kwargs_and_masked_values():
    def scaled_error(y_true, y_pred, scale=1.0):
        return scale * np.abs(y_true - y_pred)

    m = ge.metrics.MeanMetricWrapper(scaled_error, name="se", scale=2.0)
    assert m.fn(np.ones(2), np.zeros(2)).tolist() == [2.0, 2.0]  # .fn binds the kwargs
    m.update_state(np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]]))
    assert float(m.result()) == pytest.approx(3.0)
    assert m.get_config()["scale"] == 2.0 and m.get_config()["fn"] is scaled_error
    # a mask on the values (sparse crossentropy's ignore_class) leaves those entries out,
    # with or without sample weights (Keras counts them as 0 without sample weights)
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.3, 0.3, 0.4]])
    ids = np.array([0, 1, 2, 1])
    s = ge.metrics.SparseCategoricalCrossentropy(ignore_class=1)
    s.update_state(ids, probs)
    kept = -np.log([0.7, 0.6])
    assert float(s.result()) == pytest.approx(kept.mean(), rel=1e-5)
    with pytest.raises(ValueError, match="label -1 at index 3"):
        s.update_state(np.array([0, 1, 2, -1]), probs)
    s2 = ge.metrics.SparseCategoricalCrossentropy(ignore_class=-1)
    s2.update_state(np.array([0, -1, 2, -1]), probs)
    assert float(s2.result()) == pytest.approx(kept.mean(), rel=1e-5)


def test_sample_weight_rules():
    m = ge.metrics.Mean()
    m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert float(m.result()) == 2.0
    m.reset_state()
    m.update_state(np.ones((2, 3)), sample_weight=np.array([[1.0], [0.0]]))  # (N, 1): per sample
    assert float(m.result()) == 1.0 and float(m.count) == 1.0
    s = ge.metrics.Sum()
    s.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert float(s.result()) == 4.0
    with pytest.raises(ValueError, match=r"Mean 'm': sample_weight of shape \(3,\) does not"):
        ge.metrics.Mean(name="m").update_state(np.ones((4, 2)), sample_weight=np.ones(3))
    masked = metrics_module.apply_mask(np.array([2.0, 1.0]), np.array([[1, 0, 1], [1, 1, 0]]))
    np.testing.assert_array_equal(masked, [[2, 0, 2], [1, 1, 0]])


# -- edge cases -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "metric",
    [
        ge.metrics.Mean(),
        ge.metrics.MeanSquaredError(),
        ge.metrics.Precision(),
        ge.metrics.Recall(thresholds=[0.2, 0.8]),
        ge.metrics.AUC(),
        ge.metrics.AUC(multi_label=True),
        ge.metrics.F1Score(),
        ge.metrics.RootMeanSquaredError(),
        ge.metrics.SparseCategoricalAccuracy(),
    ],
    ids=lambda m: type(m).__name__,
)
def test_no_samples_seen_gives_zero(metric):
    np.testing.assert_array_equal(metric.result(), 0.0)


@pytest.mark.parametrize(
    "metric, y_true, y_pred",
    [
        (ge.metrics.MeanSquaredError(), [[1.0, 2.0], [0.0, 0.0]], [[np.nan, 2.0], [0.0, 0.0]]),
        (ge.metrics.BinaryCrossentropy(), [[1.0], [0.0]], [[np.nan], [0.2]]),
        (ge.metrics.BinaryAccuracy(), [[1.0], [0.0]], [[np.nan], [0.2]]),
        (ge.metrics.CategoricalAccuracy(), [[1.0, 0.0]], [[np.nan, 0.2]]),
        (ge.metrics.SparseTopKCategoricalAccuracy(k=1), [0], [[np.nan, 0.2]]),
        (ge.metrics.Precision(), [[1.0], [0.0]], [[np.nan], [0.7]]),
        (ge.metrics.Recall(top_k=1), [[1.0, 0.0]], [[np.nan, 0.7]]),
        (ge.metrics.AUC(), [1.0, 0.0], [np.nan, 0.7]),
        (ge.metrics.AUC(thresholds=[0.3, 0.6]), [1.0, 0.0], [np.nan, 0.7]),
        (ge.metrics.F1Score(), [[1.0, 0.0]], [[np.nan, 0.7]]),
    ],
    ids=lambda x: type(x).__name__ if isinstance(x, ge.metrics.Metric) else "",
)
def test_nan_predictions_propagate(metric, y_true, y_pred):
    metric.update_state(np.array(y_true), np.array(y_pred, "float32"))
    metric.update_state(np.array(y_true), np.nan_to_num(np.array(y_pred, "float32")))
    assert np.isnan(metric.result()).all()


def test_nan_prediction_with_zero_weight_does_not_count():
    m = ge.metrics.Precision()
    m.update_state([1.0, 1.0, 0.0], np.array([np.nan, 0.9, 0.8], "float32"), [0.0, 1.0, 1.0])
    assert float(m.result()) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "metric, y_true, y_pred, message",
    [
        (ge.metrics.MeanSquaredError(name="mse"), (4, 3), (4, 1), "MeanSquaredError 'mse'"),
        (ge.metrics.BinaryAccuracy(), (4, 2), (4, 3), "BinaryAccuracy 'binary_accuracy'"),
        (ge.metrics.CategoricalAccuracy(), (4,), (4, 3), "CategoricalAccuracy"),
        (ge.metrics.SparseCategoricalAccuracy(), (3,), (4, 3), "SparseCategoricalAccuracy"),
        (ge.metrics.TopKCategoricalAccuracy(k=2), (4, 1), (4, 3), "TopKCategoricalAccuracy"),
        (ge.metrics.CategoricalCrossentropy(), (4, 2), (4, 3), "CategoricalCrossentropy"),
        (ge.metrics.Precision(name="p"), (4, 2), (4, 3), "Precision 'p'"),
        (ge.metrics.AUC(name="a"), (5,), (4,), "AUC 'a'"),
        (ge.metrics.RootMeanSquaredError(), (4, 2), (4, 3), "RootMeanSquaredError"),
        (ge.metrics.F1Score(), (4,), (4,), "F1Score 'f1_score' expects 2-D"),
    ],
    ids=lambda x: type(x).__name__ if isinstance(x, ge.metrics.Metric) else "",
)
def test_mismatched_shapes_raise_naming_the_metric(metric, y_true, y_pred, message):
    t = np.zeros(y_true, "float32")
    p = np.full(y_pred, 0.5, "float32")
    with pytest.raises(ValueError, match=message + r".*y_true of shape \(.*y_pred of shape"):
        metric.update_state(t, p)


def test_out_of_range_class_ids_raise():
    probs = np.full((3, 4), 0.25, "float32")
    for metric in (
        ge.metrics.SparseCategoricalAccuracy(),
        ge.metrics.SparseTopKCategoricalAccuracy(k=2),
        ge.metrics.SparseCategoricalCrossentropy(),
    ):
        with pytest.raises(ValueError, match=r"label 4 at index 1, outside \[0, 4\)"):
            metric.update_state(np.array([0, 4, 1]), probs)
        with pytest.raises(ValueError, match=r"label -1 at index 2"):
            metric.update_state(np.array([0, 1, -1]), probs)
        with pytest.raises(ValueError, match=r"label 1.5 at index 0, not an integer"):
            metric.update_state(np.array([1.5, 1, 1]), probs)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: ge.metrics.Precision(thresholds=[0.5, 1.2]), r"Precision .*\[0, 1\].*1.2"),
        (lambda: ge.metrics.Recall(top_k=0), r"Recall .*top_k must be an integer >= 1"),
        (lambda: ge.metrics.TruePositives(thresholds=-0.1), r"TruePositives .*\[0, 1\]"),
        (lambda: ge.metrics.AUC(num_thresholds=1), r"AUC .*num_thresholds must be an integer >= 2"),
        (lambda: ge.metrics.AUC(curve="DET"), r"AUC .*curve='DET'.*\['ROC', 'PR', 'PRGAIN'\]"),
        (lambda: ge.metrics.AUC(summation_method="mid"), r"summation_method='mid'"),
        (lambda: ge.metrics.AUC(num_labels=3), r"num_labels is needed only when multi_label"),
        (lambda: ge.metrics.AUC(thresholds=[0.2, 2.0]), r"AUC .*\[0, 1\]"),
        (lambda: ge.metrics.F1Score(average="mean"), r"F1Score .*average='mean'"),
        (lambda: ge.metrics.FBetaScore(beta=2), r"FBetaScore .*beta=2\b"),
        (lambda: ge.metrics.FBetaScore(beta=-1.0), r"beta must be a Python float > 0"),
        (lambda: ge.metrics.F1Score(threshold=1.5), r"0 < threshold <= 1.*threshold=1.5"),
        (lambda: ge.metrics.TopKCategoricalAccuracy(k=0), r"k must be an integer >= 1.*k=0"),
    ],
)
def test_bad_arguments_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_arguments_at_update_raise():
    with pytest.raises(ValueError, match=r"Precision 'p': class_id=3 needs .* shape \(2, 3\)"):
        ge.metrics.Precision(class_id=3, name="p").update_state(np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"y_pred must have rank 2 .* shape \(2, 3, 1\)"):
        ge.metrics.AUC(multi_label=True).update_state(np.ones((2, 3, 1)), np.ones((2, 3, 1)))
    with pytest.raises(ValueError, match=r"label_weights of shape \(2,\) do not match the 3"):
        ge.metrics.AUC(multi_label=True, label_weights=[1, 2]).update_state(
            np.ones((2, 3)), np.ones((2, 3))
        )
    with pytest.raises(ValueError, match=r"label_weights of shape \(2,\) does not broadcast"):
        ge.metrics.AUC(label_weights=[1, 2]).update_state(np.ones((2, 3)), np.ones((2, 3)))
    f1 = ge.metrics.F1Score()
    f1.update_state(np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"do not match the 3 classes seen before"):
        f1.update_state(np.ones((2, 4)), np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"sample_weight of shape \(2, 3\) must hold one weight"):
        f1.update_state(np.ones((2, 3)), np.ones((2, 3)), sample_weight=np.ones((2, 3)))


def test_f1_without_threshold_predicts_each_rows_best_nonzero_score():
    f1 = ge.metrics.F1Score(average=None)
    y_true = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], "float32")
    y_pred = np.array([[0.5, 0.5, 0.1], [0.0, 0.0, 0.0], [0.2, 0.1, 0.7]], "float32")
    f1.update_state(y_true, y_pred)  # row 0: a tie, both predicted; row 1: nothing predicted
    np.testing.assert_array_equal(f1.true_positives.value, [1, 0, 1])
    np.testing.assert_array_equal(f1.false_positives.value, [0, 1, 0])
    np.testing.assert_array_equal(f1.false_negatives.value, [0, 1, 0])


def test_compiled_metric_objects_match_their_direct_results():
    ge.utils.set_random_seed(2)
    x = np.random.default_rng(3).standard_normal((30, 4)).astype("float32")
    y = (x[:, :1] + 0.3 * x[:, 1:2] > 0).astype("float32")
    inputs = ge.Input((4,))
    model = ge.Model(inputs, ge.layers.Dense(1, activation="sigmoid")(inputs))
    made = [
        ge.metrics.AUC(name="auc"),
        ge.metrics.F1Score(average="micro", threshold=0.5, name="f1"),
        TruePositivesWithGeOps(name="tp"),
    ]
    model.compile(loss="binary_crossentropy", metrics=[*made, "precision", "recall", "mae"])
    logs = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    pred = model.predict(x, verbose=0)
    direct = made[:2] + [
        TruePositivesWithGeOps(name="tp"),
        ge.metrics.Precision(name="precision"),
        ge.metrics.Recall(name="recall"),
        ge.metrics.MeanAbsoluteError(name="mae"),
    ]
    for metric in direct:
        metric.reset_state()
        metric.update_state(y, pred)
        np.testing.assert_allclose(
            logs[metric.name], metric.result(), rtol=1e-5, err_msg=metric.name
        )


# -- top-k ties and the vectorized counts ------------------------------------------------------
def test_in_top_k_counts_ties_with_the_kth_score_as_torch_keras():
    scores = np.array([[0.5, 0.2, 0.2, 0.1], [0.3, 0.3, 0.3, 0.1], [0.4, 0.3, 0.2, 0.1]])
    hits = metrics_module.in_top_k(np.array([2, 2, 3]), scores, 2)
    np.testing.assert_array_equal(hits, [True, True, False])  # 0.2 ties the 2nd best; 0.3 too
    np.testing.assert_array_equal(metrics_module.in_top_k(np.array([3]), scores[2:], 9), [True])


def naive_counts(y_true, y_pred, weights, thresholds):
    """One threshold at a time: the definition Keras's counts follow."""
    out = {k: [] for k in ("tp", "fp", "tn", "fn")}
    weights = weights.astype(np.float64)
    for t in np.asarray(thresholds, "float32"):
        pos, lab = y_pred > t, y_true != 0
        for key, cond in (("tp", pos & lab), ("fp", pos & ~lab), ("tn", ~pos & ~lab)):
            out[key].append((weights * cond).sum(axis=0))
        out["fn"].append((weights * (~pos & lab)).sum(axis=0))
    return {k: np.array(v) for k, v in out.items()}


@pytest.mark.parametrize("multi_label", [False, True])
def test_counts_match_a_loop_over_thresholds(multi_label):
    rng = np.random.default_rng(7)
    y_true = rng.integers(0, 2, (50, 3)).astype("float32")
    y_pred = rng.choice(np.linspace(-0.2, 1.2, 29), (50, 3)).astype("float32")  # on thresholds
    weights = rng.uniform(0, 2, (50, 1)).astype("float32")
    for thresholds, evenly in (
        ([0.9, 0.0, 0.35, 0.5, 0.35, 1.0], False),
        (np.linspace(0, 1, 8), True),
    ):
        counts = metrics_module.confusion_counts(
            "test",
            y_true,
            y_pred,
            thresholds,
            weights[:, 0],
            multi_label=multi_label,
            evenly=evenly,
        )
        # on evenly spaced thresholds Keras clips predictions to [0, 1] first
        seen = np.clip(y_pred, 0, 1) if evenly else y_pred
        expected = naive_counts(y_true, seen, np.broadcast_to(weights, (50, 3)), thresholds)
        for key in expected:
            want = expected[key] if multi_label else expected[key].sum(axis=1)
            np.testing.assert_allclose(counts[key], want, rtol=1e-12, err_msg=key)


# -- get, check_name, class ids ----------------------------------------------------------------
def test_get_resolves_strings_classes_instances_and_functions():
    names = {
        "acc": "BinaryAccuracy",
        "binary_accuracy": "BinaryAccuracy",
        "categorical_accuracy": "CategoricalAccuracy",
        "sparse_categorical_accuracy": "SparseCategoricalAccuracy",
        "top_k_categorical_accuracy": "TopKCategoricalAccuracy",
        "sparse_top_k_categorical_accuracy": "SparseTopKCategoricalAccuracy",
        "mae": "MeanAbsoluteError",
        "mse": "MeanSquaredError",
        "mape": "MeanAbsolutePercentageError",
        "msle": "MeanSquaredLogarithmicError",
        "mean_absolute_error": "MeanAbsoluteError",
        "root_mean_squared_error": "RootMeanSquaredError",
        "precision": "Precision",
        "recall": "Recall",
        "auc": "AUC",
        "f1_score": "F1Score",
        "true_positives": "TruePositives",
        "binary_crossentropy": "BinaryCrossentropy",
        "bce": "BinaryCrossentropy",
        "categorical_crossentropy": "CategoricalCrossentropy",
        "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
        "kl_divergence": "KLDivergence",
        "poisson": "Poisson",
        "cosine_similarity": "CosineSimilarity",
        "logcosh": "LogCoshError",
        "hinge": "Hinge",
        "squared_hinge": "SquaredHinge",
        "categorical_hinge": "CategoricalHinge",
        "BinaryAccuracy": "BinaryAccuracy",
    }
    for name, cls in names.items():
        metric = ge.metrics.get(name, (4, 1), (4, 1))
        assert type(metric).__name__ == cls and metric.name == name, name
    assert type(ge.metrics.get("accuracy", (4,), (4, 3))).__name__ == "SparseCategoricalAccuracy"
    assert type(ge.metrics.get("accuracy", (4, 3), (4, 3))).__name__ == "CategoricalAccuracy"
    assert type(ge.metrics.get("accuracy")).__name__ == "Accuracy"
    auc = ge.metrics.AUC()
    assert ge.metrics.get(auc) is auc
    assert type(ge.metrics.get(ge.metrics.Recall)).__name__ == "Recall"
    wrapped = ge.metrics.get(ge.metrics.binary_accuracy)
    assert isinstance(wrapped, ge.metrics.MeanMetricWrapper) and wrapped.name == "binary_accuracy"
    assert wrapped.fn is ge.metrics.binary_accuracy

    def myMetric(y_true, y_pred):  # noqa: N802 - Keras snake-cases function names
        return np.abs(y_true - y_pred)

    assert ge.metrics.get(myMetric).name == "my_metric"
    with pytest.raises(TypeError, match="Could not interpret metric 3"):
        ge.metrics.get(3)


def test_check_name_lists_the_valid_names():
    for ok in ("accuracy", "ACC", "auc", "Precision", ge.metrics.AUC(), ge.metrics.AUC, np.abs):
        metrics_module.check_name(ok)
    with pytest.raises(ValueError, match=r"Unknown metric 'accuracyy'; valid names: .*\bauc\b"):
        metrics_module.check_name("accuracyy")
    with pytest.raises(TypeError, match="Could not interpret metric"):
        metrics_module.check_name(42)


def test_class_id_metric_names_the_sparse_metrics():
    shapes = ((8,), (8, 3))
    assert metrics_module.class_id_metric("accuracy", *shapes) == (
        "accuracy (sparse_categorical_accuracy)"
    )
    for name in ("sparse_categorical_accuracy", "sparse_categorical_crossentropy"):
        assert metrics_module.class_id_metric(name, *shapes) == name
    assert metrics_module.class_id_metric("sparse_top_k_categorical_accuracy", *shapes) == (
        "sparse_top_k_categorical_accuracy"
    )
    top = ge.metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")
    assert (
        metrics_module.class_id_metric(top, *shapes) == "top2 (sparse_top_k_categorical_accuracy)"
    )
    for other in (
        "mae",
        "auc",
        ge.metrics.SparseTopKCategoricalAccuracy(from_sorted_ids=True),
        ge.metrics.SparseCategoricalCrossentropy(ignore_class=-1),
    ):
        assert metrics_module.class_id_metric(other, *shapes) is None


def test_compile_metrics_names_and_unweighted_updates():
    cm = CompileMetrics([["mae", "mae", "acc"], ["mse"]], [[], []], ["a", "b"])
    ys = [np.array([[1.0], [0.0]]), np.array([[2.0], [4.0]])]
    preds = [np.array([[0.5], [0.0]], "float32"), np.array([[1.0], [1.0]], "float32")]
    preds[0][0, 0] = 0.6
    cm.update_state(ys, preds, sample_weight=np.array([1.0, 0.0]))  # compiled metrics ignore it
    result = cm.result()
    assert list(result) == ["a_mae", "a_mae_1", "a_acc", "b_mse"]
    assert float(result["a_mae"]) == pytest.approx(0.2) and float(result["b_mse"]) == 5.0
    assert float(result["a_acc"]) == 1.0
    assert len(cm.variables) == 8
    cm.reset_state()
    assert float(cm.result()["b_mse"]) == 0.0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mean_of_one_number_and_weight_is_the_array_path(dtype):
    """Mean.update_state(float, weight) (the loss trackers' call every step) skips the array
    machinery and lands on the same bits as the same values given as arrays; NaN stays NaN."""
    rng = np.random.default_rng(0)
    fast, arrays = ge.metrics.Mean(dtype=dtype), ge.metrics.Mean(dtype=dtype)
    for _ in range(300):
        v = float(rng.standard_normal() * 10.0 ** int(rng.integers(-5, 5)))
        w = [None, int(rng.integers(0, 300)), float(rng.random())][int(rng.integers(3))]
        fast.update_state(v, sample_weight=w)
        arrays.update_state(np.array(v), sample_weight=None if w is None else np.array(w))
    assert float(fast.total) == float(arrays.total) and float(fast.count) == float(arrays.count)
    assert fast.result() == arrays.result() and fast.result().dtype == np.dtype(dtype)
    fast.update_state(float("nan"), sample_weight=2)
    assert np.isnan(fast.result())
