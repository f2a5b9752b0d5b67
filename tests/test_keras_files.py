"""Keras's files both ways, against fixtures Keras 3.15 wrote and read (tests/keras_files, made
offline by generate.py): every .keras, legacy .h5 and .weights.h5 Keras wrote loads here to
Keras's predictions; the .keras and .weights.h5 files our writer makes are the ones Keras loaded
to the recorded predictions; the suffix picks the format and others raise."""

import io
import json
import os
import zipfile

import h5py
import numpy as np
import pytest

import graphengine as ge
from keras_files.architectures import ARCHITECTURES, set_seeded_weights

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_files")
NAMES = sorted(ARCHITECTURES)


@pytest.fixture(scope="module")
def reference():
    with np.load(os.path.join(HERE, "reference.npz"), allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def fixture(*parts):
    return os.path.join(HERE, *parts)


def predict(model, reference, name):
    x = [reference[k] for k in (f"{name}/input0", f"{name}/input1") if k in reference]
    return model.predict(x if len(x) > 1 else x[0], verbose=0)


def seeded(name):
    model = ARCHITECTURES[name](ge)
    set_seeded_weights(model)
    return model


def close(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_the_fixtures_were_written_by_keras_3():
    with open(fixture("reference.json")) as f:
        meta = json.load(f)
    assert meta["keras_version"].startswith("3.")
    assert sorted(c["name"] for c in meta["cases"]) == NAMES


@pytest.mark.parametrize("suffix", ["keras", "h5"])
@pytest.mark.parametrize("name", NAMES)
def test_keras_models_load_to_keras_predictions(reference, name, suffix):
    model = ge.models.load_model(fixture("keras", f"{name}.{suffix}"))
    assert model.name == ARCHITECTURES[name](ge).name
    close(predict(model, reference, name), reference[f"{name}/keras"])


@pytest.mark.parametrize("name", NAMES)
def test_keras_weights_load_into_our_model(reference, name):
    model = ARCHITECTURES[name](ge)
    before = predict(model, reference, name)
    model.load_weights(fixture("keras", f"{name}.weights.h5"))
    close(predict(model, reference, name), reference[f"{name}/keras"])
    assert not np.allclose(before, reference[f"{name}/keras"])  # the load changed something


def h5_contents(data):
    """{path: (attributes, array or None)} of an HDF5 file's bytes."""
    out = {}
    with h5py.File(io.BytesIO(data), "r") as f:

        def visit(path, node):
            value = node[()] if isinstance(node, h5py.Dataset) else None
            out[path] = (dict(node.attrs), value)

        f.visititems(visit)
        out[""] = (dict(f.attrs), None)
    return out


def assert_same_h5(ours, theirs):
    a, b = h5_contents(ours), h5_contents(theirs)
    assert sorted(a) == sorted(b)
    for path in a:
        assert a[path][0] == b[path][0], path
        if a[path][1] is not None:
            np.testing.assert_array_equal(a[path][1], b[path][1])
            assert a[path][1].dtype == b[path][1].dtype


def members(path):
    with zipfile.ZipFile(path) as z:
        return {info.filename: z.read(info) for info in z.infolist()}


@pytest.mark.parametrize("name", NAMES)
def test_our_keras_files_are_those_keras_loaded(tmp_path, reference, name):
    """What our writer makes now is, member by member, the committed file that Keras 3 loaded
    (generate.py) to the predictions recorded; and we compute those predictions."""
    model = seeded(name)
    model.save(tmp_path / "m.keras")
    model.save_weights(tmp_path / "m.weights.h5")
    ours, committed = members(tmp_path / "m.keras"), members(fixture("ours", f"{name}.keras"))
    assert list(ours) == ["metadata.json", "config.json", "model.weights.h5"] == list(committed)
    assert json.loads(ours["config.json"]) == json.loads(committed["config.json"])
    assert json.loads(ours["metadata.json"])["keras_version"] == "3.15.1"
    assert_same_h5(ours["model.weights.h5"], committed["model.weights.h5"])
    written = (tmp_path / "m.weights.h5").read_bytes()
    assert_same_h5(written, open(fixture("ours", f"{name}.weights.h5"), "rb").read())
    close(predict(model, reference, name), reference[f"{name}/ours_keras"])
    close(predict(model, reference, name), reference[f"{name}/ours_weights"])


@pytest.mark.parametrize("name", ["nested", "merges", "attention"])
def test_keras_round_trip_through_our_reader(tmp_path, reference, name):
    model = seeded(name)
    model.save(tmp_path / "m.keras")
    loaded = ge.models.load_model(tmp_path / "m.keras")
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    np.testing.assert_array_equal(predict(loaded, reference, name), predict(model, reference, name))
    fresh = ARCHITECTURES[name](ge)
    fresh.load_weights(tmp_path / "m.keras")  # a .keras archive's weights, as Keras allows
    for a, b in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_the_nested_model_keeps_its_shared_submodel(reference):
    model = ge.models.load_model(fixture("keras", "nested.keras"))
    shared = next(layer for layer in model.layers if layer.name == "shared")
    assert len([s for s in model._sites if getattr(s, "layer", None) is shared]) == 2
    assert isinstance(next(la for la in model.layers if la.name == "block"), ge.Sequential)


def test_legacy_weights_load_into_our_model(reference):
    model = ARCHITECTURES["mlp"](ge)
    model.load_weights(fixture("keras", "mlp.h5"))  # a whole model's file: its weights
    close(predict(model, reference, "mlp"), reference["mlp/keras"])


def keras2_config(config):
    """A Keras 3 legacy config in Keras 2's spelling: inbound nodes as [layer, node, tensor,
    kwargs] lists, InputLayer's batch_input_shape, dtype strings."""
    for entry in config["config"]["layers"]:
        entry["config"]["dtype"] = "float32"
        if entry["class_name"] == "InputLayer":
            entry["config"]["batch_input_shape"] = entry["config"].pop("batch_shape")
        entry["inbound_nodes"] = [
            [arg["config"]["keras_history"] + [{}] for arg in _flat(node["args"])]
            for node in entry["inbound_nodes"]
        ]
    return config


def _flat(args):
    return [a for arg in args for a in (arg if isinstance(arg, list) else [arg])]


def test_keras_2_spelling_of_a_functional_model(tmp_path, reference):
    path = tmp_path / "merges.h5"
    path.write_bytes(open(fixture("keras", "merges.h5"), "rb").read())
    with h5py.File(path, "r+") as f:
        f.attrs["model_config"] = json.dumps(keras2_config(json.loads(f.attrs["model_config"])))
    model = ge.models.load_model(path)
    close(predict(model, reference, "merges"), reference["merges/keras"])


def test_keras_2_sequential_with_batch_input_shape_on_its_first_layer(tmp_path, reference):
    path = tmp_path / "mlp.h5"
    path.write_bytes(open(fixture("keras", "mlp.h5"), "rb").read())
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        layers = config["config"]["layers"]
        first = layers.pop(0)
        layers[0]["config"]["batch_input_shape"] = first["config"]["batch_shape"]
        config["config"].pop("build_input_shape", None)
        f.attrs["model_config"] = json.dumps(config)
    close(predict(ge.models.load_model(path), reference, "mlp"), reference["mlp/keras"])


# -- suffixes -------------------------------------------------------------------------------------
def test_the_suffix_picks_the_format_and_others_raise(tmp_path):
    model = seeded("mlp")
    for bad in ("m.h5", "m.zip", "m"):
        with pytest.raises(ValueError, match=r"\.save\(\): .* no supported suffix.*\.gez.*\.keras"):
            model.save(tmp_path / bad)
    for bad in ("w.h5", "w.keras", "w.npz"):
        with pytest.raises(ValueError, match=r"save_weights\(\): .*\.gez.*\.weights\.h5"):
            model.save_weights(tmp_path / bad)
    assert os.listdir(tmp_path) == []
    model.save(tmp_path / "m.gez")
    with zipfile.ZipFile(tmp_path / "m.gez") as z:
        assert json.loads(z.read("config.json"))["format"] == "graphengine"


def test_a_native_file_named_keras_is_refused_naming_what_it_lacks(tmp_path):
    seeded("mlp").save(tmp_path / "m.gez")
    os.replace(tmp_path / "m.gez", tmp_path / "m.keras")
    with pytest.raises(ValueError, match=r"m\.keras.*config\.json is not a Keras model config"):
        ge.models.load_model(tmp_path / "m.keras")


def test_layers_keras_lacks_are_refused_at_save(tmp_path):
    x = ge.Input((3,))
    model = ge.Model(x, ge.layers.RReLU(name="noisy")(x))
    with pytest.raises(
        ValueError, match=r"Layer 'noisy' \(RReLU\) holds a RReLU, which Keras lacks"
    ):
        model.save(tmp_path / "m.keras")
    model = ge.Model(x, x * 2.0)
    with pytest.raises(
        ValueError, match=r"op .* stands outside any layer.*save the model as \.gez"
    ):
        model.save(tmp_path / "m.keras")
    assert os.listdir(tmp_path) == []


def test_a_keras_model_fine_tunes_here(reference):
    model = ge.models.load_model(fixture("keras", "cnn.keras"))
    model.compile(optimizer=ge.optimizers.SGD(0.002), loss="mse")
    x = reference["cnn/input0"]
    target = np.zeros((3, 2), "float32")
    first = model.train_on_batch(x, target)
    for _ in range(3):
        last = model.train_on_batch(x, target)
    assert last < first
