"""GroupNormalization, RMSNormalization and UnitNormalization: the group-norm kernels against a
NumPy reference, the layer harness (float64 gradient checks included), Keras 3 numbers
(tests/keras_reference/norm_act.*, generate_norm_act.py), the errors, and a save / load round
trip of a model using the second wave of normalizations and activations."""

import os

import numpy as np
import pytest

import graphengine as ge
import graphengine_kernels.cpu as k
from gradcheck import check_model_grads
from helpers import check_keras_case, keras_cases
from layer_harness import run_layer_test

L = ge.layers
REF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_reference")
TOL = {np.float32: dict(rtol=3e-5, atol=3e-6), np.float64: dict(rtol=1e-11, atol=1e-12)}


@pytest.fixture(scope="module")
def arrays():
    with np.load(os.path.join(REF, "norm_act.npz"), allow_pickle=False) as data:
        return dict(data)


def data(shape, dtype=np.float64, seed=0):
    return (1.5 * np.random.default_rng(seed).standard_normal(shape) + 0.7).astype(dtype)


def numpy_group_norm(x, groups, axis, epsilon, gamma, beta, centered=True):
    """x split into `groups` along `axis`, each sample's group normalized over everything else."""
    axis %= x.ndim
    shape = x.shape
    g = x.reshape(shape[:axis] + (groups, shape[axis] // groups) + shape[axis + 1 :])
    over = tuple(a for a in range(1, g.ndim) if a != axis)
    mean = g.mean(axis=over, keepdims=True) if centered else 0.0
    var = ((g - mean) ** 2).mean(axis=over, keepdims=True)
    y = ((g - mean) / np.sqrt(var + epsilon)).reshape(shape)
    bshape = [1] * x.ndim
    bshape[axis] = shape[axis]
    return y * gamma.reshape(bshape) + beta.reshape(bshape)


# -- kernels ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("centered", [True, False])
@pytest.mark.parametrize("shape, axis, groups", [((2, 3, 2, 6), 3, 3), ((2, 4, 3, 2), 1, 2)])
def test_groupnorm_kernels_against_numpy(shape, axis, groups, centered, dtype):
    x = data(shape, dtype)
    c = shape[axis]
    gamma, beta = data((c,), dtype, 1), data((c,), dtype, 2)
    view = (shape[0], int(np.prod(shape[1:axis])), c, int(np.prod(shape[axis + 1 :])))
    y, mean, inv = np.full_like(x, np.nan), np.full((shape[0], groups), np.nan, dtype), None
    inv = np.full_like(mean, np.nan)
    k.groupnorm_forward(x.reshape(view), gamma, beta, 1e-3, centered, y.reshape(view), mean, inv)
    want = numpy_group_norm(x, groups, axis, 1e-3, gamma, beta, centered)
    np.testing.assert_allclose(y, want, **TOL[dtype])
    assert centered or (mean == 0).all()
    dy = data(shape, dtype, 3)
    dx, dgamma, dbeta = np.full_like(x, np.nan), np.full_like(gamma, np.nan), None
    dbeta = np.full_like(gamma, np.nan)
    k.groupnorm_backward(x.reshape(view), dy.reshape(view), mean, inv, gamma, centered,
                         dx.reshape(view), dgamma, dbeta)  # fmt: skip
    xhat = numpy_group_norm(x, groups, axis, 1e-3, np.ones(c), np.zeros(c), centered)
    others = tuple(a for a in range(x.ndim) if a != axis)
    np.testing.assert_allclose(dbeta, dy.sum(others), **TOL[dtype])
    np.testing.assert_allclose(dgamma, (dy * xhat).sum(others), **TOL[dtype])
    assert np.isfinite(dx).all()  # its values: the float64 gradient checks below


# -- layers: harness, numbers, gradients ---------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, shape",
    [
        ({"groups": 2}, (2, 3, 4)),
        ({"groups": -1, "axis": 1, "epsilon": 0.01}, (2, 3, 2, 2)),
        ({"groups": 1, "center": False}, (3, 4)),
    ],
)
def test_group_normalization_harness(kwargs, shape):
    axis = kwargs.get("axis", -1)
    c = shape[axis]
    groups = c if kwargs["groups"] == -1 else kwargs["groups"]

    def reference(x, w):
        gamma = w[0]
        beta = w[1] if len(w) > 1 else np.zeros(c)
        return numpy_group_norm(x, groups, axis, kwargs.get("epsilon", 1e-3), gamma, beta)

    layer = run_layer_test(
        L.GroupNormalization, kwargs, shape, expected_output_shape=shape, reference=reference
    )
    assert [w.name for w in layer.weights] == ["gamma", "beta"][: len(layer.weights)]
    assert layer.get_config()["groups"] == kwargs["groups"]


def numpy_rms(x, axes, epsilon, scale):
    return x / np.sqrt(np.mean(x * x, axis=axes, keepdims=True) + epsilon) * scale


@pytest.mark.parametrize(
    "kwargs, shape, scale_shape",
    [({}, (3, 5), (1, 5)), ({"axis": 1, "epsilon": 0.1}, (2, 3, 4), (1, 3, 1)),
     ({"axis": [1, 3]}, (2, 3, 2, 2), (1, 3, 1, 2))],
)  # fmt: skip
def test_rms_normalization_harness(kwargs, shape, scale_shape):
    """Non-trailing axes too (Keras's torch backend cannot: F.rms_norm takes trailing axes)."""
    axes = tuple(a % len(shape) for a in np.atleast_1d(kwargs.get("axis", -1)))

    def reference(x, w):
        return numpy_rms(x, axes, kwargs.get("epsilon", 1e-6), w[0].reshape(scale_shape))

    layer = run_layer_test(
        L.RMSNormalization, kwargs, shape, expected_num_weights=1, reference=reference
    )
    assert layer.weights[0].name == "scale"


@pytest.mark.parametrize("kwargs, shape", [({}, (3, 5)), ({"axis": [1, 2]}, (2, 3, 4))])
def test_unit_normalization_harness(kwargs, shape):
    axes = tuple(np.atleast_1d(kwargs.get("axis", -1)))

    def reference(x, w):
        return x / np.sqrt(np.sum(x * x, axis=axes, keepdims=True))

    run_layer_test(L.UnitNormalization, kwargs, shape, expected_num_weights=0, reference=reference)


def test_unit_normalization_of_a_zero_vector_has_a_finite_gradient():
    """Keras's torch backend gives NaN here (rsqrt'(0) * 0); x / max(norm, 1e-12) is 0 with
    the gradient dy / 1e-12 (the norm is held at epsilon)."""
    inp = ge.Input(shape=(3,), dtype="float64")
    model = ge.Model(inp, L.UnitNormalization(dtype="float64")(inp))
    x = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 4.0]])
    np.testing.assert_array_equal(model(x), [[0, 0, 0], [0.6, 0, 0.8]])
    (dx,), _ = model.vjp(x, np.ones_like(x))
    np.testing.assert_allclose(dx[0], 1e12)
    check_model_grads(model, data((2, 3)))


