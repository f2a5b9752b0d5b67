"""Convolution layers: the layer harness against the naive references in tests/reference.py
(float64 forward, central-difference gradients), Keras 3 reference numbers (float32 forward and
gradients), the backward graph's reuse of the forward columns, saving, the examples, and the
error messages. Shapes are tiny: every compiled kernel is shared across these tests."""

from __future__ import annotations

import numpy as np
import pytest

import graphengine as ge
from graphengine.autodiff.backward import backward_digraph, gradients
import reference as R
from helpers import check_keras_case, keras_cases
from layer_harness import run_layer_test

L = ge.layers
ACT = {
    "relu": lambda y: np.maximum(y, 0.0),
    "sigmoid": lambda y: 1.0 / (1.0 + np.exp(-y)),
    "tanh": np.tanh,
    "elu": lambda y: np.where(y > 0, y, np.exp(y) - 1.0),
    "softmax": lambda y: np.exp(y) / np.exp(y).sum(axis=-1, keepdims=True),
    None: lambda y: y,
}


def conv_ref(activation=None, use_bias=True, **kw):
    def ref(x, w):
        return ACT[activation](R.conv(x, w[0], w[1] if use_bias else None, **kw))

    return ref


def conv_transpose_ref(activation=None, use_bias=True, **kw):
    def ref(x, w):
        return ACT[activation](R.conv_transpose(x, w[0], w[1] if use_bias else None, **kw))

    return ref


# -- Conv1D / Conv2D through the harness -----------------------------------------------------------
CONV_CASES = [
    # (id, layer, kwargs, input shape, expected output shape)
    ("1d_valid", L.Conv1D, {"filters": 3, "kernel_size": 3}, (2, 7, 2), (2, 5, 3)),
    ("1d_same_stride2_odd", L.Conv1D, {"filters": 2, "kernel_size": 4, "strides": 2,
                                       "padding": "same"}, (2, 7, 2), (2, 4, 2)),
    ("1d_causal_dilated", L.Conv1D, {"filters": 2, "kernel_size": 3, "padding": "causal",
                                     "dilation_rate": 2}, (2, 6, 2), (2, 6, 2)),
    ("1d_groups_relu", L.Conv1D, {"filters": 4, "kernel_size": 2, "groups": 2,
                                  "activation": "relu"}, (2, 5, 4), (2, 4, 4)),
    ("2d_valid", L.Conv2D, {"filters": 3, "kernel_size": 3}, (2, 5, 6, 2), (2, 3, 4, 3)),
    ("2d_same_stride2_odd", L.Conv2D, {"filters": 2, "kernel_size": 3, "strides": 2,
                                       "padding": "same"}, (2, 5, 5, 2), (2, 3, 3, 2)),
    ("2d_same_2x3_stride2_even", L.Conv2D, {"filters": 2, "kernel_size": (2, 3), "strides": 2,
                                            "padding": "SAME"}, (1, 4, 6, 2), (1, 2, 3, 2)),
    ("2d_strides_2_1", L.Conv2D, {"filters": 2, "kernel_size": (3, 2), "strides": (2, 1)},
     (2, 6, 4, 1), (2, 2, 3, 2)),
    ("2d_dilated_same", L.Conv2D, {"filters": 2, "kernel_size": 2, "dilation_rate": (2, 1),
                                   "padding": "same"}, (1, 5, 4, 2), (1, 5, 4, 2)),
    ("2d_groups_same", L.Conv2D, {"filters": 4, "kernel_size": 3, "groups": 2,
                                  "padding": "same"}, (1, 4, 4, 4), (1, 4, 4, 4)),
    ("2d_1x1", L.Conv2D, {"filters": 3, "kernel_size": 1}, (2, 3, 2, 4), (2, 3, 2, 3)),
    ("2d_1x1_stride2", L.Conv2D, {"filters": 2, "kernel_size": 1, "strides": 2},
     (2, 5, 4, 2), (2, 3, 2, 2)),
    ("2d_kernel_equals_input", L.Conv2D, {"filters": 2, "kernel_size": (3, 4)},
     (2, 3, 4, 2), (2, 1, 1, 2)),
    ("2d_no_bias", L.Conv2D, {"filters": 2, "kernel_size": 2, "use_bias": False},
     (2, 3, 4, 2), (2, 2, 3, 2)),
]  # fmt: skip


