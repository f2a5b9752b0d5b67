"""Generate Keras 3 reference numbers for tests/test_preprocessing_layers.py and
tests/test_text_vectorization.py.

A script, not a test. Keras's lookup layers and TextVectorization run on TensorFlow whatever the
backend, so this one needs keras, torch and tensorflow (run from the repository root):

    KERAS_BACKEND=torch python tests/keras_reference/generate_preprocessing.py

Writes preprocessing.json and preprocessing.npz next to this file. Each JSON case names the
layer, its constructor arguments, the adapt data ("adapt": one array; "adapt_batches": batches
read from a generator), the call inputs and Keras's results: the vocabulary, and each output
(strings and small numbers in the JSON). Normalization cases keep their arrays in the .npz:
`{id}/x`, `{id}/y`, `{id}/dy` (a cotangent), `{id}/dx`, `{id}/w{j}` (get_weights after adapt).
"""

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from generate import save_npz_deterministic  # noqa: E402

if keras.backend.backend() != "torch":
    sys.exit("Run with KERAS_BACKEND=torch (got %r)." % keras.backend.backend())

HERE = os.path.dirname(os.path.abspath(__file__))

WORDS = ["b", "a", "c", "a", "b", "z", "d", "d", "d", "e"]
DOCS = [["a", "b", "a"], ["c", "a", "d"], ["d", "d", "e"]]
TEXTS = [
    "The cat sat on the MAT!",
    "the dog, the cat; and É-clair?",
    "Dogs\tand cats\nare   friends.",
    "a\xa0b c's (done) [x] {y} <z> ~end~",
]
CALL_TEXTS = ["The cat ate a mat", "unknown words here!", "", "dog\xa0and THE cat's"]

