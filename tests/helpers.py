"""Plain helpers several test files share (their fixtures are in conftest.py): the module
import graph (test_architecture, test_fused_activations), a model with a skip connection, merges
and a nested model, and a small DOT parser (test_viz, test_cli), the Keras 3 reference cases
of the convolution and pooling layers (test_conv, test_pooling), and the recurrent gates'
activation rows as kernels of their own (test_recurrent, test_nonfinite)."""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path

import networkx as nx
import numpy as np
from numba import njit

import graphengine as ge
from graphengine_kernels.cpu.recurrent import _activate, _scale_by_derivative

ROOT = Path(__file__).resolve().parent.parent
REF_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_reference")
L = ge.layers


# -- the import graph ------------------------------------------------------------------------------
# graph.tensor's operators (x + y, x[i]) are ge.ops calls; ops build graph nodes of tensors
OPERATOR_OVERLOADING = ("graphengine.graph.tensor", "graphengine.ops.api")


def modules() -> dict[str, Path]:
    found = {}
    # the kernels/ folder installs as graphengine_kernels (pyproject.toml's package-dir)
    for folder, package in (("graphengine", "graphengine"), ("kernels", "graphengine_kernels")):
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = (package,) + path.relative_to(ROOT / folder).with_suffix("").parts
            found[".".join(parts).removesuffix(".__init__")] = path
    return found


def import_graph() -> nx.DiGraph:
    """Module -> module it imports (at the top or inside a function), but for the operator
    overloading."""
    known = modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(known)
    for name, path in known.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # `from pkg import mod` imports the module pkg.mod; `from mod import name`, mod
                targets = [
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                    for a in node.names
                ]
            else:
                continue
            graph.add_edges_from((name, t) for t in targets if t in known and t != name)
    graph.remove_edges_from([OPERATOR_OVERLOADING])
    return graph


# -- models and DOT --------------------------------------------------------------------------------
def skipnet() -> ge.Model:
    """Skip connection, Add and Concatenate merges and a nested functional model."""
    inner_in = ge.Input(shape=(16,), name="inner_in")
    h = L.Dense(16, activation="relu", name="inner_dense")(inner_in)
    inner = ge.Model(inner_in, L.Dense(16, name="inner_out")(h), name="block")
    x = ge.Input(shape=(8,), name="features")
    a = L.Dense(16, activation="relu", name="stem")(x)
    s = L.Add(name="skip_add")([a, inner(a)])
    c = L.Dense(16, activation="tanh", name="branch")(s)
    m = L.Concatenate(name="concat")([s, c])
    return ge.Model(x, L.Dense(3, activation="softmax", name="head")(m), name="skipnet")


# -- a small DOT parser (the grammar of graphviz.org/doc/info/lang.html, less HTML ports) ----------
TOKEN = re.compile(
    r'\s+|//[^\n]*|/\*.*?\*/|^#[^\n]*|(?P<str>"(?:\\.|[^"\\])*")|(?P<html><[^<>]*>)'
    r"|(?P<op>->|--)|(?P<id>[A-Za-z_\x80-\uffff][\w\x80-\uffff]*|-?(?:\.\d+|\d+(?:\.\d*)?))"
    r"|(?P<p>[{}\[\];,=:])",
    re.S | re.M,
)


