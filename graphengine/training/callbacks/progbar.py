"""ProgbarLogger: Keras's progress output for fit, evaluate and predict, drawn by
graphengine.training.progress (a bar with every metric, wrapped to the terminal's width, or one
line per epoch)."""

from __future__ import annotations

import sys
from typing import Any

from graphengine.training.callbacks.base import Callback, Logs
from graphengine.training.progress import Progbar, resolve_verbose


class ProgbarLogger(Callback):
    """Prints progress to stdout. `params["verbose"]` 1: "Epoch i/N" (when N > 1), then a bar
    redrawn in place with the ETA, time per step and running logs, the epoch's logs (validation
    included) on its last frame; 2: the epoch's line once it ends; 0: nothing; "auto": 1 on a
    terminal or in a notebook, else 2. Validation inside `fit` is silent; `evaluate` and
    `predict` get their own bar (or line)."""

    def __init__(self) -> None:
        super().__init__()
        self.verbose: int = 1
        self.epochs: int = 1
        self.target: int | None = None
        self.seen = 0
        self.progbar: Progbar | None = None
        self._called_in_fit = False
        self.interval = 0.05  # seconds between redraws (Keras Progbar's default)

    def set_params(self, params: dict[str, Any]) -> None:
        super().set_params(params)
        self.verbose = resolve_verbose(params.get("verbose", 1))
        self.epochs = int(params.get("epochs") or 1)
        self.target = params.get("steps")

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._called_in_fit = True

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._reset()
        if self.verbose and self.epochs > 1:
            sys.stdout.write(f"Epoch {epoch + 1}/{self.epochs}\n")
            sys.stdout.flush()

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._update(batch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self._finalize(logs)

    def on_test_begin(self, logs: Logs | None = None) -> None:
        if not self._called_in_fit:
            self._reset()

    def on_test_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if not self._called_in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs: Logs | None = None) -> None:
        if not self._called_in_fit:
            self._finalize(logs)

    def on_predict_begin(self, logs: Logs | None = None) -> None:
        self._reset()

    def on_predict_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._update(batch, None)  # prediction outputs are not metrics

    def on_predict_end(self, logs: Logs | None = None) -> None:
        self._finalize(None)

    def _reset(self) -> Progbar:
        self.seen = 0
        self.progbar = Progbar(self.target, verbose=self.verbose, interval=self.interval)
        return self.progbar

    def _update(self, batch: int, logs: Logs | None) -> None:
        bar = self.progbar or self._reset()
        self.seen = batch + 1
        if self.verbose == 1:
            bar.update(self.seen, list((logs or {}).items()), finalize=False)

    def _finalize(self, logs: Logs | None) -> None:
        bar = self.progbar or self._reset()
        if self.target is None:
            self.target = bar.target = self.seen
        bar.update(self.target, list((logs or {}).items()), finalize=True)