KERAS = keras_cases(["GroupNormalization", "RMSNormalization", "UnitNormalization"], "norm_act")


@pytest.mark.parametrize("case", KERAS, ids=lambda c: c["id"])
def test_keras_numbers(case, arrays):
    check_keras_case(case, arrays)


def test_group_normalization_trains_in_float64():
    inp = ge.Input(shape=(4, 6), dtype="float64")
    x = L.GroupNormalization(groups=3, dtype="float64")(inp)
    out = L.Dense(2, dtype="float64")(L.Flatten(dtype="float64")(x))
    check_model_grads(ge.Model(inp, out), data((2, 4, 6)), training=True)


# -- errors -------------------------------------------------------------------------------------


def test_group_normalization_errors():
    with pytest.raises(ValueError, match=r"groups=4 must divide the 6 channels of axis -1"):
        L.GroupNormalization(groups=4)(ge.Input(shape=(3, 6)))
    with pytest.raises(ValueError, match=r"groups=8 must divide the 4 channels"):
        L.GroupNormalization(groups=8)(ge.Input(shape=(4,)))
    with pytest.raises(ValueError, match=r"groups must be a positive int, or -1 .* groups=0"):
        L.GroupNormalization(groups=0)
    with pytest.raises(TypeError, match=r"GroupNormalization '.*': groups must be an int"):
        L.GroupNormalization(groups=2.0)
    with pytest.raises(ValueError, match=r"axis=0 is the batch axis of input shape \(None, 4\)"):
        L.GroupNormalization(groups=2, axis=0)(ge.Input(shape=(4,)))
    with pytest.raises(ValueError, match=r"'group_norm.*' \(GroupNormalization\): axis=3 does not"):
        L.GroupNormalization(groups=2, axis=3, name="group_norm_x")(ge.Input(shape=(4,)))
    with pytest.raises(ValueError, match=r"normalized axes \[2\] of the input must have known"):
        L.GroupNormalization(groups=2)(ge.Input(shape=(3, None)))
    with pytest.raises(NotImplementedError, match=r"gamma_constraint='non_neg' is not supported"):
        L.GroupNormalization(gamma_constraint="non_neg")
    with pytest.raises(ValueError, match=r"epsilon must be in \[0.0, inf\], got epsilon=-1"):
        L.GroupNormalization(epsilon=-1)
    layer = L.GroupNormalization(groups=2)
    layer(ge.Input(shape=(4,)))
    with pytest.raises(ValueError, match=r"expected .*4.*received shape \(None, 6\)"):
        layer(ge.Input(shape=(6,)))


