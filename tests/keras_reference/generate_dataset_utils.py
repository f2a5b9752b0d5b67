"""Generate Keras 3 reference numbers for tests/test_dataset_utils.py.

A script, not a test. Run from the repository root; besides keras and torch it needs
tensorflow (Keras's timeseries, split and image datasets are tf.data pipelines) and Pillow:

    KERAS_BACKEND=torch PYTHONPATH=/path/to/keras:/path/to/tensorflow \
        python tests/keras_reference/generate_dataset_utils.py

Writes dataset_utils.json and dataset_utils.npz next to this file:

* "to_categorical", "normalize": `{id}/x` and Keras's `{id}/y`.
* "pad_sequences": the sequences, the keyword arguments and Keras's output, all in the JSON
  (strings and object dtypes included).
* "timeseries": `{id}/data`, `{id}/targets` and every batch Keras yields unshuffled,
  `{id}/b{k}/x` and `{id}/b{k}/y`; a shuffled case keeps its windows, `{id}/shuffled_x`, sorted.
* "split": `{id}/in{j}` and Keras's `{id}/left{j}`, `{id}/right{j}` (shuffled ones with a
  seed: Keras shuffles with Python's random); "split_sizes": Keras's
  `_rescale_dataset_split_sizes` on a grid of sizes, the two counts or the error's type.
* "images": the pixels of a small directory of PNGs (`png/{name}`, the file layout in the JSON)
  and, per case, Keras's `file_paths` (relative) and `class_names`, and, unshuffled, every
  batch `{id}/b{k}/x`, `{id}/b{k}/y`.
"""

import json
import os
import shutil
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from generate import save_npz_deterministic  # noqa: E402
from keras.src.utils.dataset_utils import _rescale_dataset_split_sizes  # noqa: E402

if keras.backend.backend() != "torch":
    sys.exit("Run with KERAS_BACKEND=torch (got %r)." % keras.backend.backend())

HERE = os.path.dirname(os.path.abspath(__file__))
RNG = np.random.default_rng(21)

TO_CATEGORICAL = [
    ("vector", [0, 1, 2, 3], 4),
    ("inferred", [2, 0, 1, 2, 5], None),
    ("column", [[1], [0], [2]], 3),
    ("matrix", [[0, 2, 1], [1, 1, 0]], 3),
    ("scalar", 2, 4),
    ("more_classes", [1, 0], 5),
    ("trailing_ones", [[[1]], [[0]]], 2),
]

NORMALIZE = [
    ("l2_last", (4, 5), "float32", -1, 2, "zero_row"),
    ("l1_last", (4, 5), "float32", -1, 1, None),
    ("inf_last", (3, 4), "float32", -1, "inf", None),
    ("order3", (3, 4), "float64", -1, 3, None),
    ("axis1_3d", (2, 3, 4), "float64", 1, 2, None),
    ("axis_minus2_3d", (2, 3, 4), "float32", -2, 2, "zero_row"),
    ("vector", (6,), "float32", 0, 2, None),
    ("ints", (3, 3), "int64", -1, 2, None),
    ("nan_row", (3, 4), "float32", -1, 2, "nan"),
    ("empty", (0, 3), "float32", -1, 2, None),
]

PAD_SEQUENCES = [
    ("default", [[1], [2, 3], [4, 5, 6]], {}),
    ("value", [[1], [2, 3], [4, 5, 6]], {"value": -1}),
    ("post", [[1], [2, 3], [4, 5, 6]], {"padding": "post"}),
    ("maxlen", [[1], [2, 3], [4, 5, 6]], {"maxlen": 2}),
    ("truncating_post", [[1], [2, 3], [4, 5, 6]], {"maxlen": 2, "truncating": "post"}),
    ("both_post", [[1, 2, 3, 4], [5]], {"maxlen": 3, "padding": "post", "truncating": "post"}),
    ("longer_maxlen", [[1, 2], [3]], {"maxlen": 5}),
    ("huge_maxlen", [[1, 2], [3]], {"maxlen": 300}),
    ("empty_sequence", [[], [1, 2], []], {}),
    ("float", [[0.5, 1.5], [2.25]], {"dtype": "float32", "value": -0.5}),
    ("samples_2d", [[[1, 2], [3, 4]], [[5, 6]]], {"padding": "post"}),
    ("strings", [["a", "b"], ["c"]], {"dtype": object, "value": "x"}),
    ("unicode_dtype", [["ab", "c"], ["d"]], {"dtype": "<U2", "value": "z"}),
]

