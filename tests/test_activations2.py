"""The second wave of activations: every Keras 3 activation string and function against Keras's
numbers (tests/keras_reference/norm_act.*, generate_norm_act.py), float64 gradient checks, their
values at NaN and +-inf, sparsemax against a NumPy projection, step and sign with their
straight-through gradients (the perceptron rule), relu6 and step fused in Dense, RReLU against
a NumPy reference with PyTorch's semantics, and the errors."""

import json
import os

import numpy as np
import pytest

import graphengine as ge
import graphengine_kernels.cpu as cpu
from graphengine.ops.activations import ACTIVATIONS
from graphengine.ops.matmul import Dense as DenseOp
from gradcheck import check_model_grads
from helpers import check_keras_case, keras_cases
from layer_harness import run_layer_test

REF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_reference")
NAN, INF = float("nan"), float("inf")


@pytest.fixture(scope="module")
def arrays():
    with np.load(os.path.join(REF, "norm_act.npz"), allow_pickle=False) as data:
        return dict(data)


with open(os.path.join(REF, "norm_act.json")) as f:
    FUNCTIONS = [c for c in json.load(f) if c["layer"] == "function"]
LAYER_CASES = keras_cases(["Activation", "Dense"], "norm_act")


def test_every_keras_activation_string_is_known():
    """The reference covers every string Keras 3.15 knows but threshold (needs arguments) and
    sparsemax (Keras's is not a projection; see sparsemax's docstring)."""
    names = {c["kwargs"]["activation"] for c in LAYER_CASES if c["layer"] == "Activation"}
    assert len(names) >= 29
    assert names <= set(ACTIVATIONS)
    assert {"sparsemax", "step", "sign"} <= set(ACTIVATIONS)


@pytest.mark.parametrize("case", LAYER_CASES, ids=lambda c: c["id"])
def test_keras_activation_layers(case, arrays):
    check_keras_case(case, arrays)


@pytest.mark.parametrize("case", FUNCTIONS, ids=lambda c: c["id"])
def test_keras_activation_functions(case, arrays):
    ref = lambda name: arrays[f"{case['id']}/{name}"]  # noqa: E731
    fn = getattr(ge.activations, case["fn"])
    inp = ge.Input(shape=tuple(case["input_shape"][1:]))
    model = ge.Model(inp, fn(inp, **case["kwargs"]))
    np.testing.assert_allclose(model(ref("x")), ref("y"), rtol=1e-4, atol=1e-5)
    (dx,), _ = model.vjp(ref("x"), ref("dy"))
    np.testing.assert_allclose(dx, ref("dx"), rtol=1e-4, atol=1e-5)


# name -> kwargs for the float64 gradient check (inputs kept off the kinks)
GRADCHECK = {
    "relu6": {}, "hard_silu": {}, "mish": {}, "celu": {"alpha": 0.7},
    "soft_shrink": {"threshold": 0.4}, "hard_shrink": {"threshold": 0.4},
    "squareplus": {"b": 2.0}, "threshold": {"threshold": 0.2, "default_value": 3.0},
    "hard_tanh": {}, "log_sigmoid": {}, "sparse_plus": {}, "sparse_sigmoid": {},
    "tanh_shrink": {}, "glu": {"axis": -1}, "sparsemax": {}, "log_softmax": {},
}  # fmt: skip
KINKS = np.array([-3.0, -1.0, -0.4, 0.0, 0.2, 0.4, 1.0, 3.0, 6.0])


def off_kinks(shape, seed=0, scale=4.0):
    x = np.random.default_rng(seed).uniform(-scale, scale, shape)
    near = np.min(np.abs(x[..., None] - KINKS), axis=-1) < 1e-2
    return np.where(near, x + 0.05, x)


