"""Learning-rate schedules against Keras 3 (tests/keras_reference/optimizers2.*, floatx float64
and float32) at boundaries, warmup ends, cycles and restarts; their configs, argument errors,
and optimizers stepping at the scheduled rates."""

import json
import math
import os

import numpy as np
import pytest

import graphengine as ge
from graphengine import schedules
from graphengine.training.optimizers import SGD

REF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_reference")
with open(os.path.join(REF, "optimizers2.json")) as f:
    KERAS_CASES = json.load(f)["schedules"]
NAMES = [
    "CosineDecay",
    "CosineDecayRestarts",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
]


@pytest.fixture(scope="module")
def keras_values():
    with np.load(os.path.join(REF, "optimizers2.npz"), allow_pickle=False) as data:
        return {k: data[k] for k in data.files if k.startswith("schedule/")}


@pytest.mark.parametrize("case", KERAS_CASES, ids=lambda c: c["id"])
def test_matches_keras(case, keras_values):
    """float64 to the last bits; float32 (Keras's default) to float32 rounding, with an absolute
    floor where a cosine near -1 cancels in float32."""
    schedule = schedules.deserialize({"class_name": case["class_name"], "config": case["config"]})
    key = f"schedule/{case['id']}"
    got = np.array([schedule(int(step)) for step in keras_values[f"{key}/steps"]])
    np.testing.assert_allclose(got, keras_values[f"{key}/float64"], rtol=1e-14, atol=0)
    f32 = keras_values[f"{key}/float32"]
    atol = 1e-7 * np.max(np.abs(f32))
    np.testing.assert_allclose(got, f32, rtol=1e-6, atol=atol)


def test_reachable_as_in_keras():
    for name in NAMES:
        assert getattr(ge.optimizers.schedules, name) is getattr(schedules, name)


CONFIGURED = [
    schedules.InverseTimeDecay(0.1, 3, 0.5, staircase=True, name="inv"),
    schedules.PiecewiseConstantDecay([3, 7], [1.0, 0.5, 0.1]),
    schedules.PolynomialDecay(0.1, 4, end_learning_rate=0.02, power=0.5, cycle=True),
    schedules.CosineDecay(0.0, 6, alpha=0.1, warmup_target=0.5, warmup_steps=4),
    schedules.CosineDecayRestarts(0.1, 3, t_mul=1.5, m_mul=0.7, alpha=0.05),
]


@pytest.mark.parametrize("schedule", CONFIGURED, ids=lambda s: type(s).__name__)
def test_config_round_trip(schedule):
    config = json.loads(json.dumps(schedules.serialize(schedule)))
    clone = schedules.deserialize(config)
    assert type(clone) is type(schedule) and clone.get_config() == schedule.get_config()
    assert [clone(t) for t in range(20)] == [schedule(t) for t in range(20)]
    optimizer = SGD(learning_rate=schedule)
    restored = SGD.from_config(json.loads(json.dumps(optimizer.get_config())))
    assert restored.get_config() == optimizer.get_config()


