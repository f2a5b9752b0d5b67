"""The public `ge.ops` functions: differentiable on SymbolicTensors, eager on arrays.

Names and signatures follow `keras.ops`.
"""

from __future__ import annotations

import builtins
from typing import Any, Sequence

import numpy as np

from graphengine.common import check_int, check_shape
from graphengine.graph.tensor import SymbolicTensor, format_shape
from graphengine.ops import einsum as _einsum
from graphengine.ops.base import apply, float_dtype, is_symbolic, normalize_axis, result_dtype
from graphengine.ops.elementwise import Binary, Cast, Compare, Unary, Where
from graphengine.ops.indexing import Gather, OneHot, Take
from graphengine.ops.matmul import Matmul
from graphengine.ops.reduce import ArgReduce, Cumsum, Reduce, Softmax, Sort, normalize_axes
from graphengine.ops.segment import (  # noqa: F401 - the ops ge.ops builds, and their functions
    SegmentMax,
    SegmentMean,
    SegmentSoftmax,
    SegmentSum,
    segment_max,
    segment_mean,
    segment_softmax,
    segment_sum,
)
from graphengine.ops.shape_ops import (
    BroadcastTo,
    Concatenate,
    FullLike,
    GetItem,
    Pad,
    Reshape,
    SplitSections,
    StopGradient,
    Transpose,
    normalize_key,
)
from graphengine_kernels.padding import MODES as PAD_MODES


def _shape(x: Any) -> tuple:
    return x.shape if isinstance(x, SymbolicTensor) else np.shape(x)


def _dtype(x: Any) -> str | None:
    """x's dtype: a tensor's, an array's, or that of anything else carrying one (a NumPy scalar,
    a metric variable); None for Python numbers and lists, which are weakly typed."""
    if isinstance(x, SymbolicTensor):
        return x.dtype
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return None
    try:
        return np.dtype(dtype).name
    except TypeError:
        return None


def _weak(value: Any, dtype: str) -> np.ndarray:
    """A Python number (or list of them) meeting a tensor of `dtype`, typed as Keras's weak types:
    it takes a float tensor's dtype; meeting integers an int keeps their dtype and a float is
    float32; meeting bools a bool stays bool, an int is int32 and a float float32."""
    kind = np.asarray(value).dtype.kind
    if kind not in "biuf":
        raise TypeError(f"{value!r} is not a number, so it cannot meet a tensor of dtype {dtype}")
    own = np.dtype(dtype).kind
    if own == "f" or (own in "iu" and kind != "f") or (own == "b" and kind == "b"):
        return np.asarray(value, dtype=dtype)
    return np.asarray(value, dtype="float32" if kind == "f" else "int32")


def _operands(a: Any, b: Any) -> tuple[Any, Any]:
    """Python numbers take the dtype of the tensor they meet (weak typing, as Keras)."""
    da, db = _dtype(a), _dtype(b)
    if da is None and db is not None:
        a = _weak(a, db)
    elif db is None and da is not None:
        b = _weak(b, da)
    return a, b


def _binary(kind: str, a: Any, b: Any) -> Any:
    return apply(Binary(kind), *_operands(a, b))


def add(x1: Any, x2: Any) -> Any:
    """x1 + x2, elementwise with NumPy broadcasting; Python numbers take the tensor's dtype."""
    return _binary("add", x1, x2)


def subtract(x1: Any, x2: Any) -> Any:
    """x1 - x2, elementwise with NumPy broadcasting."""
    return _binary("subtract", x1, x2)


def multiply(x1: Any, x2: Any) -> Any:
    """x1 * x2, elementwise with NumPy broadcasting."""
    return _binary("multiply", x1, x2)


def divide(x1: Any, x2: Any) -> Any:
    """x1 / x2, elementwise with NumPy broadcasting (true division: integers give float)."""
    return _binary("divide", x1, x2)


def maximum(x1: Any, x2: Any) -> Any:
    """The elementwise maximum, broadcasting; NaN propagates. The gradient goes to the
    winner, ties to x1 (as TensorFlow)."""
    return _binary("maximum", x1, x2)


def minimum(x1: Any, x2: Any) -> Any:
    """The elementwise minimum, broadcasting; NaN propagates. The gradient goes to the
    winner, ties to x1 (as TensorFlow)."""
    return _binary("minimum", x1, x2)


