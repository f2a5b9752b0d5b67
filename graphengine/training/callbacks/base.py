"""The Callback hooks, the CallbackList that fit / evaluate / predict drive, and History."""

from __future__ import annotations

from typing import Any

import numpy as np

Logs = dict[str, Any]


def pythonify_logs(logs: Logs | None) -> Logs:
    """A new dict, keys sorted and nested dicts flattened, values made Python floats where they
    convert (as Keras does, so every callback sees plain numbers in the same key order)."""
    out: Logs = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            out.update(pythonify_logs(value))
            continue
        # Only scalars convert: sequences (predict's outputs) and non-0-d arrays pass as they are.
        if not isinstance(value, (str, list, tuple)) and np.ndim(value) == 0:
            try:
                value = float(value)
            except (TypeError, ValueError):
                pass
        out[key] = value
    return out


class Callback:
    """Base class: override the hooks of interest. `self.model` is the model being trained and
    `self.params` the loop's parameters (`verbose`, `epochs`, `steps`)."""

    def __init__(self) -> None:
        self.params: dict[str, Any] | None = None
        self._model: Any = None

    def set_params(self, params: dict[str, Any]) -> None:
        """Called by the loop with its parameters (`verbose`, `epochs`, `steps`)."""
        self.params = params

    def set_model(self, model: Any) -> None:
        """Called by the loop with the model it runs."""
        self._model = model

    @property
    def model(self) -> Any:
        """The model being trained, evaluated or run."""
        return self._model

    # Legacy aliases: the default train-batch hooks forward to them, as in Keras.
    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Keras's legacy name of on_train_batch_begin, which calls it by default."""

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Keras's legacy name of on_train_batch_end, which calls it by default."""

    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Called before each training batch of `fit` (`batch`: its index in the epoch)."""
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Called after each training batch of `fit`; `logs` holds the loss and metrics
        averaged since the epoch began."""
        self.on_batch_end(batch, logs=logs)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        """Called at the start of each epoch of `fit` (`epoch` counts from 0)."""

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """Called at the end of each epoch of `fit`; `logs` holds the epoch's mean loss and
        metrics, and the `val_` ones after validation."""

    def on_test_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Called before each batch of `evaluate` (and of fit's validation)."""

    def on_test_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Called after each batch of `evaluate`; `logs` holds the running loss and metrics."""

    def on_predict_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Called before each batch of `predict`."""

    def on_predict_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Called after each batch of `predict`; `logs` is `{"outputs": [...]}`."""

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Called once when `fit` starts."""

    def on_train_end(self, logs: Logs | None = None) -> None:
        """Called once when `fit` ends normally; `logs` are the last epoch's."""

    def on_test_begin(self, logs: Logs | None = None) -> None:
        """Called when `evaluate` (or fit's validation) starts."""

    def on_test_end(self, logs: Logs | None = None) -> None:
        """Called when `evaluate` (or fit's validation) ends; `logs` are its results."""

    def on_predict_begin(self, logs: Logs | None = None) -> None:
        """Called when `predict` starts."""

    def on_predict_end(self, logs: Logs | None = None) -> None:
        """Called when `predict` ends."""


class History(Callback):
    """Records epoch logs: `history` maps each key to its list of per-epoch values, `epoch` lists
    the epoch indices. `fit` returns it and it is `model.history`."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[Any]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        # Re-pointed every epoch so model.history is this run's History even mid-fit.
        self.model.history = self
