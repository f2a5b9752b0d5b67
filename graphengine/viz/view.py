"""What a picture of a model shows, before any drawing: one box per call site (nested models as
clusters when expanded), the edges between them, and optionally the backward graph grouped
into one gradient box per forward box, each knowing its forward twin."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphengine.graph.graph import producer, site_inputs
from graphengine.graph.node import LayerCall, Node
from graphengine.graph.tensor import format_shape
from graphengine.viz.scale import Scale
from graphengine.viz.summary import count_weights, layer_kind, op_kind

GRAD = "∇"


@dataclass
class Box:
    """One box: `title` (name and type), `lines` below it, `info` for the page's panel."""

    key: str
    name: str
    kind: str
    role: str  # "input", "layer", "model", "op", "grad", "loss"
    lines: list[str] = field(default_factory=list)
    cluster: tuple[str, ...] = ()  # keys of the clusters around it, outermost first
    trainable: bool | None = None  # None: no weights
    twin: str | None = None  # a gradient box: the forward box it belongs to
    info: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] | None = None  # a colouring: "color", "text" (a line) and numbers
    show_name: bool = True

    @property
    def title(self) -> str:
        return f"{self.name} ({self.kind})" if self.show_name else self.kind


@dataclass
class Cluster:
    key: str
    label: str
    cluster: tuple[str, ...]  # the clusters around this one
    twin: str | None = None


@dataclass
class View:
    name: str
    rankdir: str
    boxes: dict[str, Box] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    clusters: dict[str, Cluster] = field(default_factory=dict)
    grad_boxes: dict[str, Box] = field(default_factory=dict)
    grad_edges: list[tuple[str, str]] = field(default_factory=list)
    grad_clusters: dict[str, Cluster] = field(default_factory=dict)
    profile_note: str = ""
    scale: Scale | None = None  # the colouring's legend

    def all_boxes(self) -> list[Box]:
        return list(self.boxes.values()) + list(self.grad_boxes.values())


@dataclass
class Options:
    show_shapes: bool = True
    show_dtype: bool = False
    show_layer_names: bool = True
    expand_nested: bool = False
    show_trainable: bool = False
    show_layer_activations: bool = False
    show_backward: bool = False


def _shapes(tensors: list) -> str:
    shapes = [format_shape(t.shape) for t in tensors]
    return shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"


def _activation(layer: Any) -> str | None:
    fn = getattr(layer, "activation", None)
    if fn is None:
        return None
    from graphengine.ops import activations

    try:
        name = activations.serialize(fn)
    except ValueError:
        name = getattr(fn, "__name__", type(fn).__name__)
    return name if isinstance(name, str) else str(name.get("registered"))


def weight_stats(w: Any) -> dict[str, Any]:
    a = np.asarray(w.value)
    stats = {"name": w.path, "shape": format_shape(w.shape), "dtype": w.dtype}
    stats["trainable"] = bool(w.trainable)
    if a.size and a.dtype.kind in "fiu":
        f = a.astype(np.float64)
        for name, fn in (("min", np.min), ("max", np.max), ("mean", np.mean), ("std", np.std)):
            v = float(fn(f))
            stats[name] = v if np.isfinite(v) else None  # JSON has no NaN
    return stats


def is_model(layer: Any) -> bool:
    return hasattr(layer, "_sites") and hasattr(layer, "_layer_graph")


