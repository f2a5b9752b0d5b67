"""Preprocessing layers that run as device ops: Normalization (with `adapt`) and
CategoryEncoding; the batches `adapt` reads, and the encoding of integer ids that the lookup
layers share."""

from __future__ import annotations

import math
from typing import Any, Iterator, Sequence

import numpy as np

from graphengine import common, ops
from graphengine.graph.tensor import SymbolicTensor
from graphengine.layers.base import Layer
from graphengine.ops.base import apply
from graphengine.ops.lookup import CategoryEncode

EPSILON = 1e-7  # Keras's backend.epsilon(): the smallest standard deviation divided by
ENCODE_MODES = ("one_hot", "multi_hot", "count")


def _first(batch: Any) -> Any:
    """The inputs of a batch: x of an (x, y) or (x, y, sample_weight) tuple."""
    return batch[0] if isinstance(batch, tuple) else batch


def adapt_batches(
    data: Any, batch_size: Any, steps: Any, owner: str, lists_are_batches: bool
) -> Iterator[np.ndarray]:
    """The batches `adapt` reads from `data`: an array (cut in batch_size rows when given), a
    ge.utils.PyDataset, or any other iterable of batches (generators, iterators; lists too when
    `lists_are_batches`, as Keras's Normalization), at most `steps` of them."""
    if batch_size is not None:
        batch_size = common.check_int(batch_size, "batch_size", owner, minimum=1)
    if steps is not None:
        steps = common.check_int(steps, "steps", owner, minimum=1)
    if isinstance(data, np.ndarray) or (isinstance(data, (list, tuple)) and not lists_are_batches):
        array = np.asarray(data)
        size = batch_size or max(len(array) if array.ndim else 1, 1)
        starts = range(0, max(len(array) if array.ndim else 1, 1), size)
        for i, start in enumerate(starts):
            if steps is not None and i >= steps:
                return
            yield array if not array.ndim else array[start : start + size]
        return
    if hasattr(data, "num_batches") and hasattr(data, "__getitem__"):  # a PyDataset
        n = data.num_batches if steps is None else min(steps, data.num_batches or steps)
        if n is None:
            raise ValueError(f"{owner}: adapt() on an endless PyDataset needs `steps`")
        batches: Any = (data[i] for i in range(n))
    elif hasattr(data, "__iter__") and not isinstance(data, (str, bytes, dict)):
        batches = iter(data)
    else:
        raise TypeError(
            f"{owner}: adapt() takes a NumPy array, a ge.utils.PyDataset or an iterable of "
            f"batches, received {type(data).__name__}"
        )
    for i, batch in enumerate(batches):
        if steps is not None and i >= steps:
            return
        yield np.asarray(_first(batch))


def check_choice(owner: str, name: str, value: Any, choices: Sequence[Any]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"{owner}: {name} must be one of {', '.join(map(repr, choices))}; received "
            f"{name}={value!r}"
        )


def encode_categorical(
    ids: Any,
    depth: int,
    mode: str,
    dtype: str,
    owner: str,
    weights: Any = None,
    strict: bool = True,
) -> Any:
    """Keras's encode_categorical_inputs for integer ids (symbolic or arrays): one_hot encodes
    each id (a last axis of 1 replaced), multi_hot and count each row of a rank <= 2 input (a
    rank-1 input is one row). Ids out of [0, depth) raise when the graph runs (`strict`: the
    negatives too; else a negative id, a masked token, is skipped)."""
    if not isinstance(ids, SymbolicTensor):
        ids = np.asarray(ids)
    shape = tuple(ids.shape)
    if np.dtype(ids.dtype).kind not in "iu":
        ids = ops.cast(ids, "int64")  # as Keras: float ids are truncated
    if not shape:
        ids, shape = ops.reshape(ids, (1,)), (1,)
    if mode == "one_hot":
        if len(shape) > 1 and shape[-1] == 1:
            shape = shape[:-1]
        if None in shape[1:]:
            raise ValueError(f"{owner}: one_hot needs known non-batch sizes, got {shape}")
        rows = ops.reshape(ids, (-1, 1))
        out = apply(CategoryEncode(depth, True, strict, dtype, owner), rows)[0]
        return ops.reshape(out, (-1,) + shape[1:] + (depth,))
    if len(shape) > 2:
        raise ValueError(
            f"{owner}: output_mode={mode!r} takes inputs of rank 1 or 2 (one row of ids per "
            f"sample), received shape {shape}"
        )
    rows = ids if len(shape) == 2 else ops.reshape(ids, (1, -1))
    extra = [] if weights is None else [ops.reshape(weights, (-1,) + tuple(rows.shape[1:]))]
    if extra and extra[0].dtype != dtype:  # as Keras: the weights in the layer's dtype
        extra = [ops.cast(extra[0], dtype)]
    out = apply(CategoryEncode(depth, mode == "multi_hot", strict, dtype, owner), rows, *extra)[0]
    return out if len(shape) == 2 else ops.reshape(out, (depth,))


