"""`model.profile(x, y)`: times every step of one compiled training step (or, without y, one
inference pass), maps each step to its primitive node and that node to the box of its layer
(a gradient node to the layer it differentiates), and sums time and buffer bytes per layer."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from graphengine.viz.scale import Scale
from graphengine.viz.summary import human_bytes
from graphengine.viz.view import box_mapper

OPTIMIZER, LOSS = "(optimizer update)", "(loss)"


@dataclass
class LayerProfile:
    forward_ms: float = 0.0
    backward_ms: float = 0.0
    forward_bytes: int = 0  # output buffers of its forward steps
    backward_bytes: int = 0  # output buffers of its gradient steps
    steps: int = 0

    @property
    def bytes(self) -> int:
        return self.forward_bytes + self.backward_bytes

    @property
    def total_ms(self) -> float:
        return self.forward_ms + self.backward_ms


@dataclass
class Profile:
    """Per-box timings (median over `repeats` runs): `layers[key]` with forward_ms,
    backward_ms, bytes; `total_ms` for the whole step. `str(profile)` is a table."""

    model: str
    kind: str  # "training step" or "inference"
    batch_size: int
    repeats: int
    layers: dict[str, LayerProfile] = field(default_factory=dict)
    total_ms: float = 0.0
    expand_nested: bool = False

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {
            k: {
                "forward_ms": p.forward_ms,
                "backward_ms": p.backward_ms,
                "forward_bytes": p.forward_bytes,
                "backward_bytes": p.backward_bytes,
            }
            for k, p in self.layers.items()
        }

    def table(self) -> str:
        head = f"{'layer':<28} {'forward ms':>11} {'backward ms':>12} {'share':>6} {'buffers':>11}"
        out = [
            f'Profile of "{self.model}": one {self.kind}, batch {self.batch_size}, '
            f"median of {self.repeats}",
            head,
            "-" * len(head),
        ]
        for key, p in sorted(self.layers.items(), key=lambda kv: -kv[1].total_ms):
            share = p.total_ms / self.total_ms if self.total_ms else 0.0
            out.append(
                f"{key[:28]:<28} {p.forward_ms:>11.3f} {p.backward_ms:>12.3f} "
                f"{share:>6.1%} {human_bytes(p.bytes):>11}"
            )
        out.append("-" * len(head))
        out.append(f"{'total':<28} {self.total_ms:>11.3f} ms")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.table()

    def annotate(self, view: Any) -> None:
        """Colours the boxes of a view: each forward box by its forward + backward time, each
        gradient box by its backward time; the legend's scale runs from 0 to the peak."""
        peak = max([p.total_ms for p in self.layers.values()] + [1e-12])
        view.scale = Scale(f"time per layer ({self.kind})", "YlOrRd", 0.0, peak, unit="ms")
        for b in view.all_boxes():
            key = b.twin if b.twin is not None else b.key
            if b.role == "loss":
                key = LOSS
            p = self.layers.get(key)
            if p is None:
                continue
            grad = b.role == "grad"
            ms = p.backward_ms if grad else p.total_ms
            size = p.backward_bytes if grad else (p.forward_bytes if b.role != "loss" else p.bytes)
            b.profile = {
                "ms": ms,
                "forward_ms": p.forward_ms,
                "backward_ms": p.backward_ms,
                "bytes": size,
                "share": ms / peak,
                "color": view.scale.color(ms),
                "text": f"{ms:.3f} ms · {human_bytes(size)}",
            }
        extra = [
            f"{k} {self.layers[k].total_ms:.3f} ms" for k in (LOSS, OPTIMIZER) if k in self.layers
        ]
        view.profile_note = (
            f"colour: time of one {self.kind} (layers: forward + backward), buffers' bytes; "
            f"total {self.total_ms:.3f} ms at batch {self.batch_size}"
            + (f"; {', '.join(extra)}" if extra else "")
        )


