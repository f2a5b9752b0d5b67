"""Masking and masks end to end: Masking's outputs and mask, padded batches through LSTM, GRU,
SimpleRNN, Bidirectional and TimeDistributed(Dense) into the mask-aware GlobalAveragePooling1D
(Keras 3's numbers: forward and every gradient), float64 gradient checks, configs, errors."""

import numpy as np
import pytest

import graphengine as ge
from gradcheck import check_model_grads
from layer_harness import run_layer_test
from sequences_reference import cases, replay

L = ge.layers


def padded(mask_value=0.0, dtype="float64", seed=0):
    """(4, 5, 3): trailing, leading and middle padding; row 3 has a step that only partly
    equals mask_value (kept)."""
    x = np.random.default_rng(seed).standard_normal((4, 5, 3)).astype(dtype)
    x[0, 3:], x[1, 0], x[2, 2] = mask_value, mask_value, mask_value
    x[3, 2, :2] = mask_value
    return x


KEEP = np.ones((4, 5), bool)
KEEP[0, 3:], KEEP[1, 0], KEEP[2, 2] = False, False, False


@pytest.mark.parametrize("case", cases("masking"), ids=lambda c: c["id"])
def test_matches_keras(case):
    """Outputs, dx and every weight gradient of the same padded model in Keras 3."""
    replay(case)


def test_masking_outputs_and_mask():
    x = padded()
    x[1, 3, 1] = np.nan  # NaN differs from 0: the step is kept, the NaN passes
    inp = ge.Input((5, 3), dtype="float64")
    y = L.Masking(dtype="float64")(inp)
    np.testing.assert_array_equal(ge.Model(inp, y.mask)(x), KEEP)
    want = np.where(KEEP[..., None], x, 0.0)
    np.testing.assert_array_equal(ge.Model(inp, y)(x), want)
    np.testing.assert_array_equal(L.Masking(dtype="float64")(x), want)  # eager


def test_masking_harness_and_gradients():
    """Build, config, eager vs compiled, and the float64 gradient check; masked steps get a
    zero gradient."""
    layer = run_layer_test(
        L.Masking,
        {"mask_value": 0.5},
        (4, 5, 3),
        expected_output_shape=(4, 5, 3),
        expected_num_weights=0,
        input_data=padded(0.5),
        reference=lambda x, w: np.where(np.any(x != 0.5, -1, keepdims=True), x, 0.0),
        grad_check=False,  # a step at mask_value is a discontinuity: the exact check below
    )
    assert layer.get_config()["mask_value"] == 0.5
    inp = ge.Input((5, 3), dtype="float64")
    model = ge.Model(inp, L.Masking(dtype="float64")(inp))
    dx, _ = model.vjp(padded(), np.ones((4, 5, 3)))
    np.testing.assert_array_equal(dx[0], np.broadcast_to(KEEP[..., None], (4, 5, 3)))


@pytest.mark.parametrize(
    "body",
    [
        lambda x, m: L.LSTM(3, dtype="float64")(x, mask=m),
        lambda x, m: L.GlobalAveragePooling1D(dtype="float64")(
            L.GRU(2, return_sequences=True, dtype="float64")(x, mask=m), mask=m
        ),
        lambda x, m: L.GlobalAveragePooling1D(dtype="float64")(
            L.Bidirectional(L.SimpleRNN(2, return_sequences=True, dtype="float64"))(x, mask=m),
            mask=m,
        ),
    ],
    ids=["lstm", "gru_pool", "bidirectional_pool"],
)
def test_masked_models_gradcheck(body):
    """Central differences through masked recurrent layers and the masked mean (the mask an
    input of its own: Masking itself is discontinuous at mask_value, its gradient is checked
    exactly above)."""
    inp, m = ge.Input((5, 3), dtype="float64"), ge.Input((5,), dtype="bool")
    model = ge.Model([inp, m], body(inp, m))
    check_model_grads(model, [padded(), KEEP], seed=1)


def test_padding_changes_nothing_for_the_kept_steps():
    """A masked LSTM over a padded row equals the LSTM over the row's kept steps alone."""
    x = padded()
    inp = ge.Input((None, 3), dtype="float64")
    lstm = L.LSTM(3, dtype="float64")
    model = ge.Model(inp, lstm(L.Masking(dtype="float64")(inp)))
    got = model(x)
    for row in range(4):
        alone = lstm(x[row : row + 1, KEEP[row]])
        np.testing.assert_allclose(got[row : row + 1], alone, rtol=1e-12)


def test_global_average_pooling_ignores_non_finite_masked_steps():
    """A selection, as Keras: inf or NaN in a masked step never reaches the mean."""
    x = np.ones((1, 3, 2))
    x[0, 1] = [np.inf, np.nan]
    mask = np.array([[True, False, True]])
    inp, m = ge.Input((3, 2), dtype="float64"), ge.Input((3,), dtype="bool")
    model = ge.Model([inp, m], L.GlobalAveragePooling1D(dtype="float64")(inp, mask=m))
    np.testing.assert_array_equal(model([x, mask]), [[1.0, 1.0]])


def test_embedding_mask_into_global_average_pooling():
    ids = np.array([[3, 1, 0, 0], [0, 2, 2, 5]])
    inp = ge.Input((4,), dtype="int32")
    emb = L.Embedding(6, 2, mask_zero=True, dtype="float64")
    model = ge.Model(inp, L.GlobalAveragePooling1D(dtype="float64")(emb(inp)))
    table = emb.get_weights()[0]
    want = [table[[3, 1]].mean(0), table[[2, 2, 5]].mean(0)]
    np.testing.assert_allclose(model(ids), want, rtol=1e-12)


def test_save_load_round_trip(tmp_path):
    inp = ge.Input((5, 3))
    x = L.Masking(mask_value=-1.0)(inp)
    model = ge.Model(inp, L.GlobalAveragePooling1D()(L.GRU(2, return_sequences=True)(x)))
    model.save(tmp_path / "m.gez")
    loaded = ge.models.load_model(tmp_path / "m.gez")
    assert loaded.layers[1].mask_value == -1.0
    data = padded(-1.0, "float32")
    np.testing.assert_array_equal(loaded(data), model(data))


@pytest.mark.parametrize("bad", ["0", None, [0.0], True, np.zeros(2)])
def test_bad_mask_value_type(bad):
    with pytest.raises(TypeError, match=r"Masking '.*': mask_value must be a real number"):
        L.Masking(mask_value=bad)
