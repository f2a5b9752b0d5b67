"""LambdaCallback: a callback made of plain functions, one per hook."""

from __future__ import annotations

from typing import Any, Callable

from graphengine import common
from graphengine.training.callbacks.base import Callback

HOOKS = frozenset(name for name in dir(Callback) if name.startswith("on_"))


class LambdaCallback(Callback):
    """Calls the functions given for the hooks named, with the hooks' arguments: `epoch, logs`
    for the epoch hooks, `batch, logs` for the batch hooks, `logs` for the begin / end hooks.
    Any other hook (`on_test_begin=`, `on_predict_batch_end=`, the legacy `on_batch_end=`, ...)
    goes by keyword, as in Keras."""

    def __init__(
        self,
        on_epoch_begin: Callable[..., Any] | None = None,
        on_epoch_end: Callable[..., Any] | None = None,
        on_train_begin: Callable[..., Any] | None = None,
        on_train_end: Callable[..., Any] | None = None,
        on_train_batch_begin: Callable[..., Any] | None = None,
        on_train_batch_end: Callable[..., Any] | None = None,
        **kwargs: Callable[..., Any] | None,
    ) -> None:
        super().__init__()
        # Keras takes any keyword as an attribute; a misspelt hook would then never run.
        common.check_kwargs("LambdaCallback()", kwargs, HOOKS)
        hooks = dict(
            kwargs,
            on_epoch_begin=on_epoch_begin,
            on_epoch_end=on_epoch_end,
            on_train_begin=on_train_begin,
            on_train_end=on_train_end,
            on_train_batch_begin=on_train_batch_begin,
            on_train_batch_end=on_train_batch_end,
        )
        for name, fn in hooks.items():
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(
                    f"LambdaCallback(): {name} must be a function, received {name}={fn!r}"
                )
            setattr(self, name, fn)