def _compare(kind: str, x1: Any, x2: Any) -> Any:
    return apply(Compare(kind), *_operands(x1, x2))


def greater_equal(x1: Any, x2: Any) -> Any:
    """True where x1 >= x2 (bool, as Keras; not differentiable); likewise below."""
    return _compare("greater_equal", x1, x2)


def greater(x1: Any, x2: Any) -> Any:
    """True where x1 > x2 (bool, broadcasting; not differentiable)."""
    return _compare("greater", x1, x2)


def less_equal(x1: Any, x2: Any) -> Any:
    """True where x1 <= x2 (bool, broadcasting; not differentiable)."""
    return _compare("less_equal", x1, x2)


def less(x1: Any, x2: Any) -> Any:
    """True where x1 < x2 (bool, broadcasting; not differentiable)."""
    return _compare("less", x1, x2)


def equal(x1: Any, x2: Any) -> Any:
    """True where x1 == x2 (bool, broadcasting; NaN equals nothing; not differentiable)."""
    return _compare("equal", x1, x2)


def not_equal(x1: Any, x2: Any) -> Any:
    """True where x1 != x2 (bool, broadcasting; NaN differs from everything)."""
    return _compare("not_equal", x1, x2)


def logical_and(x1: Any, x2: Any) -> Any:
    """True where both are true (nonzero; NaN is true), broadcasting; bool, as Keras."""
    return _compare("logical_and", x1, x2)


def logical_or(x1: Any, x2: Any) -> Any:
    """True where either is true (nonzero; NaN is true), broadcasting; bool."""
    return _compare("logical_or", x1, x2)


def logical_xor(x1: Any, x2: Any) -> Any:
    """True where exactly one is true (nonzero; NaN is true), broadcasting; bool."""
    return _compare("logical_xor", x1, x2)


def logical_not(x: Any) -> Any:
    """True where x is false (zero; NaN is true)."""
    return equal(x, False if _dtype(x) == "bool" else 0)


def negative(x: Any) -> Any:
    """-x, elementwise."""
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
    """e ** x, elementwise."""
    return _unary("exp", x)


def log(x: Any) -> Any:
    """The natural logarithm, elementwise (-inf at 0, NaN below)."""
    return _unary("log", x)


def sqrt(x: Any) -> Any:
    """The square root, elementwise (NaN below 0)."""
    return _unary("sqrt", x)


def square(x: Any) -> Any:
    """x * x, elementwise."""
    return _unary("square", x)


def abs(x: Any) -> Any:  # noqa: A001 - keras.ops name
    """|x|, elementwise; its gradient is 0 at 0."""
    return _unary("abs", x)


def tanh(x: Any) -> Any:
    """The hyperbolic tangent, elementwise."""
    return _unary("tanh", x)


def sigmoid(x: Any) -> Any:
    """1 / (1 + exp(-x)), elementwise, computed stably for large |x|."""
    return _unary("sigmoid", x)


def log1p(x: Any) -> Any:
    """log(1 + x), exact for tiny x; its gradient dy / (1 + x)."""
    return _unary("log1p", x)


def expm1(x: Any) -> Any:
    """exp(x) - 1, exact for tiny x; its gradient dy * exp(x)."""
    return _unary("expm1", x)


def floor(x: Any) -> Any:
    """The largest integer <= x, as a float (integers and bool give float32, as Keras); a zero
    gradient (as Keras), even for NaN or infinite cotangents."""
    return _unary("floor", x)


def ceil(x: Any) -> Any:
    """The smallest integer >= x, as a float (integers and bool give float32); a zero gradient."""
    return _unary("ceil", x)


def round(x: Any, decimals: int = 0) -> Any:  # noqa: A001 - keras.ops name
    """x rounded to `decimals` places, halves to even (as NumPy and PyTorch: x * 10**decimals
    rounded, then divided back; negative decimals round to tens, hundreds...). Integers stay
    integers; a zero gradient."""
    decimals = check_int(decimals, "decimals", "round", minimum=-308)
    if decimals > 308:
        raise ValueError(
            f"round: decimals must be in [-308, 308] (10**decimals a float), received {decimals=}"
        )
    dtype = _dtype(x) or np.asarray(x).dtype.name
    if np.dtype(dtype).kind in "biu":
        if decimals >= 0:
            return identity(x)
        return cast(round(cast(x, "float64"), decimals), dtype)
    if decimals > 0:
        return divide(_unary("round", multiply(x, 10.0**decimals)), 10.0**decimals)
    if decimals < 0:
        return multiply(_unary("round", divide(x, 10.0**-decimals)), 10.0**-decimals)
    return _unary("round", x)


