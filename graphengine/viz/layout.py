"""A layered (Sugiyama-style) layout computed from the graph, with no outside program: ranks by
longest path, dummy nodes on long edges, barycenter sweeps against crossings, and positions
that keep every box apart by its measured size. Nested clusters are laid out inside out.

Work happens in "layout space": `o` runs along a rank (x for rankdir TB), `r` across ranks
(y for TB, growing downward). `Placed.to_final` turns that into picture coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

BOX_GAP = 24.0  # between neighbouring boxes of a rank
DUMMY_GAP = 10.0  # beside a long edge passing through a rank
RANK_GAP = 40.0  # between ranks: edges curve in this space
LANE_GAP = 7.0  # between the lanes that forward/backward links run along


def is_thin(key: str) -> bool:
    """Dummy and port nodes: points an edge passes through, not boxes."""
    return key.startswith("\x00")


@dataclass
class Level:
    """What to place at one nesting level: boxes (key -> (o, r) size), child levels (clusters,
    with the padding their frame adds: before-o, after-o, before-r, after-r) and edges between
    keys of this level, drawn from the lower rank to the higher. `ports` are points where an
    edge crosses the frame of this level's cluster: key -> (the item it links, "top" or
    "bottom"); one is dropped when that item is already on the top (bottom) rank. `ranks`
    fixes ranks (the backward panel reuses the forward ones). `labels`: a child's frame label
    lies on that side ("top" or "bottom" in r) and needs that much room along o from the
    frame's start, clear of the edges crossing that side."""

    sizes: dict[str, tuple[float, float]] = field(default_factory=dict)
    children: dict[str, Level] = field(default_factory=dict)
    pads: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    min_sizes: dict[str, tuple[float, float]] = field(default_factory=dict)  # of a frame
    labels: dict[str, tuple[str, float]] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    ports: dict[str, tuple[str, str]] = field(default_factory=dict)
    ranks: dict[str, int] | None = None
    order_hint: dict[str, float] = field(default_factory=dict)
    twins: dict[str, str] = field(default_factory=dict)  # backward key -> forward key

    def keys(self) -> list[str]:
        return list(self.sizes) + [k for k in self.children if k not in self.sizes]


@dataclass
class Placed:
    """A laid-out level: item centres (o, r) and sizes, the rank bands, each edge's route points
    through the ranks it crosses, and the placed child levels (offset to their frame)."""

    centers: dict[str, tuple[float, float]]
    sizes: dict[str, tuple[float, float]]
    rank_of: dict[str, int]
    bands: list[tuple[float, float]]  # (start, end) along r of each rank
    edges: list[tuple[str, str]]
    routes: dict[int, list[float]]  # edge index -> o at each rank crossed (dummies)
    children: dict[str, Placed]
    child_origin: dict[str, tuple[float, float]]
    extent: tuple[float, float]
    order: list[list[str]] = field(default_factory=list)


def longest_path_ranks(keys: list[str], edges: Iterable[tuple[str, str]]) -> dict[str, int]:
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(keys)
    graph.add_edges_from((u, v) for u, v in edges if u != v)
    rank = {k: 0 for k in keys}
    for k in nx.topological_sort(graph):  # iterative; the graph of a model has no cycle
        for v in graph.successors(k):
            rank[v] = max(rank[v], rank[k] + 1)
    # a source feeding only later ranks moves down next to its first consumer
    for k in keys:
        succ = list(graph.successors(k))
        if succ and graph.in_degree(k) == 0:
            rank[k] = max(rank[k], min(rank[v] for v in succ) - 1)
    return rank


def _chains(
    edges: list[tuple[int, str, str]], rank: dict[str, int]
) -> tuple[dict[int, list[str]], dict[str, int]]:
    """Each edge as the list of nodes it passes, a dummy added at every rank between."""
    chains, dummy_rank, n = {}, {}, 0
    for i, u, v in edges:
        lo, hi = sorted((rank[u], rank[v]))
        start = u if rank[u] <= rank[v] else v
        path = [start]
        for r in range(lo + 1, hi):
            key = f"\x00d{n}"
            n += 1
            dummy_rank[key] = r
            path.append(key)
        path.append(v if start == u else u)
        chains[i] = path
    return chains, dummy_rank