def test_a_registered_schedule_of_ones_own_round_trips():
    @ge.saving.register_keras_serializable(package="test_schedules")
    class HalfEvery(schedules.LearningRateSchedule):
        def __init__(self, start: float, every: int) -> None:
            self.start, self.every = start, every

        def __call__(self, step: int) -> float:
            return self.start * 0.5 ** (step // self.every)

        def get_config(self) -> dict:
            return {"start": self.start, "every": self.every}

    optimizer = SGD(learning_rate=HalfEvery(0.4, 3))
    config = json.loads(json.dumps(ge.optimizers.serialize(optimizer)))
    assert config["config"]["learning_rate"]["class_name"] == "test_schedules>HalfEvery"
    restored = ge.optimizers.deserialize(config)
    restored.iterations = 7
    assert restored.learning_rate == 0.1


def test_defaults_and_names_as_keras():
    assert schedules.PiecewiseConstantDecay([1], [1.0, 0.5]).get_config()["name"] == (
        "PiecewiseConstant"
    )
    assert schedules.PolynomialDecay(0.1, 5).get_config() == {
        "initial_learning_rate": 0.1, "decay_steps": 5, "end_learning_rate": 0.0001,
        "power": 1.0, "cycle": False, "name": "PolynomialDecay",
    }  # fmt: skip
    assert schedules.CosineDecay(0.1, 5).get_config() == {
        "initial_learning_rate": 0.1, "decay_steps": 5, "alpha": 0.0, "name": "CosineDecay",
        "warmup_target": None, "warmup_steps": 0,
    }  # fmt: skip
    assert schedules.CosineDecayRestarts(0.1, 5).get_config() == {
        "initial_learning_rate": 0.1, "first_decay_steps": 5, "t_mul": 2.0, "m_mul": 1.0,
        "alpha": 0.0, "name": "SGDRDecay",
    }  # fmt: skip
    assert schedules.InverseTimeDecay(0.1, 5, 0.5).get_config()["name"] == "InverseTimeDecay"


@pytest.mark.parametrize("t_mul, first", [(3.0, 4), (2.0, 4), (1.5, 64)])
def test_restarts_land_on_their_period_starts(t_mul, first):
    """Period i lasts first * t_mul^i steps, starts at first * (t_mul^i - 1) / (t_mul - 1) from
    initial * m_mul^i, and ends near alpha; floor(log(...)) alone lands a hair short at some
    starts (t_mul=3 at 243) and would give alpha there instead."""
    s = schedules.CosineDecayRestarts(1.0, first, t_mul=t_mul, m_mul=0.5, alpha=0.1)
    checked = 0
    for i in range(1, 14):
        start = first * (t_mul**i - 1) / (t_mul - 1)
        if start != round(start):
            continue
        assert s(int(start)) == pytest.approx(0.1 + 0.9 * 0.5**i, rel=1e-12), i
        assert s(int(start) - 1) < 0.1 + 0.9 * 0.5 ** (i - 1) * 0.5, i  # late in period i - 1
        checked += 1
    assert checked >= 7


def test_piecewise_edges():
    s = schedules.PiecewiseConstantDecay([3, 3, 7], [1.0, 0.5, 0.25, 0.1])
    assert [s(t) for t in (0, 3, 4, 7, 8)] == [1.0, 1.0, 0.25, 0.25, 0.1]
    assert schedules.PiecewiseConstantDecay([], [0.3])(100) == 0.3


def test_optimizer_steps_at_the_scheduled_rate():
    """SGD's step t moves the weight by schedule(t) * gradient, for every schedule."""
    for schedule in CONFIGURED:
        opt, w = SGD(learning_rate=schedule), np.zeros(1)
        for t in range(12):
            before = w[0]
            assert opt.learning_rate == schedule(t)
            opt.apply([np.ones(1)], [w])
            assert before - w[0] == pytest.approx(schedule(t), rel=1e-12, abs=1e-300)


def test_argument_errors():
    steps = [
        (schedules.ExponentialDecay, (0.1, 0, 0.5), "ExponentialDecay needs decay_steps > 0, "
         "got decay_steps=0"),
        (schedules.InverseTimeDecay, (0.1, -2, 0.5), "InverseTimeDecay needs decay_steps > 0, "
         "got decay_steps=-2"),
        (schedules.PolynomialDecay, (0.1, 0), "PolynomialDecay needs decay_steps > 0"),
        (schedules.CosineDecay, (0.1, 0.0), "CosineDecay needs decay_steps > 0, got "
         "decay_steps=0.0"),
        (schedules.CosineDecayRestarts, (0.1, 0), "CosineDecayRestarts needs "
         "first_decay_steps > 0"),
    ]  # fmt: skip
    for cls, args, message in steps:
        with pytest.raises(ValueError, match=message):
            cls(*args)
    with pytest.raises(
        TypeError, match="CosineDecay needs decay_steps to be a number, got decay_steps=None"
    ):
        schedules.CosineDecay(0.1, None)  # fmt: skip
    with pytest.raises(
        ValueError,
        match=r"len\(values\) == len\(boundaries\) \+ 1, got "
        r"boundaries=\[3, 7\] of length 2 and values=\[1.0, 0.5\] of length 2",
    ):
        schedules.PiecewiseConstantDecay([3, 7], [1.0, 0.5])  # fmt: skip
    with pytest.raises(ValueError, match=r"increasing boundaries, got boundaries=\[7, 3\]"):
        schedules.PiecewiseConstantDecay([7, 3], [1.0, 0.5, 0.1])
    with pytest.raises(
        ValueError, match="CosineDecay needs warmup_steps >= 0, got warmup_steps=-1"
    ):
        schedules.CosineDecay(0.1, 5, warmup_target=0.2, warmup_steps=-1)
    with pytest.raises(ValueError, match="needs t_mul > 0, got t_mul=0.0"):
        schedules.CosineDecayRestarts(0.1, 5, t_mul=0.0)
    with pytest.raises(ValueError, match="needs m_mul >= 0, got m_mul=-0.5"):
        schedules.CosineDecayRestarts(0.1, 5, m_mul=-0.5)
    shrinking = schedules.CosineDecayRestarts(0.1, 8, t_mul=0.5)
    assert shrinking(15) == pytest.approx(0.1) and math.isfinite(shrinking(15.9))
    with pytest.raises(
        ValueError,
        match="t_mul=0.5 < 1 has no period left at step=16: its periods add up to 16 steps",
    ):
        shrinking(16)  # fmt: skip
    with pytest.raises(ValueError, match="'NoSuchDecay' is not registered"):
        schedules.deserialize({"class_name": "NoSuchDecay", "config": {}})
