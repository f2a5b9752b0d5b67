"""Writes ours/<name>.keras and ours/<name>.weights.h5 with graphengine's writer, for
generate.py to load with Keras. Run from the repository root, with graphengine (no Keras):

    python tests/keras_files/write_ours.py

then `generate.py` (see README.md) to record what Keras computes from these files.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import graphengine as ge  # noqa: E402
from architectures import ARCHITECTURES, set_seeded_weights  # noqa: E402

OURS = os.path.join(HERE, "ours")


def build(name):
    model = ARCHITECTURES[name](ge)
    set_seeded_weights(model)
    return model


def main():
    os.makedirs(OURS, exist_ok=True)
    for name in ARCHITECTURES:
        model = build(name)
        model.save(os.path.join(OURS, f"{name}.keras"))
        model.save_weights(os.path.join(OURS, f"{name}.weights.h5"))
        print("wrote", name)


if __name__ == "__main__":
    main()
