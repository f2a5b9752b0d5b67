"""Inspecting models: summary numbers against Keras 3, every output format parsed back (.dot by
the small DOT parser in tests/helpers.py, .svg by ElementTree, .png by matplotlib, .html by
html.parser), the layout checked for overlaps, and per-layer profiles."""

from __future__ import annotations

import html.parser
import json
import os
import re
import stat
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import graphengine as ge
from graphengine.viz.render import Measure, box_size, scene
from graphengine.viz.view import Options, build_view
from helpers import parse_dot, skipnet

L = ge.layers


# -- models --------------------------------------------------------------------------------------
def mlp() -> ge.Sequential:
    s = ge.Sequential(
        [
            ge.Input((784,)),
            L.Dense(128, activation="relu", name="h1"),
            L.Dense(64, name="h2"),
            L.Dense(10, name="out"),
        ],
        name="mlp",
    )
    s.layers[1].trainable = False
    return s


def wide_dag() -> ge.Model:
    """Two inputs, two outputs, a shared layer, long skips across several ranks."""
    a = ge.Input(shape=(6,), name="left")
    b = ge.Input(shape=(6,), name="right")
    shared = L.Dense(6, activation="relu", name="shared")
    la, lb = shared(a), shared(b)
    h = L.Concatenate(name="join")([la, lb])
    h1 = L.Dense(12, activation="relu", name="deep_1")(h)
    h2 = L.Dense(12, activation="relu", name="deep_2")(h1)
    h3 = L.Dense(12, name="deep_3")(h2)
    skip = L.Add(name="long_skip")([h, h3])
    side = L.Subtract(name="side")([la, lb])
    out1 = L.Dense(1, name="score")(L.Concatenate(name="mix")([skip, side]))
    out2 = L.Dense(2, activation="softmax", name="label")(h2)
    return ge.Model([a, b], [out1, out2], name="wide_dag")


def with_ops() -> ge.Model:
    """Bare ops applied outside layers, and a nested Sequential (no InputLayer box)."""
    seq = ge.Sequential(
        [L.Dense(8, activation="relu", input_shape=(4,)), L.Dense(4)], name="seq_block"
    )
    x = ge.Input(shape=(4,), name="x")
    h = seq(x) * 2.0 + x
    return ge.Model(x, L.Dense(1, name="out")(ge.ops.tanh(h)), name="with_ops")


# -- summary against Keras 3 -----------------------------------------------------------------------
def lines_of(model: ge.Model, **kwargs) -> str:
    out = []
    model.summary(print_fn=out.append, **kwargs)
    assert len(out) == 1  # print_fn receives the whole table at once, as Keras's does
    return out[0]


# The counts below were printed once by Keras 3.15 (KERAS_BACKEND=torch) from the same models
# built with keras.Input / keras.layers / keras.Model and `model.summary()`; the optimizer
# line after `compile(optimizer="adam", loss="mse")` and one `train_on_batch`.
KERAS = {
    "skipnet": ("1,059 (4.14 KB)", "1,059 (4.14 KB)", "0 (0.00 B)"),
    "mlp": ("109,386 (427.29 KB)", "101,130 (395.04 KB)", "8,256 (32.25 KB)"),
    "mlp_trained": ("311,648 (1.19 MB)", "101,130 (395.04 KB)", "8,256 (32.25 KB)"),
    "embnet": ("32,161 (125.63 KB)", "32,161 (125.63 KB)", "0 (0.00 B)"),
    "chain": ("46 (184.00 B)", "46 (184.00 B)", "0 (0.00 B)"),
}


def embnet() -> ge.Sequential:
    return ge.Sequential(
        [ge.Input((5,), dtype="int32"), L.Embedding(1000, 32, name="emb"), L.Flatten(), L.Dense(1)],
        name="embnet",
    )


def chain() -> ge.Model:
    x = ge.Input(shape=(8,), name="x")
    return ge.Model(x, L.Dense(2, name="d2")(L.Dense(4, name="d1")(x)), name="chain")


