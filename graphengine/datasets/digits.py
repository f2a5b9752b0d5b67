"""The UCI 8x8 handwritten digits, bundled as `digits.npz` (45 KB) next to this module.

Origin: "Optical Recognition of Handwritten Digits", E. Alpaydin and C. Kaynak (1998), UCI
Machine Learning Repository,
https://archive.ics.uci.edu/ml/datasets/Optical+Recognition+of+Handwritten+Digits
License: CC BY 4.0, https://creativecommons.org/licenses/by/4.0/

This is the copy scikit-learn ships (sklearn/datasets/data/digits.csv.gz: the UCI test set, 1797
samples from 13 writers), converted unchanged and in its original order to `images` uint8
(1797, 8, 8) with values 0..16 (each pixel counts the set pixels of a 4x4 block of a 32x32
bitmap) and `target` uint8 (1797,) in 0..9.
"""

from __future__ import annotations

import math
from importlib import resources

import numpy as np

NUM_SAMPLES = 1797
NUM_CLASSES = 10
MAX_PIXEL = 16
SPLIT_SEED = 0


def _read_npz() -> tuple[np.ndarray, np.ndarray]:
    # allow_pickle=False: the file holds plain arrays, and loading must never run code.
    with resources.files("graphengine.datasets").joinpath("digits.npz").open("rb") as f:
        with np.load(f, allow_pickle=False) as data:
            return data["images"], data["target"]


def load_digits(
    test_split: float = 0.2,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Returns `(x_train, y_train), (x_test, y_test)`, like the `keras.datasets` loaders.

    Images are float32 (N, 8, 8) scaled to [0, 1] (pixel / 16); labels are int64 (N,) in 0..9.
    The samples are shuffled with a fixed seed (SPLIT_SEED) and the last
    `ceil(test_split * 1797)` of them are the test set (360 at the default 0.2), the rest the
    training set (1437): a random split as scikit-learn's train_test_split makes, with writers
    mixed across both sets, and the same arrays on every call. `test_split=0` puts every sample
    in the training set.
    """
    if isinstance(test_split, bool) or not isinstance(test_split, (int, float)):
        raise TypeError(f"load_digits: test_split must be a float, got {type(test_split).__name__}")
    if not 0.0 <= test_split < 1.0:
        raise ValueError(f"load_digits: {test_split=} must be in [0, 1)")
    images, target = _read_npz()
    x = images.astype(np.float32) / np.float32(MAX_PIXEL)
    y = target.astype(np.int64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x))
    x, y = x[order], y[order]
    n_train = len(x) - math.ceil(test_split * len(x))
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


load_data = load_digits  # the keras.datasets spelling: ge.datasets.digits.load_data()
