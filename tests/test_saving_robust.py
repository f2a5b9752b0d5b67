"""Saving that never loses a file nor leaks temporaries and writes like a plain file write;
loading that checks sizes before it allocates and turns every malformed file into a ValueError
naming the file; layers shared across nesting levels saved once and restored everywhere."""

import io
import json
import os
import random
import re
import stat
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphengine as ge
from graphengine.io import archive, atomic
from graphengine.io.archive import MAX_CONFIG_BYTES

REPO = os.path.dirname(os.path.dirname(os.path.abspath(ge.__file__)))


def tiny(units=2, name=None):
    return ge.Sequential([ge.layers.Dense(units, input_dim=3)], name=name)


def leftovers(directory, keep=("m.gez",)):
    return sorted(name for name in os.listdir(directory) if name not in keep)


# -- 6: killed saves -----------------------------------------------------------------------------
CHILD = r"""
import sys
import numpy as np
import graphengine as ge

path, mode = sys.argv[1], sys.argv[2]
model = ge.Sequential([ge.layers.Dense(64, input_dim=256)])
if mode == "block":  # stop inside the first array write until told to go on
    real, calls = np.lib.format.write_array, []

    def blocking(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            print("writing", flush=True)
            sys.stdin.readline()
        return real(*args, **kwargs)

    np.lib.format.write_array = blocking
    model.save(path)
    print("saved", flush=True)
else:
    model.save(path)
    print("ready", flush=True)
    while True:
        model.save(path)
"""


def spawn(target, mode):
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(target), mode],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": REPO},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_saves_killed_at_random_moments_leave_no_temporaries(tmp_path):
    target = tmp_path / "m.gez"
    rng = random.Random(0)
    for _ in range(3):
        child = spawn(target, "loop")
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.05))
        child.kill()
        child.wait()
    child = spawn(target, "block")  # killed mid-write: certainly leaves its temporary
    assert child.stdout.readline().strip() == "writing"
    child.kill()
    child.wait()
    assert leftovers(tmp_path)
    tiny().save(target)
    assert leftovers(tmp_path) == []
    assert ge.models.load_model(target).get_weights()[0].shape == (3, 2)


def test_a_live_writers_temporary_is_kept_and_its_save_completes(tmp_path):
    target = tmp_path / "m.gez"
    child = spawn(target, "block")
    try:
        assert child.stdout.readline().strip() == "writing"
        (theirs,) = leftovers(tmp_path)
        tiny().save(target)  # a second writer meanwhile: must not take the live temporary
        assert leftovers(tmp_path) == [theirs]
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "saved"
        assert child.wait(timeout=30) == 0
    finally:
        child.kill()
        child.wait()
    assert leftovers(tmp_path) == []
    assert ge.models.load_model(target).get_weights()[0].shape == (256, 64)  # theirs was last


def test_which_temporaries_count_as_stale(tmp_path):
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()

    def temp(target, host, pid, age=0.0):
        path = tmp_path / f".{target}.gesave-{host}-{pid}-0a1b2c.tmp"
        path.write_bytes(b"partial")
        os.utime(path, (time.time() - age, time.time() - age))
        return path.name

    here, elsewhere = atomic._HOST, "0" * 8 if atomic._HOST != "0" * 8 else "1" * 8
    stale = [
        temp("m.gez", here, done.pid),  # its process is dead
        temp("m.gez", here, os.getpid()),  # ours by pid, but this process is not writing it
        temp("m.gez", elsewhere, 12345, age=2 * atomic.STALE_SECONDS),
    ]
    kept = [
        temp("m.gez", here, os.getppid()),  # a live process may still be writing it
        temp("m.gez", elsewhere, 12346, age=60.0),  # another host's, written a minute ago
        temp("other.gez", here, done.pid),  # another target's
    ]
    (tmp_path / ".m.gez.notes").write_text("not ours")
    tiny().save(tmp_path / "m.gez")
    assert leftovers(tmp_path) == sorted(kept + [".m.gez.notes"])
    assert not set(stale) & set(os.listdir(tmp_path))