@pytest.mark.parametrize("name", sorted(GRADCHECK))
def test_gradients_by_central_differences(name):
    inp = ge.Input(shape=(6,), dtype="float64")
    model = ge.Model(inp, getattr(ge.activations, name)(inp, **GRADCHECK[name]))
    check_model_grads(model, off_kinks((3, 6), seed=len(name)))


# kernel kind -> (its parameters, f at (nan, inf, -inf), f' there)
LIMITS = {
    "hard_silu": ((), (NAN, INF, 0.0), (1.0, 1.0, 0.0)),
    "mish": ((), (NAN, INF, 0.0), (NAN, 1.0, 0.0)),
    "celu": ((1.0,), (NAN, INF, -1.0), (NAN, 1.0, 0.0)),
    "soft_shrink": ((0.5,), (NAN, INF, -INF), (1.0, 1.0, 1.0)),
    "hard_shrink": ((0.5,), (NAN, INF, -INF), (1.0, 1.0, 1.0)),
    "squareplus": ((4.0,), (NAN, INF, 0.0), (NAN, 1.0, 0.0)),
    "threshold": ((0.0, -2.0), (NAN, INF, -2.0), (1.0, 1.0, 0.0)),
    "hard_tanh": ((), (NAN, 1.0, -1.0), (1.0, 0.0, 0.0)),
    "log_sigmoid": ((), (NAN, 0.0, -INF), (NAN, 0.0, 1.0)),
    "sparse_plus": ((), (NAN, INF, 0.0), (1.0, 1.0, 0.0)),
    "sparse_sigmoid": ((), (NAN, 1.0, 0.0), (0.5, 0.0, 0.0)),
    "tanh_shrink": ((), (NAN, INF, -INF), (NAN, 1.0, 1.0)),
    "sign_ste": ((), (NAN, 1.0, -1.0), (1.0, 1.0, 1.0)),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", sorted(LIMITS))
def test_limits_at_nonfinite_inputs_and_nan_cotangents(kind, dtype):
    params, want_y, want_d = LIMITS[kind]
    x = np.array([NAN, INF, -INF], dtype)
    y, dx = np.zeros_like(x), np.zeros_like(x)
    getattr(cpu, f"{kind}_forward")(x, *params, y)
    getattr(cpu, f"{kind}_backward")(x, y, np.ones(3, dtype), *params, dx)
    np.testing.assert_array_equal(y, np.array(want_y, dtype), err_msg=f"{kind} forward")
    np.testing.assert_array_equal(dx, np.array(want_d, dtype), err_msg=f"{kind} backward")
    big = np.array([1e30, -1e30, 3e38, -3e38, 0.5, -0.5], dtype)
    y, dx = np.zeros_like(big), np.zeros_like(big)
    getattr(cpu, f"{kind}_forward")(big, *params, y)
    getattr(cpu, f"{kind}_backward")(big, y, np.full(big.size, NAN, dtype), *params, dx)
    assert not np.isnan(y).any() and np.isnan(dx).all(), (kind, y, dx)


def numpy_sparsemax(z):
    """The projection onto the simplex, row by row (Martins & Astudillo 2016, algorithm 1)."""
    out = np.empty_like(z)
    for i, row in enumerate(z.reshape(-1, z.shape[-1])):
        s = np.sort(row)[::-1]
        k = np.arange(1, s.size + 1)
        support = s - (np.cumsum(s) - 1) / k > 0
        tau = (np.cumsum(s)[support][-1] - 1) / k[support][-1]
        out.reshape(-1, z.shape[-1])[i] = np.maximum(row - tau, 0)
    return out


def test_sparsemax_is_the_projection_onto_the_simplex():
    x = np.random.default_rng(0).normal(0, 2, (5, 7))
    y = ge.activations.sparsemax(x)
    np.testing.assert_allclose(y, numpy_sparsemax(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-12)
    assert (y == 0).any() and (y >= 0).all()
    # Keras 3.15's numbers for [1, 0.5, -1] are [0.25, 0, 0] (summing the cumulative sums)
    np.testing.assert_allclose(
        ge.activations.sparsemax(np.array([[1.0, 0.5, -1.0]])), [[0.75, 0.25, 0]]
    )
    y0 = ge.activations.sparsemax(x.T, axis=0)
    np.testing.assert_allclose(y0, numpy_sparsemax(x).T, rtol=1e-12, atol=1e-12)


def test_step_and_sign_values_and_straight_through_gradients():
    x = np.array([[-2.0, -0.0, 0.0, 1e-30, 3.0, NAN]])
    np.testing.assert_array_equal(ge.activations.step(x), [[0, 0, 0, 1, 1, NAN]])
    np.testing.assert_array_equal(ge.activations.sign(x), [[-1, 0, 0, 1, 1, NAN]])
    dy = np.array([[0.5, -1.0, 2.0, 3.0, -4.0, 5.0]])
    for name in ("step", "sign"):
        inp = ge.Input(shape=(6,), dtype="float64")
        model = ge.Model(inp, ge.layers.Activation(name)(inp))
        (dx,), _ = model.vjp(x, dy)
        np.testing.assert_array_equal(dx, dy, err_msg=name)  # the identity, NaN x included
    inp = ge.Input(shape=(6,), dtype="float64")  # ge.ops.sign keeps Keras's zero gradient
    (dx,), _ = ge.Model(inp, ge.ops.sign(inp)).vjp(x, dy)
    np.testing.assert_array_equal(dx, 0 * dy)


def test_step_perceptron_is_fused_and_learns_by_the_perceptron_rule():
    """Dense(1, "step") is one fused op; with the straight-through gradient, one SGD step on
    the squared error of one sample moves w by -lr * 2 (y_hat - y) x: Rosenblatt's rule."""
    layer = ge.layers.Dense(1, activation="step")
    inp = ge.Input(shape=(2,))
    out = layer(inp)
    assert isinstance(out.node.op, DenseOp) and out.node.op.activation == "step"
    model = ge.Model(inp, out)
    layer.set_weights([np.array([[1.0], [-1.0]], "float32"), np.array([0.0], "float32")])
    model.compile(optimizer=ge.optimizers.SGD(learning_rate=0.25), loss="mse")
    x, y = np.array([[0.0, 1.0]], "float32"), np.array([[1.0]], "float32")
    assert model.predict(x, verbose=0)[0, 0] == 0.0  # w.x = -1: wrong
    model.train_on_batch(x, y)
    kernel, bias = layer.get_weights()
    np.testing.assert_allclose(kernel, [[1.0], [-0.5]])  # w += 0.25 * 2 * (1 - 0) * x
    np.testing.assert_allclose(bias, [0.5])


@pytest.mark.parametrize("act", ["relu6", "step"])
def test_fused_and_standalone_agree(act):
    x = off_kinks((5, 3), seed=1, scale=8.0).astype("float32")
    fused_layer, plain = ge.layers.Dense(4, activation=act), ge.layers.Dense(4)
    inp = ge.Input(shape=(3,))
    fused = ge.Model(inp, fused_layer(inp))
    inp = ge.Input(shape=(3,))
    reference = ge.Model(inp, ge.layers.Activation(act)(plain(inp)))
    plain.set_weights([3 * w for w in fused_layer.get_weights()])
    fused_layer.set_weights(plain.get_weights())
    np.testing.assert_array_equal(fused.predict(x, verbose=0), reference.predict(x, verbose=0))
    dy = np.random.default_rng(2).standard_normal((5, 4)).astype("float32")
    (dx_f,), dw_f = fused.vjp(x, dy)
    (dx_r,), dw_r = reference.vjp(x, dy)
    np.testing.assert_array_equal(dx_f, dx_r)
    for a, b in zip(dw_f, dw_r):
        np.testing.assert_array_equal(a, b)


def test_activation_errors():
    with pytest.raises(ValueError, match=r"glu: the size of axis -1 must be even .* \(None, 3\)"):
        ge.activations.glu(ge.Input(shape=(3,)))
    with pytest.raises(ValueError, match=r"celu: alpha must be nonzero .* alpha=0"):
        ge.activations.celu(np.ones(2), alpha=0)
    with pytest.raises(ValueError, match=r"squareplus: b must be >= 0 .* b=-1"):
        ge.activations.squareplus(np.ones(2), b=-1)
    with pytest.raises(ValueError, match=r"Unknown activation 'stepp'; valid names: .*step"):
        ge.layers.Dense(2, activation="stepp")
    with pytest.raises(ValueError, match=r"sparsemax: axis=2 is out of range"):
        ge.activations.sparsemax(np.ones((2, 3)), axis=2)


# -- RReLU ------------------------------------------------------------------------------------


def numpy_rrelu(x, lower, upper, seed=None):
    """torch.nn.RReLU: a slope uniform in [lower, upper) per element x <= 0 in training (drawn
    here as the layer draws them: one uniform per element from the seeded Generator), the mean
    slope at inference (seed None)."""
    if seed is None:
        slope = np.full(x.shape, (lower + upper) / 2)
    else:
        slope = lower + (upper - lower) * np.random.default_rng(seed).random(x.shape)
    slope = np.where(x <= 0, slope, 1.0)
    return x * slope, slope


def test_rrelu_matches_the_numpy_reference():
    x = np.random.default_rng(0).standard_normal((4, 5))
    layer = ge.layers.RReLU(lower=0.1, upper=0.3, seed=3, dtype="float64")
    y = layer(x, training=True)
    want, slope = numpy_rrelu(x, 0.1, 0.3, seed=3)
    np.testing.assert_allclose(y, want, rtol=1e-12)
    assert ((slope[x <= 0] >= 0.1) & (slope[x <= 0] < 0.3)).all()
    np.testing.assert_allclose(layer(x), numpy_rrelu(x, 0.1, 0.3)[0], rtol=1e-12)  # inference
    # the gradient is the slope used, drawn by the same seed in a model's training run
    inp = ge.Input(shape=(5,), dtype="float64")
    model = ge.Model(inp, ge.layers.RReLU(lower=0.1, upper=0.3, seed=3, dtype="float64")(inp))
    (dx,), _ = model.vjp(x, np.ones_like(x), training=True)
    np.testing.assert_allclose(dx, slope, rtol=1e-12)
    (dx,), _ = model.vjp(x, np.ones_like(x))
    np.testing.assert_allclose(dx, np.where(x <= 0, 0.2, 1.0), rtol=1e-12)


def test_rrelu_layer_harness_and_training_gradient():
    layer = run_layer_test(
        ge.layers.RReLU,
        {"lower": 0.2, "upper": 0.4, "seed": 1},
        (3, 4),
        expected_output_shape=(3, 4),
        expected_num_weights=0,
        reference=lambda x, w: numpy_rrelu(x, 0.2, 0.4)[0],
    )
    assert layer.get_config()["upper"] == 0.4 and layer.get_config()["lower"] == 0.2
    inp = ge.Input(shape=(6,), dtype="float64")  # lower == upper: training is deterministic
    model = ge.Model(inp, ge.layers.RReLU(lower=0.3, upper=0.3, dtype="float64")(inp))
    check_model_grads(model, off_kinks((2, 6)), training=True)


def test_rrelu_errors():
    with pytest.raises(ValueError, match=r"RReLU '.*': lower must not exceed upper, got lower=0.5"):
        ge.layers.RReLU(lower=0.5, upper=0.2)
    with pytest.raises(ValueError, match=r"RReLU '.*': upper must be in \[0, 1\], got upper=2"):
        ge.layers.RReLU(upper=2)
    with pytest.raises(TypeError, match=r"RReLU '.*': seed must be an int or None"):
        ge.layers.RReLU(seed="x")
