"""`ge.metrics`, as keras.metrics: the metric functions, `Metric`, and `get`."""

from graphengine.training.metrics import (
    BinaryAccuracy,
    CategoricalAccuracy,
    Mean,
    MeanAbsoluteError,
    MeanSquaredError,
    Metric,
    SparseCategoricalAccuracy,
    binary_accuracy,
    categorical_accuracy,
    get,
    mean_absolute_error,
    mean_squared_error,
    sparse_categorical_accuracy,
)

__all__ = [
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "Mean",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Metric",
    "SparseCategoricalAccuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "get",
    "mean_absolute_error",
    "mean_squared_error",
    "sparse_categorical_accuracy",
]
