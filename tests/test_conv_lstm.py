"""ConvLSTM2D: a naive NumPy reference and the float64 gradient check through the layer
harness, Keras 3's numbers (forward, dx, dkernel, drecurrent_kernel, dbias; strides, dilation,
"same", masks, return_state, go_backwards, stateful), dropout, save/load and errors."""

import numpy as np
import pytest

import graphengine as ge
from layer_harness import run_layer_test
from sequences_reference import cases, replay

L = ge.layers


def conv2d(x, w, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """Naive channels-last convolution: x (N, H, W, C), w (kh, kw, C, F); "same" pads as
    TensorFlow (the odd cell at the end)."""
    kh, kw = w.shape[:2]
    pads = []
    for size, k, s, d in zip(x.shape[1:3], (kh, kw), strides, dilation):
        extent = (k - 1) * d + 1
        if padding == "same":
            out = -(-size // s)
            total = max((out - 1) * s + extent - size, 0)
            pads.append((total // 2, total - total // 2))
        else:
            pads.append((0, 0))
    xp = np.pad(x, ((0, 0), *pads, (0, 0)))
    oh = (xp.shape[1] - (kh - 1) * dilation[0] - 1) // strides[0] + 1
    ow = (xp.shape[2] - (kw - 1) * dilation[1] - 1) // strides[1] + 1
    y = np.zeros((x.shape[0], oh, ow, w.shape[-1]))
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dilation[0], j * dilation[1]
            patch = xp[
                :, r0 : r0 + strides[0] * oh : strides[0], c0 : c0 + strides[1] * ow : strides[1]
            ]
            y += patch @ w[i, j]
    return y


def conv_lstm_reference(x, weights, return_sequences=False, go_backwards=False, **conv):
    kernel, recurrent = weights[0], weights[1]
    bias = weights[2] if len(weights) > 2 else 0.0
    sigmoid = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    F = kernel.shape[-1] // 4
    h = c = None
    outs = []
    steps = range(x.shape[1] - 1, -1, -1) if go_backwards else range(x.shape[1])
    for t in steps:
        z = conv2d(x[:, t], kernel, **conv) + bias
        if h is None:
            h = c = np.zeros(z.shape[:-1] + (F,))
        z = z + conv2d(h, recurrent, padding="same")
        i, f, g, o = (z[..., k * F : (k + 1) * F] for k in range(4))
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        outs.append(h)
    return np.stack(outs, 1) if return_sequences else h


@pytest.mark.parametrize("case", cases("conv_lstm"), ids=lambda c: c["id"])
def test_matches_keras(case):
    replay(case)


@pytest.mark.parametrize(
    "kwargs, in_shape, out_shape",
    [
        ({"padding": "same", "return_sequences": True}, (2, 3, 4, 4, 2), (2, 3, 4, 4, 2)),
        ({"strides": 2, "go_backwards": True}, (2, 3, 4, 4, 2), (2, 1, 1, 2)),
        ({"dilation_rate": (1, 2), "use_bias": False}, (2, 2, 4, 6, 2), (2, 2, 2, 2)),
    ],
    ids=["same_sequences", "strides_backwards", "dilation_no_bias"],
)
def test_layer_harness_with_a_naive_reference(kwargs, in_shape, out_shape):
    """Build, eager vs compiled, weights, config, the NumPy reference and the float64
    central-difference check of dx, dkernel, drecurrent_kernel and dbias."""
    conv = {
        "strides": (kwargs.get("strides", 1),) * 2,
        "padding": kwargs.get("padding", "valid"),
        "dilation": kwargs.get("dilation_rate", (1, 1)),
    }
    seq = {k: kwargs[k] for k in ("return_sequences", "go_backwards") if k in kwargs}
    layer = run_layer_test(
        L.ConvLSTM2D,
        {"filters": 2, "kernel_size": 3, **kwargs},
        in_shape,
        expected_output_shape=out_shape,
        expected_num_weights=3 if kwargs.get("use_bias", True) else 2,
        reference=lambda x, w: conv_lstm_reference(x, w, **seq, **conv),
    )
    assert layer.kernel.shape == (3, 3, 2, 8) and layer.recurrent_kernel.shape == (3, 3, 2, 8)


def test_default_weights_and_config():
    layer = L.ConvLSTM2D(4, (2, 3), name="clstm")
    layer(np.zeros((1, 2, 5, 5, 3), "float32"))
    kernel, recurrent, bias = layer.get_weights()
    assert kernel.shape == (2, 3, 3, 16) and recurrent.shape == (2, 3, 4, 16)
    np.testing.assert_array_equal(bias, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])
    r = recurrent.reshape(-1, 16)  # orthogonal
    np.testing.assert_allclose(r.T @ r, np.eye(16), atol=1e-5)
    assert [w.path for w in layer.weights] == [
        "clstm/conv_lstm_cell/kernel",
        "clstm/conv_lstm_cell/recurrent_kernel",
        "clstm/conv_lstm_cell/bias",
    ]
    config = layer.get_config()
    for key, value in {
        "filters": 4,
        "kernel_size": [2, 3],
        "strides": [1, 1],
        "padding": "valid",
        "data_format": "channels_last",
        "recurrent_activation": "sigmoid",
        "unit_forget_bias": True,
        "return_sequences": False,
        "stateful": False,
    }.items():
        assert config[key] == value, key
    assert layer.filters == 4 and layer.kernel_size == (2, 3)


def test_stateful_batches_and_save_load(tmp_path):
    inp = ge.Input(batch_shape=(2, 2, 4, 4, 1))
    layer = L.ConvLSTM2D(2, 3, padding="same", stateful=True, return_sequences=True)
    model = ge.Model(inp, layer(inp))
    x = np.random.default_rng(0).standard_normal((2, 4, 4, 4, 1)).astype("float32")
    got = np.concatenate([model(x[:, :2]), model(x[:, 2:])], axis=1)
    other = L.ConvLSTM2D(2, 3, padding="same", return_sequences=True)
    other(x)
    other.set_weights(layer.get_weights())
    np.testing.assert_allclose(got, other(x), rtol=1e-5, atol=1e-6)
    assert [v.shape for v in layer.states] == [(2, 4, 4, 2)] * 2
    layer.reset_states()
    model.save(tmp_path / "m.gez")
    loaded = ge.models.load_model(tmp_path / "m.gez")
    assert loaded.layers[1].stateful
    np.testing.assert_array_equal(loaded(x[:, :2]), model(x[:, :2]))


def test_dropout_is_identity_at_inference_and_random_in_training():
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 4, 2)).astype("float32")
    plain = L.ConvLSTM2D(2, 3, padding="same")
    drop = L.ConvLSTM2D(2, 3, padding="same", dropout=0.5, recurrent_dropout=0.3, seed=1)
    plain(x)
    drop(x)
    drop.set_weights(plain.get_weights())
    np.testing.assert_allclose(drop(x), plain(x), rtol=1e-6)
    trained = drop(x, training=True)
    assert np.all(np.isfinite(trained)) and not np.allclose(trained, plain(x))
    inp = ge.Input((3, 4, 4, 2))
    model = ge.Model(inp, L.GlobalAveragePooling2D()(drop(inp)))
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(x, np.zeros((2, 2)), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))


