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


def _weighted(values: Any, sample_weight: Any) -> tuple[float, float]:
    """(sum of values * weights, sum of weights) as Keras's reducing metrics count them: the
    weights broadcast over the values (one weight per sample reaches each of its values)."""
    values = np.asarray(values, dtype=np.float64)
    if sample_weight is None:
        return float(values.sum()), float(values.size)
    weights = np.asarray(sample_weight, dtype=np.float64)
    while weights.ndim > values.ndim and weights.shape[-1] == 1:
        weights = weights[..., 0]
    weights = weights.reshape(weights.shape + (1,) * (values.ndim - weights.ndim))
    try:
        weights = np.broadcast_to(weights, values.shape)
    except ValueError:
        raise ValueError(
            f"sample_weight of shape {np.shape(sample_weight)} does not match values of shape "
            f"{values.shape}"
        ) from None
    return float((values * weights).sum()), float(weights.sum())


class Mean:
    """keras.metrics.Mean: the (weighted) running mean of the values given to update_state."""

    def __init__(self, name: str = "mean", dtype: Any = None) -> None:
        self.name, self.dtype = name, dtype
        self.reset_state()

    def reset_state(self) -> None:
        self.total, self.count = 0.0, 0.0

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        total, count = _weighted(values, sample_weight)
        self.total += total
        self.count += count

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} result={self.result():.6g}>"


class Metric(Mean):
    """The running mean over samples of `fn(y_true, y_pred)` (one value per sample), as Keras's
    MeanMetricWrapper: update_state(y_true, y_pred, sample_weight=None)."""

    def __init__(self, fn: Callable[..., np.ndarray], name: str) -> None:
        super().__init__(name)
        self.fn = fn

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        values = self.fn(np.asarray(y_true), np.asarray(y_pred))
        super().update_state(values, sample_weight)


class MeanAbsoluteError(Metric):
    def __init__(self, name: str = "mean_absolute_error", dtype: Any = None) -> None:
        super().__init__(mean_absolute_error, name)


class MeanSquaredError(Metric):
    def __init__(self, name: str = "mean_squared_error", dtype: Any = None) -> None:
        super().__init__(mean_squared_error, name)


class BinaryAccuracy(Metric):
    def __init__(self, name: str = "binary_accuracy", dtype: Any = None, threshold: float = 0.5):
        super().__init__(lambda t, p: binary_accuracy(t, p, threshold), name)


class CategoricalAccuracy(Metric):
    def __init__(self, name: str = "categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(categorical_accuracy, name)


class SparseCategoricalAccuracy(Metric):
    def __init__(self, name: str = "sparse_categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(sparse_categorical_accuracy, name)


class CompileMetrics:
    """The metrics given to compile(), as one object (Keras 3's "compile_metrics"): update_state
    feeds each output's metrics, result() is a dict by the names evaluate() logs."""

    name = "compile_metrics"

    def __init__(self, metric_ids: list[list], output_names: list[str]) -> None:
        self.metric_ids, self.output_names = metric_ids, output_names
        self.metrics: list[list[Metric]] | None = None  # made for the first data's shapes

    def reset_state(self) -> None:
        for metric in [m for ms in self.metrics or [] for m in ms]:
            metric.reset_state()

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        ys, preds = _per_output(y_true), _per_output(y_pred)
        if len(ys) != len(self.metric_ids) or len(preds) != len(self.metric_ids):
            raise ValueError(
                f"compile_metrics.update_state: the model has {len(self.metric_ids)} outputs, "
                f"received {len(ys)} targets and {len(preds)} predictions"
            )
        if self.metrics is None:
            self.metrics = [
                [get(m, np.shape(y), np.shape(p)) for m in ids]
                for ids, y, p in zip(self.metric_ids, ys, preds)
            ]
        for metrics, y, p in zip(self.metrics, ys, preds):
            for metric in metrics:
                metric.update_state(y, p, sample_weight)

    def result(self) -> dict[str, float]:
        multi = len(self.output_names) > 1
        return {
            (f"{out}_{m.name}" if multi else m.name): m.result()
            for out, metrics in zip(self.output_names, self.metrics or [])
            for m in metrics
        }


def _per_output(values: Any) -> list:
    return list(values) if isinstance(values, (list, tuple)) else [values]


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