def test_rms_and_unit_normalization_errors():
    with pytest.raises(TypeError, match=r"RMSNormalization '.*': axis must be an int or a non"):
        L.RMSNormalization(axis="last")
    with pytest.raises(ValueError, match=r"\(RMSNormalization\): axis=\[1, 5\] does not fit"):
        L.RMSNormalization(axis=[1, 5])(ge.Input(shape=(3, 4)))
    with pytest.raises(ValueError, match=r"RMSNormalization '.*': epsilon must be in"):
        L.RMSNormalization(epsilon=-0.5)
    with pytest.raises(TypeError, match=r"UnitNormalization '.*': axis must be an int or a"):
        L.UnitNormalization(axis=1.5)
    with pytest.raises(ValueError, match=r"\(UnitNormalization\): axis=-3 does not fit"):
        L.UnitNormalization(axis=-3)(ge.Input(shape=(4,)))


# -- saving ---------------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path):
    ge.utils.set_random_seed(4)
    inp = ge.Input(shape=(4, 6))
    x = L.GroupNormalization(groups=3)(inp)
    x = L.Dense(6, activation="relu6")(x)
    x = L.RMSNormalization()(x)
    x = L.Activation("mish")(x)
    x = L.RReLU(seed=2)(x)
    x = L.UnitNormalization(axis=[1, 2])(x)
    out = L.Dense(2, activation="sparsemax")(L.Flatten()(x))
    model = ge.Model(inp, out)
    model.compile(optimizer="adam", loss="mse")
    xs = data((5, 4, 6), np.float32)
    model.fit(xs, np.ones((5, 2), "float32"), epochs=1, verbose=0)  # weights move off init
    path = str(tmp_path / "norm_act.gez")
    model.save(path)
    loaded = ge.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(xs, verbose=0), model.predict(xs, verbose=0))
    assert [type(lay).__name__ for lay in loaded.layers] == [
        type(lay).__name__ for lay in model.layers
    ]
