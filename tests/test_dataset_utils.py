"""Keras 3's data utilities in ge.utils and ge.preprocessing: to_categorical, normalize,
pad_sequences, timeseries_dataset_from_array, split_dataset and image_dataset_from_directory,
checked against Keras 3's numbers (tests/keras_reference/generate_dataset_utils.py), for their
argument errors, and for reading lazily (a batch's windows or files when it is asked for)."""

import json
import os
import pickle
import random
import sys

import numpy as np
import pytest
from PIL import Image

import graphengine as ge
from graphengine.training import dataset_images
from helpers import REF_DIR

with open(os.path.join(REF_DIR, "dataset_utils.json")) as _f:
    REFERENCE = json.load(_f)
U = ge.utils


@pytest.fixture(scope="module")
def arrays():
    with np.load(os.path.join(REF_DIR, "dataset_utils.npz"), allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def ids(cases):
    return [c["id"] for c in cases]


def test_exports():
    from graphengine.training.pydataset import PyDataset

    assert U.PyDataset is PyDataset
    assert ge.preprocessing.sequence.pad_sequences is U.pad_sequences
    assert ge.preprocessing.timeseries_dataset_from_array is U.timeseries_dataset_from_array
    assert ge.preprocessing.image_dataset_from_directory is U.image_dataset_from_directory
    for name in ("to_categorical", "normalize", "split_dataset", "set_random_seed"):
        assert callable(getattr(U, name)) and name in U.__all__


# -- to_categorical ------------------------------------------------------------------------------
@pytest.mark.parametrize("case", REFERENCE["to_categorical"], ids=ids(REFERENCE["to_categorical"]))
def test_to_categorical_matches_keras(case, arrays):
    key = f"to_categorical/{case['id']}"
    y = U.to_categorical(arrays[key + "/x"].tolist(), case["num_classes"])
    np.testing.assert_array_equal(y, arrays[key + "/y"])
    assert y.dtype == arrays[key + "/y"].dtype == np.float64


@pytest.mark.parametrize(
    "x, num_classes, error, match",
    [
        ([0, 2, -1], 3, ValueError, r"label -1 at index 2, outside \[0, 3\)"),
        ([0, 3, 1], 3, ValueError, r"label 3 at index 1, outside \[0, 3\) .* on 3 classes"),
        ([0, -2], None, ValueError, r"label -2 at index 1, outside \[0, inf\)"),
        ([[0.0], [1.5]], None, ValueError, r"label 1.5 at index \(1, 0\), not an integer"),
        ([0.0, np.nan], 2, ValueError, r"label nan at index 1"),
        (["a", "b"], None, TypeError, "must hold integer class ids"),
        ([0, 1], 0, ValueError, "num_classes must be an integer >= 1, received num_classes=0"),
        ([0, 1], 2.0, TypeError, "num_classes must be an integer"),
        ([], None, ValueError, "x is empty .* pass num_classes"),
    ],
)
def test_to_categorical_errors(x, num_classes, error, match):
    with pytest.raises(error, match=match):
        U.to_categorical(x, num_classes)


def test_to_categorical_empty_and_integer_floats():
    assert U.to_categorical(np.zeros((0, 1), int), 3).shape == (0, 3)
    np.testing.assert_array_equal(U.to_categorical([2.0, 0.0]), [[0, 0, 1], [1, 0, 0]])


# -- normalize ------------------------------------------------------------------------------
@pytest.mark.parametrize("case", REFERENCE["normalize"], ids=ids(REFERENCE["normalize"]))
def test_normalize_matches_keras(case, arrays):
    key = f"normalize/{case['id']}"
    order = np.inf if case["order"] == "inf" else case["order"]
    with np.errstate(divide="raise", invalid="ignore"):  # a zero norm must not divide by zero
        y = U.normalize(arrays[key + "/x"], axis=case["axis"], order=order)
    expected = arrays[key + "/y"]
    assert y.dtype == expected.dtype and y.shape == expected.shape
    rtol = 1e-6 if y.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, expected, rtol=rtol, atol=0)


def test_normalize_nan_stays_in_its_slice_and_zeros_stay_zero():
    x = np.array([[3.0, 4.0], [np.nan, 1.0], [0.0, 0.0]], np.float32)
    with np.errstate(all="raise"):
        y = U.normalize(x)
    np.testing.assert_allclose(y[0], [0.6, 0.8], rtol=1e-6)
    assert np.isnan(y[1]).all()
    np.testing.assert_array_equal(y[2], [0.0, 0.0])