# (id, layer, kwargs, adapt data or None, {"adapt_batches": [...]} or {}, call inputs)
LOOKUP_CASES = [
    ("sl_int", "StringLookup", {}, WORDS, {}, [["a", "q"], ["z", "d"]]),
    ("sl_mask", "StringLookup", {"mask_token": ""}, WORDS + [""], {}, [["", "a"], ["q", "e"]]),
    ("sl_max", "StringLookup", {"max_tokens": 3}, WORDS, {}, [["a", "b"], ["d", "e"]]),
    ("sl_one_hot", "StringLookup", {"output_mode": "one_hot"}, WORDS, {}, ["a", "q", "d"]),
    ("sl_one_hot_col", "StringLookup", {"output_mode": "one_hot"}, WORDS, {}, [["a"], ["q"]]),
    ("sl_multi_hot", "StringLookup", {"output_mode": "multi_hot"}, DOCS, {}, [["a", "a", "q"]]),
    (
        "sl_count",
        "StringLookup",
        {"output_mode": "count", "max_tokens": 4},
        DOCS,
        {},
        [["a", "a", "q"], ["d", "e", "e"]],
    ),
    (
        "sl_count_mask",
        "StringLookup",
        {"output_mode": "count", "mask_token": ""},
        DOCS,
        {},
        [["a", "", "a"], ["", "", "d"]],
    ),
    (
        "sl_tf_idf",
        "StringLookup",
        {"output_mode": "tf_idf"},
        DOCS,
        {},
        [["a", "a", "q"], ["d", "e", "c"]],
    ),
    ("sl_tf_idf_1d", "StringLookup", {"output_mode": "tf_idf"}, WORDS, {}, [["a", "d", "d"]]),
    (
        "sl_tf_idf_pad",
        "StringLookup",
        {"output_mode": "tf_idf", "max_tokens": 8, "pad_to_max_tokens": True},
        DOCS,
        {},
        [["a", "e", "q"]],
    ),
    (
        "sl_tf_idf_gen",
        "StringLookup",
        {"output_mode": "tf_idf"},
        None,
        {"adapt_batches": [["a", "b", "a"], ["c", "a"], [["d", "e"], ["a", "d"]]]},
        [["a", "d", "q"]],
    ),
    (
        "sl_vocab",
        "StringLookup",
        {"vocabulary": ["x", "y", "z"], "output_mode": "count"},
        None,
        {},
        [["x", "z", "z"], ["w", "y", "x"]],
    ),
    (
        "sl_vocab_special",
        "StringLookup",
        {"vocabulary": ["", "[UNK]", "x", "y"], "mask_token": ""},
        None,
        {},
        [["x", ""], ["q", "y"]],
    ),
    (
        "sl_idf_given",
        "StringLookup",
        {"vocabulary": ["x", "y", "z"], "idf_weights": [0.5, 1.5, 2.0], "output_mode": "tf_idf"},
        None,
        {},
        [["x", "z", "z"], ["w", "y", "x"]],
    ),
    (
        "sl_invert",
        "StringLookup",
        {"vocabulary": ["x", "y", "z"], "invert": True},
        None,
        {},
        [1, 2, 0, 3, 9],
    ),
    ("il_int", "IntegerLookup", {}, [5, 5, 7, 9, 9, 9, 1, 12], {}, [[5, 3], [9, 1]]),
    (
        "il_oov2",
        "IntegerLookup",
        {"num_oov_indices": 2},
        [5, 5, 7, 9],
        {},
        [[5, 3], [10, -7], [4, 9]],
    ),
    ("il_mask", "IntegerLookup", {"mask_token": 0}, [5, 5, 7, 0, 0], {}, [[0, 5], [7, 8]]),
    (
        "il_multi_hot",
        "IntegerLookup",
        {"output_mode": "multi_hot", "max_tokens": 3},
        [5, 5, 7, 9, 9, 9],
        {},
        [[5, 9, 9], [7, 7, 2]],
    ),
    (
        "il_invert",
        "IntegerLookup",
        {"vocabulary": [12, 36, 1138], "invert": True},
        None,
        {},
        [[1, 2], [3, 0]],
    ),
    ("tv_int", "TextVectorization", {"output_sequence_length": 6}, TEXTS, {}, CALL_TEXTS),
    ("tv_int_ragged", "TextVectorization", {}, TEXTS, {}, CALL_TEXTS),
    (
        "tv_max_tokens",
        "TextVectorization",
        {"max_tokens": 6, "output_sequence_length": 4},
        TEXTS,
        {},
        CALL_TEXTS,
    ),
    (
        "tv_lower",
        "TextVectorization",
        {"standardize": "lower", "output_sequence_length": 5},
        TEXTS,
        {},
        CALL_TEXTS,
    ),
    (
        "tv_strip",
        "TextVectorization",
        {"standardize": "strip_punctuation", "output_sequence_length": 5},
        TEXTS,
        {},
        CALL_TEXTS,
    ),
    (
        "tv_none",
        "TextVectorization",
        {"standardize": None, "output_sequence_length": 5},
        TEXTS,
        {},
        CALL_TEXTS,
    ),
    (
        "tv_chars",
        "TextVectorization",
        {"split": "character", "output_sequence_length": 8},
        TEXTS,
        {},
        CALL_TEXTS,
    ),
    (
        "tv_ngrams",
        "TextVectorization",
        {"ngrams": 2, "output_mode": "count"},
        TEXTS,
        {},
        CALL_TEXTS,
    ),
    (
        "tv_ngrams_13",
        "TextVectorization",
        {"ngrams": (1, 3), "output_sequence_length": 9},
        TEXTS,
        {},
        CALL_TEXTS,
    ),
    (
        "tv_multi_hot",
        "TextVectorization",
        {"output_mode": "multi_hot", "max_tokens": 10, "pad_to_max_tokens": True},
        TEXTS,
        {},
        CALL_TEXTS,
    ),
    (
        "tv_tf_idf",
        "TextVectorization",
        {"output_mode": "tf_idf", "max_tokens": 8},
        TEXTS,
        {},
        CALL_TEXTS,
    ),
    (
        "tv_tf_idf_gen",
        "TextVectorization",
        {"output_mode": "tf_idf"},
        None,
        {"adapt_batches": [TEXTS[:2], TEXTS[2:]]},
        CALL_TEXTS,
    ),
    (
        "tv_split_none",
        "TextVectorization",
        {"split": None, "standardize": None, "output_mode": "multi_hot"},
        ["x", "y", "y", "z w"],
        {},
        [["y"], ["z w"], ["q"]],
    ),
    (
        "tv_column",
        "TextVectorization",
        {"output_sequence_length": 4},
        TEXTS,
        {},
        [[t] for t in CALL_TEXTS],
    ),
    (
        "tv_vocab",
        "TextVectorization",
        {"vocabulary": ["cat", "the", "dog"], "output_sequence_length": 4},
        None,
        {},
        CALL_TEXTS,
    ),
]

