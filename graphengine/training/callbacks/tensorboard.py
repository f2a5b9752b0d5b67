"""TensorBoard: Keras's event files (written through tensorboardX): scalars per epoch or every
`update_freq` batches, weight histograms (and images), and the model's forward graph."""

from __future__ import annotations

import itertools
import os
import time
import warnings
from types import SimpleNamespace
from typing import Any

import numpy as np

from graphengine import common
from graphengine.training.callbacks.base import Callback, Logs
from graphengine.training.callbacks.graph_def import model_graph_def

HISTOGRAM_BUCKETS = 30  # tf.summary.histogram's default, what Keras writes
MAX_IMAGES = 3  # tf.summary.image's max_outputs default
_files = itertools.count()  # event files of this process: unique names within one second too


def _tensorboardx() -> SimpleNamespace:
    """What is used of tensorboardX: FileWriter, its summary builders and the Event proto."""
    try:
        from tensorboardX import FileWriter, summary
        from tensorboardX.proto.event_pb2 import Event
    except ImportError as e:
        raise ImportError(
            "ge.callbacks.TensorBoard writes its event files through tensorboardX, which is not "
            "installed: pip install graphengine[tensorboard]"
        ) from e
    return SimpleNamespace(FileWriter=FileWriter, summary=summary, Event=Event)


def _update_freq(update_freq: Any) -> str | int:
    if update_freq in ("epoch", "batch") and isinstance(update_freq, str):
        return 1 if update_freq == "batch" else "epoch"
    if isinstance(update_freq, str):
        raise ValueError(
            f"TensorBoard: {update_freq=} is unknown; expected 'epoch', 'batch' or an integer"
        )
    return common.check_int(update_freq, "update_freq", "TensorBoard", minimum=1)


def _scalars(logs: Logs) -> dict[str, float]:
    """The logs that are numbers (TensorBoard plots scalars only)."""
    out = {}
    for name, value in logs.items():
        if isinstance(value, (bool, str)) or np.ndim(value) != 0:
            warnings.warn(
                f"TensorBoard: log '{name}' is not a scalar ({value!r:.60}); not written",
                stacklevel=4,
            )
            continue
        out[name] = float(value)
    return out


def weight_image(weight: np.ndarray) -> np.ndarray | None:
    """Keras's picture of a weight, (images, height, width, 1), or None when it has none: a
    vector as one column, a matrix as one image (wider than tall), a 3-d kernel one image per
    output channel."""
    w = np.squeeze(weight)
    if w.ndim == 1:
        w = w.reshape(1, w.shape[0], 1, 1)
    elif w.ndim == 2:
        w = w.T if w.shape[0] > w.shape[1] else w
        w = w.reshape(1, w.shape[0], w.shape[1], 1)
    elif w.ndim == 3:
        w = np.transpose(w, (2, 0, 1))[..., None]
    return w if w.ndim == 4 and w.shape[-1] in (1, 3, 4) else None