def test_errors():
    with pytest.raises(ValueError, match=r"conv_lstm2d.*expected ndim=5, received shape"):
        L.ConvLSTM2D(2, 3, name="conv_lstm2d_e")(ge.Input((3, 4, 4)))
    with pytest.raises(ValueError, match="expected ndim=5"):
        L.ConvLSTM2D(2, 3)(np.zeros((2, 3, 4, 4)))
    with pytest.raises(ValueError, match="strides > 1 is not compatible with dilation_rate > 1"):
        L.ConvLSTM2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="padding must be one of 'valid', 'same'"):
        L.ConvLSTM2D(2, 3, padding="causal")
    with pytest.raises(ValueError, match="filters must be a positive integer"):
        L.ConvLSTM2D(0, 3)
    with pytest.raises(ValueError, match="height, width and channels of the input must be known"):
        L.ConvLSTM2D(2, 3)(ge.Input((3, None, 4, 2)))
    with pytest.raises(ValueError, match="does not fit input shape"):
        L.ConvLSTM2D(2, 5)(ge.Input((3, 4, 4, 2)))
    with pytest.raises(ValueError, match="stateful=True needs a fixed batch size"):
        L.ConvLSTM2D(2, 3, stateful=True)(ge.Input((3, 4, 4, 2)))
    with pytest.raises(ValueError, match=r"has 2 states \[h, c\], but initial_state has 1"):
        L.ConvLSTM2D(2, 3)(ge.Input((3, 4, 4, 2)), initial_state=[ge.Input((2, 2, 2))])
