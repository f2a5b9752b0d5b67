"""The batches fit / evaluate / predict walk, from one of three sources: arrays cut into batches
by row indices (a compiled step copies a batch once, into its plan's buffers), a
ge.utils.PyDataset (read ahead on worker threads or processes when it asks for workers), or a
Python generator / iterator (read in step, as Keras does, so a later fit continues exactly where
this one stopped). `EpochIterator` counts epochs of `steps_per_epoch` batches as Keras's does."""

from __future__ import annotations

import collections
import concurrent.futures
import itertools
import math
import warnings
from typing import Any, Callable, Iterator

import numpy as np

from graphengine import common
from graphengine.training.pydataset import PyDataset

ACCEPTED = (
    "NumPy arrays (a list or dict of them for several inputs or outputs), pandas objects, "
    "nested lists of numbers, a ge.utils.PyDataset, or a Python generator or iterator of "
    "batches"
)


def is_dataset(x: Any) -> bool:
    """Whether `x` is a source of batches (a PyDataset, a generator or iterator) rather than
    data to cut into batches."""
    return isinstance(x, PyDataset) or (
        isinstance(x, collections.abc.Iterator) and not _array_like(x)
    )


def _array_like(value: Any) -> bool:
    return isinstance(value, (np.ndarray, np.generic, int, float, bool, complex)) or any(
        hasattr(value, a) for a in ("__array__", "__array_interface__", "__array_struct__")
    )


def check_array_like(value: Any, what: str) -> None:
    """TypeError for what NumPy would take apart element by element (a Sequence-like dataset,
    a torch Dataset, a tf.data.Dataset, a string), naming what is accepted: np.asarray on such
    an object can read every batch into an object array until memory runs out."""
    if _array_like(value):
        return
    kind = type(value).__name__
    hint = ""
    if hasattr(value, "__getitem__") and hasattr(value, "__len__"):
        hint = (
            "; a dataset indexed by batch should subclass ge.utils.PyDataset "
            "(__len__ and __getitem__ returning (x, y) batches)"
        )
    raise TypeError(f"{what}: received a {kind}, but the data must be {ACCEPTED}{hint}")