def _conv_kwargs(kwargs):
    ref_kw = {k: kwargs[k] for k in ("strides", "dilation_rate", "groups") if k in kwargs}
    ref_kw["padding"] = kwargs.get("padding", "valid").lower()
    return ref_kw


@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv_layers(case):
    _, cls, kwargs, shape, out_shape = case
    use_bias = kwargs.get("use_bias", True)
    run_layer_test(
        cls,
        kwargs,
        shape,
        expected_output_shape=out_shape,
        expected_num_weights=2 if use_bias else 1,
        reference=conv_ref(kwargs.get("activation"), use_bias, **_conv_kwargs(kwargs)),
    )


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "elu", "softmax"])
def test_conv2d_activations_fused_and_not(activation):
    """relu / sigmoid / tanh run fused into the kernels' output pass, elu / softmax as their
    own ops after the convolution: both must be exact, gradients included."""
    run_layer_test(
        L.Conv2D,
        {"filters": 3, "kernel_size": 2, "activation": activation},
        (2, 3, 4, 2),
        expected_output_shape=(2, 2, 3, 3),
        reference=conv_ref(activation),
    )


def test_conv2d_weight_layout_and_params():
    layer = run_layer_test(
        L.Conv2D,
        {"filters": 4, "kernel_size": (3, 2), "groups": 2},
        (1, 4, 4, 6),
        expected_output_shape=(1, 2, 3, 4),
        expected_num_params=3 * 2 * 3 * 4 + 4,
        reference=conv_ref(groups=2),
    )
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 2, 3, 4) and bias.shape == (4,)
    assert layer.name.startswith("conv2d")


# -- transposed convolutions ----------------------------------------------------------------------
TRANSPOSE_CASES = [
    ("1d_valid_stride2", L.Conv1DTranspose, {"filters": 2, "kernel_size": 3, "strides": 2},
     (2, 4, 3), (2, 9, 2)),
    ("1d_same_stride3_k2", L.Conv1DTranspose, {"filters": 2, "kernel_size": 2, "strides": 3,
                                               "padding": "same"}, (1, 3, 2), (1, 9, 2)),
    ("2d_valid", L.Conv2DTranspose, {"filters": 2, "kernel_size": 3}, (2, 3, 2, 2),
     (2, 5, 4, 2)),
    ("2d_valid_stride3_k2", L.Conv2DTranspose, {"filters": 2, "kernel_size": 2, "strides": 3},
     (1, 2, 3, 2), (1, 6, 9, 2)),
    ("2d_same_stride2_k3", L.Conv2DTranspose, {"filters": 2, "kernel_size": 3, "strides": 2,
                                               "padding": "same"}, (2, 3, 2, 2), (2, 6, 4, 2)),
    ("2d_same_stride2_k4", L.Conv2DTranspose, {"filters": 3, "kernel_size": 4, "strides": 2,
                                               "padding": "same"}, (1, 2, 3, 2), (1, 4, 6, 3)),
    ("2d_output_padding", L.Conv2DTranspose, {"filters": 2, "kernel_size": 3, "strides": 2,
                                              "output_padding": 1}, (1, 2, 3, 2), (1, 6, 8, 2)),
    ("2d_same_output_padding", L.Conv2DTranspose, {"filters": 2, "kernel_size": 3,
                                                   "strides": (2, 3), "padding": "same",
                                                   "output_padding": (0, 2)},
     (1, 2, 2, 2), (1, 3, 6, 2)),
    ("2d_dilated", L.Conv2DTranspose, {"filters": 2, "kernel_size": 2, "dilation_rate": 2},
     (1, 3, 2, 2), (1, 5, 4, 2)),
    ("2d_1x1", L.Conv2DTranspose, {"filters": 3, "kernel_size": 1}, (2, 2, 3, 2),
     (2, 2, 3, 3)),
    ("2d_tanh_no_bias", L.Conv2DTranspose, {"filters": 2, "kernel_size": 2, "strides": 2,
                                            "activation": "tanh", "use_bias": False},
     (1, 2, 2, 3), (1, 4, 4, 2)),
]  # fmt: skip


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=[c[0] for c in TRANSPOSE_CASES])
def test_conv_transpose_layers(case):
    _, cls, kwargs, shape, out_shape = case
    use_bias = kwargs.get("use_bias", True)
    ref_kw = {k: kwargs[k] for k in ("strides", "padding", "output_padding", "dilation_rate")
              if k in kwargs}  # fmt: skip
    layer = run_layer_test(
        cls,
        kwargs,
        shape,
        expected_output_shape=out_shape,
        expected_num_weights=2 if use_bias else 1,
        reference=conv_transpose_ref(kwargs.get("activation"), use_bias, **ref_kw),
    )
    size = kwargs["kernel_size"]
    size = (size,) * cls.rank if isinstance(size, int) else tuple(size)
    assert layer.get_weights()[0].shape == size + (kwargs["filters"], shape[-1])


