"""The `ge.ops` functions that make, convert and measure tensors: convert_to_tensor,
convert_to_numpy, shape, size, arange, full and full_like. Eager tensors are NumPy arrays, so
conversion is NumPy's, with Keras's dtypes for Python numbers (float32, int32, bool)."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphengine.graph.tensor import SymbolicTensor
from graphengine.ops import api
from graphengine.ops.api import _constant_shape, _dtype
from graphengine.ops.base import apply, is_symbolic
from graphengine.ops.shape_ops import FullLike


def _python_dtype(values: np.ndarray) -> str:
    """Keras's dtype for Python numbers (NumPy made `values` of them): bool, int32 (int64 when
    one does not fit), float32."""
    kind = values.dtype.kind
    if kind == "b":
        return "bool"
    if kind in "iu":
        info = np.iinfo(np.int32)
        fits = not values.size or (values.min() >= info.min and values.max() <= info.max)
        return "int32" if fits else "int64"
    return "float32"


def _is_python(x: Any) -> bool:
    """Whether x is a Python number or a (nested) list or tuple of them only."""
    if isinstance(x, (list, tuple)):
        return all(_is_python(v) for v in x)
    return type(x) in (bool, int, float)


def convert_to_tensor(
    x: Any, dtype: Any = None, sparse: bool | None = None, ragged: bool | None = None
) -> Any:
    """x as a tensor: a SymbolicTensor stays one (cast when `dtype` differs), a list holding
    SymbolicTensors is stacked, anything else becomes a NumPy array (graphengine's eager
    tensor) of `dtype`, else of its own dtype, Python numbers as Keras types them (float32,
    int32, bool). sparse=True and ragged=True raise: graphengine has neither."""
    for flag, name in ((sparse, "sparse"), (ragged, "ragged")):
        if flag:
            raise ValueError(
                f"convert_to_tensor: {name}=True is not supported (graphengine has no {name} "
                "tensors)"
            )
    dtype = None if dtype is None else np.dtype(dtype).name
    if isinstance(x, SymbolicTensor):
        return x if dtype in (None, x.dtype) else api.cast(x, dtype)
    if isinstance(x, (list, tuple)) and any(isinstance(v, SymbolicTensor) for v in x):
        return api.stack([convert_to_tensor(v, dtype) for v in x])
    if dtype is None and _is_python(x):
        values = np.asarray(x)
        return values.astype(_python_dtype(values), copy=False)
    return np.asarray(x, dtype=dtype)


def convert_to_numpy(x: Any) -> np.ndarray:
    """x as a new NumPy array. A symbolic tensor has no values: a ValueError."""
    if is_symbolic(x):
        raise ValueError(
            f"convert_to_numpy: x is a symbolic tensor (shape {x.shape}, dtype {x.dtype}): a "
            "placeholder with no values; call the model on arrays to get some"
        )
    return np.array(x)


def shape(x: Any) -> tuple:
    """x's shape as a tuple (None for sizes known only at run time)."""
    return tuple(x.shape) if isinstance(x, SymbolicTensor) else np.shape(x)


def size(x: Any) -> Any:
    """The number of elements of x, int32 (a 0-d array; in a graph whose x has sizes known only
    at run time, a scalar tensor counting them)."""
    dims = shape(x)
    if None in dims:
        return api.sum(api.ones_like(x, dtype="int32"))
    return np.array(np.prod(dims, dtype=np.int64), dtype="int32")


def _number_dtype(value: Any) -> str:
    """The dtype Keras gives a number: its own (NumPy), or the Python number's."""
    dtype = _dtype(value)
    if dtype is not None:
        return dtype
    if type(value) not in (bool, int, float):
        raise TypeError(f"{value!r} of type {type(value).__name__} is not a number")
    return _python_dtype(np.asarray(value))


def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None) -> np.ndarray:
    """np.arange as a constant array: [0, start) with one argument, else [start, stop) by step
    (default 1); of `dtype`, else the arguments' (Python ints int32, floats float32)."""
    given = {"start": start, "stop": stop, "step": step}
    try:
        dtypes = [_number_dtype(v) for v in given.values() if v is not None]
    except TypeError as e:
        raise TypeError(f"arange: start, stop and step must be numbers: {e}") from None
    if step is not None and step == 0:
        raise ValueError("arange: step must not be 0, received step=0")
    dtype = np.dtype(dtype).name if dtype is not None else api.result_dtype(dtypes)
    if stop is None:
        start, stop = 0, start
    return np.arange(start, stop, 1 if step is None else step, dtype=dtype)


def _fill(opname: str, fill_value: Any) -> np.ndarray:
    value = np.asarray(fill_value)
    if value.dtype.kind not in "biuf":
        raise TypeError(
            f"{opname}: fill_value must be a number or an array of numbers, received {fill_value!r}"
        )
    return value if _dtype(fill_value) else value.astype(_python_dtype(value), copy=False)


def full(shape: Any, fill_value: Any, dtype: Any = None) -> np.ndarray:
    """A constant array of `shape` holding fill_value (an array broadcast, as np.full), of
    `dtype` (None: float32, whatever fill_value is, as Keras)."""
    shape = _constant_shape("full", shape)
    value = _fill("full", fill_value)
    try:
        out = np.broadcast_to(value, shape)
    except ValueError:
        raise ValueError(
            f"full: fill_value of shape {value.shape} does not broadcast to shape={shape}"
        ) from None
    return np.array(out, dtype=dtype or "float32")


def full_like(x: Any, fill_value: Any, dtype: Any = None) -> Any:
    """fill_value shaped like x (its unknown batch included), of `dtype`, else x's; an array
    fill_value is broadcast. No gradient flows to x."""
    value = _fill("full_like", fill_value)
    dtype = np.dtype(dtype or _dtype(x) or np.asarray(x).dtype).name
    if value.ndim == 0:
        return apply(FullLike(value.item(), dtype), x)
    # a selection of the broadcast value (an addition to zeros would lose -0.0)
    return api.where(api.ones_like(x, "bool"), value.astype(dtype), api.zeros_like(x, dtype))


__all__ = "convert_to_tensor convert_to_numpy shape size arange full full_like".split()