class CategoryEncoding(Layer):
    """Integer ids in [0, num_tokens) to one_hot, multi_hot or count vectors (Keras 3); ids
    outside raise when the layer runs. `count_weights` (call) weights the counts."""

    def __init__(
        self,
        num_tokens: int | None = None,
        output_mode: str = "multi_hot",
        sparse: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = f"CategoryEncoding '{self.name}'"
        output_mode = "multi_hot" if output_mode == "binary" else output_mode
        check_choice(owner, "output_mode", output_mode, ENCODE_MODES)
        if num_tokens is None:
            raise ValueError(
                f"{owner}: num_tokens must be set; for an unknown number of tokens use "
                "IntegerLookup"
            )
        self.num_tokens = common.check_int(num_tokens, "num_tokens", owner, minimum=1)
        if sparse:
            raise ValueError(f"{owner}: sparse=True is not supported (dense outputs only)")
        self.output_mode, self.sparse = output_mode, False

    def call(self, inputs: Any, count_weights: Any = None) -> Any:
        if count_weights is not None and self.output_mode != "count":
            raise ValueError(
                f"CategoryEncoding '{self.name}': count_weights is used only when "
                f"output_mode='count', received output_mode={self.output_mode!r}"
            )
        return encode_categorical(
            inputs, self.num_tokens, self.output_mode, self.dtype, self.name, count_weights
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_tokens": self.num_tokens,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
        }


class Normalization(Layer):
    """A preprocessing layer that normalizes continuous features.

    This layer will shift and scale inputs into a distribution centered around 0 with standard
    deviation 1. It accomplishes this by precomputing the mean and variance of the data, and
    calling `(input - mean) / sqrt(var)` at runtime (the root floored at 1e-7); with
    `invert=True` it applies the inverse, `mean + input * sqrt(var)`. The mean and variance
    values are given, or computed by `adapt(data)` (accumulated in float64, batches merged by
    Chan et al.'s formula; NaN or infinite data raise a ValueError naming the layer). It runs as
    elementwise ops, so gradients flow through it.

    Weights (non-trainable, Keras 3's layout): mean, variance, count (count stays 0, as Keras
    leaves it).

    Example:

    >>> layer = ge.layers.Normalization()
    >>> layer.adapt(np.array([[1.0], [2.0], [3.0]], "float32"))
    >>> layer(np.array([[1.0], [2.0], [3.0]], "float32"))
    array([[-1.2247448],
           [ 0.       ],
           [ 1.2247448]], dtype=float32)

    Args:
        axis: Integer, tuple of integers, or None. The axis or axes that should have a separate
            mean and variance for each index in the shape (default -1: one per feature of the
            last axis); None: a single mean and variance over everything.
        mean: The mean value(s) to use during normalization (given together with `variance`);
            None to learn them with `adapt`.
        variance: The variance value(s) to use during normalization.
        invert: If True, this layer applies the inverse transformation to its inputs.
        **kwargs: Standard layer keyword arguments.
    """

    def __init__(
        self,
        axis: int | Sequence[int] | None = -1,
        mean: Any = None,
        variance: Any = None,
        invert: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = f"Normalization '{self.name}'"
        self.axis = () if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
        if (mean is None) != (variance is None):
            raise ValueError(
                f"{owner}: give both mean and variance or neither; received {mean=}, {variance=}"
            )
        if mean is not None and np.shape(mean) != np.shape(variance):
            raise ValueError(
                f"{owner}: mean and variance must have the same shape, received "
                f"{np.shape(mean)} and {np.shape(variance)}"
            )
        if mean is not None and len(np.shape(mean)) > len(self.axis):
            raise ValueError(
                f"{owner}: mean of shape {np.shape(mean)} has more axes than axis={self.axis}"
            )
        self.input_mean, self.input_variance, self.invert = mean, variance, bool(invert)
        self._build_input_shape: tuple | None = None

    def build(self, input_shape: tuple) -> None:
        owner = f"Normalization '{self.name}'"
        ndim = len(input_shape)
        if any(not -ndim <= a < ndim for a in self.axis):
            raise ValueError(f"{owner}: axis={self.axis} is out of range for inputs of rank {ndim}")
        self._build_input_shape = tuple(input_shape)
        self._keep_axis = tuple(sorted(a % ndim for a in self.axis))
        if any(input_shape[d] is None for d in self._keep_axis):
            raise ValueError(
                f"{owner}: the kept axes {self._keep_axis} must have known sizes, received "
                f"input shape {tuple(input_shape)}"
            )
        self._reduce_axis = tuple(d for d in range(ndim) if d not in self._keep_axis)
        self._broadcast_shape = tuple(
            input_shape[d] if d in self._keep_axis else 1 for d in range(ndim)
        )
        shape = tuple(input_shape[d] for d in self._keep_axis)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(shape, "zeros", trainable=False, name="mean")
            self.adapt_variance = self.add_weight(shape, "ones", trainable=False, name="variance")
            self.count = self.add_weight((), "zeros", "int64", trainable=False, name="count")
        else:
            self._fixed = [self._given(v) for v in (self.input_mean, self.input_variance)]
        self.built = True

    def _given(self, value: Any) -> np.ndarray:
        """A given mean or variance aligned right to left with the kept axes and broadcast."""
        value = np.asarray(value, dtype=self.dtype)
        expanded = [1] * len(self._broadcast_shape)
        for i in range(1, value.ndim + 1):
            expanded[self._keep_axis[-i]] = value.shape[-i]
        return np.broadcast_to(value.reshape(expanded), self._broadcast_shape).copy()

    def call(self, inputs: Any) -> Any:
        if np.dtype(inputs.dtype).kind != "f":
            inputs = ops.cast(inputs, self.dtype)
        if self.input_mean is None:
            mean = ops.reshape(self.adapt_mean, self._broadcast_shape)
            variance = ops.reshape(self.adapt_variance, self._broadcast_shape)
        else:
            mean, variance = self._fixed
        std = ops.maximum(ops.sqrt(variance), np.asarray(EPSILON, self.dtype))
        if self.invert:
            return ops.add(mean, ops.multiply(inputs, std))
        return ops.divide(ops.subtract(inputs, mean), std)

    def adapt(self, data: Any, batch_size: int | None = None, steps: int | None = None) -> None:
        """Learns mean and variance over the reduced axes of `data`, accumulated in float64
        (batches merged by Chan et al.'s parallel formula, stable for any batch sizes)."""
        owner = f"Normalization '{self.name}'"
        if self.input_mean is not None:
            raise ValueError(f"{owner}: cannot adapt a layer given mean and variance")
        count, mean, m2 = 0, 0.0, 0.0
        for batch in adapt_batches(data, batch_size, steps, owner, lists_are_batches=True):
            batch = self._adapt_batch(batch, owner)
            n = math.prod(batch.shape[d] for d in self._reduce_axis)
            if n == 0:
                continue
            b_mean = batch.mean(axis=self._reduce_axis)
            b_m2 = np.square(batch - batch.mean(axis=self._reduce_axis, keepdims=True)).sum(
                axis=self._reduce_axis
            )
            delta, total = b_mean - mean, count + n
            mean = mean + delta * (n / total)
            m2 = m2 + b_m2 + np.square(delta) * (count * n / total)
            count = total
        if count == 0:
            raise ValueError(f"{owner}: adapt() received no samples")
        self.adapt_mean.assign(np.broadcast_to(mean, self.adapt_mean.shape))
        self.adapt_variance.assign(np.broadcast_to(m2 / count, self.adapt_variance.shape))

    def _adapt_batch(self, batch: np.ndarray, owner: str) -> np.ndarray:
        """One batch as float64, the layer built on the first, its kept sizes checked."""
        if batch.dtype.kind not in "biuf":
            raise TypeError(f"{owner}: adapt() takes numbers, received dtype {batch.dtype}")
        if not self.built:
            self.build(batch.shape)
        expected = self._build_input_shape
        if batch.ndim != len(expected) or any(
            batch.shape[d] != expected[d] for d in self._keep_axis
        ):
            raise ValueError(
                f"{owner}: adapt() received a batch of shape {batch.shape}, incompatible with "
                f"the input shape {expected} the layer was built for (axis={self.axis})"
            )
        batch = batch.astype(np.float64)
        if not np.isfinite(batch).all():
            raise ValueError(f"{owner}: adapt() data holds NaN or infinite values")
        return batch

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "axis": list(self.axis),
            "invert": self.invert,
            "mean": np.array(self.input_mean).tolist(),
            "variance": np.array(self.input_variance).tolist(),
        }

    def get_build_config(self) -> dict[str, Any] | None:
        shape = self._build_input_shape
        return None if shape is None else {"input_shape": list(shape)}

    def build_from_config(self, config: dict[str, Any]) -> None:
        if config:
            self.build(tuple(config["input_shape"]))
