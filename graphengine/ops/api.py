"""The public `ge.ops` functions: differentiable on SymbolicTensors, eager on arrays.

Names and signatures follow `keras.ops`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from graphengine.graph.tensor import SymbolicTensor
from graphengine.ops.base import apply, normalize_axis
from graphengine.ops.elementwise import Binary, Cast, Compare, Unary
from graphengine.ops.indexing import Gather, OneHot
from graphengine.ops.matmul import Matmul
from graphengine.ops.reduce import Reduce, Softmax, normalize_axes
from graphengine.ops.shape import (
    BroadcastTo,
    Concatenate,
    GetItem,
    Reshape,
    Transpose,
    normalize_key,
)


def _shape(x: Any) -> tuple:
    return x.shape if isinstance(x, SymbolicTensor) else np.shape(x)


def _dtype(x: Any) -> str | None:
    if isinstance(x, SymbolicTensor):
        return x.dtype
    if isinstance(x, np.ndarray):
        return x.dtype.name
    return None


def _operands(a: Any, b: Any) -> tuple[Any, Any]:
    """Python numbers take the dtype of the tensor they meet (weak typing, as Keras)."""
    da, db = _dtype(a), _dtype(b)
    if da is None and db is not None:
        a = np.asarray(a, dtype=db if np.dtype(db).kind == "f" or isinstance(a, int) else "float32")
    elif db is None and da is not None:
        b = np.asarray(b, dtype=da if np.dtype(da).kind == "f" or isinstance(b, int) else "float32")
    return a, b


def _binary(kind: str, a: Any, b: Any) -> Any:
    return apply(Binary(kind), *_operands(a, b))


def add(x1: Any, x2: Any) -> Any:
    return _binary("add", x1, x2)


def subtract(x1: Any, x2: Any) -> Any:
    return _binary("subtract", x1, x2)


def multiply(x1: Any, x2: Any) -> Any:
    return _binary("multiply", x1, x2)


def divide(x1: Any, x2: Any) -> Any:
    return _binary("divide", x1, x2)


def maximum(x1: Any, x2: Any) -> Any:
    return _binary("maximum", x1, x2)


def minimum(x1: Any, x2: Any) -> Any:
    return _binary("minimum", x1, x2)


def _compare(kind: str, x1: Any, x2: Any) -> Any:
    return apply(Compare(kind), *_operands(x1, x2))


def greater_equal(x1: Any, x2: Any) -> Any:
    """1.0 where x1 >= x2 else 0.0 (a float mask, not differentiable); likewise below."""
    return _compare("greater_equal", x1, x2)


def greater(x1: Any, x2: Any) -> Any:
    return _compare("greater", x1, x2)


def less_equal(x1: Any, x2: Any) -> Any:
    return _compare("less_equal", x1, x2)


def less(x1: Any, x2: Any) -> Any:
    return _compare("less", x1, x2)


def equal(x1: Any, x2: Any) -> Any:
    return _compare("equal", x1, x2)


def not_equal(x1: Any, x2: Any) -> Any:
    return _compare("not_equal", x1, x2)


def negative(x: Any) -> Any:
    return multiply(x, -1)


def matmul(x1: Any, x2: Any) -> Any:
    """NumPy matmul semantics: 1-D operands are promoted to matrices and the added axis dropped."""
    r1, r2 = len(_shape(x1)), len(_shape(x2))
    if r1 == 0 or r2 == 0:
        raise ValueError("matmul: operands must not be scalars")
    a = expand_dims(x1, 0) if r1 == 1 else x1
    b = expand_dims(x2, -1) if r2 == 1 else x2
    out = apply(Matmul(), *_operands(a, b))
    if r2 == 1:
        out = squeeze(out, -1)
    if r1 == 1:
        out = squeeze(out, -2 if r2 > 1 else -1)
    return out


def _unary(kind: str, x: Any, **params: float) -> Any:
    return apply(Unary(kind, **params), x)


def exp(x: Any) -> Any:
    return _unary("exp", x)


def log(x: Any) -> Any:
    return _unary("log", x)


def sqrt(x: Any) -> Any:
    return _unary("sqrt", x)


def square(x: Any) -> Any:
    return _unary("square", x)


def abs(x: Any) -> Any:  # noqa: A001 - keras.ops name
    return _unary("abs", x)


def tanh(x: Any) -> Any:
    return _unary("tanh", x)


def sigmoid(x: Any) -> Any:
    return _unary("sigmoid", x)


def relu(
    x: Any, negative_slope: float = 0.0, max_value: float | None = None, threshold: float = 0.0
) -> Any:
    return _unary(
        "relu",
        x,
        negative_slope=negative_slope,
        max_value=np.inf if max_value is None else max_value,
        threshold=threshold,
    )


def clip(x: Any, x_min: float, x_max: float) -> Any:
    return _unary("clip", x, lo=x_min, hi=x_max)


def softmax(x: Any, axis: int = -1) -> Any:
    return apply(Softmax(axis), x)


def log_softmax(x: Any, axis: int = -1) -> Any:
    return apply(Softmax(axis, log=True), x)


def one_hot(x: Any, num_classes: int, dtype: str = "float32") -> Any:
    """One-hot encoding of integer ids (float ids are cast); not differentiable."""
    if np.dtype(_dtype(x) or "float32").kind not in "iu":
        x = cast(x, "int32")
    return apply(OneHot(int(num_classes), np.dtype(dtype).name), x)


def _reduce(kind: str, x: Any, axis: Any, keepdims: bool) -> Any:
    return apply(Reduce(kind, normalize_axes(axis, len(_shape(x))), keepdims), x)


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    return _reduce("sum", x, axis, keepdims)


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return _reduce("mean", x, axis, keepdims)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    return _reduce("max", x, axis, keepdims)


def reshape(x: Any, newshape: Sequence[int]) -> Any:
    """Full target shape including the batch axis; one -1 is inferred (as keras.ops.reshape)."""
    newshape = (newshape,) if isinstance(newshape, int) else tuple(newshape)
    return apply(Reshape(tuple(int(d) for d in newshape)), x)


def transpose(x: Any, axes: Sequence[int] | None = None) -> Any:
    ndim = len(_shape(x))
    perm = (
        tuple(reversed(range(ndim)))
        if axes is None
        else tuple(normalize_axis(a, ndim) for a in axes)
    )
    return apply(Transpose(perm), x)


def concatenate(xs: Sequence[Any], axis: int = 0) -> Any:
    return apply(Concatenate(axis), *xs)


def expand_dims(x: Any, axis: int) -> Any:
    ndim = len(_shape(x))
    axis = normalize_axis(axis, ndim + 1)
    copy = tuple(range(axis)) + (None,) + tuple(range(axis, ndim))
    return apply(Reshape(tuple(None if c is not None else 1 for c in copy), copy), x)


def squeeze(x: Any, axis: Any = None) -> Any:
    shape = _shape(x)
    if axis is None:
        axes = {i for i, d in enumerate(shape) if d == 1}
    else:
        axes = set(normalize_axes(axis, len(shape)))
        bad = [a for a in sorted(axes) if shape[a] != 1]
        if bad:
            raise ValueError(f"squeeze: axis {bad[0]} of shape {tuple(shape)} is not of size 1")
    copy = tuple(i for i in range(len(shape)) if i not in axes)
    return apply(Reshape((None,) * len(copy), copy), x)


def broadcast_to(x: Any, shape: Sequence[int | None]) -> Any:
    return apply(BroadcastTo(tuple(shape)), x)


def getitem(x: Any, key: Any) -> Any:
    return apply(GetItem(normalize_key(key, len(_shape(x)))), x)


def cast(x: Any, dtype: Any) -> Any:
    return apply(Cast(dtype), x)


def identity(x: Any) -> Any:
    """A copy of x (a new tensor in the graph)."""
    return apply(Reshape((None,) * len(_shape(x))), x)


def take_rows(table: Any, ids: Any) -> Any:
    """table[ids] for a 2-D table and integer ids (the embedding lookup)."""
    return apply(Gather(), table, ids)


__all__ = """
add subtract multiply divide maximum minimum negative matmul
greater_equal greater less_equal less equal not_equal
exp log sqrt square abs tanh sigmoid relu clip softmax log_softmax one_hot
sum mean max reshape transpose concatenate squeeze expand_dims broadcast_to getitem
take_rows cast identity
""".split()
