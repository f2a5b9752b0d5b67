"""The one line a user reads while the kernels compile: when Numba has been compiling for more than
DELAY seconds at a stretch, once per process, graphengine says what is compiling and that it is
cached for next time. `ge.config.set_compile_notice(False)` silences it.

It listens to Numba's compile events (numba.core.event): the outermost compile of a burst starts
a timer, its end cancels it, so a kernel loaded from the disk cache (no compile event) or a
short compile says nothing.
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from numba.core import event

DELAY = 1.0  # seconds of compiling before the notice

_lock = threading.Lock()
_enabled = True
_said = False
_depth = 0  # nested compile events open (a kernel compiles the kernels it calls inside its own)
_timer: threading.Timer | None = None
_stream: TextIO | None = None  # None: sys.stderr at the time of the notice


def set_enabled(enabled: bool) -> None:
    global _enabled
    with _lock:
        _enabled = enabled
        if not enabled and _timer is not None:
            _timer.cancel()


def enabled() -> bool:
    return _enabled


def _kernel_name(data: dict) -> str:
    dispatcher = data.get("dispatcher")
    func = getattr(dispatcher, "py_func", None)
    if func is None:
        return "a kernel"
    return f"{func.__module__}.{func.__qualname__}"


def _say(name: str) -> None:
    global _said
    with _lock:
        if _said or not _enabled or _depth == 0:
            return
        _said = True
    stream = _stream or sys.stderr
    print(
        f"graphengine: compiling the kernels this model runs ({name}, ...); "
        "once only: they are cached on disk for the next run "
        "(ge.config.set_compile_notice(False) silences this)",
        file=stream,
        flush=True,
    )


class _Listener(event.Listener):
    def on_start(self, ev: event.Event) -> None:
        global _depth, _timer
        with _lock:
            _depth += 1
            if _depth == 1 and _enabled and not _said:
                _timer = threading.Timer(DELAY, _say, args=(_kernel_name(ev.data),))
                _timer.daemon = True
                _timer.start()

    def on_end(self, ev: event.Event) -> None:
        global _depth, _timer
        with _lock:
            _depth = max(_depth - 1, 0)
            if _depth == 0 and _timer is not None:
                _timer.cancel()
                _timer = None


_LISTENER = _Listener()


def install() -> None:
    """Listens to Numba's compile events from now on; idempotent."""
    if _LISTENER not in event._registered.get("numba:compile", ()):
        event.register("numba:compile", _LISTENER)
