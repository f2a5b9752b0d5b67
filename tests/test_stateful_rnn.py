"""stateful=True for SimpleRNN, LSTM, GRU and RNN(cell): states carried from batch to batch in
calls, predict, evaluate and fit, equal to one pass over the concatenated sequence; Keras 3's
numbers over two batches and a fit; reset_states; states never weights, never shared between
models, not saved; clear errors for an unknown or a different batch size."""

import numpy as np
import pytest

import graphengine as ge
from sequences_reference import cases, replay

L = ge.layers
B, T, D, U = 2, 3, 4, 3


def data(steps=2 * T, seed=0, dtype="float64"):
    return np.random.default_rng(seed).standard_normal((B, steps, D)).astype(dtype)


def stateful_model(layer, dtype="float64"):
    x = ge.Input(batch_shape=(B, T, D), dtype=dtype)
    return ge.Model(x, layer(x))


def twin(layer, steps=2 * T, dtype="float64"):
    """The same layer not stateful, over `steps` steps, with the same weights."""
    config = {**layer.get_config(), "stateful": False, "name": None}
    other = type(layer).from_config(config)
    x = ge.Input((steps, D), dtype=dtype)
    model = ge.Model(x, other(x))
    other.set_weights(layer.get_weights())
    return model


@pytest.mark.parametrize("case", cases("stateful"), ids=lambda c: c["id"])
def test_matches_keras(case):
    """Two batches (outputs, states, gradients of the second) and one epoch of fit."""
    replay(case)


LAYERS = {
    "simple_rnn": lambda: L.SimpleRNN(U, stateful=True, return_sequences=True, dtype="float64"),
    "lstm": lambda: L.LSTM(U, stateful=True, dtype="float64"),
    "gru_reset_before": lambda: L.GRU(U, stateful=True, reset_after=False, dtype="float64"),
    # softsign has no fused kernel: the cell is unrolled step by step
    "rnn_unrolled_cell": lambda: L.RNN(
        L.LSTMCell(U, activation="softsign", dtype="float64"), stateful=True, dtype="float64"
    ),
}


@pytest.mark.parametrize("make", LAYERS.values(), ids=LAYERS.keys())
def test_two_batches_equal_one_pass_over_the_concatenation(make):
    layer = make()
    model = stateful_model(layer)
    x = data()
    want = twin(layer)(x)
    if layer.return_sequences:
        got = np.concatenate([model(x[:, :T]), model(x[:, T:])], axis=1)
    else:
        model(x[:, :T])
        got = model(x[:, T:])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    layer.reset_states()
    for v in layer.states:
        np.testing.assert_array_equal(v.numpy(), 0.0)
    np.testing.assert_allclose(model(x[:, :T]), twin(layer, T)(x[:, :T]), rtol=1e-12)


def test_predict_evaluate_and_fit_carry_states_batch_to_batch():
    layer = L.GRU(U, stateful=True, dtype="float64")
    model = stateful_model(layer)
    x = data(T, seed=1)
    xs = np.concatenate([x, data(T, seed=2)])  # two batches of B samples, one after the other
    first = model.predict(xs[:B], batch_size=B, verbose=0)
    second = model(xs[B:])
    layer.reset_state()
    both = model.predict(xs, batch_size=B, verbose=0)
    np.testing.assert_allclose(both, np.concatenate([first, second]), rtol=1e-12)
    states = [v.numpy() for v in layer.states]
    model.compile(optimizer="sgd", loss="mse")
    layer.reset_states()
    model.evaluate(xs, np.zeros((2 * B, U)), batch_size=B, verbose=0)
    for v, s in zip(layer.states, states):
        np.testing.assert_allclose(v.numpy(), s, rtol=1e-12)
    layer.reset_states()
    model.fit(xs, np.zeros((2 * B, U)), batch_size=B, shuffle=False, verbose=0)
    assert all(np.abs(v.numpy()).sum() > 0 for v in layer.states)


def test_eager_calls_carry_states():
    layer = L.LSTM(U, stateful=True, return_sequences=True, dtype="float64")
    x = data()
    got = np.concatenate([layer(x[:, :T]), layer(x[:, T:])], axis=1)
    np.testing.assert_allclose(got, twin(layer)(x), rtol=1e-12)


