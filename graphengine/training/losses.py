"""Losses with Keras 3 names, formulas and reductions, written with ge.ops so that the backward
pass differentiates them. The functions give per-sample values; a `Loss` object weighs them
(sample_weight, masks) and reduces them, on symbolic tensors or eagerly on arrays."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from graphengine import common, ops
from graphengine.graph.tensor import SymbolicTensor, format_shape, in_graph_mode
from graphengine.ops import activations
from graphengine.ops.base import normalize_axis

EPSILON = 1e-7  # Keras's backend.epsilon(): keeps log() away from 0 for probabilities
LOG2 = float(np.log(2.0))
REDUCTIONS = ("sum_over_batch_size", "sum", "none", "mean", "mean_with_sample_weight")
_TINY = float(np.finfo(np.float32).tiny)  # below any kept fraction of a mask


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


def _array(x: Any, floating: bool = False) -> Any:
    """A SymbolicTensor as it is, anything else as an array (float32 when `floating` and it holds
    no floats, as Keras converts predictions to floatx)."""
    if isinstance(x, SymbolicTensor):
        return x
    x = np.asarray(x)
    return x.astype(np.float32) if floating and x.dtype.kind != "f" else x


def _float_like(y_true: Any, y_pred: Any) -> Any:
    return ops.cast(y_true, y_pred.dtype) if y_true.dtype != y_pred.dtype else y_true


def _shapes_meet(a: tuple, b: tuple, exact: bool) -> bool:
    """Whether two shapes (None: unknown) are equal, or (not exact) broadcast together."""
    if exact and len(a) != len(b):
        return False
    pairs = zip(reversed(a), reversed(b))
    return all(x is None or y is None or x == y or (not exact and 1 in (x, y)) for x, y in pairs)


def _pair(name: str, y_true: Any, y_pred: Any, exact: bool = False) -> tuple[Any, Any]:
    """y_true in y_pred's float dtype, both at one rank (`same_rank`); a ValueError naming the
    loss when their shapes do not meet (`exact`: must be equal, else broadcast)."""
    y_pred = _array(y_pred, floating=True)
    y_true, y_pred = same_rank(_float_like(_array(y_true), y_pred), y_pred)
    if not _shapes_meet(tuple(y_true.shape), tuple(y_pred.shape), exact):
        raise ValueError(
            f"{name}: y_true of shape {format_shape(tuple(y_true.shape))} does not match "
            f"y_pred of shape {format_shape(tuple(y_pred.shape))}"
        )
    return y_true, y_pred


class MaskedValues(np.ndarray):
    """Eager per-sample values carrying `mask` (true for the entries that count), as Keras
    attaches a mask to a loss's output (ignore_class); views and results of it carry none."""

    mask: Any = None


def _with_mask(values: Any, mask: Any) -> Any:
    if isinstance(values, SymbolicTensor):
        values.mask = mask
        return values
    out = np.asarray(values).view(MaskedValues)
    out.mask = np.asarray(mask)
    return out


def output_mask(x: Any) -> Any:
    """The mask a tensor or eager result carries (Keras's get_keras_mask), else None."""
    return x.mask if isinstance(x, (SymbolicTensor, MaskedValues)) else None


