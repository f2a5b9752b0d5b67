"""Depthwise and separable convolutions: the layer harness against tests/reference.py's naive
grouped convolution (float64 forward, central-difference gradients), Keras 3 reference numbers
(float32 forward and gradients), the threaded kernel paths against a vectorized NumPy reference,
NaN and empty batches, saving, training, and the error messages. Shapes are tiny but for the
threaded paths, which need enough work to split rows across threads."""

from __future__ import annotations

import os

import numpy as np
import pytest

import graphengine as ge
import graphengine_kernels.cpu as cpu
from graphengine.layers.depthwise_conv import BaseSeparableConv
from graphengine_kernels.cpu import threads
import reference as R
from helpers import REF_DIR, check_keras_case, keras_cases
from layer_harness import run_layer_test

L = ge.layers
ACT = {"relu": lambda y: np.maximum(y, 0.0), "tanh": np.tanh, "elu": lambda y: np.where(
    y > 0, y, np.exp(y) - 1.0), None: lambda y: y}  # fmt: skip
LAYERS = ("DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D")


def _geometry(kwargs):
    ref = {k: kwargs[k] for k in ("strides", "dilation_rate") if k in kwargs}
    ref["padding"] = kwargs.get("padding", "valid").lower()
    return ref


def depthwise_ref(kwargs):
    """The layer as a grouped convolution: kernel (*k, C, M) is (*k, 1, C*M) with C groups."""
    act, use_bias = ACT[kwargs.get("activation")], kwargs.get("use_bias", True)

    def ref(x, w):
        k = w[0].reshape(w[0].shape[:-2] + (1, -1))
        groups = x.shape[-1]
        return act(R.conv(x, k, w[1] if use_bias else None, groups=groups, **_geometry(kwargs)))

    return ref


def separable_ref(kwargs):
    act, use_bias = ACT[kwargs.get("activation")], kwargs.get("use_bias", True)

    def ref(x, w):
        k = w[0].reshape(w[0].shape[:-2] + (1, -1))
        h = R.conv(x, k, None, groups=x.shape[-1], **_geometry(kwargs))
        return act(R.conv(h, w[1], w[2] if use_bias else None))

    return ref