# -- Keras 3 reference numbers ---------------------------------------------------------------------
CONV_LAYERS = ("Conv1D", "Conv2D", "Conv1DTranspose", "Conv2DTranspose")


@pytest.mark.parametrize("case", keras_cases(CONV_LAYERS), ids=lambda c: c["id"])
def test_matches_keras(case, keras_arrays):
    check_keras_case(case, keras_arrays)


def test_keras_reference_covers_every_conv_layer():
    cases = keras_cases(CONV_LAYERS)
    assert {c["layer"] for c in cases} == set(CONV_LAYERS)
    kinds = {(c["layer"], c["kwargs"].get("padding", "valid")) for c in cases}
    assert {(layer, p) for layer in CONV_LAYERS[1:] for p in ("valid", "same")} <= kinds


# -- fused activations, column reuse, training -------------------------------------
def test_relu_gradient_is_zero_where_the_output_is_zero():
    """The fused relu takes its derivative from the output: 0 at a pre-activation of exactly 0,
    as Keras's relu."""
    x = ge.Input(shape=(3, 3, 1), dtype="float64")
    layer = L.Conv2D(2, 2, activation="relu", kernel_initializer="ones", dtype="float64")
    model = ge.Model(x, layer(x))
    xs = np.zeros((1, 3, 3, 1))
    assert np.all(model(xs) == 0.0)
    dx, (dk, db) = model.vjp(xs, np.ones((1, 2, 2, 2)))
    assert np.all(dx[0] == 0.0) and np.all(dk == 0.0) and np.all(db == 0.0)


def test_weight_gradient_builds_the_columns_again_from_the_input():
    """No column matrix is kept from the forward pass: the conv op's column output is scratch
    that nothing reads later, and the weight gradient reads the forward op's input (building
    its columns again, a tile at a time); a 1x1 stride-1 convolution has no columns."""
    x = ge.Input(shape=(6, 6, 2))
    h = L.Conv2D(3, 3, name="c3")(x)
    model = ge.Model(x, L.Conv2D(2, 1, name="c1")(h))
    forward = [site.nodes[0] for site in model._sites[1:]]
    assert [len(n.outputs) for n in forward] == [2, 1]
    model.vjp(np.zeros((1, 6, 6, 2), np.float32), np.zeros((1, 4, 4, 2), np.float32))
    nodes = list(model.backward_graph.nodes)
    weight_grads = [n for n in nodes if n.op.name == "conv2d_backward_weight"]
    assert sorted(id(n.inputs[0]) for n in weight_grads) == sorted(
        id(n.inputs[0]) for n in forward
    )  # c3's reads x, c1's reads h
    assert [len(n.outputs) for n in weight_grads if n.inputs[0] is x] == [2]  # its scratch
    assert not any(t is forward[0].outputs[1] for n in nodes for t in n.inputs)
    assert sum(n.op.name == "conv2d_backward_input" for n in nodes) == 2  # vjp returns dx too
    # for the weights alone (a training step), c3's input gradient is never built
    grads = gradients(model.outputs, [ge.Input(shape=(4, 4, 2))], model.trainable_weights)
    names = [n.op.name for n in backward_digraph(grads).nodes]
    assert names.count("conv2d_backward_input") == 1 and names.count("conv2d_backward_weight") == 2