class TensorBoard(Callback):
    """Writes TensorBoard event files under `log_dir`, in Keras's runs and tags: `train/` gets
    `epoch_<name>` for each training log plus `epoch_learning_rate` (and
    `epoch_steps_per_second`), at step = epoch; `validation/` gets the `val_` logs as
    `epoch_<name>`, and `evaluation_<name>_vs_iterations` at the end of each evaluation. An
    integer `update_freq` (or "batch", = 1) adds `batch_<name>` every that many batches (step =
    batches since fit began). `histogram_freq` > 0 writes `<weight path>/histogram` every that
    many epochs (and `<weight path>/image` with `write_images`); `write_graph` writes the
    forward graph once per fit. Profiling and embeddings are not supported."""

    def __init__(
        self,
        log_dir: str | os.PathLike = "logs",
        histogram_freq: int = 0,
        write_graph: bool = True,
        write_images: bool = False,
        write_steps_per_second: bool = False,
        update_freq: str | int = "epoch",
        profile_batch: int = 0,
        embeddings_freq: int = 0,
        embeddings_metadata: Any = None,
    ) -> None:
        super().__init__()
        self._tbx = _tensorboardx()
        if isinstance(profile_batch, str) or profile_batch:
            raise ValueError(
                f"TensorBoard: profiling is not available in graphengine; {profile_batch=} "
                "(must be 0)"
            )
        if embeddings_freq:
            raise NotImplementedError(
                f"TensorBoard: the embedding projector is not supported; {embeddings_freq=} "
                "(must be 0)"
            )
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = common.check_int(histogram_freq, "histogram_freq", "TensorBoard")
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = _update_freq(update_freq)
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._train_dir = os.path.join(self.log_dir, "train")
        self._val_dir = os.path.join(self.log_dir, "validation")
        self._writers: dict[str, Any] = {}
        self._in_fit = False
        self._global_train_batch = 0
        self._previous_epoch_iterations = 0
        self._epoch_start_time = 0.0
        self._batch_start_time = 0.0

    # -- writers -------------------------------------------------------------------------------
    def _writer(self, run: str) -> Any:
        if run not in self._writers:
            # TensorFlow's file names: host, pid and a counter keep two writers apart
            suffix = f".{os.getpid()}.{next(_files)}.v2"
            directory = self._train_dir if run == "train" else self._val_dir
            self._writers[run] = self._tbx.FileWriter(directory, filename_suffix=suffix)
        return self._writers[run]

    def _scalar(self, run: str, tag: str, value: float, step: int) -> None:
        self._writer(run).add_summary(self._tbx.summary.scalar(tag, value), step)

    def _flush(self) -> None:
        for writer in self._writers.values():
            writer.flush()

    def _close_writers(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def set_model(self, model: Any) -> None:
        super().set_model(model)
        self._close_writers()  # a new fit / evaluate writes new event files, as in Keras

    # -- hooks ---------------------------------------------------------------------------------
    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._in_fit = True
        self._global_train_batch = 0
        self._previous_epoch_iterations = 0
        if self.write_graph:
            event = self._tbx.Event(graph_def=model_graph_def(self.model).SerializeToString())
            self._writer("train").add_event(event)

    def on_train_end(self, logs: Logs | None = None) -> None:
        self._in_fit = False
        self._close_writers()

    def on_test_end(self, logs: Logs | None = None) -> None:
        iterations = getattr(getattr(self.model, "optimizer", None), "iterations", None)
        if iterations is not None:
            for name, value in _scalars(logs or {}).items():
                self._scalar("val", f"evaluation_{name}_vs_iterations", value, int(iterations))
        if self._in_fit:
            self._flush()
        else:
            self._close_writers()

    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start_time = time.time()

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        step = self._global_train_batch
        if self.update_freq == "epoch" or step % self.update_freq:
            return
        if self.write_steps_per_second:
            elapsed = max(time.time() - self._batch_start_time, 1e-9)
            self._scalar("train", "batch_steps_per_second", 1.0 / elapsed, step)
        for name, value in _scalars(logs or {}).items():
            self._scalar("train", f"batch_{name}", value, step)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        if self.write_steps_per_second:
            self._previous_epoch_iterations = self._iterations()
            self._epoch_start_time = time.time()

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self._log_epoch_metrics(epoch, logs or {})
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        self._flush()

    # -- what is written -----------------------------------------------------------------------
    def _iterations(self) -> int:
        return int(getattr(self.model.optimizer, "iterations", 0))

    def _log_epoch_metrics(self, epoch: int, logs: Logs) -> None:
        if not logs:
            return
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k.removeprefix("val_"): v for k, v in logs.items() if k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and hasattr(optimizer, "learning_rate"):
            train["learning_rate"] = float(optimizer.learning_rate)
        if self.write_steps_per_second:
            elapsed = max(time.time() - self._epoch_start_time, 1e-9)
            train["steps_per_second"] = (
                self._iterations() - self._previous_epoch_iterations
            ) / elapsed
        for run, values in (("train", train), ("val", val)):
            for name, value in _scalars(values).items():
                self._scalar(run, f"epoch_{name}", value, epoch)

    def _log_weights(self, epoch: int) -> None:
        seen: set[int] = set()
        for layer in self.model.layers:
            for weight in layer.weights:
                if id(weight) in seen:
                    continue
                seen.add(id(weight))
                name = weight.path.replace(":", "_")
                values = np.asarray(weight.value)
                if values.size and not np.all(np.isfinite(values)):
                    warnings.warn(
                        f"TensorBoard: weight '{weight.path}' holds NaN or infinite values at "
                        f"epoch {epoch}; its histogram is not written",
                        stacklevel=3,
                    )
                    continue
                if values.size:
                    self._histogram(f"{name}/histogram", values, epoch)
                if self.write_images and values.size:
                    self._image(f"{name}/image", values, epoch)

    def _histogram(self, tag: str, values: np.ndarray, step: int) -> None:
        """Keras's 30 equal buckets over [min, max] (TensorBoard reads a bucket's left edge off
        the one before it, the first's off `min`)."""
        v = values.astype(np.float64).ravel()
        counts, edges = np.histogram(v, bins=HISTOGRAM_BUCKETS)
        summary = self._tbx.summary.histogram_raw(
            tag,
            min=float(v.min()),
            max=float(v.max()),
            num=v.size,
            sum=float(v.sum()),
            sum_squares=float(v @ v),
            bucket_limits=edges[1:].tolist(),
            bucket_counts=counts.tolist(),
        )
        self._writer("train").add_summary(summary, step)

    def _image(self, tag: str, values: np.ndarray, step: int) -> None:
        images = weight_image(values)
        if images is None:
            return
        # TensorFlow turns floats into bytes by clipping to [0, 1]; tensorboardX scales by 255
        # and clips the same way. Keras shows up to three images, here side by side in one.
        images = images[:MAX_IMAGES].astype(np.float32)
        summary = self._tbx.summary.image(tag, images, dataformats="NHWC")
        self._writer("train").add_summary(summary, step)
