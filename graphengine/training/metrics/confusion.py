"""Confusion-matrix counts at thresholds, as Keras 3's metrics_utils counts them, in one
vectorized pass: each prediction's level (how many of the sorted thresholds it exceeds) from
np.searchsorted, or Keras's bucket formula for evenly spaced thresholds, then np.bincount and a
reverse cumulative sum give every threshold's counts at once. And the metrics built on them:
TruePositives, FalsePositives, TrueNegatives, FalseNegatives, Precision and Recall."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphengine import common
from graphengine.training.metrics.base import Metric, same_rank

NEG_INF = -1e10  # Keras's score for the predictions top_k drops
EPSILON = 1e-7  # Keras's backend.epsilon()
CONDITIONS = ("tp", "fp", "tn", "fn")


def parse_thresholds(thresholds: Any, default: float, owner: str) -> list[float]:
    """The thresholds as a list of floats in [0, 1]; `default` alone when None."""
    if thresholds is None:
        return [float(default)]
    values = np.atleast_1d(np.asarray(thresholds, dtype=object)).ravel().tolist()
    bad = [t for t in values if not isinstance(t, (int, float, np.number)) or not 0 <= t <= 1]
    if bad or not values:
        raise ValueError(
            f"{owner}: threshold values must lie in [0, 1], received thresholds={thresholds!r}"
        )
    return [float(t) for t in values]


def evenly_spaced(thresholds: Any) -> bool:
    """Keras's is_evenly_distributed_thresholds: three or more, at i / (n - 1)."""
    n = len(thresholds)
    even = np.arange(n, dtype=np.float32) / max(n - 1, 1)
    return n >= 3 and bool(np.allclose(thresholds, even, atol=EPSILON))


def filter_top_k(x: np.ndarray, k: int) -> np.ndarray:
    """x with all but the k largest entries of each row (last axis) set to NEG_INF; ties keep
    the lowest index. A row holding NaN has no ranking: it becomes all NaN."""
    order = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    keep = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(keep, order, True, axis=-1)
    x = np.where(np.isnan(x).any(axis=-1, keepdims=True), np.nan, x)
    return np.where(keep | np.isnan(x), x, np.asarray(NEG_INF, x.dtype))


def _levels(y_pred: np.ndarray, thresholds: np.ndarray, evenly: bool, epsilon_ends: bool) -> Any:
    """How many of the ascending `thresholds` each prediction exceeds (pred > t). Evenly spaced
    thresholds use Keras's buckets, ceil(p (n - 1)) - 1 in float32 with p clipped to [0, 1] (a
    prediction above 1 does not exceed the threshold 1 there), so edge cases fall alike."""
    n = len(thresholds)
    if not evenly:
        return np.searchsorted(thresholds, y_pred, side="left")
    p = np.clip(np.nan_to_num(y_pred, nan=1.0), 0.0, 1.0)
    bucket = np.ceil(p * np.float32(n - 1)) - 1
    if epsilon_ends:  # thresholds [-eps, ..., 1 + eps]: every prediction exceeds the first
        bucket = np.maximum(bucket, 0)
    return (bucket + 1).astype(np.intp)


def _above(levels: np.ndarray, weights: np.ndarray, n: int, per_column: bool) -> np.ndarray:
    """For each threshold i, the total weight of the entries whose level exceeds i: (n,), or
    (n, columns) per column of a 2-D input."""
    if not per_column:
        hist = np.bincount(levels.ravel(), weights.ravel(), minlength=n + 1)
        return np.cumsum(hist[::-1])[::-1][1:]
    columns = levels.shape[1]
    flat = (levels + (n + 1) * np.arange(columns)).ravel()
    hist = np.bincount(flat, weights.ravel(), minlength=(n + 1) * columns)
    hist = hist.reshape(columns, n + 1)
    return np.cumsum(hist[:, ::-1], axis=1)[:, ::-1][:, 1:].T


