"""Weight regularizers l1, l2, l1_l2: penalties added to the training loss."""

from __future__ import annotations

from typing import Any

from graphengine import common, ops


class Regularizer:
    """Callable `(weight) -> scalar penalty`, built from ge.ops so it is differentiable."""

    def __call__(self, x: Any) -> Any:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, as a dict (Keras's config)."""
        return dict(vars(self))


class L1L2(Regularizer):
    """penalty = l1 * sum(|x|) + l2 * sum(x^2)."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, x: Any) -> Any:
        terms = []
        if self.l1:
            terms.append(ops.multiply(ops.sum(ops.abs(x)), self.l1))
        if self.l2:
            terms.append(ops.multiply(ops.sum(ops.square(x)), self.l2))
        if not terms:
            return ops.multiply(ops.sum(x), 0.0)
        return terms[0] if len(terms) == 1 else ops.add(terms[0], terms[1])


class L1(L1L2):
    """penalty = l1 * sum(|x|) (default l1=0.01); also `ge.regularizers.l1`."""

    def __init__(self, l1: float = 0.01) -> None:
        super().__init__(l1=l1)

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(L1L2):
    """penalty = l2 * sum(x^2) (default l2=0.01); also `ge.regularizers.l2`."""

    def __init__(self, l2: float = 0.01) -> None:
        super().__init__(l2=l2)

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


# Keras also exports the classes under lower-case names: ge.regularizers.l2(0.01)
l1, l2, l1_l2 = L1, L2, L1L2
ALL = {"l1": L1, "l2": L2, "l1_l2": L1L2}
_BY_CLASS = {"L1": L1, "L2": L2, "L1L2": L1L2}


def get(identifier: Any) -> Regularizer | None:
    """A regularizer from None, an instance, a name ('l2', 'L2') or a config dict."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, dict):
        name = identifier["class_name"]
        cls = _BY_CLASS.get(name) or common.lookup("regularizer", name, ALL)
        return cls(**identifier.get("config", {}))
    if isinstance(identifier, str):
        return (_BY_CLASS.get(identifier) or common.lookup("regularizer", identifier, ALL))()
    raise TypeError(f"Could not interpret regularizer {identifier!r}")


def serialize(reg: Regularizer | None) -> Any:
    """`{"class_name", "config"}` for a regularizer, None for None; `get` reads it back."""
    return None if reg is None else {"class_name": type(reg).__name__, "config": reg.get_config()}
