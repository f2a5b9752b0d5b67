"""The fixture models, written once against the API graphengine and Keras 3 share: each builder
takes the library (`keras` or `graphengine`) and returns the same model, every layer named, so
the files either one writes name the same layers. `set_seeded_weights` gives both the same
weights; `inputs` the data predictions are recorded on."""

import numpy as np

SEED = 24


def mlp(lib):
    L = lib.layers
    return lib.Sequential(
        [
            lib.Input((6,), name="features"),
            L.Dense(8, activation="relu", name="hidden"),
            L.BatchNormalization(name="bn"),
            L.Dropout(0.2, name="drop"),
            L.Dense(3, activation="softmax", name="probs"),
        ],
        name="mlp",
    )


def cnn(lib):
    L = lib.layers
    return lib.Sequential(
        [
            lib.Input((8, 8, 2), name="image"),
            L.Conv2D(4, 3, padding="same", activation="relu", name="conv_a"),
            L.MaxPooling2D(2, name="pool"),
            L.Conv2D(3, 2, name="conv_b"),
            L.Flatten(name="flat"),
            L.Dense(2, name="logits"),
        ],
        name="cnn",
    )


def lstm(lib):
    L = lib.layers
    return lib.Sequential(
        [
            lib.Input((5, 3), name="series"),
            L.LSTM(4, return_sequences=True, name="lstm_a"),
            L.LSTM(3, name="lstm_b"),
        ],
        name="lstm_stack",
    )


def gru(lib):
    L = lib.layers
    x = lib.Input((5, 3), name="series")
    h = L.GRU(4, return_sequences=True, name="gru_a")(x)
    h = L.GRU(3, go_backwards=True, name="gru_b")(h)
    return lib.Model(x, L.Dense(2, activation="tanh", name="head")(h), name="gru_net")


def embedding(lib):
    L = lib.layers
    return lib.Sequential(
        [
            lib.Input((6,), dtype="int32", name="tokens"),
            L.Embedding(10, 4, name="embed"),
            L.GlobalAveragePooling1D(name="mean"),
            L.Dense(2, name="out"),
        ],
        name="bag_of_words",
    )


def merges(lib):
    L = lib.layers
    a, b = lib.Input((4,), name="left"), lib.Input((4,), name="right")
    added = L.Add(name="add")([L.Dense(3, name="dense_l")(a), L.Dense(3, name="dense_r")(b)])
    joined = L.Concatenate(name="concat")([added, a, L.Multiply(name="mul")([a, b])])
    return lib.Model([a, b], L.Dense(2, name="out")(joined), name="two_inputs")


def nested(lib):
    L = lib.layers
    block = lib.Sequential(
        [lib.Input((4,), name="block_in"), L.Dense(5, activation="tanh", name="block_dense"),
         L.LayerNormalization(name="block_norm")],
        name="block",
    )  # fmt: skip
    i = lib.Input((5,), name="shared_in")
    shared = lib.Model(i, L.Dense(3, name="shared_dense")(i), name="shared")
    x = lib.Input((4,), name="x")
    h = block(x)
    both = L.Subtract(name="sub")([shared(h), shared(L.Activation("relu", name="relu")(h))])
    return lib.Model(x, L.Dense(2, name="out")(both), name="nested")


def attention(lib):
    L = lib.layers
    q = lib.Input((4, 6), name="tokens")
    attended = L.MultiHeadAttention(2, 3, name="mha")(q, q)
    h = L.LayerNormalization(name="norm")(L.Add(name="residual")([q, attended]))
    out = L.Dense(2, name="out")(L.GlobalAveragePooling1D(name="pool")(h))
    return lib.Model(q, out, name="attention_block")


ARCHITECTURES = {f.__name__: f for f in (mlp, cnn, lstm, gru, embedding, merges, nested, attention)}


def set_seeded_weights(model, seed=SEED):
    """Uniform(-0.6, 0.6) weights (variances in [0.5, 1.1]), in get_weights() order."""
    rng = np.random.default_rng(seed)
    values = []
    for w in model.weights:
        value = rng.uniform(-0.6, 0.6, tuple(w.shape)).astype("float32")
        values.append(np.abs(value) + 0.5 if "variance" in w.name else value)
    model.set_weights(values)


def inputs(model, seed=SEED + 1):
    """Three samples for each input of `model` (ids below 10 for integer inputs)."""
    rng = np.random.default_rng(seed)
    arrays = []
    for t in model.inputs:
        shape = (3, *t.shape[1:])
        if "int" in str(t.dtype):
            arrays.append(rng.integers(0, 10, shape).astype("int32"))
        else:
            arrays.append(rng.standard_normal(shape).astype("float32"))
    return arrays
