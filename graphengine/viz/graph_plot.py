"""`ge.utils.plot_graph`: the input graph of a graph model drawn with matplotlib at a seeded
networkx layout, nodes coloured by class (e.g. the predicted classes) with a legend, and some
nodes marked (e.g. the labelled ones); .png or .svg by suffix, or the Figure itself."""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

LAYOUTS = ("spring", "kamada_kawai", "circular", "spectral", "shell")
UNCOLOURED, MARK = "#90A4AE", "#212121"


def plot_graph(
    graph: Any,
    node_color: Any = None,
    to_file: str | None = None,
    labelled: Any = None,
    class_names: Sequence[str] | None = None,
    layout: str | dict = "spring",
    seed: int = 0,
    with_labels: bool | None = None,
    title: str | None = None,
    figsize: tuple[float, float] = (6.0, 6.0),
    dpi: float = 100.0,
) -> Any:
    """Draws `graph`: a networkx graph, a `ge.utils.graph_from_networkx` Graph, or
    `(edges, num_nodes)` with edges (E, 2) of node rows.

    `node_color`: one class id per node (ints; a legend names them, `class_names` if given),
    class scores (N, C) (their argmax: a model's predictions), or one number per node (a
    colour bar). `labelled`: a boolean mask or the rows of nodes to ring in black (the labelled
    ones). `layout`: a networkx layout name (spring, seeded by `seed`, so the same graph gives
    the same picture) or a dict {node: (x, y)}. Writes `to_file` (.png or .svg) and returns
    None, or returns the matplotlib Figure when `to_file` is None.
    """
    suffix = _suffix(to_file)
    g, names = _as_networkx(graph)
    n = len(names)
    pos = _positions(g, layout, seed)
    fig, ax = _figure(figsize, dpi)
    xy = np.array([pos[v] for v in g.nodes], float).reshape(n, 2)
    _draw_edges(ax, g, xy)
    handles = _draw_nodes(fig, ax, xy, node_color, n, class_names)
    mask = _mask(labelled, n)
    if mask.any():
        ax.scatter(*xy[mask].T, s=260, facecolors="none", edgecolors=MARK, linewidths=2, zorder=3)
        handles.append(_handle("labelled", "none", MARK))
    if with_labels if with_labels is not None else n <= 40:
        for (x, y), name in zip(xy, names):
            ax.text(x, y, str(name), fontsize=6, color="white", ha="center", va="center", zorder=4)
    if handles:
        ax.legend(handles=handles, loc="best", fontsize=8, frameon=False)
    if title:
        ax.set_title(title)
    if to_file is None:
        return fig
    from graphengine.viz.render import save

    save(fig, to_file, suffix, dpi)
    return None


def _draw_edges(ax: Any, g: Any, xy: np.ndarray) -> None:
    """Each edge as a line (both directions of an edge drawn once; self loops left out)."""
    import networkx as nx
    from matplotlib.collections import LineCollection

    row = {v: i for i, v in enumerate(g.nodes)}
    lines = [(xy[row[u]], xy[row[v]]) for u, v in nx.Graph(g).edges if u != v]
    ax.add_collection(LineCollection(lines, colors="#B0BEC5", linewidths=1.0, zorder=1))
    ax.set_axis_off()
    ax.autoscale_view()
    ax.margins(0.08)


def _as_networkx(graph: Any) -> tuple[Any, list]:
    """The graph as networkx (for its layouts) and the name shown on each node."""
    import networkx as nx

    if isinstance(graph, nx.Graph):
        return graph, list(graph.nodes)
    if hasattr(graph, "node_ids") and hasattr(graph, "edges"):  # graph_from_networkx's Graph
        edges, n, names = graph.edges, len(graph.nodes), graph.node_ids
    elif isinstance(graph, (tuple, list)) and len(graph) == 2:
        edges, n = np.asarray(graph[0]), graph[1]
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise TypeError(f"plot_graph: num_nodes must be a count, received {n!r}")
        names = list(range(int(n)))
    else:
        raise TypeError(
            "plot_graph: graph must be a networkx graph, a graph_from_networkx Graph or "
            f"(edges, num_nodes); received {type(graph).__name__}"
        )
    edges = np.asarray(edges).reshape(-1, 2) if np.size(edges) else np.zeros((0, 2), int)
    if edges.dtype.kind not in "iu" or ((edges < 0) | (edges >= n)).any():
        raise ValueError(f"plot_graph: edges must be integer rows of nodes in [0, {n})")
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    g.add_edges_from(edges.tolist())
    return g, list(names)


