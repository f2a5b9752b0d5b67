"""`ge.utils.PyDataset`, Keras 3's: a dataset of batches by index that fit / evaluate / predict
read ahead on worker threads (or processes) while the engine computes."""

from __future__ import annotations

from typing import Any

from graphengine import common


class PyDataset:
    """Subclass it, call `super().__init__(**kwargs)`, and define `__getitem__(index)` (batch
    `index` as x, (x, y) or (x, y, sample_weight)) and `__len__` (the number of batches), or
    `num_batches` returning None for an endless dataset (then fit needs `steps_per_epoch`).

    `workers` batches are read at once, on threads, or on processes with
    `use_multiprocessing=True` (the dataset must then pickle); at most `max_queue_size` batches
    wait ready. `on_epoch_begin` / `on_epoch_end` run around every epoch (reshuffle there)."""

    def __init__(
        self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10
    ) -> None:
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    @property
    def workers(self) -> int:
        """How many threads (or processes) read batches ahead; 1 reads each when needed."""
        return self._workers

    @workers.setter
    def workers(self, value: Any) -> None:
        self._workers = common.check_int(value, "workers", type(self).__name__, minimum=1)

    @property
    def max_queue_size(self) -> int:
        """How many batches may wait, read ahead, at most."""
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value: Any) -> None:
        self._max_queue_size = common.check_int(
            value, "max_queue_size", type(self).__name__, minimum=1
        )

    @property
    def use_multiprocessing(self) -> bool:
        """Whether the workers are processes (the dataset must pickle) rather than threads."""
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value: Any) -> None:
        self._use_multiprocessing = bool(value)

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(
            f"{type(self).__name__} must define __getitem__(self, index) returning batch index"
        )

    @property
    def num_batches(self) -> int | None:
        """The number of batches (len(self)), or None for an endless dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        return None

    def on_epoch_begin(self) -> None:
        """Called before every epoch."""

    def on_epoch_end(self) -> None:
        """Called after every epoch."""
