"""The graphengine file format as files and archives: one zip holding `config.json` (format,
version, kind, architecture, weight manifest, compile settings) and plain `.npy` members. Reads
trust nothing: sizes are checked against the zip directory before reading, config.json's size
and JSON depth are capped, `.npy` headers are checked against what is expected before any data is
read (never unpickled), and every way a file can be wrong is a MalformedFileError (a ValueError)
naming the file."""

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

MAGIC = "graphengine"
FORMAT_VERSION = 1
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


def write_arrays(archive: zipfile.ZipFile, folder: str, arrays: list[np.ndarray]) -> None:
    for i, array in enumerate(arrays):
        with archive.open(f"{folder}/{i:05d}.npy", "w") as f:
            np.lib.format.write_array(f, np.asarray(array, order="C"), allow_pickle=False)


def config_text(config: dict[str, Any], owner: str) -> str:
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


def plain_dtype(value: Any) -> np.dtype:
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

    format_name = "graphengine file"  # what the file must be, in messages

    def __init__(self, path: str, kind: str) -> None:
        self.path = os.fspath(path)
        self._file = open(self.path, "rb")  # a missing file is an OSError, as for any open
        try:
            self.zip = zipfile.ZipFile(self._file)
        except (*MALFORMED, OSError) as e:
            self._file.close()
            raise MalformedFileError(
                f"'{self.path}' is not a {self.format_name}: not a zip archive (truncated or "
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
                f"'{self.path}' is not a {self.format_name}: it has no config.json"
            )
        config = self.json_member("config.json")
        _check_header(self, config, kind)
        return config

    def json_member(self, name: str) -> Any:
        """A JSON member, its size and nesting checked before it is parsed."""
        info = self.member(name, MAX_CONFIG_BYTES)
        with self.reading(name), self.zip.open(info) as f:
            raw = f.read(info.file_size)
        depth = _json_depth(raw)
        if depth > MAX_JSON_DEPTH:
            raise self.error(f"{name} nests {depth} levels deep, over {MAX_JSON_DEPTH=}")
        try:
            return json.loads(raw)
        except ValueError as e:
            raise self.error(f"{name} is not valid JSON ({e})") from e

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
        plain = plain_dtype(dtype)
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


def read_manifest(archive: Archive) -> list[tuple[tuple[int, ...], np.dtype]]:
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
            manifest.append((tuple(shape), plain_dtype(entry.get("dtype"))))
        except (TypeError, ValueError) as e:
            raise archive.error(f"config.json weight {i}: {e}") from None
    return manifest


def weight_names(count: int) -> list[str]:
    return [f"weights/{i:05d}.npy" for i in range(count)]


def manifest_of(weights: list) -> list[dict[str, Any]]:
    """config.json's list of weights: path, shape and dtype of each."""
    return [{"path": w.path, "shape": list(w.shape), "dtype": w.dtype} for w in weights]
