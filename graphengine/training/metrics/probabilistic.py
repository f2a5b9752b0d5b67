"""The probabilistic and hinge metrics: running means over samples of the crossentropy,
KL-divergence, Poisson and hinge losses of graphengine.training.losses, on host arrays."""

from __future__ import annotations

from typing import Any

from graphengine.training import losses
from graphengine.training.metrics.reduction import MeanMetricWrapper


class BinaryCrossentropy(MeanMetricWrapper):
    """The mean binary crossentropy (of probabilities, or of logits with from_logits)."""

    _targets = "same"

    def __init__(
        self,
        name: str = "binary_crossentropy",
        dtype: Any = None,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(
            losses.binary_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
        )
        self.from_logits, self.label_smoothing = from_logits, label_smoothing


class CategoricalCrossentropy(MeanMetricWrapper):
    """The mean crossentropy of one-hot (or soft) targets along `axis`."""

    _targets = "same"

    def __init__(
        self,
        name: str = "categorical_crossentropy",
        dtype: Any = None,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
    ) -> None:
        super().__init__(
            losses.categorical_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """The mean crossentropy of integer class-id targets. Targets equal to ignore_class are
    left out of the mean (the loss masks them); Keras leaves them out only when a sample_weight
    is given, and otherwise counts them as 0, which dilutes the mean."""

    _targets = "sparse"

    def __init__(
        self,
        name: str = "sparse_categorical_crossentropy",
        dtype: Any = None,
        from_logits: bool = False,
        ignore_class: int | None = None,
        axis: int = -1,
    ) -> None:
        super().__init__(
            losses.sparse_categorical_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            ignore_class=ignore_class,
            axis=axis,
        )
        self.from_logits, self.ignore_class, self.axis = from_logits, ignore_class, axis


class KLDivergence(MeanMetricWrapper):
    """The mean Kullback-Leibler divergence of y_pred from y_true."""

    _targets = "same"

    def __init__(self, name: str = "kl_divergence", dtype: Any = None) -> None:
        super().__init__(losses.kl_divergence, name=name, dtype=dtype)


class Poisson(MeanMetricWrapper):
    """The mean Poisson loss, y_pred - y_true log(y_pred)."""

    _targets = "same"

    def __init__(self, name: str = "poisson", dtype: Any = None) -> None:
        super().__init__(losses.poisson, name=name, dtype=dtype)


class Hinge(MeanMetricWrapper):
    """The mean hinge loss, max(1 - y_true y_pred, 0) with 0/1 targets read as -1/1."""

    _targets = "same"

    def __init__(self, name: str = "hinge", dtype: Any = None) -> None:
        super().__init__(losses.hinge, name=name, dtype=dtype)


class SquaredHinge(MeanMetricWrapper):
    """The mean squared hinge loss."""

    _targets = "same"

    def __init__(self, name: str = "squared_hinge", dtype: Any = None) -> None:
        super().__init__(losses.squared_hinge, name=name, dtype=dtype)


class CategoricalHinge(MeanMetricWrapper):
    """The mean categorical hinge loss of one-hot targets."""

    _targets = "same"

    def __init__(self, name: str = "categorical_hinge", dtype: Any = None) -> None:
        super().__init__(losses.categorical_hinge, name=name, dtype=dtype)