def divide_no_nan(x1: Any, x2: Any) -> Any:
    """x1 / x2, and 0 where x2 is 0 (whatever x1 holds, NaN and infinities included), in a float
    dtype; a selection, so the gradient is 0 there too, never NaN."""
    x1, x2 = _operands(x1, x2)
    dtype = float_dtype(result_dtype([_dtype(x1) or "float32", _dtype(x2) or "float32"]))
    x1, x2 = (x if _dtype(x) == dtype else cast(x, dtype) for x in (x1, x2))
    zero = equal(x2, 0)
    return where(zero, 0, divide(x1, where(zero, 1, x2)))


def relu(
    x: Any, negative_slope: float = 0.0, max_value: float | None = None, threshold: float = 0.0
) -> Any:
    """max(x, 0) by default; Keras's relu arguments: `x` where `x >= threshold` (capped at
    `max_value` when given), else `negative_slope * (x - threshold)`."""
    return _unary(
        "relu",
        x,
        negative_slope=negative_slope,
        max_value=np.inf if max_value is None else max_value,
        threshold=threshold,
    )


def clip(x: Any, x_min: float, x_max: float) -> Any:
    """x limited to [x_min, x_max], elementwise; the gradient is 0 outside the range."""
    return _unary("clip", x, lo=x_min, hi=x_max)


def softmax(x: Any, axis: int = -1) -> Any:
    """exp(x) / sum(exp(x)) along `axis`, shifted by the maximum for stability."""
    return apply(Softmax(axis), x)


def log_softmax(x: Any, axis: int = -1) -> Any:
    """log(softmax(x)) along `axis`, computed directly (stable where softmax underflows)."""
    return apply(Softmax(axis, log=True), x)


def one_hot(
    x: Any, num_classes: int, axis: int = -1, dtype: str | None = None, sparse: bool = False
) -> Any:
    """One-hot encoding of integer ids (float ids are cast) on a new axis `axis` (-1: last),
    of `dtype` (None: float32); ids outside [0, num_classes) give all-zero rows (as TensorFlow).
    Not differentiable."""
    num_classes = check_int(num_classes, "num_classes", "one_hot", minimum=1)
    if sparse:
        raise ValueError(
            "one_hot: sparse=True is not supported (graphengine has no sparse tensors)"
        )
    rank = len(_shape(x))
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"one_hot: axis must be an integer, received axis={axis!r}")
    if axis != -1 and not 0 <= axis <= rank:
        raise ValueError(
            f"one_hot: axis must be -1 or in [0, {rank}] for ids of rank {rank}, received "
            f"axis={axis}"
        )
    if np.dtype(_dtype(x) or "float32").kind not in "iu":
        x = cast(x, "int32")
    out = apply(OneHot(num_classes, np.dtype(dtype or "float32").name), x)
    if axis in (-1, rank):
        return out
    return transpose(out, tuple(range(axis)) + (rank,) + tuple(range(axis, rank)))


def _reduce(kind: str, x: Any, axis: Any, keepdims: bool) -> Any:
    return apply(Reduce(kind, normalize_axes(axis, len(_shape(x))), keepdims), x)


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """The sum over `axis` (None: all); bool and small integers sum in int32 (as Keras: a sum of
    bools counts them)."""
    return _reduce("sum", x, axis, keepdims)


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The mean over `axis` (None: all), in x's float dtype (float32 for integers and bool)."""
    return _reduce("mean", x, axis, keepdims)


def _extremum(kind: str, x: Any, axis: Any, keepdims: bool, initial: float | None) -> Any:
    """max / min with NumPy's `initial`: a value every result is compared with (and the result
    of an empty reduction)."""
    if initial is None:
        return _reduce(kind, x, axis, keepdims)
    shape = _shape(x)
    if 0 in [shape[a] for a in normalize_axes(axis, len(shape))]:
        return multiply(ones_like(sum(x, axis, keepdims)), initial)
    return (maximum if kind == "max" else minimum)(_reduce(kind, x, axis, keepdims), initial)


