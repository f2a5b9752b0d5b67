"""Fixtures several test files share (plain helper functions are in tests/helpers.py)."""

import os

import numpy as np
import pytest

from helpers import REF_DIR


def pytest_configure(config):
    """The kernels' own warning filter (kernels/cpu/activations.py) for every test: pytest puts
    back the filters it found after collecting, which drops filters set by imports."""
    from graphengine_kernels.cpu.activations import IR_SCOPE_WARNING

    config.addinivalue_line(
        "filterwarnings", f"ignore:{IR_SCOPE_WARNING}:numba.core.errors.NumbaIRAssumptionWarning"
    )


@pytest.fixture(scope="session")
def keras_arrays() -> dict[str, np.ndarray]:
    """The Keras 3 reference arrays of the convolution and pooling cases, by "<case id>/<name>"."""
    with np.load(os.path.join(REF_DIR, "conv.npz"), allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture
def set_threads():
    """ge.config.set_num_threads for one test: the setting from before (a fixed count, or the
    default that follows the free cores) comes back after it."""
    import graphengine as ge
    from graphengine_kernels.cpu import threads

    following, before = threads.following_free_cores(), threads.num_threads()
    yield ge.config.set_num_threads
    ge.config.set_num_threads(None if following else before)
