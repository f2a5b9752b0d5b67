"""Between a `View` and the layout: the `Level` trees of a panel (clusters as child levels,
ports where an edge crosses a cluster frame), then, once placed, absolute positions and each
edge's path: straight across ranks, an S-curve across each gap, joined through frames."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from graphengine.viz.layout import LANE_GAP, RANK_GAP, Level, Placed, is_thin

Point = tuple[float, float, str]  # (o, r, how it is reached: "M" start, "L" line, "C" curve)


@dataclass
class Panel:
    """One panel's levels, and for each view edge its geometric ends (lo above hi) and the
    level edges it is made of: [(cluster path of the level, edge index)]."""

    root: Level
    ends: list[tuple[str, str]] = field(default_factory=list)
    common: list[int] = field(default_factory=list)  # where in its chain the common level is
    chains: list[list[tuple[tuple, int]]] = field(default_factory=list)
    where: dict[tuple, tuple[Placed, float, float]] = field(default_factory=dict)


def build_panel(
    boxes: dict[str, Any],
    clusters: dict[str, Any],
    edges: list[tuple[str, str]],
    sizes: dict[str, tuple[float, float]],
    frame: Callable[[Any], tuple[tuple, tuple, tuple | None]],
    downward: bool,
    bottom_entries: frozenset[int] = frozenset(),
) -> Panel:
    """`frame(cluster)` gives (pads, minimum size, label side and room or None) in layout
    space. Edges run from the lower rank down (`downward`), or up as in the backward panel;
    those in `bottom_entries` end on the rank they start from and enter their clusters from
    below (see `same_rank_edges`)."""
    levels: dict[tuple, Level] = {(): Level()}
    for key, c in sorted(clusters.items(), key=lambda kv: len(kv[1].cluster)):
        parent = levels[c.cluster]
        levels[c.cluster + (key,)] = parent.children[key] = Level()
        parent.pads[key], parent.min_sizes[key], label = frame(c)
        if label is not None:
            parent.labels[key] = label
        if c.twin:
            parent.twins[key] = c.twin
    for key, b in boxes.items():
        level = levels[b.cluster]
        level.sizes[key] = sizes[key]
        if b.twin:
            level.twins[key] = b.twin
    panel = Panel(levels[()])
    for n, (u, v) in enumerate(edges):
        lo, hi = (u, v) if downward else (v, u)
        c_lo, c_hi = boxes[lo].cluster, boxes[hi].cluster
        d = 0
        while d < min(len(c_lo), len(c_hi)) and c_lo[d] == c_hi[d]:
            d += 1
        chain = []
        for k in range(len(c_lo), d, -1):  # out through the bottom of lo's clusters
            level = levels[c_lo[:k]]
            port = f"\x00x{n}.{k}"
            level.ports[port] = (c_lo[k] if k < len(c_lo) else lo, "bottom")
            level.edges.append((level.ports[port][0], port))
            chain.append((c_lo[:k], len(level.edges) - 1))
        level = levels[c_lo[:d]]
        a = c_lo[d] if d < len(c_lo) else lo
        b = c_hi[d] if d < len(c_hi) else hi
        level.edges.append((a, b))
        panel.common.append(len(chain))
        chain.append((c_lo[:d], len(level.edges) - 1))
        for k in range(d + 1, len(c_hi) + 1):  # in through the top of hi's clusters
            level = levels[c_hi[:k]]
            port = f"\x00e{n}.{k}"
            side = "bottom" if n in bottom_entries else "top"
            level.ports[port] = (c_hi[k] if k < len(c_hi) else hi, side)
            level.edges.append((port, level.ports[port][0]))
            chain.append((c_hi[:k], len(level.edges) - 1))
        panel.ends.append((lo, hi))
        panel.chains.append(chain)
    return panel


def place_absolute(
    panel: Panel, p: Placed, oo: float, ro: float, boxes: dict, clusters: dict, path: tuple = ()
) -> None:
    """Absolute (o, r, size o, size r) of every box and cluster; records each level's origin."""
    panel.where[path] = (p, oo, ro)
    for k, (co, cr) in p.centers.items():
        so, sr = p.sizes[k]
        if k in p.children:
            clusters[k] = (oo + co, ro + cr, so, sr)
            origin = p.child_origin[k]
            place_absolute(
                panel, p.children[k], oo + origin[0], ro + origin[1], boxes, clusters, path + (k,)
            )
        elif not is_thin(k):
            boxes[k] = (oo + co, ro + cr, so, sr)


