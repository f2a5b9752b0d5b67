"""`model.save`, `ge.models.load_model`, `save_weights`, `load_weights`.

One zip file: `config.json` (format, architecture, weight manifest, compile settings) and plain
`.npy` members for weights and optimizer state. Writes behave like a plain file write (through a
symlink to its target, keeping an existing file's mode, else the umask's) but are atomic: a
temporary file beside the target is fsynced and renamed over it, so a crash keeps the old file.
Reads trust nothing: arrays are read without pickling, the config only names registered classes,
and sizes are checked against the zip directory and the weights the model needs before anything
is allocated; every way a file can be wrong is a ValueError naming the file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import struct
import zipfile
import zlib
from typing import Any, BinaryIO, Iterator

import numpy as np

from graphengine.io.atomic import atomic_write
from graphengine.io.serialization import FORMAT_VERSION, compile_arguments, compile_config
from graphengine.layers.base import weight_allowance
from graphengine.layers.serialization import decode, deserialize_layer, encode, serialize_layer

MAGIC = "graphengine"
# config.json holds the architecture, never the weights: 16 MiB is thousands of layers. Parsed
# JSON takes ~10x its text in memory, so the cap is what bounds the loader before any check.
MAX_CONFIG_BYTES = 16 * 2**20
# Real configs nest ~4 levels per nested model; the limit stops deep JSON from exhausting the
# recursion of json.loads and of the config decoders.
MAX_JSON_DEPTH = 100
MAX_NPY_HEADER = 2**16  # numpy writes headers of a few hundred bytes
# What a malformed file makes the readers below raise; converted at the boundary.
# RuntimeError covers RecursionError, NotImplementedError and zipfile's "File is encrypted".
MALFORMED = (ValueError, TypeError, LookupError, AttributeError, ArithmeticError, EOFError) + (
    RuntimeError, MemoryError, struct.error, zlib.error, zipfile.BadZipFile
)  # fmt: skip


class MalformedFileError(ValueError):
    """A file that is not a loadable graphengine file; the message names the file."""


def _write_arrays(archive: zipfile.ZipFile, folder: str, arrays: list[np.ndarray]) -> None:
    for i, array in enumerate(arrays):
        with archive.open(f"{folder}/{i:05d}.npy", "w") as f:
            np.lib.format.write_array(f, np.asarray(array, order="C"), allow_pickle=False)


def _config_text(config: dict[str, Any], owner: str) -> str:
    """config.json's text, refused here if the loader would refuse it."""
    text = json.dumps(config, indent=1)
    size, depth = len(text.encode()), _json_depth(text.encode())
    if size > MAX_CONFIG_BYTES or depth > MAX_JSON_DEPTH:
        raise ValueError(
            f"Model '{owner}' cannot be saved: its config is {size} bytes nested {depth} deep, "
            f"over the {MAX_CONFIG_BYTES=} / {MAX_JSON_DEPTH=} a load accepts"
        )
    return text


# -- reading -----------------------------------------------------------------------------------
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def _json_depth(raw: bytes) -> int:
    """The deepest bracket nesting of JSON text (strings skipped), in 1 MiB NumPy chunks: cheap,
    and no recursion however deep the text nests."""
    skeleton = _JSON_STRING.sub(b"", raw)
    depth = deepest = 0
    for start in range(0, len(skeleton), 2**20):
        chunk = np.frombuffer(skeleton[start : start + 2**20], np.uint8)
        opens = (chunk == ord("[")) | (chunk == ord("{"))
        closes = (chunk == ord("]")) | (chunk == ord("}"))
        levels = np.cumsum(opens.astype(np.int64) - closes) + depth
        deepest, depth = max(deepest, int(levels.max())), int(levels[-1])
    return deepest


