"""Optimizers with Keras 3 update rules (SGD, Adam, AdamW, RMSprop, Adagrad, Nadam, Adamax,
Adadelta, Lion), learning-rate schedules, and `get`. Slots are arrays made in `build`; the
arithmetic of each step runs in one kernel per optimizer, `<optimizer>_update` of the kernel
module passed to `apply`."""

from __future__ import annotations

import functools
import inspect
import math
import re
from types import ModuleType
from typing import Any, Sequence

import numpy as np

import graphengine_kernels.cpu as cpu_kernels
from graphengine import common, schedules
from graphengine.schedules import LearningRateSchedule

# -- the base class --------------------------------------------------------------------------


class _Default(float):
    """A default learning rate that remembers it was not passed, so the legacy alias can tell
    `SGD(lr=0.1)` (fine) from `SGD(learning_rate=0.1, lr=0.1)` (TypeError)."""


_LR_0_01, _LR_0_001 = _Default(0.01), _Default(0.001)
_LEGACY_KWARGS = ("lr", "decay")


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def _optional_float(owner: str, name: str, value: Any) -> float | None:
    if value is None:
        return None
    if not _is_number(value):
        raise TypeError(f"{owner} expects {name} to be a number or None, got {value!r}")
    return float(value)


def _check_between(
    owner: str,
    name: str,
    value: Any,
    low: float,
    high: float,
    *,
    open_low: bool = False,
    open_high: bool = False,
) -> float:
    """`value` as a float, or ValueError naming `name` and the interval it must lie in."""
    if _is_number(value):
        above = value > low if open_low else value >= low
        below = value < high if open_high else value <= high
        if above and below:
            return float(value)
    interval = f"{'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
    raise ValueError(f"{owner} expects {name} to be a float in {interval}, got {name}={value!r}")


@functools.cache
def _valid_kwargs(cls: type) -> frozenset[str]:
    names = set(_LEGACY_KWARGS)
    for klass in cls.__mro__:
        if "__init__" in vars(klass) and klass is not object:
            params = inspect.signature(vars(klass)["__init__"]).parameters.values()
            names.update(p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD)
    names.discard("self")
    return frozenset(names)


