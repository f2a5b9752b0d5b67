"""Where Keras keeps each weight of a model in its HDF5 files, and weights read from and written
to those places. Keras 3 (`.keras`'s model.weights.h5, `.weights.h5`) walks the model as its
saving_lib does: a layer's own variables at `<path>/vars/<i>` (trainable ones first), its
sublayers under the attribute holding them, a model's layers under `layers/<class in snake
case>[_<n>]`. Keras 2 (`.h5`) lists layers with weights by name, each weight by name."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from graphengine import common
from graphengine.io.archive import plain_dtype
from graphengine.io.keras_h5 import H5Reader, write_h5
from graphengine.layers.base import Layer
from graphengine.layers.serialization import layer_classes


def model_classes() -> tuple[type, type]:
    """(Model, Sequential), as the model module registered them (importing it from here would
    close a circle: models save through this module)."""
    return layer_classes()["Functional"], layer_classes()["Sequential"]


def is_functional(layer: Any) -> bool:
    """A model whose graph of call sites Keras's functional config can describe."""
    model, sequential = model_classes()
    return (
        isinstance(layer, model)
        and not isinstance(layer, sequential)
        and bool(getattr(layer, "_sites", None))
        and not layer._is_subclassed()
    )


def _join(path: str, name: str) -> str:
    return f"{path}/{name}" if path else name


def _own_variables(layer: Layer) -> list[Any]:
    """Keras's `_trainable_variables + _non_trainable_variables`: created trainable first."""
    return sorted(layer._weights, key=lambda w: not w.trainable)


def keras_class_name(layer: Any) -> str:
    """The class Keras names a layer by (a functional model is Keras's Functional)."""
    name = type(layer).__name__
    return "Functional" if name == "Model" else name


def _children(layer: Any) -> Iterator[tuple[str, Any]]:
    """(attribute, sublayer or list of them) in the order Keras visits them: a functional or
    Sequential model's `layers` first, then attributes sorted with private ones last."""
    if isinstance(layer, model_classes()[1]) or is_functional(layer):
        yield "layers", list(layer.layers)
        return
    items = sorted(vars(layer).items(), key=lambda kv: "~" + kv[0] if kv[0][0] == "_" else kv[0])
    for attr, value in items:
        if attr == "_layers" or attr.startswith("__"):
            continue
        if isinstance(value, Layer) and value is not layer:
            yield attr, value
        elif isinstance(value, (list, tuple, dict)):
            found = list(value.values()) if isinstance(value, dict) else list(value)
            if any(isinstance(v, Layer) for v in found):
                yield attr, found


def keras3_layout(model: Any) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """([(vars group path, layer)], [(dataset path, weight)]) of Keras 3's weights layout,
    each layer once (where Keras first meets it)."""
    groups: list[tuple[str, Any]] = []
    datasets: list[tuple[str, Any]] = []
    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [("", model)]
    while stack:
        path, layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        vars_path = _join(path, "vars")
        groups.append((vars_path, layer))
        datasets += [(f"{vars_path}/{i}", w) for i, w in enumerate(_own_variables(layer))]
        visits = []
        for attr, child in _children(layer):
            if isinstance(child, list):
                visits += _container(child, _join(path, attr))
            else:
                visits.append((_join(path, attr), child))
        stack += reversed(visits)
    return groups, datasets


def _container(layers: list[Any], path: str) -> list[tuple[str, Any]]:
    """Keras names a list's layers by class, numbered from the second of a class on."""
    used: dict[str, int] = {}
    out = []
    for layer in layers:
        if not isinstance(layer, Layer):
            continue
        name = common.snake_case(keras_class_name(layer))
        used[name] = used.get(name, -1) + 1
        out.append((_join(path, name if used[name] == 0 else f"{name}_{used[name]}"), layer))
    return out


def _check_covered(model: Any, datasets: list[tuple[str, Any]]) -> None:
    placed = {w.id for _, w in datasets}
    missing = [w.path for w in model.weights if w.id not in placed]
    if missing:
        raise ValueError(
            f"Model '{model.name}': weights {missing} sit where Keras's layout has no place for "
            "them (a layer holding sublayers Keras's walk does not reach)"
        )


def _read_all(h5: H5Reader, places: list[tuple[str, Any]]) -> list[np.ndarray]:
    return [
        h5.dataset(path, tuple(w.shape), plain_dtype(w.dtype), f"weight '{w.path}'")
        for path, w in places
    ]


def _assign(places: list[tuple[str, Any]], arrays: list[np.ndarray]) -> None:
    for (_, w), array in zip(places, arrays):
        w.assign(array)


def load_keras3(model: Any, h5: H5Reader) -> None:
    """Every weight of `model` from Keras 3's layout: each vars group must hold as many arrays
    as the layer has variables, each array its weight's shape; all checked, then assigned."""
    groups, datasets = keras3_layout(model)
    _check_covered(model, datasets)
    for path, layer in groups:
        found, expected = len(h5.keys(path)), len(_own_variables(layer))
        if found != expected:
            raise h5.error(
                f"{path} holds {found} arrays, but layer '{layer.name}' "
                f"({type(layer).__name__}) has {expected} weights"
            )
    _assign(datasets, _read_all(h5, datasets))


def keras3_bytes(model: Any) -> bytes:
    """Keras 3's weights file for `model` (what `.weights.h5` and model.weights.h5 hold)."""
    groups, datasets = keras3_layout(model)
    _check_covered(model, datasets)
    return write_h5(
        [(path, {"name": layer.name}) for path, layer in groups],
        [(path, w.value) for path, w in datasets],
    )


# -- Keras 2's layout --------------------------------------------------------------------------
def legacy_root(h5: H5Reader) -> str:
    """Where a Keras 2 file keeps its layers: `model_weights` of a whole model, else the root."""
    return "model_weights" if h5.group("model_weights") is not None else ""


def load_legacy(model: Any, h5: H5Reader, root: str) -> None:
    """Keras 2's `load_weights_from_hdf5_group`: the file's layers with weights matched in
    order to the model's, each layer's weights (trainable first) in order."""
    names = [
        name
        for name in h5.names_attribute(root, "layer_names")
        if h5.names_attribute(_join(root, name), "weight_names")
    ]
    layers = [layer for layer in model.layers if layer.weights]
    if len(names) != len(layers):
        raise h5.error(
            f"it holds weights for {len(names)} layers ({', '.join(names)}), but model "
            f"'{model.name}' has {len(layers)} layers with weights"
        )
    places = []
    for name, layer in zip(names, layers):
        group = _join(root, name)
        weight_names = h5.names_attribute(group, "weight_names")
        weights = layer.trainable_weights + layer.non_trainable_weights
        if len(weight_names) != len(weights):
            raise h5.error(
                f"layer {name!r} holds {len(weight_names)} weights, but layer '{layer.name}' "
                f"of the model has {len(weights)}"
            )
        places += [(_join(group, n), w) for n, w in zip(weight_names, weights)]
    _assign(places, _read_all(h5, places))