def test_normalize_axis_0_is_axis_0():
    """Keras's NumPy path turns axis=0 into -1 (`axis or -1`); a (3, 3) input shows it."""
    x = np.arange(1.0, 10.0).reshape(3, 3)
    np.testing.assert_allclose(U.normalize(x, axis=0), x / np.linalg.norm(x, axis=0))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"axis": 2}, ValueError, "axis=2 is out of range for x of rank 2"),
        ({"axis": -3}, ValueError, "axis=-3 is out of range"),
        ({"axis": 1.0}, TypeError, "axis must be an integer"),
        ({"axis": None}, TypeError, "axis must be an integer"),
        ({"order": "fro"}, ValueError, "order must be a number"),
    ],
)
def test_normalize_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        U.normalize(np.ones((2, 3)), **kwargs)
    with pytest.raises(ValueError, match="received a scalar"):
        U.normalize(3.0)


# -- pad_sequences ------------------------------------------------------------------------------
@pytest.mark.parametrize("case", REFERENCE["pad_sequences"], ids=ids(REFERENCE["pad_sequences"]))
def test_pad_sequences_matches_keras(case):
    y = ge.preprocessing.sequence.pad_sequences(case["sequences"], **case["kwargs"])
    assert y.tolist() == case["y"]
    assert str(y.dtype) == case["dtype"]


def test_pad_sequences_empty_and_huge_maxlen():
    assert U.pad_sequences([]).shape == (0, 0)
    assert U.pad_sequences([], maxlen=3).shape == (0, 3)
    assert U.pad_sequences([[], []]).shape == (2, 0)
    np.testing.assert_array_equal(U.pad_sequences([[1, 2], [3]], maxlen=0), np.zeros((2, 0)))
    y = U.pad_sequences([[1, 2], [3]], maxlen=100_000, padding="post")
    assert y.shape == (2, 100_000) and y.sum() == 6
    np.testing.assert_array_equal(y[:, :3], [[1, 2, 0], [3, 0, 0]])
    np.testing.assert_array_equal(U.pad_sequences(np.array([[1, 2, 3]]), maxlen=2), [[2, 3]])


@pytest.mark.parametrize(
    "sequences, kwargs, error, match",
    [
        ([[1], [2, 3]], {"padding": "middle"}, ValueError, 'Padding type "middle" not understood'),
        ([[1]], {"truncating": "mid"}, ValueError, 'Truncating type "mid" not understood'),
        ([[[1, 2]], [[3, 4, 5]]], {}, ValueError,
         r"Shape of sample \(3,\) of sequence at position 1 is different from expected shape "
         r"\(2,\)"),
        ([[1], [2]], {"value": "x"}, ValueError, "`dtype` int32 is not compatible with `value`"),
        ([["a"], ["b", "c"]], {"dtype": "<U1"}, ValueError,
         "`dtype` <U1 holds strings, but `value`=0.0 is not one"),
        (iter([[1]]), {}, ValueError, "`sequences` must be iterable"),
        ([[1], 5], {}, ValueError, "Found non-iterable: 5 at position 1"),
        ([[1]], {"maxlen": -1}, ValueError, "maxlen must be an integer >= 0, received maxlen=-1"),
        ([[1]], {"maxlen": 2.5}, TypeError, "maxlen must be an integer"),
    ],
)  # fmt: skip
def test_pad_sequences_errors(sequences, kwargs, error, match):
    with pytest.raises(error, match=match):
        U.pad_sequences(sequences, **kwargs)


# -- timeseries_dataset_from_array -------------------------------------------------------------
TIMESERIES = [c for c in REFERENCE["timeseries"] if not c.get("shuffled")]


@pytest.mark.parametrize("case", TIMESERIES, ids=ids(TIMESERIES))
def test_timeseries_matches_keras(case, arrays):
    key = f"timeseries/{case['id']}"
    targets = arrays[key + "/targets"] if case["targets"] else None
    ds = U.timeseries_dataset_from_array(arrays[key + "/data"], targets, **case["kwargs"])
    assert isinstance(ds, U.PyDataset) and len(ds) == case["n_batches"]
    for k in range(len(ds)):
        batch = ds[k]
        x, y = batch if case["targets"] else (batch, None)
        expected = arrays[f"{key}/b{k}/x"]
        assert x.dtype == expected.dtype
        np.testing.assert_array_equal(x, expected)
        if case["targets"]:
            np.testing.assert_array_equal(y, arrays[f"{key}/b{k}/y"])
            assert y.dtype == arrays[f"{key}/b{k}/y"].dtype


