"""keras.metrics.AUC: the area under the ROC or precision-recall curve, a Riemann sum over the
confusion counts at num_thresholds thresholds (one vectorized counting pass per batch)."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphengine import common
from graphengine.training.metrics.base import Metric
from graphengine.training.metrics.confusion import (
    EPSILON,
    confusion_counts,
    divide_no_nan,
    evenly_spaced,
    parse_thresholds,
)

CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
SUMMATIONS = ("interpolation", "minoring", "majoring")


def _choice(value: Any, table: dict[str, str], what: str, owner: str) -> str:
    key = value.lower() if isinstance(value, str) else value
    if key not in table:
        raise ValueError(
            f"{owner}: invalid {what}={value!r}; expected one of {list(table.values())}"
        )
    return table[key]


class AUC(Metric):
    """Area under the ROC curve (curve="ROC") or the precision-recall curve ("PR"; "PRGAIN"
    too), summed by "interpolation" (trapezoids; for PR, Davis & Goadrich's interpolation),
    "minoring" or "majoring". multi_label=True keeps one curve per label (the last axis) and
    averages their areas (weighted by label_weights); otherwise every entry joins one curve,
    label_weights weighing the labels' entries. from_logits applies a sigmoid first."""

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        name: str | None = None,
        dtype: Any = None,
        thresholds: Any = None,
        multi_label: bool = False,
        num_labels: int | None = None,
        label_weights: Any = None,
        from_logits: bool = False,
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        owner = self._where()
        self.curve = _choice(curve, CURVES, "curve", owner)
        self.summation_method = _choice(
            summation_method, {s: s for s in SUMMATIONS}, "summation_method", owner
        )
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(parse_thresholds(thresholds, 0.5, owner))
            self.num_thresholds = len(inner) + 2
            self._evenly = evenly_spaced([0.0] + inner + [1.0])
        else:
            num_thresholds = common.check_int(num_thresholds, "num_thresholds", owner, 2)
            self.num_thresholds = num_thresholds
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._evenly = True
        self._thresholds = np.array([0.0 - EPSILON] + inner + [1.0 + EPSILON])
        self.multi_label, self.num_labels = bool(multi_label), num_labels
        self.label_weights = (
            None if label_weights is None else np.asarray(label_weights, dtype=np.float64)
        )
        self._from_logits = bool(from_logits)
        self._built = False
        if num_labels is not None and not self.multi_label:
            raise ValueError(f"{owner}: num_labels is needed only when multi_label=True")
        if not self.multi_label:
            self._build(None)
        elif num_labels is not None:
            self._build((None, common.check_int(num_labels, "num_labels", owner, 1)))

    @property
    def thresholds(self) -> list[float]:
        """The thresholds, with -epsilon and 1 + epsilon at the ends."""
        return list(self._thresholds)

    def _build(self, shape: tuple | None) -> None:
        """The count variables: (num_thresholds,), or (num_thresholds, labels) per label."""
        size: tuple = (self.num_thresholds,)
        if self.multi_label:
            assert shape is not None
            if len(shape) != 2:
                raise ValueError(
                    f"{self._where()}: y_pred must have rank 2 (samples, labels) when "
                    f"multi_label=True, received shape {tuple(shape)}"
                )
            labels = shape[1]
            if self.label_weights is not None and self.label_weights.shape != (labels,):
                raise ValueError(
                    f"{self._where()}: label_weights of shape {self.label_weights.shape} do "
                    f"not match the {labels} labels of y_pred"
                )
            size = (self.num_thresholds, labels)
        self.true_positives = self._state("true_positives", size)
        self.false_positives = self._state("false_positives", size)
        self.true_negatives = self._state("true_negatives", size)
        self.false_negatives = self._state("false_negatives", size)
        self._built = True

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_pred = np.asarray(y_pred, dtype=np.float32)
        if not self._built:
            self._build(y_pred.shape)
        if self._from_logits:
            y_pred = (1.0 / (1.0 + np.exp(-y_pred))).astype(np.float32)
        counts = confusion_counts(
            self._where(),
            y_true,
            y_pred,
            self._thresholds,
            sample_weight=sample_weight,
            multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights,
            evenly=self._evenly,
        )
        for key, variable in self._counts().items():
            variable.assign_add(counts[key])

    def _counts(self) -> dict[str, Any]:
        return {
            "tp": self.true_positives,
            "fp": self.false_positives,
            "tn": self.true_negatives,
            "fn": self.false_negatives,
        }

    def result(self) -> Any:
        if not self._built:  # multi_label without num_labels, before any data
            return self._out(0.0)
        tp, fp, tn, fn = (v.value for v in self._counts().values())
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._out(self._average(_interpolated_pr_auc(tp, fp, fn)))
        recall = divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, divide_no_nan(tp, tp + fp)
        else:
            x, y = _pr_gain(tp, fp, tn, fn)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return self._out(self._average(np.sum((x[:-1] - x[1:]) * heights, axis=0)))

    def _average(self, areas: np.ndarray) -> Any:
        """One area, or the labels' areas averaged (weighted by label_weights)."""
        if not self.multi_label:
            return areas
        if self.label_weights is None:
            return np.mean(areas)
        return divide_no_nan(np.sum(areas * self.label_weights), np.sum(self.label_weights))

    def reset_state(self) -> None:
        if self._built:
            super().reset_state()

    def get_config(self) -> dict[str, Any]:
        config = {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
            "from_logits": self._from_logits,
        }
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config


def _interpolated_pr_auc(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """Davis & Goadrich (2006): precision interpolated between thresholds along the line of
    tp against predicted positives, integrated in closed form (Keras's interpolate_pr_auc)."""
    p = tp + fp
    dtp = tp[:-1] - tp[1:]
    dp = p[:-1] - p[1:]
    slope = divide_no_nan(dtp, np.maximum(dp, 0))
    intercept = tp[1:] - slope * p[1:]
    both = (p[:-1] > 0) & (p[1:] > 0)
    ratio = np.where(both, divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
    with np.errstate(divide="ignore"):
        log_ratio = np.log(ratio)
    increments = divide_no_nan(
        slope * (dtp + intercept * log_ratio), np.maximum(tp[1:] + fn[1:], 0)
    )
    return np.sum(increments, axis=0)


def _pr_gain(tp: np.ndarray, fp: np.ndarray, tn: np.ndarray, fn: np.ndarray) -> tuple:
    """Recall gain and precision gain (Flach & Kull, 2015), as Keras's PRGAIN curve."""
    scale = divide_no_nan(tp + fn, tn + fp)
    recall_gain = 1.0 - scale * divide_no_nan(fn, tp)
    precision_gain = 1.0 - scale * divide_no_nan(fp, tp)
    recall_gain = np.maximum(np.where(tp == 0, 0.0, recall_gain), 0.0)
    precision_gain = np.where(tp == 0, 1.0, precision_gain)
    return recall_gain, precision_gain
