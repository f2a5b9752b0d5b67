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
        self.params = params

    def set_model(self, model: Any) -> None:
        self._model = model

    @property
    def model(self) -> Any:
        return self._model

    # Legacy aliases: the default train-batch hooks forward to them, as in Keras.
    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        pass

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        pass

    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self.on_batch_end(batch, logs=logs)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        pass

    def on_test_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        pass

    def on_test_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        pass

    def on_predict_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        pass

    def on_predict_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        pass

    def on_train_begin(self, logs: Logs | None = None) -> None:
        pass

    def on_train_end(self, logs: Logs | None = None) -> None:
        pass

    def on_test_begin(self, logs: Logs | None = None) -> None:
        pass

    def on_test_end(self, logs: Logs | None = None) -> None:
        pass

    def on_predict_begin(self, logs: Logs | None = None) -> None:
        pass

    def on_predict_end(self, logs: Logs | None = None) -> None:
        pass


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
