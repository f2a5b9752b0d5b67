"""BackupAndRestore: the training state (weights, optimizer state, epoch reached) backed up
atomically during fit, and restored into the model when an interrupted fit is run again."""

from __future__ import annotations

import contextlib
import os
import warnings
import zipfile
from typing import Any

import numpy as np

from graphengine import distributed as dist
from graphengine.io.archive import (
    FORMAT_VERSION,
    MAGIC,
    Archive,
    config_text,
    manifest_of,
    read_manifest,
    write_arrays,
)
from graphengine.io.atomic import atomic_write
from graphengine.training.callbacks.base import Callback, Logs
from graphengine.training.saving import _assign, _restore_optimizer

BACKUP_FILE = "latest.gez"


def write_backup(model: Any, path: str, state: dict[str, Any]) -> None:
    """One atomic file in the format of `model.save_weights` (which `load_weights` reads), plus
    the optimizer's variables as `model.save` stores them and `state` under config "backup"."""
    optimizer = getattr(model, "optimizer", None)
    built = optimizer is not None and optimizer.built
    opt_state = [np.asarray(v) for v in optimizer.variables] if built else []
    # Keras's optimizer keeps its rate in a variable; ours keeps a float (a schedule is a
    # function of the iterations, restored with them).
    lr = optimizer.get_config().get("learning_rate") if optimizer is not None else None
    state = dict(state, learning_rate=lr if isinstance(lr, float) else None)
    config = {
        "format": MAGIC,
        "version": FORMAT_VERSION,
        "kind": "weights",
        "weights": manifest_of(model.weights),
        "optimizer_variables": len(opt_state),
        "backup": state,
    }
    text = config_text(config, model.name)

    def write(archive: zipfile.ZipFile) -> None:
        archive.writestr("config.json", text)
        write_arrays(archive, "weights", [w.value for w in model.weights])
        write_arrays(archive, "optimizer", opt_state)

    atomic_write(path, write)


def read_backup(model: Any, path: str) -> dict[str, Any]:
    """Restores a `write_backup` file into `model` (its weights, then the optimizer's variables
    and rate) and returns its state; a malformed file raises ValueError naming it and leaves the
    model as it was."""
    with Archive(path, "weights") as archive, archive.reading("the backup"):
        state = _backup_state(archive)
        manifest = read_manifest(archive)
        n_state = archive.config.get("optimizer_variables")
        optimizer = getattr(model, "optimizer", None)
        if n_state and optimizer is None:
            raise archive.error(f"it holds optimizer variables, but model '{model.name}' has none")
        weights = model.get_weights()
        opt_weights = optimizer.get_weights() if n_state and optimizer.built else None
        try:
            _assign(model, archive, manifest)
            if n_state:
                optimizer.build(model.trainable_weights)
                _restore_optimizer(optimizer, archive, n_state)
        except BaseException:
            model.set_weights(weights)
            if opt_weights is not None:
                optimizer.set_weights(opt_weights)
            raise
    lr = state["learning_rate"]
    if lr is not None and optimizer is not None:
        if isinstance(optimizer.get_config().get("learning_rate"), float):
            optimizer.learning_rate = lr
    return state


def _backup_state(archive: Archive) -> dict[str, Any]:
    state = archive.config.get("backup")
    if not isinstance(state, dict):
        raise archive.error("config.json has no 'backup' entry: it is not a BackupAndRestore file")
    for key in ("epoch", "batch"):
        value = state.get(key)
        if type(value) is not int or value < 0:
            raise archive.error(f"config.json 'backup' {key} is {value!r}, not an integer >= 0")
    lr = state.get("learning_rate")
    if lr is not None and type(lr) is not float:
        raise archive.error(f"config.json 'backup' learning_rate is {lr!r}, not a number")
    return {"epoch": state["epoch"], "batch": state["batch"], "learning_rate": lr}


def _check_save_freq(save_freq: Any) -> None:
    if save_freq == "epoch" and isinstance(save_freq, str):
        return
    if isinstance(save_freq, (bool, np.bool_)) or not isinstance(save_freq, (int, np.integer)):
        raise ValueError(
            f"BackupAndRestore: invalid {save_freq=}; expected 'epoch' or an integer number of "
            "batches (save_freq=False, Keras's preemption checkpointing, is not supported)"
        )
    if save_freq < 1:
        raise ValueError(f"BackupAndRestore: {save_freq=} must be 'epoch' or an integer >= 1")


