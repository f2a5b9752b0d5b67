"""Keras's HDF5 weight files (Keras 3's `model.weights.h5` / `.weights.h5`, Keras 2's `.h5`):
read distrustfully through h5py and written in Keras's layout. A read follows hard links only
(soft and external links refused), refuses external and virtual datasets, checks each dataset's
shape and dtype against what it must be before reading it, and caps attribute text; every
fault is a MalformedFileError naming the file."""

from __future__ import annotations

import contextlib
import io
import json
import math
from typing import Any, BinaryIO, Iterator

import numpy as np

from graphengine.io.archive import (
    MALFORMED,
    MAX_CONFIG_BYTES,
    MAX_JSON_DEPTH,
    MalformedFileError,
    _json_depth,
    plain_dtype,
)

try:  # h5py is a dependency; imported lazily so that a broken install fails only here
    import h5py
except ImportError:  # pragma: no cover - reported when a Keras file is opened
    h5py = None

# Names in a file are path components; real ones are a few dozen characters.
MAX_NAME = 1024


def _require_h5py() -> Any:
    if h5py is None:  # pragma: no cover
        raise ImportError("reading and writing Keras HDF5 files needs h5py: pip install h5py")
    return h5py


class H5Reader:
    """An HDF5 file opened for reading (a path or a seekable binary file)."""

    def __init__(self, source: str | BinaryIO, name: str, member: str = "") -> None:
        self.name, self.member = name, member  # the file, and the zip member it is in
        _require_h5py()
        try:
            self.file = h5py.File(source, "r")
        except (*MALFORMED, OSError) as e:
            raise self.error(f"it is not an HDF5 file (truncated or foreign: {e})") from e

    def __enter__(self) -> H5Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.file.close()

    def error(self, what: str) -> MalformedFileError:
        where = f"{self.member}: " if self.member else ""
        return MalformedFileError(f"'{self.name}': {where}{what}")

    @contextlib.contextmanager
    def reading(self, what: str) -> Iterator[None]:
        try:
            yield
        except MalformedFileError:
            raise
        except (*MALFORMED, OSError, KeyError) as e:
            raise self.error(f"{what} is malformed ({type(e).__name__}: {e})") from e

    def _child(self, group: Any, part: str, path: str) -> Any:
        """`group[part]` reached by a hard link, or None when there is no such link."""
        with self.reading(path):
            link = group.get(part, getlink=True)
            if link is None:
                return None
            if not isinstance(link, h5py.HardLink):
                raise self.error(
                    f"{path} is a {type(link).__name__}: only hard links are read (a link may "
                    "point outside the file)"
                )
            return group[part]

    def get(self, path: str) -> Any:
        """The group or dataset at `path` ('/'-separated), or None when absent."""
        parts = path.split("/")
        if any(not part or len(part) > MAX_NAME or part in (".", "..") for part in parts):
            raise self.error(f"{path!r} is not a valid HDF5 path")
        node = self.file
        for i, part in enumerate(parts):
            if not isinstance(node, h5py.Group):
                return None
            node = self._child(node, part, "/".join(path.split("/")[: i + 1]))
            if node is None:
                return None
        return node

    def group(self, path: str) -> Any:
        node = self.file if not path else self.get(path)
        if node is not None and not isinstance(node, h5py.Group):
            raise self.error(f"{path} is a {type(node).__name__}, not a group")
        return node

    def keys(self, path: str) -> list[str]:
        group = self.group(path)
        if group is None:
            return []
        with self.reading(path or "the root group"):
            return list(group.keys())

    def dataset(self, path: str, shape: tuple, dtype: np.dtype, what: str) -> np.ndarray:
        """The array at `path`, checked to be a plain `shape` array of `dtype`'s kind (other
        sizes of the kind are cast) before a byte of it is read."""
        node = self.get(path)
        if node is None:
            raise self.error(f"the file is incomplete: {path} ({what}) is missing")
        if not isinstance(node, h5py.Dataset):
            raise self.error(f"{path} is a {type(node).__name__}, not a dataset")
        with self.reading(path):
            if node.external or node.is_virtual:
                raise self.error(f"{path} stores its data outside the file (external/virtual)")
            found_shape, found_dtype = tuple(node.shape or ()), node.dtype
        try:
            plain = plain_dtype(found_dtype)
        except ValueError:
            raise self.error(f"{path} holds dtype {found_dtype}, not a plain array") from None
        if found_shape != tuple(shape) or plain.kind != dtype.kind:
            raise self.error(
                f"{path} holds a {found_shape} {plain.name} array, but {what} is "
                f"{tuple(shape)} {dtype.name}"
            )
        with self.reading(path):
            out = np.empty(shape, plain)
            if math.prod(shape):
                node.read_direct(out)
            return out.astype(dtype, copy=False)

    def _check_attribute(self, node: Any, name: str, what: str) -> None:
        """An attribute's declared size, before it is read (variable-length strings are
        counted at their references; their text, in the file's heap, is checked once read)."""
        attr = node.attrs.get_id(name)
        count = math.prod(attr.shape) if attr.shape is not None else 0
        if count * attr.dtype.itemsize > MAX_CONFIG_BYTES:
            raise self.error(f"{what} declares {count} items, over {MAX_CONFIG_BYTES} bytes")

    def text_attribute(self, path: str, name: str) -> str | None:
        """A string attribute (Keras's JSON configs), its size capped before it is read."""
        node = self.group(path)
        if node is None or name not in node.attrs:
            return None
        with self.reading(f"attribute {name!r}"):
            self._check_attribute(node, name, f"attribute {name!r}")
            value = node.attrs[name]
        if isinstance(value, np.ndarray) and value.shape == ():
            value = value.item()
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if not isinstance(value, str):
            raise self.error(f"attribute {name!r} is {type(value).__name__}, not text")
        if len(value) > MAX_CONFIG_BYTES:
            raise self.error(f"attribute {name!r} is over {MAX_CONFIG_BYTES} bytes")
        return value

    def json_attribute(self, path: str, name: str) -> Any:
        text = self.text_attribute(path, name)
        if text is None:
            return None
        depth = _json_depth(text.encode())
        if depth > MAX_JSON_DEPTH:
            raise self.error(
                f"attribute {name!r} nests {depth} levels deep, over {MAX_JSON_DEPTH=}"
            )
        try:
            return json.loads(text)
        except ValueError as e:
            raise self.error(f"attribute {name!r} is not valid JSON ({e})") from e

    def names_attribute(self, path: str, name: str) -> list[str]:
        """A list-of-names attribute (Keras 2's layer_names / weight_names)."""
        node = self.group(path)
        if node is None or name not in node.attrs:
            raise self.error(f"{path or 'the root group'} has no attribute {name!r}")
        with self.reading(f"attribute {name!r} of {path}"):
            self._check_attribute(node, name, f"attribute {name!r} of {path}")
            values = np.asarray(node.attrs[name])
        if values.ndim != 1 or (values.size and values.dtype.kind not in "OSU"):
            raise self.error(f"attribute {name!r} of {path} is not a list of names")
        names = [v.decode("utf-8") if isinstance(v, bytes) else v for v in values.tolist()]
        if not all(isinstance(n, str) and 0 < len(n) <= MAX_NAME for n in names):
            raise self.error(f"attribute {name!r} of {path} holds an invalid name")
        return names


# -- writing -------------------------------------------------------------------------------------
def write_h5(groups: list[tuple[str, dict[str, Any]]], arrays: list[tuple[str, Any]]) -> bytes:
    """An HDF5 file's bytes: `groups` (path, attributes) created in order, then `arrays` (path,
    array), as Keras's H5IOStore writes them (no compression, no chunking)."""
    _require_h5py()
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        for path, attrs in groups:
            group = f.require_group(path) if path else f
            for key, value in attrs.items():
                group.attrs[key] = value
        for path, array in arrays:
            f.create_dataset(path, data=np.asarray(array))
    return buf.getvalue()