def max(  # noqa: A001
    x: Any, axis: Any = None, keepdims: bool = False, initial: float | None = None
) -> Any:
    """The largest element over `axis` (None: all); the gradient is shared among ties."""
    return _extremum("max", x, axis, keepdims, initial)


def min(  # noqa: A001
    x: Any, axis: Any = None, keepdims: bool = False, initial: float | None = None
) -> Any:
    """The smallest element over `axis` (None: all); the gradient is shared among ties."""
    return _extremum("min", x, axis, keepdims, initial)


def prod(x: Any, axis: Any = None, keepdims: bool = False, dtype: str | None = None) -> Any:
    """The product over `axis` (None: all), computed in `dtype` when given (bool and small
    integers in int32, as Keras); its gradient is exact where elements are 0."""
    if dtype is not None:
        x = cast(x, dtype)
    return _reduce("prod", x, axis, keepdims)


def reshape(x: Any, newshape: Sequence[int]) -> Any:
    """Full target shape including the batch axis; one -1 is inferred (as keras.ops.reshape)."""
    newshape = (newshape,) if isinstance(newshape, int) else tuple(newshape)
    return apply(Reshape(tuple(int(d) for d in newshape)), x)


def transpose(x: Any, axes: Sequence[int] | None = None) -> Any:
    """x with its axes permuted by `axes` (None: reversed), as np.transpose; the batch axis
    counts as axis 0."""
    ndim = len(_shape(x))
    perm = (
        tuple(reversed(range(ndim)))
        if axes is None
        else tuple(normalize_axis(a, ndim) for a in axes)
    )
    return apply(Transpose(perm), x)


def concatenate(xs: Sequence[Any], axis: int = 0) -> Any:
    """The tensors of the list `xs` joined along `axis` (default 0, as keras.ops); every other
    size must match."""
    return apply(Concatenate(axis), *xs)


def expand_dims(x: Any, axis: int) -> Any:
    """x with a new axis of size 1 at position `axis` (negative: from the end), a view."""
    ndim = len(_shape(x))
    axis = normalize_axis(axis, ndim + 1)
    copy = tuple(range(axis)) + (None,) + tuple(range(axis, ndim))
    return apply(Reshape(tuple(None if c is not None else 1 for c in copy), copy), x)


def squeeze(x: Any, axis: Any = None) -> Any:
    """x without its axes of size 1 (None: all of them; else the ones named by `axis`, which
    must have size 1), a view."""
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
    """x broadcast to `shape` as np.broadcast_to; its gradient sums over the broadcast axes."""
    return apply(BroadcastTo(tuple(shape)), x)


def getitem(x: Any, key: Any) -> Any:
    """`x[key]` with NumPy's basic indexing (ints, slices, None, Ellipsis); `x[i]` on a
    SymbolicTensor calls it."""
    return apply(GetItem(normalize_key(key, len(_shape(x)))), x)


def cast(x: Any, dtype: Any) -> Any:
    """x converted to `dtype`; the gradient flows back through float casts."""
    return apply(Cast(dtype), x)


def identity(x: Any) -> Any:
    """A copy of x (a new tensor in the graph)."""
    return apply(Reshape((None,) * len(_shape(x))), x)


def take_rows(table: Any, ids: Any) -> Any:
    """table[ids] for a 2-D table and integer ids (the embedding lookup)."""
    return apply(Gather(), table, ids)


# -- the keras.ops names custom layers, losses and Lambda bodies reach for ----------------------
def _check_axis(opname: str, axis: Any, ndim: int, allow_none: bool = True) -> int | None:
    """`axis` normalized to [0, ndim) (None kept where allowed), or an error naming the op."""
    if axis is None and allow_none:
        return None
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{opname}: axis must be an integer or None, received axis={axis!r}")
    return normalize_axis(int(axis), ndim, f"{opname}: axis")


