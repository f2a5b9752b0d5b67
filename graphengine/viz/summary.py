"""`model.summary()`: Keras's table of layers, output shapes, parameter counts and, for
functional models, the layers each one is connected to; then the totals."""

from __future__ import annotations

import shutil
from typing import Any, Callable

import numpy as np

from graphengine.graph.node import LayerCall
from graphengine.graph.tensor import format_shape


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} GB"


def _count(weights: list) -> tuple[int, int]:
    """(number of parameters, bytes)."""
    sizes = [int(np.prod(w.shape)) for w in weights]
    return sum(sizes), sum(s * np.dtype(w.dtype).itemsize for s, w in zip(sizes, weights))


def _shapes(calls: list[LayerCall]) -> str:
    if not calls:
        return "?"
    shapes = [format_shape(t.shape) for t in calls[0].outputs]
    return shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"


def _connections(calls: list[LayerCall]) -> list[str]:
    """Keras's `layer[node][tensor]` for every input of every call of a layer."""
    out = []
    for call in calls:
        for t in call.inputs:
            src = t.layer_call
            if src is not None:
                out.append(f"{src.layer.name}[{src.index}][{src.outputs.index(t)}]")
    return out


def _rows(model: Any, functional: bool, expand_nested: bool, depth: int = 0) -> list[list[str]]:
    calls_by_layer: dict[int, list[LayerCall]] = {}
    for site in model._sites:
        if isinstance(site, LayerCall):
            calls_by_layer.setdefault(id(site.layer), []).append(site)
    rows = []
    for layer in model.layers:
        calls = calls_by_layer.get(id(layer), [])
        if not functional and not calls[0].inputs:
            continue  # Sequential lists no InputLayer, as Keras
        kind = "Functional" if type(layer).__name__ == "Model" else type(layer).__name__
        name = "  " * depth + f"{layer.name} ({kind})"
        params = f"{_count(layer.weights)[0]:,}"
        trainable = "Y" if layer.trainable else "N"
        links = _connections(calls) or ["-"]
        rows.append([name, _shapes(calls), params, trainable, links[0]])
        rows.extend([["", "", "", "", link] for link in links[1:]])
        if expand_nested and hasattr(layer, "_sites"):
            rows.extend(_rows(layer, functional, expand_nested, depth + 1))
    return rows


def summary(
    model: Any,
    line_length: int | None = None,
    expand_nested: bool = False,
    show_trainable: bool = False,
    print_fn: Callable[[str], Any] | None = None,
) -> None:
    """Prints the table as Keras 3 does; `print_fn` receives the whole text."""
    model._require_graph()
    functional = not hasattr(model, "_stack")
    headers = ["Layer (type)", "Output Shape", "Param #", "Trainable", "Connected to"]
    keep = [True, True, True, show_trainable, functional]
    rows = [[c for c, k in zip(r, keep) if k] for r in _rows(model, functional, expand_nested)]
    headers = [h for h, k in zip(headers, keep) if k]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    total = line_length or min(shutil.get_terminal_size((100, 20)).columns, 120)
    spare = total - sum(widths) - 3 * len(widths) - 1
    if spare > 0:
        widths[0] += spare // 2
        widths[1] += spare - spare // 2
    right = {"Param #"}

    def line(left: str, mid: str, right_: str, fill: str) -> str:
        return left + mid.join(fill * (w + 2) for w in widths) + right_

    def cells(values: list[str], edge: str = "│") -> str:
        parts = [
            (v.rjust(w) if h in right else v.ljust(w)) for v, w, h in zip(values, widths, headers)
        ]
        return edge + edge.join(f" {p} " for p in parts) + edge

    out = [
        f'Model: "{model.name}"',
        line("┏", "┳", "┓", "━"),
        cells(headers, "┃"),
        line("┡", "╇", "┩", "━"),
    ]
    for i, row in enumerate(rows):
        if i and row[0]:
            out.append(line("├", "┼", "┤", "─"))
        out.append(cells(row))
    out.append(line("└", "┴", "┘", "─"))
    n_all, b_all = _count(model.weights)
    n_train, b_train = _count(model.trainable_weights)
    out += [
        f" Total params: {n_all:,} ({_human_bytes(b_all)})",
        f" Trainable params: {n_train:,} ({_human_bytes(b_train)})",
        f" Non-trainable params: {n_all - n_train:,} ({_human_bytes(b_all - b_train)})",
    ]
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and getattr(optimizer, "built", False):
        n_opt, b_opt = _count([np.asarray(v) for v in optimizer.variables])
        out.append(f" Optimizer params: {n_opt:,} ({_human_bytes(b_opt)})")
    (print_fn or print)("\n".join(out))
