"""Learning-rate schedules: callables `(step) -> learning rate` that optimizers evaluate at
their iteration count before every step. Keras 3's schedules, names, arguments and defaults;
the arithmetic is in float64."""

from __future__ import annotations

import bisect
import inspect
import math
import numbers
from typing import Any, Sequence

from graphengine import common


class LearningRateSchedule:
    """Callable `(step) -> learning rate`; optimizers evaluate it at `iterations` every step."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError(f"{type(self).__name__} must override __call__(self, step)")

    def get_config(self) -> dict[str, Any]:
        """Each `__init__` argument, read back from the attribute of its name (as every
        built-in schedule keeps them); a schedule keeping its arguments otherwise overrides it."""
        names = [n for n in inspect.signature(type(self).__init__).parameters if n != "self"]
        missing = [n for n in names if not hasattr(self, n)]
        if missing:
            raise NotImplementedError(
                f"{type(self).__name__} must override get_config() (no attribute {missing[0]!r} "
                "holds that __init__ argument)"
            )
        return {n: getattr(self, n) for n in names}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        """A schedule made from `get_config()`'s dict."""
        return cls(**config)


def _number(owner: str, name: str, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner} needs {name} to be a number, got {name}={value!r}")
    return value


def _positive(owner: str, name: str, value: Any) -> Any:
    """`value` when it is a number > 0 (Keras's check on steps), else an error naming it."""
    if not _number(owner, name, value) > 0:
        raise ValueError(f"{owner} needs {name} > 0, got {name}={value!r}")
    return value


def _not_negative(owner: str, name: str, value: Any) -> Any:
    if not _number(owner, name, value) >= 0:
        raise ValueError(f"{owner} needs {name} >= 0, got {name}={value!r}")
    return value


class _TimeDecay(LearningRateSchedule):
    """What ExponentialDecay and InverseTimeDecay are given: a rate decaying with
    step / decay_steps (floored when `staircase`), named after the class by default."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str | None = None,
    ) -> None:
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = _positive(type(self).__name__, "decay_steps", decay_steps)
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name or type(self).__name__

    def _progress(self, step: int) -> float:
        p = step / self.decay_steps
        return math.floor(p) if self.staircase else p


class ExponentialDecay(_TimeDecay):
    """lr = initial_learning_rate * decay_rate ^ (step / decay_steps), the exponent floored
    when `staircase`."""

    def __call__(self, step: int) -> float:
        return float(self.initial_learning_rate * self.decay_rate ** self._progress(step))


class InverseTimeDecay(_TimeDecay):
    """lr = initial_learning_rate / (1 + decay_rate * step / decay_steps), the quotient
    floored when `staircase`."""

    def __call__(self, step: int) -> float:
        return float(self.initial_learning_rate / (1.0 + self.decay_rate * self._progress(step)))


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[0] up to and including step boundaries[0], values[i] for boundaries[i-1] < step <=
    boundaries[i], values[-1] after boundaries[-1]."""

    def __init__(
        self, boundaries: Sequence[float], values: Sequence[float], name: str = "PiecewiseConstant"
    ) -> None:
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "PiecewiseConstantDecay needs len(values) == len(boundaries) + 1, got "
                f"boundaries={boundaries!r} of length {len(boundaries)} and values={values!r} "
                f"of length {len(values)}"
            )
        if any(b > c for b, c in zip(boundaries, boundaries[1:])):
            # Keras would add up the values of overlapping ranges
            raise ValueError(
                f"PiecewiseConstantDecay needs increasing boundaries, got {boundaries=}"
            )
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step: int) -> float:
        return float(self.values[bisect.bisect_left(self.boundaries, step)])


