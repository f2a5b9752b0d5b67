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
#main { flex: 1; display: flex; flex-direction: column; min-width: 0; }
#tools { display: flex; gap: 6px; align-items: center; padding: 6px 8px; font-size: 13px;
         border-bottom: 1px solid #CFD8DC; background: #FAFAFA; }
#tools input { width: 220px; padding: 3px 6px; font-size: 13px; }
#tools button { min-width: 30px; padding: 2px 8px; font-size: 13px; cursor: pointer; }
#count { color: #546E7A; min-width: 70px; }
#graph { flex: 1; overflow: hidden; position: relative; cursor: grab; background: #FFFFFF; }
#graph.dragging { cursor: grabbing; }
#canvas { position: absolute; left: 0; top: 0; transform-origin: 0 0; }
#canvas svg { display: block; }
#panel { width: 340px; border-left: 1px solid #CFD8DC; padding: 12px; overflow: auto;
         background: #FAFAFA; font-size: 13px; }
#panel h2 { font-size: 15px; margin: 0 0 6px 0; }
#panel table { border-collapse: collapse; width: 100%; margin-top: 6px; font-size: 12px;
               table-layout: fixed; overflow-wrap: anywhere; }
#panel td, #panel th { border: 1px solid #CFD8DC; padding: 2px 4px; text-align: left; }
g[id^="ge-"] { cursor: pointer; }
svg.focus g[id^="ge-"] { opacity: 0.25; }
svg.focus g[id^="ge-"].on { opacity: 1; }
g.hit path { stroke: #FF6F00 !important; stroke-width: 3.5px !important; }
"""

TOOLS = (
    '<div id="tools"><input id="search" type="search" placeholder="Search layers (Enter: next)"'
    ' aria-label="Search layers"><span id="count"></span>'
    '<button id="zoom-out" title="Zoom out (-)">&minus;</button>'
    '<button id="zoom-in" title="Zoom in (+)">+</button>'
    '<button id="zoom-fit" title="Fit the picture (0)">fit</button>'
    '<span style="color:#78909C">wheel: zoom · drag: pan · click a box: keep it</span></div>'
)

SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById("ge-data").textContent);
  var view = document.getElementById("graph"), canvas = document.getElementById("canvas");
  var svg = canvas.querySelector("svg"), panel = document.getElementById("panel");
  var search = document.getElementById("search"), count = document.getElementById("count");
  var pinned = null, hits = [], hit = -1, s = 1, tx = 0, ty = 0, drag = null;
  function esc(t) { return String(t).replace(/[&<>"]/g, function (c) {
    return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]; }); }
  function num(x) { return typeof x === "number" ? (Math.abs(x) >= 1e4 || (x !== 0 &&
    Math.abs(x) < 1e-3) ? x.toExponential(3) : x.toPrecision(4)) : "-"; }
  function place() {
    canvas.style.transform = "translate(" + tx + "px," + ty + "px) scale(" + s + ")";
  }
  function zoom(f, cx, cy) {
    var r = view.getBoundingClientRect(), n = Math.min(8, Math.max(0.05, s * f));
    if (cx === undefined) { cx = r.width / 2; cy = r.height / 2; }
    tx = cx - (cx - tx) * n / s; ty = cy - (cy - ty) * n / s; s = n; place();
  }
  function fit() {
    var r = view.getBoundingClientRect();
    s = 1; tx = 0; ty = 0; place();
    var w = svg.getBoundingClientRect();
    s = Math.min(1, (r.width - 16) / w.width, (r.height - 16) / w.height);
    tx = Math.max(8, (r.width - w.width * s) / 2); ty = 8; place();
  }
  function centre(i) {
    var g = document.getElementById("ge-" + i + "-box");
    if (!g) return;
    if (s < 0.8) zoom(1 / s);
    var r = view.getBoundingClientRect(), b = g.getBoundingClientRect();
    tx += r.left + r.width / 2 - (b.left + b.width / 2);
    ty += r.top + r.height / 2 - (b.top + b.height / 2); place();
  }
  function boxOf(el) {
    while (el && el !== svg) {
      var m = el.id && /^ge-(\\d+)-/.exec(el.id);
      if (m) return +m[1];
      el = el.parentNode;
    }
    return null;
  }
  function mark(on, outlined) {
    svg.classList.toggle("focus", on.length > 0);
    svg.querySelectorAll('g[id^="ge-"]').forEach(function (g) {
      var m = /^ge-(\\d+)-(\\w+)/.exec(g.id);
      g.classList.toggle("on", m !== null && on.indexOf(+m[1]) >= 0);
      g.classList.toggle("hit", m !== null && m[2] === "box" && outlined.indexOf(+m[1]) >= 0);
    });
  }
  function markBox(i) {
    if (hits.length) { mark(hits, i === null ? hits : hits.concat([i])); return; }
    mark(i === null ? [] : [i].concat(data.boxes[i].twins), []);
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
  function find(q) {
    q = q.trim().toLowerCase();
    hits = [];
    if (q) data.boxes.forEach(function (b, i) {
      if ((b.title + " " + b.key).toLowerCase().indexOf(q) >= 0) hits.push(i);
    });
    hit = hits.length ? 0 : -1;
    count.textContent = q ? (hits.length ? "1 of " + hits.length : "no match") : "";
    markBox(null);
    if (hits.length) { centre(hits[0]); show(hits[0]); } else show(pinned);
  }
  function next() {
    if (!hits.length) return;
    hit = (hit + 1) % hits.length;
    count.textContent = (hit + 1) + " of " + hits.length;
    centre(hits[hit]); show(hits[hit]);
  }
  svg.addEventListener("mouseover", function (e) {
    if (pinned !== null || drag) return;
    var i = boxOf(e.target); markBox(i); show(i);
  });
  svg.addEventListener("click", function (e) {
    if (drag && drag.moved) return;
    var i = boxOf(e.target); pinned = (i === pinned) ? null : i;
    markBox(i); show(i);
  });
  view.addEventListener("wheel", function (e) {
    e.preventDefault();
    var r = view.getBoundingClientRect();
    zoom(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
  }, {passive: false});
  view.addEventListener("mousedown", function (e) {
    if (e.button === 0) drag = {x: e.clientX, y: e.clientY, tx: tx, ty: ty, moved: false};
  });
  window.addEventListener("mousemove", function (e) {
    if (!drag) return;
    var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) { drag.moved = true; view.classList.add("dragging"); }
    if (drag.moved) { tx = drag.tx + dx; ty = drag.ty + dy; place(); }
  });
  window.addEventListener("mouseup", function () {
    view.classList.remove("dragging");
    setTimeout(function () { drag = null; }, 0);
  });
  document.getElementById("zoom-in").onclick = function () { zoom(1.25); };
  document.getElementById("zoom-out").onclick = function () { zoom(0.8); };
  document.getElementById("zoom-fit").onclick = fit;
  search.addEventListener("input", function () { find(search.value); });
  search.addEventListener("keydown", function (e) {
    if (e.key === "Enter") next();
    if (e.key === "Escape") { search.value = ""; find(""); }
  });
  document.addEventListener("keydown", function (e) {
    if (e.target === search) return;
    if (e.key === "+" || e.key === "=") zoom(1.25);
    if (e.key === "-") zoom(0.8);
    if (e.key === "0") fit();
    if (e.key === "/") { e.preventDefault(); search.focus(); }
  });
  fit();
  show(null);
  var q = /^#search=(.*)$/.exec(location.hash);
  if (q) { search.value = decodeURIComponent(q[1]); find(search.value); }
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
        "weight statistics; click to keep it. Search names above (Enter: the next match); "
        "wheel or +/− zoom, drag pans.</p>" + (f"<p>{profile_note}</p>" if profile_note else ""),
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
        f'<div id="main">{TOOLS}<div id="graph"><div id="canvas">{inline_svg(buf.getvalue())}'
        '</div></div></div><div id="panel"></div>'
        f'<script type="application/json" id="ge-data">{payload}</script>'
        f"<script>{SCRIPT}</script></body></html>\n"
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
