"""benchmarks/contention.py's pieces: the timing window and the busy process it starts and
always stops."""

import time

import pytest

from benchmarks import contention


def test_window_is_the_median_of_back_to_back_steps(monkeypatch):
    monkeypatch.setattr(contention, "PRE_ROLL_S", 0.0)
    calls = []

    def step():
        calls.append(1)
        time.sleep(0.002)

    seconds = contention.window(step, 0.05)
    assert 0.002 <= seconds < 0.02 and len(calls) >= 3


def test_busy_process_spins_and_is_stopped_even_on_error():
    with pytest.raises(RuntimeError, match="inside"):
        with contention.Busy() as busy:
            assert busy.child.poll() is None  # running
            raise RuntimeError("inside")
    assert busy.child.poll() is not None
