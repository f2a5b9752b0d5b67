"""A PyDataset-fed fit epoch against the same epoch from in-memory arrays (issue 21): the bundled
digits, batch by batch from .npy files on disk, read ahead on 2 worker threads while the engine
computes, next to the same batches from arrays and from the same files read in step (1 worker).

Run: python -m benchmarks pydataset [--rounds 12] [--epochs 2] [--batch-size 32] [--profile]

Model: examples/cnn_digits.py's CNN (8x8x1 -> Conv2D 32 -> pool -> Conv2D 64 -> pool -> Dense 64
-> Dense 10 softmax), Adam, sparse categorical cross-entropy, accuracy; the 1437 training digits.
The files are one x_i.npy and one y_i.npy per batch: __getitem__ is then one read of batch i,
what issue 21 times (one file per sample would add batch_size opens and an np.stack per batch,
a cost of the dataset's layout rather than of the pipeline). They are written once to a
temporary folder, so the reads come from the page cache.

Variants: arrays (fit(x, y, shuffle=False)); workers=2 (the files, read ahead, max_queue_size
10); workers=1 (the files, read in step); in memory (a PyDataset handing out slices of the
arrays, workers=1: the engine's own cost of a dataset batch, no read). Each turn is one fit call
of `--epochs` epochs; the variants take turns, in a rotating order, after a warm-up fit of each
(compilation), so a slow spell of the shared machine hits all alike. A callback times each
epoch (on_epoch_begin to on_epoch_end), each step (on_train_batch_begin to _end) and the time
between steps (the next batch's read or wait, and its checks). The ratio is of medians over all
of a variant's epochs to the arrays'; "per round" pairs each turn with the arrays' turn of its
round (median and range). --profile times the pieces of a dataset batch instead.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import math
import os
import sys
import tempfile
import time
from typing import Any, Callable

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import graphengine as ge  # noqa: E402
from graphengine.training import data  # noqa: E402

VARIANTS = ("arrays", "workers=2", "workers=1", "in memory")


class DigitsFiles(ge.utils.PyDataset):
    """Batch i of the digits as written by `write_batches`: (x_i.npy, y_i.npy) in `folder`."""

    def __init__(self, folder: str, num_files: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.folder, self.num_files = folder, num_files

    def __len__(self) -> int:
        return self.num_files

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        x = np.load(os.path.join(self.folder, f"x_{index:05d}.npy"))
        y = np.load(os.path.join(self.folder, f"y_{index:05d}.npy"))
        return x, y


class DigitsInMemory(ge.utils.PyDataset):
    """Batch i of arrays already in memory (views, no copy), read in step."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int) -> None:
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[rows], self.y[rows]


def write_batches(folder: str, x: np.ndarray, y: np.ndarray, batch_size: int) -> int:
    """Writes the batches fit(x, y, shuffle=False) cuts as .npy files; returns their number."""
    starts = range(0, len(x), batch_size)
    for i, start in enumerate(starts):
        np.save(os.path.join(folder, f"x_{i:05d}.npy"), x[start : start + batch_size])
        np.save(os.path.join(folder, f"y_{i:05d}.npy"), y[start : start + batch_size])
    return len(starts)