def parse_dot(text: str) -> dict:
    tokens, at = [], 0
    while at < len(text):
        m = TOKEN.match(text, at)
        assert m, f"bad DOT at {text[at : at + 40]!r}"
        at = m.end()
        kind = m.lastgroup
        if kind:
            value = m.group(kind)
            if kind == "str":
                value = value[1:-1].replace('\\"', '"')
            tokens.append((kind if kind != "html" else "str", value))
    g = {"nodes": {}, "edges": [], "clusters": [], "i": 0, "t": tokens}

    def peek():
        return g["t"][g["i"]] if g["i"] < len(g["t"]) else (None, None)

    def take(value=None):
        tok = peek()
        assert tok[0] is not None, "unexpected end of DOT"
        assert value is None or tok[1] == value, f"expected {value!r}, got {tok[1]!r}"
        g["i"] += 1
        return tok

    def ident():
        kind, value = take()
        assert kind in ("id", "str"), f"expected an ID, got {value!r}"
        return value

    def attrs():
        out = {}
        while peek()[1] == "[":
            take("[")
            while peek()[1] != "]":
                key = ident()
                take("=")
                out[key] = ident()
                if peek()[1] in (",", ";"):
                    take()
            take("]")
        return out

    def body():
        take("{")
        while peek()[1] != "}":
            stmt()
            if peek()[1] == ";":
                take(";")
        take("}")

    def subgraph():
        name = None
        if peek()[1] == "subgraph":
            take()
            if peek()[1] != "{":
                name = ident()
        if name and name.startswith("cluster"):
            g["clusters"].append(name)
        body()

    def stmt():
        kind, value = peek()
        if value in ("graph", "node", "edge") and kind == "id":
            take()
            attrs()
        elif value in ("subgraph", "{"):
            subgraph()
        else:
            name = ident()
            if peek()[1] == "=":
                take()
                ident()
                return
            ends = [name]
            while peek()[0] == "op":
                assert take()[1] == g["op"], "wrong edge operator for this graph"
                ends.append(ident())
            a = attrs()
            if len(ends) == 1:
                g["nodes"].setdefault(name, {}).update(a)
            for u, v in zip(ends, ends[1:]):
                g["nodes"].setdefault(u, {})
                g["nodes"].setdefault(v, {})
                g["edges"].append((u, v, a))

    if peek()[1] == "strict":
        take()
    kind = ident()
    assert kind in ("graph", "digraph")
    g["op"] = "->" if kind == "digraph" else "--"
    if peek()[1] != "{":
        g["name"] = ident()
    body()
    assert g["i"] == len(tokens), "text after the graph"
    return g


# -- Keras 3 reference numbers ---------------------------------------------------------------------
def keras_cases(layers, name="conv"):
    """The cases of tests/keras_reference/<name>.json (one input, conv.json's format) whose layer
    is one of `layers`."""
    with open(os.path.join(REF_DIR, f"{name}.json")) as f:
        return [c for c in json.load(f) if c["layer"] in layers]


def check_keras_case(case, arrays, rtol=1e-4, atol=1e-5):
    """Builds the layer in float32, loads Keras's weights, and compares y, dx and every dw."""
    ref = lambda name: arrays[f"{case['id']}/{name}"]  # noqa: E731
    x = ge.Input(shape=tuple(case["input_shape"][1:]))
    layer = getattr(L, case["layer"])(**case["kwargs"])
    model = ge.Model(x, layer(x))
    layer.set_weights([ref(f"w{j}") for j in range(case["n_weights"])])
    training = case.get("training", False)  # a random layer with a fixed (degenerate) draw
    y = model(ref("x"), training=training)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ref("y"), rtol=rtol, atol=atol, err_msg=f"{case['id']}: y")
    dx, dw = model.vjp(ref("x"), ref("dy"), training=training)
    np.testing.assert_allclose(dx[0], ref("dx"), rtol=rtol, atol=atol, err_msg="dx")
    assert len(dw) == case["n_weights"]
    for j, g in enumerate(dw):  # kernel, then bias
        np.testing.assert_allclose(g, ref(f"dw{j}"), rtol=rtol, atol=atol, err_msg=f"dw{j}")


# -- the recurrent gates' activation rows ----------------------------------------------------------
# (inlined into the step kernels: these compile them on their own, for a plain int code or a
# graphengine_kernels.cpu.activations.Fused one)


@njit(cache=True)
def recurrent_activate(v, code):
    _activate(v, code)


@njit(cache=True)
def recurrent_scale_by_derivative(d, y, code):
    _scale_by_derivative(d, y, code)
