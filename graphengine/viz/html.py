"""One self-contained page: the picture as inline SVG, the details of every box as JSON, and a
small script that shows them when a box is hovered or clicked. Nothing is fetched."""

from __future__ import annotations

import io
import json
import re
from typing import Any

from graphengine.viz.view import View

STYLE = """
body { margin: 0; font-family: "DejaVu Sans", Verdana, sans-serif; color: #263238;
       display: flex; height: 100vh; }
#graph { flex: 1; overflow: auto; padding: 8px; }
#graph svg { height: auto; max-width: none; }
#panel { width: 340px; border-left: 1px solid #CFD8DC; padding: 12px; overflow: auto;
         background: #FAFAFA; font-size: 13px; }
#panel h2 { font-size: 15px; margin: 0 0 6px 0; }
#panel table { border-collapse: collapse; width: 100%; margin-top: 6px; font-size: 12px; }
#panel td, #panel th { border: 1px solid #CFD8DC; padding: 2px 4px; text-align: left; }
g[id^="ge-"] { cursor: pointer; }
svg.focus g[id^="ge-"] { opacity: 0.3; }
svg.focus g[id^="ge-"].on { opacity: 1; }
"""

SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById("ge-data").textContent);
  var svg = document.querySelector("#graph svg");
  var panel = document.getElementById("panel");
  var pinned = null;
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) {
    return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]; }); }
  function num(x) { return typeof x === "number" ? (Math.abs(x) >= 1e4 || (x !== 0 &&
    Math.abs(x) < 1e-3) ? x.toExponential(3) : x.toPrecision(4)) : "-"; }
  function boxOf(el) {
    while (el && el !== svg) {
      var m = el.id && /^ge-(\\d+)-/.exec(el.id);
      if (m) return +m[1];
      el = el.parentNode;
    }
    return null;
  }
  function mark(i) {
    var on = i === null ? [] : [i].concat(data.boxes[i].twins);
    svg.classList.toggle("focus", i !== null);
    svg.querySelectorAll('g[id^="ge-"]').forEach(function (g) {
      var m = /^ge-(\\d+)-/.exec(g.id);
      g.classList.toggle("on", m !== null && on.indexOf(+m[1]) >= 0);
    });
  }
  function show(i) {
    if (i === null) { panel.innerHTML = data.help; return; }
    var b = data.boxes[i], h = "<h2>" + esc(b.title) + "</h2><table>";
    Object.keys(b.info).forEach(function (k) {
      if (k === "weights" || k === "ops") return;
      var v = b.info[k];
      if (Array.isArray(v)) v = v.join(", ");
      if (typeof v === "number") v = v.toLocaleString();
      h += "<tr><th>" + esc(k) + "</th><td>" + esc(v) + "</td></tr>";
    });
    if (b.profile) Object.keys(b.profile).forEach(function (k) {
      if (k !== "color" && k !== "text") h += "<tr><th>" + esc(k) + "</th><td>" +
        esc(num(b.profile[k])) + "</td></tr>";
    });
    h += "</table>";
    if (b.info.weights && b.info.weights.length) {
      h += "<table><tr><th>weight</th><th>shape</th><th>min</th><th>max</th><th>mean</th>" +
           "<th>std</th></tr>";
      b.info.weights.forEach(function (w) {
        h += "<tr><td>" + esc(w.name) + (w.trainable ? "" : " (frozen)") + "</td><td>" +
             esc(w.shape) + "</td><td>" + num(w.min) + "</td><td>" + num(w.max) + "</td><td>" +
             num(w.mean) + "</td><td>" + num(w.std) + "</td></tr>";
      });
      h += "</table>";
    }
    if (b.info.ops) h += "<p>" + b.info.ops.map(esc).join("<br>") + "</p>";
    panel.innerHTML = h;
  }
  svg.addEventListener("mouseover", function (e) {
    if (pinned !== null) return;
    var i = boxOf(e.target); mark(i); show(i);
  });
  svg.addEventListener("click", function (e) {
    var i = boxOf(e.target); pinned = (i === pinned) ? null : i;
    mark(i); show(i);
  });
  show(null);
})();
"""


def inline_svg(svg_text: str) -> str:
    """The SVG element alone, without the XML prolog, DOCTYPE, metadata or namespace URLs
    (HTML5 knows inline SVG), so the page names no outside address."""
    svg_text = re.sub(r"<\?xml[^>]*\?>", "", svg_text)
    svg_text = re.sub(r"<!DOCTYPE[^>]*>", "", svg_text)
    svg_text = re.sub(r"<metadata>.*?</metadata>", "", svg_text, flags=re.S)
    svg_text = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg_text)
    return svg_text.strip()


def page(view: View, fig: Any, profile_note: str = "") -> str:
    from graphengine.viz.render import save

    buf = io.StringIO()
    save(fig, buf, "svg", 72)
    boxes = view.all_boxes()
    index = {b.key: i for i, b in enumerate(boxes)}
    twins: dict[str, list[int]] = {}
    for b in boxes:
        if b.twin is not None and b.twin in index:
            twins.setdefault(b.twin, []).append(index[b.key])
            twins.setdefault(b.key, []).append(index[b.twin])
    data = {
        "model": view.name,
        "help": "<h2>" + _escape(view.name) + "</h2><p>Hover a box for its shapes, parameters and "
        "weight statistics; click to keep it.</p>"
        + (f"<p>{profile_note}</p>" if profile_note else ""),
        "boxes": [
            {
                "key": b.key,
                "title": b.title,
                "info": b.info,
                "profile": b.profile,
                "twins": twins.get(b.key, []),
            }
            for b in boxes
        ],
    }
    payload = json.dumps(data, default=str).replace("</", "<\\/")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_escape(view.name)}</title><style>{STYLE}</style></head><body>"
        f'<div id="graph">{inline_svg(buf.getvalue())}</div><div id="panel"></div>'
        f'<script type="application/json" id="ge-data">{payload}</script>'
        f"<script>{SCRIPT}</script></body></html>\n"
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
