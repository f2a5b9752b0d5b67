"""Records onnxruntime's outputs for the seeded models of cases.py, exported by graphengine: run
offline (onnxruntime is never a test dependency), from the repository root:

    pip install --target /tmp/ortpkgs onnxruntime   # then remove its numpy copy if it differs
    PYTHONPATH=/tmp/ortpkgs python tests/onnx_reference/generate.py

Writes onnx.npz beside this file: "<case>/x<i>" the inputs, "<case>/y<i>" ORT's outputs."""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np
import onnxruntime

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from onnx_reference.cases import CASES, build  # noqa: E402

from graphengine.training.onnx_export import to_onnx  # noqa: E402


def _keras_generate() -> object:
    """tests/keras_reference/generate.py as a module (this script has the same file name)."""
    path = os.path.join(os.path.dirname(HERE), "keras_reference", "generate.py")
    spec = importlib.util.spec_from_file_location("keras_reference_generate", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_case(name: str) -> dict[str, np.ndarray]:
    model, inputs = build(name)
    proto = to_onnx(model)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    feeds = {i.name: x for i, x in zip(session.get_inputs(), inputs)}
    outputs = session.run(None, feeds)
    arrays = {f"{name}/x{i}": x for i, x in enumerate(inputs)}
    arrays.update({f"{name}/y{i}": np.asarray(y) for i, y in enumerate(outputs)})
    return arrays


def main() -> None:
    arrays: dict[str, np.ndarray] = {}
    for name in CASES:
        arrays.update(run_case(name))
        print(name, "onnxruntime", onnxruntime.__version__)
    _keras_generate().save_npz_deterministic(os.path.join(HERE, "onnx.npz"), arrays)


if __name__ == "__main__":
    main()