def mean_squared_error(y_true: Any, y_pred: Any) -> Any:
    """mean((y_true - y_pred)^2) over the last axis."""
    y_true, y_pred = _pair("mean_squared_error", y_true, y_pred)
    return ops.mean(ops.square(ops.subtract(y_true, y_pred)), axis=-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> Any:
    """mean(|y_true - y_pred|) over the last axis."""
    y_true, y_pred = _pair("mean_absolute_error", y_true, y_pred)
    return ops.mean(ops.abs(ops.subtract(y_true, y_pred)), axis=-1)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> Any:
    """100 * mean(|y_true - y_pred| / max(|y_true|, eps)) over the last axis."""
    y_true, y_pred = _pair("mean_absolute_percentage_error", y_true, y_pred)
    scale = ops.maximum(ops.abs(y_true), EPSILON)
    return ops.multiply(
        ops.mean(ops.abs(ops.divide(ops.subtract(y_true, y_pred), scale)), -1), 100.0
    )


def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> Any:
    """mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))^2) over the last axis."""
    y_true, y_pred = _pair("mean_squared_logarithmic_error", y_true, y_pred)
    log_pred = ops.log(ops.add(ops.maximum(y_pred, EPSILON), 1.0))
    log_true = ops.log(ops.add(ops.maximum(y_true, EPSILON), 1.0))
    return ops.mean(ops.square(ops.subtract(log_pred, log_true)), axis=-1)


def _l2_normalize(x: Any, axis: int) -> Any:
    """x / max(||x||, eps) along axis (Keras's normalize); the norm is taken of max(|x|^2, eps^2)
    so that a zero vector gives 0 with a finite gradient."""
    squares = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return ops.divide(x, ops.sqrt(ops.maximum(squares, EPSILON * EPSILON)))


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> Any:
    """-sum(l2_normalize(y_true) * l2_normalize(y_pred)) over `axis`: -1 for vectors pointing
    the same way, 0 when either is zero."""
    y_true, y_pred = _pair("cosine_similarity", y_true, y_pred)
    return ops.negative(
        ops.sum(ops.multiply(_l2_normalize(y_true, axis), _l2_normalize(y_pred, axis)), axis=axis)
    )


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> Any:
    """mean over the last axis of 0.5 e^2 for |e| <= delta, delta (|e| - 0.5 delta) beyond,
    written as 0.5 q^2 + delta (|e| - q) with q = min(|e|, delta)."""
    y_true, y_pred = _pair("huber", y_true, y_pred)
    abs_error = ops.abs(ops.subtract(y_pred, y_true))
    quadratic = ops.minimum(abs_error, delta)
    linear = ops.subtract(abs_error, quadratic)
    return ops.mean(
        ops.add(ops.multiply(ops.square(quadratic), 0.5), ops.multiply(linear, delta)), axis=-1
    )


def log_cosh(y_true: Any, y_pred: Any) -> Any:
    """mean(log(cosh(y_pred - y_true))) over the last axis, as e + softplus(-2e) - log 2, which
    never overflows (cosh(e) does for |e| > 89 in float32)."""
    y_true, y_pred = _pair("log_cosh", y_true, y_pred)
    error = ops.subtract(y_pred, y_true)
    value = ops.add(error, activations.softplus(ops.multiply(error, -2.0)))
    return ops.mean(ops.subtract(value, LOG2), axis=-1)


def kl_divergence(y_true: Any, y_pred: Any) -> Any:
    """sum(t * log(t / p)) over the last axis, with t and p clipped to [eps, 1]."""
    y_true, y_pred = _pair("kl_divergence", y_true, y_pred)
    t, p = ops.clip(y_true, EPSILON, 1.0), ops.clip(y_pred, EPSILON, 1.0)
    return ops.sum(ops.multiply(t, ops.log(ops.divide(t, p))), axis=-1)


def poisson(y_true: Any, y_pred: Any) -> Any:
    """mean(y_pred - y_true * log(y_pred + eps)) over the last axis."""
    y_true, y_pred = _pair("poisson", y_true, y_pred)
    return ops.mean(
        ops.subtract(y_pred, ops.multiply(y_true, ops.log(ops.add(y_pred, EPSILON)))), axis=-1
    )


def _hinge_labels(y_true: Any) -> Any:
    """2 y - 1 when every label of the batch is 0 or 1 (Keras converts {0, 1} to {-1, 1}),
    else the labels unchanged."""
    binary = ops.all(ops.logical_or(ops.equal(y_true, 0.0), ops.equal(y_true, 1.0)))
    return ops.where(binary, ops.subtract(ops.multiply(y_true, 2.0), 1.0), y_true)


def _hinge_margin(name: str, y_true: Any, y_pred: Any) -> Any:
    y_true, y_pred = _pair(name, y_true, y_pred)
    return ops.maximum(ops.subtract(1.0, ops.multiply(_hinge_labels(y_true), y_pred)), 0.0)


def hinge(y_true: Any, y_pred: Any) -> Any:
    """mean(max(1 - y_true * y_pred, 0)) over the last axis; labels in {-1, 1} ({0, 1} are
    converted)."""
    return ops.mean(_hinge_margin("hinge", y_true, y_pred), axis=-1)


def squared_hinge(y_true: Any, y_pred: Any) -> Any:
    """mean(max(1 - y_true * y_pred, 0)^2) over the last axis; labels as `hinge`."""
    return ops.mean(ops.square(_hinge_margin("squared_hinge", y_true, y_pred)), axis=-1)


def categorical_hinge(y_true: Any, y_pred: Any) -> Any:
    """max(neg - pos + 1, 0) with pos = sum(y_true * y_pred), neg = max((1 - y_true) * y_pred)
    over the last axis."""
    y_true, y_pred = _pair("categorical_hinge", y_true, y_pred)
    pos = ops.sum(ops.multiply(y_true, y_pred), axis=-1)
    neg = ops.max(ops.multiply(ops.subtract(1.0, y_true), y_pred), axis=-1)
    return ops.maximum(ops.add(ops.subtract(neg, pos), 1.0), 0.0)


def _smoothed(y_true: Any, label_smoothing: float, share: float) -> Any:
    """y_true * (1 - label_smoothing) + label_smoothing * share (share: 1/2 for binary labels,
    1/classes for categorical ones)."""
    if not label_smoothing:
        return y_true
    return ops.add(ops.multiply(y_true, 1.0 - label_smoothing), label_smoothing * share)


def _binary_crossentropy_probs(y_true: Any, p: Any) -> Any:
    """-(y log p + (1 - y) log(1 - p)) elementwise, p clipped to [eps, 1 - eps]."""
    p = ops.clip(p, EPSILON, 1.0 - EPSILON)
    return ops.negative(
        ops.add(
            ops.multiply(y_true, ops.log(p)),
            ops.multiply(ops.subtract(1.0, y_true), ops.log(ops.subtract(1.0, p))),
        )
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
    y_true, y_pred = _pair("binary_crossentropy", y_true, y_pred, exact=True)
    y_true = _smoothed(y_true, label_smoothing, 0.5)
    if from_logits:
        softplus_neg_abs = activations.softplus(ops.negative(ops.abs(y_pred)))
        loss = ops.add(
            ops.subtract(ops.relu(y_pred), ops.multiply(y_pred, y_true)), softplus_neg_abs
        )
    else:
        loss = _binary_crossentropy_probs(y_true, y_pred)
    return ops.mean(loss, axis=axis)


def binary_focal_crossentropy(
    y_true: Any,
    y_pred: Any,
    apply_class_balancing: bool = False,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Any:
    """mean over `axis` of (1 - p_t)^gamma * binary crossentropy (Lin et al., 2018), p_t the
    probability given to the true label, times alpha (label 1) or 1 - alpha (label 0) with
    apply_class_balancing. Logits go through a sigmoid and the clipped crossentropy, as Keras."""
    y_true, y_pred = _pair("binary_focal_crossentropy", y_true, y_pred, exact=True)
    y_true = _smoothed(y_true, label_smoothing, 0.5)
    p = ops.sigmoid(y_pred) if from_logits else y_pred
    not_true = ops.subtract(1.0, y_true)
    p_t = ops.add(ops.multiply(y_true, p), ops.multiply(not_true, ops.subtract(1.0, p)))
    focal = ops.multiply(
        ops.power(ops.subtract(1.0, p_t), gamma), _binary_crossentropy_probs(y_true, p)
    )
    if apply_class_balancing:
        weight = ops.add(ops.multiply(y_true, alpha), ops.multiply(not_true, 1.0 - alpha))
        focal = ops.multiply(weight, focal)
    return ops.mean(focal, axis=axis)


def _check_categorical(name: str, y_true: Any, y_pred: Any) -> tuple[Any, Any]:
    y_pred = _array(y_pred, floating=True)
    y_true = _float_like(_array(y_true), y_pred)
    if not _shapes_meet(tuple(y_true.shape), tuple(y_pred.shape), exact=True):
        raise ValueError(
            f"{name}: y_true of shape {format_shape(tuple(y_true.shape))} does not match y_pred "
            f"of shape {format_shape(tuple(y_pred.shape))}; for integer class ids use "
            "sparse_categorical_crossentropy"
        )
    return y_true, y_pred


def _probabilities(y_pred: Any, from_logits: bool, axis: int) -> Any:
    """Softmax of logits, or probabilities renormalized along `axis`, clipped to [eps, 1 - eps]."""
    p = ops.softmax(y_pred, axis=axis) if from_logits else y_pred
    return ops.clip(ops.divide(p, ops.sum(p, axis=axis, keepdims=True)), EPSILON, 1.0 - EPSILON)


def _log_probs(y_pred: Any, from_logits: bool, axis: int) -> Any:
    if from_logits:
        return ops.log_softmax(y_pred, axis=axis)
    return ops.log(_probabilities(y_pred, False, axis))


def categorical_crossentropy(
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Any:
    """-sum(y_true * log p) over `axis`; probabilities are renormalized and clipped to
    [eps, 1 - eps] as Keras does, logits go through a stable log-softmax."""
    y_true, y_pred = _check_categorical("categorical_crossentropy", y_true, y_pred)
    y_true = _smoothed(y_true, label_smoothing, 1.0 / y_pred.shape[axis])
    return ops.negative(
        ops.sum(ops.multiply(y_true, _log_probs(y_pred, from_logits, axis)), axis=axis)
    )


def categorical_focal_crossentropy(
    y_true: Any,
    y_pred: Any,
    alpha: Any = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Any:
    """sum over `axis` of alpha (1 - p)^gamma * (-y_true log p), p the renormalized, clipped
    probabilities (a softmax of logits, as Keras); alpha a number or one weight per class."""
    y_true, y_pred = _check_categorical("categorical_focal_crossentropy", y_true, y_pred)
    y_true = _smoothed(y_true, label_smoothing, 1.0 / y_pred.shape[axis])
    p = _probabilities(y_pred, from_logits, axis)
    if np.ndim(alpha):  # one weight per class, laid along the class axis
        classes, axis = y_pred.shape[axis], normalize_axis(axis, _rank(y_pred))
        if np.size(alpha) != classes:
            raise ValueError(
                f"categorical_focal_crossentropy: alpha has {np.size(alpha)} weights for "
                f"{classes} classes (y_pred of shape {format_shape(tuple(y_pred.shape))})"
            )
        at_axis = [classes if i == axis else 1 for i in range(_rank(y_pred))]
        alpha = np.asarray(alpha, dtype=y_pred.dtype).reshape(at_axis)
    weight = ops.multiply(ops.power(ops.subtract(1.0, p), gamma), alpha)
    return ops.sum(ops.multiply(weight, ops.negative(ops.multiply(y_true, ops.log(p)))), axis=axis)


def _check_sparse_ids(y_true: Any, classes: int, ignore_class: int | None) -> None:
    """Eager ids must lie in [0, classes), ignore_class excepted (the trainer checks its own)."""
    if isinstance(y_true, SymbolicTensor):
        return
    ids = np.asarray(y_true)
    if ignore_class is not None and ids.dtype.kind in "biuf":
        ids = np.where(ids == ignore_class, 0, ids)
    common.check_class_ids(ids, classes, "y_true", "sparse_categorical_crossentropy")


def sparse_categorical_crossentropy(
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    ignore_class: int | None = None,
    axis: int = -1,
) -> Any:
    """categorical_crossentropy against one_hot(y_true); y_true holds class ids, shaped like
    y_pred without its class axis (or with that axis of size 1). Entries whose id is
    `ignore_class` give 0 and carry a mask of 0 (a Loss leaves them out of its mean, as Keras).
    Eager ids are checked to lie in [0, classes); the trainer checks its targets itself."""
    y_pred = _array(y_pred, floating=True)
    y_true = _array(y_true)
    axis = normalize_axis(axis, _rank(y_pred))
    _check_sparse_ids(y_true, y_pred.shape[axis], ignore_class)
    if _rank(y_true) == _rank(y_pred) and y_true.shape[axis] == 1:
        y_true = ops.squeeze(y_true, axis)
    kept_shape = tuple(y_pred.shape[:axis]) + tuple(y_pred.shape[axis + 1 :])
    if not _shapes_meet(tuple(y_true.shape), kept_shape, exact=True):
        raise ValueError(
            f"sparse_categorical_crossentropy: targets of shape {format_shape(y_true.shape)} do "
            f"not fit predictions of shape {format_shape(y_pred.shape)}: give one class id per "
            "sample (shape (N,) or (N, 1))"
        )
    if ignore_class is not None:
        kept = ops.not_equal(y_true, ignore_class)
        # ignored entries score a uniform row against class 0: finite, then replaced by 0
        y_true = ops.where(kept, y_true, ops.zeros_like(y_true))
        y_pred = ops.where(ops.expand_dims(kept, axis), y_pred, ops.ones_like(y_pred))
    one_hot = ops.one_hot(y_true, y_pred.shape[axis], axis=axis, dtype=y_pred.dtype)
    values = ops.negative(
        ops.sum(ops.multiply(one_hot, _log_probs(y_pred, from_logits, axis)), axis=axis)
    )
    if ignore_class is None:
        return values
    return _with_mask(ops.where(kept, values, ops.zeros_like(values)), kept)


def _aligned(values: Any, weight: Any, what: str, name: str) -> tuple[Any, Any]:
    """(values, weight) at one rank: Keras's squeeze_or_expand_to_same_rank, then trailing axes
    of 1 on a weight of lower rank (one weight per sample spreads over that sample's values,
    where Keras would line it up with the last axis); a ValueError naming the loss when the
    weight does not broadcast onto the values."""
    values, weight = same_rank(values, weight)
    while _rank(weight) < _rank(values):
        weight = ops.expand_dims(weight, -1)
    vshape, wshape = tuple(values.shape), tuple(weight.shape)
    if len(wshape) > len(vshape) or not all(
        w in (1, None) or v is None or w == v for w, v in zip(wshape, vshape)
    ):
        raise ValueError(
            f"loss '{name}': {what} of shape {format_shape(wshape)} does not fit the per-sample "
            f"loss values of shape {format_shape(vshape)}"
        )
    return values, weight


def reduce_weighted_values(
    values: Any,
    sample_weight: Any = None,
    mask: Any = None,
    reduction: str = "sum_over_batch_size",
    name: str = "loss",
) -> Any:
    """Keras's reduction of per-sample loss values: masked entries weigh 0, the sample weights
    multiply in, then 'none' keeps the values, 'sum' adds them, 'sum_over_batch_size' (= 'mean')
    divides the sum by their number, the kept ones only under a mask (0 when none is kept), and
    'mean_with_sample_weight' by the sum of the weights (0 when that is 0)."""
    weight = None
    if sample_weight is not None:
        sample_weight = _array(sample_weight, floating=True)
        values, weight = _aligned(values, _float_like(sample_weight, values), "sample_weight", name)
    if mask is not None:
        values, mask = _aligned(values, _float_like(mask, values), "mask", name)
        if reduction in ("sum_over_batch_size", "mean"):
            # kept entries weigh total / kept (Keras's divide_no_nan(total, kept): 0 if none kept),
            # so the mean over all entries below is the mean over the kept ones
            mask = ops.divide(mask, ops.maximum(ops.mean(mask), _TINY))
        weight = mask if weight is None else ops.multiply(mask, weight)
    if weight is not None:
        values = ops.multiply(values, weight)
    if reduction == "none" or _rank(values) == 0:
        return values
    if reduction == "sum":
        return ops.sum(values)
    if reduction == "mean_with_sample_weight" and weight is not None:
        return ops.divide_no_nan(ops.sum(values), ops.sum(weight))
    return ops.mean(values)


def _loss_fn(loss: Loss) -> Callable[..., Any]:
    return loss.custom_fn if isinstance(loss, LossFunctionWrapper) else type(loss).fn


def class_axis(loss: Loss) -> int | None:
    """The class axis of y_pred when `loss` takes integer class ids as targets (sparse
    categorical crossentropy, as a class or as the bare function), else None."""
    return (
        loss.kwargs.get("axis", -1) if _loss_fn(loss) is sparse_categorical_crossentropy else None
    )


def ignored_class(loss: Loss) -> int | None:
    """The class id `loss` leaves out (sparse crossentropy's ignore_class), else None: targets
    may hold it even outside [0, classes)."""
    if _loss_fn(loss) is not sparse_categorical_crossentropy:
        return None
    return loss.kwargs.get("ignore_class")


class Loss:
    """A loss: per-sample values from `fn(y_true, y_pred, **kwargs)`, weighed and reduced as
    Keras's Loss.__call__(y_true, y_pred, sample_weight=None) (see `reduce_weighted_values`):
    'sum_over_batch_size' (or 'mean'), 'sum', 'none' or 'mean_with_sample_weight'.

    As in Keras, a mask on `y_pred` (e.g. the time steps an Embedding with mask_zero keeps) and
    one on the values (ignore_class) weigh the values: masked entries count 0, and the mean is
    over the kept entries (0 when none is kept). Works on SymbolicTensors (a graph the backward
    pass differentiates) and eagerly on arrays."""

    fn: Callable[..., Any] = staticmethod(mean_squared_error)

    def __init__(
        self, reduction: str = "sum_over_batch_size", name: str | None = None, **kwargs: Any
    ) -> None:
        self.reduction = common.lookup("reduction", reduction or "none", {r: r for r in REDUCTIONS})
        self.name = name or common.snake_case(type(self).__name__)
        self.kwargs = kwargs

    def call(self, y_true: Any, y_pred: Any) -> Any:
        """The per-sample loss values, before weighting and reduction."""
        return type(self).fn(y_true, y_pred, **self.kwargs)

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        """The loss of `y_pred` against `y_true`, weighted by `sample_weight` and reduced; a
        scalar, or per-sample values with reduction 'none'."""
        operands = (y_true, y_pred, sample_weight)
        if not in_graph_mode() and not any(isinstance(x, SymbolicTensor) for x in operands):
            y_true, y_pred = np.asarray(y_true), _array(y_pred, floating=True)
            if y_pred.size == 0 and self.reduction != "none":
                raise ValueError(
                    f"loss '{self.name}': y_pred of shape {format_shape(y_pred.shape)} is empty; "
                    f"reduction '{self.reduction}' has no values to reduce"
                )
        in_mask = y_pred.mask if isinstance(y_pred, SymbolicTensor) else None
        values = self.call(y_true, y_pred)
        if in_mask is not None and _rank(in_mask) != _rank(values):
            in_mask = None  # a mask of another rank does not say which values to keep
        mask, out_mask = in_mask, output_mask(values)
        if out_mask is not None:
            mask = out_mask if mask is None else ops.multiply(_float_like(mask, values), out_mask)
        return reduce_weighted_values(values, sample_weight, mask, self.reduction, self.name)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, as a dict (Keras's config)."""
        return {"reduction": self.reduction, "name": self.name, **self.kwargs}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        """A loss made from `get_config()`'s dict."""
        return cls(**config)


class MeanSquaredError(Loss):
    """The mean of squares of errors between labels and predictions, over the last axis:
    `mean((y_true - y_pred)^2)`. Reduced as `reduction` says (default 'sum_over_batch_size')."""

    fn = staticmethod(mean_squared_error)

    def __init__(
        self, reduction: str = "sum_over_batch_size", name: str = "mean_squared_error"
    ) -> None:
        super().__init__(reduction, name)


class MeanAbsoluteError(Loss):
    """The mean of absolute errors over the last axis: `mean(|y_true - y_pred|)`. Reduced as
    `reduction` says (default 'sum_over_batch_size')."""

    fn = staticmethod(mean_absolute_error)

    def __init__(
        self, reduction: str = "sum_over_batch_size", name: str = "mean_absolute_error"
    ) -> None:
        super().__init__(reduction, name)


class MeanAbsolutePercentageError(Loss):
    """The mean absolute percentage error over the last axis:
    `100 * mean(|y_true - y_pred| / max(|y_true|, eps))`. Reduced as `reduction` says (default
    'sum_over_batch_size')."""

    fn = staticmethod(mean_absolute_percentage_error)

    def __init__(
        self, reduction: str = "sum_over_batch_size", name: str = "mean_absolute_percentage_error"
    ) -> None:
        super().__init__(reduction, name)


class MeanSquaredLogarithmicError(Loss):
    """The mean squared logarithmic error over the last axis:
    `mean((log(y_pred + 1) - log(y_true + 1))^2)`, both clipped below at eps. Reduced as `reduction`
    says (default 'sum_over_batch_size')."""

    fn = staticmethod(mean_squared_logarithmic_error)

    def __init__(
        self, reduction: str = "sum_over_batch_size", name: str = "mean_squared_logarithmic_error"
    ) -> None:
        super().__init__(reduction, name)


class CosineSimilarity(Loss):
    """The negative cosine similarity along `axis`: -1 when labels and predictions point the
    same way, 0 when orthogonal, so minimizing it aligns them. Reduced as `reduction` says (default
    'sum_over_batch_size')."""

    fn = staticmethod(cosine_similarity)

    def __init__(
        self,
        axis: int = -1,
        reduction: str = "sum_over_batch_size",
        name: str = "cosine_similarity",
    ) -> None:
        super().__init__(reduction, name, axis=axis)


class Huber(Loss):
    """The Huber loss: `0.5 * e^2` where `|e| <= delta`, `delta * (|e| - 0.5 * delta)` beyond,
    averaged over the last axis (named 'huber_loss', as in Keras). Reduced as `reduction` says
    (default 'sum_over_batch_size')."""

    fn = staticmethod(huber)

    def __init__(
        self, delta: float = 1.0, reduction: str = "sum_over_batch_size", name: str = "huber_loss"
    ) -> None:
        super().__init__(reduction, name, delta=float(delta))


class LogCosh(Loss):
    """The mean over the last axis of `log(cosh(y_pred - y_true))`, computed stably for large
    errors. Reduced as `reduction` says (default 'sum_over_batch_size')."""

    fn = staticmethod(log_cosh)

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "log_cosh") -> None:
        super().__init__(reduction, name)


class KLDivergence(Loss):
    """The Kullback-Leibler divergence `sum(y_true * log(y_true / y_pred))` over the last axis,
    both clipped to [eps, 1]. Reduced as `reduction` says (default 'sum_over_batch_size')."""

    fn = staticmethod(kl_divergence)

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "kl_divergence") -> None:
        super().__init__(reduction, name)


class Poisson(Loss):
    """The Poisson loss `mean(y_pred - y_true * log(y_pred + eps))` over the last axis. Reduced as
    `reduction` says (default 'sum_over_batch_size')."""

    fn = staticmethod(poisson)

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "poisson") -> None:
        super().__init__(reduction, name)


class Hinge(Loss):
    """The hinge loss `mean(max(1 - y_true * y_pred, 0))` over the last axis; labels are -1
    or 1 (labels that are all 0 or 1 are mapped to -1 and 1, as Keras). Reduced as `reduction` says
    (default 'sum_over_batch_size')."""

    fn = staticmethod(hinge)

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "hinge") -> None:
        super().__init__(reduction, name)


class SquaredHinge(Loss):
    """The squared hinge loss `mean(max(1 - y_true * y_pred, 0)^2)` over the last axis;
    labels as `Hinge`. Reduced as `reduction` says (default 'sum_over_batch_size')."""

    fn = staticmethod(squared_hinge)

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "squared_hinge") -> None:
        super().__init__(reduction, name)


class CategoricalHinge(Loss):
    """The categorical hinge loss `max(neg - pos + 1, 0)`, pos the score of the true class,
    neg the largest score of the others (one-hot labels). Reduced as `reduction` says (default
    'sum_over_batch_size')."""

    fn = staticmethod(categorical_hinge)

    def __init__(
        self, reduction: str = "sum_over_batch_size", name: str = "categorical_hinge"
    ) -> None:
        super().__init__(reduction, name)


class BinaryCrossentropy(Loss):
    """The cross-entropy of binary labels (0 or 1) and predicted probabilities (or logits with
    `from_logits=True`), averaged over `axis`; `label_smoothing` moves the labels towards 0.5.
    Reduced as `reduction` says (default 'sum_over_batch_size')."""

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


class BinaryFocalCrossentropy(Loss):
    """Binary cross-entropy weighted by `(1 - p_t)^gamma` (Lin et al., 2018), down-weighting
    easy examples; `apply_class_balancing` also weighs the classes by `alpha` and `1 - alpha`.
    Reduced as `reduction` says (default 'sum_over_batch_size')."""

    fn = staticmethod(binary_focal_crossentropy)

    def __init__(
        self,
        apply_class_balancing: bool = False,
        alpha: float = 0.25,
        gamma: float = 2.0,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str = "sum_over_batch_size",
        name: str = "binary_focal_crossentropy",
    ) -> None:
        super().__init__(
            reduction,
            name,
            apply_class_balancing=bool(apply_class_balancing),
            alpha=float(alpha),
            gamma=float(gamma),
            from_logits=from_logits,
            label_smoothing=float(label_smoothing),
            axis=axis,
        )


class CategoricalCrossentropy(Loss):
    """The cross-entropy of one-hot labels and predicted class probabilities (or logits with
    `from_logits=True`) along `axis`; `label_smoothing` moves the labels towards uniform. Reduced as
    `reduction` says (default 'sum_over_batch_size')."""

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


class CategoricalFocalCrossentropy(Loss):
    """Categorical cross-entropy weighted by `alpha * (1 - p)^gamma` (Lin et al., 2018),
    down-weighting well-classified examples; one-hot labels. Reduced as `reduction` says (default
    'sum_over_batch_size')."""

    fn = staticmethod(categorical_focal_crossentropy)

    def __init__(
        self,
        alpha: Any = 0.25,
        gamma: float = 2.0,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str = "sum_over_batch_size",
        name: str = "categorical_focal_crossentropy",
    ) -> None:
        alpha = float(alpha) if np.ndim(alpha) == 0 else [float(a) for a in np.ravel(alpha)]
        super().__init__(
            reduction,
            name,
            alpha=alpha,
            gamma=float(gamma),
            from_logits=from_logits,
            label_smoothing=float(label_smoothing),
            axis=axis,
        )


class SparseCategoricalCrossentropy(Loss):
    """The cross-entropy of integer class ids and predicted class probabilities (or logits
    with `from_logits=True`); ids outside [0, classes) raise, except `ignore_class`, whose
    targets count 0 and are left out of the mean. Reduced as `reduction` says (default
    'sum_over_batch_size')."""

    fn = staticmethod(sparse_categorical_crossentropy)

    def __init__(
        self,
        from_logits: bool = False,
        ignore_class: int | None = None,
        reduction: str = "sum_over_batch_size",
        axis: int = -1,
        name: str = "sparse_categorical_crossentropy",
    ) -> None:
        if ignore_class is not None and (
            isinstance(ignore_class, bool) or not isinstance(ignore_class, (int, np.integer))
        ):
            raise TypeError(
                f"SparseCategoricalCrossentropy: ignore_class must be an integer class id or "
                f"None, received {ignore_class!r}"
            )
        ignore = None if ignore_class is None else int(ignore_class)
        super().__init__(reduction, name, from_logits=from_logits, ignore_class=ignore, axis=axis)


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
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "mape": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "msle": MeanSquaredLogarithmicError,
    "cosine_similarity": CosineSimilarity,
    "huber": Huber,
    "huber_loss": Huber,
    "log_cosh": LogCosh,
    "logcosh": LogCosh,
    "kl_divergence": KLDivergence,
    "kld": KLDivergence,
    "kullback_leibler_divergence": KLDivergence,
    "poisson": Poisson,
    "hinge": Hinge,
    "squared_hinge": SquaredHinge,
    "categorical_hinge": CategoricalHinge,
    "binary_crossentropy": BinaryCrossentropy,
    "bce": BinaryCrossentropy,
    "binary_focal_crossentropy": BinaryFocalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "categorical_focal_crossentropy": CategoricalFocalCrossentropy,
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


# the public names, as keras.losses has them (ge.losses re-exports this list)
__all__ = [
    "BinaryCrossentropy",
    "BinaryFocalCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy",
    "CategoricalHinge",
    "CosineSimilarity",
    "Hinge",
    "Huber",
    "KLDivergence",
    "LogCosh",
    "Loss",
    "LossFunctionWrapper",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "SparseCategoricalCrossentropy",
    "SquaredHinge",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_hinge",
    "cosine_similarity",
    "get",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "poisson",
    "sparse_categorical_crossentropy",
    "squared_hinge",
]