@pytest.mark.parametrize("transpose", [False, True], ids=["conv", "transpose"])
def test_columns_in_tiles_give_the_whole_batch_numbers(transpose, monkeypatch):
    """The im2col scratch holds a tile of images (about COLUMN_TILE_BYTES of columns): with
    room for one image of 5 the forward pass, the input gradient and the weight gradient (its
    tiles' products added in order) give the one-tile numbers, for a grouped, strided, dilated
    convolution and a transposed one, in float64."""
    from graphengine.ops import conv as conv_ops
    from graphengine_kernels.cpu import threads

    rng = np.random.default_rng(7)
    if transpose:
        layer = dict(filters=4, kernel_size=3, strides=2, padding="same", activation="tanh")
        make, shape = L.Conv2DTranspose, (5, 4, 3, 2)
    else:
        layer = dict(filters=4, kernel_size=3, strides=(2, 1), dilation_rate=(1, 1), groups=2,
                     padding="same", activation="relu")  # fmt: skip
        make, shape = L.Conv2D, (5, 7, 6, 4)
    x = rng.standard_normal(shape)

    def run():
        inp = ge.Input(shape=shape[1:], dtype="float64")
        model = ge.Model(inp, make(**layer, dtype="float64")(inp))
        model.set_weights([rng2.standard_normal(w.shape) for w in model.get_weights()])
        y = model.predict_on_batch(x)
        (dx,), dws = model.vjp(x, np.cos(y))
        return [y, dx, *dws]

    tiles, tile_of = [], conv_ops.column_tile
    monkeypatch.setattr(conv_ops, "column_tile", lambda *a: tiles.append(tile_of(*a)) or tiles[-1])
    rng2 = np.random.default_rng(1)
    whole = run()
    assert set(tiles) >= {5}
    tiles.clear()
    monkeypatch.setattr(conv_ops, "COLUMN_TILE_BYTES", 1)
    monkeypatch.setattr(threads, "SLOTS", 1)  # no image per thread to keep
    rng2 = np.random.default_rng(1)
    tiled = run()
    assert set(tiles) >= {1} and 5 not in tiles  # the forward, dx and dw scratches: one image
    for a, b in zip(tiled, whole):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_float32_training_step_reduces_the_loss():
    ge.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((32, 8, 8, 1), dtype=np.float32)
    y = (x[:, :4].mean(axis=(1, 2, 3)) > x[:, 4:].mean(axis=(1, 2, 3))).astype(np.int64)
    inp = ge.Input(shape=(8, 8, 1))
    h = L.Conv2D(4, 3, padding="same", activation="relu")(inp)
    h = L.MaxPooling2D()(h)
    h = L.Conv2DTranspose(2, 2, strides=2, activation="tanh")(h)
    h = L.GlobalAveragePooling2D()(h)
    model = ge.Model(inp, L.Dense(2)(h))
    model.compile("adam", ge.losses.SparseCategoricalCrossentropy(from_logits=True))
    first = model.train_on_batch(x, y)
    for _ in range(30):
        last = model.train_on_batch(x, y)
    assert last < first


def test_regularizers_and_config_round_trip():
    layer = L.Conv2D(2, 3, kernel_regularizer="l2", bias_regularizer="l1", padding="Same")
    layer(np.ones((1, 4, 4, 1), np.float32))
    assert len(layer.losses) == 2
    config = layer.get_config()
    assert config["padding"] == "same" and config["kernel_size"] == [3, 3]
    assert config["kernel_regularizer"] is not None
    assert L.Conv2D.from_config(config).get_config() == config
    t = L.Conv2DTranspose(2, 3, strides=2, output_padding=1).get_config()
    assert t["output_padding"] == [1, 1] and "groups" not in t


def test_aliases_and_default_names():
    assert L.Convolution2D is L.Conv2D and L.Convolution2DTranspose is L.Conv2DTranspose
    assert L.Conv2DTranspose(2, 3).name.startswith("conv2d_transpose")
    assert L.Conv1D(2, 3).name.startswith("conv1d")