TIMESERIES = [
    (
        "stride_rate",
        (20,),
        "int64",
        (20,),
        dict(sequence_length=4, sequence_stride=2, sampling_rate=2, batch_size=3),
    ),
    (
        "start_end",
        (30, 2),
        "float32",
        (30,),
        dict(sequence_length=5, batch_size=7, start_index=3, end_index=25),
    ),
    (
        "no_targets",
        (15, 2, 3),
        "float64",
        None,
        dict(sequence_length=3, sequence_stride=4, sampling_rate=3, batch_size=2),
    ),
    ("short_targets", (25,), "float32", (10,), dict(sequence_length=4, batch_size=4)),
    (
        "unbatched",
        (12,),
        "int32",
        (12, 2),
        dict(sequence_length=3, sequence_stride=3, batch_size=None),
    ),
    (
        "start_only",
        (18, 3),
        "float32",
        (18, 3),
        dict(sequence_length=4, sampling_rate=3, start_index=5, batch_size=5),
    ),
    ("length_one", (9,), "float64", (9,), dict(sequence_length=1, batch_size=4)),
    ("one_batch", (40,), "float32", (40,), dict(sequence_length=10, sequence_stride=3)),
]
TIMESERIES_SHUFFLED = [
    ("shuffled", (30, 2), "float32", dict(sequence_length=4, sequence_stride=2, batch_size=4,
                                          shuffle=True, seed=3)),
]  # fmt: skip

SPLITS = [
    ("array_left_fraction", "array", dict(left_size=0.3)),
    ("array_right_fraction", "array", dict(right_size=0.25)),
    ("array_both_counts", "array", dict(left_size=4, right_size=3)),
    ("array_both_fractions", "array", dict(left_size=0.5, right_size=0.5)),
    ("array_left_count", "array", dict(left_size=7)),
    ("array_shuffled", "array", dict(left_size=0.6, shuffle=True, seed=7)),
    ("tuple_left_fraction", "tuple", dict(left_size=0.8)),
    ("tuple_shuffled", "tuple", dict(right_size=3, shuffle=True, seed=11)),
    ("list_of_arrays", "list", dict(left_size=2)),
]
SIZE_VALUES = [None, 0, 1, 3, 6, 10, 11, -1, 0.0, 0.05, 0.25, 0.5, 0.7, 1.0, 1.5]
SIZE_TOTALS = [1, 2, 5, 10]

# the image directory: (relative path, PIL mode, height, width)
IMAGE_FILES = [
    ("class_a/a0.png", "RGB", 5, 4),
    ("class_a/a1.png", "RGB", 3, 6),
    ("class_a/a2.PNG", "RGB", 4, 4),
    ("class_b/b0.png", "L", 4, 4),
    ("class_b/sub/b1.png", "RGBA", 6, 5),
    ("class_c/c0.png", "RGB", 2, 3),
    ("class_c/c1.png", "RGB", 7, 2),
    (".hidden/h.png", "RGB", 3, 3),  # not a class folder, but labels=None walks it
]
IMAGE_OTHER_FILES = ["class_a/notes.txt"]
IMAGES = [
    ("int_bilinear_up", dict(image_size=(8, 9), shuffle=False, batch_size=3)),
    ("categorical_up", dict(image_size=(9, 8), shuffle=False, label_mode="categorical")),
    ("binary_two_classes", dict(image_size=(8, 8), shuffle=False, label_mode="binary",
                                class_names=["class_c", "class_a"], batch_size=2)),
    ("nearest_up", dict(image_size=(10, 11), shuffle=False, interpolation="nearest")),
    ("bicubic_up", dict(image_size=(10, 11), shuffle=False, interpolation="bicubic")),
    ("nearest_down", dict(image_size=(3, 2), shuffle=False, interpolation="nearest")),
    ("lanczos3_up", dict(image_size=(9, 10), shuffle=False, interpolation="lanczos3")),
    ("bilinear_down", dict(image_size=(2, 2), shuffle=False)),
    ("bilinear_down_up", dict(image_size=(3, 5), shuffle=False)),
    ("crop_down", dict(image_size=(2, 3), shuffle=False, crop_to_aspect_ratio=True)),
    ("pad_down", dict(image_size=(4, 3), shuffle=False, pad_to_aspect_ratio=True)),
    ("crop_up", dict(image_size=(12, 8), shuffle=False, crop_to_aspect_ratio=True)),
    ("pad_up", dict(image_size=(8, 12), shuffle=False, pad_to_aspect_ratio=True)),
    ("rgba", dict(image_size=(8, 8), shuffle=False, color_mode="rgba", labels=None)),
    ("grayscale", dict(image_size=(8, 8), shuffle=False, color_mode="grayscale")),
    ("shuffled", dict(image_size=(8, 8), seed=5)),
    ("training", dict(image_size=(8, 8), seed=5, validation_split=0.3, subset="training")),
    ("validation", dict(image_size=(8, 8), seed=5, validation_split=0.3, subset="validation")),
    ("unshuffled_validation", dict(image_size=(8, 8), shuffle=False, validation_split=0.45,
                                   subset="validation")),
    ("explicit_labels", dict(image_size=(8, 8), shuffle=False, labels=[1, 0, 1, 0, 1, 0, 1, 0])),
]  # fmt: skip