class ArrayBatches:
    """Row indices of n samples in batches of `batch_size`, shuffled anew each pass (`order`
    may replace the permutation, e.g. by rank 0's), each turned into a batch by `take`."""

    def __init__(
        self,
        n: int,
        batch_size: int,
        shuffle: bool,
        take: Callable[[np.ndarray], Any],
        order: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self.n, self.batch_size, self.shuffle, self.take = n, batch_size, shuffle, take
        self._order = order
        self.num_batches: int | None = math.ceil(n / batch_size)

    def new_pass(self) -> Iterator[Any]:
        order = common.rng().permutation(self.n) if self.shuffle else np.arange(self.n)
        if self._order is not None:
            order = self._order(order)
        for start in range(0, self.n, self.batch_size):
            yield self.take(order[start : start + self.batch_size])

    def on_epoch_begin(self) -> None: ...
    def on_epoch_end(self) -> None: ...
    def close(self) -> None: ...


class DatasetBatches:
    """A PyDataset's batches in index order (shuffled when fit shuffles and the dataset has a
    length); with `workers` > 1 or `use_multiprocessing`, up to `max_queue_size` batches are
    read ahead on a pool while the engine computes, and come back in order."""

    def __init__(self, dataset: PyDataset, shuffle: bool) -> None:
        if not hasattr(dataset, "_workers"):
            raise ValueError(
                f"{type(dataset).__name__}.__init__ must call super().__init__(**kwargs) "
                "(ge.utils.PyDataset's workers, use_multiprocessing and max_queue_size)"
            )
        self.dataset, self.shuffle = dataset, shuffle
        self.num_batches = dataset.num_batches
        if self.num_batches is not None:
            self.num_batches = common.check_int(
                self.num_batches, "len(dataset)", type(dataset).__name__
            )
        self._pool: concurrent.futures.Executor | None = None

    def new_pass(self) -> Iterator[Any]:
        if self.num_batches is None:
            indices: Any = itertools.count()
        elif self.shuffle:
            indices = iter(common.rng().permutation(self.num_batches).tolist())
        else:
            indices = iter(range(self.num_batches))
        if self.dataset.workers > 1 or self.dataset.use_multiprocessing:
            return self._read_ahead(indices)
        return (self.dataset[i] for i in indices)

    def _read_ahead(self, indices: Iterator[int]) -> Iterator[Any]:
        """The batches of `indices`, read on the pool in runs of max_queue_size // workers
        consecutive batches, one run per worker in flight: a worker thread takes the GIL once
        a run rather than once a batch (each hand-over costs the engine's thread tens of us)."""
        dataset = self.dataset
        if self._pool is None:
            if dataset.use_multiprocessing:
                self._pool = concurrent.futures.ProcessPoolExecutor(dataset.workers)
            else:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    dataset.workers, thread_name_prefix="graphengine-pydataset"
                )
        size = max(1, dataset.max_queue_size // dataset.workers)
        runs = iter(lambda: list(itertools.islice(indices, size)), [])
        pending: collections.deque = collections.deque()
        try:
            for run in itertools.islice(runs, dataset.workers):
                pending.append(self._pool.submit(_get_items, dataset, run))
            while pending:
                items = pending.popleft().result()
                for run in itertools.islice(runs, 1):
                    pending.append(self._pool.submit(_get_items, dataset, run))
                for batch, error in items:
                    if error is not None:
                        raise error
                    yield batch
        finally:  # an epoch cut short (steps_per_epoch, an error): drop what was read ahead
            for future in pending:
                future.cancel()

    def on_epoch_begin(self) -> None:
        self.dataset.on_epoch_begin()

    def on_epoch_end(self) -> None:
        self.dataset.on_epoch_end()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _get_items(dataset: PyDataset, run: list[int]) -> list[tuple[Any, BaseException | None]]:
    """The batches `run` as (batch, None), ending at the first that raises as (None, its
    error), on a worker (a module-level function, so that it pickles): the error reaches the
    caller at that batch's turn, after the batches before it trained."""
    items: list[tuple[Any, BaseException | None]] = []
    for i in run:
        try:
            items.append((dataset[i], None))
        except Exception as error:
            items.append((None, error))
            break
    return items


class IteratorBatches:
    """A generator or iterator: its batches as they come, each epoch going on from where the
    last one stopped (there is no second pass)."""

    num_batches: int | None = None

    def __init__(self, iterator: Iterator[Any]) -> None:
        self.iterator = iterator

    def new_pass(self) -> Iterator[Any]:
        return self.iterator

    def on_epoch_begin(self) -> None: ...
    def on_epoch_end(self) -> None: ...
    def close(self) -> None: ...


def source_of(x: Any, shuffle: bool) -> DatasetBatches | IteratorBatches:
    """The batch source for a dataset `x` (see `is_dataset`)."""
    if isinstance(x, PyDataset):
        return DatasetBatches(x, shuffle)
    return IteratorBatches(x)


class EpochIterator:
    """Epochs over a source, as Keras's EpochIterator counts them: `steps_per_epoch` batches an
    epoch when given (a source with a length continuing its pass into the next epoch, and
    starting a new pass when it is done), else one whole pass. A source that runs out before
    `steps_per_epoch` batches ends that epoch early with Keras's warning; one that has nothing
    left at all sets `ran_out`, and fit stops."""

    def __init__(self, source: Any, steps_per_epoch: int | None, what: str) -> None:
        self.source, self.steps_per_epoch, self.what = source, steps_per_epoch, what
        self._current: Iterator[Any] | None = None
        self._seen = 0
        self.ran_out = False

    @property
    def num_batches(self) -> int | None:
        """Batches an epoch (the progress bar's target), None while unknown."""
        return self.steps_per_epoch or self.source.num_batches

    def epoch(self) -> Iterator[Any]:
        """One epoch's batches."""
        source, steps = self.source, self.steps_per_epoch
        source.on_epoch_begin()
        if self._current is None or steps is None:
            self._current, self._seen = source.new_pass(), 0
        taken = 0
        while steps is None or taken < steps:
            if source.num_batches is not None and self._seen >= source.num_batches:
                break
            try:
                batch = next(self._current)
            except StopIteration:
                self._current = None
                break
            self._seen += 1
            taken += 1
            yield batch
        if source.num_batches is not None and self._seen >= source.num_batches:
            self._current = None  # the next epoch starts a new pass
        if taken == 0:
            self.ran_out = True
        if taken == 0 or (steps is not None and taken < steps):
            warnings.warn(
                f"{self.what}: your input ran out of data after {taken} of "
                f"{steps if steps is not None else 'the'} batches of this epoch; interrupting "
                "training. Make sure that your dataset or generator can generate at least "
                "steps_per_epoch * epochs batches",
                stacklevel=4,
            )
        source.on_epoch_end()

    def close(self) -> None:
        self.source.close()


class Mapped:
    """A source whose batches go through `fn` (a dataset's raw batches made the arrays a
    step takes)."""

    def __init__(self, source: Any, fn: Callable[[Any], Any]) -> None:
        self.source, self.fn = source, fn
        self.num_batches = source.num_batches

    def new_pass(self) -> Iterator[Any]:
        return map(self.fn, self.source.new_pass())

    def on_epoch_begin(self) -> None:
        self.source.on_epoch_begin()

    def on_epoch_end(self) -> None:
        self.source.on_epoch_end()

    def close(self) -> None:
        self.source.close()
