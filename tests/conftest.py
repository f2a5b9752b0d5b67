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
