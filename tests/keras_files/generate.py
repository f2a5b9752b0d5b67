"""Keras 3 fixture files and what Keras computes from them. Run from the repository root,
offline, after write_ours.py (README.md):

    KERAS_BACKEND=torch PYTHONPATH=/tmp/kerapkgs python tests/keras_files/generate.py

For each architecture of architectures.py, built in Keras with the seeded weights, it writes
keras/<name>.keras (Keras 3's archive), keras/<name>.h5 (Keras's legacy HDF5 model) and
keras/<name>.weights.h5 (Keras 3's weights). It then loads the files graphengine wrote
(ours/<name>.keras with keras.saving.load_model, ours/<name>.weights.h5 with load_weights into
the Keras model) and records Keras's predictions from each, with the inputs, in reference.npz;
reference.json says which Keras wrote them.
"""

import json
import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "keras_reference"))
os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import keras  # noqa: E402
from architectures import ARCHITECTURES, inputs, set_seeded_weights  # noqa: E402
from generate import save_npz_deterministic  # noqa: E402

KERAS, OURS = os.path.join(HERE, "keras"), os.path.join(HERE, "ours")


def predict(model, x):
    return np.asarray(model.predict(x if len(x) > 1 else x[0], verbose=0), dtype="float32")


def write_keras_files(name, model):
    model.save(os.path.join(KERAS, f"{name}.keras"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "HDF5 is a legacy format"
        model.save(os.path.join(KERAS, f"{name}.h5"))
    model.save_weights(os.path.join(KERAS, f"{name}.weights.h5"))


def record(name, arrays):
    model = ARCHITECTURES[name](keras)
    set_seeded_weights(model)
    x = inputs(model)
    write_keras_files(name, model)
    for i, a in enumerate(x):
        arrays[f"{name}/input{i}"] = a
    arrays[f"{name}/keras"] = predict(model, x)
    ours = keras.saving.load_model(os.path.join(OURS, f"{name}.keras"))
    arrays[f"{name}/ours_keras"] = predict(ours, x)
    fresh = ARCHITECTURES[name](keras)
    fresh.load_weights(os.path.join(OURS, f"{name}.weights.h5"))
    arrays[f"{name}/ours_weights"] = predict(fresh, x)
    for key in ("ours_keras", "ours_weights"):  # the same weights: the same numbers
        np.testing.assert_allclose(arrays[f"{name}/{key}"], arrays[f"{name}/keras"], 1e-5, 1e-6)
    return {"name": name, "inputs": len(x)}


def main():
    os.makedirs(KERAS, exist_ok=True)
    keras.utils.set_random_seed(0)
    arrays = {}
    cases = [record(name, arrays) for name in ARCHITECTURES]
    save_npz_deterministic(os.path.join(HERE, "reference.npz"), arrays)
    with open(os.path.join(HERE, "reference.json"), "w") as f:
        meta = {"keras_version": keras.__version__, "backend": keras.backend.backend()}
        json.dump({**meta, "cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
