"""Keras 3's merging extras: the function forms (`ge.layers.add(inputs)`, ...), Dot (against a
naive per-sample NumPy reference, float64 gradients, shapes, errors), Identity, Embedding's
Keras 2 keywords (`input_length`, `weights`), and the `ge.utils` facade. Dot's numbers against
Keras itself are the dot_* cases of tests/test_keras_reference.py."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import graphengine as ge
from gradcheck import check_model_grads
from layer_harness import run_layer_test

L = ge.layers


# -- naive NumPy reference -----------------------------------------------------------------------
def np_l2_normalize(x, axis):
    norm = np.sqrt(np.sum(x * x, axis=axis, keepdims=True))
    return x / np.maximum(norm, 1e-7)


def np_dot(x, y, axes, normalize=False):
    """Sample by sample: contract axis axes[0] of x[n] with axes[1] of y[n] (batch axis 0)."""
    ax, ay = (axes, axes) if isinstance(axes, int) else axes
    ax, ay = ax % x.ndim, ay % y.ndim
    if normalize:
        x, y = np_l2_normalize(x, ax), np_l2_normalize(y, ay)
    out = np.stack([np.tensordot(x[n], y[n], axes=(ax - 1, ay - 1)) for n in range(len(x))])
    return out.reshape(len(x), 1) if out.ndim == 1 else out


# -- function forms ------------------------------------------------------------------------------
FUNCTIONS = {
    "add": (L.Add, 3, lambda xs: xs[0] + xs[1] + xs[2]),
    "subtract": (L.Subtract, 2, lambda xs: xs[0] - xs[1]),
    "multiply": (L.Multiply, 3, lambda xs: xs[0] * xs[1] * xs[2]),
    "average": (L.Average, 3, lambda xs: (xs[0] + xs[1] + xs[2]) / 3),
    "maximum": (L.Maximum, 3, lambda xs: np.maximum(np.maximum(xs[0], xs[1]), xs[2])),
    "minimum": (L.Minimum, 2, lambda xs: np.minimum(xs[0], xs[1])),
    "concatenate": (L.Concatenate, 2, lambda xs: np.concatenate(xs, axis=-1)),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_forms_build_the_layer_and_call_it(name):
    cls, n, ref = FUNCTIONS[name]
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((4, 3)).astype("float32") for _ in range(n)]
    inputs = [ge.Input(shape=(3,)) for _ in range(n)]
    out = getattr(L, name)(inputs, name=f"merged_{name}")
    layer = out.layer_call.layer
    assert type(layer) is cls and layer.name == f"merged_{name}"
    model = ge.Model(inputs, out)
    np.testing.assert_allclose(model.predict(xs, verbose=0), ref(xs), rtol=1e-6)
    eager = getattr(L, name)(xs)  # on arrays: runs now
    np.testing.assert_allclose(eager, ref(xs), rtol=1e-6)


def test_concatenate_function_takes_axis():
    a, b = ge.Input(shape=(2, 3)), ge.Input(shape=(4, 3))
    out = L.concatenate([a, b], axis=1)
    assert out.shape == (None, 6, 3) and out.layer_call.layer.axis == 1


def test_dot_function_takes_axes_normalize_and_layer_kwargs():
    a, b = ge.Input(shape=(3, 4)), ge.Input(shape=(5, 4))
    out = L.dot([a, b], axes=-1, normalize=True, name="cosine")
    layer = out.layer_call.layer
    assert type(layer) is L.Dot and layer.name == "cosine"
    assert (layer.axes, layer.normalize) == (-1, True) and out.shape == (None, 3, 5)
    assert L.dot([ge.Input(shape=(4,)), ge.Input(shape=(4,))]).shape == (None, 1)  # axes=-1


def test_function_forms_raise_the_layers_errors():
    with pytest.raises(ValueError, match=r"Layer 'sub3' \(Subtract\).*exactly 2 inputs"):
        L.subtract([ge.Input(shape=(3,))] * 3, name="sub3")


# -- Dot: layer harness (shapes, eager vs model, NumPy reference, config, float64 gradients) -----
DOT_CASES = [
    # axes, normalize, input shapes, output shape
    (1, False, [(3, 4), (3, 4)], (3, 1)),
    (-1, True, [(3, 5), (3, 5)], (3, 1)),
    ((2, 1), False, [(2, 3, 4), (2, 4, 5)], (2, 3, 5)),
    (1, False, [(2, 4, 3), (2, 4, 5)], (2, 3, 5)),
    (2, True, [(2, 3, 4), (2, 5, 4)], (2, 3, 5)),
    ((-1, -2), True, [(2, 3, 4), (2, 4, 5)], (2, 3, 5)),
    ((1, 2), False, [(2, 4), (2, 3, 4)], (2, 3)),
    ([1, -1], True, [(2, 4, 3), (2, 4)], (2, 3)),
    ((2, 1), False, [(2, 3, 4, 2), (2, 4, 5)], (2, 3, 2, 5)),
    ((-1, 3), True, [(2, 3, 4), (2, 2, 5, 4)], (2, 3, 2, 5)),
    ((1, 3), False, [(2, 3, 2, 2), (2, 2, 2, 3)], (2, 2, 2, 2, 2)),
    ((2, 2), False, [(2, 2, 3, 2), (2, 2, 3, 2, 2)], (2, 2, 2, 2, 2, 2)),
]


@pytest.mark.parametrize(
    "axes,normalize,shapes,out", DOT_CASES, ids=[f"case{i}" for i in range(len(DOT_CASES))]
)
def test_dot_layer(axes, normalize, shapes, out):
    layer = run_layer_test(
        L.Dot,
        {"axes": axes, "normalize": normalize},
        shapes,
        expected_output_shape=out,
        expected_num_weights=0,
        reference=lambda xs, w: np_dot(xs[0], xs[1], axes, normalize),
    )
    config = layer.get_config()
    assert config["axes"] == (axes if isinstance(axes, int) else list(axes))
    assert config["normalize"] is normalize


def test_dot_of_two_2d_inputs_is_batch_by_one():
    x = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 2.0]])
    y = np.array([[4.0, 5.0, 6.0], [1.0, 1.0, 1.0]])
    np.testing.assert_array_equal(L.Dot(axes=1)([x, y]), [[32.0], [1.0]])
    np.testing.assert_allclose(
        L.Dot(axes=1, normalize=True, dtype="float64")([x, y]),
        [[32.0 / np.sqrt(14.0 * 77.0)], [1.0 / np.sqrt(5.0 * 3.0)]],
        rtol=1e-12,
    )


def test_dot_normalize_of_a_zero_vector_is_zero_with_a_finite_gradient():
    x = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 2.0]])
    y = np.array([[1.0, 2.0, 3.0], [2.0, 0.0, 0.0]])
    a, b = ge.Input(shape=(3,), dtype="float64"), ge.Input(shape=(3,), dtype="float64")
    model = ge.Model([a, b], L.Dot(axes=1, normalize=True, dtype="float64")([a, b]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division-by-zero RuntimeWarning
        out = model([x, y])
        (dx, dy), _ = model.vjp([x, y], np.ones((2, 1)))
    np.testing.assert_allclose(out, [[0.0], [1.0 / 3.0]], rtol=1e-12)
    assert np.all(np.isfinite(dx)) and np.all(np.isfinite(dy))
    np.testing.assert_allclose(dx[0], y[0] / 1e-7 / np.sqrt(14.0), rtol=1e-6)  # x / eps


def test_dot_with_unknown_non_batch_dims():
    q, k = ge.Input(shape=(None, 4)), ge.Input(shape=(None, 4))
    scores = L.Dot(axes=2)([q, k])
    assert scores.shape == (None, None, None)
    rng = np.random.default_rng(1)
    xq, xk = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    got = ge.Model([q, k], scores).predict([xq, xk], verbose=0)
    np.testing.assert_allclose(got, np_dot(xq, xk, 2), rtol=1e-5, atol=1e-6)


def test_dot_gradients_reach_the_weights_before_it():
    ge.utils.set_random_seed(3)
    a, b = ge.Input(shape=(4,), dtype="float64"), ge.Input(shape=(2, 3), dtype="float64")
    ha = L.Dense(3, activation="tanh", dtype="float64")(a)
    hb = L.Dense(3, dtype="float64")(b)
    out = L.Dot(axes=(1, 2), normalize=True, dtype="float64")([ha, hb])
    model = ge.Model([a, b], L.Identity(dtype="float64")(out))
    rng = np.random.default_rng(3)
    check_model_grads(model, [rng.standard_normal((3, 4)), rng.standard_normal((3, 2, 3))])


def test_dot_drops_masks():
    ids = ge.Input(shape=(5,), dtype="int32")
    e = L.Embedding(10, 4, mask_zero=True)(ids)
    assert e.mask is not None
    assert L.Dot(axes=2)([e, e]).mask is None


def test_shared_dot_layer_checks_every_call():
    dot = L.Dot(axes=1, name="shared_dot")
    assert dot([ge.Input(shape=(3,)), ge.Input(shape=(3,))]).shape == (None, 1)
    assert dot([ge.Input(shape=(4, 2)), ge.Input(shape=(4, 5))]).shape == (None, 2, 5)
    with pytest.raises(ValueError, match=r"'shared_dot'.*axis 1 of input 0 has size 3"):
        dot([ge.Input(shape=(3,)), ge.Input(shape=(4,))])


# -- Dot: errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "axes,error,match",
    [
        ("1", TypeError, r"Dot 'bad_axes': axes must be an int or a pair of ints, received "),
        (1.0, TypeError, r"axes must be an int or a pair of ints, received axes=1\.0"),
        (True, TypeError, r"axes must be an int or a pair of ints, received axes=True"),
        ((1, 2, 3), ValueError, r"axes must hold two elements, received axes=\(1, 2, 3\)"),
        ([1], ValueError, r"axes must hold two elements, received axes=\[1\]"),
        ((1, 2.0), ValueError, r"axes must hold integers, received axes=\(1, 2\.0\)"),
    ],
)
def test_dot_rejects_bad_axes_arguments(axes, error, match):
    with pytest.raises(error, match=match):
        L.Dot(axes=axes, name="bad_axes")


def test_dot_rejects_mismatched_axis_sizes_naming_layer_and_shapes():
    a, b = ge.Input(shape=(3, 4)), ge.Input(shape=(5, 6))
    match = (
        r"Layer 'dot_bad' \(Dot\): incompatible input shapes: axis 2 of input 0 has size 4, "
        r"axis 2 of input 1 has size 6 \(axes=-1\); input 0 has shape \(None, 3, 4\), "
        r"input 1 has shape \(None, 5, 6\)"
    )
    with pytest.raises(ValueError, match=match):
        L.Dot(axes=-1, name="dot_bad")([a, b])
    with pytest.raises(ValueError, match=r"axis 1 of input 0 has size 3, axis 2 of input 1"):
        L.Dot(axes=(1, 2), name="dot_bad2")([a, b])


def test_dot_rejects_the_batch_axis_and_axes_out_of_range():
    a, b = ge.Input(shape=(3,)), ge.Input(shape=(3,))
    with pytest.raises(ValueError, match=r"'dot0'.*axes=0 must name a non-batch axis of input 0"):
        L.Dot(axes=0, name="dot0")([a, b])
    with pytest.raises(ValueError, match=r"axes=-2 must name a non-batch axis of input 0"):
        L.Dot(axes=-2)([a, b])  # -2 of a 2-D input is the batch axis
    with pytest.raises(ValueError, match=r"axes=\(1, 2\) must name a non-batch axis of input 1 "):
        L.Dot(axes=(1, 2))([a, b])
    with pytest.raises(ValueError, match=r"axes=-3 must name a non-batch axis of input 0 \(1 to"):
        L.Dot(axes=-3)([a, b])


def test_dot_rejects_wrong_input_counts_and_ranks():
    a = ge.Input(shape=(3,))
    with pytest.raises(ValueError, match=r"'dot3' \(Dot\) must be called on exactly 2 inputs"):
        L.Dot(axes=1, name="dot3")([a, a, a])
    with pytest.raises(ValueError, match=r"'dot1' \(Dot\) must be called on a list of at least 2"):
        L.Dot(axes=1, name="dot1")(a)
    with pytest.raises(ValueError, match=r"'dot_rank' \(Dot\): input 1 must have rank >= 2"):
        L.Dot(axes=1, name="dot_rank")([np.ones((2, 3)), np.ones(3)])


def test_dot_rejects_different_batch_sizes_eagerly():
    with pytest.raises(ValueError, match=r"different batch sizes: input 0 has shape \(2, 3\)"):
        L.Dot(axes=1)([np.ones((2, 3)), np.ones((4, 3))])


# -- Identity ------------------------------------------------------------------------------------
def test_identity_layer():
    layer = run_layer_test(
        L.Identity,
        {},
        (2, 3, 4),
        expected_output_shape=(2, 3, 4),
        expected_num_weights=0,
        reference=lambda x, w: x,
    )
    assert layer.built


def test_identity_passes_nested_inputs_and_masks():
    a, b = ge.Input(shape=(3,)), ge.Input(shape=(2,))
    outs = L.Identity()([a, b])
    assert [t.shape for t in outs] == [(None, 3), (None, 2)] and outs[0] is not a
    ids = ge.Input(shape=(4,), dtype="int32")
    e = L.Embedding(6, 2, mask_zero=True)(ids)
    assert L.Identity()(e).mask is e.mask
    x = np.arange(6.0, dtype="float32").reshape(2, 3)
    np.testing.assert_array_equal(L.Identity()(x), x)


# -- saving ---------------------------------------------------------------------------------------
def test_model_with_dot_and_identity_survives_save_and_load(tmp_path):
    ge.utils.set_random_seed(5)
    a, b = ge.Input(shape=(3, 4), name="a"), ge.Input(shape=(5, 4), name="b")
    h = L.Dense(4, name="proj")(a)
    scores = L.Dot(axes=(2, 2), normalize=True, name="cosine")([h, b])
    sim = L.dot([L.Identity(name="same")(scores), scores], axes=[1, 1], name="gram")
    model = ge.Model([a, b], sim)
    rng = np.random.default_rng(5)
    xs = [rng.standard_normal(s).astype("float32") for s in ((2, 3, 4), (2, 5, 4))]
    path = tmp_path / "dot.gez"
    model.save(path)
    loaded = ge.models.load_model(path)
    assert type(loaded.get_layer("cosine")) is L.Dot
    assert loaded.get_layer("cosine").get_config() == model.get_layer("cosine").get_config()
    assert type(loaded.get_layer("same")) is L.Identity
    assert loaded.get_layer("gram").axes == (1, 1)
    np.testing.assert_array_equal(loaded.predict(xs, verbose=0), model.predict(xs, verbose=0))
    assert loaded.output.shape == (None, 5, 5)


# -- Embedding's Keras 2 keywords ----------------------------------------------------------------
def test_embedding_input_length_is_dropped_with_a_warning():
    with pytest.warns(UserWarning, match=r"`input_length` is deprecated .*Just remove it"):
        layer = L.Embedding(10, 3, input_length=5)
    assert "input_length" not in layer.get_config()
    out = layer(ge.Input(shape=(7,), dtype="int32"))  # the length is not enforced, as in Keras 3
    assert out.shape == (None, 7, 3)


def test_embedding_input_length_none_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        L.Embedding(10, 3, input_length=None)


def test_embedding_weights_sets_the_initial_table():
    table = np.arange(12, dtype="float32").reshape(4, 3)
    for given in (table, [table]):
        layer = L.Embedding(4, 3, weights=given)
        assert layer.built
        np.testing.assert_array_equal(layer.get_weights()[0], table)
        np.testing.assert_array_equal(layer(np.array([[3, 0]])), table[[[3, 0]]])
    assert "weights" not in layer.get_config()
    with pytest.raises(ValueError, match=r"Layer '\w+' weight 0 \('\w+/embeddings'\)"):
        L.Embedding(5, 3, weights=table)


# -- ge.utils ------------------------------------------------------------------------------------
def test_utils_plot_model_is_ge_plot_model():
    assert ge.utils.plot_model is ge.plot_model
