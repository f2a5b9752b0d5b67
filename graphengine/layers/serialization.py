"""Layer configs as JSON-safe data, and layers rebuilt from them. Only built-in and registered
classes are ever looked up by name: nothing in a config is executed. A layer met again anywhere
in one (de)serialization (shared across nested models, wrappers and cells) is written once and
referenced after, so a rebuilt model shares it exactly where the original did."""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import Any, Callable, Iterator

import numpy as np

from graphengine import common

# The classes configs name: graphengine.layers registers its public ones, Model registers itself
# as "Functional" and "Model", Sequential as "Sequential".
_CLASSES: dict[str, type] = {}


def register_layer_class(name: str, cls: type) -> None:
    _CLASSES[name] = cls


def layer_classes() -> dict[str, type]:
    return _CLASSES


def encode(value: Any) -> Any:
    """JSON-safe form of configs holding tuples, slices and NumPy scalars."""
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, slice):
        return {"__slice__": [value.start, value.stop, value.step]}
    if isinstance(value, np.generic):
        return value.item()
    if value is Ellipsis:
        return {"__ellipsis__": True}
    return value


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if "__tuple__" in value:
            return tuple(decode(v) for v in value["__tuple__"])
        if "__slice__" in value:
            return slice(*value["__slice__"])
        if "__ellipsis__" in value:
            return Ellipsis
        return {k: decode(v) for k, v in value.items()}
    return value


class _Saving:
    """The layers serialized so far in one config, numbered in the order their serialization
    finished (children before the models holding them): the order a load creates them in."""

    def __init__(self) -> None:
        self.ids: dict[int, tuple[int, Any]] = {}  # id(layer) -> (number, layer kept alive)


class _Loading:
    """The layers created so far while rebuilding one config, numbered as `_Saving` numbered
    them."""

    def __init__(self) -> None:
        self.layers: list[Any] = []


_SAVING: ContextVar[_Saving | None] = ContextVar("graphengine_saving", default=None)
_LOADING: ContextVar[_Loading | None] = ContextVar("graphengine_loading", default=None)


@contextlib.contextmanager
def _scope(var: ContextVar, make: Callable[[], Any]) -> Iterator[Any]:
    """The scope of the outermost (de)serialization in progress, or a new one for this call."""
    current = var.get()
    if current is not None:
        yield current
        return
    token = var.set(make())
    try:
        yield var.get()
    finally:
        var.reset(token)


def serialize_layer(layer: Any) -> dict[str, Any]:
    """{"class_name", "config"} of a layer ("registered": True for a registered class), or a
    reference {"class_name", "shared_id", "name"} to one serialized earlier in this scope."""
    with _scope(_SAVING, _Saving) as scope:
        name = _class_name(layer)
        if id(layer) in scope.ids:
            return {"class_name": name, "shared_id": scope.ids[id(layer)][0], "name": layer.name}
        config = encode(layer.get_config())
        scope.ids[id(layer)] = (len(scope.ids), layer)
        entry = {"class_name": name, "config": config}
        if name not in layer_classes():
            entry["registered"] = True
        build = layer.get_build_config()
        if build is not None:
            entry["build_config"] = encode(build)
        return entry


def _class_name(layer: Any) -> str:
    name = type(layer).__name__
    if name == "Model":
        name = "Functional"
    if name in layer_classes():
        return name
    registered = common.registered_name(type(layer))
    if registered is None:
        raise ValueError(
            f"Layer '{layer.name}' is a {type(layer).__name__}, which is not a "
            "built-in layer: register the class with "
            "@ge.utils.register_serializable() to save it"
        )
    return registered


def deserialize_layer(config: Any) -> Any:
    """The layer of a config made by serialize_layer (a layer given instead passes through)."""
    if not isinstance(config, dict):
        return config
    with _scope(_LOADING, _Loading) as scope:
        if "shared_id" in config and "config" not in config:
            return _shared(scope, config)
        name = config.get("class_name")
        cls = common.registered(name) if config.get("registered") else layer_classes().get(name)
        if cls is None:
            raise ValueError(f"unknown layer class {name!r} in the saved config")
        layer = cls.from_config(decode(config["config"]))
        if config.get("build_config") is not None:
            layer.build_from_config(decode(config["build_config"]))
        scope.layers.append(layer)
        return layer


def _shared(scope: _Loading, ref: dict[str, Any]) -> Any:
    """The layer a reference {"class_name", "shared_id", "name"} names, created earlier."""
    number = ref["shared_id"]
    layer = (
        scope.layers[number] if type(number) is int and 0 <= number < len(scope.layers) else None
    )
    if layer is None or (_class_name(layer), layer.name) != (ref["class_name"], ref.get("name")):
        found = "nothing" if layer is None else f"{_class_name(layer)} '{layer.name}'"
        raise ValueError(
            f"the saved config refers to shared layer {number!r} "
            f"({ref['class_name']} '{ref.get('name')}'), but that number names {found}"
        )
    return layer


@contextlib.contextmanager
def saving() -> Iterator[None]:
    """Configs serialized inside share one numbering of layers (see serialize_layer)."""
    with _scope(_SAVING, _Saving):
        yield


@contextlib.contextmanager
def loading() -> Iterator[None]:
    """Configs rebuilt inside share one numbering of layers (see deserialize_layer)."""
    with _scope(_LOADING, _Loading):
        yield
