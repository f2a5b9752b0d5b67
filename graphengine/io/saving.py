"""`model.save`, `ge.models.load_model`, `save_weights`, `load_weights`.

One zip file: `config.json` (format, architecture, weight manifest, compile settings) and plain
`.npy` members for weights and optimizer state. Arrays are read with pickling disabled and the
config only names registered classes, so loading never runs code from the file. Writes go to
a temporary file beside the target that is renamed over it: a crash keeps the old file.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
import zipfile
from typing import Any, Callable

import numpy as np

from graphengine import utils
from graphengine.io.serialization import (
    FORMAT_VERSION,
    decode,
    deserialize_layer,
    encode,
    serialize_layer,
)

MAGIC = "graphengine"


def atomic_write(path: str, write: Callable[[zipfile.ZipFile], None]) -> None:
    """Writes a zip through `write` into a temporary file beside `path`, then renames it over
    `path` (atomic on POSIX and Windows); on any error the temporary file is removed."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                write(archive)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _write_arrays(archive: zipfile.ZipFile, folder: str, arrays: list[np.ndarray]) -> None:
    for i, array in enumerate(arrays):
        with archive.open(f"{folder}/{i:05d}.npy", "w") as f:
            np.lib.format.write_array(f, np.asarray(array, order="C"), allow_pickle=False)


class Archive:
    """A saved file opened for reading; every way it can be wrong is a ValueError."""

    def __init__(self, path: str, kind: str) -> None:
        self.path = os.fspath(path)
        try:
            self.zip = zipfile.ZipFile(self.path)
        except zipfile.BadZipFile:
            raise ValueError(
                f"'{self.path}' is not a graphengine file: not a zip archive (truncated or foreign)"
            ) from None
        try:
            config = json.loads(self.zip.read("config.json"))
        except KeyError:
            raise ValueError(
                f"'{self.path}' is not a graphengine file: it has no config.json"
            ) from None
        except (zipfile.BadZipFile, ValueError, EOFError, OSError) as e:
            raise ValueError(f"'{self.path}': config.json is corrupt ({e})") from None
        if not isinstance(config, dict) or config.get("format") != MAGIC:
            raise ValueError(
                f"'{self.path}' is not a graphengine file (config.json has no 'format': '{MAGIC}')"
            )
        if config.get("version") != FORMAT_VERSION:
            raise ValueError(
                f"'{self.path}' has format version {config.get('version')}, this "
                f"graphengine reads version {FORMAT_VERSION}"
            )
        if kind == "model" and config.get("kind") != "model":
            raise ValueError(
                f"'{self.path}' holds only weights; load it with "
                "model.load_weights() into a model of the same architecture"
            )
        self.config = config

    def arrays(self, folder: str, count: int) -> list[np.ndarray]:
        out = []
        for i in range(count):
            name = f"{folder}/{i:05d}.npy"
            try:
                with self.zip.open(name) as f:
                    out.append(np.lib.format.read_array(f, allow_pickle=False))
            except KeyError:
                raise ValueError(f"'{self.path}' is incomplete: {name} is missing") from None
            except (ValueError, zipfile.BadZipFile, EOFError, OSError) as e:
                raise ValueError(
                    f"'{self.path}': {name} cannot be read as a plain array ({e})"
                ) from None
        return out


def _manifest(weights: list) -> list[dict[str, Any]]:
    return [{"path": w.path, "shape": list(w.shape), "dtype": w.dtype} for w in weights]


def _assign(model: Any, archive: Archive, manifest: list[dict], arrays: list[np.ndarray]) -> None:
    """Checks every array against the model's weights before touching any of them."""
    weights = model.weights
    if len(manifest) != len(weights):
        raise ValueError(
            f"'{archive.path}' holds {len(manifest)} weights but model "
            f"'{model.name}' has {len(weights)}"
        )
    for var, array in zip(weights, arrays):
        if array.shape != var.shape:
            raise ValueError(
                f"'{archive.path}': weight '{var.path}' of model '{model.name}' has "
                f"shape {var.shape}, the file holds shape {array.shape}"
            )
    for var, array in zip(weights, arrays):
        var.assign(array)


