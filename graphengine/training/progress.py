"""Progress output in the layout of Keras 3's Progbar (`3/10 ━━━━━━━━────── 1s 5ms/step - loss:
0.1234 - ...`): redrawn in place on a terminal with the values wrapped onto further lines at the
terminal's width (never cut), a tqdm widget in a notebook, a frame of whole lines elsewhere; and
verbose=2's one line per epoch."""

from __future__ import annotations

import html
import math
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any, Protocol, Sequence, TextIO

import numpy as np

BAR_WIDTH = 20  # Keras's Progbar width


def is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def is_dynamic(stream: Any) -> bool:
    """Whether a bar can be redrawn in place: a terminal, or a notebook's output."""
    return is_terminal(stream) or "ipykernel" in sys.modules


def resolve_verbose(verbose: Any) -> int:
    """fit's, evaluate's and predict's `verbose` as 0 (silent), 1 (a bar) or 2 (one line per
    epoch); "auto" is 1 and True and False count as 1 and 0, as in Keras 3."""
    if isinstance(verbose, str) and verbose == "auto":
        return 1
    if not isinstance(verbose, (int, np.integer)) or not 0 <= verbose <= 2:
        raise ValueError(
            f"verbose must be 'auto', 0, 1 or 2, received {verbose=!r} "
            f"of type {type(verbose).__name__}"
        )
    return int(verbose)


def format_value(value: Any) -> str:
    """Keras's number format: 4 decimals, scientific at or below 1e-3 in magnitude (0 too)."""
    if isinstance(value, str):
        return value
    try:
        number = float(np.mean(value))
    except (TypeError, ValueError):
        return str(value)
    return f"{number:.4f}" if abs(number) > 1e-3 else f"{number:.4e}"


def format_step_time(seconds: float, unit: str = "step") -> str:
    """Keras's time per step: whole seconds (also for 0), else milliseconds or microseconds."""
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit}"
    return f"{seconds * 1e6:.0f}us/{unit}"


def format_eta(seconds: float) -> str:
    """Keras's remaining time, in whole seconds cut down: `1:02:03`, `2:03` or `3s`."""
    whole = int(seconds)
    if seconds > 3600:
        return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    if seconds > 60:
        return f"{whole // 60}:{whole % 60:02d}"
    return f"{whole}s"


def terminal_width() -> int:
    """The columns a line may use: the terminal's less one, so that a full line never makes the
    terminal wrap by itself (which would throw off the redraw)."""
    return max(shutil.get_terminal_size().columns - 1, 1)


@dataclass
class Frame:
    """What one drawing of the bar shows."""

    current: int
    target: int | None
    clock: str  # the ETA while running, the elapsed time when done
    step_time: str
    fields: list[str]  # "name: value"

    def count(self) -> str:
        if self.target:
            return f"{self.current:>{len(str(self.target))}}/{self.target}"
        return f"{self.current:>7}/Unknown"

    def bar(self, width: int, glyphs: str) -> str:
        done = min(int(width * self.current / self.target), width) if self.target else 0
        return glyphs[0] * done + glyphs[1] * (width - done)


def bar_glyphs(stream: Any) -> str:
    """Keras's heavy line for the done part, a light one for the rest; ASCII where the stream's
    encoding has neither."""
    try:
        "━─".encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return "=."
    return "━─"


