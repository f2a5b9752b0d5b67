"""ge.utils.check_gradients: the user-facing gradient check (float64 copy, compiled loss or a
random cotangent, per-layer report, GradientCheckError on a mismatch)."""

import numpy as np
import pytest

import graphengine as ge

L = ge.layers


def _data(n=6, f=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, f)).astype(np.float32), rng.integers(0, 3, n)


def _classifier(regularized=False):
    x = ge.Input(shape=(4,), name="features")
    reg = ge.regularizers.l2(0.01) if regularized else None
    h = L.Dense(5, activation="tanh", kernel_regularizer=reg, name="hidden")(x)
    h = L.BatchNormalization(name="norm")(h)
    out = L.Dense(3, name="logits")(h)
    model = ge.Model(x, out, name="classifier")
    model.compile(optimizer="adam", loss=ge.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_float32_model_is_checked_through_its_compiled_loss_and_left_alone():
    x, y = _data()
    model = _classifier(regularized=True)
    before = [w.copy() for w in model.get_weights()]
    report = ge.utils.check_gradients(model, x, y, max_entries=8)
    assert report.ok and report.function == "compiled loss"
    rows = {(r.layer, r.name): r for r in report.rows}
    assert set(rows) == {
        ("(input)", "features"),
        ("hidden", "kernel"),
        ("hidden", "bias"),
        ("norm", "gamma"),
        ("norm", "beta"),
        ("logits", "kernel"),
        ("logits", "bias"),
    }
    assert rows[("hidden", "kernel")].entries == 8 and rows[("logits", "bias")].entries == 3
    assert all(r.max_abs_error < 1e-7 for r in report.rows)
    assert "hidden" in str(report) and "compiled loss" in str(report)
    for w, b in zip(model.get_weights(), before):  # the user's model is untouched
        assert w.dtype == np.float32
        np.testing.assert_array_equal(w, b)


def test_sample_weights_and_training_mode_with_dropout():
    x, y = _data(8)
    inp = ge.Input(shape=(4,))
    h = L.Dropout(0.5, seed=3)(L.Dense(6, activation="relu")(inp))
    out = L.BatchNormalization()(L.Dense(3)(h))
    model = ge.Model(inp, out)
    model.compile(loss=ge.losses.SparseCategoricalCrossentropy(from_logits=True))
    sw = np.linspace(0.0, 2.0, 8)
    report = ge.utils.check_gradients(model, x, y, sample_weight=sw, training=True)
    assert report.ok
    assert max(r.max_abs_error for r in report.rows) > 0  # something was compared


def test_without_targets_a_random_cotangent_is_used():
    x, _ = _data()
    inp = ge.Input(shape=(4,))
    model = ge.Model(inp, L.Dense(2, activation="softplus")(inp))
    report = ge.utils.check_gradients(model, x, max_entries=None, seed=1)
    assert report.ok and report.function.startswith("sum(outputs")
    assert [r.entries for r in report.rows] == [24, 8, 2]


def test_a_wrong_gradient_raises_with_the_report():
    # stop_gradient hides a real dependence from the backward graph: the numbers disagree
    x, _ = _data()
    inp = ge.Input(shape=(4,))
    dense = L.Dense(3, name="hidden")
    h = dense(inp)
    out = ge.layers.Lambda(lambda t: t + ge.ops.stop_gradient(ge.ops.square(t)))(h)
    model = ge.Model(inp, out)
    with pytest.raises(ge.utils.GradientCheckError, match=r"disagree[\s\S]*hidden") as info:
        ge.utils.check_gradients(model, x)
    assert not info.value.report.ok
    assert any(not r.ok and r.layer == "hidden" for r in info.value.report.rows)


def test_bad_arguments_raise_clearly():
    x, y = _data()
    inp = ge.Input(shape=(4,))
    model = ge.Model(inp, L.Dense(3)(inp))
    with pytest.raises(ValueError, match="is not compiled"):
        ge.utils.check_gradients(model, x, y)
    with pytest.raises(ValueError, match="eps must be > 0"):
        ge.utils.check_gradients(model, x, eps=0.0)
    with pytest.raises(ValueError, match="max_entries must be a positive int"):
        ge.utils.check_gradients(model, x, max_entries=0)
    with pytest.raises(ValueError, match="sample_weight needs targets"):
        ge.utils.check_gradients(model, x, sample_weight=np.ones(6))
    with pytest.raises(ValueError, match="expects shape"):
        ge.utils.check_gradients(model, x[:, :3])
