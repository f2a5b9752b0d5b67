"""What compile() makes of a metric identifier (Keras 3's metrics.get and compile_utils'
get_metric): names, classes, instances, configs and plain functions; the check of names at
compile time; and which metrics compare integer class ids."""

from __future__ import annotations

from typing import Any, Callable

from graphengine import common
from graphengine.training import losses
from graphengine.training.metrics.accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from graphengine.training.metrics.auc import AUC
from graphengine.training.metrics.base import Metric
from graphengine.training.metrics.confusion import (
    FalseNegatives,
    FalsePositives,
    Precision,
    Recall,
    TrueNegatives,
    TruePositives,
)
from graphengine.training.metrics.fscore import F1Score, FBetaScore
from graphengine.training.metrics.probabilistic import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    Hinge,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
)
from graphengine.training.metrics.reduction import Mean, MeanMetricWrapper, Sum
from graphengine.training.metrics.regression import (
    CosineSimilarity,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    RootMeanSquaredError,
)

CLASSES: tuple[type[Metric], ...] = (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TruePositives,
    FalsePositives,
    TrueNegatives,
    FalseNegatives,
    Precision,
    Recall,
    AUC,
    F1Score,
    FBetaScore,
    MeanSquaredError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    RootMeanSquaredError,
    CosineSimilarity,
    LogCoshError,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    KLDivergence,
    Poisson,
    Hinge,
    SquaredHinge,
    CategoricalHinge,
)
# the metric names compile() knows (Keras's: each class's snake_case name and a few short ones)
ALL: dict[str, type[Metric]] = {common.snake_case(cls.__name__): cls for cls in CLASSES}
ALL.update(
    {
        "acc": Accuracy,
        "mse": MeanSquaredError,
        "mae": MeanAbsoluteError,
        "mape": MeanAbsolutePercentageError,
        "msle": MeanSquaredLogarithmicError,
        "bce": BinaryCrossentropy,
        "logcosh": LogCoshError,
        "log_cosh": LogCoshError,
        "fbeta_score": FBetaScore,
    }
)
# the classes also by their own names ("BinaryAccuracy"), and the bases for configs
_BY_CLASS = {cls.__name__: cls for cls in CLASSES + (Mean, Sum, MeanMetricWrapper)}

# the per-sample functions by name (keras.metrics' functions)
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "binary_accuracy": binary_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "top_k_categorical_accuracy": top_k_categorical_accuracy,
    "sparse_top_k_categorical_accuracy": sparse_top_k_categorical_accuracy,
    "mean_absolute_error": losses.mean_absolute_error,
    "mae": losses.mean_absolute_error,
    "mean_squared_error": losses.mean_squared_error,
    "mse": losses.mean_squared_error,
    "mean_absolute_percentage_error": losses.mean_absolute_percentage_error,
    "mape": losses.mean_absolute_percentage_error,
    "mean_squared_logarithmic_error": losses.mean_squared_logarithmic_error,
    "msle": losses.mean_squared_logarithmic_error,
    "log_cosh": losses.log_cosh,
    "binary_crossentropy": losses.binary_crossentropy,
    "categorical_crossentropy": losses.categorical_crossentropy,
    "sparse_categorical_crossentropy": losses.sparse_categorical_crossentropy,
    "kl_divergence": losses.kl_divergence,
    "poisson": losses.poisson,
    "hinge": losses.hinge,
    "squared_hinge": losses.squared_hinge,
    "categorical_hinge": losses.categorical_hinge,
}

# the functions whose targets are integer class ids on y_pred's last axis
CLASS_ID_FUNCTIONS: tuple[Callable[..., Any], ...] = (
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    losses.sparse_categorical_crossentropy,
)


def accuracy_for(y_true_shape: tuple, y_pred_shape: tuple) -> type[MeanMetricWrapper]:
    """Keras's choice for "accuracy": binary when predictions have one unit, sparse when targets
    have a lower rank (or a last axis of 1 against several classes), else categorical."""
    if y_pred_shape[-1] == 1:
        return BinaryAccuracy
    if len(y_true_shape) < len(y_pred_shape) or (y_true_shape[-1] == 1 and y_pred_shape[-1] > 1):
        return SparseCategoricalAccuracy
    return CategoricalAccuracy


def _class_for(name: str) -> type[Metric]:
    return _BY_CLASS.get(name) or common.lookup("metric", name, ALL)


def _object_name(fn: Any) -> str:
    """Keras's get_object_name: a `name` attribute, else the snake_case function or class name."""
    name = getattr(fn, "name", None)
    if isinstance(name, str):
        return name
    return common.snake_case(getattr(fn, "__name__", None) or type(fn).__name__)


def get(
    identifier: Any, y_true_shape: tuple | None = None, y_pred_shape: tuple | None = None
) -> Metric:
    """A Metric from a name ("accuracy", "mae", "auc", "BinaryAccuracy", ...: named as given), a
    Metric instance (itself) or class, a {"class_name", "config"} dict, or a function of
    (y_true, y_pred) returning per-sample values (wrapped in MeanMetricWrapper). Given the
    shapes, "accuracy" and "acc" pick binary / sparse / categorical accuracy as Keras does."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc") and y_pred_shape is not None:
            assert y_true_shape is not None
            return accuracy_for(tuple(y_true_shape), tuple(y_pred_shape))(name=identifier)
        return _class_for(identifier)(name=identifier)
    if isinstance(identifier, dict) and "class_name" in identifier:
        return _class_for(identifier["class_name"]).from_config(identifier.get("config", {}))
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=_object_name(identifier))
    raise TypeError(
        f"Could not interpret metric {identifier!r}: give a name, a ge.metrics.Metric (class or "
        "instance) or a function (y_true, y_pred) -> per-sample values"
    )


def check_name(identifier: Any) -> None:
    """Raises at compile time for what `get` cannot make a metric of: an unknown name
    (ValueError listing the valid ones) or an object that is neither a Metric nor callable."""
    if isinstance(identifier, str):
        if identifier.lower() not in ("accuracy", "acc"):
            _class_for(identifier)
    elif isinstance(identifier, dict):
        _class_for(identifier.get("class_name", ""))
    elif not callable(identifier) and not isinstance(identifier, Metric):
        get(identifier)


def class_id_metric(identifier: Any, y_true_shape: tuple, y_pred_shape: tuple) -> str | None:
    """The metric's name when it compares integer class ids with y_pred's last axis (sparse
    accuracy, sparse top-k, sparse crossentropy), else None: the trainer then checks the
    targets once per call. Sorted ids (from_sorted_ids) and an ignore_class are not checked
    there (their ids need not lie in [0, classes))."""
    metric = get(identifier, y_true_shape, y_pred_shape)
    fn = getattr(metric, "_fn", None)
    kwargs = getattr(metric, "_fn_kwargs", {})
    if not any(fn is f for f in CLASS_ID_FUNCTIONS):
        return None
    if kwargs.get("from_sorted_ids") or kwargs.get("ignore_class") is not None:
        return None
    if kwargs.get("axis", -1) not in (-1, len(y_pred_shape) - 1):
        return None
    fn_name = fn.__name__
    return metric.name if metric.name == fn_name else f"{metric.name} ({fn_name})"