def _plain_dtype(value: Any) -> np.dtype:
    """A numeric or bool dtype (native byte order); anything else, object above all, refused."""
    dtype = np.dtype(value) if isinstance(value, (str, np.dtype)) else None
    if dtype is None or dtype.kind not in "biuf" or dtype.hasobject or dtype.fields:
        raise ValueError(f"dtype {value!r} is not a plain numeric dtype")
    return dtype.newbyteorder("=")


class _Bounded:
    """Reads of at most `limit` bytes in all from a member (a .npy header)."""

    def __init__(self, f: BinaryIO, limit: int, what: str) -> None:
        self.f, self.left, self.what, self.used = f, limit, what, 0

    def read(self, n: int) -> bytes:
        if n > self.left:
            raise ValueError(f"{self.what} declares a header over {MAX_NPY_HEADER} bytes")
        data = self.f.read(n)
        self.left -= len(data)
        self.used += len(data)
        return data


class Archive:
    """A saved file opened for reading. Each member is checked in the zip directory (declared
    size, compression, encryption) before it is read, and each array's .npy header against the
    shape and dtype it must have before its data is."""

    def __init__(self, path: str, kind: str) -> None:
        self.path = os.fspath(path)
        self._file = open(self.path, "rb")  # a missing file is an OSError, as for any open
        try:
            self.zip = zipfile.ZipFile(self._file)
        except (*MALFORMED, OSError) as e:
            self._file.close()
            raise MalformedFileError(
                f"'{self.path}' is not a graphengine file: not a zip archive (truncated or "
                f"foreign: {e})"
            ) from e
        try:
            self.config = self._read_config(kind)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.zip.close()
        self._file.close()

    def error(self, what: str) -> MalformedFileError:
        return MalformedFileError(f"'{self.path}': {what}")

    @contextlib.contextmanager
    def reading(self, what: str) -> Iterator[None]:
        """Turns what a malformed part makes the code below raise into a MalformedFileError
        naming the file and the part (the original chained as its cause)."""
        try:
            yield
        except MalformedFileError:
            raise
        except (*MALFORMED, OSError) as e:
            raise self.error(f"{what} is malformed ({type(e).__name__}: {e})") from e

    def member(self, name: str, limit: int) -> zipfile.ZipInfo:
        try:
            info = self.zip.getinfo(name)
        except KeyError:
            raise self.error(f"the file is incomplete: {name} is missing") from None
        if info.flag_bits & 0x1:
            raise self.error(f"{name} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise self.error(f"{name} uses compression method {info.compress_type}, not deflate")
        if info.file_size > limit:
            raise self.error(
                f"{name} declares {info.file_size} bytes uncompressed, more than the "
                f"{limit} it can hold"
            )
        return info

    def _read_config(self, kind: str) -> dict[str, Any]:
        if "config.json" not in self.zip.namelist():
            raise MalformedFileError(
                f"'{self.path}' is not a graphengine file: it has no config.json"
            )
        info = self.member("config.json", MAX_CONFIG_BYTES)
        with self.reading("config.json"), self.zip.open(info) as f:
            raw = f.read(info.file_size)
        depth = _json_depth(raw)
        if depth > MAX_JSON_DEPTH:
            raise self.error(f"config.json nests {depth} levels deep, over {MAX_JSON_DEPTH=}")
        try:
            config = json.loads(raw)
        except ValueError as e:
            raise self.error(f"config.json is not valid JSON ({e})") from e
        _check_header(self, config, kind)
        return config

    @contextlib.contextmanager
    def npy(self, name: str, shape: tuple, dtype: np.dtype, what: str) -> Iterator[tuple]:
        """Opens `name`, checks its header says `shape` and `dtype` and its declared size is
        exactly that array's, and yields (member file, header dtype, fortran order, nbytes)."""
        nbytes = math.prod(shape) * dtype.itemsize
        info = self.member(name, MAX_NPY_HEADER + nbytes)
        with self.reading(name), self.zip.open(info) as f:
            header = _Bounded(f, MAX_NPY_HEADER, name)
            version = np.lib.format.read_magic(header)
            if version not in ((1, 0), (2, 0)):
                raise self.error(f"{name} has .npy format version {version}, not 1.0 or 2.0")
            read = getattr(np.lib.format, f"read_array_header_{version[0]}_0")
            found, fortran, found_dtype = read(header, max_header_size=MAX_NPY_HEADER)
            _check_npy(self, name, what, (found, found_dtype), (shape, dtype))
            if info.file_size != header.used + nbytes:
                raise self.error(
                    f"{name} is {info.file_size} bytes, but its header and a {shape} "
                    f"{dtype.name} array make {header.used + nbytes}"
                )
            yield f, found_dtype, fortran, nbytes

    def array(self, name: str, shape: tuple, dtype: np.dtype, what: str) -> np.ndarray:
        with self.npy(name, shape, dtype, what) as (f, found_dtype, fortran, nbytes):
            data = f.read(nbytes)
            if len(data) != nbytes:
                raise self.error(f"{name} is truncated: {len(data)} of {nbytes} data bytes")
            return np.frombuffer(data, found_dtype).reshape(shape, order="F" if fortran else "C")


def _check_header(archive: Archive, config: Any, kind: str) -> None:
    if not isinstance(config, dict) or config.get("format") != MAGIC:
        raise MalformedFileError(
            f"'{archive.path}' is not a graphengine file (config.json has no 'format': '{MAGIC}')"
        )
    if config.get("version") != FORMAT_VERSION:
        raise archive.error(
            f"it has format version {config.get('version')}, this graphengine reads "
            f"version {FORMAT_VERSION}"
        )
    if kind == "model" and config.get("kind") != "model":
        raise archive.error(
            "it holds only weights; load it with model.load_weights() into a model of the "
            "same architecture"
        )


def _check_npy(archive: Archive, name: str, what: str, found: tuple, expected: tuple) -> None:
    (shape, dtype), (want_shape, want_dtype) = found, expected
    try:
        plain = _plain_dtype(dtype)
    except ValueError:
        raise archive.error(
            f"{name} cannot be read as a plain array: it holds dtype {dtype} (loading never "
            "unpickles)"
        ) from None
    if tuple(shape) != tuple(want_shape) or plain != want_dtype:
        raise archive.error(
            f"{name} holds a {tuple(shape)} {plain.name} array, but {what} is "
            f"{tuple(want_shape)} {want_dtype.name}"
        )


def _read_manifest(archive: Archive) -> list[tuple[tuple[int, ...], np.dtype]]:
    """(shape, dtype) of each saved weight, as config.json lists them."""
    entries = archive.config.get("weights")
    if not isinstance(entries, list):
        raise archive.error(f"config.json 'weights' is {type(entries).__name__}, not a list")
    manifest = []
    for i, entry in enumerate(entries):
        shape = entry.get("shape") if isinstance(entry, dict) else None
        if not isinstance(shape, list) or any(type(d) is not int or d < 0 for d in shape):
            raise archive.error(f"config.json weight {i} has no valid shape: {entry!r:.200}")
        try:
            manifest.append((tuple(shape), _plain_dtype(entry.get("dtype"))))
        except (TypeError, ValueError) as e:
            raise archive.error(f"config.json weight {i}: {e}") from None
    return manifest


def _weight_names(count: int) -> list[str]:
    return [f"weights/{i:05d}.npy" for i in range(count)]


def _rebuild(archive: Archive, manifest: list) -> Any:
    """The model of the file's config, its weights' allocation capped by the file's arrays
    (their headers checked against the manifest first)."""
    for name, (shape, dtype) in zip(_weight_names(len(manifest)), manifest):
        with archive.npy(name, shape, dtype, "the manifest's entry"):
            pass
    elements = sum(math.prod(shape) for shape, _ in manifest)
    with (
        archive.reading("the model config"),
        weight_allowance(elements, archive.error, "the file's weights"),
    ):
        return deserialize_layer(decode(archive.config["model"]))


def _assign(model: Any, archive: Archive, manifest: list) -> None:
    """Checks every saved weight against the model's before reading and assigning any."""
    weights = model.weights
    if len(manifest) != len(weights):
        raise archive.error(
            f"it holds {len(manifest)} weights but model '{model.name}' has {len(weights)}"
        )
    for var, (shape, _) in zip(weights, manifest):
        if shape != var.shape:
            raise archive.error(
                f"weight '{var.path}' of model '{model.name}' has shape {var.shape}, the "
                f"file holds shape {shape}"
            )
    names = _weight_names(len(manifest))
    arrays = [
        archive.array(name, shape, dtype, f"weight '{var.path}'")
        for name, var, (shape, dtype) in zip(names, weights, manifest)
    ]
    for var, array in zip(weights, arrays):
        var.assign(array)


def _restore_compile(model: Any, settings: dict, archive: Archive, n_state: Any) -> None:
    with archive.reading("the compile config"):
        model.compile(**compile_arguments(settings))
    if n_state:
        model.optimizer.build(model.trainable_weights)
        _restore_optimizer(model.optimizer, archive, n_state)


def _restore_optimizer(optimizer: Any, archive: Archive, n_state: Any) -> None:
    current = optimizer.variables
    if type(n_state) is not int or n_state != len(current):
        raise archive.error(
            f"it holds {n_state!r} optimizer variables, but {optimizer.name} has {len(current)}"
        )
    arrays = [
        archive.array(
            f"optimizer/{i:05d}.npy", v.shape, _plain_dtype(v.dtype), f"optimizer variable {i}"
        )
        for i, v in enumerate(current)
    ]
    optimizer.set_weights(arrays)


# -- the API -----------------------------------------------------------------------------------
def save_model(model: Any, path: str) -> None:
    model._require_graph()
    optimizer = getattr(model, "optimizer", None)
    opt_state = optimizer.variables if optimizer is not None and optimizer.built else []
    config = {
        "format": MAGIC,
        "version": FORMAT_VERSION,
        "kind": "model",
        "model": serialize_layer(model),
        "weights": _manifest_of(model.weights),
        "compile": compile_config(model),
        "optimizer_variables": len(opt_state),
    }
    text = _config_text(encode(config), model.name)

    def write(archive: zipfile.ZipFile) -> None:
        archive.writestr("config.json", text)
        _write_arrays(archive, "weights", [w.value for w in model.weights])
        _write_arrays(archive, "optimizer", [np.asarray(v) for v in opt_state])

    atomic_write(path, write)


def _manifest_of(weights: list) -> list[dict[str, Any]]:
    return [{"path": w.path, "shape": list(w.shape), "dtype": w.dtype} for w in weights]


def load_model(path: str, compile: bool = True) -> Any:
    """Rebuilds a saved model: same architecture, weights, compile settings and optimizer
    state (training continues where it stopped)."""
    with Archive(path, "model") as archive, archive.reading("the file"):
        manifest = _read_manifest(archive)
        model = _rebuild(archive, manifest)
        _assign(model, archive, manifest)
        settings = decode(archive.config.get("compile"))
        if compile and settings:
            if not isinstance(settings, dict):
                raise archive.error(f"config.json 'compile' is {type(settings).__name__}")
            _restore_compile(model, settings, archive, archive.config.get("optimizer_variables"))
    return model


def save_weights(model: Any, path: str) -> None:
    config = {
        "format": MAGIC,
        "version": FORMAT_VERSION,
        "kind": "weights",
        "weights": _manifest_of(model.weights),
    }
    text = _config_text(config, model.name)

    def write(archive: zipfile.ZipFile) -> None:
        archive.writestr("config.json", text)
        _write_arrays(archive, "weights", [w.value for w in model.weights])

    atomic_write(path, write)


def load_weights(model: Any, path: str) -> None:
    """Weights saved by save_weights (or save) of a model with the same architecture."""
    with Archive(path, "weights") as archive, archive.reading("the file"):
        _assign(model, archive, _read_manifest(archive))
