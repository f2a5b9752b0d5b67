"""`model.save`, `ge.models.load_model`, `save_weights`, `load_weights`: a model to and from the
file format of graphengine.io.archive, written atomically (graphengine.io.atomic). A load
rebuilds the architecture with what its layers may allocate capped by the weights the file holds,
then checks every weight against the model before assigning any."""

from __future__ import annotations

import math
import os
import zipfile
from typing import Any

import numpy as np

from graphengine import common
from graphengine.io.archive import (
    FORMAT_VERSION,
    MAGIC,
    Archive,
    config_text,
    manifest_of,
    plain_dtype,
    read_manifest,
    weight_names,
    write_arrays,
)
from graphengine.io.atomic import atomic_write
from graphengine.layers.base import weight_allowance
from graphengine.layers.serialization import decode, deserialize_layer, encode, serialize_layer
from graphengine.training import keras_files
from graphengine.training.model_config import compile_arguments, compile_config


def _rebuild(archive: Archive, manifest: list) -> Any:
    """The model of the file's config, its weights' allocation capped by the file's arrays
    (their headers checked against the manifest first)."""
    for name, (shape, dtype) in zip(weight_names(len(manifest)), manifest):
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
    names = weight_names(len(manifest))
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
            f"optimizer/{i:05d}.npy", v.shape, plain_dtype(v.dtype), f"optimizer variable {i}"
        )
        for i, v in enumerate(current)
    ]
    optimizer.set_weights(arrays)


MODEL_SUFFIXES = ".gez (graphengine), .keras (Keras 3)"
WEIGHT_SUFFIXES = ".gez (graphengine), .weights.h5 (Keras 3)"


def _suffix(path: Any) -> str:
    """The format a path's suffix names: "gez", "keras", "weights.h5", "h5" or ""."""
    name = os.fspath(path).lower()
    for suffix in ("gez", "keras", "weights.h5", "h5", "hdf5"):
        if name.endswith("." + suffix):
            return "h5" if suffix == "hdf5" else suffix
    return ""


def _unsupported(path: Any, what: str, suffixes: str) -> ValueError:
    return ValueError(
        f"{what}: {os.fspath(path)!r} has no supported suffix; the suffix picks the format: "
        f"{suffixes} (Keras 2's .h5 models are read, not written)"
    )


def save_model(model: Any, path: str) -> None:
    """`model.save(path)`: .gez, our format; .keras, Keras 3's archive; other suffixes raise."""
    suffix = _suffix(path)
    if suffix == "keras":
        return keras_files.save_keras(model, path)
    if suffix != "gez":
        raise _unsupported(path, f"Model '{model.name}'.save()", MODEL_SUFFIXES)
    model._require_graph()
    optimizer = getattr(model, "optimizer", None)
    opt_state = optimizer.variables if optimizer is not None and optimizer.built else []
    config = {
        "format": MAGIC,
        "version": FORMAT_VERSION,
        "kind": "model",
        "model": serialize_layer(model),
        "weights": manifest_of(model.weights),
        "compile": compile_config(model),
        "optimizer_variables": len(opt_state),
    }
    text = config_text(encode(config), model.name)

    def write(archive: zipfile.ZipFile) -> None:
        archive.writestr("config.json", text)
        write_arrays(archive, "weights", [w.value for w in model.weights])
        write_arrays(archive, "optimizer", [np.asarray(v) for v in opt_state])

    atomic_write(path, write)


def load_model(
    path: str,
    custom_objects: dict[str, Any] | None = None,
    compile: bool = True,
    safe_mode: bool = True,
) -> Any:
    """Rebuilds a saved model: same architecture, weights, compile settings and optimizer
    state (training continues where it stopped). `custom_objects` (name -> class or function)
    serve the names the file gives, as a custom_object_scope; `safe_mode` is Keras's argument,
    accepted for its signature: no load ever runs code from the file. `.keras` and `.h5` files
    are Keras's (graphengine.training.keras_files), `.gez` ours; other suffixes raise."""
    suffix = _suffix(path)
    if suffix == "keras":
        return keras_files.load_keras(path, custom_objects)
    if suffix in ("h5", "weights.h5"):
        return keras_files.load_h5(path, custom_objects)
    if suffix != "gez":
        raise _unsupported(path, "load_model()", MODEL_SUFFIXES + ", .h5 (Keras 2, read)")
    with (
        common.custom_object_scope(custom_objects),
        Archive(path, "model") as archive,
        archive.reading("the file"),
    ):
        manifest = read_manifest(archive)
        model = _rebuild(archive, manifest)
        _assign(model, archive, manifest)
        settings = decode(archive.config.get("compile"))
        if compile and settings:
            if not isinstance(settings, dict):
                raise archive.error(f"config.json 'compile' is {type(settings).__name__}")
            _restore_compile(model, settings, archive, archive.config.get("optimizer_variables"))
    return model


def save_weights(model: Any, path: str) -> None:
    suffix = _suffix(path)
    if suffix == "weights.h5":
        return keras_files.save_weights(model, path)
    if suffix != "gez":
        raise _unsupported(path, f"Model '{model.name}'.save_weights()", WEIGHT_SUFFIXES)
    config = {
        "format": MAGIC,
        "version": FORMAT_VERSION,
        "kind": "weights",
        "weights": manifest_of(model.weights),
    }
    text = config_text(config, model.name)

    def write(archive: zipfile.ZipFile) -> None:
        archive.writestr("config.json", text)
        write_arrays(archive, "weights", [w.value for w in model.weights])

    atomic_write(path, write)


def load_weights(model: Any, path: str) -> None:
    """Weights saved by save_weights (or save) of a model with the same architecture; Keras's
    .weights.h5, .h5 and .keras files too."""
    suffix = _suffix(path)
    if suffix in ("keras", "weights.h5", "h5"):
        return keras_files.load_weights(model, path)
    if suffix != "gez":
        raise _unsupported(
            path, f"Model '{model.name}'.load_weights()", WEIGHT_SUFFIXES + ", .keras, .h5"
        )
    with Archive(path, "weights") as archive, archive.reading("the file"):
        _assign(model, archive, read_manifest(archive))
