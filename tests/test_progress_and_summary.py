"""What a Keras user reads while training and inspecting: the progress bar at 80 and 120 columns
(every metric whole, replayed through a small terminal emulator), verbose=2's lines, the notebook
paths, and model.summary() within 80 and 140 columns with long names broken only at their
joints."""

from __future__ import annotations

import io
import re
import sys
import types

import numpy as np
import pytest

import graphengine as ge
import graphengine.training.progress as progress
from graphengine.training.progress import Frame, Progbar, format_value, frame_lines

L = ge.layers


# -- a terminal ------------------------------------------------------------------------------------
class Tty(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


CONTROL = re.compile(r"\x1b\[(\d*)([AJ])|(\r)|(\n)|([^\x1b\r\n]+)")


def render(text: str, columns: int) -> list[str]:
    """The screen a terminal `columns` wide shows after `text` (carriage return, newline, cursor
    up, clear to the end of the screen); writing past the last column fails the test, since a
    terminal would wrap that line on its own and the redraw would go wrong."""
    screen, row, col = [""], 0, 0
    for m in CONTROL.finditer(text):
        count, code, cr, nl, chars = m.groups()
        if code == "A":
            row = max(row - int(count or 1), 0)
        elif code == "J":
            screen[row] = screen[row][:col]
            del screen[row + 1 :]
        elif cr:
            col = 0
        elif nl:
            row, col = row + 1, 0
            screen += [""] * (row + 1 - len(screen))
        else:
            line = screen[row].ljust(col)
            screen[row] = line[:col] + chars + line[col + len(chars) :]
            col += len(chars)
            assert col <= columns, f"{screen[row]!r} passes {columns} columns"
    return screen


def classifier() -> ge.Model:
    model = ge.Sequential([ge.Input((6,)), L.Dense(8, activation="relu"), L.Dense(1, "sigmoid")])
    metrics = ["accuracy", "mae", ge.metrics.AUC(), ge.metrics.Precision()]
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=metrics)
    return model


def data() -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).normal(size=(40, 6)).astype("float32")
    return x, (x[:, :1] > 0).astype("float32")


def fields_of(logs: dict, index: int | None = None) -> list[str]:
    """`name: value` as the bar prints each log (of epoch `index` for a History)."""
    return [f"{k}: {format_value(v if index is None else v[index])}" for k, v in logs.items()]