# -- errors ---------------------------------------------------------------------------------------
def test_kernel_larger_than_valid_input_names_layer_and_shapes():
    pattern = r"Layer 'too_big' \(Conv2D\).*\(5, 5, 1, 2\).*\(None, 3, 4, 1\)"
    with pytest.raises(ValueError, match=pattern):
        L.Conv2D(2, 5, name="too_big")(ge.Input(shape=(3, 4, 1)))
    with pytest.raises(ValueError, match=r"Layer 'too_big_eager'.*\(5, 5, 1, 2\).*\(2, 3, 4, 1\)"):
        L.Conv2D(2, 5, name="too_big_eager")(np.zeros((2, 3, 4, 1), np.float32))
    with pytest.raises(ValueError, match=r"'dilated'.*\(3, 1, 1\).*\(None, 4, 1\).*size would"):
        L.Conv1D(1, 3, dilation_rate=2, name="dilated")(ge.Input(shape=(4, 1)))


def test_shared_conv_on_smaller_input_names_layer_and_shapes():
    layer = L.Conv2D(2, 3, name="shared_conv")
    layer(ge.Input(shape=(None, None, 1)))
    with pytest.raises(ValueError, match=r"'shared_conv'.*\(3, 3, 1, 2\).*\(1, 2, 5, 1\)"):
        layer(np.zeros((1, 2, 5, 1), np.float32))
    with pytest.raises(ValueError, match=r"'shared_conv'.*axis -1.*value 1.*\(None, 5, 5, 2\)"):
        layer(ge.Input(shape=(5, 5, 2)))


def test_transpose_with_empty_output_names_layer_and_shapes():
    pattern = r"'empty_up'.*\(None, 1, 1, 2\).*\(2, 2, 3, 2\).*output size 0"
    with pytest.raises(ValueError, match=pattern):
        L.Conv2DTranspose(3, 2, padding="same", output_padding=0, name="empty_up")(
            ge.Input(shape=(1, 1, 2))
        )


def test_wrong_rank_and_unknown_channels():
    with pytest.raises(ValueError, match=r"'rank3'.*expected ndim=4.*\(None, 5, 2\)"):
        L.Conv2D(2, 3, name="rank3")(ge.Input(shape=(5, 2)))
    with pytest.raises(ValueError, match=r"'no_channels'.*channel.*\(None, 5, 5, None\)"):
        L.Conv2D(2, 3, name="no_channels")(ge.Input(shape=(5, 5, None)))


@pytest.mark.parametrize(
    "factory,pattern",
    [
        (lambda: L.Conv2D(0, 3), r"filters must be a positive integer"),
        (lambda: L.Conv2D(2, (3, 3, 3)), r"kernel_size must be .*tuple of 2"),
        (lambda: L.Conv2D(2, 0), r"kernel_size must be a positive int"),
        (lambda: L.Conv2D(2, 3, strides=(1, 0)), r"strides must be"),
        (lambda: L.Conv2D(2, 3, padding="full"), r"padding must be one of 'valid', 'same'"),
        (lambda: L.Conv2D(2, 3, padding="causal"), r"padding must be one of 'valid', 'same'"),
        (lambda: L.Conv2D(3, 3, groups=2), r"groups must be a positive integer dividing"),
        (lambda: L.Conv2D(2, 3, strides=2, dilation_rate=2), r"strides > 1 cannot be combined"),
        (lambda: L.Conv2D(2, 3, data_format="channels_first"), r"channels_last"),
        (lambda: L.Conv2DTranspose(2, 3, strides=2, output_padding=2), r"output_padding must"),
    ],
    ids=["filters", "kernel_rank", "kernel_zero", "strides", "padding", "causal2d", "groups",
         "stride_dilation", "data_format", "output_padding"],
)  # fmt: skip
def test_bad_arguments(factory, pattern):
    with pytest.raises(ValueError, match=pattern):
        factory()


def test_groups_must_divide_input_channels():
    with pytest.raises(ValueError, match=r"'grouped'.*3 channels.*groups=2.*\(None, 4, 4, 3\)"):
        L.Conv2D(4, 3, groups=2, name="grouped")(ge.Input(shape=(4, 4, 3)))