@pytest.mark.parametrize(
    "name, build", [("skipnet", skipnet), ("mlp", mlp), ("embnet", embnet), ("chain", chain)]
)
def test_summary_totals_equal_keras(name, build):
    text = lines_of(build())
    total, trainable, frozen = KERAS[name]
    assert f" Total params: {total}" in text
    assert f" Trainable params: {trainable}" in text
    assert f" Non-trainable params: {frozen}" in text
    assert "Optimizer params" not in text


def test_summary_counts_optimizer_variables_as_keras():
    model = mlp()
    model.compile(optimizer="adam", loss="mse")
    model.train_on_batch(np.zeros((2, 784), "float32"), np.zeros((2, 10), "float32"))
    text = lines_of(model)
    total, trainable, frozen = KERAS["mlp_trained"]
    assert f" Total params: {total}" in text and f" Trainable params: {trainable}" in text
    assert " Optimizer params: 202,262 (790.09 KB)" in text  # Keras: iteration + lr + slots


def test_summary_layout_follows_keras():
    model = skipnet()
    text = lines_of(model, line_length=108, expand_nested=True, show_trainable=True)
    lines = text.splitlines()
    assert lines[0] == 'Model: "skipnet"'
    assert all(len(line) == 108 for line in lines[1:-3])  # the whole table is line_length wide
    header = lines[2]
    assert [h.strip() for h in header.strip("┃").split("┃")] == [
        "Layer (type)",
        "Output Shape",
        "Param #",
        "Connected to",
        "Trainable",
    ]
    for layer in [
        "features (InputLayer)",
        "stem (Dense)",
        "block (Functional)",
        "└ inner_dense (Dense)",
        "skip_add (Add)",
        "concat (Concatenate)",
    ]:
        assert layer in text
    row = next(line for line in lines if "stem (Dense)" in line)
    assert re.search(r"│\s+144 │ features\[0\]\[0\]\s+│\s+Y\s+│", row)
    assert "stem[0][0], block[0][0]" in text.replace("│", " ").replace("  ", " ") or (
        "stem[0][0]," in text and "block[0][0]" in text
    )
    assert re.search(r"skip_add \(Add\)\s+│.*│\s+0 │.*│\s+-\s+│", text)  # no weights: "-"
    # a chain of layers has no "Connected to" column (Keras's sequential_like)
    assert "Connected to" not in lines_of(chain())
    assert "InputLayer" not in lines_of(mlp())  # Sequential lists no InputLayer


def test_summary_lists_bare_ops_and_their_connections():
    text = re.sub(r"[│\s]+", " ", lines_of(with_ops(), line_length=120, expand_nested=True))
    ops = re.findall(r"(multiply_\d+) \(Multiply\)|(add_\d+) \(Add\)|(tanh_\d+) \(Tanh\)", text)
    assert len(ops) == 3
    tanh = ops[2][2]
    assert re.search(rf"out \(Dense\) \(None, 1\) 5 {tanh}\[0\]\[0\]", text)
    assert "└ dense" in text and "Total params: 81 (324.00 B)" in text


def test_summary_fits_narrow_lines_without_cutting_names():
    text = lines_of(skipnet(), line_length=70, expand_nested=True)
    assert all(len(line) == 70 for line in text.splitlines()[1:-3])
    flat = re.sub(r"[│┃\s]+", " ", text)
    assert "inner_dense" in flat and "skip_add[0][0]," in flat


def test_dot_parser_rejects_broken_text():
    with pytest.raises(AssertionError):
        parse_dot('digraph { "a" -> }')
    with pytest.raises(AssertionError):
        parse_dot("digraph { a -- b }")
    assert parse_dot('digraph x { a -> b -> c [color="red"]; }')["edges"][1][:2] == ("b", "c")


