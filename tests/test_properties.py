"""Property tests over random layer stacks, shapes, batch sizes and non-finite inputs: predict,
model(x) and predict_on_batch agree, a sample's answer does not depend on the other samples of
its batch, and a NaN in a sample reaches that sample's output (nothing swallows it)."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphengine as ge

L = ge.layers
ACTIVATIONS = [None, "relu", "tanh", "sigmoid", "softmax", "elu", "selu", "gelu", "swish"]
UNITS = st.integers(1, 6)
activation = st.sampled_from(ACTIVATIONS)

# Layers that keep a NaN in a sample visible in that sample's output (each output depends on
# every input of its sample, or on the same position for elementwise ones)
FLAT_LAYERS = st.one_of(
    st.builds(lambda u, a: L.Dense(u, activation=a), UNITS, activation),
    st.builds(lambda a: L.Activation(a or "linear"), activation),
    st.builds(lambda: L.LayerNormalization()),
    st.builds(lambda: L.BatchNormalization()),
    st.builds(lambda: L.Dropout(0.5)),
)
SEQUENCE_LAYERS = st.one_of(
    st.builds(
        lambda u, k, a: L.Conv1D(u, k, padding="same", activation=a),
        UNITS,
        st.integers(1, 3),
        activation,
    ),
    st.builds(lambda u: L.LSTM(u, return_sequences=True), UNITS),
    st.builds(lambda u: L.GRU(u, return_sequences=True), UNITS),
    st.builds(lambda u: L.SimpleRNN(u, return_sequences=True), UNITS),
    st.builds(lambda u, a: L.Dense(u, activation=a), UNITS, activation),
    st.builds(lambda: L.LayerNormalization()),
)
SEQUENCE_TO_FLAT = st.sampled_from(["flatten", "global_average", "lstm"])


@st.composite
def stacks(draw) -> tuple[ge.Model, tuple]:
    """A Sequential of random layers on a rank-2 or rank-3 input, with its sample shape."""
    if draw(st.booleans()):
        shape: tuple = (draw(st.integers(1, 5)),)
        layers = draw(st.lists(FLAT_LAYERS, min_size=1, max_size=4))
    else:
        shape = (draw(st.integers(1, 4)), draw(st.integers(1, 3)))
        layers = draw(st.lists(SEQUENCE_LAYERS, min_size=1, max_size=3))
        bridge = draw(SEQUENCE_TO_FLAT)
        layers.append(
            {
                "flatten": L.Flatten(),
                "global_average": L.GlobalAveragePooling1D(),
                "lstm": L.LSTM(draw(UNITS)),
            }[bridge]
        )
        layers += draw(st.lists(FLAT_LAYERS, max_size=2))
    return ge.Sequential([ge.Input(shape)] + layers), shape


@st.composite
def batches(draw, shape: tuple) -> np.ndarray:
    """A float32 batch of normal values with NaN, +inf and -inf sprinkled in some samples."""
    n = draw(st.integers(1, 7))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n,) + shape).astype(np.float32)
    flat = x.reshape(n, -1)
    for value in (np.nan, np.inf, -np.inf):
        hits = rng.random(flat.shape) < draw(st.sampled_from([0.0, 0.05, 0.2]))
        flat[hits] = value
    return x


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data())
def test_predict_call_and_predict_on_batch_agree(data):
    model, shape = data.draw(stacks())
    x = data.draw(batches(shape))
    whole = model(x)
    np.testing.assert_array_equal(model.predict_on_batch(x), whole)
    np.testing.assert_array_equal(model(x), whole)  # the repeated-call fast path
    batch_size = data.draw(st.integers(1, len(x)))
    np.testing.assert_allclose(
        model.predict(x, batch_size=batch_size, verbose=0), whole, rtol=2e-5, atol=1e-6
    )
    for i in range(len(x)):  # each sample alone: the same row (no leak between samples)
        np.testing.assert_allclose(model(x[i : i + 1])[0], whole[i], rtol=2e-5, atol=1e-6)
        if np.isnan(x[i]).any():
            assert np.isnan(whole[i]).any(), f"sample {i}'s NaN was swallowed by {model.layers}"