ENCODING_CASES = [
    ("ce_one_hot", {"num_tokens": 4, "output_mode": "one_hot"}, [3, 2, 0, 1], None),
    ("ce_one_hot_2d", {"num_tokens": 4, "output_mode": "one_hot"}, [[3, 2], [0, 1]], None),
    ("ce_multi_hot", {"num_tokens": 5}, [[0, 1, 1], [4, 4, 2]], None),
    ("ce_multi_hot_1d", {"num_tokens": 5}, [0, 3, 3], None),
    ("ce_count", {"num_tokens": 4, "output_mode": "count"}, [[0, 1, 1], [3, 3, 3]], None),
    (
        "ce_count_weights",
        {"num_tokens": 4, "output_mode": "count"},
        [[0, 1], [0, 0], [1, 2]],
        [[0.1, 0.2], [0.1, 0.1], [0.2, 0.3]],
    ),
]

NORM_CASES = [
    ("norm_last", {}, (6, 3), None),
    ("norm_axis12", {"axis": (1, 2)}, (5, 2, 3), None),
    ("norm_axis1_of_3d", {"axis": 1}, (4, 3, 2), None),
    ("norm_axis_none", {"axis": None}, (5, 3), None),
    ("norm_batches", {}, (9, 2), 4),
    ("norm_given", {"mean": [1.0, -2.0, 0.5], "variance": [4.0, 0.25, 1e-16]}, (4, 3), None),
    ("norm_given_scalar", {"mean": 3.0, "variance": 2.0}, (3, 2), None),
    ("norm_invert", {"mean": [1.0, 2.0], "variance": [4.0, 9.0], "invert": True}, (3, 2), None),
]


def plain(value):
    """A Keras result as JSON: lists of numbers or strings."""
    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "numpy"):
        value = value.numpy()
    value = np.asarray(value)
    if value.dtype.kind in "OSU":
        return [plain(v) for v in value] if value.ndim else _text(value.item())
    return value.tolist()


def _text(v):
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def lookup_case(case):
    cid, layer_name, kwargs, adapt, extra, call = case
    layer = getattr(keras.layers, layer_name)(**kwargs)
    if adapt is not None:
        layer.adapt(np.array(adapt) if layer_name != "TextVectorization" else adapt)
    if "adapt_batches" in extra:
        layer.adapt(np.array(b) for b in extra["adapt_batches"])
    out = layer(np.array(call))
    entry = {"id": cid, "layer": layer_name, "kwargs": kwargs, "adapt": adapt, **extra}
    entry.update(
        call=call,
        vocabulary=[
            _text(v) if isinstance(v, (bytes, str, np.str_)) else int(v)
            for v in layer.get_vocabulary()
        ],
        vocabulary_size=int(layer.vocabulary_size()),
        output=plain(out),
    )
    return entry


def encoding_case(case):
    cid, kwargs, ids, weights = case
    layer = keras.layers.CategoryEncoding(**kwargs)
    out = layer(np.array(ids), count_weights=None if weights is None else np.array(weights))
    return {"id": cid, "kwargs": kwargs, "ids": ids, "count_weights": weights, "output": plain(out)}


def norm_case(case, arrays, seed):
    cid, kwargs, shape, batch = case
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    kw = {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()}
    layer = keras.layers.Normalization(**kwargs)
    if "mean" not in kwargs:
        batches = [x[i : i + batch] for i in range(0, len(x), batch)] if batch else x
        layer.adapt(batches)
    xt = torch.tensor(x, requires_grad=True)
    y = layer(xt)
    dy = rng.standard_normal(shape).astype(np.float32)
    y.backward(torch.tensor(dy))
    y, dx = y.detach().numpy(), xt.grad.numpy()
    arrays.update({f"{cid}/x": x, f"{cid}/y": y, f"{cid}/dy": dy, f"{cid}/dx": dx})
    for j, w in enumerate(layer.get_weights()):
        arrays[f"{cid}/w{j}"] = np.asarray(w)
    return {"id": cid, "kwargs": kw, "batch": batch, "num_weights": len(layer.get_weights())}


def main():
    arrays = {}
    cases = {
        "lookups": [lookup_case(c) for c in LOOKUP_CASES],
        "encoding": [encoding_case(c) for c in ENCODING_CASES],
        "normalization": [norm_case(c, arrays, i) for i, c in enumerate(NORM_CASES)],
    }
    with open(os.path.join(HERE, "preprocessing.json"), "w", encoding="utf-8") as f:
        f.write("{\n")
        f.write(
            ",\n".join(
                f'"{k}": [\n' + ",\n".join(json.dumps(e, ensure_ascii=True) for e in v) + "\n]"
                for k, v in cases.items()
            )
        )
        f.write("\n}\n")
    save_npz_deterministic(os.path.join(HERE, "preprocessing.npz"), arrays)


if __name__ == "__main__":
    main()