def to_categorical_cases(arrays):
    out = []
    for id_, x, num_classes in TO_CATEGORICAL:
        arrays[f"to_categorical/{id_}/x"] = np.asarray(x)
        arrays[f"to_categorical/{id_}/y"] = keras.utils.to_categorical(x, num_classes)
        out.append({"id": id_, "num_classes": num_classes})
    return out


def normalize_cases(arrays):
    out = []
    for id_, shape, dtype, axis, order, special in NORMALIZE:
        x = RNG.normal(size=shape) * 3
        x = np.round(x).astype(dtype) if dtype == "int64" else x.astype(dtype)
        if special == "zero_row":  # one zero vector along the axis
            index = [0] * x.ndim
            index[axis] = slice(None)
            x[tuple(index)] = 0
        if special == "nan":
            x[1, 2] = np.nan
        arrays[f"normalize/{id_}/x"] = x
        order_value = np.inf if order == "inf" else order
        arrays[f"normalize/{id_}/y"] = keras.utils.normalize(x, axis=axis, order=order_value)
        out.append({"id": id_, "axis": axis, "order": order})
    return out


def pad_sequences_cases():
    out = []
    for id_, sequences, kwargs in PAD_SEQUENCES:
        y = keras.utils.pad_sequences(sequences, **kwargs)
        kwargs = dict(kwargs, dtype="object") if kwargs.get("dtype") is object else kwargs
        out.append(
            {"id": id_, "sequences": sequences, "kwargs": kwargs, "y": y.tolist(),
             "dtype": str(y.dtype)}
        )  # fmt: skip
    return out


def draw(shape, dtype):
    if np.dtype(dtype).kind == "f":
        return RNG.normal(size=shape).astype(dtype)
    return RNG.integers(-50, 50, size=shape).astype(dtype)


def timeseries_cases(arrays):
    out = []
    for id_, data_shape, dtype, targets_shape, kwargs in TIMESERIES:
        data = draw(data_shape, dtype)
        targets = None if targets_shape is None else draw(targets_shape, dtype)
        arrays[f"timeseries/{id_}/data"] = data
        if targets is not None:
            arrays[f"timeseries/{id_}/targets"] = targets
        ds = keras.utils.timeseries_dataset_from_array(data, targets, **kwargs)
        batches = list(ds.as_numpy_iterator())
        for k, batch in enumerate(batches):
            x, y = batch if targets is not None else (batch, None)
            arrays[f"timeseries/{id_}/b{k}/x"] = x
            if y is not None:
                arrays[f"timeseries/{id_}/b{k}/y"] = y
        out.append({"id": id_, "kwargs": kwargs, "targets": targets is not None,
                    "n_batches": len(batches)})  # fmt: skip
    for id_, data_shape, dtype, kwargs in TIMESERIES_SHUFFLED:
        data = draw(data_shape, dtype)
        arrays[f"timeseries/{id_}/data"] = data
        ds = keras.utils.timeseries_dataset_from_array(data, None, **kwargs)
        windows = np.concatenate(list(ds.as_numpy_iterator()))
        order = np.lexsort(windows.reshape(len(windows), -1).T[::-1])  # sorted as rows
        arrays[f"timeseries/{id_}/shuffled_x"] = windows[order]
        out.append({"id": id_, "kwargs": kwargs, "targets": False, "shuffled": True})
    return out