def test_timeseries_shuffle_is_keras_start_positions_shuffled(arrays):
    case = next(c for c in REFERENCE["timeseries"] if c.get("shuffled"))
    data, kwargs = arrays[f"timeseries/{case['id']}/data"], case["kwargs"]
    ds = U.timeseries_dataset_from_array(data, None, **kwargs)
    windows = np.concatenate([ds[k] for k in range(len(ds))])
    keras_sorted = arrays[f"timeseries/{case['id']}/shuffled_x"]
    order = np.lexsort(windows.reshape(len(windows), -1).T[::-1])
    np.testing.assert_array_equal(windows[order], keras_sorted)  # Keras's windows, all of them
    starts = np.arange(0, len(data) - kwargs["sequence_length"] + 1, kwargs["sequence_stride"])
    np.random.RandomState(kwargs["seed"]).shuffle(starts)
    np.testing.assert_array_equal(windows[:, 0], data[starts])  # Keras's order of start positions
    again = U.timeseries_dataset_from_array(data, None, **kwargs)
    np.testing.assert_array_equal(again[1], ds[1])
    ds.on_epoch_end()  # a new order for the next epoch, the same windows
    reshuffled = np.concatenate([ds[k] for k in range(len(ds))])
    assert not np.array_equal(reshuffled, windows)
    np.testing.assert_array_equal(
        reshuffled[np.lexsort(reshuffled.reshape(len(reshuffled), -1).T[::-1])], keras_sorted
    )


def test_timeseries_shuffle_without_seed_follows_set_random_seed():
    data = np.arange(50)
    draws = []
    for _ in range(2):
        ge.utils.set_random_seed(4)
        ds = U.timeseries_dataset_from_array(data, None, sequence_length=3, shuffle=True)
        draws.append(ds[0])
    np.testing.assert_array_equal(draws[0], draws[1])
    assert not np.array_equal(draws[0][:, 0], np.arange(48))


class Recording(np.ndarray):
    """An array that records the index arrays it is read with."""

    reads: list

    def __getitem__(self, key):
        self.reads.append(np.shape(key))
        return np.asarray(super().__getitem__(key))


def test_timeseries_gathers_one_batch_at_a_time():
    data = np.arange(1000.0).view(Recording)
    data.reads = []
    ds = U.timeseries_dataset_from_array(data, None, sequence_length=50, batch_size=16)
    assert data.reads == []  # nothing read up front
    x = ds[3]
    assert data.reads == [(16, 50)]
    np.testing.assert_array_equal(x[0], np.arange(48.0, 98.0))
    assert len(ds) == 60 and ds[59].shape == (7, 50)  # 951 windows: 59 batches of 16 and 7
    with pytest.raises(IndexError, match="batch index 60 out of range"):
        ds[60]


def test_timeseries_targets_with_start_index_and_short_targets():
    """targets[i] belongs to the window starting at i; Keras counts len(targets) windows from
    start_index and then fails reading past the end of targets."""
    data, targets = np.arange(20), np.arange(8) * 10
    ds = U.timeseries_dataset_from_array(data, targets, 2, start_index=3, batch_size=None)
    assert len(ds) == 5
    for k, start in enumerate(range(3, 8)):
        np.testing.assert_array_equal(ds[k][0], [start, start + 1])
        assert ds[k][1] == targets[start]


