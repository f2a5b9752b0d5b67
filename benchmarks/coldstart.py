"""The cold-start report: from a fresh interpreter to one trained step, with an empty Numba cache
and with a warm one, for an MLP, a CNN and an LSTM, and where the time goes: the import, each
kernel Numba compiles (inclusive of the kernels it compiles inside it) and the rest.

Run: python -m benchmarks coldstart [--models mlp,cnn,lstm] [--top 12]

Each measurement is a child process; the empty cache is a fresh NUMBA_CACHE_DIR (which
kernels/cache.py's locators honour), used again for the warm run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

CHILD = """
import json, sys, time
t0 = time.perf_counter()
from numba.core import event
import numpy as np
t_numpy = time.perf_counter()
import graphengine as ge
L = ge.layers
t_import = time.perf_counter()
model_name = sys.argv[1]
rng = np.random.default_rng(0)
if model_name == "mlp":
    x, y = rng.random((64, 784), dtype=np.float32), rng.integers(0, 10, 64)
    model = ge.Sequential([ge.Input((784,)), L.Dense(256, activation="relu"), L.Dense(10)])
elif model_name == "cnn":
    x, y = rng.random((32, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 32)
    model = ge.Sequential([
        ge.Input((28, 28, 1)), L.Conv2D(16, 3, activation="relu"), L.MaxPooling2D(2),
        L.Flatten(), L.Dense(10),
    ])
else:
    x, y = rng.random((32, 20, 16), dtype=np.float32), rng.integers(0, 10, 32)
    model = ge.Sequential([ge.Input((20, 16)), L.LSTM(64), L.Dense(10)])
model.compile("adam", ge.losses.SparseCategoricalCrossentropy(from_logits=True))
with event.install_recorder("numba:compile") as rec:
    model.train_on_batch(x, y)
t_step = time.perf_counter()
open_events, compiled = {}, []
for stamp, ev in rec.buffer:
    key = id(ev.data["dispatcher"]), str(ev.data["args"])
    if ev.is_start:
        open_events[key] = stamp
    elif key in open_events:
        name = ev.data["dispatcher"].py_func.__module__ + "." + ev.data["dispatcher"].__name__
        compiled.append((name, str(ev.data["args"])[:60], stamp - open_events.pop(key)))
print(json.dumps({
    "numpy": t_numpy - t0, "import": t_import - t_numpy, "first_step": t_step - t_import,
    "total": t_step - t0, "compiled": compiled,
}))
"""


def measure(model: str, cache_dir: str) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, PYTHONPATH=ROOT)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, model], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="mlp,cnn,lstm")
    parser.add_argument("--top", type=int, default=12, help="kernels listed per model")
    args = parser.parse_args(argv)
    print(f"{'model':6s} {'cache':6s} {'total':>7s} {'numpy':>7s} {'import':>7s} {'1st step':>9s}"
          f" {'kernels compiled':>17s}")  # fmt: skip
    reports = {}
    for model in args.models.split(","):
        with tempfile.TemporaryDirectory() as cache:
            for kind in ("empty", "warm"):
                r = measure(model, cache)
                reports[model, kind] = r
                print(
                    f"{model:6s} {kind:6s} {r['total']:6.2f}s {r['numpy']:6.2f}s "
                    f"{r['import']:6.2f}s {r['first_step']:8.2f}s {len(r['compiled']):17d}",
                    flush=True,
                )
    for model in args.models.split(","):
        compiled = sorted(reports[model, "empty"]["compiled"], key=lambda c: -c[2])
        print(f"\n{model}, empty cache: the {args.top} longest compiles (inclusive of callees)")
        for name, sig, seconds in compiled[: args.top]:
            print(f"  {seconds:6.2f}s  {name}{sig}")


if __name__ == "__main__":
    main()