class Optimizer:
    """Base class: learning rate, clipping, weight decay and the step loop. Subclasses add
    their slots in `_build_slots`, call their kernel in `_update_variable`, and name their
    hyperparameters in `_config_keys`."""

    _config_keys: tuple[str, ...] = ()

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        owner = type(self).__name__
        common.check_kwargs(owner, kwargs, _valid_kwargs(type(self)))
        if "lr" in kwargs:
            if not isinstance(learning_rate, _Default):
                raise TypeError(
                    f"{owner} got both learning_rate={learning_rate!r} and its legacy alias "
                    f"lr={kwargs['lr']!r}; pass only learning_rate"
                )
            learning_rate = kwargs["lr"]
        decay = kwargs.get("decay", 0.0)
        if not _is_number(decay):
            raise TypeError(f"{owner} expects the legacy decay to be a number, got {decay=}")
        if decay < 0:
            raise ValueError(f"{owner} expects the legacy decay to be >= 0, got {decay=}")
        clips = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        given = [k for k, v in clips.items() if v is not None]
        if len(given) > 1:
            raise ValueError(
                f"{owner}: only one of clipnorm, clipvalue and global_clipnorm can "
                f"be set (as in Keras 3), got {' and '.join(given)}"
            )
        self.name = name or common.unique_name(common.snake_case(owner))
        self._learning_rate: float | LearningRateSchedule = 0.0
        self.learning_rate = learning_rate
        self.decay = float(decay)
        self.weight_decay = _optional_float(owner, "weight_decay", weight_decay)
        self.clipnorm = _optional_float(owner, "clipnorm", clipnorm)
        self.clipvalue = _optional_float(owner, "clipvalue", clipvalue)
        self.global_clipnorm = _optional_float(owner, "global_clipnorm", global_clipnorm)
        self.iterations = 0
        self.built = False
        self._exclude_ids: set[int] = set()
        self._exclude_pattern: re.Pattern[str] | None = None

    # -- learning rate -------------------------------------------------------------------------
    @property
    def learning_rate(self) -> float:
        """The learning rate now: the float, or the schedule evaluated at `iterations`."""
        if isinstance(self._learning_rate, LearningRateSchedule):
            return float(self._learning_rate(self.iterations))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float | LearningRateSchedule) -> None:
        if isinstance(value, LearningRateSchedule):
            self._learning_rate = value
        elif not _is_number(value):
            raise TypeError(
                f"{type(self).__name__} expects learning_rate to be a number or a "
                f"LearningRateSchedule, got {value!r}"
            )
        elif not value >= 0:
            raise ValueError(
                f"{type(self).__name__} expects learning_rate to be >= 0, "
                f"got learning_rate={value!r}"
            )
        elif isinstance(self._learning_rate, LearningRateSchedule):
            raise TypeError(
                f"{type(self).__name__} was given a LearningRateSchedule, so its learning rate "
                "cannot be set to a number; create it with a float learning_rate instead"
            )
        else:
            self._learning_rate = float(value)

    def _step_learning_rate(self) -> float:
        """This step's rate, with the legacy time decay lr / (1 + decay * iterations)."""
        lr = self.learning_rate
        return lr / (1.0 + self.decay * self.iterations) if self.decay else lr

    # -- state ----------------------------------------------------------------------------------
    def exclude_from_weight_decay(
        self, var_list: Sequence[Any] | None = None, var_names: Sequence[str] | None = None
    ) -> None:
        """Before `build`: no weight decay for these variables, or for names containing any of
        `var_names`."""
        if self.built:
            raise ValueError(f"{self.name}: exclude_from_weight_decay must come before build")
        self._exclude_ids = {id(v) for v in var_list or ()}
        self._exclude_pattern = (
            re.compile("|".join(map(re.escape, var_names))) if var_names else None
        )

    def _decays(self, variable: Any) -> bool:
        if id(variable) in self._exclude_ids:
            return False
        name = getattr(variable, "name", "")
        return not (self._exclude_pattern and self._exclude_pattern.search(str(name)))

    def build(self, variables: Sequence[Any], device: Any = None) -> None:
        """Creates the slots of `variables` (graphengine Variables or C-contiguous float arrays),
        in Keras's order; does nothing when already built (as Keras). With a `device` that keeps
        weights in its own memory (cuda), the updates go to the Variables' device mirrors and the
        slots live there too; a built optimizer given another device moves its slots over."""
        if self.built:
            if device is not None and device.name != self._device.name:
                self._move_to(device)
            return
        device = device if device is not None else _host()
        self._device = device
        self._built_with = list(variables)  # keeps the ids in _index alive
        self._index = {id(v): i for i, v in enumerate(variables)}
        arrays = self._arrays_on(device)
        self._shapes = [tuple(a.shape) for a in arrays]
        self._names = [
            str(getattr(v, "path", None) or f"variable_{i}") for i, v in enumerate(variables)
        ]
        self._empty = [device.empty((0,), a.dtype) for a in arrays]
        self._use_decay = [self._decays(v) for v in variables]
        self._grads: list[Any] = [None] * len(arrays)  # reused every step
        self._slots: list[Any] = []
        self._slot_names: list[str] = []
        self._scalars: list[np.ndarray] = []
        self._scalar_names: list[str] = []
        self.built = True
        self._build_slots()

    def _arrays_on(self, device: Any) -> list[Any]:
        """The arrays updated in place on `device` (flat views kept in self._weights)."""
        owner = type(self).__name__
        arrays = [_value_of(v, i, owner) for i, v in enumerate(self._built_with)]
        if device.resident:
            arrays = [
                v.on_device(device) if hasattr(v, "on_device") else device.to_device(a)
                for v, a in zip(self._built_with, arrays)
            ]
        self._weights = [a.reshape(-1) for a in arrays]
        return arrays

    def _move_to(self, device: Any) -> None:
        """Rebuilds on `device` with the same iterations and slot values."""
        saved = [np.array(v) for v in self.variables]
        self.built = False
        self.build(self._built_with, device)
        self.set_weights(saved)

    def _build_slots(self) -> None:
        """Subclasses: create their slots with `_add_slots`."""

    def _add_slots(self, names: Sequence[str], initial: float = 0.0) -> list[list[np.ndarray]]:
        """One flat slot per variable and name, registered interleaved per variable (the order
        of Keras's `add_optimizer_variables`); returns one list per name."""
        groups: list[list[np.ndarray]] = [[] for _ in names]
        for w, shape, var_name in zip(self._weights, self._shapes, self._names):
            for group, name in zip(groups, names):
                slot = self._device.full((w.size,), initial, w.dtype)
                group.append(slot)
                self._slots.append(slot.reshape(shape))
                self._slot_names.append(f"{var_name.replace('/', '_')}_{name}")
        return groups

    def _add_scalar(self, name: str, initial: float) -> np.ndarray:
        """A 0-d host variable after the slots (Nadam's momentum product), in the first weight's
        dtype as Keras makes it; the kernels get its value as a scalar."""
        dtype = self._weights[0].dtype if self._weights else np.dtype("float32")
        scalar = np.array(initial, dtype)
        self._scalars.append(scalar)
        self._scalar_names.append(name)
        return scalar

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise ValueError(f"{self.name} is not built; call build(variables) before {what}")

    @property
    def variables(self) -> list[np.ndarray]:
        """[iterations (0-d int64), *slots, *scalars], slots in Keras's order, live views (for
        saving)."""
        self._require_built("reading its variables")
        slots = (
            [self._device.to_host(s) for s in self._slots]
            if self._device.resident
            else (self._slots)
        )
        return [np.array(self.iterations, dtype=np.int64), *slots, *self._scalars]

    @property
    def variable_names(self) -> list[str]:
        """The names of `variables`, in order: "iteration", then the slots, then any scalars."""
        self._require_built("reading its variables")
        return ["iteration", *self._slot_names, *self._scalar_names]

    def get_weights(self) -> list[np.ndarray]:
        """The optimizer's variables as arrays (copies), in `variables` order."""
        return [np.array(v) for v in self.variables]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Restores `iterations` and the slots from arrays ordered as `variables`."""
        current = self.variables
        if len(weights) != len(current):
            raise ValueError(
                f"{self.name} has {len(current)} variables, got {len(weights)} weights"
            )
        for name, old, new in zip(self.variable_names, current, weights):
            new = np.asarray(new)
            if new.shape != old.shape:
                raise ValueError(
                    f"{self.name} variable '{name}' has shape {old.shape}, got {new.shape}"
                )
        self.iterations = int(weights[0])
        n = len(self._slots)
        for slot, new in zip(self._slots, weights[1 : 1 + n]):
            self._device.copy_in(slot, new)
        for scalar, new in zip(self._scalars, weights[1 + n :]):
            scalar[...] = new

    # -- the step -------------------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars: Sequence[tuple[Any, Any]]) -> None:
        """`apply(grads, variables)` for a list of (gradient, variable) pairs, as Keras."""
        grads, variables = zip(*grads_and_vars)
        self.apply(grads, variables)

    def apply(
        self,
        grads: Sequence[Any],
        variables: Sequence[Any] | None = None,
        *,
        kernels: ModuleType | None = None,
    ) -> None:
        """One step in place on the variables' arrays: clip (value, then per-variable or global
        norm), weight decay, the update, then iterations += 1. `grads` are scratch owned by the
        caller: clipping writes into them. A None gradient leaves its variable untouched."""
        if variables is None:
            self._require_built("apply(grads) without variables")
            variables = self._built_with
        self.build(variables)
        self._gather_grads(grads, variables)
        k = kernels or cpu_kernels
        self._clip(k)
        lr = self._step_learning_rate()
        self._begin_step(lr)
        wd_lr = 0.0 if self.weight_decay is None else self.weight_decay * lr
        for i, g in enumerate(self._grads):
            if g is not None:
                self._update_variable(k, i, g, lr, wd_lr if self._use_decay[i] else 0.0)
        self.iterations += 1

    def _gather_grads(self, grads: Sequence[Any], variables: Sequence[Any]) -> None:
        """Flat views of the gradients into self._grads, by built index (None where absent)."""
        if len(grads) != len(variables):
            raise ValueError(
                f"{self.name}.apply got {len(grads)} gradients for {len(variables)} variables"
            )
        views = self._grads
        for i in range(len(views)):
            views[i] = None
        found = False
        for j, (g, v) in enumerate(zip(grads, variables)):
            i = self._index.get(id(v))
            if i is None:
                raise ValueError(
                    f"{self.name} was built for other variables and cannot update {v!r}; "
                    "create a new optimizer for new variables"
                )
            if g is None:
                continue
            if g.size != self._weights[i].size:
                raise ValueError(
                    f"{self.name}.apply: gradient {j} has shape {tuple(g.shape)}, but variable "
                    f"'{self._names[i]}' has shape {self._shapes[i]}"
                )
            views[i] = g.reshape(-1)
            found = True
        if not found:
            raise ValueError(f"{self.name}.apply: no gradients provided for any variable")

    def _clip(self, k: ModuleType) -> None:
        """The one clipping set (by value, by norm, or by global norm); a zero threshold means
        no clipping, as in Keras."""
        if (self.clipvalue or 0.0) > 0.0:
            for g in self._grads:
                if g is not None:
                    k.clip_gradient_by_value(g, self.clipvalue)
        elif (self.clipnorm or 0.0) > 0.0:
            c = self.clipnorm
            for g in self._grads:
                if g is not None:
                    # g * c / max(norm, c); a NaN norm makes max() NaN and so the gradient NaN
                    factor = c / max(math.sqrt(k.gradient_sum_of_squares(g)), c)
                    if factor != 1.0:
                        k.scale_gradient(g, factor)
        elif (self.global_clipnorm or 0.0) > 0.0:
            self._clip_global_norm(k, self.global_clipnorm)

    def _clip_global_norm(self, k: ModuleType, c: float) -> None:
        total = 0.0
        for g in self._grads:
            if g is not None:
                total += k.gradient_sum_of_squares(g)
        norm = math.sqrt(total)
        if not math.isfinite(norm):
            factor = math.nan  # an inf or NaN gradient poisons every gradient, as in Keras
        elif norm > c:
            factor = c / norm
        else:
            return
        for g in self._grads:
            if g is not None:
                k.scale_gradient(g, factor)

    def _begin_step(self, lr: float) -> None:
        """Subclasses: per-step scalars (Adam's alpha), computed once for all variables."""

    def _update_variable(self, k: ModuleType, i: int, g: Any, lr: float, decay: float) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _update_variable")

    # -- serialization -------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, as a dict (a schedule as its serialized dict)."""
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr = schedules.serialize(lr)
        return {
            "name": self.name,
            "learning_rate": lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "decay": self.decay,
            **{key: getattr(self, key) for key in self._config_keys},
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        """A new optimizer (no state) made from `get_config()`'s dict."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)


def _host() -> Any:
    from graphengine.runtime.devices import get_device

    return get_device("cpu")


def _value_of(variable: Any, index: int, owner: str) -> Any:
    """The array an optimizer updates: a Variable's `.value`, or the array itself."""
    value = variable if isinstance(variable, np.ndarray) else getattr(variable, "value", None)
    if value is None:
        raise TypeError(f"{owner}: variable {index} is {variable!r}, not a Variable or an array")
    if isinstance(value, np.ndarray):
        if not np.issubdtype(value.dtype, np.floating):
            raise TypeError(f"{owner}: variable {index} has dtype {value.dtype}, not a float")
        if not (value.flags.c_contiguous and value.flags.writeable):
            raise ValueError(f"{owner}: variable {index} must be a C-contiguous writeable array")
    return value


# -- the optimizers --------------------------------------------------------------------------


class SGD(Optimizer):
    """Gradient descent, with optional momentum and Nesterov momentum."""

    _config_keys = ("momentum", "nesterov")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = _LR_0_01,
        momentum: float = 0.0,
        nesterov: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, **kwargs)
        self.momentum = _check_between("SGD", "momentum", momentum, 0.0, 1.0)
        self.nesterov = bool(nesterov)

    def _build_slots(self) -> None:
        self._momentums = self._add_slots(["momentum"])[0] if self.momentum != 0 else self._empty

    def _update_variable(self, k: ModuleType, i: int, g: Any, lr: float, decay: float) -> None:
        k.sgd_update(
            self._weights[i], g, self._momentums[i], lr, self.momentum, self.nesterov, decay
        )


class _Moments(Optimizer):
    """What the Adam family (Adam, Nadam, Adamax) is given: the moments' decay rates beta_1
    and beta_2 in [0, 1) and epsilon >= 0."""

    _config_keys: tuple[str, ...] = ("beta_1", "beta_2", "epsilon")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = _LR_0_001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = _betas_and_epsilon(
            type(self).__name__, beta_1, beta_2, epsilon
        )


class Adam(_Moments):
    """Adam (Kingma & Ba, 2014), optionally AMSGrad (Reddi et al., 2018)."""

    _config_keys = ("beta_1", "beta_2", "epsilon", "amsgrad")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = _LR_0_001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)
        self.amsgrad = bool(amsgrad)

    def _build_slots(self) -> None:
        self._m, self._v = self._add_slots(["momentum", "velocity"])
        self._v_hat = self._add_slots(["velocity_hat"])[0] if self.amsgrad else self._empty

    def _begin_step(self, lr: float) -> None:
        t = self.iterations + 1
        self._alpha = lr * math.sqrt(1.0 - self.beta_2**t) / (1.0 - self.beta_1**t)

    def _update_variable(self, k: ModuleType, i: int, g: Any, lr: float, decay: float) -> None:
        k.adam_update(
            self._weights[i], g, self._m[i], self._v[i], self._v_hat[i], self._alpha,
            self.beta_1, self.beta_2, self.epsilon, self.amsgrad, decay,
        )  # fmt: skip


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): Keras 3's Adam with a
    required `weight_decay`, applied as w -= w * weight_decay * lr before each update."""

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = _LR_0_001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        **kwargs: Any,
    ) -> None:
        if weight_decay is None:
            raise ValueError("AdamW expects weight_decay to be a float, got weight_decay=None")
        super().__init__(
            learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay=weight_decay, **kwargs
        )


class RMSprop(Optimizer):
    """RMSprop (Hinton, 2012), optionally centered (Graves, 2013) and with momentum."""

    _config_keys = ("rho", "momentum", "epsilon", "centered")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = _LR_0_001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, **kwargs)
        self.rho, self.momentum = float(rho), float(momentum)
        self.epsilon = float(epsilon)
        self.centered = bool(centered)

    def _build_slots(self) -> None:
        self._velocities = self._add_slots(["velocity"])[0]
        self._momentums = self._add_slots(["momentum"])[0] if self.momentum > 0 else self._empty
        self._average_grads = (
            self._add_slots(["average_gradient"])[0] if self.centered else self._empty
        )

    def _update_variable(self, k: ModuleType, i: int, g: Any, lr: float, decay: float) -> None:
        k.rmsprop_update(
            self._weights[i], g, self._velocities[i], self._momentums[i], self._average_grads[i],
            lr, self.rho, self.momentum, self.epsilon, self.centered, decay,
        )  # fmt: skip


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011); the accumulators start at `initial_accumulator_value`."""

    _config_keys = ("initial_accumulator_value", "epsilon")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = _LR_0_001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def _build_slots(self) -> None:
        self._accumulators = self._add_slots(["accumulator"], self.initial_accumulator_value)[0]

    def _update_variable(self, k: ModuleType, i: int, g: Any, lr: float, decay: float) -> None:
        k.adagrad_update(self._weights[i], g, self._accumulators[i], lr, self.epsilon, decay)