def test_timeseries_feeds_predict_and_fit():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(30, 2)).astype("float32")
    ds = U.timeseries_dataset_from_array(data, data[:, 0], sequence_length=4, batch_size=8)
    model = ge.Sequential([ge.Input((4, 2)), ge.layers.Flatten(), ge.layers.Dense(1)])
    model.compile("sgd", "mse")
    windows = np.stack([data[i : i + 4] for i in range(27)])
    np.testing.assert_allclose(model.predict(ds, verbose=0), model.predict(windows, verbose=0))
    history = model.fit(ds, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"start_index": -1}, ValueError, "`start_index` must be 0 or greater"),
        ({"start_index": 10}, ValueError, "`start_index` must be lower than the length"),
        ({"start_index": 4, "end_index": 4}, ValueError, "`end_index` must be higher than `st"),
        ({"end_index": 10}, ValueError, "`end_index` must be lower than the length of the data"),
        ({"end_index": 0}, ValueError, "`end_index` must be higher than 0"),
        ({"sampling_rate": 0}, ValueError, "`sampling_rate` must be higher than 0"),
        ({"sampling_rate": 10}, ValueError, "`sampling_rate` must be lower than the length"),
        ({"sequence_stride": -2}, ValueError, "`sequence_stride` must be higher than 0"),
        ({"sequence_stride": 12}, ValueError, "`sequence_stride` must be lower than the length"),
        ({"sequence_length": 0}, ValueError, "sequence_length must be an integer >= 1"),
        ({"sequence_length": 2.0}, TypeError, "sequence_length must be an integer"),
        ({"sequence_length": 6, "sampling_rate": 2}, ValueError,
         r"no window fits: sequence_length=6 with sampling_rate=2 spans 11 timesteps, but "
         r"data\[0:10\] has 10"),
        ({"batch_size": 0}, ValueError, "batch_size must be an integer >= 1"),
    ],
)  # fmt: skip
def test_timeseries_errors(kwargs, error, match):
    kwargs = {"sequence_length": 3, **kwargs}
    with pytest.raises(error, match=match):
        U.timeseries_dataset_from_array(np.arange(10), None, **kwargs)


def test_timeseries_empty_data_and_targets_errors():
    with pytest.raises(ValueError, match="`sampling_rate` must be lower than the length"):
        U.timeseries_dataset_from_array(np.zeros((0, 3)), None, sequence_length=1)
    with pytest.raises(ValueError, match="no window fits.* and targets has 0"):
        U.timeseries_dataset_from_array(np.arange(10), np.zeros(0), sequence_length=2)
    with pytest.raises(ValueError, match="received a scalar"):
        U.timeseries_dataset_from_array(np.float32(1), None, sequence_length=1)


# -- split_dataset ------------------------------------------------------------------------------
@pytest.mark.parametrize("case", REFERENCE["split"], ids=ids(REFERENCE["split"]))
def test_split_matches_keras(case, arrays):
    key = f"split/{case['id']}"
    inputs = [arrays[f"{key}/in{j}"] for j in range(case["n_inputs"])]
    dataset = {"array": inputs[0], "tuple": tuple(inputs), "list": list(inputs)}[case["kind"]]
    left, right = U.split_dataset(dataset, **case["kwargs"])
    if case["kind"] == "array":
        left, right = (left,), (right,)
    assert isinstance(left, tuple) and isinstance(right, tuple)  # a list of arrays too, as Keras
    for j, a in enumerate(inputs):
        # values as Keras's; the dtype as given (Keras's tf.data turns int64 into int32)
        assert left[j].dtype == right[j].dtype == a.dtype
        np.testing.assert_array_equal(left[j], arrays[f"{key}/left{j}"])
        np.testing.assert_array_equal(right[j], arrays[f"{key}/right{j}"])


def test_split_sizes_match_keras():
    from graphengine.training.dataset_utils import split_sizes

    for case in REFERENCE["split_sizes"]:
        args = case["left_size"], case["right_size"], case["total"]
        if "error" in case:
            with pytest.raises((TypeError, ValueError)) as info:
                split_sizes(*args)
            assert type(info.value).__name__ == case["error"], args
        else:
            assert list(split_sizes(*args)) == case["result"], args


def test_split_our_types():
    x, y = np.arange(12.0).reshape(6, 2), np.arange(6)
    left, right = U.split_dataset({"x": x, "y": y}, left_size=2)
    assert list(left) == ["x", "y"]
    np.testing.assert_array_equal(left["x"], x[:2])
    np.testing.assert_array_equal(right["y"], y[2:])
    samples = [(i, str(i)) for i in range(5)]
    assert U.split_dataset(samples, right_size=0.4) == (samples[:3], samples[3:])
    left, right = U.split_dataset(samples, left_size=2, shuffle=True, seed=3)
    order = list(range(5))
    random.Random(3).shuffle(order)  # Keras: random.seed(seed); random.shuffle(samples)
    assert left + right == [samples[i] for i in order]
    nested_left, _ = U.split_dataset(((x, x), y), left_size=1)
    assert isinstance(nested_left[0], tuple) and nested_left[0][1].shape == (1, 2)


