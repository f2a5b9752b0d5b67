"""Keras 3's `timeseries_dataset_from_array`: sliding windows over an array as a PyDataset, each
batch's windows gathered when it is asked for (one fancy index), never all windows at once."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphengine import common
from graphengine.training.pydataset import PyDataset

OWNER = "timeseries_dataset_from_array"
NO_MINIMUM = -(2**63)  # check_int's type check alone: the ranges are checked with Keras's words


class TimeseriesDataset(PyDataset):
    """Batch i holds the windows starting at `positions[i * batch_size : (i + 1) * batch_size]`
    (offsets into `data[start_index:]`): `data[start + p + sampling_rate * arange(length)]`, with
    `targets[start + p]` beside them when there are targets. `batch_size=None` gives one window
    per index. With `shuffle`, the positions are drawn anew (from `seed`) after every epoch."""

    def __init__(
        self,
        data: np.ndarray,
        targets: np.ndarray | None,
        positions: np.ndarray,
        sequence_length: int,
        sampling_rate: int,
        batch_size: int | None,
        start_index: int,
        rng: np.random.RandomState | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data, self.targets = data, targets
        self.positions = positions
        self.batch_size = batch_size
        self.start_index = start_index
        self._offsets = start_index + sampling_rate * np.arange(sequence_length)
        self._rng = rng

    def __len__(self) -> int:
        if self.batch_size is None:
            return len(self.positions)
        return math.ceil(len(self.positions) / self.batch_size)

    def __getitem__(self, index: int) -> Any:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"{type(self).__name__}: batch index {index} out of range [0, {n})")
        index %= n
        positions = self.positions  # one read: on_epoch_end replaces the array, never edits it
        if self.batch_size is None:
            chosen = positions[index]
        else:
            chosen = positions[index * self.batch_size : (index + 1) * self.batch_size]
        windows = self.data[np.add.outer(chosen, self._offsets)]
        if self.targets is None:
            return windows
        return windows, self.targets[self.start_index + chosen]

    def on_epoch_end(self) -> None:
        if self._rng is not None:
            self.positions = self._rng.permutation(self.positions)


def timeseries_dataset_from_array(
    data: Any,
    targets: Any,
    sequence_length: int,
    sequence_stride: int = 1,
    sampling_rate: int = 1,
    batch_size: int | None = 128,
    shuffle: bool = False,
    seed: int | None = None,
    start_index: int | None = None,
    end_index: int | None = None,
) -> TimeseriesDataset:
    """Windows of `sequence_length` timesteps (axis 0 of `data`), `sampling_rate` apart, starting
    every `sequence_stride` steps within data[start_index:end_index]; batches are `(windows,
    targets)` with `targets[i]` the target of the window starting at i, or windows alone when
    `targets` is None. dtypes are kept. With `shuffle`, the window order is Keras's start
    positions shuffled by np.random.RandomState(seed); Keras's tf.data pipeline then shuffles
    within a buffer, which is not repeated here."""
    data = data if isinstance(data, np.ndarray) else np.asarray(data)
    if data.ndim == 0:
        raise ValueError(f"{OWNER}: data must be an array with a time axis, received a scalar")
    n = len(data)
    sequence_length = common.check_int(sequence_length, "sequence_length", OWNER, minimum=1)
    start, end = _check_range(start_index, end_index, n)
    for name, value in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        value = common.check_int(value, name, OWNER, minimum=NO_MINIMUM)
        if value <= 0:
            raise ValueError(f"{OWNER}: `{name}` must be higher than 0. Received: {name}={value}")
        if value >= n:
            raise ValueError(
                f"{OWNER}: `{name}` must be lower than the length of the data. "
                f"Received: {name}={value}, for data of length {n}"
            )
    if batch_size is not None:
        batch_size = common.check_int(batch_size, "batch_size", OWNER, minimum=1)
    span = (sequence_length - 1) * sampling_rate + 1
    count = end - start - span + 1
    if targets is not None:
        targets = targets if isinstance(targets, np.ndarray) else np.asarray(targets)
        if targets.ndim == 0:
            raise ValueError(f"{OWNER}: targets must be an array or None, received a scalar")
        # Keras takes min(count, len(targets)), then fails reading targets past the end when
        # start_index > 0: the window starting at i needs targets[i]
        count = min(count, len(targets) - start)
    if count <= 0:
        raise ValueError(
            f"{OWNER}: no window fits: sequence_length={sequence_length} with "
            f"sampling_rate={sampling_rate} spans {span} timesteps, but data[{start}:{end}] has "
            f"{end - start}" + ("" if targets is None else f" and targets has {len(targets)}")
        )
    positions = np.arange(0, count, sequence_stride)
    rng = None
    if shuffle:
        if seed is None:
            seed = int(common.rng().integers(1_000_000))
        rng = np.random.RandomState(seed)
        rng.shuffle(positions)
    return TimeseriesDataset(
        data, targets, positions, sequence_length, sampling_rate, batch_size, start, rng
    )


def _check_range(start_index: Any, end_index: Any, n: int) -> tuple[int, int]:
    """Keras's checks of start_index and end_index, each below n, with end above start; the
    range they give. end_index=0 is an error here, where Keras takes it for None."""
    start = 0
    if start_index is not None:
        start = common.check_int(start_index, "start_index", OWNER, minimum=NO_MINIMUM)
        if start < 0:
            raise ValueError(
                f"{OWNER}: `start_index` must be 0 or greater. Received: start_index={start}"
            )
        if start >= n:
            raise ValueError(
                f"{OWNER}: `start_index` must be lower than the length of the data. "
                f"Received: start_index={start}, for data of length {n}"
            )
    if end_index is None:
        return start, n
    end = common.check_int(end_index, "end_index", OWNER, minimum=NO_MINIMUM)
    if end <= 0:
        raise ValueError(f"{OWNER}: `end_index` must be higher than 0. Received: end_index={end}")
    if end <= start:
        raise ValueError(
            f"{OWNER}: `end_index` must be higher than `start_index`. "
            f"Received: start_index={start}, and end_index={end}"
        )
    if end >= n:
        raise ValueError(
            f"{OWNER}: `end_index` must be lower than the length of the data. "
            f"Received: end_index={end}, for data of length {n}"
        )
    return start, end
