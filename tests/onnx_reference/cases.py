"""The seeded models of the ONNX export checks: generate.py runs their export in onnxruntime and
records the outputs; tests/test_onnx_export.py rebuilds the same models and compares."""

from __future__ import annotations

from typing import Callable

import numpy as np

import graphengine as ge

L = ge.layers
BATCH = 3


def randomize(model: ge.Model, seed: int) -> None:
    """Seeded weights, independent of the initializers: moving variances in [0.5, 1.5)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if "variance" in w.path:
            value = rng.uniform(0.5, 1.5, w.shape)
        else:
            value = rng.normal(0.0, 0.5, w.shape)
        w.assign(value.astype(w.dtype))


def mlp() -> ge.Model:
    x = ge.Input((6,), name="features")
    h = L.Dense(8, activation="relu")(x)
    h = L.Dropout(0.5)(h)
    h = L.Dense(8, activation="tanh")(h)
    return ge.Model(x, L.Dense(4, activation="softmax", name="probs")(h), name="mlp")


def activations() -> ge.Model:
    x = ge.Input((5,), name="x")
    h = L.Dense(6, activation="sigmoid")(x)
    kinds = ["gelu", "elu", "selu", "swish", "softplus", "softsign", "hard_sigmoid", "relu6"]
    kinds += ["mish", "hard_silu", "log_sigmoid", "exponential", "leaky_relu", "celu"]
    outs = [L.Activation(k)(h) for k in kinds] + [L.LeakyReLU(0.3)(h), L.ReLU(max_value=0.6)(h)]
    outs.append(L.ReLU(negative_slope=0.1, threshold=0.5)(h))
    return ge.Model(x, L.Concatenate()(outs), name="activations")


def cnn() -> ge.Model:
    x = ge.Input((8, 8, 2), name="image")
    h = L.Conv2D(4, 3, padding="same", activation="relu")(x)
    h = L.MaxPooling2D()(h)
    h = L.Conv2D(3, 2, strides=2, dilation_rate=1)(h)
    h = L.AveragePooling2D(pool_size=2, strides=1, padding="same")(h)
    h = L.Flatten()(h)
    return ge.Model(x, L.Dense(3, activation="softmax")(h), name="cnn")


def conv1d() -> ge.Model:
    x = ge.Input((10, 3), name="signal")
    h = L.Conv1D(4, 3, padding="causal", dilation_rate=2, activation="relu")(x)
    h = L.MaxPooling1D(2, padding="same")(h)
    h = L.Conv1D(2, 2, padding="same", strides=2)(h)
    return ge.Model(x, L.GlobalMaxPooling1D()(h), name="conv1d")


def batchnorm() -> ge.Model:
    x = ge.Input((6, 6, 3), name="image")
    h = L.Conv2D(4, 3, use_bias=False)(x)
    h = L.BatchNormalization()(h)
    h = L.Activation("relu")(h)
    h = L.GlobalAveragePooling2D()(h)
    h = L.Dense(5)(h)
    h = L.BatchNormalization(epsilon=1e-2)(h)
    return ge.Model(x, L.LayerNormalization()(h), name="batchnorm")


def lstm() -> ge.Model:
    x = ge.Input((5, 3), name="sequence")
    h = L.LSTM(4, return_sequences=True)(x)
    h = L.LSTM(3, go_backwards=True, return_sequences=True)(h)
    return ge.Model(x, L.LSTM(2)(h), name="lstm")


def gru() -> ge.Model:
    x = ge.Input((5, 3), name="sequence")
    h = L.GRU(4, return_sequences=True)(x)
    h = L.GRU(3, reset_after=False, go_backwards=True, return_sequences=True)(h)
    last = L.GRU(2)(h)
    return ge.Model(x, [last, L.SimpleRNN(3, go_backwards=True)(x)], name="gru")


def rnn_activations() -> ge.Model:
    """Activations that onnx's ReferenceEvaluator ignores (it runs sigmoid and tanh only)."""
    x = ge.Input((4, 3), name="sequence")
    h = L.LSTM(3, activation="relu", recurrent_activation="hard_sigmoid")(x)
    g = L.GRU(3, activation="relu", recurrent_activation="hard_sigmoid")(x)
    return ge.Model(x, L.Concatenate()([h, g]), name="rnn_activations")


def merges() -> ge.Model:
    a, b = ge.Input((4,), name="a"), ge.Input((4,), name="b")
    parts = [L.Add()([a, b]), L.Subtract()([a, b]), L.Multiply()([a, b])]
    parts += [L.Average()([a, b]), L.Maximum()([a, b]), L.Minimum()([a, b])]
    return ge.Model([a, b], L.Concatenate()(parts), name="merges")


def attention() -> ge.Model:
    x = ge.Input((5, 4), name="tokens")
    h = L.MultiHeadAttention(2, 3)(x, x)
    h = L.LayerNormalization()(L.Add()([x, h]))
    h = L.MultiHeadAttention(1, 2, value_dim=3)(h, h, use_causal_mask=True)
    return ge.Model(x, h, name="attention")


def embedding() -> ge.Model:
    ids = ge.Input((6,), dtype="int32", name="ids")
    h = L.Embedding(12, 4)(ids)
    h = L.GlobalAveragePooling1D()(h)
    return ge.Model(ids, L.Dense(2)(h), name="embedding")


# name -> (builder, whether onnx's ReferenceEvaluator can run it)
CASES: dict[str, tuple[Callable[[], ge.Model], bool]] = {
    "mlp": (mlp, True),
    "activations": (activations, True),
    "cnn": (cnn, True),
    "conv1d": (conv1d, True),
    "batchnorm": (batchnorm, True),
    "lstm": (lstm, True),
    "gru": (gru, True),
    "rnn_activations": (rnn_activations, False),
    "merges": (merges, True),
    "attention": (attention, True),
    "embedding": (embedding, True),
}


def build(name: str, seed: int = 0) -> tuple[ge.Model, list[np.ndarray]]:
    """The case's model with seeded weights, and seeded inputs for it (BATCH rows)."""
    model = CASES[name][0]()
    randomize(model, seed)
    rng = np.random.default_rng(seed + 1)
    inputs = []
    for t in model.inputs:
        shape = (BATCH,) + tuple(t.shape[1:])
        if np.dtype(t.dtype).kind in "iu":
            inputs.append(rng.integers(0, 12, shape).astype(t.dtype))
        else:
            inputs.append(rng.normal(0.0, 1.0, shape).astype(t.dtype))
    return model, inputs