class Batches(U.PyDataset):
    def __init__(self, n, batch_size):
        super().__init__()
        self.x, self.y, self.batch_size = np.arange(n * 2.0).reshape(n, 2), np.arange(n), batch_size

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i):
        rows = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.x[rows], self.y[rows]


class Endless(Batches):
    num_batches = None


def test_split_pydataset_gives_pydatasets_batched_alike():
    left, right = U.split_dataset(Batches(11, 4), left_size=0.7)
    assert isinstance(left, U.PyDataset) and (len(left), len(right)) == (2, 1)
    x0, y0 = left[0]
    np.testing.assert_array_equal(x0, np.arange(8.0).reshape(4, 2))
    np.testing.assert_array_equal(left[1][1], [4, 5, 6, 7])
    np.testing.assert_array_equal(right[0][1], [8, 9, 10])
    with pytest.raises(ValueError, match="cannot split an endless PyDataset"):
        U.split_dataset(Endless(4, 2), left_size=1)
    with pytest.raises(ValueError, match="Received an empty dataset"):
        U.split_dataset(Batches(0, 2), left_size=1)


@pytest.mark.parametrize(
    "dataset, kwargs, error, match",
    [
        (np.arange(10), {}, ValueError, "At least one of the `left_size` or `right_size`"),
        (np.arange(10), {"left_size": 0, "right_size": 0}, ValueError, "Both `left_size` and"),
        (np.arange(10), {"left_size": 10}, ValueError,
         "`left_size` should be either a positive integer smaller than 10.*left_size=10"),
        (np.arange(10), {"right_size": 1.0}, ValueError, "`right_size` should be either"),
        (np.arange(10), {"left_size": 0.6, "right_size": 0.5}, ValueError, "greater than 1"),
        (np.arange(10), {"left_size": 6, "right_size": 5}, ValueError,
         "should be smaller than the 10 samples.*= 11"),
        (np.arange(10), {"left_size": 0.04}, ValueError, "resulting left side .* will be empty"),
        (np.arange(10), {"left_size": "half"}, TypeError, "Invalid `left_size` Type"),
        (np.arange(10), {"right_size": True}, TypeError, "Invalid `right_size` Type"),
        (np.zeros((0, 2)), {"left_size": 1}, ValueError, "Received an empty dataset"),
        ([], {"left_size": 1}, ValueError, "Received an empty dataset"),
        ((np.zeros(3), np.zeros(4)), {"left_size": 1}, ValueError,
         r"different lengths: array 0 has shape \(3,\), array 1 has shape \(4,\)"),
        ((np.zeros(3), np.float32(1)), {"left_size": 1}, ValueError, "array 1 .* is a scalar"),
        ({1, 2, 3}, {"left_size": 1}, TypeError, "Received: dataset of type set"),
    ],
)  # fmt: skip
def test_split_errors(dataset, kwargs, error, match):
    with pytest.raises(error, match=match):
        U.split_dataset(dataset, **kwargs)


# -- image_dataset_from_directory -------------------------------------------------------------
@pytest.fixture(scope="module")
def image_dir(tmp_path_factory, arrays):
    """The PNG directory of generate_dataset_utils.py, pixel for pixel."""
    root = tmp_path_factory.mktemp("images") / "imgs"
    for rel, _mode, _h, _w in REFERENCE["images"]["files"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arrays[f"images/png/{rel}"]).save(root / rel)
    for rel in REFERENCE["images"]["other_files"]:
        (root / rel).write_bytes(b"not an image")
    return str(root)


IMAGES = REFERENCE["images"]["cases"]
# bicubic: TensorFlow's and Pillow's cubic kernels weigh the borders a little differently;
# grayscale: libpng's RGB -> gray (TensorFlow) and Pillow's convert("L") round apart
IMAGE_TOLERANCE = {"bicubic_up": 0.2, "grayscale": 1.0}


def read(directory, kwargs):
    kwargs = {k: tuple(v) if isinstance(v, list) and k == "image_size" else v
              for k, v in kwargs.items()}  # fmt: skip
    return U.image_dataset_from_directory(directory, verbose=False, **kwargs)


