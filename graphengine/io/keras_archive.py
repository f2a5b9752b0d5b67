"""Keras 3's `.keras` archive: a zip of config.json, metadata.json and model.weights.h5. Read
as graphengine.io.archive reads our own files (each member's declared size, compression and
encryption checked in the zip directory before it is read, JSON size and depth capped), and
written atomically in the layout Keras writes (stored members, in Keras's order)."""

from __future__ import annotations

import contextlib
import datetime
import json
import zipfile
from typing import Any, BinaryIO, Iterator

from graphengine.io.archive import Archive, MalformedFileError
from graphengine.io.atomic import atomic_write_file
from graphengine.io.keras_h5 import H5Reader

CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
# The weights member is read in place (h5py seeks in it), never whole; the cap only refuses
# directories declaring absurd sizes. What the model may allocate is capped by its size.
MAX_WEIGHTS_BYTES = 2**40
MAX_ASSET_BYTES = 64 * 2**20  # a vocabulary file: millions of tokens
KERAS_VERSION = "3.15.1"  # the Keras whose format this follows (Keras reads no metadata)


class KerasArchive(Archive):
    """A .keras file opened for reading: `config` is its config.json."""

    format_name = "Keras file (.keras)"

    def _read_config(self, kind: str) -> dict[str, Any]:
        if CONFIG not in self.zip.namelist():
            raise MalformedFileError(
                f"'{self.path}' is not a {self.format_name}: it has no {CONFIG}"
            )
        config = self.json_member(CONFIG)
        if not (isinstance(config, dict) and "class_name" in config and "config" in config):
            raise self.error(f"{CONFIG} is not a Keras model config ({{'class_name', 'config'}})")
        return config

    def weights_size(self) -> int:
        """The declared size of model.weights.h5, checked in the zip directory."""
        if WEIGHTS not in self.zip.namelist():
            others = [n for n in self.zip.namelist() if n.startswith("model.weights")]
            found = f" (it holds {others[0]}, a layout graphengine does not read)" if others else ""
            raise self.error(f"the file is incomplete: {WEIGHTS} is missing{found}")
        return self.member(WEIGHTS, MAX_WEIGHTS_BYTES).file_size

    def text_member(self, name: str) -> str | None:
        """A UTF-8 text member (an asset such as a vocabulary), its size checked before it is
        read; None where the archive has no such member."""
        if name not in self.zip.namelist():
            return None
        info = self.member(name, MAX_ASSET_BYTES)
        with self.reading(name), self.zip.open(info) as f:
            raw = f.read(info.file_size)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise self.error(f"{name} is not UTF-8 text ({e})") from e

    @contextlib.contextmanager
    def weights(self) -> Iterator[H5Reader]:
        info = self.member(WEIGHTS, MAX_WEIGHTS_BYTES)
        with self.reading(WEIGHTS), self.zip.open(info) as member:
            with H5Reader(member, self.path, WEIGHTS) as h5:
                yield h5


def write_keras(
    path: str,
    config: dict[str, Any],
    weights: bytes,
    producer: str,
    assets: dict[str, bytes] | None = None,
) -> None:
    """A .keras archive of `config`, the weights file's bytes and `assets` (member name ->
    bytes, Keras's assets/ folder), written atomically."""
    metadata = {
        "keras_version": KERAS_VERSION,
        "producer": producer,
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
    }

    def write(f: BinaryIO) -> None:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as z:
            z.writestr(METADATA, json.dumps(metadata))
            z.writestr(CONFIG, json.dumps(config))
            z.writestr(WEIGHTS, weights)
            for name, data in sorted((assets or {}).items()):
                z.writestr(name, data)

    atomic_write_file(path, write)
