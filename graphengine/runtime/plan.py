"""Compiles a graph, for given input shapes and a device, into a flat list of steps over
preallocated buffers, reusing a buffer once the tensor in it is dead."""

from __future__ import annotations

from typing import Any, Sequence

from graphengine.graph.tensor import Constant, SymbolicTensor, Variable, format_shape
from graphengine.graph.topo import collect_nodes, last_uses, node_digraph, topological_order
from graphengine.ops.base import RunContext
from graphengine.runtime.devices import Device
from graphengine.runtime.memory import BufferPool


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
        self.order = topological_order(node_digraph(collect_nodes(targets, stop=set(feeds))))
        self.specs = self._concrete_specs(feed_shapes)
        self.pool = BufferPool(device)
        self.buffers: dict[SymbolicTensor, Any] = {}
        for t, shape in zip(self.feeds, feed_shapes):
            self.buffers[t] = self.pool.take(shape, t.dtype)
        self.steps = self._schedule()

    def _concrete_specs(self, feed_shapes: Sequence[tuple]) -> dict[SymbolicTensor, tuple]:
        specs = {t: (tuple(s), t.dtype) for t, s in zip(self.feeds, feed_shapes)}
        for node in self.order:
            for t in node.inputs:
                if t not in specs:
                    specs[t] = self._leaf_spec(t)
            shapes = [specs[t][0] for t in node.inputs]
            out_specs = node.op.infer(shapes, [specs[t][1] for t in node.inputs])
            for t, spec in zip(node.outputs, out_specs):
                specs[t] = spec
        for t in self.targets:
            if t not in specs:
                specs[t] = self._leaf_spec(t)
        return specs

    def _leaf_spec(self, t: SymbolicTensor) -> tuple:
        if isinstance(t, (Variable, Constant)):
            return t.value.shape, t.dtype
        raise ValueError(
            f"Graph disconnected: tensor '{t.name}' {format_shape(t.shape)} is needed "
            f"but is not among the inputs ({', '.join(f.name for f in self.feeds)})"
        )

    def buffer(self, t: SymbolicTensor) -> Any:
        if t not in self.buffers:
            self.buffers[t] = self.device.to_device(t.value)  # a Variable or Constant leaf
        return self.buffers[t]

    def _schedule(self) -> list[tuple]:
        last = last_uses(self.order)
        keep = set(self.targets) | set(self.feeds)
        steps = []
        for i, node in enumerate(self.order):
            ins = [
                None if j in node.op.shape_only else self.buffer(t)
                for j, t in enumerate(node.inputs)
            ]
            outs = []
            for t in node.outputs:
                shape, dtype = self.specs[t]
                self.buffers[t] = self.pool.take(shape, dtype)
                outs.append(self.buffers[t])
            steps.append((node.op.forward, ins, outs))
            dead = [t for t in node.op.value_inputs(node.inputs) if last.get(t) == i]
            dead += [t for t in node.outputs if t not in last]
            for t in dict.fromkeys(dead):
                if t.node is not None and t not in keep:
                    self.pool.give(self.buffers[t])
        return steps

    def run(self, feeds: Sequence[Any]) -> list[Any]:
        """Copies `feeds` into their buffers, runs every step, returns the target buffers
        (owned by the plan: the next run overwrites them)."""
        for t, value in zip(self.feeds, feeds):
            self.device.copy_in(self.buffers[t], value)
        k, ctx = self.device.kernels, self.ctx
        for forward, ins, outs in self.steps:
            forward(k, ins, outs, ctx)
        return [self.buffer(t) for t in self.targets]
