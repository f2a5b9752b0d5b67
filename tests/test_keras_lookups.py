"""Lookup layers in .keras files: the vocabulary lives in the archive's assets, as Keras keeps
it (fixtures and Keras's predictions from tests/keras_files/lookups.py)."""

import json
import os
import zipfile

import numpy as np
import pytest

import graphengine as ge

from keras_files.lookups import ADAPT, HERE, INPUTS, build

NAMES = list(ADAPT)
INPUTS = {name: np.array(x) for name, x in INPUTS.items()}


@pytest.fixture(scope="module")
def record():
    with open(os.path.join(HERE, "lookups.json")) as f:
        return json.load(f)


def _build(name):
    return build(ge, name)


def _members(path):
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if n != "metadata.json" and "weights" not in n}


@pytest.mark.parametrize("name", NAMES)
def test_keras_files_with_a_vocabulary_load_to_keras_predictions(record, name):
    model = ge.models.load_model(os.path.join(HERE, f"keras_{name}.keras"))
    got = model.predict(INPUTS[name], verbose=0)
    np.testing.assert_array_equal(got, np.array(record[name]["keras_on_keras"]))


@pytest.mark.parametrize("name", NAMES)
def test_our_files_are_those_keras_loaded(tmp_path, record, name):
    path = tmp_path / f"{name}.keras"
    model = _build(name)
    model.save(path)
    ours = _members(path)
    assert ours == _members(os.path.join(HERE, f"ours_{name}.keras"))  # config.json and assets
    assert any(n.startswith("assets/") and n.endswith("/vocabulary.txt") for n in ours)
    want = np.array(record[name]["keras_on_ours"])
    np.testing.assert_array_equal(model.predict(INPUTS[name], verbose=0), want)
    np.testing.assert_array_equal(ge.models.load_model(path).predict(INPUTS[name], verbose=0), want)


def test_a_missing_vocabulary_raises_instead_of_mapping_everything_to_oov(tmp_path):
    source = os.path.join(HERE, "keras_string_lookup.keras")
    broken = tmp_path / "broken.keras"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            if not item.filename.startswith("assets/"):
                dst.writestr(item, src.read(item))
    with pytest.raises(ValueError, match=r"layer 'lookup' has no vocabulary"):
        ge.models.load_model(broken)


def test_a_tf_idf_lookup_is_refused_at_save(tmp_path):
    layer = ge.layers.StringLookup(output_mode="tf_idf")
    layer.adapt(np.array(["a", "b", "a"]))
    inp = ge.Input(shape=(), dtype="string")
    with pytest.raises(ValueError, match="tf_idf lookup's IDF weights have no place"):
        ge.Model(inp, layer(inp)).save(tmp_path / "m.keras")


def test_a_vocabulary_is_size_checked_before_it_is_read(monkeypatch):
    from graphengine.io import keras_archive

    monkeypatch.setattr(keras_archive, "MAX_ASSET_BYTES", 8)
    with pytest.raises(ValueError, match=r"vocabulary.txt declares \d+ bytes uncompressed"):
        ge.models.load_model(os.path.join(HERE, "keras_string_lookup.keras"))