class PolynomialDecay(LearningRateSchedule):
    """lr = (initial - end) * (1 - step / decay_steps) ^ power + end, with step capped at
    decay_steps; with `cycle`, decay_steps grows to the first multiple of itself >= step
    (decay_steps itself at step 0)."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        end_learning_rate: float = 0.0001,
        power: float = 1.0,
        cycle: bool = False,
        name: str = "PolynomialDecay",
    ) -> None:
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = _positive("PolynomialDecay", "decay_steps", decay_steps)
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step: int) -> float:
        decay_steps = float(self.decay_steps)
        if self.cycle:
            decay_steps *= math.ceil(step / decay_steps) if step != 0 else 1.0
        else:
            step = min(step, decay_steps)
        p = step / decay_steps
        end = self.end_learning_rate
        return float((self.initial_learning_rate - end) * (1.0 - p) ** self.power + end)


def _cosine(fraction: float, alpha: float, scale: float = 1.0) -> float:
    """(1 - alpha) * scale * (1 + cos(pi * fraction)) / 2 + alpha: scale (1 - alpha) + alpha at
    fraction 0, alpha at 1."""
    return (1.0 - alpha) * scale * 0.5 * (1.0 + math.cos(math.pi * fraction)) + alpha


class CosineDecay(LearningRateSchedule):
    """Cosine decay (Loshchilov & Hutter, 2016) from initial_learning_rate to
    alpha * initial_learning_rate over decay_steps, constant after. With `warmup_target`, a
    linear warmup from initial_learning_rate to warmup_target over warmup_steps comes first
    and the cosine decays from warmup_target."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        alpha: float = 0.0,
        name: str = "CosineDecay",
        warmup_target: float | None = None,
        warmup_steps: int = 0,
    ) -> None:
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = _positive("CosineDecay", "decay_steps", decay_steps)
        self.alpha = alpha
        self.name = name
        self.warmup_steps = _not_negative("CosineDecay", "warmup_steps", warmup_steps)
        self.warmup_target = warmup_target

    def __call__(self, step: int) -> float:
        initial, decay_steps = self.initial_learning_rate, self.decay_steps
        if self.warmup_target is None:
            return float(initial * _cosine(min(step, decay_steps) / decay_steps, self.alpha))
        warmup_steps, target = self.warmup_steps, self.warmup_target
        step = min(step, decay_steps + warmup_steps)
        if step < warmup_steps:
            return float((target - initial) * (step / warmup_steps) + initial)
        return float(target * _cosine((step - warmup_steps) / decay_steps, self.alpha))


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter, 2016): the i-th period lasts
    first_decay_steps * t_mul^i steps and starts from initial_learning_rate * m_mul^i."""

    def __init__(
        self,
        initial_learning_rate: float,
        first_decay_steps: int,
        t_mul: float = 2.0,
        m_mul: float = 1.0,
        alpha: float = 0.0,
        name: str = "SGDRDecay",
    ) -> None:
        owner = "CosineDecayRestarts"
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = _positive(owner, "first_decay_steps", first_decay_steps)
        self.t_mul = _positive(owner, "t_mul", t_mul)
        self.m_mul = _not_negative(owner, "m_mul", m_mul)
        self.alpha = alpha
        self.name = name

    def _period(self, step: int) -> tuple[int, float]:
        """(i, fraction of period i completed at `step`)."""
        done, t = step / self.first_decay_steps, self.t_mul
        if t == 1.0:
            i = math.floor(done)
            return i, done - i
        x = 1.0 - done * (1.0 - t)
        if x <= 0.0:  # t_mul < 1: all the (ever shorter) periods together last 1 / (1 - t_mul)
            raise ValueError(
                f"CosineDecayRestarts with t_mul={t} < 1 has no period left at {step=}: its "
                f"periods add up to {self.first_decay_steps / (1.0 - t):g} steps"
            )
        i = math.floor(math.log(x) / math.log(t))
        # the logarithms can land a hair off an integer at a restart: step into the period
        # whose start <= done < end
        while i > 0 and (1.0 - t**i) / (1.0 - t) > done:
            i -= 1
        while (1.0 - t ** (i + 1)) / (1.0 - t) <= done:
            i += 1
        return i, (done - (1.0 - t**i) / (1.0 - t)) / t**i

    def __call__(self, step: int) -> float:
        i, fraction = self._period(step)
        return float(self.initial_learning_rate * _cosine(fraction, self.alpha, self.m_mul**i))


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """{"class_name", "config"}; a registered schedule of one's own under its registered name."""
    name = common.registered_name(type(schedule)) or type(schedule).__name__
    return {"class_name": name, "config": schedule.get_config()}


def deserialize(config: dict[str, Any]) -> LearningRateSchedule:
    """The schedule a `serialize` dict describes (a built-in or a registered class)."""
    name = config["class_name"]
    cls = _SCHEDULES[name] if name in _SCHEDULES else common.registered(name)
    return cls.from_config(config.get("config", {}))


_SCHEDULES = {
    cls.__name__: cls
    for cls in (
        CosineDecay,
        CosineDecayRestarts,
        ExponentialDecay,
        InverseTimeDecay,
        PiecewiseConstantDecay,
        PolynomialDecay,
    )
}