class Nadam(_Moments):
    """Nadam (Dozat, 2015): Adam with Nesterov momentum, on the momentum schedule
    u_t = beta_1 * (1 - 0.5 * 0.96^t) whose running product u_1...u_t is kept, as in Keras,
    in a variable of its own (`u_product`, after the slots)."""

    def _build_slots(self) -> None:
        self._m, self._v = self._add_slots(["momentum", "velocity"])
        self._u_product = self._add_scalar("u_product", 1.0)

    def _begin_step(self, lr: float) -> None:
        t = self.iterations + 1
        u_t = self.beta_1 * (1.0 - 0.5 * 0.96**t)
        u_next = self.beta_1 * (1.0 - 0.5 * 0.96 ** (t + 1))
        self._u_product[...] = float(self._u_product) * u_t  # rounded to its dtype, as Keras
        u_product = float(self._u_product)
        self._m_rate = lr * u_next / (1.0 - u_product * u_next)
        self._g_rate = lr * (1.0 - u_t) / (1.0 - u_product)
        self._v_correction = 1.0 - self.beta_2**t

    def _update_variable(self, k: ModuleType, i: int, g: Any, lr: float, decay: float) -> None:
        k.nadam_update(
            self._weights[i], g, self._m[i], self._v[i], self._m_rate, self._g_rate,
            self._v_correction, self.beta_1, self.beta_2, self.epsilon, decay,
        )  # fmt: skip