def _select(
    owner: str, y_true: Any, y_pred: Any, sample_weight: Any, top_k: Any, class_id: Any
) -> tuple:
    """Keras's preparation: same ranks, the sample weights' trailing axis, top_k, class_id."""
    y_pred = np.asarray(y_pred, dtype=np.float32)
    y_true = np.asarray(y_true)
    y_pred, y_true = same_rank(y_pred, y_true)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{owner}: y_true of shape {np.shape(y_true)} does not match y_pred of shape "
            f"{y_pred.shape}"
        )
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float32)[..., None]
        _, sample_weight = same_rank(y_true, sample_weight, expand_rank_1=False)
    if top_k is not None:
        y_pred = filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim < 2 or not 0 <= class_id < y_pred.shape[-1]:
            raise ValueError(
                f"{owner}: class_id={class_id} needs y_pred of shape (samples, classes) with "
                f"more than {class_id} classes, received y_pred of shape {y_pred.shape}"
            )
        y_true, y_pred = y_true[..., class_id, None], y_pred[..., class_id, None]
    return y_true, y_pred, sample_weight


def _weights(owner: str, shape: tuple, sample_weight: Any, label_weights: Any) -> np.ndarray:
    weights = np.ones(shape, dtype=np.float64)
    for what, w in (("sample_weight", sample_weight), ("label_weights", label_weights)):
        if w is None:
            continue
        try:
            weights = weights * np.broadcast_to(w, shape)
        except ValueError:
            raise ValueError(
                f"{owner}: {what} of shape {np.shape(w)} does not broadcast to y_pred of shape "
                f"{shape}"
            ) from None
    return weights


def confusion_counts(
    owner: str,
    y_true: Any,
    y_pred: Any,
    thresholds: Any,
    sample_weight: Any = None,
    top_k: int | None = None,
    class_id: int | None = None,
    multi_label: bool = False,
    label_weights: Any = None,
    evenly: bool = False,
) -> dict[str, np.ndarray]:
    """The weighted true/false positive/negative counts at each threshold (a prediction is
    positive above it; any nonzero target is positive), in the order of `thresholds`: (n,)
    arrays, or (n, labels) with multi_label. A NaN prediction makes every count it touches
    NaN instead of counting as negative."""
    y_true, y_pred, sample_weight = _select(owner, y_true, y_pred, sample_weight, top_k, class_id)
    weights = _weights(owner, y_pred.shape, sample_weight, label_weights)
    thresholds = np.asarray(thresholds, dtype=np.float32)
    order = np.argsort(thresholds, kind="stable")
    sorted_thresholds = thresholds[order]
    epsilon_ends = bool(sorted_thresholds[0] < 0 or sorted_thresholds[-1] > 1)
    levels = _levels(y_pred, sorted_thresholds, evenly, epsilon_ends)
    positive = y_true != 0
    true_w, false_w = np.where(positive, weights, 0.0), np.where(positive, 0.0, weights)
    nan = np.isnan(y_pred) & (weights != 0)
    if nan.any():
        levels = np.where(nan, len(thresholds), levels)
        true_w, false_w = np.where(nan, np.nan, true_w), np.where(nan, np.nan, false_w)
    if not multi_label:
        levels, true_w, false_w = levels.ravel(), true_w.ravel(), false_w.ravel()
    n = len(thresholds)
    tp, fp = (_above(levels, w, n, multi_label) for w in (true_w, false_w))
    counts = {
        "tp": tp,
        "fp": fp,
        "tn": false_w.sum(axis=0) - fp,
        "fn": true_w.sum(axis=0) - tp,
    }
    unsort = np.empty_like(order)
    unsort[order] = np.arange(n)
    return {key: value[unsort] for key, value in counts.items()}


def divide_no_nan(a: Any, b: Any) -> np.ndarray:
    """a / b, 0 where b is 0 (Keras's divide_no_nan)."""
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    return np.divide(a, b, out=np.zeros(a.shape), where=b != 0)


