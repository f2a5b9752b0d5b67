"""BatchNormalization and LayerNormalization: kernels against tests/reference.py, the layer harness,
float64 gradient checks in inference and training mode, moving statistics, frozen layers, error
messages, and Keras 3 numbers (tests/keras_reference/normalization.*, generate_normalization.py).
"""

import json
import os

import numpy as np
import pytest

import graphengine as ge
import graphengine_kernels.cpu as k
import reference as ref
from gradcheck import check_model_grads
from layer_harness import run_layer_test

L = ge.layers
DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=3e-5, atol=3e-6), np.float64: dict(rtol=1e-11, atol=1e-12)}
REF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_reference")
with open(os.path.join(REF, "normalization.json")) as f:
    KERAS = json.load(f)


def nan_like(shape, dtype):
    return np.full(shape, np.nan, dtype=dtype)


def data(shape, dtype=np.float64, seed=0, scale=1.5, shift=0.7):
    return (scale * np.random.default_rng(seed).standard_normal(shape) + shift).astype(dtype)


# -- kernels ------------------------------------------------------------------------------------

# (shape, axis): channels last (inner = 1, Welford's update) and channels in the middle (segments
# merged with Chan's update)
BN_VIEWS = [((7, 3), 1), ((4, 2, 2, 3), 3), ((2, 3, 4, 2), 1), ((3, 5), 0)]


def bn_view(shape, axis):
    return (int(np.prod(shape[:axis])), shape[axis], int(np.prod(shape[axis + 1 :])))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, axis", BN_VIEWS)
def test_batchnorm_training_stats_kernel(dtype, shape, axis):
    x = data(shape, dtype)
    c = shape[axis]
    moving_mean, moving_var = data((c,), dtype, 1), data((c,), dtype, 2, 0.2, 1.0)
    old_mean, old_var = moving_mean.copy(), moving_var.copy()
    mean, inv_std = nan_like((c,), dtype), nan_like((c,), dtype)
    k.batchnorm_training_stats(
        x.reshape(bn_view(shape, axis)), 0.9, 1e-3, moving_mean, moving_var, mean, inv_std
    )
    others = tuple(i for i in range(len(shape)) if i != axis)
    want_mean, want_var = (s.reshape(-1) for s in ref.moments(x, others))
    np.testing.assert_allclose(mean, want_mean, **TOL[dtype])
    np.testing.assert_allclose(inv_std, 1 / np.sqrt(want_var + 1e-3), **TOL[dtype])
    np.testing.assert_allclose(
        moving_mean, ref.moving_average(old_mean, want_mean, 0.9), **TOL[dtype]
    )
    np.testing.assert_allclose(moving_var, ref.moving_average(old_var, want_var, 0.9), **TOL[dtype])


@pytest.mark.parametrize("shape, axis", [((400, 2), 1), ((50, 2, 8), 1)])
def test_batchnorm_variance_is_stable_in_float32(shape, axis):
    """A large mean and a small spread: E[x^2] - E[x]^2 in float32 loses every digit here."""
    x = (1e4 + 0.5 * np.random.default_rng(3).standard_normal(shape)).astype(np.float32)
    others = tuple(i for i in range(len(shape)) if i != axis)
    _, want = ref.moments(x, others)
    naive = np.mean(x * x, axis=others) - np.mean(x, axis=others) ** 2
    assert np.max(np.abs(naive - want.reshape(-1)) / want.reshape(-1)) > 0.1  # the trap is real
    c = shape[axis]
    mean, inv_std = nan_like((c,), np.float32), nan_like((c,), np.float32)
    moving = [np.zeros(c, np.float32), np.ones(c, np.float32)]
    k.batchnorm_training_stats(x.reshape(bn_view(shape, axis)), 0.0, 0.0, *moving, mean, inv_std)
    np.testing.assert_allclose(moving[1], want.reshape(-1), rtol=2e-3)


@pytest.mark.parametrize("view", [(0, 3, 1), (0, 3, 4)], ids=["channels_last", "channels_first"])
def test_batchnorm_statistics_of_no_rows_are_nan_not_an_error(view):
    """An empty batch's statistics: mean 0 and variance NaN (0 / 0), which reach the moving
    variance as NaN, as NumPy's and Keras's means of nothing would; no exception from the
    blocked reduction's merge."""
    mean, inv_std = nan_like((3,), np.float32), nan_like((3,), np.float32)
    moving = [np.zeros(3, np.float32), np.ones(3, np.float32)]
    x = np.zeros(view, np.float32)
    k.batchnorm_training_stats(x, 0.9, 1e-3, *moving, mean, inv_std)
    np.testing.assert_array_equal(mean, 0)
    assert np.isnan(inv_std).all() and np.isnan(moving[1]).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_stats", [True, False], ids=["batch_stats", "moving_stats"])
