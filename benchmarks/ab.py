"""In-process A/B of one setting: a module attribute toggled between two values while one of
benchmarks/run.py's workloads trains, in alternating blocks of 10 steps, so both values meet the
same machine (this shared machine drifts by 10% between runs; in one process, alternating, the
medians differ by what the setting does).

Run: python -m benchmarks.ab WORKLOAD MODULE ATTRIBUTE A B [--steps 150]
e.g. python -m benchmarks.ab mobilenet_train graphengine_kernels.cpu.threads _MIN_WORK \
         1000000000000000000 4194304
(A and B are Python literals; kernels read such settings when they run, so a toggle takes effect
at the next step).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from benchmarks import run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("workload", choices=sorted(run.WORKLOADS))
    parser.add_argument("module")
    parser.add_argument("attribute")
    parser.add_argument("a", type=ast.literal_eval)
    parser.add_argument("b", type=ast.literal_eval)
    parser.add_argument("--steps", type=int, default=150, help="timed steps per value")
    args = parser.parse_args()
    module = importlib.import_module(args.module)
    if not hasattr(module, args.attribute):
        parser.error(f"{args.module} has no attribute {args.attribute!r}")
    step = run.WORKLOADS[args.workload][1]()[0]
    for value in (args.a, args.b, args.a, args.b):  # warm-up: compiles and plans for both
        setattr(module, args.attribute, value)
        for _ in range(10):
            step()
    times: dict[int, list[float]] = {0: [], 1: []}
    while len(times[1]) < args.steps:
        for i, value in enumerate((args.a, args.b)):
            setattr(module, args.attribute, value)
            step()  # the first step after a toggle is not timed
            time.sleep(0.05)
            for _ in range(10):
                t = time.perf_counter()
                step()
                times[i].append(time.perf_counter() - t)
    a, b = (1e3 * float(np.median(times[i])) for i in (0, 1))
    print(
        f"{args.workload}, {args.module}.{args.attribute}: A={args.a!r} {a:.3f} ms, "
        f"B={args.b!r} {b:.3f} ms, B/A {b / a:.3f}"
    )


if __name__ == "__main__":
    main()