def stacked(ds):
    """A tf.data dataset of samples as arrays: one per component of its elements."""
    samples = list(ds.as_numpy_iterator())
    if isinstance(samples[0], tuple):
        return [np.stack([s[j] for s in samples]) for j in range(len(samples[0]))]
    return [np.stack(samples)]


def split_cases(arrays):
    out = []
    for id_, kind, kwargs in SPLITS:
        x = np.arange(20, dtype="float32").reshape(10, 2) + 0.5
        y = np.arange(10, dtype="int64") * 3
        inputs = {"array": [x], "tuple": [x, y], "list": [x, y]}[kind]
        dataset = {"array": x, "tuple": (x, y), "list": [x, y]}[kind]
        left, right = keras.utils.split_dataset(dataset, preferred_backend="tensorflow", **kwargs)
        for j, a in enumerate(inputs):
            arrays[f"split/{id_}/in{j}"] = a
        for j, a in enumerate(stacked(left)):
            arrays[f"split/{id_}/left{j}"] = a
        for j, a in enumerate(stacked(right)):
            arrays[f"split/{id_}/right{j}"] = a
        out.append({"id": id_, "kind": kind, "kwargs": kwargs, "n_inputs": len(inputs)})
    return out


def split_size_cases():
    out = []
    for total in SIZE_TOTALS:
        for left in SIZE_VALUES:
            for right in SIZE_VALUES:
                if left is None and right is None:
                    continue
                case = {"left_size": left, "right_size": right, "total": total}
                try:
                    case["result"] = list(_rescale_dataset_split_sizes(left, right, total))
                except (TypeError, ValueError) as e:
                    case["error"] = type(e).__name__
                out.append(case)
    return out


def write_images(root, arrays):
    """The image directory under `root`, its pixels into `arrays`."""
    for rel, mode, h, w in IMAGE_FILES:
        channels = {"RGB": 3, "L": 1, "RGBA": 4}[mode]
        pixels = RNG.integers(0, 256, size=(h, w, channels), dtype=np.uint8)
        if mode == "L":
            pixels = pixels[..., 0]
        arrays[f"images/png/{rel}"] = pixels
        os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
        Image.fromarray(pixels).save(os.path.join(root, rel))
    for rel in IMAGE_OTHER_FILES:
        os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
        with open(os.path.join(root, rel), "wb") as f:
            f.write(b"not an image the index should see")


def image_cases(arrays):
    out = []
    root = tempfile.mkdtemp()
    try:
        write_images(os.path.join(root, "imgs"), arrays)
        directory = os.path.join(root, "imgs")
        for id_, kwargs in IMAGES:
            ds = keras.utils.image_dataset_from_directory(directory, verbose=False, **kwargs)
            case = {
                "id": id_,
                "kwargs": {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()},
                "file_paths": [os.path.relpath(p, directory) for p in ds.file_paths],
                "class_names": ds.class_names,
            }
            if kwargs.get("shuffle", True):  # tf.data's shuffle buffer: only file_paths compare
                out.append(case)
                continue
            batches = list(ds.as_numpy_iterator())
            for k, batch in enumerate(batches):
                x, y = batch if isinstance(batch, tuple) else (batch, None)
                arrays[f"images/{id_}/b{k}/x"] = x
                if y is not None:
                    arrays[f"images/{id_}/b{k}/y"] = y
            case["n_batches"] = len(batches)
            out.append(case)
    finally:
        shutil.rmtree(root)
    return out


def main():
    arrays = {}
    reference = {
        "to_categorical": to_categorical_cases(arrays),
        "normalize": normalize_cases(arrays),
        "pad_sequences": pad_sequences_cases(),
        "timeseries": timeseries_cases(arrays),
        "split": split_cases(arrays),
        "split_sizes": split_size_cases(),
        "images": {
            "files": [list(f) for f in IMAGE_FILES],
            "other_files": IMAGE_OTHER_FILES,
            "cases": image_cases(arrays),
        },
    }
    with open(os.path.join(HERE, "dataset_utils.json"), "w") as f:
        json.dump(reference, f, indent=1)
        f.write("\n")
    save_npz_deterministic(os.path.join(HERE, "dataset_utils.npz"), arrays)
    print(f"wrote {len(arrays)} arrays")


if __name__ == "__main__":
    main()
