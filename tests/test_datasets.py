"""The bundled digits dataset: the file as converted from scikit-learn's copy, and load_digits's
split, dtypes, scaling and determinism."""

from __future__ import annotations

import hashlib
import math
from importlib import resources

import numpy as np
import pytest

import graphengine.datasets as datasets
from graphengine.datasets import digits, load_digits

# Per-class counts of the 1797 samples, as scikit-learn's load_digits documents them.
CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
# sha256 of images.tobytes() + target.tobytes(), taken when the file was converted.
CONTENT_SHA256 = "87ff0c9e40dc7e2c0e34e7257799c2e3f3aec1a016363bb11cad869ec428a826"
# The first sample (a 0), copied from the first row of sklearn/datasets/data/digits.csv.gz.
FIRST_IMAGE = [
    [0, 0, 5, 13, 9, 1, 0, 0],
    [0, 0, 13, 15, 10, 15, 5, 0],
    [0, 3, 15, 2, 0, 11, 8, 0],
    [0, 4, 12, 0, 0, 8, 8, 0],
    [0, 5, 8, 0, 0, 9, 8, 0],
    [0, 4, 11, 0, 1, 12, 7, 0],
    [0, 2, 14, 5, 10, 12, 0, 0],
    [0, 0, 6, 13, 10, 0, 0, 0],
]


def raw_file():
    return resources.files("graphengine.datasets").joinpath("digits.npz")


def test_npz_file_holds_plain_uint8_arrays():
    with raw_file().open("rb") as f, np.load(f, allow_pickle=False) as data:
        assert sorted(data.files) == ["images", "target"]
        images, target = data["images"], data["target"]
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8
    assert target.shape == (1797,) and target.dtype == np.uint8
    assert images.min() == 0 and images.max() == 16
    assert np.bincount(target).tolist() == CLASS_COUNTS
    np.testing.assert_array_equal(images[0], FIRST_IMAGE)
    assert target[:10].tolist() == list(range(10))
    digest = hashlib.sha256(images.tobytes() + target.tobytes()).hexdigest()
    assert digest == CONTENT_SHA256


def test_npz_file_is_small():
    assert len(raw_file().read_bytes()) < 64 * 1024


def test_default_split_shapes_and_dtypes():
    (x_train, y_train), (x_test, y_test) = load_digits()
    assert x_train.shape == (1437, 8, 8) and y_train.shape == (1437,)
    assert x_test.shape == (360, 8, 8) and y_test.shape == (360,)
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64


def test_values_scaled_to_unit_interval():
    (x_train, _), (x_test, _) = load_digits()
    for x in (x_train, x_test):
        assert x.min() == 0.0 and x.max() == 1.0
        sixteenths = x * 16
        np.testing.assert_array_equal(sixteenths, np.round(sixteenths))


def test_split_is_a_seeded_shuffle_of_the_file():
    with raw_file().open("rb") as f, np.load(f, allow_pickle=False) as data:
        images, target = data["images"], data["target"]
    order = np.random.default_rng(0).permutation(1797)
    (x_train, y_train), (x_test, y_test) = load_digits()
    np.testing.assert_array_equal(x_train * 16, images[order[:1437]])
    np.testing.assert_array_equal(x_test * 16, images[order[1437:]])
    np.testing.assert_array_equal(np.concatenate([y_train, y_test]), target[order])


def test_class_counts():
    (_, y_train), (_, y_test) = load_digits()
    assert set(np.unique(y_train)) == set(range(10)) == set(np.unique(y_test))
    assert np.bincount(y_test).tolist() == [39, 37, 47, 28, 42, 32, 37, 27, 30, 41]
    assert (np.bincount(y_train) + np.bincount(y_test)).tolist() == CLASS_COUNTS


def test_deterministic_and_not_shared():
    (a_x, a_y), (a_xt, a_yt) = load_digits()
    a_x[:] = -1.0  # a caller writing into its arrays must not change the next call's
    (b_x, b_y), (b_xt, b_yt) = load_digits()
    assert b_x.min() == 0.0
    np.testing.assert_array_equal(a_y, b_y)
    np.testing.assert_array_equal(a_xt, b_xt)
    np.testing.assert_array_equal(a_yt, b_yt)


@pytest.mark.parametrize("test_split, n_test", [(0.5, 899), (0.1, 180), (0.0, 0), (0.999, 1796)])
def test_test_split(test_split, n_test):
    (x_train, y_train), (x_test, y_test) = load_digits(test_split=test_split)
    assert n_test == math.ceil(test_split * 1797)
    assert x_test.shape == (n_test, 8, 8) and y_test.shape == (n_test,)
    assert x_train.shape == (1797 - n_test, 8, 8) and y_train.shape == (1797 - n_test,)


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, math.nan])
def test_bad_test_split_raises(bad):
    with pytest.raises(ValueError, match=r"load_digits: test_split=.* must be in \[0, 1\)"):
        load_digits(test_split=bad)


@pytest.mark.parametrize("bad", ["0.2", None, True])
def test_test_split_type_raises(bad):
    with pytest.raises(TypeError, match="load_digits: test_split must be a float, got"):
        load_digits(test_split=bad)


def test_public_names():
    assert datasets.load_digits is load_digits
    assert digits.load_data is load_digits
