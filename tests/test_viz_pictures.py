"""The pictures read back as a user meets them: SVG text that a browser can search, the HTML
viewer's controls, legends and text contrast on coloured boxes, edges clear of every box and
cluster label in the rendered SVG, and the gradient-norm overlay against NumPy backprop."""

from __future__ import annotations

import html.parser
import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import graphengine as ge
from graphengine.viz.dot import graphviz_available
from graphengine.viz.profile import LayerProfile, Profile
from graphengine.viz.scale import Scale, contrast, text_color
from graphengine.viz.view import Options, build_view
from helpers import skipnet

L = ge.layers
SVG = "{http://www.w3.org/2000/svg}"


def residual_net() -> ge.Model:
    """Two inputs, a nested residual block beside a wide branch: in its backward graph a
    gradient accumulates across one rank into the block (a same-rank edge into a cluster)."""
    x = ge.Input(shape=(6,), name="block_in")
    h = L.Dense(6, activation="relu", name="block_dense_1")(x)
    h = L.Dense(6, name="block_dense_2")(h)
    out = L.Activation("relu", name="block_relu")(L.Add(name="block_add")([x, h]))
    block = ge.Model(x, out, name="res_block")
    features = ge.Input(shape=(5,), name="features")
    meta = ge.Input(shape=(2,), name="meta")
    stem = L.Dense(6, activation="relu", name="stem")(features)
    wide = L.Dense(6, activation="tanh", name="wide")(stem)
    merged = L.Concatenate(name="merge")([block(stem), wide, L.Dense(3, name="meta_proj")(meta)])
    hidden = L.Dense(6, activation="relu", name="hidden")(merged)
    logits = L.Dense(3, activation="softmax", name="classes")(L.Add(name="skip")([hidden, stem]))
    return ge.Model([features, meta], logits, name="residual_net")


def texts(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}text")]


# -- real text ---------------------------------------------------------------------------------
def test_svg_names_are_text_elements(tmp_path):
    model = skipnet()
    path = ge.plot_model(model, str(tmp_path / "m.svg"), expand_nested=True, show_backward=True)
    root = ET.parse(path).getroot()
    words = "\n".join("".join(t.itertext()) for t in texts(root))
    view = build_view(model, Options(expand_nested=True, show_backward=True))
    for b in view.all_boxes():
        assert b.name in words, f"{b.name!r} is not text in the SVG"
    for c in [*view.clusters.values(), *view.grad_clusters.values()]:
        assert c.label in words
    assert not [e for e in root.iter(f"{SVG}use")]  # no glyphs drawn as shapes
    for t in texts(root):  # each fits the width it was measured at, in any fallback font
        assert float(t.get("textLength")) > 0 and t.get("lengthAdjust") == "spacingAndGlyphs"
        assert "sans-serif" in t.get("style")
    kind = next(t for t in texts(root) if t.text == " (Dense)")
    assert kind.get("{http://www.w3.org/XML/1998/namespace}space") == "preserve"


class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.svg_text, self.json, self._in = [], [], "", None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in = "json" if dict(attrs).get("type") == "application/json" else tag

    def handle_data(self, data):
        if self._in == "text":
            self.svg_text.append(data)
        elif self._in == "json":
            self.json += data

    def handle_endtag(self, tag):
        self._in = None


def read_page(path: str) -> tuple[_Page, str]:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    page = _Page()
    page.feed(text)
    return page, text


def test_html_viewer_searches_zooms_and_pans_offline(tmp_path):
    model = skipnet()
    path = ge.plot_model(model, str(tmp_path / "m.html"), expand_nested=True, show_backward=True)
    page, text = read_page(path)
    for b in build_view(model, Options(expand_nested=True, show_backward=True)).all_boxes():
        assert b.name in page.svg_text  # Ctrl-F finds every layer
    ids = {a.get("id"): t for t, a in page.tags if a.get("id")}
    assert ids["search"] == "input" and ids["canvas"] == "div"
    assert {ids["zoom-in"], ids["zoom-out"], ids["zoom-fit"]} == {"button"}
    script = next(s for s in re.findall(r"<script>(.*?)</script>", text, re.S))
    for hook in ('"wheel"', '"mousedown"', '"mousemove"', '"input"', "#search=", "scale("):
        assert hook in script
    assert not re.search(r"https?://|//cdn|@import|url\((?!#)", text)  # nothing fetched
    assert not any(a.get("src") or t == "link" for t, a in page.tags)
    assert len(json.loads(page.json)["boxes"]) == len(re.findall(r'id="ge-\d+-box"', text))


