"""Seeding, unique layer names, Keras-style argument checking and serialization registry."""

from __future__ import annotations

import difflib
import random
import re
from typing import Any, Callable, Iterable

import numpy as np

_rng = np.random.default_rng()
_name_counts: dict[str, int] = {}
_registry: dict[str, Any] = {}


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
    """Decorator registering a function or class under `name` so saved models can refer to it
    by name (loading never unpickles code)."""

    def register(obj: Any) -> Any:
        _registry[name or obj.__name__] = obj
        return obj

    return register


def registered(name: str) -> Any:
    if name not in _registry:
        raise ValueError(
            f"{name!r} is not registered; decorate it with "
            "@ge.utils.register_serializable() before loading"
        )
    return _registry[name]


def registered_name(obj: Any) -> str | None:
    for name, value in _registry.items():
        if value is obj:
            return name
    return None