def _compile_config(model: Any) -> dict[str, Any] | None:
    if not getattr(model, "compiled", False):
        return None
    try:
        losses = [None if f is None else _serialize_loss(f) for f in model._loss_fns]
        metrics = [[_serialize_metric(m) for m in ids] for ids in model._metric_ids]
    except ValueError as e:
        warnings.warn(
            f"Model '{model.name}' is saved without its compile settings: {e}", stacklevel=3
        )
        return None
    from graphengine.training.optimizers import serialize

    return {
        "optimizer": serialize(model.optimizer),
        "loss": losses,
        "metrics": metrics,
        "loss_weights": model._loss_weights,
        "device": model.device_name,
    }


def _serialize_loss(loss: Any) -> dict[str, Any]:
    fn = getattr(loss, "custom_fn", None)
    if fn is None:
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    name = utils.registered_name(fn)
    if name is None:
        raise ValueError(
            f"the custom loss {fn!r} is not registered (@ge.utils.register_serializable())"
        )
    return {"registered": name}


def _serialize_metric(metric: Any) -> Any:
    if isinstance(metric, str):
        return metric
    name = utils.registered_name(metric)
    if name is None:
        raise ValueError(f"the metric {metric!r} is not registered")
    return {"registered": name}


def save_model(model: Any, path: str) -> None:
    model._require_graph()
    optimizer = getattr(model, "optimizer", None)
    opt_state = optimizer.variables if optimizer is not None and optimizer.built else []
    config = {
        "format": MAGIC,
        "version": FORMAT_VERSION,
        "kind": "model",
        "model": serialize_layer(model),
        "weights": _manifest(model.weights),
        "compile": _compile_config(model),
        "optimizer_variables": len(opt_state),
    }

    def write(archive: zipfile.ZipFile) -> None:
        archive.writestr("config.json", json.dumps(encode(config), indent=1))
        _write_arrays(archive, "weights", [w.value for w in model.weights])
        _write_arrays(archive, "optimizer", [np.asarray(v) for v in opt_state])

    atomic_write(path, write)


def load_model(path: str, compile: bool = True) -> Any:
    """Rebuilds a saved model: same architecture, weights, compile settings and optimizer
    state (training continues where it stopped)."""
    archive = Archive(path, "model")
    config = decode(archive.config)
    try:
        model = deserialize_layer(config["model"])
    except (KeyError, TypeError) as e:
        raise ValueError(f"'{archive.path}': the model config is malformed ({e!r})") from None
    manifest = config.get("weights", [])
    _assign(model, archive, manifest, archive.arrays("weights", len(manifest)))
    settings = config.get("compile")
    if compile and settings:
        _restore_compile(model, settings, archive, config.get("optimizer_variables", 0))
    return model


def _restore_compile(model: Any, settings: dict, archive: Archive, n_state: int) -> None:
    from graphengine.training import losses, optimizers

    def loss(entry: Any) -> Any:
        if entry is None:
            return None
        if "registered" in entry:
            return utils.registered(entry["registered"])
        return losses.get(entry)

    def metric(entry: Any) -> Any:
        return utils.registered(entry["registered"]) if isinstance(entry, dict) else entry

    model.compile(
        optimizer=optimizers.deserialize(settings["optimizer"]),
        loss=[loss(e) for e in settings["loss"]],
        loss_weights=settings["loss_weights"],
        metrics=[[metric(m) for m in ids] for ids in settings["metrics"]],
        device=settings.get("device"),
    )
    if n_state:
        model.optimizer.build(model.trainable_weights)
        model.optimizer.set_weights(archive.arrays("optimizer", n_state))


def save_weights(model: Any, path: str) -> None:
    config = {
        "format": MAGIC,
        "version": FORMAT_VERSION,
        "kind": "weights",
        "weights": _manifest(model.weights),
    }

    def write(archive: zipfile.ZipFile) -> None:
        archive.writestr("config.json", json.dumps(config, indent=1))
        _write_arrays(archive, "weights", [w.value for w in model.weights])

    atomic_write(path, write)


def load_weights(model: Any, path: str) -> None:
    """Weights saved by save_weights (or save) of a model with the same architecture."""
    archive = Archive(path, "weights")
    manifest = archive.config.get("weights", [])
    _assign(model, archive, manifest, archive.arrays("weights", len(manifest)))
