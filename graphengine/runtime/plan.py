"""Compiles a graph, for given input shapes and a device, into a flat list of steps over
preallocated buffers, reusing a buffer once the tensor in it is dead."""

from __future__ import annotations

from typing import Any, Sequence

from graphengine.graph.tensor import Constant, SymbolicTensor, Variable, format_shape
from graphengine.graph.topo import collect_nodes, last_uses, node_digraph, topological_order
from graphengine.ops.base import RunContext
from graphengine.runtime.devices import Device
from graphengine.runtime.memory import BufferPool


def forward_order(feeds: Sequence[SymbolicTensor], targets: Sequence[SymbolicTensor]) -> list:
    """The nodes computing `targets` from `feeds`, in deterministic topological order."""
    return topological_order(node_digraph(collect_nodes(targets, stop=set(feeds))))


def concrete_specs(
    order: Sequence[Any],
    feeds: Sequence[SymbolicTensor],
    feed_shapes: Sequence[tuple],
    targets: Sequence[SymbolicTensor] = (),
) -> dict[SymbolicTensor, tuple]:
    """(shape, dtype) of every tensor of `order` when the feeds have these concrete shapes."""
    specs = {t: (tuple(s), t.dtype) for t, s in zip(feeds, feed_shapes)}
    for node in order:
        for t in node.inputs:
            if t not in specs:
                specs[t] = _leaf_spec(t, feeds)
        out_specs = node.op.infer(
            [specs[t][0] for t in node.inputs], [specs[t][1] for t in node.inputs]
        )
        specs.update(zip(node.outputs, out_specs))
    for t in targets:
        if t not in specs:
            specs[t] = _leaf_spec(t, feeds)
    return specs


def _leaf_spec(t: SymbolicTensor, feeds: Sequence[SymbolicTensor]) -> tuple:
    if isinstance(t, Variable):
        return tuple(t.shape), t.dtype  # no sync from a device for a shape
    if isinstance(t, Constant):
        return t.value.shape, t.dtype
    raise ValueError(
        f"Graph disconnected: tensor '{t.name}' {format_shape(t.shape)} is needed but "
        f"is not among the inputs ({', '.join(f.name for f in feeds)})"
    )


class Plan:
    """Steps `(op.forward, input buffers, output buffers)` computing `targets` from `feeds`.

    Shapes are re-inferred with the concrete feed shapes, so one symbolic graph serves any batch
    size. Feeds, targets and weights keep their own buffers; every other buffer is recycled.
    """

    def __init__(
        self,
        feeds: Sequence[SymbolicTensor],
        targets: Sequence[SymbolicTensor],
        feed_shapes: Sequence[tuple],
        device: Device,
        ctx: RunContext,
    ) -> None:
        self.feeds, self.targets, self.device, self.ctx = list(feeds), list(targets), device, ctx
        self.order = forward_order(self.feeds, self.targets)
        self.specs = concrete_specs(self.order, self.feeds, feed_shapes, self.targets)
        self.pool = BufferPool(device)
        self.buffers: dict[SymbolicTensor, Any] = {}
        for t, shape in zip(self.feeds, feed_shapes):
            self.buffers[t] = self.pool.take(shape, t.dtype)
        self.steps = self._schedule()
        # fixed from here on: what run() copies into and returns, without a lookup per call
        self._feed_buffers = [self.buffers[t] for t in self.feeds]
        self._target_buffers = [self.buffer(t) for t in self.targets]

    def buffer(self, t: SymbolicTensor) -> Any:
        if t not in self.buffers:  # a Variable (its device mirror) or a Constant leaf
            if isinstance(t, Variable):
                self.buffers[t] = t.on_device(self.device)
            else:
                self.buffers[t] = self.device.to_device(t.value)
        return self.buffers[t]

    def _schedule(self) -> list[tuple]:
        """Assigns buffers in order and returns the steps. An op whose output is a view of its
        input (a reshape, dropout at inference) gets no step (its other outputs, if any, get
        buffers nothing writes); a buffer goes back to the pool once no live tensor uses it
        (views counted), unless a target, feed or weight holds it."""
        last = last_uses(self.order)
        keep = set(self.targets) | set(self.feeds)
        root: dict[SymbolicTensor, int] = {}  # tensor -> id of the pooled buffer it lives in
        users: dict[int, int] = {}  # pooled buffer id -> live tensors in it (None: never freed)
        pooled: dict[int, Any] = {}
        steps = []
        for i, node in enumerate(self.order):
            ins = [
                None if j in node.op.shape_only else self.buffer(t)
                for j, t in enumerate(node.inputs)
            ]
            out_shapes = [self.specs[t][0] for t in node.outputs]
            in_shapes = [self.specs[t][0] for t in node.inputs]
            view = node.op.is_view(in_shapes, out_shapes[0], self.ctx.training)
            if view:
                src, out = node.inputs[0], node.outputs[0]
                self.buffers[out] = self.buffer(src).reshape(out_shapes[0])
                if src in root:
                    root[out] = root[src]
                    users[root[out]] += 1
            for t in node.outputs[1:] if view else node.outputs:
                shape, dtype = self.specs[t]
                self.buffers[t] = self.pool.take(shape, dtype)
                root[t] = id(self.buffers[t])
                pooled[root[t]], users[root[t]] = self.buffers[t], 1
            if not view:
                steps.append((node.op.forward, ins, [self.buffers[t] for t in node.outputs]))
            for t in node.outputs + node.inputs:
                if t in root and t in keep:
                    users[root[t]] = None  # held by a target or feed: never recycled
            dead = [t for t in node.op.value_inputs(node.inputs) if last.get(t) == i]
            dead += [t for t in node.outputs if t not in last]
            for t in dict.fromkeys(dead):
                if t in root and t not in keep and users[root[t]] is not None:
                    users[root[t]] -= 1
                    if users[root[t]] == 0:
                        self.pool.give(pooled[root[t]])
        return steps

    @property
    def feed_buffers(self) -> list[Any]:
        """The buffers the feeds are read from; fill them and call `run()` with no feeds."""
        return list(self._feed_buffers)

    def run(self, feeds: Sequence[Any] | None = None) -> list[Any]:
        """Copies `feeds` (if given) into their buffers, runs every step, returns the target
        buffers (owned by the plan: the next run overwrites them)."""
        device, ctx = self.device, self.ctx
        if feeds is not None:
            for buffer, value in zip(self._feed_buffers, feeds):
                device.copy_in(buffer, value)
        if ctx.training:
            device.version += 1  # weights (and moving statistics) on the device change
        k = device.kernels
        for forward, ins, outs in self.steps:
            forward(k, ins, outs, ctx)
        return list(self._target_buffers)
