"""Keras 3's array utilities (keras.utils numerical_utils and sequence_utils): `to_categorical`,
`normalize` and `pad_sequences`, on NumPy arrays, with Keras's shapes, dtypes and numbers."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from graphengine import common


def to_categorical(x: Any, num_classes: int | None = None) -> np.ndarray:
    """Class ids to one-hot rows, the class axis last, float64 as Keras's NumPy path; a trailing
    axis of 1 is dropped ((N, 1) -> (N, num_classes)). `num_classes` defaults to max(x) + 1.
    Ids must be integers in [0, num_classes): where Keras would wrap -1 to the last class or
    truncate 1.5 to 1, this raises ValueError naming the id."""
    ids = np.asarray(x)
    if num_classes is not None:
        num_classes = common.check_int(num_classes, "num_classes", "to_categorical", minimum=1)
    common.check_class_ids(ids, num_classes, "to_categorical: x", "one-hot encoding")
    shape = ids.shape[:-1] if ids.ndim > 1 and ids.shape[-1] == 1 else ids.shape
    flat = ids.reshape(-1).astype(np.intp)
    if num_classes is None:
        if flat.size == 0:
            raise ValueError(
                f"to_categorical: x is empty (shape {ids.shape}), so the number of classes "
                "cannot be inferred; pass num_classes"
            )
        num_classes = int(flat.max()) + 1
    categorical = np.zeros((flat.size, num_classes))
    categorical[np.arange(flat.size), flat] = 1
    return categorical.reshape(shape + (num_classes,))


def normalize(x: Any, axis: int = -1, order: int | float = 2) -> np.ndarray:
    """`x` divided by its `order`-norm along `axis` (np.linalg.norm's vector norms: 1, 2, inf,
    ...). A zero norm divides by 1, leaving the zeros; NaN propagates to its whole slice. A
    vector comes back as one row (1, n), as Keras's. Keras turns axis=0 into -1 (`axis or -1`);
    here axis=0 is axis 0."""
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError("normalize: x must have at least one axis, received a scalar")
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"normalize: axis must be an integer, received axis={axis!r}")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"normalize: axis={axis} is out of range for x of rank {x.ndim}")
    if isinstance(order, (bool, np.bool_)) or not isinstance(order, numbers.Real):
        raise ValueError(
            f"normalize: order must be a number (1, 2, np.inf, ...), received order={order!r}"
        )
    norm = np.linalg.norm(x, order, int(axis), keepdims=True)
    norm[norm == 0] = 1
    return x / norm if x.ndim > 1 else (x / norm)[None]


def pad_sequences(
    sequences: Any,
    maxlen: int | None = None,
    dtype: Any = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: Any = 0.0,
) -> np.ndarray:
    """Sequences of different lengths as one array (num_samples, maxlen, *sample_shape):
    `maxlen` defaults to the longest; shorter ones are filled with `value` before ("pre") or
    after ("post") their items, longer ones lose their first ("pre") or last ("post") items.
    No sequences give shape (0, maxlen or 0), where Keras fails on max([])."""
    for name, given in (("padding", padding), ("truncating", truncating)):
        if given not in ("pre", "post"):
            raise ValueError(
                f'pad_sequences: {name.capitalize()} type "{given}" not understood; '
                f'{name} must be "pre" or "post"'
            )
    if not hasattr(sequences, "__len__"):
        raise ValueError(
            "pad_sequences: `sequences` must be iterable (a list of sequences, each with a "
            f"length), received a {type(sequences).__name__}"
        )
    lengths = [_length(s, i) for i, s in enumerate(sequences)]
    if maxlen is None:
        maxlen = max(lengths, default=0)
    maxlen = common.check_int(maxlen, "maxlen", "pad_sequences")
    kind = np.dtype(dtype).kind
    if isinstance(value, str) and kind not in "OUS":
        raise ValueError(
            f"pad_sequences: `dtype` {dtype} is not compatible with `value`'s type: "
            f"{type(value)} (value={value!r}); set dtype=object for variable length strings"
        )
    if kind in "US" and not isinstance(value, (str, bytes)):
        # NumPy would pad with the text of the number, cut to the dtype's width ("0.")
        raise ValueError(
            f"pad_sequences: `dtype` {dtype} holds strings, but `value`={value!r} is not one; "
            "pass the padding as a string, e.g. value=''"
        )
    sample_shape = next((np.asarray(s).shape[1:] for s, n in zip(sequences, lengths) if n), ())
    out = np.full((len(lengths), maxlen) + sample_shape, value, dtype=dtype)
    for i, (s, n) in enumerate(zip(sequences, lengths)):
        if n == 0 or maxlen == 0:
            continue
        kept = s[n - maxlen :] if truncating == "pre" and n > maxlen else s[:maxlen]
        kept = np.asarray(kept, dtype=dtype)
        if kept.shape[1:] != sample_shape:
            raise ValueError(
                f"pad_sequences: Shape of sample {kept.shape[1:]} of sequence at position {i} "
                f"is different from expected shape {sample_shape}"
            )
        if padding == "post":
            out[i, : len(kept)] = kept
        else:
            out[i, maxlen - len(kept) :] = kept
    return out


def _length(sequence: Any, index: int) -> int:
    try:
        return len(sequence)
    except TypeError:
        raise ValueError(
            "pad_sequences: `sequences` must be a list of iterables. Found non-iterable: "
            f"{sequence!r} at position {index}"
        ) from None
