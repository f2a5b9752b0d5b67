"""Keras 3's `split_dataset` for arrays, structures of arrays, lists of samples and PyDatasets,
and `ArrayDataset`, the PyDataset of batches over arrays that a split PyDataset becomes."""

from __future__ import annotations

import functools
import math
import numbers
import random
from typing import Any

import numpy as np

from graphengine import common, tree
from graphengine.training.pydataset import PyDataset

OWNER = "split_dataset"


class ArrayDataset(PyDataset):
    """Batches of `batch_size` rows, in order, of `data`: an array or a tuple / list / dict of
    arrays with as many rows each (a batch has `data`'s structure, e.g. (x, y))."""

    def __init__(self, data: Any, batch_size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data = data
        self.batch_size = common.check_int(batch_size, "batch_size", type(self).__name__, 1)
        self._leaves = tree.flatten(data)
        self._rows = len(self._leaves[0])

    def __len__(self) -> int:
        return math.ceil(self._rows / self.batch_size)

    def __getitem__(self, index: int) -> Any:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"{type(self).__name__}: batch index {index} out of range [0, {n})")
        rows = slice((index % n) * self.batch_size, (index % n + 1) * self.batch_size)
        return tree.pack_like(self.data, [leaf[rows] for leaf in self._leaves])


def split_dataset(
    dataset: Any,
    left_size: int | float | None = None,
    right_size: int | float | None = None,
    shuffle: bool = False,
    seed: int | None = None,
) -> tuple[Any, Any]:
    """Splits `dataset` in two along its samples: the first `left_size` and the last
    `right_size` (a float is a fraction of the samples, rounded as Python's round; a missing
    side is the rest). `shuffle` first permutes the samples as Keras does (Python's
    random.Random(seed).shuffle), so a seed gives Keras's split.

    Arrays give arrays; a tuple or dict of arrays gives two tuples or dicts; a list of arrays
    (Keras's columns) gives two tuples; any other list is a list of samples and gives two lists;
    a PyDataset is read whole and gives two `ArrayDataset`s batched as it was."""
    if left_size is None and right_size is None:
        raise ValueError(
            f"{OWNER}: At least one of the `left_size` or `right_size` must be specified. "
            "Received: left_size=None and right_size=None"
        )
    batch_size = None
    if isinstance(dataset, PyDataset):
        dataset, batch_size = _read_whole(dataset)
    if isinstance(dataset, list) and not all(isinstance(a, np.ndarray) for a in dataset):
        n, take = len(dataset), functools.partial(_take_samples, dataset)
    elif isinstance(dataset, (np.ndarray, tuple, list, dict)):
        if isinstance(dataset, list):
            dataset = tuple(dataset)
        leaves = [np.asarray(a) for a in tree.flatten(dataset)]
        n, take = _common_length(leaves), functools.partial(_take_rows, dataset, leaves)
    else:
        raise TypeError(
            f"{OWNER}: `dataset` must be a NumPy array, a tuple, list or dict of arrays, a list "
            f"of samples or a ge.utils.PyDataset. Received: dataset of type "
            f"{type(dataset).__name__}"
        )
    if n == 0:
        raise ValueError(f"{OWNER}: Received an empty dataset; `dataset` must have samples")
    order = list(range(n))
    if shuffle:
        if seed is None:
            seed = int(common.rng().integers(1_000_001))
        random.Random(seed).shuffle(order)
    left, right = split_sizes(left_size, right_size, n)
    left_rows, right_rows = np.array(order[:left]), np.array(order[n - right :])
    if batch_size is not None:
        return ArrayDataset(take(left_rows), batch_size), ArrayDataset(take(right_rows), batch_size)
    return take(left_rows), take(right_rows)


def _take_samples(samples: list, rows: np.ndarray) -> list:
    return [samples[i] for i in rows]


def _take_rows(struct: Any, leaves: list[np.ndarray], rows: np.ndarray) -> Any:
    return tree.pack_like(struct, [leaf[rows] for leaf in leaves])


