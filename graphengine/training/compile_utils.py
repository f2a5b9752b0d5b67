"""What compile() and fit() make of Keras's weighting arguments: the compiled metrics (metrics
and weighted_metrics, per output, named as Keras names them), sample weights per output, and
class_weight turned into sample weights."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from graphengine.graph.tensor import format_shape
from graphengine.training import metrics as metrics_module
from graphengine.tree import flatten


class CompileMetrics:
    """The metrics given to compile(), as one object (Keras 3's "compile_metrics"): per output,
    `metrics` see no sample weights and `weighted_metrics` see them; a mean metric also takes
    its output's mask as weights (as Keras's MeanMetricWrapper). result() is a dict by the
    names fit logs: the metric's name, prefixed by the output's when there are several, a
    weighted metric named like an unweighted one prefixed "weighted_", repeats numbered."""

    name = "compile_metrics"

    def __init__(
        self, metric_ids: list[list], weighted_ids: list[list], output_names: list[str]
    ) -> None:
        self.metric_ids, self.weighted_ids = metric_ids, weighted_ids
        self.output_names = output_names
        self.metrics: list[list] | None = None  # [metrics, weighted] per output, once built
        self.names: list[str] = []

    def build(self, y_true_shapes: Sequence[tuple], y_pred_shapes: Sequence[tuple]) -> None:
        """Makes the metric objects for these target and output shapes (as Keras, "accuracy"
        resolves by them) and their log names."""
        self.metrics = [
            [
                [metrics_module.get(m, tuple(yt), tuple(yp)) for m in ids[i]]
                for ids in (self.metric_ids, self.weighted_ids)
            ]
            for i, (yt, yp) in enumerate(zip(y_true_shapes, y_pred_shapes))
        ]
        multi, seen, names = len(self.output_names) > 1, set(), []
        for weighted in (0, 1):
            for out, per_output in zip(self.output_names, self.metrics):
                for m in per_output[weighted]:
                    name = f"{out}_{m.name}" if multi else m.name
                    if name in seen and weighted:
                        name = f"{out}_weighted_{m.name}" if multi else f"weighted_{m.name}"
                    base, k = name, 1
                    while name in seen:
                        name, k = f"{base}_{k}", k + 1
                    seen.add(name)
                    names.append(name)
        self.names = names

    @property
    def flat(self) -> list:
        """Every metric object, in the order of `names`."""
        per = self.metrics or []
        return [m for weighted in (0, 1) for ms in per for m in ms[weighted]]

    @property
    def variables(self) -> list:
        return [v for m in self.flat for v in m.variables]

    def reset_state(self) -> None:
        for metric in self.flat:
            metric.reset_state()

    def update_state(
        self, y_true: Any, y_pred: Any, sample_weight: Any = None, masks: Any = None
    ) -> None:
        """Updates every output's metrics; `sample_weight` one array for all outputs or one per
        output (None entries for none), `masks` one per output (or None)."""
        n = len(self.output_names)
        ys, preds, sws = per_output(
            "compile_metrics.update_state", n, y_true, y_pred, sample_weight
        )
        masks = list(masks) if masks is not None else [None] * n
        if self.metrics is None:
            self.build([np.shape(y) for y in ys], [np.shape(p) for p in preds])
        assert self.metrics is not None
        for (plain, weighted), y, p, sw, mask in zip(self.metrics, ys, preds, sws, masks):
            if y is None:
                continue
            for metric in plain:
                metric.update_state(y, p, sample_weight=_with_mask(metric, None, mask))
            for metric in weighted:
                metric.update_state(y, p, sample_weight=_with_mask(metric, sw, mask))

    def result(self) -> dict[str, float]:
        return {name: m.result() for name, m in zip(self.names, self.flat)}


def _with_mask(metric: Any, sample_weight: Any, mask: Any) -> Any:
    """Keras's MeanMetricWrapper weights by the output's mask (one entry per time step); other
    metrics see the sample weights only."""
    if mask is None or not isinstance(metric, metrics_module.MeanMetricWrapper):
        return sample_weight
    return metrics_module.apply_mask(sample_weight, mask)


def per_output(
    owner: str, n: int, y_true: Any, y_pred: Any, sample_weight: Any
) -> tuple[list, list, list]:
    """(targets, predictions, sample weights), one of each per output of a model with n: the
    targets and predictions flattened (ValueError naming `owner` when they are not n), the
    sample weights one per output when a list of n is given, else the one given for all."""
    ys, preds = flatten(y_true), flatten(y_pred)
    if len(ys) != n or len(preds) != n:
        raise ValueError(
            f"{owner}: the model has {n} outputs, received {len(ys)} targets and "
            f"{len(preds)} predictions"
        )
    per = isinstance(sample_weight, (list, tuple)) and n > 1
    return ys, preds, list(sample_weight) if per else [sample_weight] * n


# -- sample weights ------------------------------------------------------------------------------
def sample_weights(
    model: Any, sample_weight: Any, class_weight: Any, ys: list, n: int | list[int]
) -> list[np.ndarray | None]:
    """One float32 weight array per output (None where none), from Keras's `sample_weight` (one
    array for every output, a list, or a dict by output name) or `class_weight` (a dict
    {class id: weight}, single-output models only), checked against the `n` samples (a list:
    each output's rows, for a model that runs its data whole)."""
    outputs = len(model.outputs)
    rows = list(n) if isinstance(n, list) else [n] * outputs
    if class_weight is not None:
        if sample_weight is not None:
            raise ValueError(
                f"Model '{model.name}': you cannot pass class_weight and sample_weight at the "
                "same time; fold the class weights into sample_weight"
            )
        if outputs != 1:
            raise ValueError(
                f"Model '{model.name}': class_weight is only supported for models with a "
                f"single output; this one has {outputs} ({', '.join(model.output_names)}). "
                "Pass sample_weight per output instead"
            )
        return [class_weight_to_sample_weights(model, ys[0], class_weight)]
    if sample_weight is None:
        return [None] * outputs
    if isinstance(sample_weight, dict):
        unknown = [k for k in sample_weight if k not in model.output_names]
        if unknown:
            raise ValueError(
                f"Model '{model.name}': sample_weight has keys {unknown} that are not outputs; "
                f"outputs: {model.output_names}"
            )
        per = [sample_weight.get(name) for name in model.output_names]
    elif isinstance(sample_weight, (list, tuple)) and outputs > 1:
        if len(sample_weight) != outputs:
            raise ValueError(
                f"Model '{model.name}': sample_weight has {len(sample_weight)} entries but the "
                f"model has {outputs} outputs ({', '.join(model.output_names)}); give one array "
                "per output, or one array for all"
            )
        per = list(sample_weight)
    else:
        sw = np.asarray(sample_weight)
        if outputs > 1 and not (sw.ndim == 1 or (sw.ndim == 2 and sw.shape[1] == 1)):
            raise ValueError(
                f"Model '{model.name}': one sample_weight array for {outputs} outputs must hold "
                f"one weight per sample (shape ({rows[0]},)), received shape "
                f"{format_shape(sw.shape)}; pass one array per output for other shapes"
            )
        per = [sample_weight] * outputs
    return [
        None if w is None else check_sample_weight(model, w, count, name)
        for w, name, count in zip(per, model.output_names, rows)
    ]


def check_sample_weight(model: Any, weight: Any, n: int, output: str) -> np.ndarray:
    """`weight` as a contiguous float32 array with one row per sample; TypeError for
    non-numbers, ValueError for another number of rows or a NaN / infinite weight."""
    what = f"Model '{model.name}': sample_weight for output '{output}'"
    array = np.asarray(weight)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{what} must be numeric, received dtype {array.dtype}")
    if array.ndim == 0 or len(array) != n:
        raise ValueError(
            f"{what} has shape {format_shape(array.shape)}, but there are {n} samples: give "
            f"one weight per sample (shape ({n},))"
        )
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        bad = int(np.flatnonzero(~np.isfinite(array.reshape(len(array), -1)).all(1))[0])
        raise ValueError(f"{what} holds a non-finite weight ({array[bad]!r} for sample {bad})")
    return array


def class_weight_to_sample_weights(model: Any, y: np.ndarray, class_weight: Any) -> np.ndarray:
    """Each sample's weight: class_weight[its class] (the target's argmax for one-hot targets,
    its rounded value otherwise), 1.0 for classes class_weight does not name, as Keras. Keys
    must be class ids of the output (ValueError naming the key otherwise)."""
    what = f"Model '{model.name}': class_weight"
    if not isinstance(class_weight, dict):
        raise TypeError(
            f"{what} must be a dict {{class id: weight}}, received {type(class_weight).__name__}"
        )
    units = model.outputs[0].shape[-1]
    classes = 2 if units == 1 else units
    table = np.ones(classes, dtype=np.float32)
    for key, weight in class_weight.items():
        if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer)):
            raise TypeError(f"{what} keys must be integer class ids, received {key!r}")
        if classes is not None and not 0 <= key < classes:
            raise ValueError(
                f"{what} has key {key}, but output '{model.output_names[0]}' has {classes} "
                f"classes (ids 0..{classes - 1})"
            )
        if not np.isfinite(weight):
            raise ValueError(f"{what}[{key}] = {weight!r} is not a finite number")
        table[key] = weight
    y = np.asarray(y)
    if y.ndim > 1:
        y = np.argmax(y, axis=-1) if y.shape[-1] != 1 else y[..., 0]
    ids = np.round(y).astype(np.int64).reshape(len(y), -1)[:, 0]
    known = (ids >= 0) & (ids < len(table))
    return np.where(known, table[np.clip(ids, 0, len(table) - 1)], 1.0).astype(np.float32)


def flat_metric_ids(spec: Any) -> list:
    """The metric identifiers in a compile() metrics argument, however nested."""
    if isinstance(spec, (list, tuple, dict)):
        return [m for m in flatten(spec) if m is not None]
    return [] if spec is None else [spec]
