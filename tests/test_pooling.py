"""Pooling layers: the layer harness against the naive references in tests/reference.py, Keras 3
reference numbers, max-pool gradients routed through the saved argmax (ties included), masks,
and the error messages."""

from __future__ import annotations

import numpy as np
import pytest

import graphengine as ge
import reference as R
from layer_harness import run_layer_test
from helpers import check_keras_case, keras_cases

L = ge.layers

POOL_CASES = [
    # (id, layer, kwargs, input shape, expected output shape)
    ("max1d_default", L.MaxPooling1D, {}, (2, 7, 3), (2, 3, 3)),
    ("max1d_same_3_2", L.MaxPooling1D, {"pool_size": 3, "strides": 2, "padding": "same"},
     (2, 6, 2), (2, 3, 2)),
    ("max2d_default_odd", L.MaxPooling2D, {}, (2, 5, 7, 2), (2, 2, 3, 2)),
    ("max2d_overlap", L.MaxPooling2D, {"pool_size": (3, 2), "strides": 1}, (1, 4, 4, 2),
     (1, 2, 3, 2)),
    ("max2d_same_stride1", L.MaxPooling2D, {"pool_size": 2, "strides": 1, "padding": "Same"},
     (1, 3, 4, 2), (1, 3, 4, 2)),
    ("max2d_same_3_2", L.MaxPooling2D, {"pool_size": 3, "strides": 2, "padding": "same"},
     (1, 6, 5, 2), (1, 3, 3, 2)),
    ("avg1d_valid", L.AveragePooling1D, {"pool_size": 2}, (2, 7, 3), (2, 3, 3)),
    ("avg1d_same_4_1", L.AveragePooling1D, {"pool_size": 4, "strides": 1, "padding": "same"},
     (2, 5, 2), (2, 5, 2)),
    ("avg2d_valid_3_2", L.AveragePooling2D, {"pool_size": 3, "strides": 2}, (1, 7, 6, 2),
     (1, 3, 2, 2)),
    # asymmetric "same": the windows at the end hold fewer real cells, and only those count
    ("avg2d_same_3_2_asym", L.AveragePooling2D, {"pool_size": 3, "strides": 2,
                                                 "padding": "same"}, (1, 6, 4, 2), (1, 3, 2, 2)),
    ("avg2d_same_2x3_1", L.AveragePooling2D, {"pool_size": (2, 3), "strides": 1,
                                              "padding": "same"}, (1, 3, 4, 2), (1, 3, 4, 2)),
]  # fmt: skip


@pytest.mark.parametrize("case", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_pooling_layers(case):
    _, cls, kwargs, shape, out_shape = case
    pool_size, strides = kwargs.get("pool_size", 2), kwargs.get("strides")
    padding = kwargs.get("padding", "valid").lower()
    mode = "max" if "Max" in cls.__name__ else "mean"
    run_layer_test(
        cls,
        kwargs,
        shape,
        expected_output_shape=out_shape,
        expected_num_weights=0,
        reference=lambda x, w: R.pool(x, pool_size, strides, padding, mode),
    )


def test_same_average_counts_only_real_cells():
    """Keras's documented rule (TensorFlow, JAX and NumPy backends), spelled out by hand."""
    x = np.arange(6, dtype=np.float32).reshape(1, 6, 1)
    y = L.AveragePooling1D(3, strides=2, padding="same")(x).ravel()
    np.testing.assert_allclose(y, [1.0, 3.0, 4.5])  # the last window is (4, 5, padding)
    y = L.AveragePooling1D(4, strides=1, padding="same")(x).ravel()
    np.testing.assert_allclose(y, [1.0, 1.5, 2.5, 3.5, 4.0, 4.5])


GLOBAL_CASES = [
    ("gmax1d", L.GlobalMaxPooling1D, {}, (2, 5, 3), (2, 3), lambda x: x.max(axis=1)),
    ("gmax2d_keepdims", L.GlobalMaxPooling2D, {"keepdims": True}, (2, 3, 4, 2), (2, 1, 1, 2),
     lambda x: x.max(axis=(1, 2), keepdims=True)),
    ("gavg1d_keepdims", L.GlobalAveragePooling1D, {"keepdims": True}, (2, 5, 3), (2, 1, 3),
     lambda x: x.mean(axis=1, keepdims=True)),
    ("gavg2d", L.GlobalAveragePooling2D, {}, (2, 3, 4, 2), (2, 2), lambda x: x.mean(axis=(1, 2))),
]  # fmt: skip


@pytest.mark.parametrize("case", GLOBAL_CASES, ids=[c[0] for c in GLOBAL_CASES])
def test_global_pooling_layers(case):
    _, cls, kwargs, shape, out_shape, ref = case
    layer = run_layer_test(
        cls,
        kwargs,
        shape,
        expected_output_shape=out_shape,
        expected_num_weights=0,
        reference=lambda x, w: ref(x),
    )
    assert layer.get_config()["keepdims"] == kwargs.get("keepdims", False)


def test_global_average_pooling1d_averages_the_unmasked_steps():
    ids = ge.Input(shape=(5,), dtype="int32")
    embedding = L.Embedding(10, 3, mask_zero=True, dtype="float64")
    model = ge.Model(ids, L.GlobalAveragePooling1D(dtype="float64")(embedding(ids)))
    x = np.array([[1, 2, 0, 0, 0], [3, 4, 5, 6, 0]], "int32")
    table = embedding.get_weights()[0]
    expected = [table[[1, 2]].mean(axis=0), table[[3, 4, 5, 6]].mean(axis=0)]
    np.testing.assert_allclose(model(x), expected, rtol=1e-12)
    _, (dtable,) = model.vjp(x, np.ones((2, 3)))
    np.testing.assert_allclose(dtable[:7, 0], [0.0, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25])


# -- Keras 3 reference numbers ---------------------------------------------------------------------
POOL_LAYERS = (
    "MaxPooling1D",
    "MaxPooling2D",
    "AveragePooling1D",
    "AveragePooling2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
)


@pytest.mark.parametrize("case", keras_cases(POOL_LAYERS), ids=lambda c: c["id"])
def test_matches_keras(case, keras_arrays):
    check_keras_case(case, keras_arrays)


def test_keras_reference_covers_every_pooling_layer():
    cases = keras_cases(POOL_LAYERS)
    assert {c["layer"] for c in cases} == set(POOL_LAYERS)
    assert {c["layer"] for c in cases if c["kwargs"].get("padding") == "same"} == set(
        POOL_LAYERS[:4]
    )


# -- max pooling routes through the saved argmax ---------------------------------------------------
def test_max_pool_argmax_is_a_second_output_read_by_the_backward_op():
    x = ge.Input(shape=(4, 4, 1))
    model = ge.Model(x, L.MaxPooling2D()(x))
    model.vjp(np.zeros((1, 4, 4, 1), np.float32), np.zeros((1, 2, 2, 1), np.float32))
    (grad,) = [n for n in model.backward_graph.nodes if n.op.name == "max_pool2d_grad"]
    argmax = grad.inputs[1]
    assert argmax.node.op.name == "max_pool2d" and argmax.index == 1 and argmax.dtype == "int32"


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"pool_size": 3, "strides": 1}, {"pool_size": 3, "strides": 2, "padding": "same"}],
)
def test_max_pool_gradient_with_ties_goes_to_the_first_maximum(kwargs):
    """Windows full of equal values: each window's gradient lands on its first cell in
    row-major order (TensorFlow's and PyTorch's choice); overlapping windows add up."""
    x = np.ones((2, 5, 5, 2))
    x[:, 2:, 3:] = 0.5
    inp = ge.Input(shape=(5, 5, 2), dtype="float64")
    model = ge.Model(inp, L.MaxPooling2D(dtype="float64", **kwargs)(inp))
    dy = np.random.default_rng(0).standard_normal(model(x).shape)
    (dx,), _ = model.vjp(x, dy)
    expected = R.max_pool_backward(
        x, dy, kwargs.get("pool_size", 2), kwargs.get("strides"), kwargs.get("padding", "valid")
    )
    np.testing.assert_allclose(dx, expected, rtol=1e-12)
    np.testing.assert_allclose(dx.sum(), dy.sum(), rtol=1e-12)


