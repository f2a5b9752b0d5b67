"""Learning-rate schedules: callables `(step) -> learning rate` that optimizers evaluate at
their iteration count before every step."""

from __future__ import annotations

import math
from typing import Any

from graphengine import common


class LearningRateSchedule:
    """Callable `(step) -> learning rate`; optimizers evaluate it at `iterations` every step."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError(f"{type(self).__name__} must override __call__(self, step)")

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} must override get_config()")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        return cls(**config)


class ExponentialDecay(LearningRateSchedule):
    """lr = initial_learning_rate * decay_rate ^ (step / decay_steps), the exponent floored
    when `staircase`."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str = "ExponentialDecay",
    ) -> None:
        if decay_steps <= 0:
            raise ValueError(f"ExponentialDecay needs decay_steps > 0, got {decay_steps=}")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return float(self.initial_learning_rate * self.decay_rate**p)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict[str, Any]) -> LearningRateSchedule:
    name = config["class_name"]
    cls = _SCHEDULES[name] if name in _SCHEDULES else common.registered(name)
    return cls.from_config(config.get("config", {}))


_SCHEDULES = {"ExponentialDecay": ExponentialDecay}
