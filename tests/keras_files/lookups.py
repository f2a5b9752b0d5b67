"""Lookup-layer fixtures: Keras keeps an adapted vocabulary in the .keras archive's assets
(assets/<layer path>/vocabulary.txt), not in config.json. Keras's lookup layers need TensorFlow,
so this generator runs apart from generate.py, in two steps from the repository root:

    python tests/keras_files/lookups.py ours        # graphengine writes lookups/ours_*.keras
    KERAS_BACKEND=tensorflow PYTHONPATH=<tensorflow>:<keras 3.15> \\
        python tests/keras_files/lookups.py keras   # Keras writes keras_*.keras, loads ours

The second step records in lookups/lookups.json what Keras predicts from its own files and from
ours; tests/test_keras_lookups.py checks graphengine against both without Keras.
"""

import json
import os
import sys

import numpy as np

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lookups")
ADAPT = {
    "string_lookup": ["cat", "dog", "a", "cat", "dog", "cat"],
    "integer_lookup": [3, 5, 7, 3, 5, 3],
    "text_vectorization": ["the cat sat", "the dog ran far", "a cat ran", "the cat"],
}
INPUTS = {
    "string_lookup": ["cat", "dog", "zebra", "a"],
    "integer_lookup": [3, 5, 9, 7],
    "text_vectorization": ["the cat ran", "dog sat far away"],
}


def build(lib, name):
    """The same one-layer model in graphengine (`lib` = ge) or Keras, adapted."""
    layers = lib.layers
    if name == "string_lookup":
        layer, dtype = layers.StringLookup(name="lookup"), "string"
    elif name == "integer_lookup":
        layer, dtype = layers.IntegerLookup(name="lookup"), "int64"
    else:
        layer, dtype = (
            layers.TextVectorization(max_tokens=10, output_sequence_length=4, name="lookup"),
            "string",
        )
    layer.adapt(np.array(ADAPT[name]))
    inp = lib.Input(shape=(), dtype=dtype, name="tokens")  # fixed names: the same config.json
    return lib.Model(inp, layer(inp), name="lookups")


def ours():
    sys.path.insert(0, os.path.join(HERE, "..", "..", ".."))
    import graphengine as ge

    for name in ADAPT:
        build(ge, name).save(os.path.join(HERE, f"ours_{name}.keras"))


def keras_side():
    import keras
    import tensorflow as tf

    def predict(model, name):
        x = INPUTS[name]
        return np.asarray(model(tf.constant(x))).tolist()

    record = {"keras_version": keras.__version__, "tensorflow_version": tf.__version__}
    for name in ADAPT:
        mine = build(keras, name)
        mine.save(os.path.join(HERE, f"keras_{name}.keras"))
        theirs = keras.saving.load_model(os.path.join(HERE, f"ours_{name}.keras"))
        record[name] = {
            "keras_on_keras": predict(mine, name),
            "keras_on_ours": predict(theirs, name),
        }
    with open(os.path.join(HERE, "lookups.json"), "w") as f:
        json.dump(record, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    {"ours": ours, "keras": keras_side}[sys.argv[1]]()
