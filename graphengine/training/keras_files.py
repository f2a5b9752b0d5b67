"""Keras's files as models: `.keras` archives read and written, Keras 2's `.h5` models read,
`.weights.h5` weights read and written. A load rebuilds the architecture with what its layers
may allocate capped by the size of the file's weights, then checks every array against the
model before assigning any (graphengine.training.keras_weights)."""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator

from graphengine import common
from graphengine.io.archive import MalformedFileError
from graphengine.io.atomic import atomic_write_file
from graphengine.io.keras_archive import KerasArchive, write_keras
from graphengine.io.keras_h5 import H5Reader
from graphengine.layers.base import weight_allowance
from graphengine.training import keras_weights
from graphengine.training.keras_config import layer_from_keras
from graphengine.training.keras_config_out import keras_config


@contextlib.contextmanager
def _rebuilding(error: Any, what: str, weight_bytes: int) -> Iterator[None]:
    """Model building from a config, malformed configs turned into errors naming the file,
    and the layers' weights capped at one element per byte of the file's weights."""
    try:
        with weight_allowance(weight_bytes, error, "the file's weights"):
            yield
    except MalformedFileError:
        raise
    except (ValueError, TypeError, LookupError, AttributeError, RecursionError) as e:
        raise error(f"{what} cannot be loaded ({type(e).__name__}: {e})") from e


def _model_from(config: Any, error: Any, what: str, weight_bytes: int) -> Any:
    with _rebuilding(error, what, weight_bytes):
        model = layer_from_keras(config)
    if not isinstance(model, keras_weights.model_classes()[0]):
        raise error(f"{what} holds a {type(model).__name__}, not a model")
    return model


def load_keras(path: str, custom_objects: dict[str, Any] | None = None) -> Any:
    """The model of a Keras 3 `.keras` archive, weights and all (not compiled)."""
    with common.custom_object_scope(custom_objects), KerasArchive(path, "model") as archive:
        size = archive.weights_size()
        model = _model_from(archive.config, archive.error, "config.json", size)
        with archive.weights() as h5:
            keras_weights.load_keras3(model, h5)
        _load_vocabularies(model, archive)
    return model


def save_keras(model: Any, path: str) -> None:
    """A `.keras` archive Keras 3's `keras.saving.load_model` loads: the architecture, the
    weights and the lookup layers' vocabularies (no compile settings nor optimizer state)."""
    model._require_graph()
    config = keras_config(model)
    weights = keras_weights.keras3_bytes(model)
    write_keras(path, config, weights, "graphengine", _vocabulary_assets(model))


# Keras keeps an adapted lookup layer's vocabulary (StringLookup, IntegerLookup, and
# TextVectorization's) out of config.json, in assets/<the layer's path>/vocabulary.txt: one
# token a line, the special tokens first (IndexLookup.save_assets / load_assets).
VOCABULARY = "vocabulary.txt"


def _vocabulary_layers(model: Any) -> Iterator[tuple[str, Any]]:
    """(asset path, layer) of each layer with a vocabulary, where Keras's saving visits it."""
    groups, _ = keras_weights.keras3_layout(model)
    for vars_path, layer in groups:
        if hasattr(layer, "get_vocabulary") and hasattr(layer, "set_vocabulary"):
            folder = vars_path.removesuffix("vars").rstrip("/")
            yield "/".join(p for p in ("assets", folder, VOCABULARY) if p), layer


def _vocabulary_assets(model: Any) -> dict[str, bytes]:
    """The vocabulary files of the layers whose vocabulary is not in their config."""
    assets = {}
    for name, layer in _vocabulary_layers(model):
        if layer.get_config().get("vocabulary") is not None:
            continue
        if getattr(layer, "output_mode", None) == "tf_idf":
            raise ValueError(
                f"Layer '{layer.name}': a tf_idf lookup's IDF weights have no place in a .keras "
                "file written by graphengine yet; save the model as .gez"
            )
        tokens = layer.get_vocabulary(include_special_tokens=True)
        assets[name] = "\n".join(str(t) for t in tokens).encode("utf-8")
    return assets


def _load_vocabularies(model: Any, archive: KerasArchive) -> None:
    """Each lookup layer without a vocabulary in its config takes the one the archive keeps
    for it; one with neither raises (it would map every input to the OOV index silently)."""
    for name, layer in _vocabulary_layers(model):
        if layer.get_vocabulary(include_special_tokens=False):
            continue  # from its config, or set through its TextVectorization already
        text = archive.text_member(name)
        if text is None:
            raise archive.error(
                f"layer '{layer.name}' has no vocabulary: neither its config nor {name} holds one"
            )
        if getattr(layer, "output_mode", None) == "tf_idf":
            raise archive.error(
                f"layer '{layer.name}' is a tf_idf lookup, whose IDF weights graphengine does "
                "not read from a .keras file yet"
            )
        lines = text.splitlines()
        while lines and lines[-1] == "":
            lines.pop()
        tokens = [int(t) for t in lines] if _integer_keys(layer) else lines
        layer.set_vocabulary(tokens)


def _integer_keys(layer: Any) -> bool:
    return getattr(layer, "vocabulary_dtype", "string") != "string"


def load_h5(path: str, custom_objects: dict[str, Any] | None = None) -> Any:
    """The model of a Keras HDF5 file (`model.save("m.h5")`: model_config and model_weights)."""
    path = os.fspath(path)
    with common.custom_object_scope(custom_objects), H5Reader(path, path) as h5:
        config = h5.json_attribute("", "model_config")
        if config is None:
            raise h5.error(
                "it holds weights only (no model_config); load it with model.load_weights() "
                "into a model of the same architecture"
            )
        model = _model_from(config, h5.error, "model_config", os.path.getsize(path))
        _load_h5_weights(model, h5)
    return model


def _load_h5_weights(model: Any, h5: H5Reader) -> None:
    """Keras 2's layout where the file lists layer names, else Keras 3's."""
    root = keras_weights.legacy_root(h5)
    group = h5.group(root)
    if group is not None and "layer_names" in group.attrs:
        keras_weights.load_legacy(model, h5, root)
    else:
        keras_weights.load_keras3(model, h5)


def load_weights(model: Any, path: str) -> None:
    """Weights from `.weights.h5` / `.h5` (Keras 3's or Keras 2's layout) or from a .keras
    archive, into a model of the same architecture."""
    path = os.fspath(path)
    if path.endswith(".keras"):
        with KerasArchive(path, "model") as archive, archive.weights() as h5:
            keras_weights.load_keras3(model, h5)
        return
    with H5Reader(path, path) as h5:
        _load_h5_weights(model, h5)


def save_weights(model: Any, path: str) -> None:
    """Keras 3's `.weights.h5`, written atomically."""
    data = keras_weights.keras3_bytes(model)
    atomic_write_file(path, lambda f: f.write(data))