# -- pictures ----------------------------------------------------------------------------------
def test_to_dot_names_every_layer_and_edge():
    model = skipnet()
    g = parse_dot(model.to_dot(show_shapes=True))
    assert set(g["nodes"]) == set(model.graph.nodes)
    assert {(u, v) for u, v, _ in g["edges"]} == set(model.graph.edges)
    assert "output: (None, 3)" in g["nodes"]["head"]["label"]
    g = parse_dot(model.to_dot(expand_nested=True, show_backward=True, show_trainable=True))
    assert "cluster_block" in g["clusters"] and "cluster_backward" in g["clusters"]
    for name in ["block/inner_in", "block/inner_dense", "block/inner_out", "∇stem", "∇head"]:
        assert name in g["nodes"]
    assert ("stem", "block/inner_in") in {(u, v) for u, v, _ in g["edges"]}
    assert ("block/inner_out", "skip_add") in {(u, v) for u, v, _ in g["edges"]}
    links = [(u, v) for u, v, a in g["edges"] if a.get("style") == "dashed"]
    assert ("head", "∇head") in links and ("block/inner_dense", "∇block/inner_dense") in links
    assert "Trainable" in g["nodes"]["stem"]["label"]


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    model = skipnet()
    folder = tmp_path_factory.mktemp("pictures")
    out = {}
    for suffix in ("dot", "svg", "png", "html"):
        out[suffix] = ge.plot_model(
            model,
            str(folder / f"skipnet.{suffix}"),
            expand_nested=True,
            show_backward=True,
            show_trainable=True,
            show_dtype=True,
            show_layer_activations=True,
            dpi=60,
        )
    return model, out


def test_plot_model_writes_valid_dot_svg_png(pictures):
    model, files = pictures
    with open(files["dot"], encoding="utf-8") as f:
        assert "head" in parse_dot(f.read())["nodes"]
    root = ET.parse(files["svg"]).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    ids = {e.get("id") for e in root.iter() if e.get("id")}
    n_boxes = len(build_view(model, Options(expand_nested=True, show_backward=True)).all_boxes())
    assert all(f"ge-{i}-box" in ids for i in range(n_boxes))
    import matplotlib.image

    image = matplotlib.image.imread(files["png"])
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200
    assert image[..., :3].std() > 0.05  # not a blank page


class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.data, self.json, self._in_json = [], [], None, False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_json = tag == "script" and dict(attrs).get("type") == "application/json"

    def handle_data(self, data):
        if self._in_json:
            self.json = (self.json or "") + data

    def handle_endtag(self, tag):
        self._in_json = False


def test_html_page_is_self_contained_with_node_data(pictures):
    model, files = pictures
    with open(files["html"], encoding="utf-8") as f:
        text = f.read()
    page = _Page()
    page.feed(text)
    names = [t for t, _ in page.tags]
    assert names.count("svg") == 1 and "script" in names
    assert not re.search(r"https?://|//cdn|@import|url\((?!#)", text)  # only local ids
    assert not any(a.get("src") or (t == "link") for t, a in page.tags)
    data = json.loads(page.json)
    titles = {b["title"]: b for b in data["boxes"]}
    stem = titles["stem (Dense)"]
    assert stem["info"]["params"] == 144 and stem["info"]["outputs"] == ["(None, 16)"]
    kernel = stem["info"]["weights"][0]
    w = model.get_layer("stem").get_weights()[0]
    assert kernel["shape"] == "(8, 16)" and kernel["max"] == pytest.approx(float(w.max()))
    assert kernel["std"] == pytest.approx(float(w.std()), rel=1e-5)
    assert stem["twins"] and data["boxes"][stem["twins"][0]]["title"].startswith("∇ stem")
    ids = set(re.findall(r'id="(ge-\d+)-box"', text))
    assert ids == {f"ge-{i}" for i in range(len(data["boxes"]))}


# -- layout: nothing overlaps ------------------------------------------------------------------
def _overlap(a, b, tol=0.5):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax + tol < bx + bw and bx + tol < ax + aw and ay + tol < by + bh and by + tol < ay + ah