def _constant_shape(opname: str, shape: Any) -> tuple[int, ...]:
    shape = (shape,) if isinstance(shape, (int, np.integer)) else shape
    shape = check_shape(shape, "shape", opname)
    if None in shape:
        raise ValueError(
            f"{opname}: shape={shape} has an unknown (None) size; use {opname}_like(x) for a "
            "tensor shaped like x"
        )
    return shape


def zeros(shape: Any, dtype: str | None = None) -> np.ndarray:
    """A constant array of zeros (float32 by default), usable in graphs as any constant."""
    return np.zeros(_constant_shape("zeros", shape), dtype=dtype or "float32")


def ones(shape: Any, dtype: str | None = None) -> np.ndarray:
    """A constant array of ones (float32 by default), usable in graphs as any constant."""
    return np.ones(_constant_shape("ones", shape), dtype=dtype or "float32")


def zeros_like(x: Any, dtype: str | None = None) -> Any:
    """Zeros shaped like x (its unknown batch included), of `dtype` (None: x's); never x * 0,
    which is NaN where x is infinite. No gradient flows to x."""
    return apply(FullLike(0, dtype), x)


def ones_like(x: Any, dtype: str | None = None) -> Any:
    """Ones shaped like x, of `dtype` (None: x's). No gradient flows to x."""
    return apply(FullLike(1, dtype), x)


def stack(x: Sequence[Any], axis: int = 0) -> Any:
    """The tensors of `x`, all of one shape, joined along a new axis `axis`."""
    if isinstance(x, (SymbolicTensor, np.ndarray)) or not len(x):
        raise ValueError("stack: x must be a non-empty list of tensors")
    shapes = [_shape(t) for t in x]
    for i, s in enumerate(shapes[1:], 1):
        if len(s) != len(shapes[0]) or any(
            a is not None and b is not None and a != b for a, b in zip(s, shapes[0])
        ):
            raise ValueError(
                f"stack: every tensor must have the same shape, but x[{i}] has shape "
                f"{format_shape(s)} and x[0] has shape {format_shape(shapes[0])}"
            )
    axis = _check_axis("stack", axis, len(shapes[0]) + 1, allow_none=False)
    return concatenate([expand_dims(t, axis) for t in x], axis=axis)


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list:
    """np.split: a list of `indices_or_sections` equal pieces along `axis` (which must divide
    it), or the pieces between the given split points."""
    n = indices_or_sections
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        try:
            n = tuple(check_int(i, "indices_or_sections", "split", minimum=-(2**62)) for i in n)
        except TypeError:
            raise TypeError(
                "split: indices_or_sections must be an integer or a sequence of integers, "
                f"received {indices_or_sections!r}"
            ) from None
    else:
        n = check_int(n, "indices_or_sections", "split", minimum=1)
    axis = _check_axis("split", axis, len(_shape(x)), allow_none=False)
    out = apply(SplitSections(n, axis), x)
    return out if isinstance(out, list) else [out]


def where(condition: Any, x1: Any = None, x2: Any = None) -> Any:
    """x1 where condition (nonzero) else x2, broadcast together: a selection, so a NaN or
    infinity in the branch not taken never leaks (nor into the gradient). With neither x1 nor x2,
    the indices of the nonzero elements (NumPy's tuple; arrays only: its size depends on data)."""
    if (x1 is None) != (x2 is None):
        raise ValueError("where: x1 and x2 must both be None or both be given")
    if x1 is None:
        if is_symbolic(condition):
            raise ValueError(
                "where(condition) without x1 and x2 gives indices whose number depends on the "
                "data, which a static graph cannot hold; pass x1 and x2"
            )
        return np.nonzero(np.asarray(condition))
    x1, x2 = _operands(x1, x2)
    if _dtype(condition) is None:
        condition = np.asarray(condition)
    return apply(Where(), condition, x1, x2)


def _arg(kind: str, x: Any, axis: Any, keepdims: bool) -> Any:
    axis = _check_axis(kind, axis, len(_shape(x)))
    return apply(ArgReduce(kind, axis, bool(keepdims)), x)


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """int32 index of the largest element along `axis` (None: of the flattened x): the first on
    ties (-0 ties +0, as NumPy and Keras's torch backend), the first NaN if any. Not
    differentiable (a zero gradient, as Keras)."""
    return _arg("argmax", x, axis, keepdims)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """int32 index of the smallest element along `axis` (None: of the flattened x)."""
    return _arg("argmin", x, axis, keepdims)