def test_threads_saving_one_target_all_succeed(tmp_path):
    target = tmp_path / "m.gez"
    models = [tiny(units=k + 1) for k in range(4)]
    errors = []

    def save_many(model):
        try:
            for _ in range(5):
                model.save(target)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=save_many, args=(m,)) for m in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert leftovers(tmp_path) == []
    assert ge.models.load_model(target).get_weights()[0].shape[0] == 3


# -- 7: modes and symlinks -------------------------------------------------------------------
def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


def test_new_files_follow_the_umask(tmp_path, umask):
    model = tiny()
    for mask, expected in ((0o022, 0o644), (0o002, 0o664), (0o077, 0o600)):
        umask(mask)
        model.save(tmp_path / f"m{mask:o}.gez")
        model.save_weights(tmp_path / f"w{mask:o}.gez")
        assert mode_of(tmp_path / f"m{mask:o}.gez") == expected
        assert mode_of(tmp_path / f"w{mask:o}.gez") == expected


def test_overwriting_keeps_the_existing_mode(tmp_path, umask):
    path = tmp_path / "m.gez"
    tiny().save(path)
    for mode in (0o640, 0o604):
        os.chmod(path, mode)
        umask(0o077)  # the existing file's mode wins over the umask, as for open(..., "w")
        tiny().save(path)
        assert mode_of(path) == mode
        tiny().save_weights(path)
        assert mode_of(path) == mode


def test_saving_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    real_dir, link_dir = tmp_path / "real", tmp_path / "links"
    real_dir.mkdir()
    link_dir.mkdir()
    target = real_dir / "m.gez"
    tiny(units=2).save(target)
    os.chmod(target, 0o640)
    link = link_dir / "m.gez"
    link.symlink_to(os.path.relpath(target, link_dir))  # relative to the link's folder
    tiny(units=5).save(link)
    assert link.is_symlink() and os.readlink(link) == os.path.relpath(target, link_dir)
    assert ge.models.load_model(target).get_weights()[0].shape == (3, 5)
    assert mode_of(target) == 0o640
    assert os.listdir(real_dir) == ["m.gez"] and os.listdir(link_dir) == ["m.gez"]
    dangling = link_dir / "new.gez"
    dangling.symlink_to(real_dir / "new.gez")
    tiny(units=4).save_weights(dangling)
    assert dangling.is_symlink() and (real_dir / "new.gez").is_file()
    tiny(units=4).load_weights(dangling)


# -- 8: checks before allocating --------------------------------------------------------------
PEAK_LIMIT = 32 * 2**20


def members(path):
    with zipfile.ZipFile(path) as z:
        return {info.filename: z.read(info) for info in z.infolist()}


def write_members(path, contents):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in contents.items():
            z.writestr(name, data)


def with_config(contents, edit):
    config = json.loads(contents["config.json"])
    edit(config)
    return {**contents, "config.json": json.dumps(config).encode()}


