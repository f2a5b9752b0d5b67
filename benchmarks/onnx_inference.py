"""Inference of the benchmark MLP (784-256-256-10, batch 128) in graphengine next to ONNX Runtime
running graphengine's ONNX export of the same model, when onnxruntime is importable (from the
environment, or from a folder named by ORT_PATH, e.g. a `pip install --target` directory).

Run: ORT_PATH=/tmp/ortpkgs python benchmarks/onnx_inference.py [--steps 200]
The two take turns in blocks, as benchmarks/run.py's workloads; both use 2 threads.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
if os.environ.get("ORT_PATH"):
    sys.path.append(os.environ["ORT_PATH"])

import graphengine as ge  # noqa: E402

BLOCK = 10


def onnxruntime_session(path: str) -> object | None:
    try:
        import onnxruntime
    except ImportError:
        return None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 2
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    steps = parser.parse_args().steps
    ge.utils.set_random_seed(0)
    x = np.random.default_rng(0).random((128, 784), dtype=np.float32)
    model = ge.Sequential(
        [
            ge.Input((784,), name="pixels"),
            ge.layers.Dense(256, activation="relu"),
            ge.layers.Dense(256, activation="relu"),
            ge.layers.Dense(10),
        ]
    )
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "mlp.onnx")
        model.export(path, verbose=False)
        session = onnxruntime_session(path)
    steps_of = {"graphengine": lambda: model.predict_on_batch(x)}
    if session is None:
        print("onnxruntime is not importable (set ORT_PATH): graphengine alone")
    else:
        steps_of["onnxruntime"] = lambda: session.run(None, {"pixels": x})
        gap = np.abs(steps_of["onnxruntime"]()[0] - steps_of["graphengine"]()).max()
        print(f"max |difference| of the outputs: {gap:.3g}")
    times: dict[str, list[float]] = {name: [] for name in steps_of}
    for step in steps_of.values():
        for _ in range(BLOCK):  # warm-up: compile, first allocations
            step()
    for _ in range(max(steps // BLOCK, 1)):
        for name, step in steps_of.items():
            for _ in range(BLOCK):
                start = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - start)
    medians = {name: float(np.median(t)) * 1e3 for name, t in times.items()}
    for name, ms in medians.items():
        print(f"mlp inference (batch 128) {name:12s} {ms:8.3f} ms")
    if "onnxruntime" in medians:
        ratio = medians["graphengine"] / medians["onnxruntime"]
        print(f"ratio graphengine / onnxruntime: {ratio:.2f}")


if __name__ == "__main__":
    main()
