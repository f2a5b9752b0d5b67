"""The whole-batch rule. A model whose graph relates rows of its data by index (an op with
`mixes_rows`: the segment ops, take along axis 0, the graph layers) runs each data set whole, as
one batch: fit / evaluate / predict take arrays whose first axes differ (nodes N, edges E, graph
ids N), and the targets and sample weights hold one row per row of the output they go with."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from graphengine.graph.tensor import SymbolicTensor, format_shape
from graphengine.runtime.plan import concrete_specs
from graphengine.training import pipeline


def row_mixer(order: Sequence[Any], feeds: Sequence[SymbolicTensor]) -> str | None:
    """What makes a graph run its data whole: the first op (in `order`) that mixes rows of its
    input 0 where that input carries data (is computed from a feed, not from weights and
    constants only: a lookup in a weight table mixes no rows of the batch), named with its layer;
    None when there is none. Structural: computed once per model, whatever the data's sizes."""
    data = set(feeds)
    for node in order:
        if not any(t in data for t in node.op.value_inputs(node.inputs)):
            continue
        data.update(node.outputs)
        if node.op.mixes_rows and node.inputs[0] in data:
            layer = getattr(node.layer_call, "layer", None)
            return f"{node.op.name}" + (f" in layer '{layer.name}'" if layer is not None else "")
    return None


def reason(model: Any) -> str:
    return (
        f"Model '{model.name}' runs each data set whole, as one batch (its op "
        f"{model._whole_batch} relates rows by index)"
    )


def check_batch_size(model: Any, batch_size: Any, name: str = "batch_size") -> None:
    if batch_size is not None:
        raise ValueError(
            f"{reason(model)}, so {name} must be None; received {name}={batch_size!r}. Cut many "
            "graphs into batches with a PyDataset (ge.utils.GraphBatches), each batch whole"
        )


def refuse_split(model: Any) -> None:
    raise ValueError(
        f"{reason(model)}: fit()'s validation_split cannot cut it. Pass validation_data, or "
        "give the validation rows zero weight (sample_weight) and evaluate with their mask"
    )


def one_batch(model: Any, batch: Any, batch_size: Any, steps: int | None, what: str) -> Any:
    """The epochs of a whole data set: one batch `batch` each epoch."""
    check_batch_size(model, batch_size)
    if steps not in (None, 1):
        raise ValueError(
            f"{what}: {reason(model)}, one batch an epoch, so the step count must be None or "
            f"1; received {steps}"
        )
    return pipeline.EpochIterator(pipeline.ArrayBatches(1, 1, False, lambda _: batch), None, what)


def output_shapes(model: Any, xs: Sequence[np.ndarray]) -> list[tuple]:
    """The concrete shape of each output for the inputs `xs` (remembered for the last inputs'
    shapes and extents: a training loop asks once per batch, twice)."""
    sizes = model._extent_sizes(xs)
    key = (tuple(a.shape for a in xs), sizes)
    last = model.__dict__.get("_whole_batch_shapes")
    if last is not None and last[0] == key:
        return last[1]
    specs = concrete_specs(
        model._forward_order, model.inputs, key[0], model.outputs, model._extents(sizes)
    )
    shapes = [specs[o][0] for o in model.outputs]
    model.__dict__["_whole_batch_shapes"] = (key, shapes)
    return shapes


def output_rows(model: Any, xs: Sequence[np.ndarray]) -> list[int]:
    """The rows of each output for the inputs `xs`: what its targets and sample weights hold."""
    return [s[0] if s else 1 for s in output_shapes(model, xs)]


def check_targets(model: Any, xs: Sequence[np.ndarray], ys: Sequence[Any]) -> None:
    """The targets of a whole batch against the outputs' rows (not against the inputs' rows:
    nodes and graphs differ), before any work is done."""
    if model.distributed:
        raise NotImplementedError(
            f"{reason(model)}; a distributed fit cuts batches across ranks, which such a model "
            "cannot do yet"
        )
    shapes = output_shapes(model, xs)
    for i, (y, shape) in enumerate(zip(ys, shapes)):
        if y is not None and (not shape or len(y) != shape[0]):
            rows = shape[0] if shape else "no"
            raise ValueError(
                f"{reason(model)}, so target {i} ('{model.output_names[i]}') must hold one row "
                f"per row of that output: {rows} rows for these inputs (output shape "
                f"{format_shape(shape)}), but it has shape {format_shape(y.shape)}"
            )
    if shapes and all(s and s[0] == 0 for s in shapes):
        raise ValueError(
            f"Model '{model.name}': expected non-empty data, but every output has 0 rows for "
            f"these inputs (shapes {', '.join(format_shape(a.shape) for a in xs)})"
        )


def picker(idx: Any) -> Callable[[np.ndarray], np.ndarray]:
    """A batch's rows of an array: all of it for a whole batch (`idx` None), else `a[idx]`."""
    return (lambda a: a) if idx is None else (lambda a: a[idx])