def npy(array):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def peak_of_failed_load(path, match):
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=match):
            ge.models.load_model(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture
def small_file(tmp_path):
    path = tmp_path / "small.gez"
    ge.Sequential([ge.layers.Dense(3, input_dim=2, name="d")], name="small").save(path)
    return path


def dense_units(config, units):
    config["model"]["config"]["layers"][0]["config"]["units"] = units


def test_a_small_config_asking_for_a_huge_layer_fails_before_allocating(tmp_path, small_file):
    forged = tmp_path / "huge_layer.gez"
    write_members(forged, with_config(members(small_file), lambda c: dense_units(c, 20_000_000)))
    assert forged.stat().st_size < 4096
    peak = peak_of_failed_load(
        forged,
        r"huge_layer\.gez.*layer 'd' asks for weight 'kernel' of shape \(2, 20000000\) "
        r"\(40000000 elements\), but the file's weights hold only 9 more",
    )
    assert peak < PEAK_LIMIT


def test_zip_bombs_and_oversized_members_fail_before_reading(tmp_path, small_file):
    contents = members(small_file)
    bomb = b"[" + b"0," * 30_000_000 + b"0]"  # 60 MB of JSON, ~60 KB deflated
    config_bomb = tmp_path / "config_bomb.gez"
    write_members(config_bomb, {**contents, "config.json": bomb})
    oversized = tmp_path / "oversized.gez"
    config = json.loads(contents["config.json"])
    config["padding"] = " " * (archive.MAX_CONFIG_BYTES + 1)
    write_members(oversized, {**contents, "config.json": json.dumps(config).encode()})
    npy_bomb = tmp_path / "npy_bomb.gez"  # a valid (2, 3) array trailed by 64 MB of zeros
    header = npy(np.zeros((2, 3), "float32"))
    write_members(npy_bomb, {**contents, "weights/00000.npy": header + bytes(64 * 2**20)})
    cases = [
        (config_bomb, r"config_bomb\.gez.*config\.json declares 60000003 bytes uncompressed"),
        (oversized, rf"oversized\.gez.*config\.json declares \d+ bytes.*{MAX_CONFIG_BYTES}"),
        (npy_bomb, r"npy_bomb\.gez.*weights/00000\.npy declares 67109016 bytes uncompressed"),
    ]
    for path, match in cases:
        assert path.stat().st_size < 2**20
        assert peak_of_failed_load(path, match) < PEAK_LIMIT


def central_entry(raw, name):
    """The offset of member `name`'s entry in the zip's central directory."""
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        info = z.getinfo(name)
    start = 0
    while True:
        start = raw.index(b"PK\x01\x02", start + 1)
        if raw[start + 46 : start + 46 + len(name)] == name.encode() and struct.unpack_from(
            "<I", raw, start + 42
        ) == (info.header_offset,):
            return start


def test_a_zip_directory_understating_a_size_does_not_decompress_the_rest(tmp_path, small_file):
    lying = tmp_path / "lying.gez"
    write_members(lying, {**members(small_file), "config.json": bytes(64 * 2**20)})
    raw = bytearray(lying.read_bytes())
    entry = central_entry(bytes(raw), "config.json")
    raw[entry + 24 : entry + 28] = struct.pack("<I", 1000)  # declares 1000 bytes
    lying.write_bytes(bytes(raw))
    assert peak_of_failed_load(lying, r"lying\.gez.*config\.json is malformed") < PEAK_LIMIT


def test_an_array_header_declaring_a_huge_shape_is_not_allocated(tmp_path, small_file):
    contents = with_config(
        members(small_file), lambda c: c["weights"][0].update(shape=[50_000_000, 3])
    )
    header = np.lib.format.header_data_from_array_1_0(np.zeros((2, 3), "float32"))
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {**header, "shape": (50_000_000, 3)})
    contents["weights/00000.npy"] = buf.getvalue() + bytes(24)
    forged = tmp_path / "huge_header.gez"
    write_members(forged, contents)
    peak = peak_of_failed_load(
        forged,
        r"huge_header\.gez.*weights/00000\.npy is \d+ bytes, but its header and a "
        r"\(50000000, 3\) float32 array make",
    )
    assert peak < PEAK_LIMIT


def test_save_refuses_a_config_that_load_would_refuse(tmp_path, small_file, monkeypatch):
    model = ge.models.load_model(small_file)
    monkeypatch.setattr(archive, "MAX_CONFIG_BYTES", 500)
    with pytest.raises(ValueError, match=r"Model 'small' cannot be saved: its config is \d+ bytes"):
        model.save(tmp_path / "again.gez")
    assert not (tmp_path / "again.gez").exists()
    monkeypatch.setattr(archive, "MAX_CONFIG_BYTES", 2**20)
    monkeypatch.setattr(archive, "MAX_JSON_DEPTH", 3)
    with pytest.raises(ValueError, match=r"small\.gez.*config\.json nests \d+ levels deep"):
        ge.models.load_model(small_file)


# -- 9: every malformed file is a ValueError naming the file and the fault -----------------------
def base_model():
    """A nested Sequential shared across levels (so the config holds a shared reference),
    compiled, with optimizer state."""
    x = ge.Input((2,), name="x")
    inner = ge.Sequential([ge.Input((2,)), ge.layers.Dense(2, name="d")], name="inner")
    enc = ge.Sequential([ge.Input((2,)), inner], name="enc")
    model = ge.Model(x, ge.layers.Dense(1, name="out")(inner(enc(x))), name="base")
    model.compile(optimizer="adam", loss="mse")
    model.optimizer.build(model.trainable_weights)
    return model


