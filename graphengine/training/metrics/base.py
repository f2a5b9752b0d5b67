"""The Metric base class and its state variables (NumPy arrays with Keras's Variable surface),
plus the host-side helpers every metric family shares: rank matching, shape checks, masks."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphengine import common, initializers

AGGREGATIONS = ("none", "mean", "sum", "only_first_replica")
STATE_DTYPE = "float64"  # built-in metrics count in float64: long epochs stay exact


class MetricVariable(np.lib.mixins.NDArrayOperatorsMixin):
    """A metric's state: a NumPy array with Keras's Variable surface (`assign`, `assign_add`,
    `assign_sub`, `value`, `numpy()`, `shape`, `dtype`) that takes part in arithmetic and
    comparisons as an array does (`self.tp + ops.sum(values)`, `np.asarray(v)`)."""

    trainable = False
    __hash__ = object.__hash__  # == is elementwise, as on arrays; identity keys dicts

    def __init__(
        self, shape: tuple, initializer: Any, dtype: str, aggregation: str, name: str, path: str
    ) -> None:
        self.name, self.path, self.aggregation = name, path, aggregation
        self.initializer = initializer
        self._shape = shape
        self._dtype = np.dtype(dtype)
        self._value = self._initial_value()

    def _initial_value(self) -> np.ndarray:
        if callable(self.initializer):
            value = np.asarray(self.initializer(self._shape, self._dtype.name))
        else:
            value = np.asarray(self.initializer)
        if value.shape != self._shape:
            raise ValueError(
                f"Variable '{self.path}': the initializer gives shape {value.shape}, expected "
                f"{self._shape}"
            )
        return np.array(value, dtype=self._dtype)

    @property
    def value(self) -> np.ndarray:
        """The live array (assign writes into it)."""
        return self._value

    @property
    def shape(self) -> tuple:
        return self._value.shape

    @property
    def dtype(self) -> str:
        return self._dtype.name

    @property
    def ndim(self) -> int:
        return self._value.ndim

    def numpy(self) -> np.ndarray:
        return self._value.copy()

    def assign(self, value: Any) -> np.ndarray:
        """Writes `value` (of this variable's shape, as Keras requires) into the array."""
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise TypeError(
                f"Variable '{self.path}' holds {self.dtype} numbers, but assign received "
                f"{'None' if value is None else f'an array of dtype {array.dtype}'}"
            )
        if array.shape != self.shape:
            raise ValueError(
                f"Variable '{self.path}': the shape of the target variable and of the value in "
                f"assign(value) must match: variable.shape={self.shape}, received "
                f"value.shape={array.shape}"
            )
        np.copyto(self._value, array, casting="unsafe")
        return self._value

    def assign_add(self, value: Any) -> np.ndarray:
        return self.assign(self._value + np.asarray(value))

    def assign_sub(self, value: Any) -> np.ndarray:
        return self.assign(self._value - np.asarray(value))

    def reset(self) -> None:
        """Back to the initializer's value."""
        self._value[...] = self._initial_value()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if dtype is not None and np.dtype(dtype) != self._dtype:
            return self._value.astype(dtype)
        return self._value.copy() if copy else self._value

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        inputs = tuple(x._value if isinstance(x, MetricVariable) else x for x in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(
                x._value if isinstance(x, MetricVariable) else x for x in kwargs["out"]
            )
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __getitem__(self, key: Any) -> np.ndarray:
        return np.array(self._value[key])  # a copy: the state changes only through assign

    def __len__(self) -> int:
        return len(self._value)

    def __float__(self) -> float:
        return float(self._scalar("float"))

    def __int__(self) -> int:
        return int(self._scalar("int"))

    def _scalar(self, what: str) -> np.ndarray:
        if self.ndim:
            raise TypeError(
                f"Only scalar arrays can be converted to Python scalars ({what}() of variable "
                f"'{self.path}' of shape {self.shape})"
            )
        return self._value

    def __bool__(self) -> bool:
        raise TypeError(
            f"Variable '{self.path}' cannot be used as a boolean (as a Keras Variable); compare "
            "it or convert it with float() first"
        )

    def __repr__(self) -> str:
        return (
            f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}, "
            f"value={self._value}>"
        )


def float_dtype(dtype: Any, owner: str) -> str:
    """The name of the floating dtype a metric computes in: float32 by default (Keras's floatx);
    a dtype policy gives its compute dtype."""
    dtype = getattr(dtype, "compute_dtype", dtype)
    if dtype is None:
        return "float32"
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved.kind != "f":
        raise ValueError(f"{owner}: dtype={dtype!r} is not a floating-point dtype")
    return resolved.name


class Metric:
    """keras.metrics.Metric: state in variables made by `add_variable` in `__init__`,
    `update_state(...)` accumulates into them, `result()` reads them, `reset_state()` puts them
    back to their initializers. Subclass it as in Keras; a metric held as an attribute of
    another one joins its `variables`."""

    def __init__(self, dtype: Any = None, name: str | None = None) -> None:
        self._variables: list[MetricVariable] = []
        self._metrics: list[Metric] = []
        self.name = name or common.unique_name(common.snake_case(type(self).__name__))
        self._dtype = float_dtype(dtype, f"{type(self).__name__} '{self.name}'")

    def __setattr__(self, key: str, value: Any) -> None:
        tracked = self.__dict__.get("_metrics")
        if isinstance(value, Metric) and value is not self and tracked is not None:
            if not any(m is value for m in tracked):
                tracked.append(value)
        super().__setattr__(key, value)

    @property
    def dtype(self) -> str:
        """The dtype results are reported in (float32 unless given)."""
        return self._dtype

    def _check_super_called(self) -> None:
        if "_variables" not in self.__dict__:
            raise RuntimeError(
                f"{type(self).__name__}: you forgot to call super().__init__() in the "
                "__init__() method"
            )

    def add_variable(
        self,
        shape: Any,
        initializer: Any,
        dtype: Any = None,
        aggregation: str = "sum",
        name: str | None = None,
    ) -> MetricVariable:
        """A state variable of this metric (non-trainable). `aggregation` says how replicas
        combine it: "sum" (the default, and what every built-in metric's state is) adds them."""
        self._check_super_called()
        owner = f"{type(self).__name__} '{self.name}'.add_variable()"
        shape = common.check_shape(() if shape is None else shape, "shape", owner)
        if None in shape:
            raise ValueError(f"{owner}: shape={shape} must be fully known")
        aggregation = "none" if aggregation is None else aggregation
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"{owner}: aggregation={aggregation!r} is not one of {AGGREGATIONS}")
        if isinstance(initializer, (str, dict)):
            initializer = initializers.get(initializer)
        dtype = "float32" if dtype is None else np.dtype(dtype).name
        name = name or "variable"
        variable = MetricVariable(
            shape, initializer, dtype, aggregation, name, f"{self.name}/{name}"
        )
        self._variables.append(variable)
        return variable

    def add_weight(
        self, shape: Any = (), initializer: Any = "zeros", dtype: Any = None, name: Any = None
    ) -> MetricVariable:
        """Keras's older spelling of add_variable."""
        return self.add_variable(shape=shape, initializer=initializer, dtype=dtype, name=name)

    @property
    def variables(self) -> list[MetricVariable]:
        """This metric's state variables, then those of the metrics it holds."""
        return list(self._variables) + [v for m in self._metrics for v in m.variables]

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        """Accumulates a batch into the state variables: usually `(y_true, y_pred,
        sample_weight=None)`. Override it."""
        raise NotImplementedError(f"{type(self).__name__} must implement update_state()")

    def result(self) -> Any:
        """The metric's value from its state so far. Override it."""
        raise NotImplementedError(f"{type(self).__name__} must implement result()")

    def reset_state(self) -> None:
        """Puts every state variable back to its initial value (fit does it each epoch)."""
        for variable in self.variables:
            variable.reset()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """update_state(...) then result(), as Keras."""
        self._check_super_called()
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, as a dict (Keras's config)."""
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        """A new metric made from `get_config()`'s dict."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"

    # -- what built-in metrics share --------------------------------------------------------
    def _state(self, name: str, shape: tuple = ()) -> MetricVariable:
        """A float64 zeros variable summed across replicas."""
        return self.add_variable(shape, initializers.Zeros(), STATE_DTYPE, "sum", name)

    def _out(self, value: Any) -> Any:
        """A result in this metric's dtype: a NumPy scalar, or an array."""
        return np.asarray(value, dtype=self.dtype)[()]

    def _where(self) -> str:
        return f"{type(self).__name__} '{self.name}'"


def same_rank(x1: np.ndarray, x2: np.ndarray, expand_rank_1: bool = True) -> tuple:
    """Keras's squeeze_or_expand_to_same_rank on arrays: when the ranks differ by one and the
    larger ends in 1, that axis is dropped (or, for a rank-1 partner, added to it)."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            return x1, x2[..., None]
        return x1[..., 0], x2
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            return x1[..., None], x2
        return x1, x2[..., 0]
    return x1, x2


def check_same_shape(owner: str, y_true: np.ndarray, y_pred: np.ndarray) -> tuple:
    """(y_true, y_pred) brought to the same rank as Keras does; ValueError naming `owner` when
    their shapes still differ (instead of broadcasting one against the other)."""
    t, p = same_rank(y_true, y_pred)
    if t.shape != p.shape:
        raise ValueError(
            f"{owner}: y_true of shape {y_true.shape} does not match y_pred of shape {y_pred.shape}"
        )
    return t, p


def check_sparse_shape(owner: str, y_true: np.ndarray, y_pred: np.ndarray, axis: int = -1) -> None:
    """Class-id targets: y_pred's shape without its class axis, or that with a trailing 1."""
    expected = y_pred.shape[: axis % y_pred.ndim] + y_pred.shape[axis % y_pred.ndim + 1 :]
    if y_true.shape not in (expected, expected + (1,)):
        raise ValueError(
            f"{owner}: y_true of shape {y_true.shape} does not fit y_pred of shape "
            f"{y_pred.shape}: give one class id per prediction (shape {expected} or "
            f"{expected + (1,)})"
        )


def nan_rows(y_pred: np.ndarray) -> np.ndarray:
    """Where a prediction row (the last axis) holds NaN: those samples' values become NaN."""
    if y_pred.dtype.kind != "f":
        return np.zeros(y_pred.shape[:-1], dtype=bool)
    return np.isnan(y_pred).any(axis=-1)


def apply_mask(sample_weight: Any, mask: Any) -> Any:
    """Keras's apply_mask for metrics (reduction "sum"): the output's mask (1 keep, 0 drop)
    multiplies the sample weights, or stands in for them."""
    if mask is None:
        return sample_weight
    mask = np.asarray(mask, dtype=np.float64)
    if sample_weight is None:
        return mask
    mask, sample_weight = same_rank(mask, np.asarray(sample_weight, dtype=np.float64))
    # one weight per sample meets a mask per time step: it reaches each of its steps
    extra = (1,) * max(mask.ndim - sample_weight.ndim, 0)
    return sample_weight.reshape(sample_weight.shape + extra) * mask