def test_aliases_defaults_and_config():
    assert L.MaxPool2D is L.MaxPooling2D and L.AvgPool1D is L.AveragePooling1D
    assert L.GlobalAvgPool2D is L.GlobalAveragePooling2D and L.GlobalMaxPool1D is (
        L.GlobalMaxPooling1D
    )
    layer = L.MaxPooling2D(3)
    assert layer.strides == (3, 3) and layer.name.startswith("max_pooling2d")
    config = L.AveragePooling1D(4, strides=2, padding="SAME").get_config()
    assert config["pool_size"] == [4] and config["strides"] == [2] and config["padding"] == "same"


# -- errors ---------------------------------------------------------------------------------------
def test_pool_larger_than_valid_input_names_layer_and_shapes():
    with pytest.raises(
        ValueError, match=r"'big_pool' \(MaxPooling2D\).*\(3, 3\).*\(None, 2, 5, 1\)"
    ):
        L.MaxPooling2D(3, name="big_pool")(ge.Input(shape=(2, 5, 1)))
    with pytest.raises(ValueError, match=r"'big_avg'.*\(4,\).*\(1, 3, 2\)"):
        L.AveragePooling1D(4, name="big_avg")(np.zeros((1, 3, 2), np.float32))


def test_pooling_rank_errors():
    with pytest.raises(ValueError, match=r"'pool_rank'.*expected ndim=4.*\(None, 5, 2\)"):
        L.MaxPooling2D(name="pool_rank")(ge.Input(shape=(5, 2)))
    with pytest.raises(ValueError, match=r"'gap_rank'.*expected ndim=3.*\(None, 4, 4, 2\)"):
        L.GlobalAveragePooling1D(name="gap_rank")(ge.Input(shape=(4, 4, 2)))


@pytest.mark.parametrize(
    "factory,pattern",
    [
        (lambda: L.MaxPooling2D(0), r"pool_size must be"),
        (lambda: L.MaxPooling2D((2, 2, 2)), r"pool_size must be .*tuple of 2"),
        (lambda: L.AveragePooling1D(2, strides=0), r"strides must be"),
        (lambda: L.MaxPooling1D(padding="causal"), r"padding must be one of 'valid', 'same'"),
        (lambda: L.GlobalMaxPooling2D(data_format="channels_first"), r"channels_last"),
    ],
    ids=["pool_zero", "pool_rank", "strides", "padding", "data_format"],
)
def test_bad_arguments(factory, pattern):
    with pytest.raises(ValueError, match=pattern):
        factory()


def test_unknown_keyword_suggests_closest():
    with pytest.raises(TypeError, match="did you mean 'pool_size'"):
        L.MaxPooling2D(pool_siz=2)
    with pytest.raises(TypeError, match="did you mean 'keepdims'"):
        L.GlobalAveragePooling2D(keep_dims=True)