def _read_whole(dataset: PyDataset) -> tuple[Any, int]:
    """A PyDataset's batches joined into one structure of arrays, and its batch size (the
    first batch's), as Keras unbatches a batched tf.data.Dataset before splitting it."""
    count = dataset.num_batches
    if count is None:
        raise ValueError(f"{OWNER}: cannot split an endless PyDataset (its num_batches is None)")
    if count == 0:
        raise ValueError(f"{OWNER}: Received an empty dataset; the PyDataset has no batches")
    batches = [dataset[i] for i in range(count)]
    columns = [tree.flatten(b) for b in batches]
    for i, flat in enumerate(columns):
        if len(flat) != len(columns[0]):
            raise ValueError(
                f"{OWNER}: batch {i} of the PyDataset has {len(flat)} arrays where batch 0 "
                f"has {len(columns[0])}"
            )
    joined = [np.concatenate([np.asarray(c[j]) for c in columns]) for j in range(len(columns[0]))]
    return tree.pack_like(batches[0], joined), len(np.asarray(columns[0][0]))


def _common_length(leaves: list[np.ndarray]) -> int:
    if not leaves:
        return 0
    for i, leaf in enumerate(leaves):
        if leaf.ndim == 0:
            raise ValueError(f"{OWNER}: array {i} of `dataset` is a scalar, not samples")
        if len(leaf) != len(leaves[0]):
            raise ValueError(
                f"{OWNER}: Received arrays with different lengths: array 0 has shape "
                f"{leaves[0].shape}, array {i} has shape {leaf.shape}; they must have the same "
                "number of samples"
            )
    return len(leaves[0])


def split_sizes(left_size: Any, right_size: Any, total: int) -> tuple[int, int]:
    """Keras's rules for the two sizes: an int in (0, total) or a float in (0, 1), a None side
    filled by the rest; errors where a side would be empty or the two do not fit."""
    kinds = {side: _size_kind(value, side) for side, value in _sides(left_size, right_size)}
    if left_size == 0 and right_size == 0:
        raise ValueError(
            f"{OWNER}: Both `left_size` and `right_size` are zero. At least one of the split "
            "sizes must be non-zero."
        )
    for side, value in _sides(left_size, right_size):
        bad = kinds[side] == "int" and not 0 < value < total
        if bad or kinds[side] == "float" and not 0 < value < 1:
            raise ValueError(
                f"{OWNER}: `{side}` should be either a positive integer smaller than {total}, "
                f"or a float within the range `[0, 1]`. Received: {side}={value}"
            )
    if kinds["left_size"] == kinds["right_size"] == "float" and left_size + right_size > 1:
        raise ValueError(
            f"{OWNER}: The sum of `left_size` and `right_size` is greater than 1 "
            f"(left_size={left_size}, right_size={right_size}). It must be at most 1."
        )
    counts = {
        side: None if value is None else round(value * total) if kinds[side] == "float" else value
        for side, value in _sides(left_size, right_size)
    }
    left = total - counts["right_size"] if counts["left_size"] is None else counts["left_size"]
    right = total - left if counts["right_size"] is None else counts["right_size"]
    if left + right > total:
        raise ValueError(
            f"{OWNER}: The sum of `left_size` and `right_size` should be smaller than the "
            f"{total} samples. Received: left_size + right_size = {left + right}"
        )
    for side, count in (("left", left), ("right", right)):
        if count == 0:
            raise ValueError(
                f"{OWNER}: With `dataset` of length={total}, `left_size`={left_size} and "
                f"`right_size`={right_size}, resulting {side} side dataset split will be empty. "
                "Adjust any of the aforementioned parameters"
            )
    return int(left), int(right)


def _sides(left_size: Any, right_size: Any) -> tuple[tuple[str, Any], tuple[str, Any]]:
    return ("left_size", left_size), ("right_size", right_size)


def _size_kind(value: Any, side: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{OWNER}: Invalid `{side}` Type. Expected: int or float or None, "
            f"Received: {side}={value!r} of type {type(value).__name__}"
        )
    return "int" if isinstance(value, numbers.Integral) else "float"