class Adamax(_Moments):
    """Adamax (Kingma & Ba, 2014, section 7.1): Adam with the infinity norm in place of the
    second moment."""

    def _build_slots(self) -> None:
        self._m, self._u = self._add_slots(["momentum", "norm"])

    def _begin_step(self, lr: float) -> None:
        self._rate = lr / (1.0 - self.beta_1 ** (self.iterations + 1))

    def _update_variable(self, k: ModuleType, i: int, g: Any, lr: float, decay: float) -> None:
        k.adamax_update(
            self._weights[i], g, self._m[i], self._u[i], self._rate, self.beta_1, self.beta_2,
            self.epsilon, decay,
        )  # fmt: skip


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012) with Keras's learning rate; learning_rate=1.0 is the paper's."""

    _config_keys = ("rho", "epsilon")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = _LR_0_001,
        rho: float = 0.95,
        epsilon: float = 1e-7,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, **kwargs)
        self.rho = _check_between(type(self).__name__, "rho", rho, 0.0, 1.0)
        self.epsilon = _check_between(type(self).__name__, "epsilon", epsilon, 0.0, math.inf)

    def _build_slots(self) -> None:
        self._grads_sq, self._deltas_sq = self._add_slots(
            ["accumulated_grad", "accumulated_delta_var"]
        )

    def _update_variable(self, k: ModuleType, i: int, g: Any, lr: float, decay: float) -> None:
        k.adadelta_update(
            self._weights[i], g, self._grads_sq[i], self._deltas_sq[i], lr, self.rho,
            self.epsilon, decay,
        )  # fmt: skip


class Lion(Optimizer):
    """Lion (Chen et al., 2023): steps of size lr in the sign of an interpolated momentum."""

    _config_keys = ("beta_1", "beta_2")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = _LR_0_001,
        beta_1: float = 0.9,
        beta_2: float = 0.99,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, **kwargs)
        # beta_1 = 0 would be SignSGD, which Keras refuses too
        self.beta_1 = _check_between(type(self).__name__, "beta_1", beta_1, 0.0, 1.0, open_low=True)
        self.beta_2 = _check_between(type(self).__name__, "beta_2", beta_2, 0.0, 1.0)

    def _build_slots(self) -> None:
        self._m = self._add_slots(["momentum"])[0]

    def _update_variable(self, k: ModuleType, i: int, g: Any, lr: float, decay: float) -> None:
        k.lion_update(self._weights[i], g, self._m[i], lr, self.beta_1, self.beta_2, decay)


def _betas_and_epsilon(
    owner: str, beta_1: Any, beta_2: Any, epsilon: Any
) -> tuple[float, float, float]:
    """Adam-family hyperparameters, checked: betas in [0, 1) (1 would divide by 1 - beta^t = 0
    in the bias corrections), epsilon >= 0."""
    return (
        _check_between(owner, "beta_1", beta_1, 0.0, 1.0, open_high=True),
        _check_between(owner, "beta_2", beta_2, 0.0, 1.0, open_high=True),
        _check_between(owner, "epsilon", epsilon, 0.0, math.inf),
    )


# -- lookup ----------------------------------------------------------------------------------

ALL = {
    "adadelta": Adadelta,
    "adagrad": Adagrad,
    "adam": Adam,
    "adamax": Adamax,
    "adamw": AdamW,
    "lion": Lion,
    "nadam": Nadam,
    "rmsprop": RMSprop,
    "sgd": SGD,
}


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """{"class_name", "config"}; a registered optimizer of one's own under its registered name."""
    name = common.registered_name(type(optimizer)) or type(optimizer).__name__
    return {"class_name": name, "config": optimizer.get_config()}


def deserialize(config: dict[str, Any]) -> Optimizer:
    """An optimizer from {"class_name", "config"}: a built-in name (any case) or a class
    registered with ge.utils.register_serializable."""
    name = config["class_name"]
    if name.lower() in ALL:
        cls = ALL[name.lower()]
    else:
        try:
            cls = common.registered(name)
        except ValueError:
            cls = common.lookup("optimizer", name, ALL)  # raises, listing the valid names
    return cls.from_config(config.get("config", {}))


def get(identifier: Any) -> Optimizer | None:
    """An optimizer from a name ("adam", any case), a config dict, or an instance (returned)."""
    if identifier is None or isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return common.lookup("optimizer", identifier, ALL)()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise TypeError(
        f"Could not interpret optimizer {identifier!r}: pass a name "
        f"({', '.join(sorted(ALL))}), a config dict or an Optimizer"
    )