def _inside(p, r, tol=1.0):
    x, y, w, h = r
    return x + tol < p[0] < x + w - tol and y + tol < p[1] < y + h - tol


def _samples(verts, codes):
    out, i, cur = [], 1, verts[0]
    while i < len(verts):
        if codes[i] == 4:
            p0, p1, p2, p3 = np.array(cur), *map(np.array, verts[i : i + 3])
            for t in np.linspace(0, 1, 24):
                out.append(
                    tuple(
                        (1 - t) ** 3 * p0
                        + 3 * (1 - t) ** 2 * t * p1
                        + 3 * (1 - t) * t**2 * p2
                        + t**3 * p3
                    )
                )
            cur, i = verts[i + 2], i + 3
        else:
            for t in np.linspace(0, 1, 24):
                out.append(tuple(np.array(cur) * (1 - t) + np.array(verts[i]) * t))
            cur, i = verts[i], i + 1
    return out


@pytest.mark.parametrize("build", [skipnet, wide_dag, with_ops])
@pytest.mark.parametrize("rankdir", ["TB", "LR", "RL"])
@pytest.mark.parametrize("expand, backward", [(False, False), (True, True), (False, True)])
def test_layout_has_no_overlaps(build, rankdir, expand, backward):
    model = build()
    view = build_view(
        model, Options(expand_nested=expand, show_backward=backward, show_trainable=True), rankdir
    )
    sc = scene(view, True)
    rects = list(sc.boxes.items())
    m = Measure()
    for key, r in rects:  # every box holds its text and lies inside the picture
        b = next(b for b in view.all_boxes() if b.key == key)
        w, h = box_size(b, m, True)
        assert r[2] == pytest.approx(w) and r[3] == pytest.approx(h)
        assert r[0] >= 0 and r[1] >= 0 and r[0] + r[2] <= sc.width and r[1] + r[3] <= sc.height
    for i, (ka, a) in enumerate(rects):
        for kb, b in rects[i + 1 :]:
            assert not _overlap(a, b), f"{ka} overlaps {kb}"
    clusters = {**view.clusters, **view.grad_clusters}
    for key, b in [*view.boxes.items(), *view.grad_boxes.items()]:
        for ckey, crect in sc.clusters.items():
            x, y, w, h = sc.boxes[key]
            if ckey in b.cluster:
                assert _inside((x, y), crect) and _inside((x + w, y + h), crect)
            else:
                assert not _overlap(sc.boxes[key], crect), f"{key} inside {ckey}"
    assert set(sc.clusters) == set(clusters)
    for style, verts, codes in sc.paths:  # edges never run across a box
        pts = _samples(verts, codes)
        for key, r in rects:
            inner = [p for p in pts if _inside(p, r, tol=2.0)]
            assert not inner, f"a {style} edge crosses {key}"


def test_layout_ranks_follow_edges():
    model = wide_dag()
    view = build_view(model, Options(), "TB")
    sc = scene(view)
    for u, v in view.edges:
        assert sc.boxes[u][1] + sc.boxes[u][3] < sc.boxes[v][1]  # sources above consumers


def test_backward_panel_mirrors_forward_ranks():
    view = build_view(skipnet(), Options(show_backward=True), "TB")
    sc = scene(view)
    for key, b in view.grad_boxes.items():
        fx, fy, _, _ = sc.boxes[b.twin]
        gx, gy, _, _ = sc.boxes[key]
        assert gy == pytest.approx(fy) and gx > fx  # same rank, in the panel to the right
    assert sum(1 for style, _, _ in sc.paths if style == "link") == len(view.grad_boxes)


