"""Metrics, computed on the host from each batch's predictions and averaged over samples as
Keras's MeanMetricWrapper does. "accuracy" picks binary / categorical / sparse like Keras."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from graphengine import common


def _same_rank(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        return y_true, y_pred[..., 0]
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        return y_true[..., 0], y_pred
    return y_true, y_pred


def binary_accuracy(y_true: np.ndarray, y_pred: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    y_true, y_pred = _same_rank(y_true, y_pred)
    return (y_true == (y_pred > threshold)).astype(np.float32)


def categorical_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def sparse_categorical_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    common.check_class_ids(y_true, y_pred.shape[-1], "y_true", "sparse_categorical_accuracy")
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return (y_true == np.argmax(y_pred, axis=-1)).astype(np.float32)


def mean_absolute_error(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    y_true, y_pred = _same_rank(y_true, y_pred)
    return np.mean(np.abs(y_true - y_pred), axis=-1)


def mean_squared_error(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    y_true, y_pred = _same_rank(y_true, y_pred)
    return np.mean(np.square(y_true - y_pred), axis=-1)


class Metric:
    """The running mean over samples of `fn(y_true, y_pred)` (one value per sample)."""

    def __init__(self, fn: Callable[..., np.ndarray], name: str) -> None:
        self.fn, self.name = fn, name
        self.reset_state()

    def reset_state(self) -> None:
        self.total, self.count = 0.0, 0

    def update_state(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        values = np.asarray(self.fn(np.asarray(y_true), np.asarray(y_pred)), dtype=np.float64)
        self.total += float(values.sum())
        self.count += values.size

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0


FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "binary_accuracy": binary_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "mean_absolute_error": mean_absolute_error,
    "mae": mean_absolute_error,
    "mean_squared_error": mean_squared_error,
    "mse": mean_squared_error,
}


def accuracy_for(y_true_shape: tuple, y_pred_shape: tuple) -> Callable[..., np.ndarray]:
    """Keras's choice for "accuracy": binary when predictions have one unit, sparse when targets
    have a lower rank (or a last axis of 1 against several classes), else categorical."""
    if y_pred_shape[-1] == 1:
        return binary_accuracy
    if len(y_true_shape) < len(y_pred_shape) or (y_true_shape[-1] == 1 and y_pred_shape[-1] > 1):
        return sparse_categorical_accuracy
    return categorical_accuracy


def get(identifier: Any, y_true_shape: tuple, y_pred_shape: tuple) -> Metric:
    """A Metric from a name ("accuracy", "acc", "mae", ...), a Metric, or a function of
    (y_true, y_pred) on arrays returning per-sample values."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            return Metric(accuracy_for(y_true_shape, y_pred_shape), identifier)
        return Metric(common.lookup("metric", identifier, FUNCTIONS), identifier)
    if callable(identifier):
        return Metric(identifier, getattr(identifier, "__name__", "metric"))
    raise TypeError(f"Could not interpret metric {identifier!r}")


CLASS_ID_FUNCTIONS = (sparse_categorical_accuracy,)  # metrics whose targets are class ids


def class_id_metric(identifier: Any, y_true_shape: tuple, y_pred_shape: tuple) -> str | None:
    """The metric's name when it compares integer class ids (on y_pred's last axis), else
    None: the trainer then checks the targets once per call."""
    metric = get(identifier, y_true_shape, y_pred_shape)
    if metric.fn not in CLASS_ID_FUNCTIONS:
        return None
    fn_name = metric.fn.__name__
    return metric.name if metric.name == fn_name else f"{metric.name} ({fn_name})"


def check_name(identifier: Any) -> None:
    """Raises at compile time for unknown metric names (listing the valid ones)."""
    if isinstance(identifier, str) and identifier.lower() not in ("accuracy", "acc"):
        common.lookup("metric", identifier, FUNCTIONS)
