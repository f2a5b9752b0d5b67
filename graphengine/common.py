"""Seeding, unique layer names, Keras-style argument checking (keywords, integers, shapes,
class ids) and the serialization registry (with Keras 3's registration and custom-object scopes)."""

from __future__ import annotations

import difflib
import random
import re
from contextvars import ContextVar, Token
from typing import Any, Callable, Iterable

import numpy as np

_rng = np.random.default_rng()
_name_counts: dict[str, int] = {}
_registry: dict[str, Any] = {}
_names: dict[Any, str] = {}  # object -> the name it was last registered under
# the custom objects of the active custom_object_scope blocks (load_model's custom_objects)
_scope: ContextVar[dict[str, Any] | None] = ContextVar("graphengine_custom_objects", default=None)


def set_random_seed(seed: int) -> None:
    """Makes weight initialization, shuffling and dropout masks reproducible."""
    global _rng
    _rng = np.random.default_rng(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


def rng() -> np.random.Generator:
    """The global generator that `set_random_seed` resets."""
    return _rng


def snake_case(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()  # Conv2D -> conv2d, as Keras


def unique_name(base: str) -> str:
    """'dense', then 'dense_1', 'dense_2', ... as Keras names layers."""
    n = _name_counts.get(base, 0)
    _name_counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def clear_session() -> None:
    """Resets the layer-name counters (as keras.backend.clear_session)."""
    _name_counts.clear()


def check_kwargs(owner: str, given: Iterable[str], valid: Iterable[str]) -> None:
    """TypeError for the first unknown keyword, suggesting the closest valid one."""
    valid = sorted(set(valid))
    for key in given:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
            hint = (
                f"; did you mean '{close[0]}'?"
                if close
                else f"; valid keywords: {', '.join(valid)}"
            )
            raise TypeError(f"{owner} got an unexpected keyword argument '{key}'{hint}")


def check_int(value: Any, name: str, owner: str, minimum: int = 0) -> int:
    """`value` as an int (NumPy integers too): TypeError for anything else, bools included,
    ValueError below `minimum`; the message names `owner` (e.g. "fit()") and `name`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{owner}: {name} must be an integer, received {name}={value!r} "
            f"of type {type(value).__name__}"
        )
    if value < minimum:
        raise ValueError(
            f"{owner}: {name} must be an integer >= {minimum}, received {name}={value!r}"
        )
    return int(value)


def check_shape(shape: Any, name: str, owner: str) -> tuple[int | None, ...]:
    """`shape` as a tuple of non-negative ints and Nones (NumPy integers too), as Keras's
    standardize_shape: ValueError naming `owner` and `name` for floats, bools, negative sizes
    or a value that is not a sequence."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise ValueError(
            f"{owner}: {name}={shape!r} is not a shape; give a tuple of non-negative "
            "integers or None, e.g. (28, 28, 1)"
        )
    shape = tuple(shape)
    for d in shape:
        if d is None:
            continue
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
            raise ValueError(
                f"{owner}: {name}={shape!r} has the entry {d!r} of type {type(d).__name__}; "
                "each entry must be a non-negative integer or None"
            )
        if d < 0:
            raise ValueError(
                f"{owner}: {name}={shape!r} has the negative entry {d}; each entry must be a "
                "non-negative integer or None (None for a size known only at run time)"
            )
    return tuple(None if d is None else int(d) for d in shape)


def check_class_ids(ids: Any, num_classes: int | None, where: str, user: str) -> None:
    """ValueError naming the first entry of `ids` that is not an integer class id in
    [0, num_classes) for `user` (a loss or metric): -1, num_classes, NaN and 2.5 all fail, since
    a one-hot of them is silently all zeros. `where` starts the message, e.g. "y_true".
    One vectorized pass: min/max for integer arrays, one mask for float ones."""
    ids = np.asarray(ids)
    if ids.dtype.kind not in "biuf":
        raise TypeError(
            f"{where} must hold integer class ids for {user}, received dtype {ids.dtype}"
        )
    if ids.size == 0:
        return
    high = np.inf if num_classes is None else num_classes
    if ids.dtype.kind == "f":
        bad = ~((ids >= 0) & (ids < high) & (ids == np.floor(ids)))  # NaN compares False
    elif ids.min() >= 0 and ids.max() < high:
        return
    else:
        bad = (ids < 0) | (ids >= high)
    if not bad.any():
        return
    pos = np.unravel_index(int(np.argmax(bad)), ids.shape)
    index = int(pos[0]) if len(pos) == 1 else tuple(int(p) for p in pos)
    value = ids[pos].item()
    bounds = f"[0, {num_classes})" if num_classes is not None else "[0, inf)"
    classes = f" on {num_classes} classes" if num_classes is not None else ""
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(
            f"{where} holds label {value} at index {index}, not an integer class id in "
            f"{bounds} for {user}{classes}"
        )
    raise ValueError(
        f"{where} holds label {value} at index {index}, outside {bounds} for {user}{classes}"
    )


def parameter_names(fn: Callable) -> list[str]:
    """The named parameters of `fn` (the valid keywords of a call)."""
    import inspect

    return [
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
    ]


def lookup(kind: str, identifier: str, table: dict[str, Any]) -> Any:
    """table[identifier] case-insensitively, or ValueError listing the valid names."""
    key = identifier.lower() if isinstance(identifier, str) else identifier
    if key in table:
        return table[key]
    raise ValueError(f"Unknown {kind} {identifier!r}; valid names: {', '.join(sorted(table))}")


def register_serializable(name: str | None = None) -> Callable[[Any], Any]:
    """Decorator registering a function or class under `name` (default: its `__name__`) so saved
    models can refer to it by name (loading never unpickles code)."""

    def register(obj: Any) -> Any:
        _register(name or obj.__name__, obj)
        return obj

    return register


def register_keras_serializable(
    package: str = "Custom", name: str | None = None
) -> Callable[[Any], Any]:
    """Keras 3's decorator: registers a class or function under "package>name" (name defaults to
    its `__name__`); a class needs a `get_config` method, as in Keras."""
    if not isinstance(package, str) or (name is not None and not isinstance(name, str)):
        raise TypeError(
            f"register_keras_serializable(): package and name must be strings, received "
            f"{package=!r}, {name=!r}"
        )

    def register(obj: Any) -> Any:
        if isinstance(obj, type) and not hasattr(obj, "get_config"):
            raise ValueError(
                f"register_keras_serializable(): cannot register class {obj.__name__}, which "
                "has no get_config() method"
            )
        _register(f"{package}>{name if name is not None else obj.__name__}", obj)
        return obj

    return register


def _register(name: str, obj: Any) -> None:
    _registry[name] = obj
    try:
        _names[obj] = name  # the latest registration names the object, as in Keras
    except TypeError:  # an unhashable object: found by scanning _registry instead
        pass


def get_custom_objects() -> dict[str, Any]:
    """The live registry: name -> class or function (Keras 3's get_custom_objects). Entries added
    to it load by name; those of a custom_object_scope are not in it."""
    return _registry


class CustomObjectScope:
    """`with CustomObjectScope({"MyLayer": MyLayer}):` configs loaded (and saved) inside the block
    may name these objects, as if registered; nested scopes see the outer ones' too."""

    def __init__(self, custom_objects: dict[str, Any] | None = None) -> None:
        custom_objects = {} if custom_objects is None else custom_objects
        if not isinstance(custom_objects, dict):
            raise TypeError(
                "custom_objects must be a dict of name -> class or function, received "
                f"{type(custom_objects).__name__}"
            )
        for key in custom_objects:
            if not isinstance(key, str):
                raise TypeError(
                    f"custom_objects keys must be names (str), received {key!r} of type "
                    f"{type(key).__name__}"
                )
        self.custom_objects = dict(custom_objects)
        self._tokens: list[Token] = []

    def __enter__(self) -> CustomObjectScope:
        self._tokens.append(_scope.set({**(_scope.get() or {}), **self.custom_objects}))
        return self

    def __exit__(self, *exc: Any) -> None:
        _scope.reset(self._tokens.pop())


custom_object_scope = CustomObjectScope


def registered(name: str) -> Any:
    """The class or function saved under `name`: a custom_object_scope's (load_model's
    custom_objects) first, then the registry; "package>Name" also finds a scope's "Name"."""
    scope = _scope.get() or {}
    for found in (scope.get(name), _registry.get(name)):
        if found is not None:
            return found
    if isinstance(name, str) and ">" in name and name.rsplit(">", 1)[1] in scope:
        return scope[name.rsplit(">", 1)[1]]
    raise ValueError(
        f"{name!r} is not registered; decorate it with "
        "@ge.saving.register_keras_serializable() (or @ge.utils.register_serializable()), "
        "or pass it in custom_objects, before loading"
    )


def registered_name(obj: Any) -> str | None:
    """The name `obj` is saved under: its registration, else its key in the registry or in an
    active custom_object_scope; None when it has none."""
    try:
        if obj in _names and _registry.get(_names[obj]) is obj:
            return _names[obj]
    except TypeError:
        pass
    for table in (_registry, _scope.get() or {}):
        for name, value in table.items():
            if value is obj:
                return name
    return None