# -- arguments -----------------------------------------------------------------------------------
def test_plot_model_argument_errors(tmp_path):
    model = chain()
    with pytest.raises(ValueError, match=r"suffix picks the format"):
        ge.plot_model(model, str(tmp_path / "m.jpg"))
    with pytest.raises(ValueError, match=r"rankdir must be 'TB' or 'LR'"):
        ge.plot_model(model, str(tmp_path / "m.dot"), rankdir="XY")
    with pytest.raises(TypeError, match=r"did you mean 'show_shapes'"):
        ge.plot_model(model, str(tmp_path / "m.dot"), show_shape=True)
    with pytest.raises(ValueError, match=r"engine='cairo' is not"):
        ge.plot_model(model, str(tmp_path / "m.svg"), engine="cairo")


def test_show_flags_change_the_boxes():
    model = skipnet()
    plain = build_view(model, Options(show_shapes=False, show_layer_names=False))
    assert plain.boxes["stem"].title == "Dense" and plain.boxes["stem"].lines == []
    full = build_view(model, Options(show_dtype=True, show_layer_activations=True))
    assert full.boxes["stem"].lines == [
        "input: (None, 8)",
        "output: (None, 16)",
        "dtype: float32",
        "activation: relu",
    ]
    assert full.boxes["features"].lines[0] == "output: (None, 8)"  # an input has no input
    assert "concat" in model.to_dot(rankdir="LR") and 'rankdir="LR"' in model.to_dot(rankdir="LR")


def test_graphviz_engine_runs_dot_when_installed(tmp_path, monkeypatch):
    model = chain()
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match=r"needs Graphviz's `dot` program"):
        ge.plot_model(model, str(tmp_path / "m.svg"), engine="graphviz")
    fake = tmp_path / "dot"  # stands in for Graphviz: copies its DOT input to the output file
    fake.write_text(
        f"#!{os.sys.executable}\nimport sys\n"
        "open(sys.argv[sys.argv.index('-o') + 1], 'w').write(sys.stdin.read())\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    out = ge.plot_model(model, str(tmp_path / "m.svg"), engine="auto")
    with open(out, encoding="utf-8") as f:
        assert parse_dot(f.read())["nodes"].keys() == {"x", "d1", "d2"}


# -- profile -------------------------------------------------------------------------------------
def test_profile_times_every_layer_and_leaves_weights_alone(tmp_path):
    model = skipnet()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).random((32, 8), dtype=np.float32)
    y = np.arange(32) % 3
    before = [w.copy() for w in model.get_weights()]
    prof = model.profile(x, y, repeats=2)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert model.optimizer.iterations == 0
    for name in ["stem", "block", "skip_add", "branch", "concat", "head"]:
        assert prof.layers[name].forward_ms > 0
    for name in ["stem", "block", "branch", "head"]:
        assert prof.layers[name].backward_ms > 0 and prof.layers[name].backward_bytes > 0
    assert prof.layers["head"].forward_bytes == 2 * 32 * 3 * 4  # fused dense (+ bias), softmax
    assert "(loss)" in prof.layers and "(optimizer update)" in prof.layers
    assert prof.total_ms == pytest.approx(sum(p.total_ms for p in prof.layers.values()))
    assert "total" in str(prof) and set(prof.as_dict()) == set(prof.layers)
    page = ge.plot_model(model, str(tmp_path / "p.html"), show_backward=True, profile=prof)
    parser = _Page()
    with open(page, encoding="utf-8") as f:
        parser.feed(f.read())
    boxes = {b["key"]: b for b in json.loads(parser.json)["boxes"]}
    assert boxes["head"]["profile"]["ms"] == pytest.approx(prof.layers["head"].total_ms)
    assert boxes["∇head"]["profile"]["ms"] == pytest.approx(prof.layers["head"].backward_ms)
    inference = model.profile(x, repeats=1)
    assert inference.kind == "inference"
    assert all(p.backward_ms == 0 for p in inference.layers.values())
    with pytest.raises(ValueError, match=r"expand_nested=False, but the picture asks"):
        ge.plot_model(model, str(tmp_path / "p.dot"), expand_nested=True, profile=prof)