def find_layer(node, class_name):
    """The first layer entry of `class_name` anywhere in a config."""
    if isinstance(node, dict):
        if node.get("class_name") == class_name and "config" in node:
            return node
        node = list(node.values())
    for child in node if isinstance(node, list) else []:
        found = find_layer(child, class_name)
        if found is not None:
            return found
    return None


def find_shared_ref(node):
    if isinstance(node, dict) and "shared_id" in node:
        return node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    return next((r for r in map(find_shared_ref, children) if r is not None), None)


def corrupt_member(raw, name):
    """`raw` with the compressed bytes of member `name` inverted."""
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        info = z.getinfo(name)
    start = (
        info.header_offset
        + 30
        + len(name)
        + struct.unpack_from("<H", raw, info.header_offset + 28)[0]
    )
    out = bytearray(raw)
    out[start : start + info.compress_size] = bytes(
        b ^ 0xFF for b in raw[start : start + info.compress_size]
    )
    return bytes(out)


def object_array():
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return buf.getvalue()


def v2_header_of_a_gigabyte():
    return b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**30) + b"{" * 100


def edit(fn):
    return lambda contents, raw: with_config(contents, fn)


def replace(name, data):
    return lambda contents, raw: {**contents, name: data}


def drop(name):
    return lambda contents, raw: {k: v for k, v in contents.items() if k != name}


def set_units(config):
    find_layer(config, "Dense")["config"]["units"] = "many"


def set_class(config):
    find_layer(config, "Dense")["class_name"] = "Frobnicate"


def set_site_ref(config):
    config["model"]["config"]["sites"][-1]["args"] = {"ref": [99, 0]}


def deep(contents, raw):
    text = '{"format": "graphengine", "version": 1, "kind": "model", "x": '
    return {**contents, "config.json": (text + "[" * 600 + "]" * 600 + "}").encode()}