class _ThresholdMetric(Metric):
    """A metric counting some of tp / fp / tn / fn at its thresholds."""

    _conditions: tuple[str, ...] = ()

    def _setup(self, thresholds: Any, top_k: Any, class_id: Any) -> None:
        owner = self._where()
        self.init_thresholds = thresholds
        self.top_k = None if top_k is None else common.check_int(top_k, "top_k", owner, 1)
        self.class_id = None if class_id is None else common.check_int(class_id, "class_id", owner)
        default = 0.5 if top_k is None else NEG_INF
        self.thresholds = parse_thresholds(thresholds, default, owner)
        self._evenly = evenly_spaced(self.thresholds)
        for cond in self._conditions:
            setattr(self, _NAMES[cond], self._state(_NAMES[cond], (len(self.thresholds),)))

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        counts = confusion_counts(
            self._where(),
            y_true,
            y_pred,
            self.thresholds,
            sample_weight=sample_weight,
            top_k=self.top_k,
            class_id=self.class_id,
            evenly=self._evenly,
        )
        for cond in self._conditions:
            getattr(self, _NAMES[cond]).assign_add(counts[cond])

    def _per_threshold(self, values: np.ndarray) -> Any:
        return self._out(values[0] if len(self.thresholds) == 1 else values)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "thresholds": self.init_thresholds,
            "top_k": self.top_k,
            "class_id": self.class_id,
        }


_NAMES = {
    "tp": "true_positives",
    "fp": "false_positives",
    "tn": "true_negatives",
    "fn": "false_negatives",
}


class _ConditionCount(_ThresholdMetric):
    """The weighted count of one condition at each threshold (0.5 by default)."""

    def __init__(self, thresholds: Any = None, name: str | None = None, dtype: Any = None):
        super().__init__(name=name, dtype=dtype)
        self._setup(thresholds, None, None)
        self.accumulator = getattr(self, _NAMES[self._conditions[0]])

    def result(self) -> Any:
        """The count so far (an array with one count per threshold for several)."""
        return self._per_threshold(self.accumulator.value)

    def get_config(self) -> dict[str, Any]:
        return {**Metric.get_config(self), "thresholds": self.init_thresholds}


class TruePositives(_ConditionCount):
    """The (weighted) count of true positives: predictions above the threshold whose label is 1; one
    count per threshold when `thresholds` (default 0.5) is a list."""

    _conditions = ("tp",)


class FalsePositives(_ConditionCount):
    """The (weighted) count of false positives: predictions above the threshold whose label is 0;
    one count per threshold when `thresholds` (default 0.5) is a list."""

    _conditions = ("fp",)


class TrueNegatives(_ConditionCount):
    """The (weighted) count of true negatives: predictions at or below the threshold whose label is
    0; one count per threshold when `thresholds` (default 0.5) is a list."""

    _conditions = ("tn",)


class FalseNegatives(_ConditionCount):
    """The (weighted) count of false negatives: predictions at or below the threshold whose label is
    1; one count per threshold when `thresholds` (default 0.5) is a list."""

    _conditions = ("fn",)


class _Rate(_ThresholdMetric):
    """What Precision and Recall are given: thresholds (0.5 by default), top_k, class_id."""

    def __init__(
        self,
        thresholds: Any = None,
        top_k: int | None = None,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        self._setup(thresholds, top_k, class_id)


class Precision(_Rate):
    """tp / (tp + fp) at each threshold (0.5 by default; with top_k, the k best scores of each
    row are the positives), optionally for one class_id of several."""

    _conditions = ("tp", "fp")

    def result(self) -> Any:
        tp = self.true_positives.value
        return self._per_threshold(divide_no_nan(tp, tp + self.false_positives.value))


class Recall(_Rate):
    """tp / (tp + fn) at each threshold (0.5 by default), with Precision's top_k and class_id."""

    _conditions = ("tp", "fn")

    def result(self) -> Any:
        tp = self.true_positives.value
        return self._per_threshold(divide_no_nan(tp, tp + self.false_negatives.value))