def _crossings(layers: list[list[str]], links: set[tuple[str, str]]) -> int:
    total = 0
    for upper, lower in zip(layers, layers[1:]):
        pos_u = {k: i for i, k in enumerate(upper)}
        pos_l = {k: i for i, k in enumerate(lower)}
        pairs = sorted((pos_u[a], pos_l[b]) for a, b in links if a in pos_u and b in pos_l)
        for i, (_, b1) in enumerate(pairs):
            total += sum(1 for a2, b2 in pairs[i + 1 :] if b2 < b1 and a2 != pairs[i][0])
    return total


def _barycenter_sorted(layer: list[str], ref: list[str], nbrs: dict) -> list[str]:
    """`layer` sorted by the mean position of each item's neighbours in `ref` (an item with
    none keeps its relative place); the sort is stable, so ties keep their order."""
    pos = {k: j for j, k in enumerate(ref)}

    def key(item: tuple[int, str]) -> float:
        j, k = item
        ps = [pos[n] for n in nbrs.get(k, []) if n in pos]
        return sum(ps) / len(ps) if ps else j * len(ref) / max(len(layer), 1)

    return [k for _, k in sorted(enumerate(layer), key=key)]


def _order(layers: list[list[str]], links: set[tuple[str, str]], sweeps: int = 12) -> None:
    """Barycenter sweeps down and up; keeps the order with fewest crossings (ties: earlier)."""
    up: dict[str, list[str]] = {}
    down: dict[str, list[str]] = {}
    for a, b in links:  # a is on the rank above b
        down.setdefault(a, []).append(b)
        up.setdefault(b, []).append(a)
    best, best_cross = [list(layer) for layer in layers], _crossings(layers, links)
    for sweep in range(sweeps):
        forward = sweep % 2 == 0
        rng = range(1, len(layers)) if forward else range(len(layers) - 2, -1, -1)
        for i in rng:
            ref = layers[i - 1] if forward else layers[i + 1]
            layers[i][:] = _barycenter_sorted(layers[i], ref, up if forward else down)
        cross = _crossings(layers, links)
        if cross < best_cross:
            best, best_cross = [list(layer) for layer in layers], cross
    layers[:] = best


def _gap(a: str, b: str) -> float:
    return DUMMY_GAP if is_thin(a) or is_thin(b) else BOX_GAP


def _place_rank(keys: list[str], widths: dict[str, float], want: dict[str, float]) -> dict:
    """Centres as close as possible (least squares) to `want` keeping the order and the gaps:
    blocks of touching items move together to the mean of their wishes."""
    blocks: list[list] = []  # [left edge, items, their offsets from it, sum of wished lefts]
    for k in keys:
        left = want[k] - widths[k] / 2
        blocks.append([left, [k], [0.0], left])
        while len(blocks) > 1:
            a, b = blocks[-2], blocks[-1]
            shift = a[2][-1] + widths[a[1][-1]] + _gap(a[1][-1], b[1][0])
            if b[0] >= a[0] + shift:
                break
            offs = a[2] + [o + shift for o in b[2]]
            total = a[3] + b[3] - shift * len(b[1])
            blocks[-2:] = [[total / len(offs), a[1] + b[1], offs, total]]
    out = {}
    for start, items, offs, _ in blocks:
        for k, o in zip(items, offs):
            out[k] = start + o + widths[k] / 2
    return out


def _positions(layers: list[list[str]], widths: dict[str, float], links: set) -> dict:
    up: dict[str, list[str]] = {}
    down: dict[str, list[str]] = {}
    for a, b in links:
        down.setdefault(a, []).append(b)
        up.setdefault(b, []).append(a)
    x: dict[str, float] = {}
    for layer in layers:  # packed from the left
        at = 0.0
        for i, k in enumerate(layer):
            at += _gap(layer[i - 1], k) if i else 0.0
            x[k] = at + widths[k] / 2
            at += widths[k]
    widest = max(range(len(layers)), key=lambda i: sum(widths[k] for k in layers[i]))
    for sweep in range(8):
        seq = list(range(len(layers)))
        seq = seq[widest:] + seq[:widest][::-1] if sweep % 2 == 0 else seq[::-1]
        for i in seq:
            want = {}
            for k in layers[i]:
                nb = up.get(k, []) + down.get(k, [])
                want[k] = sum(x[n] for n in nb) / len(nb) if nb else x[k]
            x.update(_place_rank(layers[i], widths, want))
    low = min(x[k] - widths[k] / 2 for k in x) if x else 0.0
    return {k: v - low for k, v in x.items()}


