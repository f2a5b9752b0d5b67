"""Draws a `View` with matplotlib: boxes sized from their measured text, placed by
`viz.layout`, edges as curves through the gaps between ranks (never across a box), nested
models as dashed clusters, and the backward panel mirrored beside the forward one with a dashed
link from each box to its gradient. Saves .png and .svg; `scene` is shared with the page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphengine.viz.layout import layout_pair
from graphengine.viz.routes import (
    build_panel,
    curve,
    edge_path,
    links,
    place_absolute,
    reverse,
    same_rank_edges,
    spread_ports,
)
from graphengine.viz.scale import DARK_TEXT, Scale, text_color
from graphengine.viz.view import Box, View

FONT = "DejaVu Sans"  # ships with matplotlib, so sizes measured here are sizes drawn anywhere
TITLE_SIZE, LINE_SIZE = 10.0, 8.5
PAD_X, PAD_Y, LINE_H = 9.0, 5.0, 1.4
CLUSTER_PAD, CLUSTER_LABEL = 12.0, 9.0
LABEL_GAP = 6.0  # between a cluster's label and the nearest edge crossing its side
MARGIN, PANEL_GAP, PANEL_TITLE = 18.0, 70.0, 22.0
LEGEND_W, LEGEND_BAR, LEGEND_H = 240.0, 10.0, 44.0  # the colour scale under the picture
ARROW = 7.0
HEADER = {
    "input": "#1565C0",
    "layer": "#37474F",
    "model": "#4527A0",
    "op": "#00695C",
    "grad": "#BF360C",
    "loss": "#6A1B9A",
}
EDGE = {"forward": "#455A64", "backward": "#BF360C", "link": "#9E9E9E"}


@dataclass
class Scene:
    """Everything placed, in picture points (y downward): box rectangles (x, y, w, h),
    cluster rectangles, edge paths (vertices and matplotlib path codes) and panel titles."""

    width: float
    height: float
    boxes: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    clusters: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    paths: list[tuple[str, list, list]] = field(default_factory=list)  # (style, verts, codes)
    arrows: list[tuple[str, tuple, tuple]] = field(default_factory=list)  # (style, tip, dir)
    titles: list[tuple[float, float, str]] = field(default_factory=list)
    note: tuple[float, float, str] | None = None
    legend: tuple[float, float, Scale] | None = None  # its top left corner


class Measure:
    """Text widths in points, from the Agg renderer at 72 dpi (what the pictures are drawn
    with; the same font in SVG paths)."""

    def __init__(self) -> None:
        from matplotlib.backends.backend_agg import RendererAgg
        from matplotlib.font_manager import FontProperties

        self._renderer = RendererAgg(1, 1, 72)
        self.props = {
            "bold": FontProperties(family=FONT, size=TITLE_SIZE, weight="bold"),
            "title": FontProperties(family=FONT, size=TITLE_SIZE),
            "line": FontProperties(family=FONT, size=LINE_SIZE),
            "cluster": FontProperties(family=FONT, size=CLUSTER_LABEL, weight="bold"),
        }
        self._cache: dict[tuple[str, str], float] = {}

    def width(self, text: str, style: str) -> float:
        if (text, style) not in self._cache:
            w, _, _ = self._renderer.get_text_width_height_descent(
                text, self.props[style], ismath=False
            )
            self._cache[(text, style)] = w
        return self._cache[(text, style)]


def box_lines(box: Box, show_trainable: bool) -> list[str]:
    lines = list(box.lines)
    if box.profile is not None:
        lines.append(box.profile["text"])
    if show_trainable and box.trainable is not None:
        lines.append("Trainable" if box.trainable else "Non-trainable")
    return lines


def box_size(box: Box, m: Measure, show_trainable: bool) -> tuple[float, float]:
    if box.show_name:
        title = m.width(box.name, "bold") + m.width(f" ({box.kind})", "title")
    else:
        title = m.width(box.kind, "bold")
    lines = box_lines(box, show_trainable)
    width = max([title] + [m.width(s, "line") for s in lines]) + 2 * PAD_X
    height = TITLE_SIZE * LINE_H + 2 * PAD_Y
    if lines:
        height += len(lines) * LINE_SIZE * LINE_H + 2 * PAD_Y
    return max(width, 70.0), height


class _Geometry:
    """Layout space (o along a rank, r across ranks) to picture space, per rankdir."""

    def __init__(self, rankdir: str, extent_r: float) -> None:
        self.rankdir, self.extent_r = rankdir, extent_r

    def size(self, w: float, h: float) -> tuple[float, float]:
        """A picture-space size as (o, r)."""
        return (w, h) if self.rankdir in ("TB", "BT") else (h, w)

    def pads(self, left: float, right: float, top: float, bottom: float) -> tuple:
        return {
            "TB": (left, right, top, bottom),
            "BT": (left, right, bottom, top),
            "LR": (top, bottom, left, right),
            "RL": (top, bottom, right, left),
        }[self.rankdir]

    def point(self, o: float, r: float) -> tuple[float, float]:
        if self.rankdir in ("BT", "RL"):
            r = self.extent_r - r
        return (o, r) if self.rankdir in ("TB", "BT") else (r, o)

    def rect(self, o: float, r: float, so: float, sr: float) -> tuple:
        """(x, y, w, h) of a rectangle centred at (o, r) with sizes (so, sr)."""
        x, y = self.point(o, r)
        w, h = (so, sr) if self.rankdir in ("TB", "BT") else (sr, so)
        return (x - w / 2, y - h / 2, w, h)


def scene(view: View, show_trainable: bool = False) -> Scene:
    """Measures, lays out and routes everything; the backward panel (if any) beside the
    forward one, mirrored, with links between twins."""
    m = Measure()
    geo = _Geometry(view.rankdir, 0.0)
    sizes = {b.key: geo.size(*box_size(b, m, show_trainable)) for b in view.all_boxes()}

    def frame(c: Any) -> tuple[tuple, tuple, tuple | None]:
        top = CLUSTER_LABEL * 1.6 + CLUSTER_PAD
        label = m.width(c.label, "cluster") + 2 * CLUSTER_PAD
        # the label's side in layout space, where edges entering (TB) or leaving (BT) cross
        side = {"TB": "top", "BT": "bottom"}.get(view.rankdir)
        room = (side, label - CLUSTER_PAD + LABEL_GAP) if side else None
        return geo.pads(CLUSTER_PAD, CLUSTER_PAD, top, CLUSTER_PAD), geo.size(label, 0.0), room

    fw = build_panel(view.boxes, view.clusters, view.edges, sizes, frame, True)
    bw, pb = None, None
    if view.grad_boxes:
        bw = build_panel(view.grad_boxes, view.grad_clusters, view.grad_edges, sizes, frame, False)
    pf, pb = layout_pair(fw.root, bw.root if bw else None, links=bw is not None)
    if bw is not None and pb is not None and same_rank_edges(bw, pb):
        below = same_rank_edges(bw, pb)  # laid out again, entering their clusters from below
        fw = build_panel(view.boxes, view.clusters, view.edges, sizes, frame, True)
        bw = build_panel(
            view.grad_boxes, view.grad_clusters, view.grad_edges, sizes, frame, False, below
        )
        pf, pb = layout_pair(fw.root, bw.root, links=True)
    title = PANEL_TITLE if pb is not None else 0.0
    o0, r0 = (MARGIN, MARGIN + title) if view.rankdir in ("TB", "BT") else (MARGIN + title, MARGIN)
    boxes: dict[str, tuple] = {}
    clusters: dict[str, tuple] = {}
    place_absolute(fw, pf, o0, r0, boxes, clusters)
    bw_o = o0 + pf.extent[0] + PANEL_GAP + title
    if bw is not None and pb is not None:
        place_absolute(bw, pb, bw_o, r0, boxes, clusters)
    extent_o = bw_o + pb.extent[0] if pb is not None else o0 + pf.extent[0]
    extent_r = r0 + pf.extent[1] + MARGIN
    geo.extent_r = extent_r
    size = (extent_o + MARGIN, extent_r)
    out = Scene(*(size if view.rankdir in ("TB", "BT") else size[::-1]))
    if view.profile_note:  # a footer line under the picture
        note = m.width(view.profile_note, "line") + 2 * MARGIN
        out.note = (MARGIN, out.height + 4.0, view.profile_note)
        out.width, out.height = max(out.width, note), out.height + 2 * LINE_SIZE + 8.0
    if view.scale is not None:  # and the colour scale under it
        out.legend = (MARGIN, out.height + 2.0, view.scale)
        title = m.width(view.scale.title, "line") + 2 * MARGIN
        out.width = max(out.width, LEGEND_W + 2 * MARGIN + 40.0, title)
        out.height += LEGEND_H + MARGIN
    for k, (co, cr, so, sr) in boxes.items():
        out.boxes[k] = geo.rect(co, cr, so, sr)
    for k, (co, cr, so, sr) in clusters.items():
        out.clusters[k] = geo.rect(co, cr, so, sr)
    for panel, style, down in ((fw, "forward", True), (bw, "backward", False)):
        if panel is None:
            continue
        paths = [(lo, hi, edge_path(panel, n, boxes)) for n, (lo, hi) in enumerate(panel.ends)]
        for _, _, pts in spread_ports(paths, boxes):
            pts = pts if down else reverse(pts)
            verts, codes = curve(pts)
            verts = [geo.point(o, r) for o, r in verts]
            out.paths.append((style, verts, codes))
            out.arrows.append((style, verts[-1], _heading(verts)))
    if pb is not None:
        pairs = [(b.twin, k) for k, b in view.grad_boxes.items() if b.twin]
        pairs += [(c.twin, k) for k, c in view.grad_clusters.items() if c.twin]
        for pts in links(pairs, pf, pb, o0, bw_o, r0):
            out.paths.append(("link", [geo.point(o, r) for o, r in pts], [1, 2, 2, 2]))
        for o, label in ((o0, "forward"), (bw_o, "backward (gradients)")):
            x, y = geo.point(o, r0 - 8.0) if view.rankdir in ("TB", "BT") else (MARGIN, o - 8.0)
            out.titles.append((x, y, label))
    return out


def _heading(verts: list[tuple[float, float]]) -> tuple[float, float]:
    """The unit direction a path arrives in (from the last vertex before the tip that differs
    from it: a curve's last control point is straight above its end)."""
    x1, y1 = verts[-1]
    for x0, y0 in reversed(verts[:-1]):
        d = ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5
        if d > 1e-6:
            return ((x1 - x0) / d, (y1 - y0) / d)
    return (0.0, 1.0)


def draw(view: View, sc: Scene, show_trainable: bool = False, dpi: float = 100.0) -> Any:
    """A matplotlib Figure of the scene, one data unit per point; every artist of box i has
    the SVG id `ge-i-...` (the page finds boxes by it)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch, PathPatch, Polygon, Rectangle
    from matplotlib.path import Path

    fig = Figure(figsize=(sc.width / 72.0, sc.height / 72.0), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, sc.width)
    ax.set_ylim(sc.height, 0)
    ax.axis("off")
    for c, (key, (x, y, w, h)) in enumerate(sc.clusters.items()):
        label = (view.clusters.get(key) or view.grad_clusters[key]).label
        ax.add_patch(
            FancyBboxPatch(
                (x, y),
                w,
                h,
                boxstyle="round,pad=0,rounding_size=6",
                fill=True,
                facecolor="#FAFAFA",
                edgecolor="#78909C",
                linestyle=(0, (4, 3)),
                linewidth=1.0,
            )
        )
        t = ax.text(
            x + CLUSTER_PAD,
            y + CLUSTER_PAD * 0.6,
            label,
            fontsize=CLUSTER_LABEL,
            fontweight="bold",
            family=FONT,
            color="#455A64",
            va="top",
            ha="left",
        )
        t.set_gid(f"cluster-label-{c}")
    for n, (style, verts, codes) in enumerate(sc.paths):
        color = EDGE[style]
        dashed = style == "link"
        edge = PathPatch(
            Path(verts, codes),
            fill=False,
            edgecolor=color,
            linewidth=0.9 if dashed else 1.2,
            linestyle=(0, (3, 2)) if dashed else "-",
        )
        edge.set_gid(f"edge-{style}-{n}")
        ax.add_patch(edge)
    for style, (x1, y1), (ux, uy) in sc.arrows:
        bx, by = x1 - ux * ARROW, y1 - uy * ARROW
        wing = [(bx + uy * 3.2, by - ux * 3.2), (x1, y1), (bx - uy * 3.2, by + ux * 3.2)]
        ax.add_patch(Polygon(wing, closed=True, facecolor=EDGE[style], edgecolor=EDGE[style]))
    for i, b in enumerate(view.all_boxes()):
        _draw_box(ax, b, sc.boxes[b.key], i, show_trainable, FancyBboxPatch)
    if sc.note is not None:
        x, y, text = sc.note
        ax.text(x, y, text, fontsize=LINE_SIZE, family=FONT, color="#37474F", va="top")
    if sc.legend is not None:
        _draw_legend(ax, *sc.legend, Rectangle)
    for x, y, label in sc.titles:
        ax.text(
            x,
            y,
            label,
            fontsize=11,
            fontweight="bold",
            family=FONT,
            color="#263238",
            va="bottom",
            ha="left",
        )
    return fig


def _draw_box(
    ax: Any,
    b: Box,
    rect: tuple,
    i: int,
    show_trainable: bool,
    FancyBboxPatch: Any,
) -> None:
    x, y, w, h = rect
    head = TITLE_SIZE * LINE_H + 2 * PAD_Y
    fill = b.profile["color"] if b.profile is not None else "#FFFFFF"
    body = FancyBboxPatch(
        (x, y),
        w,
        h,
        boxstyle="round,pad=0,rounding_size=4",
        facecolor=fill,
        edgecolor=HEADER[b.role],
        linewidth=1.2,
    )
    body.set_gid(f"ge-{i}-box")
    ax.add_patch(body)
    header = FancyBboxPatch(
        (x, y),
        w,
        head,
        boxstyle="round,pad=0,rounding_size=4",
        facecolor=HEADER[b.role],
        edgecolor=HEADER[b.role],
        linewidth=1.2,
    )
    header.set_gid(f"ge-{i}-head")
    ax.add_patch(header)
    ty = y + head / 2
    tx = x + PAD_X
    if b.show_name:
        name = ax.text(
            tx,
            ty,
            b.name,
            fontsize=TITLE_SIZE,
            fontweight="bold",
            family=FONT,
            color="white",
            va="center_baseline",
            ha="left",
        )
        name.set_gid(f"ge-{i}-name")
        kind = ax.annotate(
            f" ({b.kind})",
            xycoords=name,
            xy=(1, 0),
            va="bottom",
            ha="left",
            fontsize=TITLE_SIZE,
            family=FONT,
            color="#ECEFF1",
        )
        kind.set_gid(f"ge-{i}-kind")
    else:
        t = ax.text(
            tx,
            ty,
            b.kind,
            fontsize=TITLE_SIZE,
            fontweight="bold",
            family=FONT,
            color="white",
            va="center_baseline",
            ha="left",
        )
        t.set_gid(f"ge-{i}-name")
    ly = y + head + PAD_Y + LINE_SIZE * LINE_H / 2
    lines = box_lines(b, show_trainable)
    for j, line in enumerate(lines):
        color = text_color(fill)  # readable on any colouring
        if show_trainable and j == len(lines) - 1 and b.trainable is not None and fill == "#FFFFFF":
            color = "#2E7D32" if b.trainable else "#C62828"
        t = ax.text(
            x + PAD_X,
            ly,
            line,
            fontsize=LINE_SIZE,
            family=FONT,
            color=color,
            va="center_baseline",
            ha="left",
        )
        t.set_gid(f"ge-{i}-line{j}")
        ly += LINE_SIZE * LINE_H


def _draw_legend(ax: Any, x: float, y: float, scale: Scale, Rectangle: Any) -> None:
    """The colour scale: its title, a bar of the fills it uses and labelled ticks."""
    ax.text(x, y, scale.title, fontsize=LINE_SIZE, family=FONT, color=DARK_TEXT, va="top")
    top, steps = y + 2 * LINE_SIZE, 48
    for k in range(steps):
        fill = scale.at((k + 0.5) / steps)
        ax.add_patch(
            Rectangle((x + k * LEGEND_W / steps, top), LEGEND_W / steps + 0.3, LEGEND_BAR,
                      facecolor=fill, edgecolor=fill, linewidth=0)
        )  # fmt: skip
    ax.add_patch(Rectangle((x, top), LEGEND_W, LEGEND_BAR, fill=False, edgecolor="#78909C"))
    for k, (at, label) in enumerate(scale.ticks()):
        tx = x + at * LEGEND_W
        ax.plot([tx, tx], [top + LEGEND_BAR, top + LEGEND_BAR + 3], color="#78909C", lw=0.8)
        ha = "left" if at < 0.05 else ("right" if at > 0.95 else "center")
        t = ax.text(tx, top + LEGEND_BAR + 4, label, fontsize=LINE_SIZE - 1, family=FONT,
                    color=DARK_TEXT, va="top", ha=ha)  # fmt: skip
        t.set_gid(f"legend-tick-{k}")


def save(fig: Any, path: Any, fmt: str, dpi: float) -> None:
    """Writes `fig` (to a path, or an SVG to a text stream); the same figure gives the same
    bytes (no date in an SVG, fixed ids); SVG text stays text (`viz.svg`)."""
    if fmt == "svg":
        from graphengine.viz.svg import write_svg

        write_svg(fig, path)
        return
    fig.savefig(path, format=fmt, dpi=dpi, facecolor="white")