MALFORMED = {
    "truncated": (lambda c, raw: raw[: len(raw) // 2], "not a zip archive", True),
    "random_bytes": (
        lambda c, raw: np.random.default_rng(0).bytes(4096),
        "not a zip archive",
        True,
    ),
    "empty": (lambda c, raw: b"", "not a zip archive", True),
    "no_config": (drop("config.json"), "it has no config.json", True),
    "config_not_json": (
        replace("config.json", b"{not json"),
        "config.json is not valid JSON",
        True,
    ),
    "config_not_utf8": (
        replace("config.json", b"\xff\xfe\xfa{"),
        "config.json is not valid JSON",
        True,
    ),
    "config_not_object": (replace("config.json", b"[1, 2]"), "not a graphengine file", True),
    "deep_json": (deep, "config.json nests 601 levels deep", True),
    "no_version": (edit(lambda c: c.pop("version")), "format version None", True),
    "weights_not_list": (
        edit(lambda c: c.update(weights="abc")),
        "'weights' is str, not a list",
        True,
    ),
    "shape_wrong_type": (
        edit(lambda c: c["weights"][0].update(shape=["a", 2])),
        "weight 0 has no valid shape",
        True,
    ),
    "dtype_object": (
        edit(lambda c: c["weights"][0].update(dtype="object")),
        "weight 0: dtype 'object' is not a plain numeric dtype",
        True,
    ),
    "layers_not_list": (
        edit(lambda c: c["model"]["config"].update(layers=5)),
        r"the model config is malformed \(TypeError",
        False,
    ),
    "units_wrong_type": (edit(set_units), "the model config is malformed", False),
    "unknown_class": (edit(set_class), "unknown layer class 'Frobnicate'", False),
    "bad_shared_ref": (
        edit(lambda c: find_shared_ref(c).update(shared_id=99)),
        "refers to shared layer 99",
        False,
    ),
    "site_out_of_range": (edit(set_site_ref), "refers to site 99 before it is computed", False),
    "compile_not_dict": (edit(lambda c: c.update(compile=5)), "'compile' is int", False),
    "unknown_optimizer": (
        edit(lambda c: c["compile"]["optimizer"].update(class_name="Frobnicate")),
        "the compile config is malformed",
        False,
    ),
    "optimizer_count": (
        edit(lambda c: c.update(optimizer_variables="x")),
        r"holds 'x' optimizer variables, but adam\w* has 9",
        False,
    ),
    "object_npy": (
        replace("weights/00000.npy", object_array()),
        "weights/00000.npy cannot be read as a plain array: it holds dtype object",
        True,
    ),
    "wrong_shape_npy": (
        replace("weights/00000.npy", npy(np.zeros((3, 2), "float32"))),
        r"weights/00000\.npy holds a \(3, 2\) float32 array, but .* is \(2, 2\) float32",
        True,
    ),
    "wrong_dtype_npy": (
        replace("weights/00000.npy", npy(np.zeros((2, 2), "float64"))),
        r"weights/00000\.npy holds a \(2, 2\) float64 array, but .* float32",
        True,
    ),
    "truncated_npy": (
        lambda c, raw: {**c, "weights/00000.npy": c["weights/00000.npy"][:-4]},
        r"weights/00000\.npy is \d+ bytes, but its header and a \(2, 2\) float32 array",
        True,
    ),
    "not_npy": (
        replace("weights/00000.npy", b"hello, not an array"),
        r"weights/00000\.npy is malformed \(ValueError",
        True,
    ),
    "huge_npy_header": (
        replace("weights/00000.npy", v2_header_of_a_gigabyte()),
        "weights/00000.npy declares a header over 65536 bytes",
        True,
    ),
    "missing_weight": (drop("weights/00001.npy"), "incomplete: weights/00001.npy is missing", True),
    "missing_optimizer": (
        drop("optimizer/00004.npy"),
        "incomplete: optimizer/00004.npy is missing",
        False,
    ),
    "optimizer_wrong_shape": (
        replace("optimizer/00001.npy", npy(np.zeros(5, "float32"))),
        r"optimizer/00001\.npy holds a \(5,\) float32 array, but optimizer variable 1 is",
        False,
    ),
    "bad_zlib_weight": (
        lambda c, raw: corrupt_member(raw, "weights/00000.npy"),
        r"weights/00000\.npy is malformed \((error|BadZipFile)",
        True,
    ),
    "bad_zlib_config": (
        lambda c, raw: corrupt_member(raw, "config.json"),
        r"config\.json is malformed \((error|BadZipFile)",
        True,
    ),
}


@pytest.fixture(scope="module")
def base_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("base") / "base.gez"
    base_model().save(path)
    return path


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_every_malformed_file_is_a_value_error_naming_file_and_fault(tmp_path, base_file, case):
    make, reason, weights_too = MALFORMED[case]
    raw = base_file.read_bytes()
    made = make(members(base_file), raw)
    path = tmp_path / f"{case}.gez"
    if isinstance(made, dict):
        write_members(path, made)
    else:
        path.write_bytes(made)
    match = f"'[^']*{re.escape(path.name)}'.*{reason}"
    with pytest.raises(ValueError, match=match):
        ge.models.load_model(path)
    if weights_too:
        with pytest.raises(ValueError, match=match):
            base_model().load_weights(path)


def test_unsupported_compression_and_encryption_are_refused(tmp_path, base_file):
    bzip2 = tmp_path / "bzip2.gez"
    with zipfile.ZipFile(bzip2, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members(base_file).items():
            z.writestr(name, data, zipfile.ZIP_BZIP2 if name == "weights/00000.npy" else None)
    with pytest.raises(
        ValueError, match=r"bzip2\.gez.*weights/00000\.npy uses compression method 12"
    ):
        ge.models.load_model(bzip2)
    raw = bytearray(base_file.read_bytes())
    entry = central_entry(bytes(raw), "weights/00000.npy")
    raw[entry + 8] |= 0x1  # the "encrypted" flag
    encrypted = tmp_path / "encrypted.gez"
    encrypted.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"encrypted\.gez.*weights/00000\.npy is encrypted"):
        ge.models.load_model(encrypted)


# -- 11: weights shared across nesting levels ---------------------------------------------------
def assert_same_model(model, loaded, width):
    x = np.random.default_rng(0).standard_normal((4, width)).astype("float32")
    assert len(loaded.weights) == len(model.weights)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_block_shared_inside_a_sequential_and_outside_round_trips(tmp_path):
    x = ge.Input((16,))
    block_in = ge.Input((16,))
    block = ge.Model(block_in, ge.layers.Dense(16, activation="tanh")(block_in), name="block")
    enc = ge.Sequential([ge.Input((16,)), block], name="enc")
    model = ge.Model(x, block(enc(x)))
    model.save(tmp_path / "m.gez")
    loaded = ge.models.load_model(tmp_path / "m.gez")
    assert_same_model(model, loaded, 16)
    assert loaded.get_layer("enc").layers[0] is loaded.get_layer("block")  # one object again
    assert len(ge.Model.from_config(model.get_config()).weights) == 2


def test_a_layer_shared_by_a_wrapper_and_the_model_round_trips(tmp_path):
    """Wrappers and RNN cells serialize their inner layer through the same sharing as models."""
    x = ge.Input((5, 4))
    dense = ge.layers.Dense(4, activation="tanh", name="shared")
    model = ge.Model(x, dense(ge.layers.TimeDistributed(dense)(x)))
    assert len(model.weights) == 2
    model.save(tmp_path / "w.gez")
    loaded = ge.models.load_model(tmp_path / "w.gez")
    data = np.random.default_rng(0).normal(size=(2, 5, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded(data), model(data))
    assert len(loaded.weights) == 2
    wrapped = [layer for layer in loaded.layers if isinstance(layer, ge.layers.TimeDistributed)]
    assert wrapped[0].layer is loaded.get_layer("shared")


WIDTH = 3


def chain(kind, layers, name):
    if kind == "sequential":
        return ge.Sequential([ge.Input((WIDTH,)), *layers], name=name)
    x = ge.Input((WIDTH,))
    y = x
    for layer in layers:
        y = layer(y)
    return ge.Model(x, y, name=name)


@st.composite
def nestings(draw):
    depth = draw(st.integers(1, 3))
    kinds = draw(
        st.lists(
            st.sampled_from(["sequential", "functional"]), min_size=depth + 1, max_size=depth + 1
        )
    )
    reuse = draw(st.lists(st.booleans(), min_size=depth, max_size=depth))
    return draw(st.booleans()), kinds, reuse, draw(st.booleans())


def nested_model(shared_is_model, kinds, reuse, shared_first):
    """A shared block (a Dense or a model) inside `len(reuse)` levels of Sequential/functional
    nesting, used again at the levels `reuse` marks and at the outermost one."""
    dense = ge.layers.Dense(WIDTH, activation="tanh")
    shared = chain(kinds[0], [dense], "shared") if shared_is_model else dense
    current = shared
    for level, again in enumerate(reuse):
        layers = [current, ge.layers.Dense(WIDTH)]
        if again and current is not shared:
            layers.append(shared)
        current = chain(kinds[level + 1], layers, f"level{level}")
    x = ge.Input((WIDTH,))
    y = shared(x) if shared_first else x
    return ge.Model(x, shared(current(y)))


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(nestings())
def test_property_shared_blocks_at_any_nesting_round_trip(tmp_path, case):
    model = nested_model(*case)
    model.save(tmp_path / "n.gez")
    assert_same_model(model, ge.models.load_model(tmp_path / "n.gez"), WIDTH)
    assert len(ge.Model.from_config(model.get_config()).weights) == len(model.weights)


def test_a_model_with_an_op_a_config_cannot_name_fails_at_save(tmp_path):
    """Only ge.ops's ops may stand outside layers in a saved graph; any other used to save and
    then fail at load."""
    from graphengine.ops.base import apply
    from graphengine.ops.shape_ops import SumTo

    x, ref = ge.Input((3, 4)), ge.Input((1, 4))
    model = ge.Model([x, ref], apply(SumTo(), x, ref))
    with pytest.raises(ValueError, match=r"cannot be saved: op 'sum_to' \(SumTo\) stands outside"):
        model.save(tmp_path / "m.gez")
    assert not (tmp_path / "m.gez").exists()
