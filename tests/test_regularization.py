"""Dropout, SpatialDropout1D/2D, AlphaDropout, GaussianDropout, GaussianNoise.

At inference: an exact identity, and no work (the plan hands out a view). In training: the
statistics of the masks, checked with fixed seeds against bounds of five standard deviations of
the estimate (so a test fails only when the distribution is wrong, never by chance, and the
seeds make every run identical); whole channels for SpatialDropout; SELU's mean and variance for
AlphaDropout; the same seed, the same masks; gradients with the mask held fixed.
"""

import numpy as np
import pytest

import graphengine as ge
import reference as ref
from gradcheck import check_model_grads
from graphengine.ops.base import RunContext
from graphengine.runtime.devices import get_device
from graphengine.runtime.plan import Plan
from layer_harness import run_layer_test

L = ge.layers
LAYERS = [
    (L.Dropout, {"rate": 0.3}, (3, 4)),
    (L.Dropout, {"rate": 0.3, "noise_shape": (None, 1, 4)}, (2, 3, 4)),
    (L.SpatialDropout1D, {"rate": 0.3}, (2, 3, 4)),
    (L.SpatialDropout2D, {"rate": 0.3}, (2, 2, 2, 3)),
    (L.SpatialDropout2D, {"rate": 0.3, "data_format": "channels_first"}, (2, 3, 2, 2)),
    (L.AlphaDropout, {"rate": 0.2}, (3, 4)),
    (L.GaussianDropout, {"rate": 0.4}, (3, 4)),
    (L.GaussianNoise, {"stddev": 0.5}, (3, 4)),
]
IDS = [
    "dropout",
    "dropout_noise_shape",
    "spatial1d",
    "spatial2d",
    "spatial2d_cf",
    "alpha",
    "gaussian_dropout",
    "gaussian_noise",
]


def within(estimate, expected, sd, what):
    """|estimate - expected| <= 5 standard deviations of the estimate."""
    assert abs(estimate - expected) <= 5 * sd, (
        f"{what}: {estimate:.5f}, expected {expected:.5f} +- {5 * sd:.5f} (5 sd)"
    )


def train_call(layer, x):
    """The layer in a model, run once in training mode (an eager training call would too)."""
    inp = ge.Input(x.shape[1:], dtype=x.dtype.name)
    return ge.Model(inp, layer(inp))(x, training=True)


def positive(shape, seed=0, dtype=np.float32):
    """Inputs in [1, 2): a dropped unit (0) is never mistaken for a kept one."""
    return np.random.default_rng(seed).uniform(1.0, 2.0, shape).astype(dtype)


# -- inference: exact identity, and free ----------------------------------------------------------


@pytest.mark.parametrize("cls, kwargs, shape", LAYERS, ids=IDS)
def test_layer_harness_identity_at_inference(cls, kwargs, shape):
    run_layer_test(
        cls,
        kwargs,
        shape,
        expected_output_shape=shape,
        expected_num_weights=0,
        reference=lambda x, w: x,
    )


