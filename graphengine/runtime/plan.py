"""Compiles a graph, for given input shapes and a device, into a flat list of steps over
preallocated buffers, reusing a buffer once the tensor in it is dead."""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, Sequence

import numpy as np

from graphengine.graph.tensor import STRING, Constant, SymbolicTensor, Variable, format_shape
from graphengine.graph.topo import collect_nodes, last_uses, node_digraph, topological_order
from graphengine.ops.base import RunContext, extent_size, with_extent
from graphengine.runtime.devices import Device
from graphengine.runtime.fusion import fuse
from graphengine.runtime.memory import BufferPool


def forward_order(feeds: Sequence[SymbolicTensor], targets: Sequence[SymbolicTensor]) -> list:
    """The nodes computing `targets` from `feeds`, in deterministic topological order."""
    return topological_order(node_digraph(collect_nodes(targets, stop=set(feeds))))


def concrete_specs(
    order: Sequence[Any],
    feeds: Sequence[SymbolicTensor],
    feed_shapes: Sequence[tuple],
    targets: Sequence[SymbolicTensor] = (),
    extents: Mapping[SymbolicTensor, int] | None = None,
) -> dict[SymbolicTensor, tuple]:
    """(shape, dtype) of every tensor of `order` when the feeds have these concrete shapes;
    `extents` holds max(id) + 1 of each feed whose values size an op's output (`extent_input`)."""
    specs = {t: (tuple(s), t.dtype) for t, s in zip(feeds, feed_shapes)}
    for node in order:
        for t in node.inputs:
            if t not in specs:
                specs[t] = _leaf_spec(t, feeds)
        out_specs = node.op.infer(
            [specs[t][0] for t in node.inputs], [specs[t][1] for t in node.inputs]
        )
        if node.op.extent_input is not None and any(s and s[0] is None for s, _ in out_specs):
            out_specs = with_extent(out_specs, _extent(node, extents or {}))
        specs.update(zip(node.outputs, out_specs))
    for t in targets:
        if t not in specs:
            specs[t] = _leaf_spec(t, feeds)
    return specs


def _extent(node: Any, extents: Mapping[SymbolicTensor, int]) -> int:
    t = node.inputs[node.op.extent_input]
    if isinstance(t, Constant):
        return extent_size(t.value, f"{node.op.name}: input {node.op.extent_input}")
    if t not in extents:
        raise ValueError(
            f"{node.op.name}: its output's size comes from the values of '{t.name}' "
            "(max(id) + 1), but the plan was given no size for it"
        )
    return extents[t]


def extent_feeds(order: Sequence[Any], feeds: Sequence[SymbolicTensor]) -> tuple[int, ...]:
    """The indices of the feeds whose values size an op's output (an op's `extent_input`), in
    feed order: what a caller measures (`extent_size`) and hands a plan as its `extents`."""
    sources = {n.inputs[n.op.extent_input] for n in order if n.op.extent_input is not None}
    return tuple(i for i, t in enumerate(feeds) if t in sources)


def _leaf_spec(t: SymbolicTensor, feeds: Sequence[SymbolicTensor]) -> tuple:
    if isinstance(t, Variable):
        return tuple(t.shape), t.dtype  # no sync from a device for a shape
    if isinstance(t, Constant):
        return t.value.shape, t.dtype
    raise ValueError(
        f"Graph disconnected: tensor '{t.name}' {format_shape(t.shape)} is needed but "
        f"is not among the inputs ({', '.join(f.name for f in feeds)})"
    )


class Step(NamedTuple):
    """One call of the run loop: `run(kernels, inputs, outputs, ctx)` over the plan's buffers
    (an op's forward, or a step appended after the graph's, as the training update)."""

    run: Callable[..., None]
    inputs: list
    outputs: list