@pytest.mark.parametrize("columns", [80, 120])
def test_fit_shows_every_metric_whole_on_a_terminal(columns, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setattr(sys, "stdout", Tty())
    x, y = data()
    model = classifier()
    history = model.fit(x, y, epochs=3, batch_size=8, validation_split=0.25, verbose=1)
    scores = model.evaluate(x, y, batch_size=8, verbose=1, return_dict=True)
    model.predict(x, batch_size=8, verbose=1)
    screen = render(sys.stdout.getvalue(), columns)
    evaluate = next(i for i, line in enumerate(screen) if line.startswith("5/5 "))
    starts = [screen.index(f"Epoch {i}/3") for i in (1, 2, 3)] + [evaluate]
    assert len(history.history) == 10  # loss and 4 metrics, with and without val_
    for i in range(3):
        epoch = screen[starts[i] + 1 : starts[i + 1]]
        # the last frame drawn over the first batch's: one bar, its fields on further lines
        assert re.match(r"4/4 ━{20} \d+s \d+[mu]?s/step - ", epoch[0])
        assert all(line.startswith("    - ") for line in epoch[1:]) and len(epoch) >= 2
        for field in fields_of(history.history, i):  # never cut, so each within one line
            assert any(field in line for line in epoch), (field, epoch)
    scored = screen[evaluate:-2]
    assert all(any(f in line for line in scored) for f in fields_of(scores))
    assert re.fullmatch(r"5/5 ━{20} \d+s \d+[mu]?s/step", screen[-2]) and screen[-1] == ""


def test_redraw_in_place_clears_longer_frames(monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    monkeypatch.setattr(sys, "stdout", Tty())
    bar = Progbar(target=2, interval=0.0)
    bar.update(1, [(f"metric_{i}", 0.5) for i in range(8)])
    assert len(render(sys.stdout.getvalue(), 60)) == 5
    bar.update(2, [("loss", 0.25)], finalize=True)
    first, rest = render(sys.stdout.getvalue(), 60)[0], render(sys.stdout.getvalue(), 60)[1:]
    assert re.fullmatch(r"2/2 ━{20} 0s \d+[mu]?s/step - loss: 0\.2500", first) and rest == [""]


def test_verbose_1_into_a_log_prints_whole_lines(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    x, y = data()
    history = classifier().fit(x, y, epochs=3, batch_size=8, validation_split=0.25, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert "\r" not in "".join(lines) and "\x1b" not in "".join(lines)
    assert max(len(line) for line in lines) <= 79
    last = lines[lines.index("Epoch 3/3") + 1 :]
    final = last[max(i for i, line in enumerate(last) if line.startswith("4/4 ")) :]
    assert all(any(f in line for line in final) for f in fields_of(history.history, 2))


def test_verbose_2_prints_keras_epoch_lines(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # a log line is not wrapped
    x, y = data()
    model = classifier()
    history = model.fit(x, y, epochs=3, batch_size=8, validation_split=0.25, verbose=2)
    scores = model.evaluate(x, y, batch_size=8, verbose=2, return_dict=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines[::2][:3] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"] and len(lines) == 7
    for i, line in enumerate(lines[1:6:2]):
        head = r"4/4 - \d+s - \d+[mu]?s/step - "
        assert re.fullmatch(head + re.escape(" - ".join(fields_of(history.history, i))), line)
    assert lines[6].startswith("5/5 - ") and all(f" - {f}" in lines[6] for f in fields_of(scores))


def test_verbose_auto_is_a_bar_as_in_keras(monkeypatch):
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # a pipe or a file too, as Keras 3
    assert progress.resolve_verbose("auto") == 1
    assert [progress.resolve_verbose(v) for v in (0, 1, 2, True, np.int64(2))] == [0, 1, 2, 1, 2]


@pytest.mark.parametrize("verbose", ["loud", 3, -1, 1.0, None])
def test_bad_verbose_raises(verbose):
    with pytest.raises(ValueError, match=r"verbose must be 'auto', 0, 1 or 2, received verbose="):
        progress.resolve_verbose(verbose)


def test_fit_rejects_bad_verbose():
    x, y = data()
    with pytest.raises(
        ValueError, match=r"verbose must be 'auto', 0, 1 or 2, received verbose='loud'"
    ):
        classifier().fit(x, y, epochs=1, verbose="loud")


# -- the layout ------------------------------------------------------------------------------------
def test_frame_lines_wrap_fields_and_never_cut_one():
    fields = ["loss: 0.1234", "a_metric_named_at_great_length_beyond_any_line: 0.5000", "x: 1"]
    lines = frame_lines(Frame(3, 10, "1s", "5ms/step", fields), width=40)
    assert lines == [
        " 3/10 ━━━━━━────────────── 1s 5ms/step",
        "      - loss: 0.1234",
        "      - a_metric_named_at_great_length_beyond_any_line: 0.5000",
        "      - x: 1",
    ]
    narrow = frame_lines(Frame(3, 10, "1s", "5ms/step", ["loss: 0.1234"]), width=24)
    assert narrow[0] == " 3/10 ━───── 1s 5ms/step"  # the bar narrows to fit
    assert frame_lines(Frame(3, 10, "1s", "5ms/step", []), width=10) == [" 3/10 1s 5ms/step"]


def test_ascii_bar_where_the_stream_cannot_encode_it():
    stream = types.SimpleNamespace(encoding="ascii")
    assert progress.bar_glyphs(stream) == "=."
    assert Frame(1, 4, "", "", []).bar(8, "=.") == "==......"


@pytest.mark.parametrize(
    "value, text",
    [(0.12345, "0.1235"), (-2.5, "-2.5000"), (2e-5, "2.0000e-05"), (0, "0.0000e+00"),
     (np.float32(1.5), "1.5000"), (float("nan"), "nan"), ("n/a", "n/a")],
)  # fmt: skip
def test_values_print_as_keras_prints_them(value, text):
    assert format_value(value) == text


@pytest.mark.parametrize("seconds, text", [(3.7, "3s"), (75.2, "1:15"), (3725.9, "1:02:05")])
def test_eta_as_keras(seconds, text):
    assert progress.format_eta(seconds) == text


# -- notebooks -------------------------------------------------------------------------------------
def fields(n: int) -> list[tuple[str, float]]:
    return [(f"val_metric_number_{i}", i / 10) for i in range(n)]


def test_notebook_without_widgets_rewrites_one_full_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setattr(progress, "widget_class", lambda: None)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.setenv("COLUMNS", "40")
    bar = Progbar(target=2, interval=0.0)
    bar.update(1, fields(8))
    bar.update(2, fields(2), finalize=True)
    first, last = sys.stdout.getvalue().split("\r")[1:]
    assert "\n" not in first and all(f"val_metric_number_{i}: " in first for i in range(8))
    assert last.endswith("\n") and len(last.rstrip("\n")) == len(first)  # padded over it
    assert "val_metric_number_1: 0.1000" in last and "number_7" not in last


class FakeWidget:
    """Stands for tqdm.auto's notebook bar (ipywidgets is not a test dependency)."""

    made: list[FakeWidget] = []

    def __init__(self, **kwargs) -> None:
        self.kwargs, self.n, self.text, self.closed, self.refreshed = kwargs, 0, "", False, 0
        FakeWidget.made.append(self)

    def refresh(self) -> None:
        self.refreshed += 1

    def close(self) -> None:
        self.closed = True


def test_notebook_widget_gets_every_field(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setattr(progress, "widget_class", lambda: FakeWidget)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    FakeWidget.made.clear()
    bar = Progbar(target=3, interval=0.0)
    bar.update(1, fields(8))
    bar.update(3, fields(8), finalize=True)
    (widget,) = FakeWidget.made
    assert widget.kwargs["total"] == 3 and widget.kwargs["dynamic_ncols"]
    assert widget.kwargs["bar_format"] == "{n_fmt}/{total_fmt} {bar}"
    assert widget.n == 3 and widget.refreshed == 2 and widget.closed
    shown = re.escape(" - ".join(fields_of(dict(fields(8)))))
    assert re.fullmatch(r"0s \d+[mu]?s/step - " + shown, widget.text)
    assert sys.stdout.getvalue() == ""


def test_no_widget_outside_a_notebook():
    assert "ipykernel" in sys.modules or progress.widget_class() is None


# -- summary ---------------------------------------------------------------------------------------
def long_names() -> ge.Model:
    inner = ge.Sequential(
        [
            ge.Input((16,)),
            L.Dense(32, activation="relu", name="encoder_projection_dense_with_a_long_name"),
            L.Dense(16, name="encoder_output_dense"),
        ],
        name="feature_extractor_block_with_a_long_name",
    )
    x = ge.Input(shape=(16,), name="measurements_input")
    merged = L.Add(name="residual_merge")([inner(x), L.Dense(16, name="skip_projection")(x)])
    joined = L.Concatenate(name="concatenate_features_and_residual")([merged, x])
    return ge.Model(x, L.Dense(3, name="classifier_head_output")(joined), name="long_names")


# Each row's first and last cells, in full, as the table must show them (broken only at spaces
# and at the joints of a name: after _ - . / or before [).
ROWS = [
    ("measurements_input (InputLayer)", "-"),
    ("feature_extractor_block_with_a_long_name (Sequential)", "measurements_input[0][0]"),
    ("   └ encoder_projection_dense_with_a_long_name (Dense)", "-"),
    ("   └ encoder_output_dense (Dense)", "-"),
    ("skip_projection (Dense)", "measurements_input[0][0]"),
    (
        "residual_merge (Add)",
        "feature_extractor_block_with_a_long_name[0][0], skip_projection[0][0]",
    ),
    (
        "concatenate_features_and_residual (Concatenate)",
        "residual_merge[0][0], measurements_input[0][0]",
    ),
    ("classifier_head_output (Dense)", "concatenate_features_and_residual[0][0]"),
]


def table_rows(text: str) -> list[list[list[str]]]:
    """Each body row of a summary table as its cells, each cell as its lines (unpadded)."""
    rows, cells = [], None
    for line in text.splitlines():
        if line.startswith("│"):
            parts = line[1:-1].split("│")
            cells = cells or [[] for _ in parts]
            for cell, part in zip(cells, parts):
                cell.append(part[1:-1].rstrip())
        elif cells is not None:
            rows.append([[ln for ln in cell if ln.strip()] for cell in cells])
            cells = None
    return rows


def assert_broken_at_joints(lines: list[str], text: str) -> None:
    """The lines spell `text` with nothing cut or dropped, each break at a space or a joint."""
    pos = 0
    for k, line in enumerate(lines):
        piece = line.strip() if k else line.rstrip()
        start = text.index(piece, pos)
        assert text[pos:start].strip() == "", (lines, text)
        if k:
            joint = text[start - 1] in " _-./" or text[start - 1 : start + 1] == "e["
            assert joint or re.match(r"\w\[", text[start - 1 : start + 1]), (lines, text)
        pos = start + len(piece)
    assert pos == len(text), (lines, text)


def summary_of(model: ge.Model, **kwargs) -> str:
    out: list[str] = []
    model.summary(print_fn=out.append, **kwargs)
    assert len(out) == 1  # print_fn gets the whole text, as Keras's does
    return out[0]


@pytest.mark.parametrize("columns", [80, 140])
def test_summary_fits_the_terminal_and_wraps_names_at_their_joints(columns, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(columns))
    text = summary_of(long_names(), expand_nested=True)
    lines = text.splitlines()
    table = lines[1:-3]
    assert max(len(line) for line in lines) <= columns - 4  # Keras leaves 4 columns
    assert len({len(line) for line in table}) == 1
    rows = table_rows(text)
    assert len(rows) == len(ROWS)
    for cells, (name, links) in zip(rows, ROWS):
        assert_broken_at_joints(cells[0], name)
        assert_broken_at_joints(cells[-1], links)
    if columns == 80:  # long names wrap onto further lines, nested ones under their mark
        assert [len(cells[0]) for cells in rows][1:3] == [3, 3]
        nested = ["   └ encoder_projection_", "     dense_with_a_long_", "     name (Dense)"]
        assert rows[2][0] == nested
    else:  # the table grows past Keras's 108 to the terminal's width, and names stop wrapping
        assert len(table[0]) == 136 and all(len(cells[0]) == 1 for cells in rows)
        assert [len(cells[-1]) for cells in rows] == [1, 1, 1, 1, 1, 2, 1, 1]


def test_summary_keeps_keras_width_when_nothing_needs_more(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    model = ge.Sequential([ge.Input((4,)), L.Dense(2, name="d")], name="small")
    lines = summary_of(model).splitlines()
    assert {len(line) for line in lines[1:-3]} == {88}  # Keras's Sequential default
    monkeypatch.setenv("COLUMNS", "60")
    assert {len(line) for line in summary_of(model).splitlines()[1:-3]} == {56}


def test_summary_cuts_an_unbreakable_word_with_an_ellipsis_as_keras():
    model = ge.Sequential([ge.Input((4,)), L.Dense(2, name="d" * 70)], name="one_word")
    text = summary_of(model, line_length=60)
    assert all(len(line) <= 60 for line in text.splitlines())
    assert re.search(r"│ d+… │", text)


def test_summary_positions_and_trainable_as_keras():
    model = ge.Sequential([ge.Input((4,)), L.Dense(3, name="d1"), L.Dense(2, name="d2")])

    def borders(**kwargs) -> list[int]:
        header = summary_of(model, line_length=100, **kwargs).splitlines()[2]
        return [i for i, c in enumerate(header) if c == "┃"]

    # Keras's [0.45, 0.8, 1.0] of the line, fitted with the borders and padding into 100
    assert borders() == [0, 44, 78, 99]
    assert borders(positions=[0.6, 0.8, 1.0]) == [0, 57, 78, 99]
    assert borders(positions=[60, 80, 100]) == [0, 57, 78, 99]  # absolute positions
    # Keras adds the Trainable column to the positions given, scaling theirs by 0.9
    assert borders(positions=[0.6, 0.8, 1.0], show_trainable=True) == [0, 51, 69, 87, 99]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"line_length": -1}, ValueError, r"summary: line_length=-1 is too narrow for the columns"),
        ({"line_length": 20}, ValueError, r"line_length=20 is too narrow .*the least is 39"),
        ({"line_length": "wide"}, TypeError, r"line_length must be an int or None, received "),
        ({"line_length": 80.0}, TypeError, r"received line_length=80\.0 of type float"),
        ({"positions": [0.5, 1.0]}, ValueError, r"positions must be 4 increasing positive"),
        ({"positions": [0.5, 0.3, 0.8, 1.0]}, ValueError, r"received positions=\[0\.5, 0\.3"),
        ({"positions": [0.3, 0.5, 0.8, 1.0, 1.2]}, ValueError, r"positions must be 4 "),
        ({"positions": ["a", 0.5, 0.8, 1.0]}, TypeError, r"positions must be 4 .*received "),
        ({"positions": 0.5}, TypeError, r"received positions=0\.5"),
    ],
)
def test_summary_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        summary_of(long_names(), **kwargs)
