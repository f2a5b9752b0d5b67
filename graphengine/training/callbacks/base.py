"""The Callback hooks, the CallbackList that fit / evaluate / predict drive, and History."""

from __future__ import annotations

from typing import Any

import numpy as np


Logs = dict[str, Any]


def _pythonify_logs(logs: Logs | None) -> Logs:
    """A new dict, keys sorted and nested dicts flattened, values made Python floats where they
    convert (as Keras does, so every callback sees plain numbers in the same key order)."""
    out: Logs = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            out.update(_pythonify_logs(value))
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


def _flatten_callbacks(callbacks: Any) -> list[Callback]:
    flat: list[Callback] = []
    stack = [callbacks]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        elif isinstance(item, Callback):
            flat.append(item)
        else:
            raise TypeError(
                f"callbacks[{len(flat)}] is a {type(item).__name__}, "
                "expected a graphengine Callback instance"
            )
    return flat


class CallbackList(Callback):
    """Dispatches every hook to its callbacks in order, each hook receiving one pythonified copy of
    the logs (so a callback that adds a key, e.g. `learning_rate`, shows it to those after it).
    `add_history` / `add_progbar` append a History / ProgbarLogger unless one is already there."""

    def __init__(
        self,
        callbacks: Any = None,
        add_history: bool = False,
        add_progbar: bool = False,
        model: Any = None,
        **params: Any,
    ) -> None:
        from graphengine.training.callbacks.progbar import ProgbarLogger  # it builds on Callback

        super().__init__()
        self.callbacks: list[Callback] = _flatten_callbacks(callbacks) if callbacks else []
        self._open_blocks = 0
        self._history = next((c for c in self.callbacks if isinstance(c, History)), None)
        self._progbar = next((c for c in self.callbacks if isinstance(c, ProgbarLogger)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)
        self.set_model(model)
        self.set_params(params)

    def append(self, callback: Callback) -> None:
        self.callbacks.extend(_flatten_callbacks([callback]))

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params
        if params:
            for callback in self.callbacks:
                callback.set_params(params)

    def set_model(self, model: Any) -> None:
        if model is None:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for callback in self.callbacks:
            callback.set_model(model)

    def _call_all(self, hook: str, *args: Any, logs: Logs | None = None) -> None:
        logs = _pythonify_logs(logs)
        for callback in self.callbacks:
            getattr(callback, hook)(*args, logs)

    def _begin(self, hook: str, logs: Logs | None) -> None:
        self._open_blocks += 1
        self._call_all(hook, logs=logs)

    def _end(self, hook: str, logs: Logs | None) -> None:
        self._open_blocks -= 1
        if self._open_blocks < 0:
            self._open_blocks = 0
            raise ValueError(f"CallbackList.{hook} called without its matching *_begin")
        self._call_all(hook, logs=logs)

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        self._call_all("on_batch_begin", batch, logs=logs)

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._call_all("on_batch_end", batch, logs=logs)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._call_all("on_epoch_begin", epoch, logs=logs)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self._call_all("on_epoch_end", epoch, logs=logs)

    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        self._call_all("on_train_batch_begin", batch, logs=logs)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._call_all("on_train_batch_end", batch, logs=logs)

    def on_test_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        self._call_all("on_test_batch_begin", batch, logs=logs)

    def on_test_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._call_all("on_test_batch_end", batch, logs=logs)

    def on_predict_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        self._call_all("on_predict_batch_begin", batch, logs=logs)

    def on_predict_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._call_all("on_predict_batch_end", batch, logs=logs)

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._begin("on_train_begin", logs)

    def on_train_end(self, logs: Logs | None = None) -> None:
        self._end("on_train_end", logs)

    def on_test_begin(self, logs: Logs | None = None) -> None:
        self._begin("on_test_begin", logs)

    def on_test_end(self, logs: Logs | None = None) -> None:
        self._end("on_test_end", logs)

    def on_predict_begin(self, logs: Logs | None = None) -> None:
        self._begin("on_predict_begin", logs)

    def on_predict_end(self, logs: Logs | None = None) -> None:
        self._end("on_predict_end", logs)


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
