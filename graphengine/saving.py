"""`ge.saving`: Keras 3's keras.saving — save and load whole models, and the registry that lets
a saved config name custom classes and functions ("package>name") without running any code."""

from __future__ import annotations

import os
from typing import Any

from graphengine.common import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    register_keras_serializable,
    registered,
    registered_name,
)
from graphengine.training.saving import load_model

__all__ = [
    "CustomObjectScope",
    "custom_object_scope",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "load_model",
    "register_keras_serializable",
    "save_model",
]


def save_model(model: Any, filepath: Any, overwrite: bool = True) -> None:
    """`model.save(filepath)`; with overwrite=False an existing file is kept and FileExistsError
    raised (Keras asks on the terminal instead)."""
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(
            f"save_model(): {os.fspath(filepath)!r} exists and overwrite=False; pass "
            "overwrite=True to replace it"
        )
    model.save(filepath)


def get_registered_name(obj: Any) -> str:
    """The name `obj` is saved under: its registered name, else its `__name__` (as Keras)."""
    return registered_name(obj) or obj.__name__


def get_registered_object(
    name: str, custom_objects: dict[str, Any] | None = None, module_objects: Any = None
) -> Any:
    """The class or function registered (or in scope) as `name`, else custom_objects[name] or
    module_objects[name], else None (as Keras)."""
    try:
        return registered(name)
    except ValueError:
        for table in (custom_objects, module_objects):
            if table and name in table:
                return table[name]
        return None