def layout_pair(
    fw: Level, bw: Level | None = None, links: bool = False
) -> tuple[Placed, Placed | None]:
    """Places a level and, optionally, its backward twin: `bw.twins` maps a backward key to
    the forward key it mirrors; twins take the forward rank, a mirrored order and the same
    bands. Children (clusters) are placed first, twin with twin. With `links`, each rank gets
    room below its boxes for one lane per twin pair (the dashed forward-backward links)."""
    twins = dict(bw.twins) if bw is not None else {}
    back = {f: b for b, f in twins.items()}
    fw_children, bw_children = {}, {}
    for k, child in fw.children.items():
        pair = bw.children.get(back[k]) if k in back and bw is not None else None
        fw_children[k], placed = layout_pair(child, pair)
        if placed is not None:
            bw_children[back[k]] = placed
    for k, child in (bw.children if bw is not None else {}).items():
        if k not in bw_children:
            bw_children[k] = layout_pair(child)[0]
    pf = _place(fw, fw_children)
    if bw is None:
        return pf, None
    bottom = max(list(pf.rank_of.values()) + [-1]) + 1
    bw.ranks = {k: pf.rank_of[twins[k]] if k in twins else bottom for k in bw.keys()}
    for k in bw.keys():
        if k in twins:
            bw.order_hint[k] = -pf.centers[twins[k]][0]
    pb = _place(bw, bw_children)
    lanes: dict[int, int] = {}
    if links:
        for k in twins:
            lanes[bw.ranks[k]] = lanes.get(bw.ranks[k], 0) + 1
    align_bands(pf, pb, lanes)
    return pf, pb


def crossings(level: Level, placed: Placed, side: str) -> list[tuple[float, float]]:
    """Where along o (from, to) the edges through the `side` ports of a placed level cross
    its frame: at a port, or, where the port was dropped, where the edge meets its item (the
    middle of a box, where `routes.spread_ports` puts arrows; inside a cluster, its port)."""
    return [_crossing(level, placed, port) for port, (_, s) in level.ports.items() if s == side]


def _crossing(level: Level, placed: Placed, port: str) -> tuple[float, float]:
    if port in placed.centers:
        o = placed.centers[port][0]
        return (o - 1.0, o + 1.0)
    item = level.ports[port][0]
    if item in level.children:  # the same edge's port one level in: "<name>.<depth + 1>"
        head, depth = port.rsplit(".", 1)
        inner = f"{head}.{int(depth) + 1}"
        if inner in level.children[item].ports:
            lo, hi = _crossing(level.children[item], placed.children[item], inner)
            shift = placed.child_origin[item][0]
            return (lo + shift, hi + shift)
    o, half = placed.centers[item][0], 0.3 * placed.sizes[item][0] + 1.0
    return (o - half, o + half)


def _frame(level: Level, k: str, placed: Placed) -> tuple[tuple, tuple]:
    """A cluster's frame size and where its content starts in it: centred, or moved along o
    (the frame widened) so that its label keeps clear of the edges crossing the label's side."""
    p, least = level.pads[k], level.min_sizes.get(k, (0.0, 0.0))
    size = [max(placed.extent[i] + p[2 * i] + p[2 * i + 1], least[i]) for i in (0, 1)]
    start = [p[2 * i] + (size[i] - placed.extent[i] - p[2 * i] - p[2 * i + 1]) / 2 for i in (0, 1)]
    if k in level.labels:
        side, room = level.labels[k]
        cross = [lo for lo, _ in crossings(level.children[k], placed, side)]
        if cross and start[0] + min(cross) < room:
            start[0] = room - min(cross)
            size[0] = max(size[0], start[0] + placed.extent[0] + p[1])
    return (size[0], size[1]), (start[0], start[1])


