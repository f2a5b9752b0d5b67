"""Fixtures several test files share (plain helper functions are in tests/helpers.py)."""

import os

import numpy as np
import pytest

from helpers import REF_DIR


@pytest.fixture(scope="session")
def keras_arrays() -> dict[str, np.ndarray]:
    """The Keras 3 reference arrays of the convolution and pooling cases, by "<case id>/<name>"."""
    with np.load(os.path.join(REF_DIR, "conv.npz"), allow_pickle=False) as data:
        return {key: data[key] for key in data.files}