def _level_route(p: Placed, oo: float, ro: float, index: int) -> list[Point] | None:
    """The route of one level edge from its upper end to its lower end; None when a port of
    it was dropped or both ends share a rank."""
    a, b = p.edges[index]
    if index not in p.routes:
        return None
    ra, rb = p.rank_of[a], p.rank_of[b]
    flip = ra > rb
    if flip:
        a, b, ra, rb = b, a, rb, ra
    dummies = p.routes[index]  # in rank order already (layout._chains starts at the top)
    band = [(ro + s, ro + e) for s, e in p.bands]

    def o(k: str) -> float:
        return oo + p.centers[k][0]

    def side(k: str, end: bool) -> float:
        if is_thin(k):
            return band[p.rank_of[k]][0]
        return ro + p.centers[k][1] + (p.sizes[k][1] / 2 if end else -p.sizes[k][1] / 2)

    pts: list[Point] = [(o(a), side(a, True), "M"), (o(a), band[ra][1], "L")]
    for i, d in enumerate(dummies):
        pts += [(oo + d, band[ra + 1 + i][0], "C"), (oo + d, band[ra + 1 + i][1], "L")]
    pts += [(o(b), band[rb][0], "C"), (o(b), side(b, False), "L")]
    return reverse(pts) if flip else pts


def reverse(pts: list[Point]) -> list[Point]:
    kinds = ["M"] + [pts[len(pts) - j][2] for j in range(1, len(pts))]
    return [(o, r, k) for (o, r, _), k in zip(pts[::-1], kinds)]


def same_rank_edges(panel: Panel, placed: Placed) -> frozenset[int]:
    """The edges whose ends share a rank where they meet (gradients accumulating in the
    backward panel) and that enter a cluster: they must enter it from below."""
    out = set()
    for n, chain in enumerate(panel.chains):
        if len(chain) <= panel.common[n] + 1:
            continue
        level_path, index = chain[panel.common[n]]
        p = placed
        for key in level_path:
            p = p.children[key]
        a, b = p.edges[index]
        if p.rank_of.get(a) == p.rank_of.get(b):
            out.add(n)
    return frozenset(out)


def _join(panel: Panel, chain: list[tuple[tuple, int]]) -> list[list]:
    """The routes of consecutive level edges joined through the frames they cross: points
    [o, r, kind, whether the route ends at a port]."""
    path: list[list] = []
    for level_path, index in chain:
        p, oo, ro = panel.where[level_path]
        route = _level_route(p, oo, ro, index)
        if route is None:
            continue
        route = [list(q) for q in route]
        if path:
            if is_thin(p.edges[index][0]) and not path[-1][3]:  # into a frame, to its port
                path.pop()
                path[-1][0] = route[0][0]
                route[0][2] = "L"
            else:  # out of a frame, from the port inside
                route[1][0] = path[-1][0]
                route = route[1:]
        tail_is_port = is_thin(p.edges[index][1])
        path += [
            q + [tail_is_port] if i == len(route) - 1 else q + [False] for i, q in enumerate(route)
        ]
    return path


def _same_rank(panel: Panel, n: int, boxes: dict) -> list[Point]:
    """Two items of one rank: down out of the first (through its clusters' bottom ports), into
    the gap below the rank, across, and up into the other (through its clusters' bottom
    ports, see `same_rank_edges`)."""
    lo, hi = panel.ends[n]
    chain, c = panel.chains[n], panel.common[n]
    p, oo, ro = panel.where[chain[c][0]]
    a, b = p.edges[chain[c][1]]
    dip = ro + p.bands[p.rank_of[a]][1] + RANK_GAP * (0.25 + 0.1 * (n % 4))

    def bottom(k: str) -> float:
        return ro + p.centers[k][1] + p.sizes[k][1] / 2

    out = [tuple(q[:3]) for q in _join(panel, chain[:c])]
    if out:
        out.append((out[-1][0], bottom(a), "L"))
    else:
        out = [(boxes[lo][0], boxes[lo][1] + boxes[lo][3] / 2, "M")]
    into = [tuple(q[:3]) for q in _join(panel, chain[c + 1 :])]
    if into:
        into = [(into[0][0], bottom(b), "L")] + [(o, r, "L") for o, r, _ in into[:1]] + into[1:]
    else:
        into = [(boxes[hi][0], boxes[hi][1] + boxes[hi][3] / 2, "L")]
    return out + [(out[-1][0], dip, "L"), (into[0][0], dip, "L")] + into


