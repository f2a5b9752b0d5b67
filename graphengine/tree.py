"""Nested structures of tensors (lists, tuples, dicts), as Keras's tree: flatten them, rebuild
them, map their tensors."""

from __future__ import annotations

from typing import Any, Callable

from graphengine.graph.tensor import SymbolicTensor


def flatten(struct: Any) -> list:
    """Leaves of nested lists, tuples and dicts; dicts in sorted key order, as Keras's tree."""
    if isinstance(struct, dict):
        return [v for k in sorted(struct) for v in flatten(struct[k])]
    if isinstance(struct, (list, tuple)):
        return [v for s in struct for v in flatten(s)]
    return [struct]


def pack_like(struct: Any, flat: list) -> Any:
    """Rebuilds `struct`'s nesting from a flat list (inverse of flatten)."""
    if not isinstance(struct, (dict, list, tuple)):
        return flat[0]
    it = iter(flat)

    def build(s: Any) -> Any:
        if isinstance(s, dict):
            built = {k: build(s[k]) for k in sorted(s)}
            return {k: built[k] for k in s}
        if isinstance(s, (list, tuple)):
            return type(s)(build(v) for v in s)
        return next(it)

    return build(struct)


def map_tensors(struct: Any, fn: Callable[[SymbolicTensor], Any]) -> Any:
    """`struct` with every symbolic tensor t among its leaves replaced by fn(t)."""
    return pack_like(
        struct, [fn(x) if isinstance(x, SymbolicTensor) else x for x in flatten(struct)]
    )


def tensor_leaves(struct: Any) -> list[SymbolicTensor]:
    """The symbolic tensors among `struct`'s leaves (e.g. a call's `mask=` keyword)."""
    return [x for x in flatten(struct) if isinstance(x, SymbolicTensor)]


def shape_of(struct: Any) -> Any:
    """Shapes mirroring the nesting of the inputs: one tuple, or a list of tuples."""
    if isinstance(struct, (list, tuple)):
        return [shape_of(s) for s in struct]
    if isinstance(struct, dict):
        return {k: shape_of(v) for k, v in struct.items()}
    return tuple(struct.shape)
