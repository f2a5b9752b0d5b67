"""`model.summary()`: Keras 3's table of layers, output shapes, parameter counts, the layers each
one is connected to (for models that are not a plain chain) and a trainable flag; then the
totals, optimizer variables included as Keras counts them."""

from __future__ import annotations

import re
import shutil
from typing import Any, Callable, Sequence

import numpy as np

from graphengine.graph.graph import producer, site_inputs
from graphengine.graph.node import LayerCall, Node
from graphengine.graph.tensor import format_shape

_NBSP = "\u00a0"  # textwrap never breaks here


def human_bytes(n: float) -> str:
    """Keras's readable size: 1024-based, two decimals."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024:
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} PB"


def count_weights(weights: Sequence[Any]) -> tuple[int, int]:
    """(number of parameters, bytes) of distinct weights."""
    unique = {id(w): w for w in weights}.values()
    sizes = [(int(np.prod(w.shape)), np.dtype(w.dtype).itemsize) for w in unique]
    return sum(n for n, _ in sizes), sum(n * b for n, b in sizes)


def layer_kind(layer: Any) -> str:
    """The type shown for a layer: Keras calls a functional `Model` "Functional"."""
    name = type(layer).__name__
    return "Functional" if name == "Model" else name


def op_kind(node: Node) -> str:
    """The type shown for a bare op: its name in Keras's class style (`matmul` -> `Matmul`)."""
    return "".join(part.capitalize() for part in node.op.name.split("_"))


def calls_in(model: Any) -> dict[int, list[LayerCall]]:
    """The calls of each layer (by id) among the model's own call sites."""
    calls: dict[int, list[LayerCall]] = {}
    for site in model._sites:
        if isinstance(site, LayerCall):
            calls.setdefault(id(site.layer), []).append(site)
    return calls


def output_shape_text(calls: list[LayerCall]) -> str:
    """Keras shows the shapes of the layer's last call; a list for several outputs."""
    if not calls:
        return "?"
    shapes = [format_shape(t.shape) for t in calls[-1].outputs]
    return shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"


def connections(calls: list[Any]) -> str:
    """Keras's `layer[node][tensor]` for every input of every call of a layer (or op)."""
    links = []
    for call in calls:
        for t in site_inputs(call):
            src = producer(t)
            if isinstance(src, LayerCall):
                links.append(f"{src.layer.name}[{src.index}][{src.outputs.index(t)}]")
            elif src is not None:
                links.append(f"{src.name}[0][{src.outputs.index(t)}]")
    return ", ".join(links) or "-"


def is_sequential_like(model: Any) -> bool:
    """A Sequential, or a functional chain with no merge, branch or shared layer: Keras then
    leaves out the "Connected to" column."""
    if hasattr(model, "_stack"):
        return True
    graph = model.graph
    layers = [s.layer for s in model._sites if isinstance(s, LayerCall)]
    return (
        all(len(site_inputs(s)) <= 1 for s in model._sites)
        and all(graph.out_degree(n) <= 1 and graph.in_degree(n) <= 1 for n in graph)
        and len({id(layer) for layer in layers}) == len(layers)
        and len(model.inputs) == 1
    )


def _rows(
    model: Any, with_links: bool, show_trainable: bool, expand_nested: bool, level: int = 0
) -> list[list[str]]:
    by_layer = calls_in(model) if model.built else {}
    rows = []
    for layer in _with_ops(model):
        if isinstance(layer, Node):  # an op applied outside any layer, as Keras lists it
            row = [f"{layer.name} ({op_kind(layer)})", output_shape_text([layer]), "0"]
            rows.append(
                row
                + (["-" if level else connections([layer])] if with_links else [])
                + (["-"] if show_trainable else [])
            )
            continue
        calls = by_layer.get(id(layer), [])
        prefix = _NBSP * 3 * level + "└" + _NBSP if level else ""
        row = [
            f"{prefix}{layer.name} ({layer_kind(layer)})",
            output_shape_text(calls),
            f"{count_weights(layer.weights)[0]:,}" if layer.built else "0 (unbuilt)",
        ]
        if with_links:
            row.append(connections(calls) if level == 0 else "-")
        if show_trainable:
            row.append(("Y" if layer.trainable else "N") if layer.weights else "-")
        rows.append(row)
        if expand_nested and hasattr(layer, "_sites"):
            rows.extend(_rows(layer, with_links, show_trainable, expand_nested, level + 1))
    return rows


