"""The accuracy metrics, as Keras 3's accuracy_metrics: per-sample functions on host arrays
(1.0 right, 0.0 wrong, NaN where the prediction is NaN) and their mean metrics."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphengine import common
from graphengine.training.metrics.base import (
    check_same_shape,
    check_sparse_shape,
    nan_rows,
)
from graphengine.training.metrics.reduction import MeanMetricWrapper

FLOATX = np.float32  # Keras's floatx: the dtype of the per-sample values


def _matches(hit: np.ndarray, nan: np.ndarray) -> np.ndarray:
    """1.0 / 0.0 per entry, NaN where the prediction was NaN (never counted right or wrong)."""
    return np.where(nan, np.nan, hit).astype(FLOATX)


def accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where y_true equals y_pred (compared in y_pred's dtype), else 0.0."""
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true).astype(y_pred.dtype)
    y_true, y_pred = check_same_shape("accuracy", y_true, y_pred)
    return _matches(y_true == y_pred, np.isnan(y_pred) if y_pred.dtype.kind == "f" else False)


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> np.ndarray:
    """1.0 where y_true equals (y_pred > threshold), else 0.0."""
    y_true, y_pred = check_same_shape("binary_accuracy", np.asarray(y_true), np.asarray(y_pred))
    predicted = (y_pred > threshold).astype(y_true.dtype)
    return _matches(y_true == predicted, np.isnan(y_pred) if y_pred.dtype.kind == "f" else False)


def categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where the argmax of the one-hot y_true is that of y_pred (the last axis)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"categorical_accuracy: y_true of shape {y_true.shape} does not match y_pred of "
            f"shape {y_pred.shape}; for integer class ids use sparse_categorical_accuracy"
        )
    hit = np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)
    return _matches(hit, nan_rows(y_pred))


def _class_ids(y_true: Any, y_pred: np.ndarray, user: str) -> np.ndarray:
    """y_true as class ids shaped like y_pred without its last axis, each checked to lie in
    [0, classes)."""
    y_true = np.asarray(y_true)
    check_sparse_shape(user, y_true, y_pred)
    common.check_class_ids(y_true, y_pred.shape[-1], "y_true", user)
    return y_true.reshape(y_pred.shape[:-1])


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where the class id y_true is the argmax of y_pred (the last axis); y_true holds one id
    per row of y_pred (shape y_pred.shape[:-1], or that with a trailing 1)."""
    y_pred = np.asarray(y_pred)
    ids = _class_ids(y_true, y_pred, "sparse_categorical_accuracy")
    return _matches(ids == np.argmax(y_pred, axis=-1), nan_rows(y_pred))


def in_top_k(targets: np.ndarray, predictions: np.ndarray, k: int) -> np.ndarray:
    """Whether each target's score is among the k largest of its row, as keras.ops.in_top_k on
    the torch backend: ties with the k-th largest count as in (the score is >= it). targets (M,)
    ids, predictions (M, C) scores; k >= C puts every target in."""
    scores = np.take_along_axis(predictions, targets[:, None].astype(np.intp), axis=-1)
    return (predictions > scores).sum(axis=-1) < k


def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> np.ndarray:
    """1.0 where the argmax of the one-hot y_true is among the k best scores of y_pred."""
    k = common.check_int(k, "k", "top_k_categorical_accuracy", minimum=1)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"top_k_categorical_accuracy: y_true of shape {y_true.shape} does not match y_pred "
            f"of shape {y_pred.shape}; for integer class ids use "
            "sparse_top_k_categorical_accuracy"
        )
    rows = y_pred.reshape(-1, y_pred.shape[-1])
    hit = in_top_k(np.argmax(y_true, axis=-1).reshape(-1), rows, k)
    return _matches(hit.reshape(y_pred.shape[:-1]), nan_rows(y_pred))


def sparse_top_k_categorical_accuracy(
    y_true: Any, y_pred: Any, k: int = 5, from_sorted_ids: bool = False
) -> np.ndarray:
    """1.0 where the class id y_true is among the k best scores of y_pred. With from_sorted_ids,
    y_pred holds class ids sorted by score (best first) and y_true is looked for in the first k."""
    user = "sparse_top_k_categorical_accuracy"
    k = common.check_int(k, "k", user, minimum=1)
    y_pred = np.asarray(y_pred)
    if from_sorted_ids:
        y_true = np.asarray(y_true)
        check_sparse_shape(user, y_true, y_pred)
        ids = y_true.reshape(-1, 1).astype(y_pred.dtype)
        hit = (y_pred.reshape(len(ids), -1)[:, :k] == ids).any(axis=-1)
        return _matches(hit.reshape(y_pred.shape[:-1]), False)
    ids = _class_ids(y_true, y_pred, user)
    hit = in_top_k(ids.reshape(-1), y_pred.reshape(-1, y_pred.shape[-1]), k)
    return _matches(hit.reshape(y_pred.shape[:-1]), nan_rows(y_pred))


class Accuracy(MeanMetricWrapper):
    """How often predictions equal the targets."""

    _targets = "same"

    def __init__(self, name: str = "accuracy", dtype: Any = None) -> None:
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often (y_pred > threshold) equals the binary target."""

    _targets = "same"

    def __init__(
        self, name: str = "binary_accuracy", dtype: Any = None, threshold: float = 0.5
    ) -> None:
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of y_pred is that of the one-hot target."""

    _targets = "same"

    def __init__(self, name: str = "categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of y_pred is the integer class id of the target."""

    _targets = "sparse"

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target's class is among the k best predictions."""

    _targets = "same"

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype: Any = None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = common.check_int(k, "k", self._where(), minimum=1)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer class id of the target is among the k best predictions (or, with
    from_sorted_ids, among the first k ids of y_pred)."""

    _targets = "sparse"

    def __init__(
        self,
        k: int = 5,
        name: str = "sparse_top_k_categorical_accuracy",
        dtype: Any = None,
        from_sorted_ids: bool = False,
    ) -> None:
        super().__init__(
            sparse_top_k_categorical_accuracy,
            name=name,
            dtype=dtype,
            k=k,
            from_sorted_ids=from_sorted_ids,
        )
        self.k = common.check_int(k, "k", self._where(), minimum=1)
        self.from_sorted_ids = bool(from_sorted_ids)