def _positions(g: Any, layout: str | dict, seed: int) -> dict:
    import networkx as nx

    if isinstance(layout, dict):
        missing = [v for v in g.nodes if v not in layout]
        if missing:
            raise ValueError(f"plot_graph: layout has no position for nodes {missing[:5]}")
        return layout
    if layout not in LAYOUTS:
        raise ValueError(f"plot_graph: unknown {layout=!r}; one of {', '.join(LAYOUTS)}")
    if len(g) == 0:
        return {}
    undirected = nx.Graph(g)
    if layout == "spring":
        return nx.spring_layout(undirected, seed=seed)
    return getattr(nx, f"{layout}_layout")(undirected)


def _figure(figsize: tuple[float, float], dpi: float) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    return fig, fig.add_axes((0.02, 0.02, 0.96, 0.92))


def _draw_nodes(
    fig: Any, ax: Any, xy: np.ndarray, color: Any, n: int, class_names: Sequence[str] | None
) -> list:
    """The nodes, coloured by class (a legend entry each) or by value (a colour bar)."""
    if color is None:
        ax.scatter(*xy.T, s=120, c=UNCOLOURED, edgecolors="white", zorder=2)
        return []
    values = np.asarray(color)
    if values.ndim == 2 and values.dtype.kind == "f":
        values = values.argmax(axis=1)  # class scores: the predicted classes
    if values.shape != (n,):
        raise ValueError(
            f"plot_graph: node_color must hold one entry per node ({n}), received shape "
            f"{values.shape}"
        )
    if values.dtype.kind == "f":
        points = ax.scatter(*xy.T, s=120, c=values, cmap="viridis", zorder=2)
        fig.colorbar(points, ax=ax, shrink=0.7)
        return []
    if values.dtype.kind not in "iub" or (n and values.min() < 0):
        raise ValueError("plot_graph: node_color class ids must be integers >= 0")
    classes = np.unique(values)
    palette = _palette(int(values.max()) + 1 if n else 0)
    ax.scatter(*xy.T, s=120, c=[palette[v] for v in values], edgecolors="white", zorder=2)
    named = list(class_names) if class_names is not None else None
    if named is not None and len(named) < len(palette):
        raise ValueError(
            f"plot_graph: class_names names {len(named)} classes, node_color has class ids up "
            f"to {len(palette) - 1}"
        )
    return [
        _handle(named[c] if named else f"class {c}", palette[c], "white") for c in classes.tolist()
    ]


def _palette(k: int) -> list:
    from matplotlib import colormaps

    name = "tab10" if k <= 10 else "tab20"
    cmap = colormaps[name] if k <= 20 else colormaps["hsv"].resampled(k + 1)
    return [cmap(i) for i in range(k)]


def _handle(label: str, face: Any, edge: str) -> Any:
    from matplotlib.lines import Line2D

    return Line2D(
        [], [], marker="o", linestyle="", markersize=9, markerfacecolor=face,
        markeredgecolor=edge, markeredgewidth=2 if face == "none" else 1, label=label,
    )  # fmt: skip


def _mask(labelled: Any, n: int) -> np.ndarray:
    if labelled is None:
        return np.zeros(n, bool)
    a = np.asarray(labelled)
    if a.dtype == bool:
        if a.shape != (n,):
            raise ValueError(f"plot_graph: a labelled mask needs {n} entries, received {a.shape}")
        return a
    if a.dtype.kind not in "iu" or a.ndim != 1 or (a.size and (a.min() < 0 or a.max() >= n)):
        raise ValueError(f"plot_graph: labelled must be a boolean mask or node rows in [0, {n})")
    mask = np.zeros(n, bool)
    mask[a] = True
    return mask


def _suffix(to_file: str | None) -> str:
    if to_file is None:
        return ""
    suffix = os.path.splitext(to_file)[1].lower()
    if suffix not in (".png", ".svg"):
        raise ValueError(
            f"plot_graph: cannot write {to_file!r}; the suffix picks the format, .png or .svg"
        )
    return suffix[1:]
