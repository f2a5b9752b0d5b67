"""Hostile Keras files, the attacks tests/test_saving_robust.py makes on our own format made on
the .keras, .h5 and .weights.h5 readers: code in configs (Lambda, custom objects), pickles,
traversal names, zip and HDF5 size bombs, links out of the file, truncation, wrong shapes and
dtypes. Each is a ValueError naming the file and the fault; nothing runs, nothing huge is
allocated."""

import base64
import io
import json
import marshal
import os
import pickle
import re
import zipfile

import h5py
import numpy as np
import pytest
from test_saving_robust import PEAK_LIMIT, central_entry, peak_of_failed_load

import graphengine as ge

KERNEL = "layers/dense/vars/0"


def small():
    return ge.Sequential([ge.Input((2,), name="in"), ge.layers.Dense(3, name="d")], name="small")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    path = tmp_path_factory.mktemp("base") / "small.keras"
    small().save(path)
    with zipfile.ZipFile(path) as z:
        return {info.filename: z.read(info) for info in z.infolist()}


def write(path, contents, compress=None):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in contents.items():
            z.writestr(name, data, compress_type=compress)
    return path


def config_edit(fn):
    def make(contents):
        config = json.loads(contents["config.json"])
        fn(config)
        return {**contents, "config.json": json.dumps(config).encode()}

    return make


def dense(config):
    return config["config"]["layers"][1]


def h5_edit(fn):
    def make(contents):
        buf = io.BytesIO(contents["model.weights.h5"])
        with h5py.File(buf, "r+") as f:
            fn(f)
        return {**contents, "model.weights.h5": buf.getvalue()}

    return make


def replace_kernel(**dataset):
    def fn(f):
        del f[KERNEL]
        f.create_dataset(KERNEL, **dataset)

    return fn


def link_kernel(link):
    def fn(f):
        del f[KERNEL]
        f[KERNEL] = link

    return fn


def external_storage(f):
    del f[KERNEL]
    f.create_dataset(KERNEL, shape=(2, 3), dtype="f4", external=[("/etc/hostname", 0, 24)])


def virtual(f):
    layout = h5py.VirtualLayout(shape=(2, 3), dtype="f4")
    layout[:] = h5py.VirtualSource("other.h5", "x", shape=(2, 3))
    del f[KERNEL]
    f.create_virtual_dataset(KERNEL, layout)


def lambda_layer(config):
    code = base64.b64encode(marshal.dumps((lambda x: open("/tmp/pwned", "w")).__code__))
    config["config"]["layers"][1] = {
        "module": "keras.layers",
        "class_name": "Lambda",
        "config": {"name": "evil", "function": {"class_name": "__lambda__",
                   "config": {"code": code.decode(), "defaults": None, "closure": None}}},
    }  # fmt: skip


def custom(config):
    dense(config).update(module="my_project.layers", registered_name="MyProject>Fancy")


def set_arg(**kwargs):
    return config_edit(lambda c: dense(c)["config"].update(kwargs))


def node_ref(name):
    def fn(config):
        config["class_name"] = "Functional"
        layers = config["config"]["layers"]
        layers[0]["name"], layers[1]["name"] = "in", "d"
        layers[0]["inbound_nodes"] = []
        tensor = {"class_name": "__keras_tensor__", "config": {"keras_history": [name, 0, 0]}}
        layers[1]["inbound_nodes"] = [{"args": [tensor], "kwargs": {}}]
        config["config"].update(input_layers=["in", 0, 0], output_layers=["d", 0, 0])

    return config_edit(fn)


def deep(contents):
    return {**contents, "config.json": b'{"class_name": "x", "config": ' + b"[" * 600 + b"]" * 600}


def drop(name):
    return lambda contents: {k: v for k, v in contents.items() if k != name}


def raw(data):
    return lambda contents: {**contents, "model.weights.h5": data}


