"""The reducing metrics: Sum, Mean, and MeanMetricWrapper (the running mean over samples of a
function's per-sample values), with Keras's sample_weight rules."""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from graphengine.training import losses
from graphengine.training.metrics.base import (
    Metric,
    apply_mask,
    check_same_shape,
    check_sparse_shape,
    same_rank,
)


def reduce_to_samplewise(
    values: Any, sample_weight: Any, reduce: Callable, dtype: str, owner: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """Keras's reduce_to_samplewise_values: the weights meet the values at the same rank (a
    trailing axis of 1 dropped or added), the values are reduced (by `reduce`) down to the
    weights' rank, multiplied by the broadcast weights, and both reduced to one entry per
    sample. Returns (values, weights or None)."""
    values = np.asarray(values, dtype=dtype)
    if sample_weight is not None:
        weights = np.asarray(sample_weight, dtype=dtype)
        values, weights = same_rank(values, weights)
        if values.ndim > weights.ndim:
            values = reduce(values, axis=tuple(range(weights.ndim, values.ndim)))
        try:
            weights = np.broadcast_to(weights, values.shape)
        except ValueError:
            raise ValueError(
                f"{owner}: sample_weight of shape {np.shape(sample_weight)} does not broadcast "
                f"to the values of shape {values.shape}"
            ) from None
        values = values * weights
        if weights.ndim > 1:
            weights = reduce(weights, axis=tuple(range(1, weights.ndim)))
        sample_weight = weights
    if values.ndim > 1:
        values = reduce(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Sum(Metric):
    """keras.metrics.Sum: the (weighted) sum of the values given to update_state."""

    def __init__(self, name: str = "sum", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.total = self._state("total")

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        values, _ = reduce_to_samplewise(values, sample_weight, np.sum, self.dtype, self._where())
        self.total.assign_add(np.sum(values, dtype=np.float64))

    def result(self) -> Any:
        return self._out(self.total.value)


_SCALARS = (type(None), int, float)


class Mean(Metric):
    """keras.metrics.Mean: the (weighted) running mean of the values given to update_state;
    0 before any value (Keras's divide_no_nan), NaN once a NaN value is seen."""

    def __init__(self, name: str = "mean", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.total = self._state("total")
        self.count = self._state("count")

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        if type(values) is float and type(sample_weight) in _SCALARS:
            # one number, one weight (the loss trackers, every step): the arithmetic below in
            # this metric's dtype, without the array machinery (54 -> 9 us inside a train step)
            cast = np.dtype(self.dtype).type
            value = cast(values)
            if sample_weight is None:
                self.total.assign_add(np.float64(value))
                self.count.assign_add(1)
            else:
                weight = cast(sample_weight)
                self.total.assign_add(np.float64(value * weight))
                self.count.assign_add(np.float64(weight))
            return
        values, weights = reduce_to_samplewise(
            values, sample_weight, np.mean, self.dtype, self._where()
        )
        self.total.assign_add(np.sum(values, dtype=np.float64))
        if weights is not None:
            count = np.sum(weights, dtype=np.float64)
        else:
            count = values.shape[0] if values.ndim else 1
        self.count.assign_add(count)

    def result(self) -> Any:
        count = float(self.count)
        return self._out(float(self.total) / count if count else 0.0)


class MeanMetricWrapper(Mean):
    """keras.metrics.MeanMetricWrapper: the running mean over samples of
    `fn(y_true, y_pred, **kwargs)`, a function (written with NumPy or ge.ops) returning one value
    per sample, or per entry (sample weights broadcast over a sample's entries; values carrying
    a mask weigh 0 where it is 0)."""

    # how the built-in metrics check their targets: "same" shape as y_pred (after Keras's rank
    # matching) or "sparse" class ids (y_pred's shape without its class axis); None: unchecked
    _targets: str | None = None

    def __init__(
        self, fn: Callable[..., Any], name: str | None = None, dtype: Any = None, **kwargs: Any
    ) -> None:
        super().__init__(name=name, dtype=dtype)  # type: ignore[arg-type]
        if not callable(fn):
            raise TypeError(f"{self._where()}: fn must be callable, received {fn!r}")
        self._fn, self._fn_kwargs = fn, kwargs

    @property
    def fn(self) -> Callable[..., Any]:
        """fn(y_true, y_pred) -> per-sample values, with this metric's keyword arguments."""
        return functools.partial(self._fn, **self._fn_kwargs) if self._fn_kwargs else self._fn

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        if self._targets == "same":
            check_same_shape(self._where(), y_true, y_pred)
        elif self._targets == "sparse":
            check_sparse_shape(self._where(), y_true, y_pred, self._fn_kwargs.get("axis", -1))
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        # values carrying a mask (sparse crossentropy's ignore_class) count only where kept
        sample_weight = apply_mask(sample_weight, losses.output_mask(values))
        super().update_state(values, sample_weight=sample_weight)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        if type(self) is MeanMetricWrapper:
            return {**config, "fn": self._fn, **self._fn_kwargs}
        return {**config, **self._fn_kwargs}