def _with_ops(model: Any) -> list[Any]:
    """`model.layers` in Keras's order, with each bare op site placed after the last of the
    layers (or ops) it reads from."""
    layers = list(model.layers)
    if not model.built:
        return layers
    ops = [s for s in model._sites if isinstance(s, Node)]
    if not ops:
        return layers
    rank: dict[int, float] = {id(layer): float(i) for i, layer in enumerate(layers)}
    for op in ops:  # sites are in creation order, so an op's producers are ranked already
        srcs = [producer(t) for t in site_inputs(op)]
        keys = [id(s.layer) if isinstance(s, LayerCall) else id(s) for s in srcs if s]
        rank[id(op)] = max([rank.get(k, -1.0) for k in keys] + [-1.0]) + 0.001
    return sorted(layers + ops, key=lambda x: rank[id(x)])


def _take(widths: list[int], keep: list[int]) -> bool:
    """Narrows the column with the most to spare beyond what it `keep`s by one, if any can."""
    donor = max(range(len(widths)), key=lambda j: widths[j] - keep[j])
    if widths[donor] <= keep[donor]:
        return False
    widths[donor] -= 1
    return True


def _grow(widths: list[int], need: list[int], keep: list[int], in_turn: bool) -> None:
    """Widens the columns short of `need` from what the others can spare: a character to each
    in turn, or each in full, the least short first (so that the most columns get there)."""
    if in_turn:
        while short := [i for i, w in enumerate(widths) if w < need[i]]:
            for i in short:
                if not _take(widths, keep):
                    return
                widths[i] += 1
    for i in sorted(range(len(widths)), key=lambda i: need[i] - widths[i]):
        while widths[i] < need[i] and _take(widths, keep):
            widths[i] += 1


_BREAK = re.compile(r"(?<=[_\-./])|(?<!\])(?=\[)")  # after _ - . / and before `[0][0]`


def _hang(text: str) -> int:
    """The width of a nested layer's mark (`   └ `), under which its name's lines continue."""
    mark = re.match(f"{_NBSP}*└{_NBSP}", text)
    return len(mark.group()) if mark else 0


def _longest_piece(cell: str) -> int:
    """The widest line a cell can be broken into: its longest piece (words broken at their
    joints), a nested name's later pieces indented under its mark."""
    hang = _hang(cell)
    pieces = [p for word in cell.split(" ") for p in _BREAK.split(word) if p] or [""]
    return max([len(pieces[0])] + [len(p) + hang for p in pieces[1:]])


def _needs(headers: list[str], rows: list[list[str]]) -> list[list[int]]:
    """Per column (header included): the longest piece (less ends in an ellipsis), the longest
    word (less breaks one at its joints) and the longest cell (less wraps)."""
    columns = [[h] + [row[i] for row in rows] for i, h in enumerate(headers)]
    return [
        [max(_longest_piece(c) for c in column) for column in columns],
        [max(len(w) for c in column for w in c.split(" ")) for column in columns],
        [max(len(c) for c in column) for column in columns],
    ]