# -- the layer harness -----------------------------------------------------------------------------
CASES = [
    # (id, layer, kwargs, input shape, expected output shape)
    ("dw1d_valid", L.DepthwiseConv1D, {"kernel_size": 3}, (2, 6, 2), (2, 4, 2)),
    ("dw1d_same_stride2_dm2_no_bias", L.DepthwiseConv1D, {"kernel_size": 2, "strides": 2,
     "padding": "same", "depth_multiplier": 2, "use_bias": False}, (2, 5, 2), (2, 3, 4)),
    ("dw2d_valid", L.DepthwiseConv2D, {"kernel_size": (2, 3)}, (2, 4, 5, 2), (2, 3, 3, 2)),
    ("dw2d_same_stride2_dm3_relu", L.DepthwiseConv2D, {"kernel_size": 3, "strides": 2,
     "padding": "SAME", "depth_multiplier": 3, "activation": "relu"}, (1, 5, 4, 2), (1, 3, 2, 6)),
    ("dw2d_stride2_dilation2_elu", L.DepthwiseConv2D, {"kernel_size": 2, "strides": 2,
     "dilation_rate": 2, "activation": "elu"}, (1, 6, 5, 2), (1, 2, 2, 2)),
    ("sep1d_same_dilated_tanh", L.SeparableConv1D, {"filters": 3, "kernel_size": 3,
     "dilation_rate": 2, "padding": "same", "activation": "tanh"}, (2, 6, 2), (2, 6, 3)),
    ("sep2d_valid_dm2", L.SeparableConv2D, {"filters": 3, "kernel_size": 2,
     "depth_multiplier": 2}, (2, 3, 4, 2), (2, 2, 3, 3)),
    ("sep2d_same_stride2_no_bias", L.SeparableConv2D, {"filters": 2, "kernel_size": 3,
     "strides": 2, "padding": "same", "use_bias": False}, (1, 5, 4, 3), (1, 3, 2, 2)),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_layers(case):
    _, cls, kwargs, shape, out_shape = case
    separable = issubclass(cls, BaseSeparableConv)
    use_bias = kwargs.get("use_bias", True)
    layer = run_layer_test(
        cls,
        kwargs,
        shape,
        expected_output_shape=out_shape,
        expected_num_weights=separable + 1 + use_bias,
        reference=(separable_ref if separable else depthwise_ref)(kwargs),
    )
    size = kwargs["kernel_size"]
    size = (size,) * cls.rank if isinstance(size, int) else tuple(size)
    dm = kwargs.get("depth_multiplier", 1)
    shapes = [w.shape for w in layer.get_weights()]
    assert shapes[0] == size + (shape[-1], dm)
    if separable:
        assert shapes[1] == (1,) * cls.rank + (shape[-1] * dm, kwargs["filters"])
    if use_bias:
        assert shapes[-1] == (out_shape[-1],)


def test_weight_names_and_params_follow_keras():
    dw = L.DepthwiseConv2D(3, depth_multiplier=2)
    dw(np.zeros((1, 4, 4, 3), np.float32))
    assert [w.name for w in dw.weights] == ["kernel", "bias"]
    assert dw.count_params() == 3 * 3 * 3 * 2 + 6 and dw.name.startswith("depthwise_conv2d")
    sep = L.SeparableConv1D(4, 3, depth_multiplier=2, use_bias=False)
    sep(np.zeros((1, 5, 3), np.float32))
    assert [w.name for w in sep.weights] == ["depthwise_kernel", "pointwise_kernel"]
    assert sep.count_params() == 3 * 3 * 2 + 6 * 4 and sep.name.startswith("separable_conv1d")
    assert L.SeparableConvolution2D is L.SeparableConv2D


# -- Keras 3 reference numbers ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def depthwise_arrays() -> dict[str, np.ndarray]:
    with np.load(os.path.join(REF_DIR, "depthwise.npz"), allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


@pytest.mark.parametrize("case", keras_cases(LAYERS, "depthwise"), ids=lambda c: c["id"])
def test_matches_keras(case, depthwise_arrays):
    check_keras_case(case, depthwise_arrays)


def test_keras_reference_covers_every_layer_and_padding():
    cases = keras_cases(LAYERS, "depthwise")
    kinds = {(c["layer"], c["kwargs"].get("padding", "valid")) for c in cases}
    assert {(layer, p) for layer in LAYERS for p in ("valid", "same")} <= kinds
    assert any(c["kwargs"].get("depth_multiplier", 1) > 1 for c in cases)
    assert any(c["kwargs"].get("use_bias") is False for c in cases)


# -- the threaded kernel paths ---------------------------------------------------------------------
def numpy_depthwise(x, w, strides, dilation, pads, out_hw):
    """Vectorized depthwise convolution, float64: (y, adjoint, weight_grad), y the output,
    adjoint(dz) the input gradient and weight_grad(dz) the kernel's, for a cotangent dz."""
    (sh, sw), (dh, dw), (ph, pw), (OH, OW) = strides, dilation, pads, out_hw
    N, H, W, C = x.shape
    KH, KW, _, M = w.shape
    big = (N, ph + H + KH * dh + OH * sh, pw + W + KW * dw + OW * sw, C)
    xp = np.zeros(big)
    xp[:, ph : ph + H, pw : pw + W] = x

    def taps():
        for i in range(KH):
            for j in range(KW):
                yield i, j, (slice(None), slice(i * dh, i * dh + (OH - 1) * sh + 1, sh),
                             slice(j * dw, j * dw + (OW - 1) * sw + 1, sw))  # fmt: skip

    y = sum((xp[s][..., None] * w[i, j]).reshape(N, OH, OW, C * M) for i, j, s in taps())

    def adjoint(dz):
        dxp, dz5 = np.zeros(big), dz.reshape(N, OH, OW, C, M)
        for i, j, s in taps():
            dxp[s] += (dz5 * w[i, j]).sum(-1)
        return dxp[:, ph : ph + H, pw : pw + W]

    def weight_grad(dz):
        dz5 = dz.reshape(N, OH, OW, C, M)
        g = np.zeros(w.shape)
        for i, j, s in taps():
            g[i, j] = np.einsum("nhwc,nhwcm->cm", xp[s], dz5)
        return g

    return y, adjoint, weight_grad


GEOMETRIES = [
    # (x shape, w shape, strides, dilation, pads, output (OH, OW))
    ((3, 8, 7, 4), (3, 3, 4, 1), (1, 1), (1, 1), (1, 1), (8, 7)),
    ((2, 17, 9, 3), (3, 2, 3, 2), (2, 1), (1, 2), (1, 0), (9, 7)),
]


@pytest.mark.parametrize("threaded", [True, False], ids=["threaded", "one_thread"])
@pytest.mark.parametrize("geo", GEOMETRIES, ids=["same_3x3_dm1", "strided_dilated_dm2"])
def test_row_loops_match_numpy(geo, threaded, monkeypatch, set_threads):
    """The rows split across two threads (OpenBLAS's; any work pays for them here) or on this
    thread: forward (bias + relu fused), input and weight gradients, against the vectorized
    NumPy reference."""
    xs, ws, strides, dilation, pads, (OH, OW) = geo
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = rng.standard_normal(ws[2] * ws[3])
    y_ref, adjoint, weight_grad = numpy_depthwise(x, w, strides, dilation, pads, (OH, OW))
    monkeypatch.setattr(threads, "_MIN_WORK", 0 if threaded else 1 << 62)
    ranges, pool_rows = [], threads.blas_pool_rows

    def recorded(rows, work, run, min_rows=1):
        pool_rows(rows, work, lambda r0, r1: ranges.append((r0, r1)) or run(r0, r1), min_rows)

    monkeypatch.setattr(threads, "blas_pool_rows", recorded)
    set_threads(2)
    y = np.empty((xs[0], OH, OW, ws[2] * ws[3]))
    cpu.depthwise_conv2d_forward(x, w, b, "relu", strides, dilation, pads, y)
    dz = rng.standard_normal(y.shape)
    dx, dw = np.empty_like(x), np.empty_like(w)
    cpu.depthwise_conv2d_backward_input(dz, w, strides, dilation, pads, dx)
    cpu.depthwise_conv2d_backward_weight(x, dz, strides, dilation, pads, dw)
    assert len(ranges) == (6 if threaded and threads._POOL is not None else 3)  # 2 or 1 a pass
    np.testing.assert_allclose(y, np.maximum(y_ref + b, 0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, adjoint(dz), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dw, weight_grad(dz), rtol=1e-12, atol=1e-12)


# -- NaN, empty batches, the backward graph ------------------------------------------------------
def test_nan_reaches_exactly_the_outputs_that_read_it():
    layer = L.DepthwiseConv2D(3, padding="same", dtype="float64")
    x = np.ones((1, 5, 5, 2))
    x[0, 0, 4, 1] = np.nan
    y = layer(x)
    nan = np.zeros((1, 5, 5, 2), bool)
    nan[0, :2, 3:, 1] = True
    np.testing.assert_array_equal(np.isnan(y), nan)


def test_empty_batch_gives_empty_outputs_and_zero_weight_gradients():
    model = ge.Sequential([ge.Input((5, 4, 2)), L.DepthwiseConv2D(2), L.SeparableConv2D(3, 2)])
    x = np.zeros((0, 5, 4, 2), np.float32)
    assert model(x).shape == (0, 3, 2, 3)
    dx, dw = model.vjp(x, np.zeros((0, 3, 2, 3), np.float32))
    assert dx[0].shape == x.shape and len(dw) == 5
    for g, w in zip(dw, model.trainable_weights):
        assert g.shape == w.shape and not g.any()


def test_backward_graph_uses_the_depthwise_ops():
    x = ge.Input(shape=(5, 5, 2))
    model = ge.Model(x, L.SeparableConv2D(3, 3, activation="relu")(x))
    model.vjp(np.zeros((1, 5, 5, 2), np.float32), np.zeros((1, 3, 3, 3), np.float32))
    names = sorted(n.op.name for n in model.backward_graph.nodes)
    for name in ("depthwise_conv2d_backward_input", "depthwise_conv2d_backward_weight",
                 "conv2d_backward_weight", "relu_bias_grad"):  # fmt: skip
        assert name in names, names


# -- training, regularizers, configs, saving -------------------------------------------------------
def mobilenet_block(shape=(8, 8, 4)) -> ge.Model:
    inp = ge.Input(shape=shape)
    h = L.DepthwiseConv2D(3, padding="same", use_bias=False, depthwise_regularizer="l2")(inp)
    h = L.BatchNormalization()(h)
    h = L.ReLU()(h)
    h = L.SeparableConv2D(6, 3, strides=2, padding="same", activation="relu")(h)
    h = L.DepthwiseConv1D(2, depth_multiplier=2)(L.Reshape((16, 6))(h))
    return ge.Model(inp, L.Dense(2)(L.GlobalAveragePooling1D()(h)))


def test_training_reduces_the_loss_and_regularizers_count():
    ge.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((16, 8, 8, 4), dtype=np.float32)
    y = (x[..., :2].mean(axis=(1, 2, 3)) > x[..., 2:].mean(axis=(1, 2, 3))).astype(np.int64)
    model = mobilenet_block()
    assert len(model.losses) == 1
    model.compile("adam", ge.losses.SparseCategoricalCrossentropy(from_logits=True))
    first = model.train_on_batch(x, y)
    for _ in range(20):
        last = model.train_on_batch(x, y)
    assert last < first


def test_configs_round_trip_with_keras_keys():
    keys = {"name", "trainable", "dtype", "depth_multiplier", "kernel_size", "strides", "padding",
            "data_format", "dilation_rate", "activation", "use_bias", "depthwise_initializer",
            "bias_initializer", "depthwise_regularizer", "bias_regularizer"}  # fmt: skip
    dw = L.DepthwiseConv2D((3, 2), padding="Same", depth_multiplier=2, bias_regularizer="l1")
    config = dw.get_config()
    assert set(config) == keys and config["padding"] == "same" and config["kernel_size"] == [3, 2]
    assert L.DepthwiseConv2D.from_config(config).get_config() == config
    sep = L.SeparableConv1D(4, 3, pointwise_regularizer="l2", activation="relu").get_config()
    assert set(sep) == keys | {"filters", "pointwise_initializer", "pointwise_regularizer"}
    assert sep["filters"] == 4 and sep["activation"] == "relu"
    assert L.SeparableConv1D.from_config(sep).get_config() == sep


def test_save_and_load_round_trip(tmp_path):
    model = mobilenet_block()
    path = str(tmp_path / "block.gez")
    model.save(path)
    loaded = ge.models.load_model(path)
    xs = np.random.default_rng(0).random((2, 8, 8, 4), dtype=np.float32)
    np.testing.assert_array_equal(loaded(xs), model(xs))
    assert [type(layer).__name__ for layer in loaded.layers] == [
        type(layer).__name__ for layer in model.layers
    ]
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


# -- errors ---------------------------------------------------------------------------------------
def test_kernel_larger_than_valid_input_names_layer_and_shapes():
    pattern = r"Layer 'too_big' \(DepthwiseConv2D\).*\(5, 5, 2, 1\).*\(None, 3, 4, 2\)"
    with pytest.raises(ValueError, match=pattern):
        L.DepthwiseConv2D(5, name="too_big")(ge.Input(shape=(3, 4, 2)))
    pattern = r"'sep_eager' \(SeparableConv2D\).*\(4, 4, 1, 2\).*\(1, 3, 5, 1\).*size would be 0"
    with pytest.raises(ValueError, match=pattern):
        L.SeparableConv2D(2, 4, depth_multiplier=2, name="sep_eager")(np.zeros((1, 3, 5, 1)))
    with pytest.raises(ValueError, match=r"'dilated'.*\(3, 1, 1\).*\(None, 4, 1\).*size would"):
        L.DepthwiseConv1D(3, dilation_rate=2, name="dilated")(ge.Input(shape=(4, 1)))


def test_wrong_rank_channels_and_shared_layer():
    with pytest.raises(ValueError, match=r"'rank3'.*expected ndim=4.*\(None, 5, 2\)"):
        L.DepthwiseConv2D(3, name="rank3")(ge.Input(shape=(5, 2)))
    with pytest.raises(ValueError, match=r"'no_channels'.*channel.*\(None, 5, None\)"):
        L.SeparableConv1D(2, 3, name="no_channels")(ge.Input(shape=(5, None)))
    layer = L.DepthwiseConv2D(3, name="shared")
    layer(ge.Input(shape=(None, None, 2)))
    with pytest.raises(ValueError, match=r"'shared'.*axis -1.*value 2.*\(None, 5, 5, 3\)"):
        layer(ge.Input(shape=(5, 5, 3)))


@pytest.mark.parametrize(
    "factory,pattern",
    [
        (lambda: L.DepthwiseConv2D(3, depth_multiplier=0), r"'depthwise_conv2d\w*': "
         r"depth_multiplier must be a positive integer, got depth_multiplier=0"),
        (lambda: L.SeparableConv1D(2, 3, depth_multiplier=1.5), r"depth_multiplier=1\.5"),
        (lambda: L.SeparableConv2D(0, 3), r"filters must be a positive integer, got 0"),
        (lambda: L.DepthwiseConv2D((3, 3, 3)), r"kernel_size must be .*tuple of 2"),
        (lambda: L.DepthwiseConv1D(0), r"kernel_size must be a positive int"),
        (lambda: L.DepthwiseConv2D(3, strides=(1, 0)), r"strides must be"),
        (lambda: L.DepthwiseConv1D(3, padding="causal"), r"padding must be one of 'valid', "
         r"'same' \(any case\), got 'causal'"),
        (lambda: L.SeparableConv2D(2, 3, data_format="channels_first"), r"channels_last"),
    ],
    ids=["depth_multiplier", "depth_multiplier_float", "filters", "kernel_rank", "kernel_zero",
         "strides", "causal", "data_format"],
)  # fmt: skip
def test_bad_arguments(factory, pattern):
    with pytest.raises(ValueError, match=pattern):
        factory()


def test_unknown_keywords():
    with pytest.raises(TypeError, match="did you mean 'depth_multiplier'"):
        L.DepthwiseConv2D(3, depth_multiplyer=2)
    with pytest.raises(TypeError, match="did you mean 'pointwise_initializer'"):
        L.SeparableConv2D(2, 3, pointwise_initialiser="ones")
