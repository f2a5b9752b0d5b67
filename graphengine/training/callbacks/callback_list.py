"""CallbackList: the one callback the fit, evaluate and predict loops drive, calling every
user callback (plus the History and progress bar it adds) in order."""

from __future__ import annotations

from typing import Any

from graphengine.training.callbacks.base import Callback, History, Logs, pythonify_logs
from graphengine.training.callbacks.progbar import ProgbarLogger


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
        """Adds a callback (or a list of them) after the others."""
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
        logs = pythonify_logs(logs)
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
