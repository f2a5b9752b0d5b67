"""The `ge.ops` predicates Keras metric code is written with: truth reductions (any, all,
count_nonzero), the float-class tests (isnan, isinf, isfinite) and in_top_k. Compositions of
api.py's ops, so they run eagerly and in graphs on every device; results are bool (counts
int32) and have no gradient, as in Keras."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphengine.common import check_int
from graphengine.graph.tensor import format_shape
from graphengine.ops import api
from graphengine.ops.api import _dtype, _shape
from graphengine.ops.base import is_symbolic


def _kind(x: Any) -> str:
    return np.dtype(_dtype(x) or np.asarray(x).dtype).kind


def _truth(x: Any) -> Any:
    """x as bool: true where nonzero (NaN included), as NumPy and Keras."""
    return x if _kind(x) == "b" else api.not_equal(x, 0)


def count_nonzero(x: Any, axis: Any = None) -> Any:
    """The number (int32) of nonzero elements over `axis` (None: all; NaN counts)."""
    return api.sum(_truth(x), axis)


def any(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001 - keras.ops name
    """Whether any element over `axis` (None: all) is true (nonzero; NaN is true); False for
    none at all."""
    return api.greater(api.sum(_truth(x), axis, keepdims), 0)


def all(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001 - keras.ops name
    """Whether every element over `axis` (None: all) is true; True for none at all."""
    return api.equal(api.sum(api.logical_not(x), axis, keepdims), 0)


def isnan(x: Any) -> Any:
    """True where x is NaN (never for integers and bool)."""
    if _kind(x) != "f":
        return api.zeros_like(x, dtype="bool")
    return api.not_equal(x, x)


def isinf(x: Any) -> Any:
    """True where x is +inf or -inf (never for integers and bool)."""
    if _kind(x) != "f":
        return api.zeros_like(x, dtype="bool")
    return api.equal(api.abs(x), np.inf)


def isfinite(x: Any) -> Any:
    """True where x is neither NaN nor infinite (always for integers and bool)."""
    if _kind(x) != "f":
        return api.ones_like(x, dtype="bool")
    return api.less(api.abs(x), np.inf)


def in_top_k(targets: Any, predictions: Any, k: int) -> Any:
    """Whether each row's target class is among the k largest of its predictions, as Keras's
    torch backend: targets (N,) class ids, predictions (N, C); the target's score is in when
    fewer than k scores beat it (larger, or NaN: torch's topk ranks NaN first), so ties with the
    k-th score are in, a NaN score never is, and k >= C puts every other score in. A target
    outside [0, C) raises a ValueError on arrays and is never in, in a graph (as TensorFlow)."""
    k = check_int(k, "k", "in_top_k")
    tshape, pshape = _shape(targets), _shape(predictions)
    rows = {d for d in (tshape[:1] + pshape[:1]) if d is not None}
    if len(pshape) != 2 or len(tshape) != 1 or len(rows) > 1:
        raise ValueError(
            f"in_top_k: targets must have shape (N,) and predictions (N, C), received targets "
            f"of shape {format_shape(tshape)} and predictions of shape {format_shape(pshape)}"
        )
    classes = pshape[1]
    if classes is None:
        raise ValueError("in_top_k: the number of classes (predictions' last axis) must be known")
    if _kind(targets) not in "iu":
        if _kind(targets) != "f":
            raise TypeError(
                f"in_top_k: targets must be class ids, received dtype {_dtype(targets)}"
            )
        targets = api.cast(targets, "int32")
    if not is_symbolic(targets):
        ids = np.asarray(targets)
        bad = ids[(ids < 0) | (ids >= classes)]
        if bad.size:
            raise ValueError(
                f"in_top_k: target {bad[0]} is out of range [0, {classes}) for predictions of "
                f"shape {format_shape(pshape)}"
            )
    hit = api.equal(api.expand_dims(targets, -1), np.arange(classes, dtype=_dtype(targets)))
    score = api.sum(api.where(hit, predictions, 0), axis=-1, keepdims=True)
    beaten = api.logical_or(api.greater(predictions, score), isnan(predictions))
    fewer = api.less(count_nonzero(beaten, axis=-1), k)
    found = api.logical_and(any(hit, axis=-1), api.logical_not(isnan(api.squeeze(score, -1))))
    return api.logical_and(fewer, found)


__all__ = "count_nonzero any all isnan isinf isfinite in_top_k".split()