def _pad_width(pad_width: Any, ndim: int) -> tuple:
    """NumPy's pad_width forms (n, (n,), (before, after), one pair per axis) as one pair per
    axis."""
    try:
        widths = np.asarray(pad_width)
    except ValueError:
        widths = np.asarray(pad_width, dtype=object)
    if widths.dtype.kind not in "iu":
        raise TypeError(f"pad: pad_width must hold integers, received pad_width={pad_width!r}")
    try:
        widths = np.broadcast_to(widths, (ndim, 2))
    except ValueError:
        raise ValueError(
            f"pad: pad_width={pad_width!r} does not give (before, after) for each of the "
            f"{ndim} axes"
        ) from None
    if (widths < 0).any():
        raise ValueError(f"pad: pad_width={pad_width!r} holds a negative width")
    return tuple((int(b), int(a)) for b, a in widths)


def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: Any = None) -> Any:
    """np.pad with modes "constant" (constant_values, default 0), "edge", "reflect", "symmetric"
    and "wrap" (NumPy's meanings; TensorFlow's for reflect and symmetric). Differentiable in x:
    a reflected element's gradient collects every copy of it."""
    if mode not in PAD_MODES:
        raise ValueError(f"pad: unknown mode={mode!r}; valid: {', '.join(PAD_MODES)}")
    if constant_values is not None and mode != "constant":
        raise ValueError(f"pad: constant_values is only for mode='constant', received {mode=}")
    value = 0 if constant_values is None else constant_values
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"pad: constant_values must be a number, received {constant_values!r}")
    widths = _pad_width(pad_width, len(_shape(x)))
    return apply(Pad(widths, mode, float(value)), x)