def _step_nodes(plan: Any) -> list[Any]:
    """The primitive node of each step (None for steps no node made: the optimizer update);
    view-producing nodes have no step."""
    nodes, steps, i = [], plan.steps, 0
    for node in plan.order:
        if i >= len(steps):
            break
        fn, _, outs = steps[i]
        if fn == node.op.forward and outs and outs[0] is plan.buffers.get(node.outputs[0]):
            nodes.append(node)
            i += 1
    return nodes + [None] * (len(steps) - len(nodes))


@contextmanager
def _plan_for(model: Any, x: Any, y: Any) -> Iterator[tuple[Any, int, str]]:
    """The plan profiled (lent from the model's cache), its batch size and what it runs."""
    if y is None:
        arrays = model._check_arrays(model._feed_list(x), model.inputs)
        with model._plan(
            ("forward", tuple(t.id for t in model.outputs)),
            model.inputs,
            model.outputs,
            [a.shape for a in arrays],
            False,
            sizes=model._extent_sizes(arrays),
        ) as plan:
            for buf, a in zip(plan.feed_buffers, arrays):
                plan.device.copy_in(buf, np.ascontiguousarray(a, dtype=buf.dtype))
            yield plan, len(arrays[0]), "inference"
        return
    model._require_compiled("profile")
    xs, ys = model._prepare(x, y)
    sws = [None] * len(ys)
    program = model._program(ys, sws)
    n = None if model._whole_batch else len(xs[0])  # None: the arrays are one whole batch
    with model._step_plan(program, xs, ys, sws, n, True) as plan:
        for buf, a in zip(plan.feed_buffers, xs + [t for t in ys if t is not None]):
            plan.device.copy_in(buf, a)
        yield plan, len(xs[0]), "training step"


def profile_model(
    model: Any, x: Any, y: Any = None, repeats: int = 5, expand_nested: bool = False
) -> Profile:
    """Times each step of the plan `repeats` times after one warm-up run; weights and the
    optimizer state are restored afterwards, so profiling does not train the model."""
    if repeats < 1:
        raise ValueError(f"profile(): repeats must be at least 1, got {repeats=}")
    with _plan_for(model, x, y) as (plan, batch, kind):
        saved = [w.value.copy() for w in model.weights]
        optimizer = getattr(model, "optimizer", None)
        opt_state = None
        if kind == "training step" and getattr(optimizer, "built", False):
            opt_state = [np.array(v, copy=True) for v in optimizer.variables]
        k, ctx = plan.device.kernels, plan.ctx
        times = np.zeros((repeats, len(plan.steps)))
        try:
            for run in range(repeats + 1):
                for i, (forward, ins, outs) in enumerate(plan.steps):
                    start = time.perf_counter()
                    forward(k, ins, outs, ctx)
                    if run:
                        times[run - 1, i] = (time.perf_counter() - start) * 1e3
        finally:
            for w, value in zip(model.weights, saved):
                w.assign(value)
            if opt_state is not None:
                optimizer.set_weights(opt_state)
        return _tally(model, plan, np.median(times, axis=0), batch, kind, repeats, expand_nested)


def _tally(
    model: Any, plan: Any, ms: np.ndarray, batch: int, kind: str, repeats: int, expand_nested: bool
) -> Profile:
    box_of = box_mapper(model, expand_nested)
    out = Profile(model.name, kind, batch, repeats, expand_nested=expand_nested)
    for node, t in zip(_step_nodes(plan), ms):
        if node is None:
            key, backward = OPTIMIZER, True
        elif node.grad_of is not None:
            key, backward = box_of(node.grad_of) or LOSS, True
        else:
            key, backward = box_of(node) or LOSS, False
        p = out.layers.setdefault(key, LayerProfile())
        if backward:
            p.backward_ms += float(t)
        else:
            p.forward_ms += float(t)
        p.steps += 1
        if node is not None:
            size = sum(
                int(np.prod(plan.specs[o][0])) * np.dtype(plan.specs[o][1]).itemsize
                for o in node.outputs
                if o in plan.specs
            )
            if backward:
                p.backward_bytes += size
            else:
                p.forward_bytes += size
    out.total_ms = float(ms.sum())
    return out