def test_masked_steps_hold_the_states_across_batches():
    x = data()
    x[:, T - 1 :: 2] = 0.0  # every other step from the end of batch one: padding
    inp = ge.Input(batch_shape=(B, T, D), dtype="float64")
    lstm = L.LSTM(U, stateful=True, dtype="float64")
    model = ge.Model(inp, lstm(L.Masking(dtype="float64")(inp)))
    model(x[:, :T])
    got = model(x[:, T:])
    i2 = ge.Input((2 * T, D), dtype="float64")
    other = L.LSTM(U, dtype="float64")
    whole = ge.Model(i2, other(L.Masking(dtype="float64")(i2)))
    other.set_weights(lstm.get_weights())
    np.testing.assert_allclose(got, whole(x), rtol=1e-12)


def test_states_are_not_weights_not_saved_and_not_shared(tmp_path):
    layer = L.LSTM(U, stateful=True)
    model = stateful_model(layer, "float32")
    assert len(layer.weights) == 3 and len(model.non_trainable_weights) == 0
    assert [v.shape for v in layer.states] == [(B, U), (B, U)]
    assert layer.get_config()["stateful"] is True
    clone = ge.models.clone_model(model)
    model(data(T, dtype="float32"))
    assert all(np.abs(v.numpy()).sum() > 0 for v in layer.states)
    assert all(np.abs(v.numpy()).sum() == 0 for v in clone.layers[1].states)
    model.save(tmp_path / "m.gez")
    loaded = ge.models.load_model(tmp_path / "m.gez")
    lstm = loaded.layers[1]
    assert lstm.stateful and [v.shape for v in lstm.states] == [(B, U), (B, U)]
    assert all(np.abs(v.numpy()).sum() == 0 for v in lstm.states)  # states start at zero
    layer.reset_states()
    x = data(T, dtype="float32")
    np.testing.assert_array_equal(loaded(x), model(x))
    np.testing.assert_array_equal(loaded(x), model(x))  # both moved on the same way


def test_bidirectional_of_a_stateful_layer_keeps_both_directions_states():
    bi = L.Bidirectional(L.GRU(U, stateful=True, dtype="float64"))
    model = stateful_model(bi)
    model(data(T))
    for layer in (bi.forward_layer, bi.backward_layer):
        assert layer.stateful and np.abs(layer.states[0].numpy()).sum() > 0
    carried = model(data(T))  # starts from the first call's states
    bi.reset_states()  # both directions back to zeros
    for layer in (bi.forward_layer, bi.backward_layer):
        assert not np.any(layer.states[0].numpy())
    fresh = stateful_model(L.Bidirectional(L.GRU(U, stateful=True, dtype="float64")))
    fresh.set_weights(model.get_weights())
    after = model(data(T))
    np.testing.assert_array_equal(after, fresh(data(T)))  # a fresh model's first call
    assert not np.array_equal(after, carried)


def test_unknown_batch_size_raises():
    with pytest.raises(ValueError, match=r"'lstm.*stateful=True needs a fixed batch size"):
        L.LSTM(U, stateful=True, name="lstm_nb")(ge.Input((T, D)))
    with pytest.raises(ValueError, match="stateful=True needs a fixed batch size"):
        ge.Sequential([L.GRU(U, stateful=True, input_shape=(T, D))])
    seq = ge.Sequential([L.GRU(U, stateful=True, input_shape=(T, D), batch_size=B)])
    assert [v.shape for v in seq.layers[0].states] == [(B, U)]


def test_a_different_batch_size_raises_at_fit_predict_and_calls():
    model = stateful_model(L.LSTM(U, stateful=True, name="lstm_b2"), "float32")
    model.compile(optimizer="sgd", loss="mse")
    x, y = data(T, dtype="float32"), np.zeros((B, U), "float32")
    three = np.concatenate([x, x[:1]])  # B + 1 samples: a last batch of 1
    match = r"'lstm_b2' \(LSTM\) is stateful with batch size 2.*batch of 1 samples"
    with pytest.raises(ValueError, match=match):
        model.predict(three, batch_size=B, verbose=0)
    with pytest.raises(ValueError, match="is stateful with batch size 2.*batch of 3 samples"):
        model.fit(three, np.concatenate([y, y[:1]]), batch_size=4, verbose=0)
    with pytest.raises(ValueError, match="is stateful with batch size 2"):
        model.layers[1](three)
    with pytest.raises(ValueError, match="is stateful with batch size 2"):
        model.layers[1](ge.Input(batch_shape=(3, T, D)))