class BackupAndRestore(Callback):
    """Backs up the training state in `backup_dir` at the end of every epoch (or every
    `save_freq` batches), each backup replacing the last one atomically: the weights, the
    optimizer's state (iterations and slots) and rate, and the epoch to resume from (plus the
    batch reached). When fit starts and a backup exists, it is restored into the model and fit
    resumes at that epoch (`model._initial_epoch`); a mid-epoch backup restarts its epoch, as in
    Keras 3. A fit that ends normally deletes the backup (`delete_checkpoint`). With
    `double_checkpoint`, the previous backup is kept too and restored if the latest cannot be."""

    def __init__(
        self,
        backup_dir: str | os.PathLike,
        save_freq: str | int = "epoch",
        double_checkpoint: bool = False,
        delete_checkpoint: bool = True,
    ) -> None:
        super().__init__()
        if backup_dir is None or (isinstance(backup_dir, str) and not backup_dir):
            raise ValueError(f"BackupAndRestore: a backup_dir is required, received {backup_dir=}")
        if not isinstance(backup_dir, (str, os.PathLike)) or not isinstance(
            os.fspath(backup_dir), str
        ):
            raise TypeError(
                f"BackupAndRestore: backup_dir must be a directory path (str or os.PathLike), "
                f"received {backup_dir=}"
            )
        _check_save_freq(save_freq)
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._weights_path = os.path.join(self.backup_dir, BACKUP_FILE)
        self._prev_weights_path = self._weights_path + ".bkp"
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0

    def on_train_begin(self, logs: Logs | None = None) -> None:
        if not getattr(self.model, "built", True):
            raise ValueError(
                f"BackupAndRestore: model '{self.model.name}' must be built before fit() "
                "(call it on a batch of data first)"
            )
        self._batches_seen_since_last_saving = self._last_batch_seen = 0
        state = self._restore()
        if state is not None:
            self.model._initial_epoch = state["epoch"]

    def _restore(self) -> dict[str, Any] | None:
        """The latest backup restored, else (missing or unreadable) the previous one, which
        then becomes the latest; None when there is none."""
        latest, prev = self._weights_path, self._prev_weights_path
        if os.path.exists(latest):
            try:
                return read_backup(self.model, latest)
            except (ValueError, OSError) as e:
                if not os.path.exists(prev):
                    raise
                warnings.warn(
                    f"BackupAndRestore: {e}; restoring the previous backup '{prev}'", stacklevel=3
                )
        elif not os.path.exists(prev):
            return None
        state = read_backup(self.model, prev)
        if self._writes():
            os.replace(prev, latest)
        return state

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        # A mid-epoch backup names the epoch in progress (Keras reads it off the last epoch end,
        # which a resumed fit in a new process has not seen yet: it would record epoch 0).
        self._current_epoch = epoch

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._save()

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if self._should_save_on_batch(batch):
            self._save()

    def _should_save_on_batch(self, batch: int) -> bool:
        if self.save_freq == "epoch":
            return False
        if batch <= self._last_batch_seen:  # a new epoch restarted the batch index
            self._batches_seen_since_last_saving += batch + 1
        else:
            self._batches_seen_since_last_saving += batch - self._last_batch_seen
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _writes(self) -> bool:
        """Only rank 0 of a distributed fit writes (every rank restores)."""
        return not getattr(self.model, "distributed", False) or dist.rank() == 0

    def _save(self) -> None:
        if not self._writes():
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.exists(self._weights_path):
            os.replace(self._weights_path, self._prev_weights_path)
        state = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
        write_backup(self.model, self._weights_path, state)

    def on_train_end(self, logs: Logs | None = None) -> None:
        if not (self.delete_checkpoint and self._writes()):
            return
        # Keras removes backup_dir whole; only what this callback wrote goes here, and then the
        # directory if that leaves it empty.
        for path in (self._weights_path, self._prev_weights_path):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        with contextlib.suppress(OSError):
            os.rmdir(self.backup_dir)