MALFORMED = {
    "no_config": (drop("config.json"), "it has no config.json"),
    "config_not_json": (lambda c: {**c, "config.json": b"{nope"}, "config.json is not valid JSON"),
    "config_not_model": (lambda c: {**c, "config.json": b"[1]"}, "is not a Keras model config"),
    "deep_json": (deep, "config.json nests 601 levels deep"),
    "no_weights": (drop("model.weights.h5"), "incomplete: model.weights.h5 is missing"),
    "npz_weights": (
        lambda c: {**drop("model.weights.h5")(c), "model.weights.npz": b"x"},
        "it holds model.weights.npz, a layout graphengine does not read",
    ),
    "weights_truncated": (
        lambda c: raw(c["model.weights.h5"][:700])(c),
        "model.weights.h5: it is not an HDF5 file",
    ),
    "weights_random": (
        raw(np.random.default_rng(0).bytes(4096)),
        "model.weights.h5: it is not an HDF5 file",
    ),
    "wrong_shape": (
        h5_edit(replace_kernel(data=np.zeros((3, 2), "f4"))),
        rf"{KERNEL} holds a \(3, 2\) float32 array, but weight 'd/kernel' is \(2, 3\) float32",
    ),
    "wrong_dtype": (
        h5_edit(replace_kernel(data=np.zeros((2, 3), "i4"))),
        rf"{KERNEL} holds a \(2, 3\) int32 array, but weight 'd/kernel' is \(2, 3\) float32",
    ),
    "string_dataset": (
        h5_edit(replace_kernel(data=np.array([["a"] * 3] * 2, dtype=h5py.string_dtype()))),
        rf"{KERNEL} holds dtype object, not a plain array",
    ),
    "pickled_void": (
        h5_edit(replace_kernel(data=np.void(pickle.dumps(print)))),
        rf"{KERNEL} holds dtype \|V\d+, not a plain array",
    ),
    "extra_array": (
        h5_edit(lambda f: f.create_dataset("layers/dense/vars/2", data=np.zeros(3))),
        r"layers/dense/vars holds 3 arrays, but layer 'd' \(Dense\) has 2 weights",
    ),
    "missing_array": (
        h5_edit(lambda f: f.move("layers/dense/vars/1", "layers/dense/b")),
        r"layers/dense/vars holds 1 arrays, but layer 'd' \(Dense\) has 2 weights",
    ),
    "group_for_array": (
        h5_edit(lambda f: (f.__delitem__(KERNEL), f.create_group(KERNEL))),
        rf"{KERNEL} is a Group, not a dataset",
    ),
    "soft_link": (h5_edit(link_kernel(h5py.SoftLink("/vars"))), "SoftLink: only hard links"),
    "external_link": (
        h5_edit(link_kernel(h5py.ExternalLink("/etc/passwd", "/x"))),
        "ExternalLink: only hard links",
    ),
    "external_storage": (h5_edit(external_storage), "stores its data outside the file"),
    "virtual_dataset": (h5_edit(virtual), "stores its data outside the file"),
    "unknown_class": (
        config_edit(lambda c: dense(c).update(class_name="Frobnicate")),
        r"Layer 'd' \(Frobnicate\): graphengine has no layer for Keras's Frobnicate",
    ),
    "lambda_code": (config_edit(lambda_layer), r"Layer 'evil' \(Lambda\) holds Python code"),
    "custom_object": (
        config_edit(custom),
        r"Layer 'd' \(Dense\) names the custom object 'Dense' .*not registered.*"
        r"register_keras_serializable",
    ),
    "code_in_argument": (
        set_arg(activation={"class_name": "__lambda__", "config": {"code": "x"}}),
        r"argument 'activation' holds Python code",
    ),
    "units_wrong_type": (set_arg(units="many"), "config.json cannot be loaded"),
    "unsupported_value": (
        set_arg(quantization_config={"mode": "int8"}),
        r"Keras argument quantization_config=\{'mode': 'int8'\} is not supported",
    ),
    "unknown_argument": (set_arg(frobs=3), "Keras argument 'frobs' is not supported"),
    "constraint": (
        set_arg(
            kernel_constraint={"module": "keras.constraints", "class_name": "NonNeg", "config": {}}
        ),  # fmt: skip
        "Keras constraint NonNeg is not supported",
    ),
    "unknown_node_layer": (node_ref("ghost"), "refers to layer 'ghost', which the config"),
    "node_loop": (node_ref("d"), r"has loops or disconnected nodes: layers \['d'\]"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_every_malformed_keras_file_is_a_value_error_naming_file_and_fault(tmp_path, base, case):
    make, reason = MALFORMED[case]
    path = write(tmp_path / f"{case}.keras", make(base))
    with pytest.raises(ValueError, match=f"'[^']*{re.escape(path.name)}'.*{reason}"):
        ge.models.load_model(path)
    assert not os.path.exists("/tmp/pwned")


@pytest.mark.parametrize("case", ["wrong_shape", "external_link", "weights_truncated"])
def test_load_weights_from_a_malformed_weights_file(tmp_path, base, case):
    make, reason = MALFORMED[case]
    path = tmp_path / f"{case}.weights.h5"
    path.write_bytes(make(base)["model.weights.h5"])
    model = small()
    before = model.get_weights()
    with pytest.raises(ValueError, match=f"{re.escape(path.name)}'.*{reason.split(': ')[-1]}"):
        model.load_weights(path)
    for a, b in zip(before, model.get_weights()):  # nothing half-loaded
        np.testing.assert_array_equal(a, b)


def test_a_truncated_or_foreign_keras_file(tmp_path, base):
    whole = write(tmp_path / "whole.keras", base).read_bytes()
    for name, data in (("half.keras", whole[: len(whole) // 2]), ("empty.keras", b"")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(
            ValueError, match=rf"{name}' is not a Keras file \(\.keras\): not a zip"
        ):
            ge.models.load_model(tmp_path / name)


def test_registered_custom_layers_load_and_unregistered_ones_name_the_fix(tmp_path, base):
    contents = config_edit(custom)(base)  # Keras keeps a layer's weights under its class name:
    contents = h5_edit(lambda f: f.move("layers/dense", "layers/fancy"))(contents)
    path = write(tmp_path / "custom.keras", contents)

    class Fancy(ge.layers.Dense):
        pass

    model = ge.models.load_model(path, custom_objects={"MyProject>Fancy": Fancy})
    assert type(model.layers[0]) is Fancy
    with pytest.raises(ValueError, match="custom_objects=.*to load_model"):
        ge.models.load_model(path)


def test_traversal_names_in_the_zip_are_never_extracted(tmp_path, base):
    target = tmp_path / "outside" / "evil.txt"
    contents = {**base, "../outside/evil.txt": b"x", str(target): b"x", "assets/../../x": b"x"}
    path = write(tmp_path / "t.keras", contents)
    model = ge.models.load_model(path)
    assert model.get_weights()[0].shape == (2, 3)
    assert not target.exists() and sorted(os.listdir(tmp_path)) == ["t.keras"]


def test_zip_bombs_fail_before_decompressing(tmp_path, base):
    bomb = b"[" + b"0," * 30_000_000 + b"0]"
    path = write(tmp_path / "bomb.keras", {**base, "config.json": bomb}, zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 2**20
    match = r"bomb\.keras.*config\.json declares 60000003 bytes uncompressed"
    assert peak_of_failed_load(path, match) < PEAK_LIMIT


def test_a_small_file_asking_for_a_huge_layer_fails_before_allocating(tmp_path, base):
    path = write(tmp_path / "huge.keras", set_arg(units=20_000_000)(base))
    match = (
        r"huge\.keras.*layer 'd' asks for weight 'kernel' of shape \(2, 20000000\) "
        r"\(40000000 elements\), but the file's weights hold only \d+ more"
    )
    assert peak_of_failed_load(path, match) < PEAK_LIMIT


def test_an_hdf5_shape_bomb_is_never_read(tmp_path, base):
    bomb = replace_kernel(shape=(50_000_000, 3), dtype="f4", chunks=(1000, 3), compression="gzip")
    path = write(tmp_path / "shape_bomb.keras", h5_edit(bomb)(base))
    assert path.stat().st_size < 2**16
    match = rf"shape_bomb\.keras.*{KERNEL} holds a \(50000000, 3\) float32 array, but weight"
    assert peak_of_failed_load(path, match) < PEAK_LIMIT


def test_unsupported_compression_and_encryption_are_refused(tmp_path, base):
    path = write(tmp_path / "bzip2.keras", base, zipfile.ZIP_BZIP2)
    with pytest.raises(ValueError, match=r"bzip2\.keras.*config\.json uses compression method 12"):
        ge.models.load_model(path)
    data = bytearray(write(tmp_path / "plain.keras", base).read_bytes())
    data[central_entry(bytes(data), "model.weights.h5") + 8] |= 0x1
    (tmp_path / "encrypted.keras").write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"encrypted\.keras.*model\.weights\.h5 is encrypted"):
        ge.models.load_model(tmp_path / "encrypted.keras")


# -- Keras 2's .h5 -------------------------------------------------------------------------------
@pytest.fixture
def legacy(tmp_path):
    """A Keras-written legacy .h5 model (the test fixture) to edit."""
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_files", "keras")
    path = tmp_path / "mlp.h5"
    path.write_bytes(open(os.path.join(here, "mlp.h5"), "rb").read())
    return path


def edit_legacy(path, fn):
    with h5py.File(path, "r+") as f:
        fn(f)
    return path


LEGACY = {
    "weights_only": (lambda f: f.attrs.__delitem__("model_config"), "holds weights only"),
    "config_not_json": (
        lambda f: f.attrs.__setitem__("model_config", "{nope"),
        "attribute 'model_config' is not valid JSON",
    ),
    "traversal_weight_name": (
        lambda f: f["model_weights/hidden"].attrs.__setitem__(
            "weight_names", ["../../bn/mlp/bn/gamma", "mlp/hidden/bias"]
        ),
        r"'model_weights/hidden/\.\./\.\./bn/mlp/bn/gamma' is not a valid HDF5 path",
    ),
    "external_link": (
        lambda f: (
            f.__delitem__("model_weights/hidden/mlp/hidden/kernel"),
            f.__setitem__("model_weights/hidden/mlp/hidden/kernel", h5py.ExternalLink("x", "/k")),
        ),
        "ExternalLink: only hard links",
    ),
    "layer_count": (
        lambda f: f["model_weights"].attrs.__setitem__("layer_names", ["hidden"]),
        r"holds weights for 1 layers \(hidden\), but model 'mlp' has 3 layers with weights",
    ),
    "truncated": (None, "it is not an HDF5 file"),
}


@pytest.mark.parametrize("case", sorted(LEGACY))
def test_every_malformed_h5_file_is_a_value_error_naming_file_and_fault(legacy, case):
    fn, reason = LEGACY[case]
    if fn is None:
        legacy.write_bytes(legacy.read_bytes()[:3000])
    else:
        edit_legacy(legacy, fn)
    with pytest.raises(ValueError, match=f"'[^']*mlp\\.h5'.*{reason}"):
        ge.models.load_model(legacy)