# -- colourings: legend and contrast -------------------------------------------------------------
def test_text_colour_reaches_contrast_on_any_fill():
    assert contrast("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast("#777777", "#777777") == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    fills = ["#%02X%02X%02X" % tuple(rng.integers(0, 256, 3)) for _ in range(300)]
    for cmap in ("YlOrRd", "viridis"):
        fills += [Scale("", cmap, 0.0, 1.0).at(p) for p in np.linspace(0, 1, 41)]
    worst = min(contrast(text_color(f), f) for f in fills)
    assert worst >= 4.5
    assert text_color("#FFFFFF") == "#263238" and text_color("#000000") == "#FFFFFF"


def _fills(root: ET.Element) -> dict[str, str]:
    """gid -> the fill of its first drawn element."""
    out = {}
    for g in root.iter(f"{SVG}g"):
        gid = g.get("id") or ""
        for e in g:
            m = re.search(r"fill: (#[0-9a-fA-F]{6})", e.get("style") or "")
            if m:
                out[gid] = m.group(1).upper()
                break
    return out


def fake_profile(model: ge.Model) -> Profile:
    """Times from 0 to 2 ms over the layers, so light and dark fills are both drawn."""
    prof = Profile(model.name, "training step", 8, 1)
    names = ["stem", "block", "skip_add", "branch", "concat", "head"]
    for i, name in enumerate(names):
        prof.layers[name] = LayerProfile(0.1 * i, 2.0 * i / len(names), 64, 128)
    prof.layers["(loss)"] = LayerProfile(0.05, 0.05)
    prof.total_ms = sum(p.total_ms for p in prof.layers.values())
    return prof


def test_profile_picture_has_a_legend_and_readable_text(tmp_path):
    model = skipnet()
    prof = fake_profile(model)
    path = ge.plot_model(model, str(tmp_path / "p.svg"), show_backward=True, profile=prof)
    root = ET.parse(path).getroot()
    fills = _fills(root)
    checked = 0
    for gid, fill in fills.items():
        m = re.fullmatch(r"ge-(\d+)-(line\d+|name|kind)", gid)
        if not m:
            continue
        under = fills[f"ge-{m.group(1)}-{'box' if m.group(2).startswith('line') else 'head'}"]
        assert contrast(fill, under) >= 4.5, f"{gid}: {fill} on {under}"
        checked += 1
    assert checked > 30
    body = {fills[f"ge-{i}-box"] for i in range(len(fills)) if f"ge-{i}-box" in fills}
    assert any(text_color(f) == "#FFFFFF" for f in body)  # some fills are dark: white text
    ticks = {
        g.get("id"): "".join(g.itertext()).strip()
        for g in root.iter(f"{SVG}g")
        if (g.get("id") or "").startswith("legend-tick-")
    }
    peak = max(p.total_ms for p in prof.layers.values())
    assert list(ticks.values()) == ["0 ms", f"{peak / 2:.3g} ms", f"{peak:.3g} ms"]
    words = "".join(root.itertext())
    assert "time per layer (training step)" in words
    dot = model.to_dot(show_backward=True, profile=prof)
    assert f"{peak:.3g} ms" in dot and 'fontcolor="#FFFFFF"' in dot


# -- edges clear of boxes and cluster labels, in the rendered SVG --------------------------------
NUM = r"-?\d+(?:\.\d+)?(?:e-?\d+)?"


def path_points(d: str) -> list[tuple[float, float]]:
    """Points along an SVG path of M, L, C (absolute) commands: curves sampled."""
    out, cur = [], None
    for cmd, args in re.findall(r"([MLCQZz])([^MLCQZz]*)", d):
        xs = [float(v) for v in re.findall(NUM, args)]
        pts = list(zip(xs[0::2], xs[1::2]))
        if cmd == "C":
            for k in range(0, len(pts), 3):
                p0, (p1, p2, p3) = np.array(cur), map(np.array, pts[k : k + 3])
                for t in np.linspace(0, 1, 32):
                    q = (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2
                    out.append(tuple(q + t**3 * p3))
                cur = pts[k + 2]
        elif pts:
            for p in pts:
                if cmd == "L" and cur is not None:
                    out += [tuple(np.array(cur) * (1 - t) + np.array(p) * t)
                            for t in np.linspace(0, 1, 32)]  # fmt: skip
                cur = p
                out.append(p)
    return out


def _bounds(points: list) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def svg_obstacles(root: ET.Element) -> tuple[dict, list]:
    """(obstacles: name -> (x0, y0, x1, y1) of every box and cluster label, edge point lists)
    of one of our SVG pictures."""
    obstacles, edges = {}, []
    for g in root.iter(f"{SVG}g"):
        gid = g.get("id") or ""
        drawn = g.find(f"{SVG}path")
        if re.fullmatch(r"ge-\d+-box", gid):
            obstacles[gid] = _bounds(path_points(drawn.get("d")))
        elif gid.startswith("edge-"):
            edges.append((gid, path_points(drawn.get("d"))))
        elif gid.startswith("cluster-label-"):
            t = g.find(f"{SVG}text")
            x, y, size = float(t.get("x")), float(t.get("y")), 9.0
            obstacles[gid] = (x, y - 0.8 * size, x + float(t.get("textLength")), y + 0.25 * size)
    return obstacles, edges


def crossings(obstacles: dict, edges: list, tol: float = 1.5) -> list[str]:
    bad = []
    for gid, pts in edges:
        for name, (x0, y0, x1, y1) in obstacles.items():
            if any(x0 + tol < x < x1 - tol and y0 + tol < y < y1 - tol for x, y in pts):
                bad.append(f"{gid} runs through {name}")
    return bad


@pytest.mark.parametrize("build", [skipnet, residual_net])
@pytest.mark.parametrize("rankdir", ["TB", "BT", "LR", "RL"])
def test_rendered_edges_miss_boxes_and_cluster_labels(tmp_path, build, rankdir):
    path = ge.plot_model(
        build(), str(tmp_path / "m.svg"), expand_nested=True, show_backward=True, rankdir=rankdir
    )
    obstacles, edges = svg_obstacles(ET.parse(path).getroot())
    assert sum(k.startswith("cluster-label") for k in obstacles) == 2 and len(edges) > 10
    assert crossings(obstacles, edges) == []


def test_the_crossing_check_sees_a_crossing():
    obstacles = {"box": (10.0, 10.0, 50.0, 30.0), "label": (60.0, 0.0, 90.0, 9.0)}
    through = [("e", path_points("M 30 0 L 30 40")), ("f", path_points("M 55 5 L 95 5"))]
    beside = [("g", path_points("M 5 0 C 5 10 5 30 5 40"))]
    assert crossings(obstacles, through) == ["e runs through box", "f runs through label"]
    assert crossings(obstacles, beside) == []


# -- gradient norms ------------------------------------------------------------------------------
def deep_sigmoid(depth: int = 7) -> ge.Model:
    ge.utils.set_random_seed(3)
    x = ge.Input(shape=(5,), name="x")
    h = x
    for i in range(depth):
        h = L.Dense(8, activation="sigmoid", name=f"d{i}")(h)
    model = ge.Model(x, L.Dense(2, name="out")(h), name="deep_sigmoid")
    model.compile(optimizer="sgd", loss="mse")
    return model


def numpy_norms(model: ge.Model, x: np.ndarray, y: np.ndarray) -> dict:
    """Backprop by hand in float64: MSE (mean over outputs and batch), sigmoid Dense layers."""
    layers = [model.get_layer(f"d{i}") for i in range(len(model.layers) - 2)]
    layers.append(model.get_layer("out"))
    hs = [x.astype(np.float64)]
    for layer in layers:
        w, b = (a.astype(np.float64) for a in layer.get_weights())
        z = hs[-1] @ w + b
        hs.append(z if layer.name == "out" else 1.0 / (1.0 + np.exp(-z)))
    grad = 2.0 * (hs[-1] - y) / y.size  # d loss / d output
    out = {}
    for i in range(len(layers) - 1, -1, -1):
        layer = layers[i]
        w, _ = layer.get_weights()
        a = hs[i + 1]
        dz = grad if layer.name == "out" else grad * a * (1.0 - a)
        dw, db = hs[i].T @ dz, dz.sum(axis=0)
        out[layer.name] = (np.sqrt((dw**2).sum() + (db**2).sum()), np.linalg.norm(grad))
        grad = dz @ w.astype(np.float64).T
    return out


def test_gradient_norms_match_backprop_and_show_vanishing(tmp_path):
    model = deep_sigmoid()
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 5)).astype("float32"), rng.standard_normal((6, 2))
    norms = ge.utils.gradient_norms(model, x, y.astype("float32"))
    want = numpy_norms(model, x, y)
    assert set(norms.layers) == set(want)
    for name, (weights, output) in want.items():
        assert norms.layers[name].weight_norm == pytest.approx(weights, rel=2e-4)
        assert norms.layers[name].output_norm == pytest.approx(output, rel=2e-4)
    first, last = norms.layers["d0"].weight_norm, norms.layers["d6"].weight_norm
    assert first < 1e-2 * last  # vanishing: orders of magnitude smaller near the input
    assert "d0" in str(norms) and f"{first:.2e}" in str(norms)
    before = [w.copy() for w in model.get_weights()]
    page = ge.plot_model(model, str(tmp_path / "g.html"), show_backward=True, gradient_norms=(x, y))
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    parsed, _ = read_page(page)
    boxes = {b["key"]: b for b in json.loads(parsed.json)["boxes"]}
    for key in ("d0", "∇d0", "out"):
        name = key.lstrip("∇")
        assert boxes[key]["profile"]["weight_grad_norm"] == pytest.approx(want[name][0], rel=2e-4)
    assert boxes["d0"]["profile"]["color"] != boxes["d6"]["profile"]["color"]
    assert any(f"‖∇W‖ {first:.2e}" in t for t in parsed.svg_text)
    assert "weights' gradient norm (log scale)" in "".join(parsed.svg_text)