def tile(x: Any, repeats: Any) -> Any:
    """np.tile: x repeated `repeats[i]` times along axis i (the shorter of x's shape and repeats
    padded with leading 1s). A broadcast between reshapes: its gradient sums the copies."""
    try:
        reps = (repeats,) if isinstance(repeats, (int, np.integer)) else tuple(repeats)
    except TypeError:
        raise TypeError(
            f"tile: repeats must be an integer or a sequence of integers, received {repeats!r}"
        ) from None
    reps = tuple(check_int(r, "repeats", "tile") for r in reps)
    rank = builtins.max(len(_shape(x)), len(reps))
    reps = (1,) * (rank - len(reps)) + reps
    lead = rank - len(_shape(x))
    shape = (1,) * lead + tuple(_shape(x))
    # x (d0, d1, ...) -> (1, d0, 1, d1, ...) -> broadcast (r0, d0, r1, d1, ...) -> (r0 d0, ...)
    spread = [
        (None, k // 2 - lead) if k % 2 and k // 2 >= lead else (1, 0) for k in range(2 * rank)
    ]
    x = apply(Reshape(*zip(*spread)), x) if spread else x
    wide = broadcast_to(x, tuple(d for r in reps for d in (r, None)))
    target, copy = [], []
    for i, (r, d) in enumerate(zip(reps, shape)):
        target.append(None if r == 1 else (r * d if d is not None else -1))
        copy.append(2 * i + 1)
    if target.count(-1) > 1:
        raise ValueError(
            f"tile: cannot repeat more than one axis of unknown size (shape "
            f"{format_shape(shape)}, repeats={repeats!r})"
        )
    return apply(Reshape(tuple(target), tuple(copy)), wide)


def sign(x: Any) -> Any:
    """-1, 0 or 1 by the sign of x (NaN for NaN), in x's dtype; its gradient is zero (as Keras)."""
    dtype = _dtype(x) or np.asarray(x).dtype.name
    if dtype == "bool":
        return identity(x)
    if np.dtype(dtype).kind in "iu":
        return subtract(cast(greater(x, 0), dtype), cast(less(x, 0), dtype))
    return _unary("sign", x)


def power(x1: Any, x2: Any) -> Any:
    """x1 ** x2 elementwise with broadcasting; gradients as PyTorch's (0 for x1 where x2 == 0,
    0 for x2 where x1 == 0 and x2 >= 0)."""
    return _binary("power", x1, x2)


def einsum(subscripts: str, *operands: Any) -> Any:
    """np.einsum: lowered to transposes, reshapes, diagonals, sums and batched matmuls, so it is
    differentiable and runs on every device (graphengine/ops/einsum.py)."""
    operands = tuple(x if isinstance(x, SymbolicTensor) else np.asarray(x) for x in operands)
    if len({_dtype(x) for x in operands}) > 1:
        dtype = result_dtype([_dtype(x) for x in operands])
        operands = tuple(x if _dtype(x) == dtype else cast(x, dtype) for x in operands)
    return _einsum.einsum(subscripts, *operands)


def stop_gradient(variable: Any) -> Any:
    """variable unchanged, but no gradient flows back through it."""
    return apply(StopGradient(), variable)


def cumsum(x: Any, axis: int | None = None, dtype: str | None = None) -> Any:
    """Cumulative sum along `axis` (None: of the flattened x, giving 1-D), in `dtype` when given
    (bool sums in int32); its gradient is the reverse cumulative sum."""
    if dtype is not None:
        x = cast(x, dtype)
    elif (_dtype(x) or np.asarray(x).dtype.name) == "bool":
        x = cast(x, "int32")
    return apply(Cumsum(_check_axis("cumsum", axis, len(_shape(x)))), x)


def _sorted(opname: str, x: Any, axis: int | None, k: int | None, descending: bool) -> list:
    """[values, indices] of Sort along `axis` (None: of the flattened x), moved to the last axis
    and back."""
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    ndim = len(_shape(x))
    if not ndim:
        raise ValueError(f"{opname}: x must have rank >= 1, received a scalar")
    axis = _check_axis(opname, axis, ndim, allow_none=False)
    if axis == ndim - 1:
        return apply(Sort(k, descending), x)
    perm = tuple(a for a in range(ndim) if a != axis) + (axis,)
    back = tuple(perm.index(a) for a in range(ndim))
    return [transpose(t, back) for t in apply(Sort(k, descending), transpose(x, perm))]


def sort(x: Any, axis: int | None = -1) -> Any:
    """x sorted ascending along `axis` (None: the flattened x), NaN last; its gradient goes back
    to where each value came from."""
    return _sorted("sort", x, axis, None, False)[0]


def argsort(x: Any, axis: int | None = -1) -> Any:
    """int32 indices that sort x ascending along `axis` (None: of the flattened x): stable (equal
    elements keep their order), NaN last. Not differentiable."""
    return _sorted("argsort", x, axis, None, False)[1]


def top_k(x: Any, k: int, sorted: bool = True) -> tuple[Any, Any]:  # noqa: A002 - Keras's name
    """(values, int32 indices) of the k largest elements of x's last axis, largest first: NaN
    above every number (as PyTorch's topk), ties in index order (as TensorFlow's); `sorted=False`
    allows any order, and this one is sorted too. The values' gradient goes back to where each
    came from."""
    k = check_int(k, "k", "top_k")
    values, indices = _sorted("top_k", x, -1, k, True)
    return values, indices


def take(x: Any, indices: Any, axis: int | None = None) -> Any:
    """np.take: the elements (axis None: of the flattened x) or slices along `axis` at integer
    `indices` of any shape; negative indices count from the end, others out of range raise
    (on the CPU). The gradient adds dy into zeros at the indices (repeats accumulate)."""
    if not isinstance(indices, SymbolicTensor):
        indices = np.asarray(indices)
        if indices.dtype.kind not in "iu":
            raise TypeError(f"take: indices must be integers, received dtype {indices.dtype}")
    axis = _check_axis("take", axis, len(_shape(x)))
    return apply(Take(axis), x, indices)


__all__ = """
add subtract multiply divide maximum minimum negative matmul divide_no_nan
greater_equal greater less_equal less equal not_equal
logical_and logical_or logical_xor logical_not
exp log sqrt square abs tanh sigmoid relu clip softmax log_softmax one_hot
log1p expm1 floor ceil round sort argsort top_k
sum mean max reshape transpose concatenate squeeze expand_dims broadcast_to getitem
take_rows cast identity
zeros ones zeros_like ones_like stack split where argmax argmin min prod pad tile sign power
einsum stop_gradient cumsum take
segment_sum segment_mean segment_max segment_softmax
""".split()
