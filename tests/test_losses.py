"""Losses against Keras 3 values and gradients (tests/keras_reference/losses.*), plus their
float64 gradient checks, custom losses and error paths."""

import json
import os

import numpy as np
import pytest
from gradcheck import check_grads

import graphengine as ge

REF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_reference")
with open(os.path.join(REF, "losses.json")) as f:
    CASES = json.load(f)


@pytest.fixture(scope="module")
def arrays():
    with np.load(os.path.join(REF, "losses.npz"), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def loss_model(loss, y_true, y_pred):
    yt = ge.Input(batch_shape=y_true.shape, dtype=y_true.dtype, name="y_true")
    yp = ge.Input(batch_shape=y_pred.shape, dtype=y_pred.dtype, name="y_pred")
    return ge.Model([yt, yp], loss(yt, yp))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_loss_matches_keras(case, arrays):
    y_true, y_pred = arrays[f"{case['id']}/y_true"], arrays[f"{case['id']}/y_pred"]
    loss = getattr(ge.losses, case["loss"])(**case["kwargs"])
    model = loss_model(loss, y_true, y_pred)
    value = model([y_true, y_pred])
    np.testing.assert_allclose(value, arrays[f"{case['id']}/loss"], rtol=1e-5, atol=1e-6)
    (_, grad), _ = model.vjp([y_true, y_pred], np.ones((), "float32"))
    np.testing.assert_allclose(grad, arrays[f"{case['id']}/grad"], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "name", ["mse", "mae", "huber", "binary_crossentropy", "categorical_crossentropy"]
)
def test_loss_gradients_float64(name):
    rng = np.random.default_rng(3)
    y_true = rng.uniform(0.1, 0.9, (3, 4))
    y_pred = rng.uniform(0.2, 0.8, (3, 4))
    loss = ge.losses.get(name)
    check_grads(lambda t, p: loss(t, p), y_true, y_pred)


@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_crossentropy_gradient_float64(from_logits):
    rng = np.random.default_rng(4)
    ids = np.array([0, 3, 1])
    pred = rng.uniform(0.1, 1.0, (3, 4)) if not from_logits else rng.standard_normal((3, 4))
    loss = ge.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    check_grads(lambda t, p: loss(t, p), ids, pred)


def test_crossentropy_from_logits_is_stable_for_huge_logits():
    logits = np.array([[1e4, -1e4, 0.0]], "float32")
    loss = ge.losses.CategoricalCrossentropy(from_logits=True)
    value = loss_model(loss, np.array([[0, 1, 0]], "float32"), logits)(
        [np.array([[0, 1, 0]], "float32"), logits]
    )
    assert np.isfinite(value) and value == pytest.approx(2e4, rel=1e-6)


def test_custom_loss_from_ops_is_mean_reduced():
    def scaled_abs(y_true, y_pred):
        return ge.ops.mean(ge.ops.abs(y_pred - y_true) * 3.0, axis=-1)

    loss = ge.losses.get(scaled_abs)
    t = np.zeros((2, 2), "float32")
    p = np.array([[1, 2], [3, 4]], "float32")
    assert loss_model(loss, t, p)([t, p]) == pytest.approx(3.0 * 2.5)


def test_reduction_none_keeps_per_sample_values():
    loss = ge.losses.MeanSquaredError(reduction="none")
    t, p = np.zeros((3, 2), "float32"), np.array([[1, 1], [2, 2], [0, 2]], "float32")
    np.testing.assert_allclose(loss_model(loss, t, p)([t, p]), [1.0, 4.0, 2.0])


def test_unknown_loss_name_lists_valid_ones():
    with pytest.raises(ValueError, match="Unknown loss 'msee'.*mean_squared_error"):
        ge.losses.get("msee")


def test_unknown_reduction():
    with pytest.raises(ValueError, match="Unknown reduction 'avg'"):
        ge.losses.MeanSquaredError(reduction="avg")


def test_sparse_targets_of_wrong_rank_are_rejected():
    loss = ge.losses.SparseCategoricalCrossentropy()
    with pytest.raises(ValueError, match="one class id per sample"):
        loss(ge.Input((3, 2), dtype="int32"), ge.Input((4,)))


def test_categorical_targets_must_match_predictions():
    loss = ge.losses.CategoricalCrossentropy()
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        loss(ge.Input((3,)), ge.Input((4,)))