def _place(level: Level, children: dict[str, Placed]) -> Placed:
    sizes = dict(level.sizes)
    starts = {}
    for k, placed in children.items():
        sizes[k], starts[k] = _frame(level, k, placed)
    keys = level.keys()
    real_edges = [(u, v) for u, v in level.edges if u in sizes and v in sizes]
    rank = dict(level.ranks) if level.ranks is not None else longest_path_ranks(keys, real_edges)
    ends = (min(rank.values(), default=0), max(rank.values(), default=0))
    for port, (item, side) in level.ports.items():
        at = ends[0] if side == "top" else ends[1]
        if rank[item] != at:  # else the edge meets the item at the frame directly
            rank[port], sizes[port] = at, (2.0, 0.0)
            keys.append(port)
    edges = [
        (i, u, v)
        for i, (u, v) in enumerate(level.edges)
        if u in rank and v in rank and rank[u] != rank[v]
    ]
    chains, dummy_rank = _chains(edges, rank)
    n_ranks = max(list(rank.values()) + [-1]) + 1
    layers: list[list[str]] = [[] for _ in range(n_ranks)]
    hint = {k: level.order_hint.get(k, i) for i, k in enumerate(keys)}
    for k in sorted(keys, key=hint.__getitem__):
        layers[rank[k]].append(k)
    links: set[tuple[str, str]] = set()
    for path in chains.values():
        links.update(zip(path, path[1:]))
        for d in path[1:-1]:
            layers[dummy_rank[d]].append(d)
    _order(layers, links)
    widths = {k: sizes[k][0] for k in keys}
    widths.update({d: 2.0 for d in dummy_rank})
    o = _positions(layers, widths, links) if keys else {}
    bands, at = [], 0.0
    for layer in layers:
        ext = max([sizes[k][1] for k in layer if k in sizes] + [0.0])
        bands.append((at, at + ext))
        at += ext + RANK_GAP
    return _finish(level, keys, sizes, rank, bands, o, chains, children, layers, starts)


def _finish(
    level: Level,
    keys: list[str],
    sizes: dict,
    rank: dict,
    bands: list,
    o: dict,
    chains: dict,
    children: dict,
    layers: list,
    starts: dict,
) -> Placed:
    centers = {}
    for k in keys:
        start, _ = bands[rank[k]]
        centers[k] = (o[k], start + sizes[k][1] / 2)
    routes = {e: [o[d] for d in path[1:-1]] for e, path in chains.items()}
    origins = {}
    for k in children:
        cx, cy = centers[k]
        origins[k] = (cx - sizes[k][0] / 2 + starts[k][0], cy - sizes[k][1] / 2 + starts[k][1])
    width = max([o[k] + w / 2 for k, (w, _) in sizes.items()] + [0.0])
    width = max([width] + [v + 1.0 for v in o.values()])
    height = bands[-1][1] if bands else 0.0
    extent = (width, height)
    return Placed(
        centers, sizes, rank, bands, list(level.edges), routes, children, origins, extent, layers
    )


def align_bands(a: Placed, b: Placed | None, lanes: dict[int, int] | None = None) -> None:
    """Gives two panels laid out over the same ranks the same band positions (the larger
    extent of each rank), so twins sit side by side; `lanes[r]` link lanes below rank r."""
    panels = [p for p in (a, b) if p is not None]
    n = max(len(p.bands) for p in panels)
    ext = []
    for r in range(n):
        e = max(p.bands[r][1] - p.bands[r][0] if r < len(p.bands) else 0.0 for p in panels)
        k = (lanes or {}).get(r, 0)
        ext.append(e + (k + 1) * LANE_GAP if k else e)
    bands, at = [], 0.0
    for e in ext:
        bands.append((at, at + e))
        at += e + RANK_GAP
    for p in panels:
        for k, (co, _) in p.centers.items():
            p.centers[k] = (co, bands[p.rank_of[k]][0] + p.sizes[k][1] / 2)
        for k in p.children:
            old = p.child_origin[k]
            shift = bands[p.rank_of[k]][0] - p.bands[p.rank_of[k]][0]
            p.child_origin[k] = (old[0], old[1] + shift)
        p.bands = list(bands)
        p.extent = (p.extent[0], bands[-1][1] if bands else 0.0)
