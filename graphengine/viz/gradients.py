"""`ge.utils.gradient_norms(model, x, y)`: one backward pass of the compiled loss on a batch,
and for every box of the picture the norm of its weights' gradient and of the gradient at its
output; `ge.plot_model(..., gradient_norms=...)` colours the boxes by them on a log scale, so
vanishing and exploding gradients stand out."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphengine.viz.scale import Scale
from graphengine.viz.view import box_mapper


@dataclass
class LayerNorms:
    """The L2 norms of one box's gradients: over all its trainable weights (None: it has none)
    and over the tensors leaving it (None: none leads to the loss)."""

    weight_norm: float | None = None
    output_norm: float | None = None


@dataclass
class GradientNorms:
    """Per-box gradient norms of one batch's compiled loss; `str()` is a table."""

    model: str
    loss: float
    batch_size: int
    layers: dict[str, LayerNorms] = field(default_factory=dict)
    expand_nested: bool = False

    def table(self) -> str:
        head = f"{'layer':<32} {'|grad weights|':>15} {'|grad output|':>15}"
        out = [
            f'Gradient norms of "{self.model}": loss {self.loss:.6g}, batch {self.batch_size}',
            head,
            "-" * len(head),
        ]
        for key, n in self.layers.items():
            out.append(f"{key[:32]:<32} {_fmt(n.weight_norm):>15} {_fmt(n.output_norm):>15}")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.table()

    def annotate(self, view: Any) -> None:
        """Colours each box with weights (and its gradient twin) by its weights' gradient norm,
        on a log scale from the smallest to the largest; every box shows both norms."""
        found = [n.weight_norm for n in self.layers.values() if n.weight_norm]
        low, high = (min(found), max(found)) if found else (1.0, 10.0)
        if high <= low:
            low, high = low / 10.0, high * 10.0
        view.scale = Scale("weights' gradient norm (log scale)", "viridis", low, high, log=True)
        for b in view.all_boxes():
            n = self.layers.get(b.twin if b.twin is not None else b.key)
            if n is None or (n.weight_norm is None and n.output_norm is None):
                continue
            text = "‖∇W‖ " + _fmt(n.weight_norm) + " · ‖∇out‖ " + _fmt(n.output_norm)
            b.profile = {"weight_grad_norm": n.weight_norm, "output_grad_norm": n.output_norm}
            b.profile["text"] = text
            if n.weight_norm:
                b.profile["color"] = view.scale.color(n.weight_norm)
        view.profile_note = (
            f"gradients of the loss ({self.loss:.4g}) for one batch of {self.batch_size}; "
            "boxes without weights are not coloured"
        )


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.2e}"


def gradient_norms(
    model: Any,
    x: Any,
    y: Any,
    sample_weight: Any = None,
    training: bool = False,
    expand_nested: bool = False,
) -> GradientNorms:
    """Runs the compiled loss of `model` forward and backward once on (x, y) (`training` picks
    the training-mode graph: dropout, batch statistics; moving statistics are restored) and
    returns per box (the boxes of `plot_model(..., expand_nested=...)`) the norms of the
    gradients of its trainable weights and at its output."""
    if not getattr(model, "compiled", False):
        raise ValueError(
            f"gradient_norms(): model '{model.name}' is not compiled; the gradients are those "
            "of the compiled loss (compile(loss=...) first)"
        )
    if y is None:
        raise ValueError("gradient_norms(): targets y are required (the loss needs them)")
    # the model's own checks and training program (viz sits below training: no import of it)
    xs, ys, sws = model._prepared_batch((x, y, sample_weight), None)
    program = model._program(ys, sws)
    boxes = _box_tensors(model, box_mapper(model, expand_nested))
    feeds = list(model.inputs) + program.y_true + [w for w in program.sample_weights if w]
    values = xs + ys + [w for w in sws if w is not None]
    wanted = list(dict.fromkeys(t for ws, outs in boxes.values() for t in ws + outs))
    grads, loss = _run(model, program.total, wanted, feeds, values, xs, training)
    out = GradientNorms(model.name, loss, len(xs[0]), expand_nested=expand_nested)
    for key, (weights, outs) in boxes.items():
        out.layers[key] = LayerNorms(_norm(grads, weights), _norm(grads, outs))
    return out


def _norm(grads: dict, tensors: list) -> float | None:
    found = [grads[t] for t in tensors if grads.get(t) is not None]
    if not found:
        return None
    return math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in found))


def _box_tensors(model: Any, box_of: Any) -> dict[str, tuple[list, list]]:
    """Per box: the trainable weights its nodes read, and the float tensors its nodes make
    that leave it (read by another box or the loss, or a model output)."""
    from graphengine.graph.topo import collect_nodes, node_digraph, topological_order

    trainable = {id(w) for w in model.trainable_weights}
    nodes = topological_order(node_digraph(collect_nodes(model.outputs)))  # boxes in order
    owner = {id(n): box_of(n) for n in nodes}
    leaving = {id(t) for t in model.outputs}
    for n in nodes:
        for t in n.inputs:
            src = getattr(t, "node", None)
            if src is not None and owner.get(id(src), None) != owner[id(n)]:
                leaving.add(id(t))
    boxes: dict[str, tuple[list, list]] = {}
    for n in nodes:
        key = owner[id(n)]
        if key is None:
            continue
        weights, outs = boxes.setdefault(key, ([], []))
        weights += [t for t in n.inputs if id(t) in trainable and t not in weights]
        outs += [t for t in n.outputs if id(t) in leaving and np.dtype(t.dtype).kind == "f"]
    return boxes


def _run(
    model: Any, total: Any, wanted: list, feeds: list, values: list, xs: list, training: bool
) -> tuple[dict, float]:
    """The gradients of `total` for `wanted` tensors (None where none reaches them) and the
    loss, from one plan run; the state a pass may change is put back."""
    from graphengine.autodiff.backward import gradients
    from graphengine.graph.tensor import Constant, graph_mode
    from graphengine.ops.base import RunContext
    from graphengine.runtime.devices import get_device
    from graphengine.runtime.plan import Plan

    with graph_mode():
        grads = gradients([total], [Constant(np.ones((), total.dtype))], wanted)
    live = [g for g in grads if g is not None]
    extents = model._extents(model._extent_sizes(xs))
    shapes = [np.shape(v) for v in values]
    plan = Plan(feeds, live + [total], shapes, get_device("cpu"), RunContext(training), extents)
    saved = [(w.value, w.value.copy()) for w in model.non_trainable_weights]
    try:
        results = [np.array(r) for r in plan.run(values)]
    finally:
        for value, old in saved:
            np.copyto(value, old)
    found = iter(results[:-1])
    return {t: next(found) if g is not None else None for t, g in zip(wanted, grads)}, float(
        results[-1]
    )