def _widths(
    positions: Sequence[float], line_length: int, headers: list[str], rows: list[list[str]]
) -> list[int]:
    """Content widths from Keras's relative positions, fitted so a whole line, borders and
    padding included, is `line_length` wide; then a column takes width from the others, first
    what it needs to cut no piece of a word (from what they do not need for theirs), then what
    keeps its words and its cells whole (from what they do not need at all)."""
    bounds = [0] + [int(p * line_length) for p in positions]
    wanted = [max(b - a, 1) for a, b in zip(bounds, bounds[1:])]
    room = line_length - 3 * len(wanted) - 1
    widths = [max(1, w * room // sum(wanted)) for w in wanted]
    widths[0] += room - sum(widths)
    pieces, words, cells = _needs(headers, rows)
    _grow(widths, pieces, pieces, in_turn=True)
    _grow(widths, words, cells, in_turn=True)
    _grow(widths, cells, cells, in_turn=False)
    return widths


def _tokens(text: str, width: int) -> list[tuple[str, str]]:
    """(joiner, piece) pairs: whole words joined by spaces; a word longer than `width` in pieces
    broken after `_ - . /` or before a `[0][0]` index, and a piece longer still ends in an
    ellipsis (as Keras's table cuts a word longer than its column)."""
    tokens = []
    for word in text.split(" "):
        pieces = [word] if len(word) <= width else [p for p in _BREAK.split(word) if p]
        for k, piece in enumerate(pieces):
            fitted = piece if len(piece) <= width else piece[: max(width - 1, 0)] + "…"
            tokens.append((" " if k == 0 else "", fitted))
    return tokens


def _wrap(text: str, width: int) -> list[str]:
    """Lines of at most `width`, broken between words (no-break spaces keep a nesting mark with
    its name, and the name's further lines are indented under it), a word too long for a line at
    its own joints."""
    hang = _hang(text) if _hang(text) <= width // 2 else 0
    lines: list[str] = []
    for joiner, piece in _tokens(text, width - hang):
        if lines and len(lines[-1]) + len(joiner) + len(piece) <= width:
            lines[-1] += joiner + piece
        else:
            lines.append(" " * hang * bool(lines) + piece)
    return [line.replace(_NBSP, " ") for line in lines] or [""]


def _table(headers: list[str], rows: list[list[str]], widths: list[int]) -> list[str]:
    align = {"Param #": str.rjust, "Trainable": str.center}

    def rule(left: str, mid: str, right: str, fill: str) -> str:
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def lines(values: list[str], edge: str) -> list[str]:
        cells = [_wrap(v, w) for v, w in zip(values, widths)]
        out = []
        for k in range(max(len(c) for c in cells)):
            parts = [
                align.get(h, str.ljust)(c[k] if k < len(c) else "", w)
                for c, w, h in zip(cells, widths, headers)
            ]
            out.append(edge + edge.join(f" {p} " for p in parts) + edge)
        return out

    out = [rule("┏", "┳", "┓", "━"), *lines(headers, "┃"), rule("┡", "╇", "┩", "━")]
    for i, row in enumerate(rows):
        if i:
            out.append(rule("├", "┼", "┤", "─"))
        out.extend(lines(row, "│"))
    out.append(rule("└", "┴", "┘", "─"))
    return out


def _columns(sequential_like: bool, show_trainable: bool) -> tuple[list[str], int, list[float]]:
    """Keras's headers, default line length and relative positions (Trainable's not included:
    Keras adds it to any positions, scaling theirs by 0.9)."""
    headers = ["Layer (type)", "Output Shape", "Param #"]
    if sequential_like:
        return headers, 88 + 12 * show_trainable, [0.45, 0.80, 1.0]
    return headers + ["Connected to"], 108 + 12 * show_trainable, [0.3, 0.56, 0.74, 1.0]


def _check_line_length(line_length: Any, least: int, headers: list[str]) -> int:
    if isinstance(line_length, bool) or not isinstance(line_length, (int, np.integer)):
        raise TypeError(
            f"summary: line_length must be an int or None, received {line_length=!r} "
            f"of type {type(line_length).__name__}"
        )
    if line_length < least:
        raise ValueError(
            f"summary: {line_length=} is too narrow for the columns {headers}; the least is {least}"
        )
    return int(line_length)


def _relative_positions(
    positions: Sequence[float], line_length: int, headers: list[str]
) -> list[float]:
    """Keras's positions, relative (ending at 1) or absolute (columns), as fractions."""
    wanted = (
        f"summary: positions must be {len(headers)} increasing positive numbers, one per column "
        f"{headers} (Trainable excluded), received {positions=}"
    )
    try:
        values = [float(p) for p in positions]
    except (TypeError, ValueError):
        raise TypeError(wanted) from None
    if len(values) != len(headers) or any(b <= a for a, b in zip([0.0] + values, values)):
        raise ValueError(wanted)
    return values if values[-1] <= 1 else [p / line_length for p in values]


def _layout(
    model: Any, line_length: Any, expand_nested: bool, show_trainable: bool, positions: Any
) -> tuple[list[str], list[list[str]], list[int]]:
    """Headers, rows and column widths. With no `line_length`, Keras's default width, widened to
    what the cells need unwrapped, within the terminal's width less Keras's 4 columns."""
    sequential_like = is_sequential_like(model)
    headers, default_length, default_positions = _columns(sequential_like, show_trainable)
    rows = _rows(model, not sequential_like, show_trainable, expand_nested)
    if show_trainable:
        headers = headers + ["Trainable"]
    cells = _needs(headers, rows)[2]
    margins = 3 * len(headers) + 1
    least = sum(len(max(h.split(" "), key=len)) for h in headers) + margins
    if line_length is None:
        terminal = shutil.get_terminal_size().columns - 4
        line_length = max(min(max(default_length, sum(cells) + margins), terminal), least)
    line_length = _check_line_length(line_length, least, headers)
    fractions = _relative_positions(
        default_positions if positions is None else positions,
        line_length,
        headers[: len(headers) - show_trainable],
    )
    if show_trainable:
        fractions = [p * 0.90 for p in fractions] + [1.0]
    return headers, rows, _widths(fractions, line_length, headers, rows)


def _totals(model: Any) -> list[str]:
    """Keras's parameter counts and sizes under the table, optimizer variables included."""
    n_train, b_train = count_weights(model.trainable_weights)
    n_frozen, b_frozen = count_weights(model.non_trainable_weights)
    n_opt = b_opt = 0
    optimizer = getattr(model, "optimizer", None)
    optimizer_built = optimizer is not None and getattr(optimizer, "built", False)
    if optimizer_built:
        n_opt, b_opt = count_weights([np.asarray(v) for v in optimizer.variables])
        if not callable(getattr(optimizer, "_learning_rate", None)):
            n_opt, b_opt = n_opt + 1, b_opt + 4  # Keras keeps a float rate as a variable
    total, total_bytes = n_train + n_frozen + n_opt, b_train + b_frozen + b_opt
    out = [
        f" Total params: {total:,} ({human_bytes(total_bytes)})",
        f" Trainable params: {n_train:,} ({human_bytes(b_train)})",
        f" Non-trainable params: {n_frozen:,} ({human_bytes(b_frozen)})",
    ]
    if optimizer_built:
        out.append(f" Optimizer params: {n_opt:,} ({human_bytes(b_opt)})")
    return out


def summary_text(
    model: Any,
    line_length: int | None = None,
    expand_nested: bool = False,
    show_trainable: bool = False,
    positions: Sequence[float] | None = None,
) -> str:
    """The summary as one string (what `summary` prints). A Sequential not yet built lists its
    layers with unknown shapes ("?"), as Keras does."""
    if not hasattr(model, "_stack"):
        model._require_graph()
    headers, rows, widths = _layout(model, line_length, expand_nested, show_trainable, positions)
    return "\n".join([f'Model: "{model.name}"', *_table(headers, rows, widths), *_totals(model)])


def summary(
    model: Any,
    line_length: int | None = None,
    expand_nested: bool = False,
    show_trainable: bool = False,
    print_fn: Callable[[str], Any] | None = None,
    positions: Sequence[float] | None = None,
) -> None:
    """Prints the table as Keras 3 does; `print_fn` receives the whole text in one call."""
    (print_fn or print)(summary_text(model, line_length, expand_nested, show_trainable, positions))