def test_gradient_norms_errors(tmp_path):
    model = deep_sigmoid(2)
    x, y = np.zeros((2, 5), "float32"), np.zeros((2, 2), "float32")
    out = str(tmp_path / "g.svg")
    with pytest.raises(ValueError, match=r"give profile or gradient_norms, not both"):
        ge.plot_model(model, out, profile=fake_profile(model), gradient_norms=(x, y))
    with pytest.raises(ValueError, match=r"gradient_norms=\(x, y\) takes a batch and its targets"):
        ge.plot_model(model, out, gradient_norms=(x,))
    with pytest.raises(TypeError, match=r"gradient_norms must come from"):
        ge.plot_model(model, out, gradient_norms=3.0)
    with pytest.raises(ValueError, match=r"taken with expand_nested=False, but the picture"):
        ge.plot_model(model, out, expand_nested=True,
                      gradient_norms=ge.utils.gradient_norms(model, x, y))  # fmt: skip
    with pytest.raises(ValueError, match=r"targets y are required"):
        ge.utils.gradient_norms(model, x, None)
    plain = ge.Sequential([ge.Input((5,)), L.Dense(1)])
    with pytest.raises(ValueError, match=r"model '.*' is not compiled"):
        ge.utils.gradient_norms(plain, x, y[:, :1])