class Plan:
    """Steps computing `targets` from `feeds`: one per op not a view, then any appended.

    Shapes are re-inferred with the concrete feed shapes, so one symbolic graph serves any batch
    size; `extents` gives the sizes that depend on the values of feeds (see `concrete_specs`), so
    a plan serves only feeds of those values' extents. Feeds, targets and weights keep their own
    buffers; every other buffer is recycled.
    """

    def __init__(
        self,
        feeds: Sequence[SymbolicTensor],
        targets: Sequence[SymbolicTensor],
        feed_shapes: Sequence[tuple],
        device: Device,
        ctx: RunContext,
        extents: Mapping[SymbolicTensor, int] | None = None,
    ) -> None:
        self.feeds, self.targets, self.device, self.ctx = list(feeds), list(targets), device, ctx
        # fusion.fuse: a BatchNormalization -> ReLU pair runs as one op
        self.order = fuse(forward_order(self.feeds, self.targets), set(self.feeds) | set(targets))
        self.specs = concrete_specs(self.order, self.feeds, feed_shapes, self.targets, extents)
        self.pool = BufferPool(device)
        self.buffers: dict[SymbolicTensor, Any] = {}
        for t, shape in zip(self.feeds, feed_shapes):
            # strings stay on the host on every device: only host ops read them
            string = t.dtype == STRING
            self.buffers[t] = np.empty(shape, t.dtype) if string else self.pool.take(shape, t.dtype)
        self.steps: list[Step] = self._schedule()
        # the step a training plan ends with (append_update): the optimizer update
        self.update: Any = None
        # an op writing variables in any mode (a stateful RNN's WriteState): every run changes
        # the device's variables, not only a training run
        self._writes = any(getattr(n.op, "writes_variables", False) for n in self.order)
        # fixed from here on: what run() copies into and returns, without a lookup per call
        self._feed_buffers = [self.buffers[t] for t in self.feeds]
        self._target_buffers = [self.buffer(t) for t in self.targets]
        self._lendable = [self._lendable_slots(t) for t in self.feeds]
        self._threads = device.step_threads()  # the thread count of each run (devices.py)

    def buffer(self, t: SymbolicTensor) -> Any:
        if t not in self.buffers:  # a Variable (its device mirror) or a Constant leaf
            if isinstance(t, Variable):
                self.buffers[t] = t.on_device(self.device)
            else:
                self.buffers[t] = self.device.to_device(t.value)
        return self.buffers[t]

    def _schedule(self) -> list[Step]:
        """Assigns buffers in order and returns the steps. An op whose output is a view of its
        input (a reshape, dropout at inference) gets no step (its other outputs, if any, get
        buffers nothing writes); a buffer goes back to the pool once no live tensor uses it
        (views counted), unless a target, feed or weight holds it."""
        last = last_uses(self.order)
        keep = set(self.targets) | set(self.feeds)
        root: dict[SymbolicTensor, int] = {}  # tensor -> id of the pooled buffer it lives in
        # pooled buffer id -> live tensors in it, views counted (None: a feed's or a target's,
        # never freed)
        users: dict[int, int | None] = {}
        pooled: dict[int, Any] = {}
        for t in self.feeds:
            root[t] = id(self.buffers[t])
            users[root[t]] = None
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
                    # a view is one more live tensor in its root's block, which stays taken
                    # until the last of them dies; a held block (None) lives as long as the plan
                    if users[root[out]] is not None:
                        users[root[out]] += 1
            handed = []  # inputs whose buffer an output took (in_place): not given back
            for t in node.outputs[1:] if view else node.outputs:
                shape, dtype = self.specs[t]
                src = None if view else self._in_place_source(node, t, i, last, keep, root, users)
                if src is not None:
                    self.buffers[t], root[t] = self.buffers[src], root[src]
                    handed.append(src)
                    continue
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
                if t in handed:
                    continue
                if t in root and t not in keep and users[root[t]] is not None:
                    users[root[t]] -= 1
                    if users[root[t]] == 0:
                        self.pool.give(pooled[root[t]])
        self.pool.allocate()  # every block at the largest size its tensors need
        resolve = self.pool.resolve
        self.buffers = {t: resolve(b) for t, b in self.buffers.items()}
        return [
            Step(f, [resolve(a) for a in ins], [resolve(o) for o in outs]) for f, ins, outs in steps
        ]

    def _in_place_source(
        self, node: Any, out: SymbolicTensor, i: int, last: dict, keep: set, root: dict, users: dict
    ) -> SymbolicTensor | None:
        """The input of step i whose buffer output `out` may take (the op's `in_place`): one
        that dies at this step, alone in its pooled buffer, of out's shape and dtype."""
        o = node.outputs.index(out)
        for oi, j in node.op.in_place:
            src = node.inputs[j]
            if (
                oi == o
                and j not in node.op.shape_only
                and last.get(src) == i
                and src not in keep
                and users.get(root.get(src)) == 1
                and self.specs[src] == self.specs[out]
                and node.inputs.count(src) == 1
            ):
                return src
        return None

    def _lendable_slots(self, feed: SymbolicTensor) -> list[tuple[list, int]] | None:
        """The (step inputs, index) slots that read `feed`'s buffer, where run() may put the
        caller's array instead of copying it in; None where that is not safe: a device with its
        own memory, a view of the buffer (a reshape, a target) that would keep showing the old
        data, or a step handing its inputs to user code (a Lambda's fn could keep or edit them)."""
        buffer = self.buffers[feed]
        if self.device.resident or any(
            b is not buffer and np.may_share_memory(b, buffer) for b in self.buffers.values()
        ):
            return None
        if any(b is buffer for b in self._target_buffers):
            return None
        slots = []
        for forward, ins, _ in self.steps:
            for j, a in enumerate(ins):
                if a is buffer:
                    if getattr(getattr(forward, "__self__", None), "host_code", True):
                        return None
                    slots.append((ins, j))
        return slots

    def append_update(self, update: Callable[..., None], reads: Sequence[SymbolicTensor]) -> None:
        """Ends the plan with `update(kernels, buffers of reads, [], ctx)` (the optimizer update
        reading the gradients), kept as `self.update`. A lent feed never reaches it: it reads
        only computed buffers."""
        self.steps.append(Step(update, [self.buffer(t) for t in reads], []))
        self.update = update

    @property
    def feed_buffers(self) -> list[Any]:
        """The buffers the feeds are read from; fill them and call `run()` with no feeds."""
        return list(self._feed_buffers)

    def run(self, feeds: Sequence[Any] | None = None) -> list[Any]:
        """Runs every step on `feeds` (if given; else on what the feed buffers hold) and returns
        the target buffers (owned by the plan: the next run overwrites them). A large feed that
        is already a writeable, aligned C-contiguous array of the buffer's shape and dtype is
        read in place for this run, as PyTorch's from_numpy (it is only read); any other is
        copied into its buffer, casting the dtype."""
        device, ctx = self.device, self.ctx
        lent: list[tuple[list, int, Any]] = []
        if feeds is not None:
            for buffer, slots, value in zip(self._feed_buffers, self._lendable, feeds):
                if slots is not None and _lendable(value, buffer):
                    for ins, j in slots:
                        ins[j] = value
                        lent.append((ins, j, buffer))
                else:
                    device.copy_in(buffer, value)
        if ctx.training or self._writes:
            device.version += 1  # weights (and moving statistics, states) on the device change
        k = device.kernels
        self._threads.begin()
        try:
            for forward, ins, outs in self.steps:
                forward(k, ins, outs, ctx)
            self._threads.end()
        finally:
            for ins, j, buffer in lent:
                ins[j] = buffer
        return list(self._target_buffers)


LEND_BYTES = 1 << 16  # below this a copy costs about what checking for a lend does


def _lendable(value: Any, buffer: np.ndarray) -> bool:
    if type(value) is not np.ndarray or value.nbytes < LEND_BYTES:
        return False
    flags = value.flags
    return (
        value.dtype is buffer.dtype
        and value.shape == buffer.shape
        and flags.c_contiguous
        and flags.writeable
        and flags.aligned
    )
