"""ProgbarLogger: a tqdm bar per epoch (verbose=1) or one line per epoch (verbose=2)."""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
from tqdm import tqdm

from graphengine.training.callbacks.base import Callback, Logs


def _format_value(value: Any) -> str:
    if isinstance(value, (int, float, np.number)):
        return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"
    return str(value)


def _format_step_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


class _Bar(tqdm):
    """tqdm with a `{metrics}` field, so a line reads like Keras: `00:01 - 3ms/step - loss: ...`."""

    metrics_text = ""

    @property
    def format_dict(self) -> dict[str, Any]:
        fields = super().format_dict
        fields["metrics"] = self.metrics_text
        return fields


class ProgbarLogger(Callback):
    """Prints progress to stdout. `params["verbose"]` 1: one tqdm bar per epoch ("Epoch i/N",
    steps, time per step, running loss and metrics; validation metrics join at epoch end);
    2: one line per epoch; 0: nothing. Validation inside `fit` is silent; `evaluate` and `predict`
    get their own bar (or line)."""

    def __init__(self) -> None:
        super().__init__()
        self.verbose: int = 1
        self.epochs: int = 1
        self.target: int | None = None
        self.seen = 0
        self.progbar: _Bar | None = None
        self._desc = ""
        self._start = 0.0
        self._called_in_fit = False
        self.interval = 0.05  # seconds between bar redraws (Keras Progbar's default)

    def set_params(self, params: dict[str, Any]) -> None:
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else int(verbose)
        self.epochs = int(params.get("epochs") or 1)
        self.target = params.get("steps")

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._called_in_fit = True

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._reset(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._update(batch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self._finalize(logs)

    def on_test_begin(self, logs: Logs | None = None) -> None:
        if not self._called_in_fit:
            self._reset("")

    def on_test_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if not self._called_in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs: Logs | None = None) -> None:
        if not self._called_in_fit:
            self._finalize(logs)

    def on_predict_begin(self, logs: Logs | None = None) -> None:
        self._reset("")

    def on_predict_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._update(batch, None)  # prediction outputs are not metrics

    def on_predict_end(self, logs: Logs | None = None) -> None:
        self._finalize(None)

    def _reset(self, desc: str) -> None:
        self._close_bar()
        self.seen, self._desc, self._start = 0, desc, time.perf_counter()

    def _metrics_text(self, logs: Logs | None) -> str:
        per_step = (time.perf_counter() - self._start) / max(self.seen, 1)
        parts = [_format_step_time(per_step)]
        parts += [f"{key}: {_format_value(value)}" for key, value in (logs or {}).items()]
        return " - " + " - ".join(parts)

    def _open_bar(self) -> _Bar:
        count = "{n_fmt}/{total_fmt} [{bar:30}]" if self.target else "{n_fmt}/Unknown"
        desc = f"{self._desc} " if self._desc else ""
        return _Bar(
            total=self.target or None,
            file=sys.stdout,
            leave=True,
            unit="step",
            mininterval=self.interval,
            bar_format=desc + count + " {elapsed}{metrics}",
        )

    def _update(self, batch: int, logs: Logs | None) -> None:
        self.seen = batch + 1
        if self.verbose != 1:
            return
        if self.progbar is None:
            self.progbar = self._open_bar()
        self.progbar.metrics_text = self._metrics_text(logs)
        self.progbar.update(self.seen - self.progbar.n)

    def _finalize(self, logs: Logs | None) -> None:
        if self.target is None:
            self.target = self.seen
        self.seen = self.target
        if self.verbose == 1:
            if self.progbar is None:
                self.progbar = self._open_bar()
            self.progbar.metrics_text = self._metrics_text(logs)
            self.progbar.update(self.seen - self.progbar.n)
            self._close_bar()
        elif self.verbose == 2:
            head = f"{self._desc} - " if self._desc else ""
            elapsed = time.perf_counter() - self._start
            print(f"{head}{self.seen}/{self.target} - {elapsed:.0f}s{self._metrics_text(logs)}")

    def _close_bar(self) -> None:
        if self.progbar is not None:
            self.progbar.close()
            self.progbar = None


# Names whose direction `mode="auto"` infers (after a "val_" prefix is removed); Keras reads the
# direction off the compiled metric objects, which for these names gives the same answer.