def test_unknown_keywords():
    with pytest.raises(TypeError, match="did you mean 'strides'"):
        L.Conv2D(2, 3, stride=2)
    with pytest.raises(TypeError, match="did you mean 'dilation_rate'"):
        L.Conv1D(2, 3, dilation=2)
    with pytest.raises(TypeError, match="'groups'"):
        L.Conv2DTranspose(2, 3, groups=2)


# -- saving and the examples ----------------------------------------------------------------------
def test_save_and_load_round_trip(tmp_path):
    x = ge.Input(shape=(8, 8, 1))
    h = L.Conv2D(4, 3, padding="same", activation="relu", kernel_regularizer="l2")(x)
    h = L.MaxPool2D()(h)
    h = L.Conv2DTranspose(2, 3, strides=2, padding="same", output_padding=1)(h)
    h = L.AveragePooling2D(2, padding="same")(h)
    h = L.Conv1D(3, 2, padding="causal")(L.Reshape((16, 2))(h))
    model = ge.Model(x, L.GlobalMaxPooling1D(keepdims=True)(h))
    path = str(tmp_path / "cnn.gez")
    model.save(path)
    loaded = ge.models.load_model(path)
    xs = np.random.default_rng(0).random((2, 8, 8, 1), dtype=np.float32)
    np.testing.assert_array_equal(loaded(xs), model(xs))
    assert [type(layer).__name__ for layer in loaded.layers] == [
        type(layer).__name__ for layer in model.layers
    ]


def test_slots_give_the_same_bits_on_one_and_two_threads(monkeypatch, set_threads):
    """The columns' scratch is cut into slots that run at once on OpenBLAS's threads; the slots,
    not the threads, fix every sum's order, so training gives the same bits on one thread as
    on two (forward, input and weight gradients, several parts per slot)."""
    from graphengine.ops import conv as conv_ops
    from graphengine_kernels.cpu import threads

    monkeypatch.setattr(threads, "_MIN_WORK", 0)
    monkeypatch.setattr(threads, "SLOTS", 2)
    monkeypatch.setattr(conv_ops, "COLUMN_TILE_BYTES", 4 * 6 * 6 * 9 * 4 * 4)  # 4 images of 9
    calls = []
    pool_rows = threads.blas_pool_rows
    monkeypatch.setattr(
        threads, "blas_pool_rows", lambda rows, *a: calls.append(rows) or pool_rows(rows, *a)
    )
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((9, 8, 8, 4)).astype(np.float32), rng.integers(0, 3, 9)

    def train(n):
        set_threads(n)
        ge.utils.set_random_seed(0)
        inp = ge.Input((8, 8, 4))
        h = L.Conv2D(4, 3, activation="relu")(inp)
        h = L.Conv2D(6, 3, strides=2, padding="same", groups=2)(h)
        model = ge.Model(inp, L.Dense(3)(L.Flatten()(h)))
        model.compile("adam", ge.losses.SparseCategoricalCrossentropy(from_logits=True))
        losses = [model.train_on_batch(x, y) for _ in range(3)]
        return losses, model.get_weights()

    one = train(1)
    assert 2 in calls  # two slots a pass
    two = train(2)
    assert one[0] == two[0]
    for a, b in zip(one[1], two[1]):
        np.testing.assert_array_equal(a, b)


def test_a_tile_of_large_images_still_gives_every_thread_an_image(monkeypatch):
    """Past COLUMN_TILE_BYTES a tile still holds one image per thread (threads.SLOTS), at
    most the batch, so each thread has a part; tiles are of equal size."""
    from graphengine.ops.conv import column_tile
    from graphengine_kernels.cpu import threads

    monkeypatch.setattr(threads, "SLOTS", 4)
    big = 224 * 224  # output cells of a 224 x 224 image, 27 taps each: 5.4 MB of columns
    assert column_tile(64, big, 27, "float32") == 4
    assert column_tile(3, big, 27, "float32") == 3
    assert column_tile(64, 121, 288, "float32") == 13  # 2 MiB: 15 images, as 5 tiles of 13
    assert column_tile(None, big, 27, "float32") is None
    monkeypatch.setattr(threads, "SLOTS", 1)
    assert column_tile(64, big, 27, "float32") == 1
