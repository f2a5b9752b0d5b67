"""Losses with Keras 3 names, formulas and reductions, written with ge.ops so that the backward
pass differentiates them. `call` gives the per-sample loss; `__call__` reduces it."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from graphengine import common, ops
from graphengine.graph.tensor import SymbolicTensor
from graphengine.ops import activations

EPSILON = 1e-7  # Keras's backend.epsilon(): keeps log() away from 0 for probabilities
REDUCTIONS = ("sum_over_batch_size", "sum", "none")


def _rank(x: Any) -> int:
    return len(x.shape)


def same_rank(y_true: Any, y_pred: Any) -> tuple[Any, Any]:
    """Keras's squeeze_or_expand_to_same_rank: a rank-1 target meets an (N, 1) prediction by
    gaining an axis; otherwise a trailing axis of size 1 is dropped from the larger."""
    rt, rp = _rank(y_true), _rank(y_pred)
    if rp == rt + 1 and y_pred.shape[-1] == 1:
        return (
            (ops.expand_dims(y_true, -1), y_pred) if rt == 1 else (y_true, ops.squeeze(y_pred, -1))
        )
    if rt == rp + 1 and y_true.shape[-1] == 1:
        return (
            (y_true, ops.expand_dims(y_pred, -1)) if rp == 1 else (ops.squeeze(y_true, -1), y_pred)
        )
    return y_true, y_pred


def _float_like(y_true: Any, y_pred: Any) -> Any:
    return ops.cast(y_true, y_pred.dtype) if y_true.dtype != y_pred.dtype else y_true


def mean_squared_error(y_true: Any, y_pred: Any) -> Any:
    """mean((y_true - y_pred)^2) over the last axis."""
    y_true, y_pred = same_rank(_float_like(y_true, y_pred), y_pred)
    return ops.mean(ops.square(ops.subtract(y_true, y_pred)), axis=-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> Any:
    """mean(|y_true - y_pred|) over the last axis."""
    y_true, y_pred = same_rank(_float_like(y_true, y_pred), y_pred)
    return ops.mean(ops.abs(ops.subtract(y_true, y_pred)), axis=-1)


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> Any:
    """mean over the last axis of 0.5 e^2 for |e| <= delta, delta (|e| - 0.5 delta) beyond,
    written as 0.5 q^2 + delta (|e| - q) with q = min(|e|, delta)."""
    y_true, y_pred = same_rank(_float_like(y_true, y_pred), y_pred)
    abs_error = ops.abs(ops.subtract(y_pred, y_true))
    quadratic = ops.minimum(abs_error, delta)
    linear = ops.subtract(abs_error, quadratic)
    return ops.mean(
        ops.add(ops.multiply(ops.square(quadratic), 0.5), ops.multiply(linear, delta)), axis=-1
    )


def binary_crossentropy(
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Any:
    """mean over `axis` of -(y log p + (1 - y) log(1 - p)). From logits it is evaluated as
    max(x, 0) - x y + log(1 + exp(-|x|)), which never overflows."""
    y_true, y_pred = same_rank(_float_like(y_true, y_pred), y_pred)
    if label_smoothing:
        y_true = ops.add(ops.multiply(y_true, 1.0 - label_smoothing), 0.5 * label_smoothing)
    if from_logits:
        softplus_neg_abs = activations.softplus(ops.negative(ops.abs(y_pred)))
        loss = ops.add(
            ops.subtract(ops.relu(y_pred), ops.multiply(y_pred, y_true)), softplus_neg_abs
        )
    else:
        p = ops.clip(y_pred, EPSILON, 1.0 - EPSILON)
        loss = ops.negative(
            ops.add(
                ops.multiply(y_true, ops.log(p)),
                ops.multiply(ops.subtract(1.0, y_true), ops.log(ops.subtract(1.0, p))),
            )
        )
    return ops.mean(loss, axis=axis)


def _log_probs(y_pred: Any, from_logits: bool, axis: int) -> Any:
    if from_logits:
        return ops.log_softmax(y_pred, axis=axis)
    p = ops.divide(y_pred, ops.sum(y_pred, axis=axis, keepdims=True))
    return ops.log(ops.clip(p, EPSILON, 1.0 - EPSILON))


def categorical_crossentropy(
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Any:
    """-sum(y_true * log p) over `axis`; probabilities are renormalized and clipped to
    [eps, 1 - eps] as Keras does, logits go through a stable log-softmax."""
    y_true = _float_like(y_true, y_pred)
    if tuple(y_true.shape[1:]) != tuple(y_pred.shape[1:]) and None not in y_true.shape[1:]:
        raise ValueError(
            f"categorical_crossentropy: targets of shape {y_true.shape} do not match "
            f"predictions of shape {y_pred.shape}; for integer class ids use "
            "sparse_categorical_crossentropy"
        )
    if label_smoothing:
        n = y_pred.shape[axis]
        y_true = ops.add(ops.multiply(y_true, 1.0 - label_smoothing), label_smoothing / n)
    return ops.negative(
        ops.sum(ops.multiply(y_true, _log_probs(y_pred, from_logits, axis)), axis=axis)
    )


def sparse_categorical_crossentropy(
    y_true: Any, y_pred: Any, from_logits: bool = False, axis: int = -1
) -> Any:
    """categorical_crossentropy against one_hot(y_true); y_true holds class ids, shaped like
    y_pred without its class axis (or with a trailing axis of size 1). Concrete ids are checked
    to lie in [0, classes) here; the trainer checks its targets once per call instead."""
    if not isinstance(y_true, SymbolicTensor):  # arrays: an eager call
        y_true = np.asarray(y_true)
        common.check_class_ids(
            y_true, y_pred.shape[axis], "y_true", "sparse_categorical_crossentropy"
        )
    if _rank(y_true) == _rank(y_pred) and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, -1)
    if _rank(y_true) != _rank(y_pred) - 1:
        raise ValueError(
            f"sparse_categorical_crossentropy: targets of shape {y_true.shape} do "
            f"not fit predictions of shape {y_pred.shape}: give one class id per "
            "sample (shape (N,) or (N, 1))"
        )
    one_hot = ops.one_hot(y_true, y_pred.shape[axis], dtype=y_pred.dtype)
    return ops.negative(
        ops.sum(ops.multiply(one_hot, _log_probs(y_pred, from_logits, axis)), axis=axis)
    )


def class_axis(loss: Loss) -> int | None:
    """The class axis of y_pred when `loss` takes integer class ids as targets (sparse
    categorical crossentropy, as a class or as the bare function), else None."""
    fn = loss.custom_fn if isinstance(loss, LossFunctionWrapper) else type(loss).fn
    return loss.kwargs.get("axis", -1) if fn is sparse_categorical_crossentropy else None


class Loss:
    """A loss: per-sample values from `fn(y_true, y_pred, **kwargs)`, then `reduction`:
    'sum_over_batch_size' (the mean over every per-sample value), 'sum' or 'none'.

    As in Keras, a mask on `y_pred` (e.g. the time steps an Embedding with mask_zero keeps)
    weights the values: masked entries count 0, and 'sum_over_batch_size' is the mean over the
    kept entries (0 when none is kept)."""

    fn: Callable[..., Any] = staticmethod(mean_squared_error)

    def __init__(
        self, reduction: str = "sum_over_batch_size", name: str | None = None, **kwargs: Any
    ) -> None:
        self.reduction = common.lookup("reduction", reduction or "none", {r: r for r in REDUCTIONS})
        self.name = name or common.snake_case(type(self).__name__)
        self.kwargs = kwargs

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return type(self).fn(y_true, y_pred, **self.kwargs)

    def __call__(self, y_true: Any, y_pred: Any) -> Any:
        values = self.call(y_true, y_pred)
        mask = getattr(y_pred, "mask", None)
        if mask is not None and len(mask.shape) == len(values.shape):
            mask = ops.cast(mask, values.dtype)
            values = ops.multiply(values, mask)
            if self.reduction == "sum_over_batch_size":
                return ops.divide(ops.sum(values), ops.maximum(ops.sum(mask), 1.0))
        if self.reduction == "none":
            return values
        if self.reduction == "sum":
            return ops.sum(values)
        return ops.mean(values)

    def get_config(self) -> dict[str, Any]:
        return {"reduction": self.reduction, "name": self.name, **self.kwargs}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        return cls(**config)


class MeanSquaredError(Loss):
    fn = staticmethod(mean_squared_error)

    def __init__(
        self, reduction: str = "sum_over_batch_size", name: str = "mean_squared_error"
    ) -> None:
        super().__init__(reduction, name)


class MeanAbsoluteError(Loss):
    fn = staticmethod(mean_absolute_error)

    def __init__(
        self, reduction: str = "sum_over_batch_size", name: str = "mean_absolute_error"
    ) -> None:
        super().__init__(reduction, name)


class Huber(Loss):
    fn = staticmethod(huber)

    def __init__(
        self, delta: float = 1.0, reduction: str = "sum_over_batch_size", name: str = "huber_loss"
    ) -> None:
        super().__init__(reduction, name, delta=float(delta))


class BinaryCrossentropy(Loss):
    fn = staticmethod(binary_crossentropy)

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str = "sum_over_batch_size",
        name: str = "binary_crossentropy",
    ) -> None:
        super().__init__(
            reduction,
            name,
            from_logits=from_logits,
            label_smoothing=float(label_smoothing),
            axis=axis,
        )


class CategoricalCrossentropy(Loss):
    fn = staticmethod(categorical_crossentropy)

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str = "sum_over_batch_size",
        name: str = "categorical_crossentropy",
    ) -> None:
        super().__init__(
            reduction,
            name,
            from_logits=from_logits,
            label_smoothing=float(label_smoothing),
            axis=axis,
        )


class SparseCategoricalCrossentropy(Loss):
    fn = staticmethod(sparse_categorical_crossentropy)

    def __init__(
        self,
        from_logits: bool = False,
        axis: int = -1,
        reduction: str = "sum_over_batch_size",
        name: str = "sparse_categorical_crossentropy",
    ) -> None:
        super().__init__(reduction, name, from_logits=from_logits, axis=axis)


class LossFunctionWrapper(Loss):
    """A custom loss `fn(y_true, y_pred)` written with ge.ops, reduced like the built-ins."""

    def __init__(
        self,
        fn: Callable[..., Any],
        reduction: str = "sum_over_batch_size",
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(reduction, name or getattr(fn, "__name__", "loss"), **kwargs)
        self.custom_fn = fn

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return self.custom_fn(y_true, y_pred, **self.kwargs)


ALL: dict[str, Callable[[], Loss]] = {
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "huber": Huber,
    "huber_loss": Huber,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
_BY_CLASS = {cls.__name__: cls for cls in ALL.values()}


def get(identifier: Any) -> Loss:
    """A Loss from a name ('mse', 'MeanSquaredError'), an instance, a config dict or a function
    of (y_true, y_pred) written with ge.ops."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_CLASS.get(identifier) or common.lookup("loss", identifier, ALL)
        return cls()
    if isinstance(identifier, dict):
        return (
            _BY_CLASS.get(identifier["class_name"])
            or common.lookup("loss", identifier["class_name"], ALL)
        )(**identifier["config"])
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise TypeError(
        f"Could not interpret loss {identifier!r}: give a name, a ge.losses.Loss or a "
        "function (y_true, y_pred) -> per-sample loss"
    )
