"""3-D layers: Conv3D, Conv3DTranspose, MaxPooling3D, AveragePooling3D, GlobalMax/AveragePooling3D
and SpatialDropout3D. The layer harness against naive NumPy references below (float64 forward,
central-difference gradients), Keras 3 reference numbers (float32 forward and gradients), max
pooling's ties, dropout of whole channels, saving, and the error messages. Shapes are tiny."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

import graphengine as ge
from helpers import REF_DIR, check_keras_case, keras_cases
from layer_harness import run_layer_test

L = ge.layers


# -- naive references (N, D, H, W, C), written per output cell ------------------------------------
def _triple(v):
    return (v,) * 3 if isinstance(v, int) else tuple(v)


def _axis(size, k, stride, dilation, padding):
    """(output size, padding before) of one axis, TensorFlow's rule (odd cell at the end)."""
    extent = (k - 1) * dilation + 1
    if padding == "valid":
        return (size - extent) // stride + 1, 0
    out = -(-size // stride)
    return out, max((out - 1) * stride + extent - size, 0) // 2


def _cells(shape):
    return itertools.product(*(range(v) for v in shape))


def conv_ref(x, w, b=None, strides=1, padding="valid", dilation_rate=1, groups=1, act=None):
    """y[n, o, f] = b[f] + sum over taps t and the group's channels c of
    x[n, o * stride + t * dilation - pad, c] * w[t, c, f], zero outside x."""
    s, d = _triple(strides), _triple(dilation_rate)
    geo = [_axis(n, k, st, dl, padding) for n, k, st, dl in zip(x.shape[1:4], w.shape[:3], s, d)]
    out, pads = [g[0] for g in geo], [g[1] for g in geo]
    cg, fg = x.shape[-1] // groups, w.shape[-1] // groups
    y = np.zeros((x.shape[0], *out, w.shape[-1]))
    for o in _cells(out):
        for t in _cells(w.shape[:3]):
            src = [o[i] * s[i] + t[i] * d[i] - pads[i] for i in range(3)]
            if all(0 <= v < n for v, n in zip(src, x.shape[1:4])):
                for g in range(groups):
                    fs = slice(g * fg, (g + 1) * fg)
                    y[(slice(None), *o, fs)] += (
                        x[(slice(None), *src, slice(g * cg, (g + 1) * cg))] @ w[t][:, fs]
                    )
    y = y if b is None else y + b
    return np.maximum(y, 0) if act == "relu" else y


def conv_transpose_ref(
    x, w, b=None, strides=1, padding="valid", output_padding=None, dilation_rate=1
):
    """Keras's sizing ((n - 1) * stride + extent, plus output_padding or max(stride - extent, 0),
    for "valid"; n * stride, or (n - 1) * stride + extent % 2 + output_padding, for "same"), and
    the adjoint of conv_ref: every input cell adds w[t] @ x to output cell i * stride +
    t * dilation - pad; w (*k, F, C)."""
    s, d = _triple(strides), _triple(dilation_rate)
    op = None if output_padding is None else _triple(output_padding)
    out, pads = [], []
    for i, (n, k) in enumerate(zip(x.shape[1:4], w.shape[:3])):
        extent = (k - 1) * d[i] + 1
        if padding == "valid":
            out.append((n - 1) * s[i] + extent + (max(s[i] - extent, 0) if op is None else op[i]))
        else:
            out.append(n * s[i] if op is None else (n - 1) * s[i] + extent % 2 + op[i])
        pads.append(max((n - 1) * s[i] + extent - out[-1], 0) // 2)
    y = np.zeros((x.shape[0], *out, w.shape[-2]))
    for i in _cells(x.shape[1:4]):
        for t in _cells(w.shape[:3]):
            dst = [i[a] * s[a] + t[a] * d[a] - pads[a] for a in range(3)]
            if all(0 <= v < n for v, n in zip(dst, out)):
                y[(slice(None), *dst)] += x[(slice(None), *i)] @ w[t].T
    return y if b is None else y + b


def _windows(x_shape, pool_size, strides, padding):
    """Per output cell, the slices of its window's real cells."""
    k = _triple(pool_size)
    s = k if strides is None else _triple(strides)
    geo = [_axis(n, kk, st, 1, padding) for n, kk, st in zip(x_shape[1:4], k, s)]
    for o in _cells([g[0] for g in geo]):
        starts = [o[i] * s[i] - geo[i][1] for i in range(3)]
        yield o, tuple(slice(max(a, 0), a + kk) for a, kk in zip(starts, k))


def pool_ref(x, pool_size=2, strides=None, padding="valid", mode="max"):
    """Max or mean over each window's real cells (the padding is never pooled)."""
    cells = list(_windows(x.shape, pool_size, strides, padding))
    out = np.array([c[0] for c in cells]).max(axis=0) + 1
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    for o, win in cells:
        block = x[(slice(None), *win)].reshape(x.shape[0], -1, x.shape[-1])
        y[(slice(None), *o)] = block.max(axis=1) if mode == "max" else block.mean(axis=1)
    return y


def max_pool_backward_ref(x, dy, pool_size=2, strides=None, padding="valid"):
    """dx: each window's dy added to its first maximal cell in row-major (d, h, w) order."""
    dx = np.zeros_like(x)
    for o, win in _windows(x.shape, pool_size, strides, padding):
        for n, c in _cells((x.shape[0], x.shape[-1])):
            block = x[(n, *win, c)]
            first = np.unravel_index(np.argmax(block), block.shape)
            dx[(n, *(w.start + f for w, f in zip(win, first)), c)] += dy[(n, *o, c)]
    return dx


# -- Conv3D / Conv3DTranspose through the harness -------------------------------------------------
CONV_CASES = [
    # (id, kwargs, input shape, expected output shape)
    ("valid", {"filters": 2, "kernel_size": 2}, (2, 3, 4, 3, 2), (2, 2, 3, 2, 2)),
    ("same_stride2_odd", {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"},
     (1, 3, 4, 5, 2), (1, 2, 2, 3, 2)),
    ("same_2x1x3_strides_1_2_1", {"filters": 3, "kernel_size": (2, 1, 3), "strides": (1, 2, 1),
                                  "padding": "SAME"}, (1, 3, 3, 4, 2), (1, 3, 2, 4, 3)),
    ("dilated_same", {"filters": 2, "kernel_size": 2, "dilation_rate": (2, 1, 1),
                      "padding": "same"}, (1, 4, 2, 3, 2), (1, 4, 2, 3, 2)),
    ("groups_relu", {"filters": 4, "kernel_size": 2, "groups": 2, "activation": "relu"},
     (1, 3, 2, 3, 4), (1, 2, 1, 2, 4)),
    ("1x1x1", {"filters": 3, "kernel_size": 1}, (2, 2, 3, 2, 2), (2, 2, 3, 2, 3)),
    ("1x1x1_stride2_no_bias", {"filters": 2, "kernel_size": 1, "strides": 2, "use_bias": False},
     (1, 3, 3, 4, 2), (1, 2, 2, 2, 2)),
    ("kernel_equals_input", {"filters": 2, "kernel_size": (2, 3, 2)}, (2, 2, 3, 2, 1),
     (2, 1, 1, 1, 2)),
]  # fmt: skip


@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv3d(case):
    _, kwargs, shape, out_shape = case
    use_bias = kwargs.get("use_bias", True)
    ref_kw = {k: kwargs[k] for k in ("strides", "dilation_rate", "groups") if k in kwargs}
    ref_kw["padding"] = kwargs.get("padding", "valid").lower()
    layer = run_layer_test(
        L.Conv3D,
        kwargs,
        shape,
        expected_output_shape=out_shape,
        expected_num_weights=2 if use_bias else 1,
        reference=lambda x, w: conv_ref(
            x, w[0], w[1] if use_bias else None, act=kwargs.get("activation"), **ref_kw
        ),
    )
    channels = shape[-1] // kwargs.get("groups", 1)
    assert layer.get_weights()[0].shape == layer.kernel_size + (channels, kwargs["filters"])


TRANSPOSE_CASES = [
    ("valid", {"filters": 2, "kernel_size": 2}, (2, 2, 3, 2, 2), (2, 3, 4, 3, 2)),
    ("valid_stride2_k3", {"filters": 2, "kernel_size": 3, "strides": 2}, (1, 2, 2, 1, 2),
     (1, 5, 5, 3, 2)),
    ("valid_stride3_k2", {"filters": 1, "kernel_size": 2, "strides": (3, 1, 2)},
     (1, 2, 2, 2, 2), (1, 6, 3, 4, 1)),
    ("same_stride2_k3", {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"},
     (1, 2, 2, 3, 2), (1, 4, 4, 6, 2)),
    ("same_output_padding", {"filters": 2, "kernel_size": (3, 2, 3), "strides": (2, 2, 3),
                             "padding": "same", "output_padding": (1, 0, 2)},
     (1, 2, 2, 2, 1), (1, 4, 2, 6, 2)),
    ("dilated", {"filters": 2, "kernel_size": 2, "dilation_rate": 2}, (1, 2, 3, 2, 2),
     (1, 4, 5, 4, 2)),
    ("1x1x1_tanh_no_bias", {"filters": 3, "kernel_size": 1, "activation": "tanh",
                            "use_bias": False}, (2, 2, 2, 3, 2), (2, 2, 2, 3, 3)),
]  # fmt: skip


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=[c[0] for c in TRANSPOSE_CASES])
def test_conv3d_transpose(case):
    _, kwargs, shape, out_shape = case
    use_bias = kwargs.get("use_bias", True)
    ref_kw = {k: kwargs[k] for k in ("strides", "padding", "output_padding", "dilation_rate")
              if k in kwargs}  # fmt: skip
    act = np.tanh if kwargs.get("activation") == "tanh" else (lambda y: y)
    layer = run_layer_test(
        L.Conv3DTranspose,
        kwargs,
        shape,
        expected_output_shape=out_shape,
        expected_num_weights=2 if use_bias else 1,
        reference=lambda x, w: act(
            conv_transpose_ref(x, w[0], w[1] if use_bias else None, **ref_kw)
        ),
    )
    assert layer.get_weights()[0].shape == layer.kernel_size + (kwargs["filters"], shape[-1])


# -- pooling through the harness ------------------------------------------------------------------
POOL_CASES = [
    ("max_default_odd", L.MaxPooling3D, {}, (2, 3, 5, 4, 2), (2, 1, 2, 2, 2)),
    ("max_overlap", L.MaxPooling3D, {"pool_size": (2, 3, 2), "strides": 1}, (1, 3, 4, 3, 2),
     (1, 2, 2, 2, 2)),
    ("max_same_3_2", L.MaxPooling3D, {"pool_size": 3, "strides": 2, "padding": "same"},
     (1, 4, 3, 5, 1), (1, 2, 2, 3, 1)),
    ("avg_valid_2_1x2x2", L.AveragePooling3D, {"pool_size": 2, "strides": (1, 2, 2)},
     (2, 3, 4, 5, 2), (2, 2, 2, 2, 2)),
    # asymmetric "same": the windows at the end hold fewer real cells, and only those count
    ("avg_same_3_2_asym", L.AveragePooling3D, {"pool_size": 3, "strides": 2,
                                               "padding": "same"}, (1, 4, 6, 2, 2),
     (1, 2, 3, 1, 2)),
    ("avg_same_2x3x2_1", L.AveragePooling3D, {"pool_size": (2, 3, 2), "strides": 1,
                                              "padding": "Same"}, (1, 2, 3, 3, 2),
     (1, 2, 3, 3, 2)),
]  # fmt: skip


@pytest.mark.parametrize("case", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_pooling3d(case):
    _, cls, kwargs, shape, out_shape = case
    pool_size, strides = kwargs.get("pool_size", 2), kwargs.get("strides")
    padding = kwargs.get("padding", "valid").lower()
    mode = "max" if cls is L.MaxPooling3D else "mean"
    run_layer_test(
        cls,
        kwargs,
        shape,
        expected_output_shape=out_shape,
        expected_num_weights=0,
        reference=lambda x, w: pool_ref(x, pool_size, strides, padding, mode),
    )


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("cls", [L.GlobalMaxPooling3D, L.GlobalAveragePooling3D])
def test_global_pooling3d(cls, keepdims):
    reduce = np.max if cls is L.GlobalMaxPooling3D else np.mean
    layer = run_layer_test(
        cls,
        {"keepdims": keepdims},
        (2, 2, 3, 2, 3),
        expected_output_shape=(2, 1, 1, 1, 3) if keepdims else (2, 3),
        reference=lambda x, w: reduce(x, axis=(1, 2, 3), keepdims=keepdims),
    )
    assert layer.get_config()["keepdims"] == keepdims


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"pool_size": (2, 3, 2), "strides": 1}, {"pool_size": 3, "strides": 2, "padding": "same"}],
)
def test_max_pool3d_gradient_with_ties_goes_to_the_first_maximum(kwargs):
    """Windows full of equal values: each window's gradient lands on its first cell in
    (d, h, w) row-major order; overlapping windows add up."""
    x = np.ones((2, 4, 5, 4, 2))
    x[:, 1:, 2:, 3:] = 0.5
    x[:, 3:, :, :2] = 2.0
    inp = ge.Input(shape=x.shape[1:], dtype="float64")
    model = ge.Model(inp, L.MaxPooling3D(dtype="float64", **kwargs)(inp))
    dy = np.random.default_rng(0).standard_normal(model(x).shape)
    (dx,), _ = model.vjp(x, dy)
    expected = max_pool_backward_ref(
        x, dy, kwargs.get("pool_size", 2), kwargs.get("strides"), kwargs.get("padding", "valid")
    )
    np.testing.assert_allclose(dx, expected, rtol=1e-12)
    np.testing.assert_allclose(dx.sum(), dy.sum(), rtol=1e-12)


# -- Keras 3 reference numbers ---------------------------------------------------------------------
LAYERS_3D = ("Conv3D", "Conv3DTranspose", "MaxPooling3D", "AveragePooling3D",
             "GlobalMaxPooling3D", "GlobalAveragePooling3D")  # fmt: skip


@pytest.fixture(scope="module")
def conv3d_arrays() -> dict[str, np.ndarray]:
    with np.load(os.path.join(REF_DIR, "conv3d.npz"), allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


@pytest.mark.parametrize("case", keras_cases(LAYERS_3D, "conv3d"), ids=lambda c: c["id"])
def test_matches_keras(case, conv3d_arrays):
    check_keras_case(case, conv3d_arrays)


def test_keras_reference_covers_every_layer_and_padding():
    cases = keras_cases(LAYERS_3D, "conv3d")
    assert {c["layer"] for c in cases} == set(LAYERS_3D)
    kinds = {(c["layer"], c["kwargs"].get("padding", "valid")) for c in cases}
    assert {(layer, p) for layer in LAYERS_3D[:4] for p in ("valid", "same")} <= kinds
    assert any(c["kwargs"].get("groups", 1) > 1 for c in cases if c["layer"] == "Conv3D")


# -- SpatialDropout3D -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, shape, spatial",
    [({}, (8, 2, 3, 2, 50), (1, 2, 3)), ({"data_format": "channels_first"}, (8, 50, 2, 2, 3),
                                        (2, 3, 4))],
    ids=["channels_last", "channels_first"],
)  # fmt: skip
def test_spatial_dropout3d_drops_whole_channels(kwargs, shape, spatial):
    rate = 0.25
    x = np.random.default_rng(0).uniform(1.0, 2.0, shape).astype(np.float32)
    inp = ge.Input(shape[1:])
    model = ge.Model(inp, L.SpatialDropout3D(rate, seed=11, **kwargs)(inp))
    y = model(x, training=True)
    kept = y != 0
    per_channel = kept.all(axis=spatial)
    assert (per_channel == kept.any(axis=spatial)).all(), "a channel is kept or dropped whole"
    sd = np.sqrt(rate * (1 - rate) / per_channel.size)
    assert abs(per_channel.mean() - (1 - rate)) <= 5 * sd
    np.testing.assert_allclose(y[kept], x[kept] / (1 - rate), rtol=1e-6)
    (dx,), _ = model.vjp(x, np.ones_like(x), training=True)  # dx = the (fresh) mask
    mask = dx.max(axis=spatial, keepdims=True)
    np.testing.assert_array_equal(dx, np.broadcast_to(mask, dx.shape))  # whole channels
    assert set(np.unique(mask)) == {0.0, np.float32(1 / (1 - rate))}
    np.testing.assert_array_equal(model(x), x)  # inference: the identity
    again = ge.Model(inp, L.SpatialDropout3D(rate, seed=11, **kwargs)(inp))
    np.testing.assert_array_equal(again(x, training=True), y)  # the same seed, the same mask


def test_spatial_dropout3d_harness_and_config():
    layer = run_layer_test(
        L.SpatialDropout3D,
        {"rate": 0.3, "seed": 4},
        (2, 2, 2, 2, 3),
        expected_output_shape=(2, 2, 2, 2, 3),
        expected_num_weights=0,
        reference=lambda x, w: x,
    )
    assert layer.name.startswith("spatial_dropout3d")
    config = layer.get_config()
    assert config["data_format"] == "channels_last" and config["rate"] == 0.3
    assert config["seed"] == 4


# -- configs, names, argument order ---------------------------------------------------------------
def test_aliases_default_names_and_config():
    assert L.Convolution3D is L.Conv3D and L.Convolution3DTranspose is L.Conv3DTranspose
    assert L.MaxPool3D is L.MaxPooling3D and L.AvgPool3D is L.AveragePooling3D
    assert L.GlobalMaxPool3D is L.GlobalMaxPooling3D
    assert L.GlobalAvgPool3D is L.GlobalAveragePooling3D
    assert L.Conv3D(2, 3).name.startswith("conv3d")
    assert L.Conv3DTranspose(2, 3).name.startswith("conv3d_transpose")
    assert L.MaxPooling3D().name.startswith("max_pooling3d")
    assert L.GlobalAveragePooling3D().name.startswith("global_average_pooling3d")
    pool = L.AveragePooling3D((1, 2, 3), padding="SAME")
    assert pool.strides == (1, 2, 3) and pool.get_config()["padding"] == "same"
    config = L.Conv3D(4, (1, 2, 3), strides=(2, 1, 1), groups=2).get_config()
    assert config["kernel_size"] == [1, 2, 3] and config["strides"] == [2, 1, 1]
    assert config["groups"] == 2 and L.Conv3D.from_config(config).get_config() == config


def test_conv3d_transpose_takes_data_format_before_output_padding():
    """Keras's Conv3DTranspose order (Conv1D/2DTranspose have output_padding first)."""
    layer = L.Conv3DTranspose(2, 3, 2, "valid", "channels_last", 1)
    assert layer.output_padding == (1, 1, 1) and layer.data_format == "channels_last"
    config = layer.get_config()
    assert config["output_padding"] == [1, 1, 1] and "groups" not in config
    assert L.Conv3DTranspose.from_config(config).get_config() == config


# -- errors ---------------------------------------------------------------------------------------
def test_kernel_or_pool_larger_than_the_input_names_layer_and_shapes():
    pattern = r"Layer 'big3d' \(Conv3D\).*\(3, 3, 3, 1, 2\).*\(None, 2, 4, 4, 1\)"
    with pytest.raises(ValueError, match=pattern):
        L.Conv3D(2, 3, name="big3d")(ge.Input(shape=(2, 4, 4, 1)))
    with pytest.raises(ValueError, match=r"'big3d_eager'.*\(1, 2, 2, 3, 1\).*spatial axis 2"):
        L.Conv3D(2, (1, 1, 4), name="big3d_eager")(np.zeros((1, 2, 2, 3, 1), np.float32))
    with pytest.raises(
        ValueError, match=r"'pool3d' \(MaxPooling3D\).*\(2, 2, 2\).*\(None, 3, 1, 4, 2\)"
    ):
        L.MaxPooling3D(name="pool3d")(ge.Input(shape=(3, 1, 4, 2)))
    with pytest.raises(ValueError, match=r"'empty_up3d'.*\(None, 1, 1, 1, 2\).*output size 0"):
        L.Conv3DTranspose(2, 2, padding="same", output_padding=0, name="empty_up3d")(
            ge.Input(shape=(1, 1, 1, 2))
        )


@pytest.mark.parametrize(
    "factory, shape, pattern",
    [
        (lambda: L.Conv3D(2, 2, name="r4"), (4, 4, 2), r"'r4'.*expected ndim=5.*\(None, 4, 4, 2\)"),
        (lambda: L.Conv3DTranspose(2, 2, name="r6"), (2, 2, 2, 2, 1),
         r"'r6'.*expected ndim=5.*\(None, 2, 2, 2, 2, 1\)"),
        (lambda: L.AveragePooling3D(name="p4"), (4, 4, 2), r"'p4'.*expected ndim=5"),
        (lambda: L.GlobalMaxPooling3D(name="g4"), (4, 4, 2), r"'g4'.*expected ndim=5"),
        (lambda: L.SpatialDropout3D(0.5, name="d4"), (4, 4, 2), r"'d4'.*expected ndim=5"),
        (lambda: L.Conv3D(2, 2, name="nochan"), (3, 3, 3, None), r"'nochan'.*channel"),
        (lambda: L.Conv3D(4, 2, groups=2, name="g3"), (3, 3, 3, 3),
         r"'g3'.*3 channels.*groups=2.*\(None, 3, 3, 3, 3\)"),
    ],
    ids=["conv_rank4", "transpose_rank6", "pool_rank4", "global_rank4", "dropout_rank4",
         "no_channels", "groups"],
)  # fmt: skip
def test_impossible_inputs(factory, shape, pattern):
    with pytest.raises(ValueError, match=pattern):
        factory()(ge.Input(shape=shape))


@pytest.mark.parametrize(
    "factory, pattern",
    [
        (lambda: L.Conv3D(2, (3, 3)), r"kernel_size must be .*tuple of 3 positive ints, got"),
        (lambda: L.Conv3D(2, 3, strides=(1, 0, 1)), r"strides must be .*got \(1, 0, 1\)"),
        (lambda: L.Conv3D(2, 3, padding="causal"), r"padding must be one of 'valid', 'same'"),
        (lambda: L.Conv3D(2, 3, strides=2, dilation_rate=(1, 2, 1)), r"strides > 1 cannot"),
        (lambda: L.Conv3D(2, 3, data_format="channels_first"), r"NDHWC"),
        (lambda: L.Conv3DTranspose(2, 3, strides=(2, 1, 2), output_padding=1),
         r"output_padding must be smaller than strides.*\(1, 1, 1\).*\(2, 1, 2\)"),
        (lambda: L.MaxPooling3D((2, 2)), r"pool_size must be .*tuple of 3"),
        (lambda: L.AveragePooling3D(2, strides=0), r"strides must be"),
        (lambda: L.GlobalAveragePooling3D(data_format="channels_first"), r"channels_last"),
        (lambda: L.SpatialDropout3D(1.0), r"rate must be in \[0, 1\), got rate=1.0"),
        (lambda: L.SpatialDropout3D(0.5, data_format="NDHWC"), r"'channels_last' or"),
    ],
    ids=["kernel_rank", "strides", "causal", "stride_dilation", "data_format", "output_padding",
         "pool_rank", "pool_strides", "global_format", "rate", "dropout_format"],
)  # fmt: skip
def test_bad_arguments(factory, pattern):
    with pytest.raises(ValueError, match=pattern):
        factory()


def test_unknown_keywords():
    with pytest.raises(TypeError, match="did you mean 'dilation_rate'"):
        L.Conv3D(2, 3, dilation=2)
    with pytest.raises(TypeError, match="'groups'"):
        L.Conv3DTranspose(2, 3, groups=2)
    with pytest.raises(TypeError, match="did you mean 'pool_size'"):
        L.MaxPooling3D(pool=2)


# -- saving ---------------------------------------------------------------------------------------
def test_save_and_load_round_trip(tmp_path):
    x = ge.Input(shape=(4, 4, 4, 1))
    h = L.Conv3D(2, 3, padding="same", activation="relu", kernel_regularizer="l2")(x)
    h = L.SpatialDropout3D(0.2, seed=1)(h)
    h = L.MaxPool3D()(h)
    h = L.Conv3DTranspose(2, 2, strides=2, output_padding=(1, 0, 1))(h)
    h = L.AveragePooling3D(2, strides=1, padding="same")(h)
    model = ge.Model(x, L.GlobalMaxPooling3D(keepdims=True)(h))
    path = str(tmp_path / "cnn3d.gez")
    model.save(path)
    loaded = ge.models.load_model(path)
    xs = np.random.default_rng(0).random((2, 4, 4, 4, 1), dtype=np.float32)
    np.testing.assert_array_equal(loaded(xs), model(xs))
    assert [type(layer).__name__ for layer in loaded.layers] == [
        type(layer).__name__ for layer in model.layers
    ]