@pytest.mark.parametrize("cls, kwargs, shape", LAYERS, ids=IDS)
def test_inference_is_an_exact_identity_with_no_step(cls, kwargs, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    inp = ge.Input(shape[1:])
    model = ge.Model(inp, cls(seed=1, **kwargs)(inp))
    np.testing.assert_array_equal(model(x), x)
    dx, _ = model.vjp(x, 2 * x)
    np.testing.assert_array_equal(dx[0], 2 * x)
    plan = Plan(model.inputs, model.outputs, [shape], get_device("cpu"), RunContext(False))
    assert plan.steps == []  # the output is a view of the input
    assert np.shares_memory(plan.run([x])[0], plan.feed_buffers[0])
    plan = Plan(model.inputs, model.outputs, [shape], get_device("cpu"), RunContext(True))
    assert len(plan.steps) == 1
    assert not np.array_equal(plan.run([x])[0], x)


def test_rate_zero_is_an_identity_in_training_too():
    x = positive((4, 5))
    np.testing.assert_array_equal(train_call(L.Dropout(0.0), x), x)
    np.testing.assert_array_equal(train_call(L.GaussianNoise(0.0), x), x)


# -- training: the statistics of the masks ------------------------------------------------------


def test_dropout_keeps_1_minus_rate_and_scales_by_its_inverse():
    rate, x = 0.3, positive((100, 50))
    y = train_call(L.Dropout(rate, seed=7), x)
    kept = y != 0
    n = x.size
    within(kept.mean(), 1 - rate, np.sqrt(rate * (1 - rate) / n), "kept fraction")
    np.testing.assert_allclose(y[kept], x[kept] / (1 - rate), rtol=1e-6)
    # E[y] = x: the inverted-dropout multiplier has mean 1 and variance rate / (1 - rate)
    within((y / x).mean(), 1.0, np.sqrt(rate / (1 - rate) / n), "mean multiplier")


def test_dropout_noise_shape_shares_the_draw_along_size_1_axes():
    rate, x = 0.4, positive((30, 5, 20))
    y = train_call(L.Dropout(rate, noise_shape=(None, 1, None), seed=3), x)
    kept = y != 0
    assert (kept == kept[:, :1, :]).all(), "one draw per (sample, channel)"
    within(kept[:, 0, :].mean(), 1 - rate, np.sqrt(rate * (1 - rate) / 600), "kept fraction")
    np.testing.assert_allclose(y[kept], x[kept] / (1 - rate), rtol=1e-6)


@pytest.mark.parametrize(
    "cls, kwargs, shape, spatial",
    [
        (L.SpatialDropout1D, {}, (40, 6, 30), (1,)),
        (L.SpatialDropout2D, {}, (20, 3, 3, 60), (1, 2)),
        (L.SpatialDropout2D, {"data_format": "channels_first"}, (20, 60, 3, 3), (2, 3)),
    ],
    ids=["1d", "2d", "2d_channels_first"],
)
def test_spatial_dropout_drops_whole_channels(cls, kwargs, shape, spatial):
    rate, x = 0.25, positive(shape)
    y = train_call(cls(rate, seed=11, **kwargs), x)
    kept = y != 0
    per_channel = kept.all(axis=spatial)
    assert (per_channel == kept.any(axis=spatial)).all(), "a channel is kept or dropped whole"
    n = per_channel.size
    within(per_channel.mean(), 1 - rate, np.sqrt(rate * (1 - rate) / n), "kept channels")
    np.testing.assert_allclose(y[kept], x[kept] / (1 - rate), rtol=1e-6)


def test_alpha_dropout_keeps_selu_mean_and_variance():
    rate, n = 0.2, 40000
    x = np.random.default_rng(5).standard_normal((200, 200))  # SELU's fixed point: N(0, 1)
    y = train_call(L.AlphaDropout(rate, seed=2, dtype="float64"), x)
    alpha_p, a, b = ref.alpha_dropout_affine(rate)
    dropped = np.isclose(y, a * alpha_p + b, rtol=0, atol=1e-12)
    within(dropped.mean(), rate, np.sqrt(rate * (1 - rate) / n), "dropped fraction")
    np.testing.assert_allclose(y[~dropped], a * x[~dropped] + b, rtol=1e-12, atol=1e-14)
    within(y.mean(), 0.0, 1 / np.sqrt(n), "mean")
    # the sample variance of a unit-variance mixture with kurtosis below 4: sd < sqrt(3 / n)
    within(y.var(), 1.0, np.sqrt(3 / n), "variance")
    assert abs(x.var() / (1 - rate) - 1.0) > 5 * np.sqrt(3 / n)  # plain dropout would fail


def test_alpha_dropout_with_noise_shape():
    rate, x = 0.3, positive((50, 8), dtype=np.float64)
    y = train_call(L.AlphaDropout(rate, noise_shape=(None, 1), seed=4, dtype="float64"), x)
    alpha_p, a, b = ref.alpha_dropout_affine(rate)
    dropped = np.isclose(y, a * alpha_p + b, rtol=0, atol=1e-12)
    assert (dropped == dropped[:, :1]).all()
    np.testing.assert_allclose(y[~dropped], a * x[~dropped] + b, rtol=1e-12, atol=1e-14)
    within(dropped[:, 0].mean(), rate, np.sqrt(rate * (1 - rate) / 50), "dropped rows")


def test_gaussian_dropout_multiplier_is_normal_1_rate_over_1_minus_rate():
    rate, x = 0.2, positive((100, 100), dtype=np.float64)
    m = train_call(L.GaussianDropout(rate, seed=8, dtype="float64"), x) / x
    var, n = rate / (1 - rate), x.size
    within(m.mean(), 1.0, np.sqrt(var / n), "mean multiplier")
    within(m.var(), var, var * np.sqrt(2 / n), "multiplier variance")  # normal: sd 2 var^2 / n


def test_gaussian_noise_adds_normal_0_stddev():
    stddev, x = 0.3, positive((100, 100), dtype=np.float64)
    e = train_call(L.GaussianNoise(stddev, seed=9, dtype="float64"), x) - x
    n = x.size
    within(e.mean(), 0.0, stddev / np.sqrt(n), "noise mean")
    within(e.var(), stddev**2, stddev**2 * np.sqrt(2 / n), "noise variance")


# -- seeds ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls, kwargs, shape", LAYERS, ids=IDS)
def test_same_seed_same_masks(cls, kwargs, shape):
    x = positive(shape)
    first, second, other = cls(seed=42, **kwargs), cls(seed=42, **kwargs), cls(seed=43, **kwargs)
    a1, a2 = train_call(first, x), train_call(first, x)
    np.testing.assert_array_equal(train_call(second, x), a1)
    np.testing.assert_array_equal(second(x, training=True), a2)  # eager calls draw alike
    assert not np.array_equal(a1, a2), "the generator advances from call to call"
    assert not np.array_equal(train_call(other, x), a1)


def test_unseeded_layers_follow_set_random_seed():
    x, y = positive((32, 6)), np.random.default_rng(1).integers(0, 3, 32)
    runs = []
    for _ in range(2):
        ge.utils.set_random_seed(3)
        model = ge.Sequential([ge.Input((6,)), L.Dense(8), L.Dropout(0.5), L.Dense(3)])
        model.compile("sgd", "sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        runs.append(model.get_weights() + [L.Dropout(0.5)(x, training=True)])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


# -- training= and gradients ----------------------------------------------------------------------


def test_explicit_training_argument_overrides_the_plan():
    inp = ge.Input((50,))
    on = L.Dropout(0.5, seed=0)(inp, training=True)
    off = L.Dropout(0.5, seed=0)(inp, training=False)
    model = ge.Model(inp, [on, off])
    x = positive((4, 50))
    y_on, y_off = model(x)  # an inference plan
    assert (y_on == 0).any()
    y_on, y_off = model(x, training=True)
    np.testing.assert_array_equal(y_off, x)


class FixedMask:
    """`model` in training mode with `layer`'s generator rewound before every call, so each call
    (forward, vjp, every finite difference) draws the same mask."""

    def __init__(self, model, layer):
        self.model, self.layer = model, layer
        self.state = layer._rng.bit_generator.state
        self.trainable_weights = model.trainable_weights

    def __call__(self, x, training=True):
        self.layer._rng.bit_generator.state = self.state
        return self.model(x, training=training)

    def vjp(self, *args, **kwargs):
        self.layer._rng.bit_generator.state = self.state
        return self.model.vjp(*args, **kwargs)


@pytest.mark.parametrize("cls, kwargs, shape", LAYERS, ids=IDS)
def test_gradients_with_a_fixed_mask(cls, kwargs, shape):
    inp = ge.Input(shape[1:], dtype="float64")
    layer = cls(seed=5, dtype="float64", **kwargs)
    h = L.Dense(3, dtype="float64")(layer(inp))
    model = ge.Model(inp, h)
    x = np.random.default_rng(0).standard_normal(shape)
    fixed = FixedMask(model, layer)
    check_model_grads(fixed, x, training=True)
    # and dx of the layer alone is dy times the multiplier the forward pass used
    alone = ge.Model(inp, layer(inp))
    fixed = FixedMask(alone, layer)
    y, dy = fixed(x), np.random.default_rng(1).standard_normal(shape)
    (dx,), _ = fixed.vjp(x, dy, training=True)
    if cls is L.GaussianNoise:
        np.testing.assert_array_equal(dx, dy)
    elif cls is L.AlphaDropout:
        alpha_p, a, b = ref.alpha_dropout_affine(kwargs["rate"])
        np.testing.assert_allclose(dx, dy * np.where(np.isclose(y, a * alpha_p + b), 0, a))
    else:
        np.testing.assert_allclose(dx, dy * y / x, rtol=1e-10)
        assert not np.allclose(dx, dy)


# -- errors -------------------------------------------------------------------------------------


def test_errors():
    for rate in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=rf"rate must be in \[0, 1\), got rate={rate}"):
            L.Dropout(rate)
    with pytest.raises(ValueError, match=r"SpatialDropout1D .*rate must be in \[0, 1\)"):
        L.SpatialDropout1D(1.0)
    with pytest.raises(ValueError, match=r"AlphaDropout .*rate must be in \[0, 1\)"):
        L.AlphaDropout(1.0)
    with pytest.raises(ValueError, match=r"GaussianDropout .*rate must be in \[0, 1\)"):
        L.GaussianDropout(-0.5)
    with pytest.raises(ValueError, match=r"stddev must be in \[0, 1\], got stddev=1.5"):
        L.GaussianNoise(1.5)
    with pytest.raises(TypeError, match=r"rate must be a float, got '0.5'"):
        L.Dropout("0.5")
    with pytest.raises(TypeError, match=r"seed must be an int or None, got 1.5"):
        L.Dropout(0.5, seed=1.5)
    with pytest.raises(
        ValueError,
        match=r"noise_shape entries must be positive ints or None, "
        r"got 0 at index 1",
    ):
        L.Dropout(0.5, noise_shape=(None, 0))
    with pytest.raises(ValueError, match=r"noise_shape must be a tuple of ints or None"):
        L.Dropout(0.5, noise_shape="batch")
    with pytest.raises(
        ValueError,
        match=r"noise_shape=\(None, 1\) has 2 entries but the input "
        r"has rank 3",
    ):
        L.Dropout(0.5, noise_shape=(None, 1))(ge.Input((2, 3)))
    with pytest.raises(
        ValueError,
        match=r"Layer 'drop'.*noise_shape=\(None, 2\) does not "
        r"broadcast to the input shape \(None, 3\)",
    ):
        L.Dropout(0.5, noise_shape=(None, 2), name="drop")(ge.Input((3,)))
    with pytest.raises(ValueError, match=r"expected ndim=3, received shape \(None, 4\)"):
        L.SpatialDropout1D(0.5)(ge.Input((4,)))
    with pytest.raises(ValueError, match=r"expected ndim=4"):
        L.SpatialDropout2D(0.5)(ge.Input((4, 2)))
    with pytest.raises(ValueError, match=r"data_format must be 'channels_last' or "):
        L.SpatialDropout2D(0.5, data_format="NCHW")
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'noise_shape'"):
        L.SpatialDropout1D(0.5, noise_shape=(None, 1, None))


def test_default_names_are_spelled_as_keras():
    assert L.SpatialDropout1D(0.1).name.startswith("spatial_dropout1d")
    assert L.SpatialDropout2D(0.1).name.startswith("spatial_dropout2d")
    assert L.AlphaDropout(0.1).name.startswith("alpha_dropout")