def frame_lines(frame: Frame, width: int, glyphs: str = "━─") -> list[str]:
    """The lines of a frame: count, bar (narrowed to fit, at most Keras's 20), clock and step
    time, then ` - name: value` per field; a field that would pass `width` starts a new line,
    indented under the bar. A field is never cut: one longer than a line is left long."""
    count = frame.count()
    rest = f"{frame.clock} {frame.step_time}"
    head = f"{count} {rest}"
    if frame.target:
        room = min(BAR_WIDTH, width - len(head) - 1)
        if room > 0:
            head = f"{count} {frame.bar(room, glyphs)} {rest}"
    indent = " " * min(len(count) + 1, max(width // 4, 0))
    lines, line = [], head
    for field in frame.fields:
        if len(line) + 3 + len(field) > width:
            lines.append(line)
            line = f"{indent}- {field}"
        else:
            line += f" - {field}"
    return lines + [line]


def epoch_line(frame: Frame) -> str:
    """verbose=2's line, as Keras prints it: `10/10 - 0s - 3ms/step - loss: 0.1234 - ...`."""
    return " - ".join([frame.count(), frame.clock, frame.step_time, *frame.fields])


class Screen(Protocol):
    def draw(self, frame: Frame, final: bool) -> None: ...


class Terminal:
    """Redraws the frame in place: back to its first line, clear to the end of the screen, write
    the new lines (the ANSI cursor movements tqdm's nested bars use)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.glyphs, self.shown = stream, bar_glyphs(stream), 0

    def draw(self, frame: Frame, final: bool) -> None:
        text = ""
        if self.shown:
            text = "\r" + (f"\x1b[{self.shown - 1}A" if self.shown > 1 else "") + "\x1b[J"
        lines = frame_lines(frame, terminal_width(), self.glyphs)
        text += "\n".join(lines) + ("\n" if final else "")
        self.shown = 0 if final else len(lines)
        self.stream.write(text)
        self.stream.flush()


class Log:
    """A stream that cannot redraw (a file, a pipe): each frame as whole lines, as Keras's
    Progbar does where its display is not dynamic."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.glyphs = stream, bar_glyphs(stream)

    def draw(self, frame: Frame, final: bool) -> None:
        self.stream.write("\n".join(frame_lines(frame, terminal_width(), self.glyphs)) + "\n")
        self.stream.flush()


class OneLine:
    """A notebook without widgets: one unwrapped line rewritten after a carriage return; the
    notebook wraps it for display, so every value shows."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.glyphs, self.length = stream, bar_glyphs(stream), 0

    def draw(self, frame: Frame, final: bool) -> None:
        line = frame_lines(frame, sys.maxsize, self.glyphs)[0]
        pad = " " * max(self.length - len(line), 0)
        self.stream.write("\r" + line + pad + ("\n" if final else ""))
        self.stream.flush()
        self.length = 0 if final else len(line)


def widget_class() -> type | None:
    """tqdm.auto's notebook bar (None outside a notebook with ipywidgets), its text right of the
    bar set as plain HTML: tqdm makes that text's spaces non-breaking, so a long line of metrics
    would run out of sight instead of wrapping."""
    from tqdm import std

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tqdm's notice that notebook mode was chosen
        from tqdm.autonotebook import tqdm as chosen  # what tqdm.auto builds on
    if chosen is std.tqdm:
        return None

    class Widget(chosen):  # type: ignore[misc, valid-type]
        text = ""

        def display(self, *args: Any, **kwargs: Any) -> Any:
            shown = super().display(*args, **kwargs)
            container = getattr(self, "container", None)
            if container is not None:
                container.children[-1].value = html.escape(self.text)
            return shown

    return Widget


class NotebookWidget:
    """A tqdm widget: the count and bar, then the clock, step time and every field beside it."""

    def __init__(self, cls: type, target: int | None) -> None:
        self.bar = cls(
            total=target,
            bar_format="{n_fmt}/{total_fmt} {bar}" if target else "{n_fmt}/Unknown {bar}",
            dynamic_ncols=True,  # the widget as wide as the output, its text free to wrap
            leave=True,
            mininterval=0,
        )

    def draw(self, frame: Frame, final: bool) -> None:
        self.bar.text = " - ".join([f"{frame.clock} {frame.step_time}", *frame.fields])
        self.bar.n = frame.current
        self.bar.refresh()
        if final:
            self.bar.close()


def open_screen(target: int | None) -> Screen:
    """Where verbose=1 draws, chosen on the first frame (so a captured stdout is honoured)."""
    stream = sys.stdout
    if is_terminal(stream):
        return Terminal(stream)
    if "ipykernel" in sys.modules:
        cls = widget_class()
        return NotebookWidget(cls, target) if cls is not None else OneLine(stream)
    return Log(stream)


class Progbar:
    """Keras's `Progbar(target, width, verbose, interval, unit_name)` as its ProgbarLogger uses
    it: `update(current, values, finalize)` shows each value as given. verbose=1 draws a frame at
    most every `interval` seconds (always the last one); verbose=2 prints one line when
    finalized; 0 nothing."""

    def __init__(
        self, target: int | None, verbose: int = 1, interval: float = 0.05, unit_name: str = "step"
    ) -> None:
        self.target, self.verbose, self.interval = target, verbose, interval
        self.unit_name = unit_name
        self._start = time.perf_counter()
        self._last_update = -math.inf
        self._after_first_step: float | None = None
        self._screen: Screen | None = None

    def update(
        self, current: int, values: Sequence[tuple[str, Any]] = (), finalize: bool | None = None
    ) -> None:
        """Shows step `current` of `target` with `values` ((name, value) pairs)."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        now = time.perf_counter()
        duration = self._step_duration(current, now)
        step_time = format_step_time(duration, self.unit_name)
        fields = [f"{name}: {format_value(value)}" for name, value in values]
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            if self.target and not finalize:
                clock = format_eta(duration * (self.target - current))
            else:
                clock = f"{now - self._start:.0f}s"
            frame = Frame(current, self.target, clock, step_time, fields)
            if self._screen is None:
                self._screen = open_screen(self.target)
            self._screen.draw(frame, bool(finalize))
        elif self.verbose == 2 and finalize and self.target:
            frame = Frame(current, self.target, f"{now - self._start:.0f}s", step_time, fields)
            sys.stdout.write(epoch_line(frame) + "\n")
            sys.stdout.flush()
        self._last_update = now

    def _step_duration(self, current: int, now: float) -> float:
        """Keras's estimate: the first step (compilation, warm-up) is left out once there are
        more; 0 before any step."""
        if not current:
            return 0.0
        if self._after_first_step is not None and current > 1:
            duration = (now - self._after_first_step) / (current - 1)
        else:
            duration = (now - self._start) / current
        if current == 1:
            self._after_first_step = now
        return duration