@pytest.mark.parametrize("shape, axis", BN_VIEWS[:3])
def test_batchnorm_forward_backward_kernels(dtype, batch_stats, shape, axis):
    x, dy = data(shape, dtype), data(shape, dtype, 1, 1.0, 0.0)
    c = shape[axis]
    gamma, beta = data((c,), dtype, 2), data((c,), dtype, 3)
    others = tuple(i for i in range(len(shape)) if i != axis)
    kept = tuple(1 if i in others else n for i, n in enumerate(shape))
    if batch_stats:
        mean, var = ref.moments(x, others)
        stats = {}
    else:
        mean, var = data(kept, np.float64, 4), data(kept, np.float64, 5, 0.2, 1.0)
        stats = {"mean": mean, "var": var}
    inv_std = (1 / np.sqrt(var + 1e-3)).astype(dtype).reshape(-1)
    mean_c = mean.astype(dtype).reshape(-1)
    view = bn_view(shape, axis)
    y, dx = nan_like(shape, dtype), nan_like(shape, dtype)
    dgamma, dbeta = nan_like((c,), dtype), nan_like((c,), dtype)
    k.batchnorm_forward(x.reshape(view), mean_c, inv_std, gamma, beta, False, y.reshape(view))
    k.batchnorm_backward(
        x.reshape(view),
        dy.reshape(view),
        mean_c,
        inv_std,
        gamma,
        beta,
        batch_stats,
        False,
        dx.reshape(view),
        dgamma,
        dbeta,
    )
    g, b = ref._per_axis(gamma, [axis], shape), ref._per_axis(beta, [axis], shape)
    np.testing.assert_allclose(y, ref.normalize(x, g, b, others, 1e-3, mean, var), **TOL[dtype])
    want_dx, dg, db = ref.normalize_backward(x, dy, g, others, 1e-3, **stats)
    np.testing.assert_allclose(dx, want_dx, **TOL[dtype])
    np.testing.assert_allclose(dgamma, dg.sum(axis=others), **TOL[dtype])
    np.testing.assert_allclose(dbeta, db.sum(axis=others), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_layernorm_kernels(dtype):
    rows, n = 4, 6
    x, dy = data((rows, n), dtype), data((rows, n), dtype, 1, 1.0, 0.0)
    gamma, beta = data((n,), dtype, 2), data((n,), dtype, 3)
    y, dx = nan_like((rows, n), dtype), nan_like((rows, n), dtype)
    mean, inv_std = nan_like((rows,), dtype), nan_like((rows,), dtype)
    dgamma, dbeta = nan_like((n,), dtype), nan_like((n,), dtype)
    k.layernorm_forward(x, gamma, beta, 0.01, y, mean, inv_std)
    k.layernorm_backward(x, dy, mean, inv_std, gamma, dx, dgamma, dbeta)
    want_mean, want_var = ref.moments(x, 1)
    np.testing.assert_allclose(mean, want_mean.reshape(-1), **TOL[dtype])
    np.testing.assert_allclose(inv_std, 1 / np.sqrt(want_var.reshape(-1) + 0.01), **TOL[dtype])
    np.testing.assert_allclose(y, ref.normalize(x, gamma, beta, 1, 0.01), **TOL[dtype])
    want_dx, dg, db = ref.normalize_backward(x, dy, gamma, 1, 0.01)
    np.testing.assert_allclose(dx, want_dx, **TOL[dtype])
    np.testing.assert_allclose(dgamma, dg.sum(axis=0), **TOL[dtype])
    np.testing.assert_allclose(dbeta, db.sum(axis=0), **TOL[dtype])


# -- layers through the harness (inference mode) --------------------------------------------------


def bn_reference(axis, epsilon=1e-3, center=True, scale=True):
    def run(x, w):
        ax = axis % x.ndim
        w = list(w)
        gamma = w.pop(0) if scale else np.ones(x.shape[ax])
        beta = w.pop(0) if center else np.zeros(x.shape[ax])
        mean, var = (ref._per_axis(v, [ax], x.shape) for v in w)
        g, b = ref._per_axis(gamma, [ax], x.shape), ref._per_axis(beta, [ax], x.shape)
        return ref.normalize(x, g, b, None, epsilon, mean, var)

    return run


@pytest.mark.parametrize(
    "kwargs, shape, n_weights, seed",
    [
        ({}, (4, 3), 4, 13),
        ({"axis": 1}, (2, 3, 2, 2), 4, 0),
        ({"center": False, "scale": False}, (4, 3), 2, 6),
        ({"momentum": 0.5, "epsilon": 0.1}, (3, 4, 2), 4, 6),
    ],
    ids=["2d", "4d_axis1", "no_affine", "3d_eps"],
)
def test_batch_normalization_layer(kwargs, shape, n_weights, seed):
    layer = run_layer_test(
        L.BatchNormalization,
        kwargs,
        shape,
        expected_output_shape=shape,
        expected_num_weights=n_weights,
        expected_num_params=n_weights * shape[kwargs.get("axis", -1)],
        reference=bn_reference(
            kwargs.get("axis", -1),
            kwargs.get("epsilon", 1e-3),
            kwargs.get("center", True),
            kwargs.get("scale", True),
        ),
        seed=seed,
    )
    # the harness sets random weights: a negative variance would make every check vacuous (NaN)
    assert layer.moving_variance.value.min() > 0
    assert [w.path.split("/")[-1] for w in layer.non_trainable_weights] == [
        "moving_mean",
        "moving_variance",
    ]


def ln_reference(axis, epsilon=1e-3, center=True, scale=True):
    def run(x, w):
        axes = ref._axes(axis, x.ndim)
        w = list(w)
        gamma = w.pop(0) if scale else np.ones([x.shape[a] for a in axes])
        beta = w.pop(0) if center else np.zeros([x.shape[a] for a in axes])
        g, b = ref._per_axis(gamma, axes, x.shape), ref._per_axis(beta, axes, x.shape)
        return ref.normalize(x, g, b, axes, epsilon)

    return run


@pytest.mark.parametrize(
    "kwargs, shape, n_params",
    [
        ({}, (3, 5), 10),
        ({"axis": [-2, -1]}, (2, 3, 4), 24),
        ({"axis": 1}, (2, 3, 4), 6),
        ({"axis": [3, 1]}, (2, 3, 2, 4), 24),
        ({"center": False, "scale": False, "epsilon": 0.1}, (3, 4), 0),
    ],
    ids=["last", "two_last", "middle", "non_contiguous", "no_affine"],
)
def test_layer_normalization_layer(kwargs, shape, n_params):
    run_layer_test(
        L.LayerNormalization,
        kwargs,
        shape,
        expected_output_shape=shape,
        expected_num_params=n_params,
        reference=ln_reference(
            kwargs.get("axis", -1),
            kwargs.get("epsilon", 1e-3),
            kwargs.get("center", True),
            kwargs.get("scale", True),
        ),
    )


# -- training mode: gradients through the batch statistics, moving statistics ------------------


def bn_model(shape, **kwargs):
    x = ge.Input(shape[1:], dtype="float64")
    bn = L.BatchNormalization(dtype="float64", **kwargs)
    return ge.Model(x, bn(x)), bn


@pytest.mark.parametrize(
    "shape, kwargs",
    [((5, 3), {}), ((2, 3, 2, 2), {"axis": 1}), ((3, 2, 2), {"scale": False})],
    ids=["2d", "4d_axis1", "no_scale"],
)
def test_batch_normalization_gradients_in_training(shape, kwargs):
    model, bn = bn_model(shape, **kwargs)
    rng = np.random.default_rng(1)
    bn.set_weights([rng.uniform(0.5, 1.5, w.shape) for w in bn.weights])
    check_model_grads(model, data(shape), training=True)


def test_training_gradient_differs_from_inference_gradient():
    """The check above would also pass for an engine that ignored training=True; this cannot."""
    model, _ = bn_model((4, 3))
    x, dy = data((4, 3)), data((4, 3), seed=1)
    dx_train, _ = model.vjp(x, dy, training=True)
    dx_infer, _ = model.vjp(x, dy, training=False)
    np.testing.assert_allclose(dx_train[0].sum(axis=0), 0.0, atol=1e-12)  # mean is subtracted
    assert np.abs(dx_train[0] - dx_infer[0]).max() > 0.1


def test_gradients_through_a_dense_stack_in_training():
    x = ge.Input((3,), dtype="float64")
    h = L.Dense(4, dtype="float64")(x)
    h = L.BatchNormalization(dtype="float64")(h)
    h = L.Activation("tanh", dtype="float64")(h)
    h = L.LayerNormalization(dtype="float64")(h)
    model = ge.Model(x, L.Dense(2, dtype="float64")(h))
    check_model_grads(model, data((6, 3)), training=True)


def test_moving_statistics_follow_keras_rule():
    model, bn = bn_model((6, 2), momentum=0.7)
    mm, mv = np.array([0.3, -0.2]), np.array([0.8, 1.4])
    bn.set_weights([np.ones(2), np.zeros(2), mm, mv])
    xs = [data((6, 2), seed=s) for s in range(3)]
    for x in xs:
        y = model(x, training=True)
        mean, var = ref.moments(x, 0)
        np.testing.assert_allclose(y, ref.normalize(x, 1.0, 0.0, 0, 1e-3), rtol=1e-12)
        mm, mv = ref.moving_average(mm, mean[0], 0.7), ref.moving_average(mv, var[0], 0.7)
        np.testing.assert_allclose(bn.moving_mean.value, mm, rtol=1e-12)
        np.testing.assert_allclose(bn.moving_variance.value, mv, rtol=1e-12)  # biased variance
    y = model(xs[0])  # inference: the moving statistics, left as they are
    np.testing.assert_allclose(y, ref.normalize(xs[0], 1.0, 0.0, 0, 1e-3, mm, mv), rtol=1e-12)
    np.testing.assert_allclose(bn.moving_mean.value, mm, rtol=1e-12)


def test_explicit_training_argument_overrides_the_plan():
    x = ge.Input((2,), dtype="float64")
    always = L.BatchNormalization(dtype="float64")
    never = L.BatchNormalization(dtype="float64")
    model = ge.Model(x, [always(x, training=True), never(x, training=False)])
    xs = data((5, 2))
    a, b = model(xs)  # an inference plan
    np.testing.assert_allclose(a, ref.normalize(xs, 1.0, 0.0, 0, 1e-3), rtol=1e-12)
    assert not np.allclose(always.moving_mean.value, 0.0)
    a, b = model(xs, training=True)
    np.testing.assert_allclose(b, xs / np.sqrt(1 + 1e-3), rtol=1e-12)  # moving stats 0 and 1
    np.testing.assert_array_equal(never.moving_mean.value, 0.0)


def test_eager_call_in_training_mode():
    bn = L.BatchNormalization(momentum=0.5, dtype="float64")
    xs = data((4, 3))
    np.testing.assert_allclose(bn(xs), xs / np.sqrt(1 + 1e-3), rtol=1e-12)
    np.testing.assert_allclose(
        bn(xs, training=True), ref.normalize(xs, 1.0, 0.0, 0, 1e-3), rtol=1e-12
    )
    np.testing.assert_allclose(bn.moving_mean.value, 0.5 * ref.moments(xs, 0)[0][0], rtol=1e-12)


def test_frozen_layer_runs_in_inference_mode():
    model, bn = bn_model((5, 3))
    bn.set_weights([np.full(3, 2.0), np.full(3, 0.5), np.full(3, 0.1), np.full(3, 1.5)])
    xs, dy = data((5, 3)), data((5, 3), seed=1)
    infer = model(xs)
    model.trainable = False  # after the graph is built: reaches the layer and its op
    frozen = model(xs, training=True)
    np.testing.assert_array_equal(frozen, infer)
    dx, dw = model.vjp(xs, dy, training=True)
    np.testing.assert_allclose(dx[0], dy * 2.0 / np.sqrt(1.5 + 1e-3), rtol=1e-12)
    assert dw == []
    np.testing.assert_array_equal(bn.moving_mean.value, 0.1)
    model.trainable = True
    np.testing.assert_allclose(
        model(xs, training=True), ref.normalize(xs, 2.0, 0.5, 0, 1e-3), rtol=1e-12
    )
    assert not np.allclose(bn.moving_mean.value, 0.1)


def test_summary_counts_moving_statistics_as_non_trainable(capsys):
    model = ge.Sequential([ge.Input((4,)), L.Dense(3), L.BatchNormalization()])
    assert model.count_params() == 15 + 12
    model.summary()
    out = capsys.readouterr().out
    assert "Trainable params: 21" in out and "Non-trainable params: 6" in out


# -- errors -------------------------------------------------------------------------------------


def test_errors():
    with pytest.raises(ValueError, match=r"axis=2 is out of range for a tensor of rank 2"):
        L.BatchNormalization(axis=2)(ge.Input((3,)))
    with pytest.raises(TypeError, match=r"axis must be an int, got \[1\]"):
        L.BatchNormalization(axis=[1])
    with pytest.raises(ValueError, match=r"momentum must be in \[0.0, 1.0\], got momentum=1.5"):
        L.BatchNormalization(momentum=1.5)
    with pytest.raises(ValueError, match=r"epsilon must be in .*got epsilon=-0.1"):
        L.LayerNormalization(epsilon=-0.1)
    with pytest.raises(
        ValueError, match=r"normalized axes \[1\] .* known sizes.*\(None, None, 3\)"
    ):
        L.BatchNormalization(axis=1)(ge.Input((None, 3)))
    bn = L.BatchNormalization()
    bn(ge.Input((3,)))
    with pytest.raises(ValueError, match=r"expected axis 1 of the input shape to have value 3"):
        bn(ge.Input((4,)))
    with pytest.raises(ValueError, match=r"repeated axis"):
        L.LayerNormalization(axis=[1, -1])(ge.Input((3,)))
    with pytest.raises(ValueError, match=r"axis=-3 is out of range for a tensor of rank 2"):
        L.LayerNormalization(axis=-3)(ge.Input((3,)))
    with pytest.raises(TypeError, match=r"axis must be an int or a non-empty list of ints"):
        L.LayerNormalization(axis="last")
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'momentun'.*'momentum'"):
        L.BatchNormalization(momentun=0.9)


# -- Keras 3 reference numbers ------------------------------------------------------------------


@pytest.fixture(scope="module")
def arrays():
    with np.load(os.path.join(REF, "normalization.npz"), allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


RTOL, ATOL = 1e-4, 1e-5


@pytest.mark.parametrize("case", KERAS["layers"], ids=lambda c: c["id"])
def test_layer_matches_keras(case, arrays):
    a = lambda name: arrays[f"{case['id']}/{name}"]  # noqa: E731
    x = ge.Input(tuple(case["input_shape"][1:]))
    layer = getattr(L, case["layer"])(**case["kwargs"])
    model = ge.Model(x, layer(x))
    weights = [a(f"w{j}") for j in range(case["n_weights"])]
    layer.set_weights(weights)
    training = case["training"]
    np.testing.assert_allclose(model(a("x"), training=training), a("y"), rtol=RTOL, atol=ATOL)
    for j, w in enumerate(layer.get_weights()):  # moved by a training call only
        np.testing.assert_allclose(w, a(f"after{j}"), rtol=RTOL, atol=ATOL, err_msg=f"weight {j}")
    layer.set_weights(weights)
    dx, dw = model.vjp(a("x"), a("dy"), training=training)
    np.testing.assert_allclose(dx[0], a("dx"), rtol=RTOL, atol=ATOL, err_msg="dx")
    assert len(dw) == case["n_trainable"]
    for j, g in enumerate(dw):
        np.testing.assert_allclose(g, a(f"dw{j}"), rtol=RTOL, atol=ATOL, err_msg=f"dw{j}")


def keras_fit_model(name):
    """The models of generate_normalization.py's fits."""
    if name == "bn_dense":
        layers = [
            ge.Input((4,)),
            L.Dense(6),
            L.BatchNormalization(momentum=0.8),
            L.Activation("tanh"),
            L.Dense(3, activation="softmax"),
        ]
    elif name == "bn_sequence":
        layers = [
            ge.Input((3, 2)),
            L.BatchNormalization(momentum=0.9),
            L.BatchNormalization(axis=1, momentum=0.7),
            L.Flatten(),
            L.Dense(1),
        ]
    elif name == "bn_frozen":
        layers = [ge.Input((4,)), L.Dense(5), L.BatchNormalization(trainable=False), L.Dense(1)]
    else:
        layers = [
            ge.Input((2, 3)),
            L.LayerNormalization(axis=[1, 2]),
            L.Flatten(),
            L.Dense(4, activation="relu"),
            L.LayerNormalization(),
            L.Dense(3, activation="softmax"),
        ]
    return ge.Sequential(layers)


@pytest.mark.parametrize("case", KERAS["fits"], ids=lambda c: c["id"])
def test_fit_matches_keras(case, arrays):
    cid = case["id"]
    model = keras_fit_model(case["build"])
    model.set_weights([arrays[f"{cid}/w_init{j}"] for j in range(case["n_weights"])])
    name, kwargs = case["optimizer"]
    model.compile(optimizer=getattr(ge.optimizers, name)(**kwargs), loss=case["loss"])
    history = model.fit(
        arrays[f"{cid}/x"], arrays[f"{cid}/y"], shuffle=False, verbose=0, **case["fit"]
    )
    for key, values in case["history"].items():
        np.testing.assert_allclose(
            history.history[key], values, rtol=1e-4, atol=1e-5, err_msg=f"{cid}: history['{key}']"
        )
    for j, w in enumerate(model.get_weights()):  # moving statistics included
        np.testing.assert_allclose(
            w, arrays[f"{cid}/w_final{j}"], rtol=1e-4, atol=1e-5, err_msg=f"{cid}: weight {j}"
        )
