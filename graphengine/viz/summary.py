"""`model.summary()`: Keras 3's table of layers, output shapes, parameter counts, the layers each
one is connected to (for models that are not a plain chain) and a trainable flag; then the
totals, optimizer variables included as Keras counts them."""

from __future__ import annotations

import shutil
import textwrap
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


def _widths(
    positions: Sequence[float], line_length: int, headers: list[str], rows: list[list[str]]
) -> list[int]:
    """Content widths from Keras's relative positions, fitted so a whole line, borders and
    padding included, is `line_length` wide; a column is widened (taking from the others'
    slack) to fit its header and its longest word where the line has room."""
    if positions[-1] <= 1:
        positions = [int(p * line_length) for p in positions]
    bounds = [0] + list(positions)
    wanted = [b - a for a, b in zip(bounds, bounds[1:])]
    room = max(line_length - 3 * len(wanted) - 1, sum(len(h) for h in headers))
    widths = [max(1, w * room // sum(wanted)) for w in wanted]
    widths[0] += room - sum(widths)
    need = [
        max([len(h)] + [len(word) for row in rows for word in row[i].split(" ")])
        for i, h in enumerate(headers)
    ]
    for i in range(len(widths)):
        while widths[i] < need[i]:
            donor = max(range(len(widths)), key=lambda j: widths[j] - need[j])
            if widths[donor] <= need[donor]:
                break
            widths[donor] -= 1
            widths[i] += 1
    return widths


def _wrap(text: str, width: int) -> list[str]:
    """Lines of at most `width`, broken between words (no-break spaces keep a nesting mark with
    its name); a word longer than a line is cut."""
    lines = textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)
    cut = [line[i : i + width] for line in lines for i in range(0, len(line), width)]
    return [line.replace(_NBSP, " ") for line in cut] or [""]


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
    sequential_like = is_sequential_like(model)
    headers = ["Layer (type)", "Output Shape", "Param #"]
    if sequential_like:
        default_length, default_positions = 88, [0.45, 0.80, 1.0]
    else:
        default_length, default_positions = 108, [0.3, 0.56, 0.74, 1.0]
        headers.append("Connected to")
    if show_trainable:
        default_length += 12
        default_positions = [p * 0.90 for p in default_positions] + [1.0]
        headers.append("Trainable")
    terminal = shutil.get_terminal_size().columns - 4
    line_length = line_length or min(default_length, terminal)
    rows = _rows(model, not sequential_like, show_trainable, expand_nested)
    widths = _widths(positions or default_positions, line_length, headers, rows)
    out = [f'Model: "{model.name}"', *_table(headers, rows, widths)]
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
    out += [
        f" Total params: {total:,} ({human_bytes(total_bytes)})",
        f" Trainable params: {n_train:,} ({human_bytes(b_train)})",
        f" Non-trainable params: {n_frozen:,} ({human_bytes(b_frozen)})",
    ]
    if optimizer_built:
        out.append(f" Optimizer params: {n_opt:,} ({human_bytes(b_opt)})")
    return "\n".join(out)


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
