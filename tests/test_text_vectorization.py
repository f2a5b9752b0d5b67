"""TextVectorization: Keras 3's vocabularies and outputs (tests/keras_reference/preprocessing.json),
strings through fit / evaluate / predict, saving, and errors."""

import json

import numpy as np
import pytest
from test_preprocessing_layers import REF, assert_matches_keras, replay_lookup

import graphengine as ge

L = ge.layers
CASES = [c for c in REF["lookups"] if c["layer"] == "TextVectorization"]
CORPUS = ["The cat sat.", "A dog ran!", "the dog and the cat", "birds fly high"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_matches_keras(case):
    layer, out = replay_lookup(case)
    assert_matches_keras(case, layer, np.asarray(out))
    clone = L.TextVectorization.from_config(json.loads(json.dumps(layer.get_config())))
    clone.build_from_config(json.loads(json.dumps(layer.get_build_config())))
    assert_matches_keras(case, clone, np.asarray(clone(np.array(case["call"]))))


def test_standardize_split_and_ngrams_by_hand():
    layer = L.TextVectorization(vocabulary=["x"], ngrams=(1, 2), output_sequence_length=6)
    tokens = layer._tokens(np.array(["Ab,C  d\xa0e"]), "input")
    assert tokens == [["abc", "d\xa0e", "abc d\xa0e"]]  # ASCII lowering, no \xa0 split
    chars = L.TextVectorization(split="character", standardize=None, vocabulary=["x"])
    assert chars._tokens(np.array(["héy"]), "input") == [["h", "é", "y"]]


def _text_model(**kwargs):
    vectorize = L.TextVectorization(max_tokens=12, **kwargs)
    vectorize.adapt(CORPUS)
    x = ge.Input(shape=(), dtype="string")
    h = vectorize(x)
    if vectorize.output_mode == "int":
        h = L.GlobalAveragePooling1D()(L.Embedding(12, 3)(h))
    return ge.Model(x, L.Dense(1, activation="sigmoid")(h)), vectorize


@pytest.mark.parametrize("kwargs", [{"output_sequence_length": 5}, {"output_mode": "tf_idf"}])
def test_strings_train_and_save(tmp_path, kwargs):
    ge.utils.set_random_seed(0)
    model, vectorize = _text_model(**kwargs)
    x, y = np.array(CORPUS + ["unseen words", ""]), np.array([1, 0, 1, 0, 0, 1.0])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(model(x.astype(object)), expected, rtol=1e-6)
    np.testing.assert_allclose(model.predict(list(x), verbose=0), expected, rtol=1e-6)
    np.testing.assert_allclose(model.predict(x[:, None], verbose=0), expected, rtol=1e-6)
    assert len(model.evaluate(x, y, verbose=0)) == 2
    path = str(tmp_path / "text.gez")
    model.save(path)
    loaded = ge.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6)
    assert loaded.layers[1].get_vocabulary() == vectorize.get_vocabulary()


def test_callables_and_errors():
    layer = L.TextVectorization(
        standardize=lambda a: np.char.upper(a.astype(str)), split=lambda s: s.split("-"),
        output_sequence_length=3,
    )  # fmt: skip
    layer.adapt(["a-b", "b-c-c"])
    assert layer.get_vocabulary() == ["", "[UNK]", "C", "B", "A"]
    np.testing.assert_array_equal(layer(np.array(["c-a-q-b"])), [[2, 4, 1]])
    with pytest.raises(ValueError, match="must be registered"):
        layer.get_config()
    with pytest.raises(ValueError, match="standardize must be one of"):
        L.TextVectorization(standardize="upper")
    with pytest.raises(ValueError, match="ngrams must be None, an integer or a tuple"):
        L.TextVectorization(ngrams=(1, "2"))
    with pytest.raises(ValueError, match="output_sequence_length needs output_mode='int'"):
        L.TextVectorization(output_mode="count", output_sequence_length=3)
    with pytest.raises(ValueError, match="one_hot' needs split=None"):
        L.TextVectorization(output_mode="one_hot")
    with pytest.raises(ValueError, match="ragged=True and sparse=True are not supported"):
        L.TextVectorization(ragged=True)
    with pytest.raises(ValueError, match="inside a model, output_mode='int' needs"):
        L.TextVectorization(vocabulary=["a"])(ge.Input(shape=(), dtype="string"))
    with pytest.raises(TypeError, match="takes string inputs, received int32"):
        L.TextVectorization(vocabulary=["a"], output_sequence_length=2)(
            ge.Input(shape=(), dtype="int32")
        )
    with pytest.raises(ValueError, match=r"shape \(batch,\) or \(batch, 1\).*\(1, 2\)"):
        L.TextVectorization(vocabulary=["a"])(np.array([["a", "b"]]))
    with pytest.raises(TypeError, match="input must be strings"):
        L.TextVectorization(vocabulary=["a"])(np.array([1, 2]))