def edge_path(panel: Panel, n: int, boxes: dict) -> list[Point]:
    """The whole path of view edge n from its upper box to its lower box."""
    lo, hi = panel.ends[n]
    level_path, index = panel.chains[n][panel.common[n]]
    p, oo, ro = panel.where[level_path]
    a, b = p.edges[index]
    if p.rank_of.get(a) == p.rank_of.get(b):
        return _same_rank(panel, n, boxes)
    path = _join(panel, panel.chains[n])
    lo_o, lo_r, _, lo_sr = boxes[lo]
    hi_o, hi_r, _, hi_sr = boxes[hi]
    if not path:  # ends on one rank: a straight line
        return [(lo_o, lo_r + lo_sr / 2, "M"), (hi_o, hi_r - hi_sr / 2, "L")]
    path[0][:2] = [lo_o, lo_r + lo_sr / 2]
    path[1][0] = lo_o
    path[-1][:2] = [hi_o, hi_r - hi_sr / 2]
    path[-2][0] = hi_o
    return [(q[0], q[1], q[2]) for q in path]


def spread_ports(paths: list[tuple[str, str, list[Point]]], boxes: dict) -> list:
    """Edges meeting one side of a box spread over its middle, ordered by where they come
    from, so arrows do not pile onto one point."""
    paths = [(lo, hi, [list(q) for q in pts]) for lo, hi, pts in paths]
    sides: dict[tuple[str, str], list[tuple[float, int, bool]]] = {}
    for n, (lo, hi, pts) in enumerate(paths):
        if len(pts) < 3:
            continue
        for key, at, toward, first in ((lo, pts[0], pts[2], True), (hi, pts[-1], pts[-3], False)):
            side = "end" if at[1] > boxes[key][1] else "start"
            sides.setdefault((key, side), []).append((toward[0], n, first))
    for (key, _), ends in sides.items():
        co, _, so, _ = boxes[key]
        ends.sort()
        step = min(16.0, 0.6 * so / max(len(ends) - 1, 1))
        for i, (_, n, first) in enumerate(ends):
            port = co + (i - (len(ends) - 1) / 2) * step
            pts = paths[n][2]
            for j in (0, 1) if first else (-1, -2):
                pts[j][0] = port
    return [(lo, hi, [tuple(q) for q in pts]) for lo, hi, pts in paths]


def curve(pts: list[Point]) -> tuple[list[tuple[float, float]], list[int]]:
    """matplotlib path vertices and codes (1 move, 2 line, 4 cubic) of a route."""
    verts, codes = [(pts[0][0], pts[0][1])], [1]
    for (o1, r1, _), (o2, r2, kind) in zip(pts, pts[1:]):
        if kind == "C":
            mid = (r1 + r2) / 2
            verts += [(o1, mid), (o2, mid), (o2, r2)]
            codes += [4, 4, 4]
        else:
            verts.append((o2, r2))
            codes.append(2)
    return verts, codes


def links(
    twins: list[tuple[str, str]], pf: Placed, pb: Placed, o0: float, bw_o: float, r0: float
) -> list[list[tuple[float, float]]]:
    """Dashed links from each top-level forward item to its gradient twin, along lanes below
    the boxes of their rank: shorter links run nearer the boxes, so links nest, never cross."""
    by_rank: dict[int, list[tuple[str, str]]] = {}
    for f, b in twins:
        if f in pf.centers and b in pb.centers:
            by_rank.setdefault(pf.rank_of[f], []).append((f, b))
    out = []
    for r, pairs in by_rank.items():
        start, _ = pf.bands[r]
        tallest = max(
            [pf.sizes[k][1] for k in pf.order[r] if k in pf.sizes and not is_thin(k)]
            + [pb.sizes[k][1] for k in pb.order[r] if k in pb.sizes and not is_thin(k)]
        )
        pairs.sort(key=lambda fb: (bw_o + pb.centers[fb[1]][0]) - (o0 + pf.centers[fb[0]][0]))
        for lane, (f, b) in enumerate(pairs):
            f_at = o0 + pf.centers[f][0] + pf.sizes[f][0] / 2 - 6.0
            b_at = bw_o + pb.centers[b][0] - pb.sizes[b][0] / 2 + 6.0
            f_end = r0 + pf.centers[f][1] + pf.sizes[f][1] / 2
            b_end = r0 + pb.centers[b][1] + pb.sizes[b][1] / 2
            lane_r = r0 + start + tallest + LANE_GAP * (lane + 1)
            out.append([(f_at, f_end), (f_at, lane_r), (b_at, lane_r), (b_at, b_end)])
    return out