def digits_model() -> ge.Model:
    """examples/cnn_digits.py's CNN, compiled as there."""
    L = ge.layers
    ge.utils.set_random_seed(0)
    model = ge.Sequential(
        [
            ge.Input(shape=(8, 8, 1)),
            L.Conv2D(32, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
            L.Conv2D(64, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(64, activation="relu"),
            L.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class EpochTimer(ge.callbacks.Callback):
    """Seconds of every epoch (on_epoch_begin to on_epoch_end), and of every batch: its step
    (on_train_batch_begin to _end: the row copy, the plan, the trackers) and the time between
    one step's end and the next one's begin (fetching the batch: the read or the wait for the
    read-ahead, and the checks)."""

    def __init__(self) -> None:
        super().__init__()
        self.epochs: list[float] = []
        self.steps: list[float] = []
        self.between: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._start = self._end = time.perf_counter()

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        self._begin = time.perf_counter()
        if batch > 0:
            self.between.append(self._begin - self._end)

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self._end = time.perf_counter()
        self.steps.append(self._end - self._begin)

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.epochs.append(time.perf_counter() - self._start)


def timed_fit(model: ge.Model, inputs: tuple, epochs: int, **kwargs: Any) -> EpochTimer:
    """fit(*inputs, epochs) in index order, silent; returns its EpochTimer."""
    timer = EpochTimer()
    model.fit(*inputs, epochs=epochs, verbose=0, shuffle=False, callbacks=[timer], **kwargs)
    return timer


def fits(
    model: ge.Model, x: np.ndarray, y: np.ndarray, folder: str, n: int, batch_size: int
) -> dict[str, Callable[[int], EpochTimer]]:
    """One fit call per variant: fit(epochs) -> the EpochTimer of that call."""
    return {
        "arrays": lambda e: timed_fit(model, (x, y), e, batch_size=batch_size),
        "workers=2": lambda e: timed_fit(model, (DigitsFiles(folder, n, workers=2),), e),
        "workers=1": lambda e: timed_fit(model, (DigitsFiles(folder, n, workers=1),), e),
        "in memory": lambda e: timed_fit(model, (DigitsInMemory(x, y, batch_size),), e),
    }


def compare(turns: dict[str, Callable[[int], EpochTimer]], rounds: int, epochs: int) -> dict:
    """The timers of each variant over `rounds` rounds, one turn each, in a rotating order."""
    for turn in turns.values():
        turn(1)  # compiles the plans (the full batches and the last, shorter one)
    timers: dict[str, list[EpochTimer]] = {v: [] for v in turns}
    for r in range(rounds):
        k = r % len(VARIANTS)
        for v in VARIANTS[k:] + VARIANTS[:k]:
            time.sleep(0.2)  # the last turn's worker threads and BLAS's settle
            timers[v].append(turns[v](epochs))
    return timers


def report(timers: dict[str, list[EpochTimer]]) -> None:
    """Per variant: the median epoch, step and time between steps (over all its turns), the
    ratio of its median epoch to the arrays', and the median and range of the ratios of one
    round (each turn against the arrays' turn of its round)."""
    print(
        f"{'variant':10s} {'epoch':>9s} {'step':>8s} {'between':>8s} {'ratio':>6s} "
        f"{'per round: median':>18s} {'range':>10s}"
    )
    med = {v: float(np.median([e for t in ts for e in t.epochs])) for v, ts in timers.items()}
    for v, ts in timers.items():
        step = 1e6 * float(np.median([s for t in ts for s in t.steps]))
        between = 1e6 * float(np.median([s for t in ts for s in t.between]))
        paired = [np.median(t.epochs) / np.median(a.epochs) for t, a in zip(ts, timers["arrays"])]
        rounds = (
            f"{np.median(paired):18.2f} {min(paired):4.2f}-{max(paired):4.2f}"
            if v != "arrays"
            else ""
        )
        print(
            f"{v:10s} {1e3 * med[v]:6.1f} ms {step:5.0f} us {between:5.0f} us "
            f"{med[v] / med['arrays']:6.2f} {rounds}"
        )


class TimedReads(DigitsFiles):
    """DigitsFiles recording how long each __getitem__ took, on whichever thread ran it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.times: list[float] = []

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        t = time.perf_counter()
        batch = super().__getitem__(index)
        self.times.append(time.perf_counter() - t)
        return batch


def profile(
    model: ge.Model,
    x: np.ndarray,
    y: np.ndarray,
    folder: str,
    n: int,
    batch_size: int,
    repeats: int,
) -> None:
    """Where a dataset batch's time goes: each piece timed alone in a hot loop, then the read
    and the checks timed inside fit's epochs (after a step has run, on a loaded core), next to
    the steps and the time between them."""
    fit = fits(model, x, y, folder, n, batch_size)
    fit["arrays"](1)
    arrays = [fit["arrays"](1) for _ in range(repeats)]
    step = float(np.median([s for t in arrays for s in t.steps]))

    def median(fn: Callable[[int], Any]) -> float:
        ts = []
        for _ in range(repeats):
            for i in range(n - 1):  # the full batches
                t = time.perf_counter()
                fn(i)
                ts.append(time.perf_counter() - t)
        return float(np.median(ts))

    dataset = DigitsFiles(folder, n)
    raw = [dataset[i] for i in range(n)]
    prepared = [model._dataset_batch(b, None, True) for b in raw]
    plan = next(
        p
        for p in model._plans.plans()
        if p.update is not None and len(p.feed_buffers[0]) == batch_size
    )
    rows = np.arange(batch_size)
    pool = concurrent.futures.ThreadPoolExecutor(2)
    done = [pool.submit(dataset.__getitem__, i) for i in range(n)]
    concurrent.futures.wait(done)
    pieces = {
        "read (__getitem__: 2 np.load)": median(lambda i: dataset[i]),
        "checks (data.prepare, sample weights)": median(
            lambda i: model._dataset_batch(raw[i], None, True)
        ),
        "  of which the class-id check": median(
            lambda i: data.check_class_ids(model, 0, raw[i][1])
        ),
        "pool submit (one a run of batches)": median(lambda i: pool.submit(dataset.__getitem__, i)),
        "result() of a run read ahead": median(lambda i: done[i].result()),
        "row copy of x and y (both paths)": median(
            lambda i: [
                plan.device.take_rows(b, a, rows)
                for b, a in zip(plan.feed_buffers, prepared[i][0] + prepared[i][1])
            ]
        ),
    }
    pool.shutdown()
    print(f"alone, hot loop: {'array-fed step':32s} {1e6 * step:7.1f} us")
    for name, seconds in pieces.items():
        print(f"{'':17s}{name:40s} {1e6 * seconds:7.1f} us {100 * seconds / step:5.1f}% of it")

    checks: list[float] = []
    prepare = model._dataset_batch

    def timed_prepare(*args: Any) -> Any:
        t = time.perf_counter()
        out = prepare(*args)
        checks.append(time.perf_counter() - t)
        return out

    model._dataset_batch = timed_prepare  # fit's converter looks it up per batch
    print("\nin fit's epochs  step    between  read   checks (medians, us)")
    try:
        for workers in (None, 1, 2):
            checks.clear()
            reads = TimedReads(folder, n, workers=workers or 1)
            if workers is None:
                timers = [fit["arrays"](1) for _ in range(repeats)]
            else:
                timers = [timed_fit(model, (reads,), 1) for _ in range(repeats)]
            us = [
                1e6 * float(np.median(v)) if v else float("nan")
                for v in (
                    [s for t in timers for s in t.steps],
                    [s for t in timers for s in t.between],
                    reads.times if workers else [],
                    checks,
                )
            ]
            name = "arrays" if workers is None else f"workers={workers}"
            print(f"{name:16s}" + "".join(f"{u:7.0f}" for u in us))
    finally:
        del model._dataset_batch


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=12, help="turns of each variant")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per turn (one fit call)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--profile", action="store_true", help="time the pieces of a batch")
    args = parser.parse_args(argv)
    (x, y), _ = ge.datasets.digits.load_digits()
    x = x[..., None]
    model = digits_model()
    with tempfile.TemporaryDirectory() as folder:
        n = write_batches(folder, x, y, args.batch_size)
        print(f"{len(x)} digits, batch {args.batch_size}: {n} .npy pairs per epoch")
        if args.profile:
            profile(model, x, y, folder, n, args.batch_size, args.rounds)
            return
        turns = fits(model, x, y, folder, n, args.batch_size)
        report(compare(turns, args.rounds, args.epochs))


if __name__ == "__main__":
    main()