class _Builder:
    def __init__(self, model: Any, opts: Options) -> None:
        self.model, self.opts = model, opts
        self.view = View(model.name, "TB")
        # per expanded model call site key: the model, and key prefix of its insides
        self.inside: dict[str, tuple[Any, str]] = {}

    # -- forward -------------------------------------------------------------------------------
    def add_model(self, model: Any, prefix: str, cluster: tuple[str, ...]) -> None:
        hide_inputs = hasattr(model, "_stack")  # Sequential draws no InputLayer, as Keras
        for site in model._sites:
            key = prefix + site.name
            if isinstance(site, LayerCall) and not site.inputs and hide_inputs:
                continue
            if isinstance(site, LayerCall) and self.expands(site):
                label = f"{site.name} ({layer_kind(site.layer)})"
                self.view.clusters[key] = Cluster(key, label, cluster)
                self.inside[key] = (site.layer, key + "/")
                self.add_model(site.layer, key + "/", cluster + (key,))
            else:
                self.view.boxes[key] = self.box(site, key, cluster)
        for site in model._sites:
            for i, t in enumerate(site_inputs(site)):
                src = producer(t)
                shown = src is not None and (
                    prefix + src.name in self.view.boxes or prefix + src.name in self.inside
                )
                if not shown or src.name not in model.graph:
                    continue  # a weight, or a Sequential's InputLayer (not drawn)
                for a in self.exits(prefix + src.name, src, t):
                    for b in self.entries(prefix + site.name, site, i):
                        if (a, b) not in self.view.edges:
                            self.view.edges.append((a, b))

    def expands(self, site: Any) -> bool:
        return self.opts.expand_nested and isinstance(site, LayerCall) and is_model(site.layer)

    def exits(self, key: str, site: Any, t: Any) -> list[str]:
        """The box a tensor leaves from: inside an expanded model, the box making its output."""
        if key not in self.inside:
            return [key]
        inner, prefix = self.inside[key]
        out = inner.outputs[site.outputs.index(t)]
        src = producer(out)
        return self.exits(prefix + src.name, src, out) if src is not None else []

    def entries(self, key: str, site: Any, i: int) -> list[str]:
        """The boxes input `i` of a site enters: inside an expanded model, its InputLayer (or,
        for a Sequential, the first layer)."""
        if key not in self.inside:
            return [key]
        inner, prefix = self.inside[key]
        t = inner.inputs[i]
        if prefix + t.layer_call.name in self.view.boxes:
            return [prefix + t.layer_call.name]
        out = []
        for s in inner._sites:
            for j, u in enumerate(site_inputs(s)):
                if u is t:
                    out.extend(self.entries(prefix + s.name, s, j))
        return out

    def box(self, site: Any, key: str, cluster: tuple[str, ...]) -> Box:
        opts = self.opts
        if isinstance(site, Node):
            kind, role, layer = op_kind(site), "op", None
        else:
            layer = site.layer
            kind = layer_kind(layer)
            role = "input" if not site.inputs else ("model" if is_model(layer) else "layer")
        b = Box(key, site.name, kind, role, cluster=cluster, show_name=opts.show_layer_names)
        ins = site_inputs(site)
        if opts.show_shapes:
            if role != "input":
                b.lines.append(f"input: {_shapes(ins)}")
            b.lines.append(f"output: {_shapes(site.outputs)}")
        if opts.show_dtype:
            b.lines.append("dtype: " + ", ".join(dict.fromkeys(t.dtype for t in site.outputs)))
        activation = _activation(layer) if layer is not None else None
        if opts.show_layer_activations and activation is not None:
            b.lines.append(f"activation: {activation}")
        weights = layer.weights if layer is not None else []
        if weights:
            b.trainable = bool(layer.trainable)
        b.info = {
            "name": site.name,
            "type": kind,
            "inputs": [format_shape(t.shape) for t in ins],
            "outputs": [format_shape(t.shape) for t in site.outputs],
            "dtype": [t.dtype for t in site.outputs],
            "params": count_weights(weights)[0],
            "trainable": b.trainable,
            "weights": [weight_stats(w) for w in weights],
        }
        if activation is not None:
            b.info["activation"] = activation
        return b

    # -- mapping primitive nodes to boxes ------------------------------------------------------
    def box_of(self, node: Node) -> str | None:
        """The forward box (or expanded cluster) a primitive node belongs to, None if it is not
        part of the model (a loss)."""
        chain, call = [], node.layer_call
        sites = {id(s) for s in self.model._sites}
        while call is not None and id(call) not in sites:
            chain.append(call)
            call = call.parent
        if call is None:
            return node.name if node.name in self.model.graph and not chain else None
        chain.reverse()
        key = call.name
        model, inner = call.layer, chain
        while key in self.inside and inner:
            model, prefix = self.inside[key]
            child = inner[0]
            same = [c for c in call.children if c.layer is child.layer]
            ours = [s for s in model._sites if isinstance(s, LayerCall) and s.layer is child.layer]
            site = ours[min(same.index(child), len(ours) - 1)]
            key, call, inner = prefix + site.name, child, inner[1:]
        if key in self.inside and not inner:  # a bare op inside an expanded model
            model, prefix = self.inside[key]
            direct = [n for n in call.nodes]
            ops = [s for s in model._sites if isinstance(s, Node)]
            if node in direct and direct.index(node) < len(ops):
                key = prefix + ops[direct.index(node)].name
        return key

    # -- backward ------------------------------------------------------------------------------
    def add_backward(self) -> None:
        graph = self.model.backward_graph
        if graph is None:  # the cached vjp program outlived a reset of the graph (engine bug)
            from graphengine.autodiff.backward import backward_digraph

            graph = backward_digraph(self.model._vjp_program()[2])
        groups: dict[str, list[Node]] = {}
        where: dict[Node, str] = {}
        for node in graph.nodes:
            fwd = node.grad_of
            owner = self.box_of(fwd) if fwd is not None else None
            key = GRAD + (owner if owner is not None else "loss")
            groups.setdefault(key, []).append(node)
            where[node] = key
        view = self.view
        for key, nodes in groups.items():
            twin = key[len(GRAD) :]
            fwd = view.boxes.get(twin)
            name = f"{GRAD} {fwd.name if fwd else twin}"
            b = Box(key, name, "gradient", "grad" if fwd else "loss", twin=fwd and twin)
            b.cluster = tuple(GRAD + c for c in fwd.cluster) if fwd else ()
            counts = Counter(n.op.name for n in sorted(nodes, key=lambda n: n.id))
            ops = [f"{op} ×{c}" if c > 1 else op for op, c in counts.items()]
            b.lines = _wrap_items(ops, 34)
            b.info = {
                "name": name,
                "type": "gradient",
                "of": twin,
                "ops": [f"{n.name} ({n.op.name})" for n in sorted(nodes, key=lambda n: n.id)],
                "outputs": [format_shape(t.shape) for n in nodes for t in n.outputs],
            }
            view.grad_boxes[key] = b
            for c in b.cluster:
                fc = view.clusters[c[len(GRAD) :]]
                view.grad_clusters[c] = Cluster(
                    c, f"{GRAD} {fc.label}", tuple(GRAD + p for p in fc.cluster), fc.key
                )
        for a, b in graph.edges:
            if where[a] != where[b] and (where[a], where[b]) not in view.grad_edges:
                view.grad_edges.append((where[a], where[b]))


def _wrap_items(items: list[str], width: int) -> list[str]:
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + 3 + len(item) <= width:
            lines[-1] += " · " + item
        else:
            lines.append(item)
    return lines


def build_view(model: Any, opts: Options, rankdir: str = "TB") -> View:
    model._require_graph()
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"rankdir must be 'TB' or 'LR' (or 'BT', 'RL'), got {rankdir!r}")
    builder = _Builder(model, opts)
    builder.view.rankdir = rankdir
    builder.add_model(model, "", ())
    if opts.show_backward:
        builder.add_backward()
    return builder.view


def box_mapper(model: Any, expand_nested: bool = False) -> Any:
    """A function from forward primitive nodes to box keys, for one model."""
    builder = _Builder(model, Options(expand_nested=expand_nested))
    builder.add_model(model, "", ())
    return builder.box_of