@pytest.mark.parametrize("case", IMAGES, ids=ids(IMAGES))
def test_images_match_keras(case, image_dir, arrays):
    ds = read(image_dir, case["kwargs"])
    assert [os.path.relpath(p, image_dir) for p in ds.file_paths] == case["file_paths"]
    assert ds.class_names == case["class_names"]
    if "n_batches" not in case:  # shuffled: Keras's tf.data buffer reorders the batches
        return
    assert len(ds) == case["n_batches"]
    for k in range(len(ds)):
        batch = ds[k]
        x, y = batch if isinstance(batch, tuple) else (batch, None)
        assert x.dtype == np.float32
        expected = arrays[f"images/{case['id']}/b{k}/x"].astype(np.float32)
        atol = IMAGE_TOLERANCE.get(case["id"], 2e-4)
        np.testing.assert_allclose(x, expected, rtol=0, atol=atol)
        if y is not None:
            assert y.dtype == arrays[f"images/{case['id']}/b{k}/y"].dtype
            np.testing.assert_array_equal(y, arrays[f"images/{case['id']}/b{k}/y"])


@pytest.mark.parametrize(
    "interpolation, filter_name, size",
    [
        ("bilinear", "BILINEAR", (9, 7)),  # enlarging, Keras's bilinear is Pillow's resize
        ("bicubic", "BICUBIC", (3, 2)),
        ("area", "BOX", (3, 2)),
        ("lanczos3", "LANCZOS", (9, 7)),
    ],
)
def test_images_resize_as_pillow(image_dir, interpolation, filter_name, size):
    ds = U.image_dataset_from_directory(
        image_dir, image_size=size, shuffle=False, interpolation=interpolation, verbose=False,
        batch_size=None,
    )  # fmt: skip
    for k, path in enumerate(ds.file_paths):
        with Image.open(path) as img:
            pixels = np.asarray(img.convert("RGB"), np.float32)
        method = getattr(Image.Resampling, filter_name)
        expected = np.stack(
            [
                np.asarray(Image.fromarray(pixels[..., c]).resize(size[::-1], method))
                for c in range(3)
            ],
            axis=-1,
        )
        np.testing.assert_allclose(ds[k][0], expected, rtol=0, atol=1e-3)


def test_images_read_a_batch_of_files_at_a_time(image_dir, monkeypatch):
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda path, *a: opened.append(path) or real_open(path))
    ds = U.image_dataset_from_directory(image_dir, image_size=4, batch_size=2, verbose=False)
    assert opened == []
    images, labels = ds[1]
    assert opened == ds.file_paths[2:4]
    assert images.shape == (2, 4, 4, 3) and labels.dtype == np.int32
    assert ds.workers == dataset_images.READ_WORKERS


def test_images_shapes_per_option(image_dir):
    first = read(image_dir, {"image_size": (5, 6), "data_format": "channels_first",
                             "color_mode": "grayscale", "batch_size": 4})  # fmt: skip
    assert first[0][0].shape == (4, 1, 5, 6)
    single = read(image_dir, {"image_size": 3, "batch_size": None, "label_mode": "categorical"})
    image, label = single[0]
    assert image.shape == (3, 3, 3) and label.shape == (3,) and label.dtype == np.float32
    assert len(single) == 7
    binary = read(image_dir, {"image_size": 3, "label_mode": "binary",
                              "class_names": ["class_a", "class_b"]})  # fmt: skip
    assert binary[0][1].shape == (5, 1) and binary[0][1].dtype == np.float32
    unlabelled = read(image_dir, {"image_size": 3, "label_mode": None})
    assert isinstance(unlabelled[0], np.ndarray) and unlabelled.class_names is None


def test_images_validation_both_and_reshuffle(image_dir):
    train, val = read(
        image_dir, {"image_size": 2, "validation_split": 0.3, "subset": "both", "seed": 5}
    )
    case = {c["id"]: c for c in IMAGES}
    rel = [os.path.relpath(p, image_dir) for p in train.file_paths + val.file_paths]
    assert rel == case["training"]["file_paths"] + case["validation"]["file_paths"]
    before = np.concatenate([train[k][0] for k in range(len(train))])
    val_before = val[0][0]
    train.on_epoch_end()
    val.on_epoch_end()
    after = np.concatenate([train[k][0] for k in range(len(train))])
    assert not np.array_equal(after, before)  # the training files reshuffled ...
    flat = [a.reshape(len(a), -1) for a in (before, after)]
    np.testing.assert_array_equal(*[f[np.lexsort(f.T[::-1])] for f in flat])  # ... all of them
    np.testing.assert_array_equal(val[0][0], val_before)  # validation keeps its order
    np.testing.assert_array_equal(val[0][1], read(
        image_dir, {"image_size": 2, "validation_split": 0.3, "subset": "validation", "seed": 5}
    )[0][1])  # fmt: skip
    # a split too small for one validation file keeps every file for training (Keras: none)
    small = read(image_dir, {"image_size": 2, "validation_split": 0.1, "subset": "training",
                             "seed": 1})  # fmt: skip
    assert len(small.file_paths) == 7