def test_dot_draws_cluster_labels_as_nodes_and_gradients_upward():
    from helpers import parse_dot

    g = parse_dot(residual_net().to_dot(expand_nested=True, show_backward=True))
    titles = {k: v for k, v in g["nodes"].items() if k.startswith("title:")}
    assert titles["title:res_block"]["shape"] == "plaintext"  # Graphviz routes around nodes
    assert titles["title:∇res_block"]["label"] == "∇ res_block (Functional)"
    invisible = {(u, v) for u, v, a in g["edges"] if a.get("style") == "invis"}
    assert invisible == {("title:res_block", "res_block/block_in"),
                         ("title:∇res_block", "∇res_block/block_dense_1")}  # fmt: skip
    back = {(u, v) for u, v, a in g["edges"] if a.get("dir") == "back"}
    assert ("∇hidden", "∇classes") in back and ("∇stem", "∇wide") in back


def graphviz_obstacles(root: ET.Element) -> tuple[dict, list]:
    """Node shapes, plain-text nodes (the cluster titles) and edge paths of Graphviz's SVG."""
    obstacles, edges = {}, []
    for g in root.iter(f"{SVG}g"):
        name = g.findtext(f"{SVG}title") or ""
        shape = next(g.iter(f"{SVG}path"), None)
        if g.get("class") == "node" and shape is not None:
            obstacles[name] = _bounds(path_points(shape.get("d")))
        elif g.get("class") == "node":  # text only: approximate its extent
            t = next(g.iter(f"{SVG}text"))
            x, y, size = float(t.get("x")), float(t.get("y")), float(t.get("font-size"))
            w = 0.6 * size * len(t.text)
            obstacles[name] = (x - w / 2, y - 0.8 * size, x + w / 2, y + 0.25 * size)
        elif g.get("class") == "edge" and shape is not None:
            edges.append((name, path_points(shape.get("d"))))
    return obstacles, edges


@pytest.mark.skipif(not graphviz_available(), reason="needs Graphviz's dot program")
@pytest.mark.parametrize("build", [skipnet, residual_net])
def test_graphviz_edges_miss_boxes_and_cluster_labels(tmp_path, build):
    path = ge.plot_model(
        build(), str(tmp_path / "m.svg"), expand_nested=True, show_backward=True, engine="graphviz"
    )
    obstacles, edges = graphviz_obstacles(ET.parse(path).getroot())
    assert sum(k.startswith("title:") for k in obstacles) == 2 and len(edges) > 10
    assert crossings(obstacles, edges, tol=2.0) == []
