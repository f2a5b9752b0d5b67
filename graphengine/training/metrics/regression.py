"""The regression metrics: running means over samples of the regression losses of
graphengine.training.losses (one formula for a loss and its metric), evaluated on host arrays,
and RootMeanSquaredError."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphengine.training import losses
from graphengine.training.metrics.base import check_same_shape
from graphengine.training.metrics.reduction import Mean, MeanMetricWrapper


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> np.ndarray:
    """Keras's cosine-similarity metric along `axis`: 1 for parallel vectors, -1 for opposite
    ones (the cosine_similarity loss, which training minimizes, with its sign flipped)."""
    return np.negative(losses.cosine_similarity(y_true, y_pred, axis=axis))


class MeanSquaredError(MeanMetricWrapper):
    """The mean of (y_true - y_pred)^2."""

    _targets = "same"

    def __init__(self, name: str = "mean_squared_error", dtype: Any = None) -> None:
        super().__init__(losses.mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """The mean of |y_true - y_pred|."""

    _targets = "same"

    def __init__(self, name: str = "mean_absolute_error", dtype: Any = None) -> None:
        super().__init__(losses.mean_absolute_error, name=name, dtype=dtype)


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """The mean of 100 |y_true - y_pred| / |y_true|."""

    _targets = "same"

    def __init__(self, name: str = "mean_absolute_percentage_error", dtype: Any = None) -> None:
        super().__init__(losses.mean_absolute_percentage_error, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(MeanMetricWrapper):
    """The mean of (log(1 + y_true) - log(1 + y_pred))^2."""

    _targets = "same"

    def __init__(self, name: str = "mean_squared_logarithmic_error", dtype: Any = None) -> None:
        super().__init__(losses.mean_squared_logarithmic_error, name=name, dtype=dtype)


class LogCoshError(MeanMetricWrapper):
    """The mean of log(cosh(y_pred - y_true))."""

    _targets = "same"

    def __init__(self, name: str = "logcosh", dtype: Any = None) -> None:
        super().__init__(losses.log_cosh, name=name, dtype=dtype)


class CosineSimilarity(MeanMetricWrapper):
    """The mean cosine similarity of y_true and y_pred along `axis` (1 when parallel)."""

    _targets = "same"

    def __init__(self, name: str = "cosine_similarity", dtype: Any = None, axis: int = -1):
        super().__init__(cosine_similarity, name=name, dtype=dtype, axis=axis)


class RootMeanSquaredError(Mean):
    """sqrt of the running mean of (y_pred - y_true)^2 over every entry."""

    def __init__(self, name: str = "root_mean_squared_error", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_true = np.asarray(y_true, dtype=self.dtype)
        y_pred = np.asarray(y_pred, dtype=self.dtype)
        y_true, y_pred = check_same_shape(self._where(), y_true, y_pred)
        super().update_state(np.square(y_pred - y_true), sample_weight=sample_weight)

    def result(self) -> Any:
        return self._out(np.sqrt(super().result()))
