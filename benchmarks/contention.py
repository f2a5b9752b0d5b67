"""The train steps with one core taken (issue 25: no step may slow more than 1.5x with a core
taken, without losing idle speed): each workload of benchmarks/run.py timed idle and while
another process (`python -c "while True: pass"`) keeps one core busy, for graphengine's default
thread policy (the count follows the cores other processes leave free: kernels/cpu/threads.py
StepThreads), graphengine fixed at the default count (ge.config.set_num_threads(n), the policy
before), and PyTorch eager on 2 threads.

Run: python -m benchmarks contention [--only cnn_train,lstm_train] [--seconds 1.5]

Each figure is the median step over a window of --seconds of back-to-back steps (sustained
training, as a user's fit: the scheduler treats a short burst differently), after a pre-roll of
one second untimed in which the default policy samples the cores and times its counts. The
slowdown is busy / idle of the same column; "default, idle" against "fixed, idle" is what the
policy costs on a quiet machine.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from typing import Callable

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import graphengine as ge  # noqa: E402
from benchmarks import run  # noqa: E402
from graphengine_kernels.cpu import threads  # noqa: E402

TRAIN = (
    "mlp_train", "mlp_infer", "cnn_train", "mobilenet_train", "transformer_train", "lstm_train",
    "gru_train", "gcn_train", "gat_train",
)  # fmt: skip
PRE_ROLL_S = 1.0


def window(step: Callable, seconds: float) -> float:
    """The median of back-to-back steps over `seconds` (at least 3), after the pre-roll."""
    end = time.perf_counter() + PRE_ROLL_S
    while time.perf_counter() < end:
        step()
    times: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < 3:
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


class Busy:
    """Another process spinning on one core while the block runs."""

    def __enter__(self) -> "Busy":
        self.child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(0.3)
        return self

    def __exit__(self, *exc: object) -> None:
        self.child.kill()
        self.child.wait()
        time.sleep(0.3)


def measure(name: str, seconds: float) -> dict[tuple[str, bool], float]:
    ge_step, pt_step, _ = run.WORKLOADS[name][1]()
    # who -> (graphengine's thread setting for the window, the step)
    contenders = {"default": (None, ge_step), "fixed": (threads._DEFAULT, ge_step)}
    if pt_step is not None:
        contenders["PyTorch"] = (None, pt_step)
    for _, step in contenders.values():  # compile, warm up
        for _ in range(3):
            step()
    times = {}
    for busy in (False, True):
        with Busy() if busy else contextlib.nullcontext():
            for who, (count, step) in contenders.items():
                ge.config.set_num_threads(count)
                times[who, busy] = window(step, seconds)
    ge.config.set_num_threads(None)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="comma-separated workload names")
    parser.add_argument("--seconds", type=float, default=1.5, help="timed seconds per window")
    args = parser.parse_args(argv)
    names = [n for n in TRAIN if not args.only or n in args.only.split(",")]
    print(
        f"one core kept busy by another process; {threads._DEFAULT} threads by default; median "
        f"ms a step, slowdown busy / idle in brackets"
    )
    print(
        f"{'workload':46s} {'default idle':>12s} {'fixed idle':>10s} {'default busy':>16s} "
        f"{'fixed busy':>16s} {'PyTorch idle':>12s} {'PyTorch busy':>16s}"
    )
    for name in names:
        t = measure(name, args.seconds)

        def cell(who: str, busy: bool, width: int, t: dict = t) -> str:
            if (who, busy) not in t:
                return f"{'-':>{width}s}"
            ms = t[who, busy] * 1e3
            if not busy:
                return f"{ms:{width}.3f}"
            return f"{ms:{width - 8}.3f} (x{t[who, True] / t[who, False]:.2f})"

        print(
            f"{run.WORKLOADS[name][0]:46s} {cell('default', False, 12)} {cell('fixed', False, 10)}"
            f" {cell('default', True, 16)} {cell('fixed', True, 16)}"
            f" {cell('PyTorch', False, 12)} {cell('PyTorch', True, 16)}",
            flush=True,
        )


if __name__ == "__main__":
    main()
