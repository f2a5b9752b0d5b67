"""DOT text of a `View` (what `model.to_dot()` returns), and running Graphviz's `dot` on it
when that program is installed."""

from __future__ import annotations

import shutil
import subprocess

from graphengine.viz.scale import text_color
from graphengine.viz.view import Box, View

FILL = {
    "input": "#E3F2FD",
    "layer": "#FFFFFF",
    "model": "#EDE7F6",
    "op": "#E0F2F1",
    "grad": "#FBE9E7",
    "loss": "#F3E5F5",
}
LINE = {
    "input": "#1565C0",
    "layer": "#37474F",
    "model": "#4527A0",
    "op": "#00695C",
    "grad": "#BF360C",
    "loss": "#6A1B9A",
}


def quote(text: str) -> str:
    """A DOT double-quoted string (only the quote and the backslash need escaping)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(**attrs: str) -> str:
    return "[" + ", ".join(f"{k}={quote(v)}" for k, v in attrs.items()) + "]"


def _node(box: Box, show_trainable: bool, indent: str) -> str:
    lines = [box.title, *box.lines]
    if box.profile is not None:
        lines.append(box.profile["text"])
    if show_trainable and box.trainable is not None:
        lines.append("Trainable" if box.trainable else "Non-trainable")
    fill = FILL[box.role]
    if box.profile is not None and "color" in box.profile:
        fill = box.profile["color"]
    params = box.info.get("params")
    tooltip = f"{box.title}: {params:,} params" if params is not None else box.title
    attrs = _attrs(
        label="\n".join(lines),
        fillcolor=fill,
        fontcolor=text_color(fill),
        color=LINE[box.role],
        tooltip=tooltip,
    )
    return f"{indent}{quote(box.key)} {attrs};"


def _title(key: str, label: str, boxes: dict, edges: list, indent: str) -> list[str]:
    """A cluster's label as a plain node above its first boxes (joined by invisible edges):
    Graphviz routes edges around nodes, but straight through a cluster's own label."""
    inside = {k for k, b in boxes.items() if key in b.cluster}
    fed = {b for a, b in edges if a in inside and b in inside}
    title = quote("title:" + key)
    out = [
        f'{indent}{title} [shape="plaintext", style="", label={quote(label)}, fontsize="9", '
        'fontname="Helvetica-Bold", fontcolor="#455A64"];'
    ]
    out += [f'{indent}{title} -> {quote(k)} [style="invis"];' for k in inside if k not in fed]
    return out


def _cluster_body(
    view: View,
    boxes: dict,
    clusters: dict,
    edges: list,
    path: tuple,
    show_trainable: bool,
    indent: str,
) -> list[str]:
    out = []
    for key, c in clusters.items():
        if c.cluster == path:
            out.append(f"{indent}subgraph {quote('cluster_' + key)} {{")
            out.append(f'{indent}  label=""; style="dashed,rounded"; color="#78909C";')
            out += _title(key, c.label, boxes, edges, indent + "  ")
            out += _cluster_body(
                view, boxes, clusters, edges, path + (key,), show_trainable, indent + "  "
            )
            out.append(f"{indent}}}")
    out += [_node(b, show_trainable, indent) for b in boxes.values() if b.cluster == path]
    return out


def to_dot(view: View, show_trainable: bool = False, dpi: int = 200) -> str:
    """Valid DOT: boxes as rounded records, nested models as clusters, the backward graph as a
    cluster of its own with dashed links to the forward boxes."""
    out = [
        f"digraph {quote(view.name)} {{",
        f"  graph [rankdir={quote(view.rankdir)}, dpi={quote(str(dpi))}, "
        'fontname="Helvetica", newrank="true", nodesep="0.3", ranksep="0.45"];',
        '  node [shape="box", style="rounded,filled", fontname="Helvetica", fontsize="10", '
        'penwidth="1.2"];',
        '  edge [color="#455A64", penwidth="1.2", arrowsize="0.7"];',
    ]
    if view.scale is not None:  # the legend: the colour scale's ticks as the graph's label
        ticks = ", ".join(f"{label} {view.scale.at(at)}" for at, label in view.scale.ticks())
        legend = f"{view.profile_note}\ncolour: {view.scale.title}: {ticks}"
        out.append(f'  graph [label={quote(legend)}, labelloc="b", labeljust="l", fontsize="9"];')
    out += _cluster_body(view, view.boxes, view.clusters, view.edges, (), show_trainable, "  ")
    out += [f"  {quote(a)} -> {quote(b)};" for a, b in view.edges]
    if view.grad_boxes:
        out.append(f"  subgraph {quote('cluster_backward')} {{")
        out.append('    label="backward (gradients)"; style="dashed"; color="#BF360C";')
        drawn = [(b, a) for a, b in view.grad_edges]  # as written below
        out += _cluster_body(
            view, view.grad_boxes, view.grad_clusters, drawn, (), show_trainable, "    "
        )
        # written against the flow (arrows drawn back), so gradients rank as their layers
        out += [f'    {quote(a)} -> {quote(b)} [color="#BF360C", dir="back"];' for a, b in drawn]
        out.append("  }")
        for key, b in view.grad_boxes.items():
            if b.twin is not None:
                out.append(
                    f"  {quote(b.twin)} -> {quote(key)} "
                    '[style="dashed", color="#9E9E9E", arrowhead="none", '
                    'constraint="false"];'
                )
    out.append("}")
    return "\n".join(out) + "\n"


def graphviz_available() -> bool:
    return shutil.which("dot") is not None


def run_graphviz(dot_text: str, path: str, fmt: str) -> None:
    """Lays out and draws with Graphviz's `dot` program (raises if it fails)."""
    done = subprocess.run(
        [shutil.which("dot") or "dot", f"-T{fmt}", "-o", path],
        input=dot_text.encode("utf-8"),
        capture_output=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"Graphviz dot failed: {done.stderr.decode(errors='replace')[-500:]}")
