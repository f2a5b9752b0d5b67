"""FBetaScore and F1Score, as Keras 3's f_score_metrics: per-class (or micro) tp / fp / fn
counts, then the F-beta score averaged as asked."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphengine.training.metrics.base import Metric
from graphengine.training.metrics.confusion import EPSILON

AVERAGES = (None, "micro", "macro", "weighted")


class FBetaScore(Metric):
    """(1 + beta^2) precision recall / (beta^2 precision + recall) on 2-D (samples, classes)
    inputs. A prediction is positive above `threshold`; with threshold None the row's largest
    score is (ties too, and only when nonzero). average: None (one score per class), "micro"
    (counts pooled over classes), "macro" (the classes' mean) or "weighted" (by support)."""

    def __init__(
        self,
        average: str | None = None,
        beta: float = 1.0,
        threshold: float | None = None,
        name: str = "fbeta_score",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        owner = self._where()
        if average not in AVERAGES:
            raise ValueError(f"{owner}: invalid average={average!r}; expected one of {AVERAGES}")
        if not isinstance(beta, float) or not beta > 0.0:
            raise ValueError(f"{owner}: beta must be a Python float > 0, received beta={beta!r}")
        if threshold is not None and (not isinstance(threshold, float) or not 0 < threshold <= 1):
            raise ValueError(
                f"{owner}: threshold must be a Python float with 0 < threshold <= 1, received "
                f"threshold={threshold!r}"
            )
        self.average, self.beta, self.threshold = average, beta, threshold
        self.axis = None if average == "micro" else 0
        self._built = False

    def _build(self, y_true_shape: tuple, y_pred_shape: tuple) -> None:
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2 or y_true_shape != y_pred_shape:
            raise ValueError(
                f"{self._where()} expects 2-D inputs of one shape (samples, classes), received "
                f"y_true of shape {y_true_shape} and y_pred of shape {y_pred_shape}"
            )
        self._classes = tuple(y_pred_shape[1:])
        shape = () if self.average == "micro" else self._classes
        self.true_positives = self._state("true_positives", shape)
        self.false_positives = self._state("false_positives", shape)
        self.false_negatives = self._state("false_negatives", shape)
        self.intermediate_weights = self._state("intermediate_weights", shape)
        self._built = True

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_true = np.asarray(y_true, dtype=self.dtype)
        y_pred = np.asarray(y_pred, dtype=self.dtype)
        if not self._built:
            self._build(y_true.shape, y_pred.shape)
        elif y_true.shape != y_pred.shape or y_pred.shape[1:] != self._classes:
            raise ValueError(
                f"{self._where()}: y_true of shape {y_true.shape} and y_pred of shape "
                f"{y_pred.shape} do not match the {self._classes[0]} classes seen before"
            )
        nan = np.isnan(y_pred)
        if self.threshold is None:  # the row's best: a NaN in the row leaves it undecided
            positive = (y_pred >= y_pred.max(axis=-1, keepdims=True)) & (np.abs(y_pred) > 1e-9)
            nan = nan.any(axis=-1, keepdims=True)
        else:
            positive = y_pred > self.threshold
        predicted = np.where(nan, np.nan, positive).astype(self.dtype)
        weights = self._sample_weights(sample_weight, len(y_true))

        def weighted_sum(values: np.ndarray) -> np.ndarray:
            return np.sum(values * weights, axis=self.axis, dtype=np.float64)

        self.true_positives.assign_add(weighted_sum(predicted * y_true))
        self.false_positives.assign_add(weighted_sum(predicted * (1 - y_true)))
        self.false_negatives.assign_add(weighted_sum((1 - predicted) * y_true))
        self.intermediate_weights.assign_add(weighted_sum(y_true))

    def _sample_weights(self, sample_weight: Any, n: int) -> np.ndarray:
        """One weight per sample, as a column (N, 1); 1.0 without sample_weight."""
        if sample_weight is None:
            return np.ones((1, 1), dtype=self.dtype)
        weights = np.asarray(sample_weight, dtype=self.dtype)
        if weights.shape not in ((n,), (n, 1)):
            raise ValueError(
                f"{self._where()}: sample_weight of shape {weights.shape} must hold one weight "
                f"per sample (shape ({n},))"
            )
        return weights.reshape(n, 1)

    def result(self) -> Any:
        if not self._built:
            return self._out(0.0)
        tp, fp = self.true_positives.value, self.false_positives.value
        precision = tp / (tp + fp + EPSILON)
        recall = tp / (tp + self.false_negatives.value + EPSILON)
        beta2 = self.beta**2
        score = (1 + beta2) * (precision * recall) / (beta2 * precision + recall + EPSILON)
        if self.average == "weighted":
            support = self.intermediate_weights.value
            score = np.sum(score * support / (np.sum(support) + EPSILON))
        elif self.average is not None:
            score = np.mean(score)
        return self._out(score)

    def reset_state(self) -> None:
        if self._built:
            super().reset_state()

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "average": self.average,
            "beta": self.beta,
            "threshold": self.threshold,
        }


class F1Score(FBetaScore):
    """FBetaScore with beta = 1: the harmonic mean of precision and recall."""

    def __init__(
        self,
        average: str | None = None,
        threshold: float | None = None,
        name: str = "f1_score",
        dtype: Any = None,
    ) -> None:
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["beta"]
        return config