def test_images_follow_links_and_verbose(image_dir, tmp_path, capsys):
    root = tmp_path / "linked"
    (root / "only").mkdir(parents=True)
    os.symlink(os.path.join(image_dir, "class_c"), root / "only" / "link")
    with pytest.raises(ValueError, match="No images found"):
        U.image_dataset_from_directory(root, verbose=False)
    ds = U.image_dataset_from_directory(root, follow_links=True, image_size=2)
    assert len(ds.file_paths) == 2
    assert "Found 2 files belonging to 1 classes." in capsys.readouterr().out


def test_images_pickle_for_worker_processes(image_dir):
    ds = read(image_dir, {"image_size": 3, "shuffle": False, "batch_size": 4})
    clone = pickle.loads(pickle.dumps(ds))
    np.testing.assert_array_equal(clone[1][0], ds[1][0])


def test_images_need_pillow(image_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    with pytest.raises(ImportError, match=r"pip install graphengine\[image\]"):
        U.image_dataset_from_directory(image_dir)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"subset": "testing", "validation_split": 0.2, "seed": 1}, ValueError,
         '`subset` must be either "training", "validation" or "both"'),
        ({"validation_split": 0.2}, ValueError, "If `subset` is set, `validation_split` must"),
        ({"subset": "training"}, ValueError, "If `subset` is set, `validation_split` must"),
        ({"validation_split": 1.5, "subset": "training"}, ValueError, "between 0 and 1"),
        ({"validation_split": 0.2, "subset": "training"}, ValueError, "must provide a `seed`"),
        ({"label_mode": "binary"}, ValueError,
         r'label_mode="binary"`, there must be exactly 2 class_names.*class_a'),
        ({"label_mode": "sparse"}, ValueError, "`label_mode` argument must be one of"),
        ({"color_mode": "cmyk"}, ValueError, "`color_mode` must be one of"),
        ({"interpolation": "gaussian"}, ValueError, "Pillow has no such filter"),
        ({"interpolation": "cubic"}, ValueError, "`interpolation` should be one of"),
        ({"crop_to_aspect_ratio": True, "pad_to_aspect_ratio": True}, ValueError,
         "Only one of `pad_to_aspect_ratio`, `crop_to_aspect_ratio`"),
        ({"image_size": (2, 3, 4)}, ValueError, "Invalid `image_size` value"),
        ({"image_size": (0, 3)}, ValueError, "image_size must be an integer >= 1"),
        ({"batch_size": 0}, ValueError, "batch_size must be an integer >= 1"),
        ({"data_format": "channels_middle"}, ValueError, "`data_format` must be"),
        ({"labels": [0, 1]}, ValueError, "len\\(labels\\) is 2 while we found 8 files"),
        ({"labels": "folders"}, ValueError, "`labels` argument should be a list/tuple"),
        ({"labels": [0] * 8, "class_names": ["a"]}, ValueError, "only pass `class_names` if"),
        ({"labels": None, "class_names": ["class_a"]}, ValueError, "`class_names` cannot be"),
        ({"class_names": ["class_a", "class_z"]}, ValueError, "did not match the names"),
        ({"labels": [0, 1, 2, 0, 1, 2, 0, 5], "label_mode": "categorical"}, ValueError,
         r"labels holds label 5 at index 7, outside \[0, 4\)"),
        ({"labels": [0, 1, 2, 0, 1, 2, 0, -1]}, ValueError, "labels holds label -1"),
    ],
)  # fmt: skip
def test_images_errors(image_dir, kwargs, error, match):
    with pytest.raises(error, match=match):
        U.image_dataset_from_directory(image_dir, verbose=False, **kwargs)


def test_images_directory_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        U.image_dataset_from_directory(tmp_path / "missing")
    (tmp_path / "cls").mkdir()
    (tmp_path / "cls" / "a.txt").write_text("text")
    with pytest.raises(ValueError, match=r"No images found in directory .*Allowed formats"):
        U.image_dataset_from_directory(tmp_path, verbose=False)
