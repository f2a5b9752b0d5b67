"""CUDA parity of the category encoding kernel, and the preprocessing layers run in models on
the CUDA device (strings fed from the host), in Numba's simulator (run by tests/test_cuda.py)."""

import numpy as np
import pytest
from cuda_parity import check, device, rand  # noqa: F401

import graphengine as ge


@pytest.mark.parametrize("binary,strict", [(True, True), (False, False)])
def test_category_encode(device, binary, strict):  # noqa: F811
    ids = np.array([[0, 3, 3, -1], [5, 1, 2, 2], [4, 4, 0, -3]], dtype=np.int64)
    out, bad = np.full((3, 5), 9.0), np.zeros(3, np.int64)
    check(device, "category_encode", ids, np.empty((0, 0)), out, bad, binary, strict)
    weights = rand(3, 4)
    check(device, "category_encode", ids, weights, out, bad, False, strict)


def _string_model():
    x = ge.Input(shape=(1,), dtype="string")
    lookup = ge.layers.StringLookup(vocabulary=["a", "b", "c"])
    h = ge.layers.Embedding(5, 2)(lookup(x))
    out = ge.layers.Dense(1)(ge.layers.Flatten()(h))
    return ge.Model(x, out)


def test_string_model_on_cuda_matches_cpu():
    ge.utils.set_random_seed(0)
    model = _string_model()
    x = np.array([["a"], ["q"], ["c"], ["b"]], dtype=object)
    expected = model.predict(x, verbose=0)
    model.compile("sgd", "mse", device="cuda")
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-6)
    model.fit(x, np.ones((4, 1)), epochs=1, batch_size=2, verbose=0)


def test_normalization_and_encoding_on_cuda():
    x = ge.Input(shape=(3,))
    norm = ge.layers.Normalization()
    norm.adapt(np.arange(12.0).reshape(4, 3))
    model = ge.Model(x, norm(x))
    data = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    expected = model.predict(data, verbose=0)
    with ge.device("cuda"):
        np.testing.assert_allclose(model.predict(data, verbose=0), expected, rtol=1e-6)
    ids = ge.Input(shape=(2,), dtype="int64")
    enc = ge.Model(ids, ge.layers.CategoryEncoding(3, output_mode="count")(ids))
    with ge.device("cuda"):
        np.testing.assert_array_equal(
            enc.predict(np.array([[0, 2], [2, 2]]), verbose=0), [[1, 0, 1], [0, 0, 2]]
        )
        with pytest.raises(ValueError, match=r"\[0, num_tokens=3\)"):
            enc.predict(np.array([[0, 3]]), verbose=0)
